"""MLflow itself loads what nbtrack packages and predicts the same values.

MLflow comes with the ``test`` extra; these tests import it for real, point it
at the model directory, and let its own ``pyfunc`` loader find
``nbtrack.models._mlflow_loader`` through the ``python_function`` flavor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nbtrack
from _models_helpers import diabetes_pipeline, iris_classifier

mlflow_pyfunc = pytest.importorskip("mlflow.pyfunc", reason="MLflow comes with the test extra")


def test_mlflow_loads_an_nbtrack_sklearn_model_and_predicts_the_same(tmp_path: Path) -> None:
    clf, X = iris_classifier()
    nbtrack.sklearn.save_model(clf, tmp_path / "clf", input_example=X[:5])
    theirs = mlflow_pyfunc.load_model(str(tmp_path / "clf"))
    ours = nbtrack.pyfunc.load_model(tmp_path / "clf")
    np.testing.assert_array_equal(theirs.predict(X), ours.predict(X))
    np.testing.assert_array_equal(theirs.predict(X), clf.predict(X))
    assert theirs.metadata.get_input_schema().input_names() == list(X.columns)
    assert theirs.loader_module == "nbtrack.models._mlflow_loader"
    example = theirs.input_example
    assert list(example.columns) == list(X.columns)

    pipe, D = diabetes_pipeline()
    nbtrack.sklearn.save_model(pipe, tmp_path / "pipe", input_example=D[:4])
    np.testing.assert_allclose(
        mlflow_pyfunc.load_model(str(tmp_path / "pipe")).predict(D), pipe.predict(D)
    )


def test_mlflow_loads_a_model_logged_to_a_run(tmp_path: Path) -> None:
    clf, X = iris_classifier()
    with nbtrack.start_run():
        info = nbtrack.sklearn.log_model(clf, "model", input_example=X[:5])
    local = nbtrack.TrackingClient().download_artifacts(info.run_id, "model", tmp_path)
    loaded = mlflow_pyfunc.load_model(local)
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    assert loaded.metadata.run_id == info.run_id


def test_mlflow_enforces_our_signature(tmp_path: Path) -> None:
    from mlflow.exceptions import MlflowException

    clf, X = iris_classifier()
    nbtrack.sklearn.save_model(clf, tmp_path / "clf", input_example=X[:5])
    theirs = mlflow_pyfunc.load_model(str(tmp_path / "clf"))
    with pytest.raises(MlflowException, match="petal width"):
        theirs.predict(X.drop(columns=["petal width (cm)"]))


def test_mlflow_gets_the_same_safety_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clf, X = iris_classifier()
    nbtrack.sklearn.save_model(clf, tmp_path / "p", serialization="pickle")
    monkeypatch.delenv("NBTRACK_ALLOW_PICKLE", raising=False)
    with pytest.raises(nbtrack.models.UnsafeModelError, match="NBTRACK_ALLOW_PICKLE=1"):
        mlflow_pyfunc.load_model(str(tmp_path / "p"))
    monkeypatch.setenv("NBTRACK_ALLOW_PICKLE", "1")
    np.testing.assert_array_equal(
        mlflow_pyfunc.load_model(str(tmp_path / "p")).predict(X), clf.predict(X)
    )

    nbtrack.sklearn.save_model(clf, tmp_path / "t")
    model_file = tmp_path / "t" / "model.skops"
    model_file.write_bytes(model_file.read_bytes() + b"\0")
    with pytest.raises(nbtrack.models.ModelIntegrityError, match="was changed after"):
        mlflow_pyfunc.load_model(str(tmp_path / "t"))


def test_mlflow_loads_models_saved_with_mlflows_keywords(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clf, X = iris_classifier()
    helper = tmp_path / "helper.py"
    helper.write_text("VALUE = 1\n")
    nbtrack.sklearn.save_model(
        clf,
        tmp_path / "clf",
        code_paths=[str(helper)],
        metadata={"team": "vision"},
        pip_requirements=["scikit-learn", "skops"],
    )
    theirs = mlflow_pyfunc.load_model(str(tmp_path / "clf"))
    np.testing.assert_array_equal(theirs.predict(X), clf.predict(X))
    assert theirs.metadata.metadata == {"team": "vision"}

    class Doubler(nbtrack.pyfunc.PythonModel):  # not importable: stored with cloudpickle
        def predict(self, context: object, model_input: object, params: object = None) -> object:
            return np.asarray(model_input) * 2

    nbtrack.pyfunc.save_model(str(tmp_path / "doubler"), python_model=Doubler())
    monkeypatch.delenv("NBTRACK_ALLOW_PICKLE", raising=False)
    with pytest.raises(nbtrack.models.UnsafeModelError, match="NBTRACK_ALLOW_PICKLE=1"):
        mlflow_pyfunc.load_model(str(tmp_path / "doubler"))
    monkeypatch.setenv("NBTRACK_ALLOW_PICKLE", "1")
    loaded = mlflow_pyfunc.load_model(str(tmp_path / "doubler"))
    np.testing.assert_array_equal(loaded.predict(np.ones((2, 2))), np.full((2, 2), 2.0))
