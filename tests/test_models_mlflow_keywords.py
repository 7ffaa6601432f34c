"""MLflow's ``log_model`` / ``save_model`` / ``load_model`` keywords, with real models.

Calls are written as MLflow's documentation writes them; the models are real
scikit-learn estimators and ``PythonModel`` subclasses.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import nbtrack
from _models_helpers import diabetes_pipeline, iris_classifier
from nbtrack.exceptions import InvalidInputError
from nbtrack.models import UnsafeModelError
from nbtrack.models._format import read_document


def test_sklearn_with_mlflows_keywords(tmp_path: Path, client: nbtrack.TrackingClient) -> None:
    clf, X = iris_classifier()
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# pinned by hand\nscikit-learn>=1.3\nskops\n")
    helper = tmp_path / "features.py"
    helper.write_text("def double(x):\n    return x * 2\n")
    with nbtrack.start_run():
        info = nbtrack.sklearn.log_model(
            sk_model=clf,
            name="clf",
            input_example=X[:5],
            pip_requirements=str(requirements),
            registered_model_name="iris",
            params={"C": 1.0, "max_iter": 500},
            metadata={"team": "vision"},
            code_paths=[str(helper)],
        )
    assert info.model_uri == f"runs:/{info.run_id}/clf"
    assert info.params == {"C": "1.0", "max_iter": "500"}
    assert info.registered_model_version is not None
    assert str(info.registered_model_version.version) == "1"
    local = Path(client.download_artifacts(info.run_id, "clf", tmp_path / "dl"))
    assert (local / "requirements.txt").read_text() == "scikit-learn>=1.3\nskops\n"
    assert (local / "code" / "features.py").read_text() == helper.read_text()
    document = read_document(local)
    assert document["metadata"] == {"team": "vision"}
    assert document["flavors"]["python_function"]["code"] == "code"
    for uri in (info.model_uri, "models:/iris/1", local):
        np.testing.assert_array_equal(nbtrack.pyfunc.load_model(uri).predict(X), clf.predict(X))

    pipe, D = diabetes_pipeline()
    with nbtrack.start_run():  # MLflow 2's artifact_path and serialization_format
        info = nbtrack.sklearn.log_model(
            pipe, artifact_path="pipe", serialization_format="cloudpickle"
        )
        default = nbtrack.sklearn.log_model(pipe, extra_pip_requirements=["pandas"])
    assert default.artifact_path == "model"
    assert default.metadata.requirements[-1] == "pandas"
    assert info.metadata.serialization == "cloudpickle"
    # its own run's model: pickled, and loaded in one call
    np.testing.assert_allclose(
        nbtrack.sklearn.load_model(info.model_uri).predict(D), pipe.predict(D)
    )
    with pytest.raises(UnsafeModelError, match="allow_pickle=True"):
        nbtrack.sklearn.load_model(client.download_artifacts(info.run_id, "pipe", tmp_path / "c"))
    version = nbtrack.register_model(info.model_uri, "pipe")  # the registry keeps the record
    registered = nbtrack.pyfunc.load_model(f"models:/pipe/{version.version}")
    np.testing.assert_allclose(registered.predict(D), pipe.predict(D))


def test_keywords_that_contradict_are_refused_before_anything_is_logged(
    client: nbtrack.TrackingClient,
) -> None:
    clf, _ = iris_classifier()
    with nbtrack.start_run() as run:
        with pytest.raises(InvalidInputError, match="both name the model"):
            nbtrack.sklearn.log_model(clf, name="a", artifact_path="b")
        with pytest.raises(InvalidInputError, match="not both"):
            nbtrack.sklearn.log_model(clf, pip_requirements=["x"], extra_pip_requirements=["y"])
        with pytest.raises(InvalidInputError, match="list of paths"):
            nbtrack.sklearn.log_model(clf, code_paths="model.py")
        with pytest.raises(InvalidInputError, match=r"code_paths: missing\.py does not exist"):
            nbtrack.sklearn.log_model(clf, code_paths=["missing.py"])
        with pytest.raises(InvalidInputError, match="given twice"):
            nbtrack.pyfunc.log_model("m", "n", python_model=object())
        with pytest.raises(InvalidInputError, match="disagree"):
            nbtrack.sklearn.log_model(clf, serialization="skops", serialization_format="pickle")
    client.flush()
    assert client.list_artifacts(run.info.run_id) == []


class AddN(nbtrack.pyfunc.PythonModel):
    """MLflow's docs example: adds n to every value (in a test module: importable)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
        return model_input.apply(lambda column: column + self.n)


def test_python_model_keywords_artifacts_from_uris_params_and_config(
    tmp_path: Path, client: nbtrack.TrackingClient
) -> None:
    clf, X = iris_classifier()
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("a\nb\n")
    with nbtrack.start_run():
        source = nbtrack.sklearn.log_model(clf, "clf", registered_model_name="iris")

    class UsesArtifacts(nbtrack.pyfunc.PythonModel):  # defined in a function: cloudpickled
        def load_context(self, context: Any) -> None:
            self.clf = nbtrack.sklearn.load_model(context.artifacts["registered"])
            self.run_clf = nbtrack.sklearn.load_model(context.artifacts["from_run"])
            self.vocab = Path(context.artifacts["vocab"]).read_text().split()
            self.scale = context.model_config.get("scale", 1)

        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            offset = (params or {}).get("offset", 0)
            return self.clf.predict(model_input) * self.scale + offset

    with nbtrack.start_run():
        # MLflow 2's positional artifact_path
        info = nbtrack.pyfunc.log_model(
            "wrapped",
            python_model=UsesArtifacts(),
            artifacts={
                "registered": "models:/iris/1",
                "from_run": f"runs:/{source.run_id}/clf",
                "vocab": str(vocab),
            },
            input_example=X[:3],
        )
        added = nbtrack.pyfunc.log_model(name="add", python_model=AddN(5))
    assert info.metadata.serialization == "cloudpickle"
    assert added.metadata.serialization == "skops"  # importable class: no pickle needed
    loaded = nbtrack.pyfunc.load_model(info.model_uri, model_config={"scale": 10})
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X) * 10)
    np.testing.assert_array_equal(loaded.predict(X, params={"offset": 1}), clf.predict(X) * 10 + 1)
    native = loaded.unwrap_python_model()
    assert native.vocab == ["a", "b"]
    np.testing.assert_array_equal(native.run_clf.predict(X), clf.predict(X))
    frame = pd.DataFrame({"x": [1, 2]})
    assert nbtrack.pyfunc.load_model(added.model_uri).predict(frame)["x"].tolist() == [6, 7]

    with pytest.raises(InvalidInputError, match="has nothing at 'nope'"), nbtrack.start_run():
        nbtrack.pyfunc.log_model(
            name="m", python_model=AddN(1), artifacts={"x": f"runs:/{source.run_id}/nope"}
        )


def test_code_paths_are_imported_only_for_a_trusted_model(
    tmp_path: Path, client: nbtrack.TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow's workflow: the model class lives in a file shipped with code_paths."""
    src = tmp_path / "src"
    src.mkdir()
    name = "shipped_model_code"
    (src / f"{name}.py").write_text(
        textwrap.dedent(
            """
            class Doubler:
                def predict(self, model_input):
                    return [2 * v for v in model_input]
            """
        )
    )
    monkeypatch.syspath_prepend(str(src))
    module = __import__(name)
    with nbtrack.start_run():
        info = nbtrack.pyfunc.log_model(
            name="doubler", python_model=module.Doubler(), code_paths=[str(src / f"{name}.py")]
        )
    monkeypatch.delitem(__import__("sys").modules, name)
    monkeypatch.setattr(
        __import__("sys"), "path", [p for p in __import__("sys").path if p != str(src)]
    )
    copy = client.download_artifacts(info.run_id, "doubler", tmp_path / "copy")
    with pytest.raises(UnsafeModelError, match=f"'{name}' came with the model"):
        nbtrack.pyfunc.load_model(copy)
    # from its own run: the model's code/ folder goes on sys.path, and the class imports
    assert nbtrack.pyfunc.load_model(info.model_uri).predict([1, 2]) == [2, 4]
    assert str(sys.modules[name].__file__).endswith(f"code/{name}.py")


def test_pytorch_model_keyword_and_a_module_defined_in_a_function(
    client: nbtrack.TrackingClient, tmp_path: Path
) -> None:
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self, n_in: int) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(n_in, 2)

        def forward(self, x: Any) -> Any:
            return self.linear(x)

    net = Net(4).eval()
    x = np.ones((3, 4), dtype=np.float32)
    with nbtrack.start_run():
        info = nbtrack.pytorch.log_model(pytorch_model=net, name="net", input_example=x)
    assert info.metadata.serialization == "cloudpickle"
    loaded = nbtrack.pytorch.load_model(info.model_uri)
    with torch.no_grad():
        np.testing.assert_allclose(
            loaded(torch.from_numpy(x)).numpy(), net(torch.from_numpy(x)).numpy()
        )
    copy = client.download_artifacts(info.run_id, "net", tmp_path / "copy")
    with pytest.raises(UnsafeModelError, match="allow_pickle=True"):
        nbtrack.pytorch.load_model(copy)
