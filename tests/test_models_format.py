"""The model directory: MLmodel, hashes, requirements, skops safety, opt-in pickle."""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import nbtrack
from _models_helpers import (
    diabetes_pipeline,
    forget_user_module,
    iris,
    iris_classifier,
    write_user_module,
)
from nbtrack.exceptions import InvalidInputError
from nbtrack.models import (
    ModelFormatError,
    ModelIntegrityError,
    UnsafeModelError,
    _yaml,
)
from nbtrack.models._format import sha256_of


@pytest.fixture
def user_module(tmp_path: Path) -> Iterator[ModuleType]:
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    module = write_user_module(code_dir)
    yield module
    forget_user_module(module, code_dir)


def test_sklearn_round_trip_predicts_the_same(tmp_path: Path) -> None:
    clf, X = iris_classifier()
    nbtrack.sklearn.save_model(clf, tmp_path / "clf", input_example=X[:5])
    loaded = nbtrack.pyfunc.load_model(tmp_path / "clf")
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    assert loaded.metadata.flavor == "sklearn"
    assert loaded.metadata.serialization == "skops"
    assert loaded.metadata.run_id is None

    pipe, D = diabetes_pipeline()
    nbtrack.sklearn.save_model(pipe, tmp_path / "pipe", input_example=D[:3])
    native = nbtrack.sklearn.load_model(str(tmp_path / "pipe"))
    assert type(native).__name__ == "Pipeline"
    np.testing.assert_allclose(native.predict(D), pipe.predict(D))
    np.testing.assert_allclose(
        nbtrack.pyfunc.load_model(tmp_path / "pipe").predict(D), pipe.predict(D)
    )


def test_mlmodel_is_mlflows_format_with_every_file_hashed(tmp_path: Path) -> None:
    clf, X = iris_classifier()
    nbtrack.sklearn.save_model(clf, tmp_path / "m", input_example=X[:5])
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == [
        "MLmodel",
        "conda.yaml",
        "input_example.json",
        "model.skops",
        "python_env.yaml",
        "requirements.txt",
        "serving_input_example.json",
    ]
    document = _yaml.load((tmp_path / "m" / "MLmodel").read_text())
    pyfunc = document["flavors"]["python_function"]
    assert pyfunc["loader_module"] == "nbtrack.models._mlflow_loader"
    assert pyfunc["env"] == {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
    own = document["flavors"]["nbtrack"]
    assert own["flavor"] == "sklearn"
    assert set(own["files"]) == set(files) - {"MLmodel"}
    for name, sha in own["files"].items():
        assert sha == sha256_of(tmp_path / "m" / name)
    inputs = json.loads(document["signature"]["inputs"])
    assert [c["name"] for c in inputs] == list(X.columns)
    assert {c["type"] for c in inputs} == {"double"}
    example = json.loads((tmp_path / "m" / "serving_input_example.json").read_text())
    assert example["dataframe_split"]["columns"] == list(X.columns)


def test_requirements_pin_the_flavors_libraries_as_installed(tmp_path: Path) -> None:
    clf, _ = iris_classifier()
    meta = nbtrack.sklearn.save_model(clf, tmp_path / "m")
    pins = dict(line.split("==") for line in meta.requirements)
    for dist in ("scikit-learn", "skops", "numpy", "scipy", "nbtrack"):
        assert pins[dist] == importlib.metadata.version(dist), dist
    assert "cloudpickle" not in pins
    assert (tmp_path / "m" / "requirements.txt").read_text().splitlines() == meta.requirements


def test_a_tampered_file_is_refused(tmp_path: Path) -> None:
    clf, X = iris_classifier()
    nbtrack.sklearn.save_model(clf, tmp_path / "m", input_example=X[:5])
    model_file = tmp_path / "m" / "model.skops"
    data = bytearray(model_file.read_bytes())
    data[-10] ^= 0xFF
    model_file.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match=r"'model.skops' .* was changed after"):
        nbtrack.pyfunc.load_model(tmp_path / "m")

    nbtrack.sklearn.save_model(clf, tmp_path / "n")
    (tmp_path / "n" / "requirements.txt").write_text("evil==1.0\n")
    with pytest.raises(ModelIntegrityError, match=r"requirements\.txt"):
        nbtrack.pyfunc.load_model(tmp_path / "n")

    nbtrack.sklearn.save_model(clf, tmp_path / "o")
    (tmp_path / "o" / "model.skops").unlink()
    with pytest.raises(ModelIntegrityError, match=r"'model\.skops' listed in .* is missing"):
        nbtrack.pyfunc.load_model(tmp_path / "o")


def test_pickle_is_opt_in_both_ways(tmp_path: Path) -> None:
    clf, X = iris_classifier()
    meta = nbtrack.sklearn.save_model(clf, tmp_path / "p", serialization="pickle")
    assert meta.serialization == "pickle"
    assert (tmp_path / "p" / "model.pkl").is_file()
    assert any(r.startswith("cloudpickle==") for r in meta.requirements)
    with pytest.raises(UnsafeModelError, match=r"runs whatever code .* allow_pickle=True"):
        nbtrack.pyfunc.load_model(tmp_path / "p")
    loaded = nbtrack.pyfunc.load_model(tmp_path / "p", allow_pickle=True)
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    with pytest.raises(InvalidInputError, match="serialization='joblib' is not supported"):
        nbtrack.sklearn.save_model(clf, tmp_path / "q", serialization="joblib")


def test_skops_refuses_untrusted_types_until_trusted(
    tmp_path: Path, user_module: ModuleType
) -> None:
    X, y = iris()
    pipe = make_pipeline(FunctionTransformer(user_module.double), LogisticRegression(max_iter=500))
    pipe.fit(X, y)
    nbtrack.sklearn.save_model(pipe, tmp_path / "m")
    type_name = f"{user_module.__name__}.double"
    with pytest.raises(UnsafeModelError, match=rf"does not trust by default: '{type_name}'"):
        nbtrack.pyfunc.load_model(tmp_path / "m")
    loaded = nbtrack.pyfunc.load_model(tmp_path / "m", trusted_types=[type_name])
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))


def test_saving_refuses_what_it_cannot_store(tmp_path: Path) -> None:
    clf, _ = iris_classifier()
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="already exists and is not an empty directory"):
        nbtrack.sklearn.save_model(clf, target)
    assert (target / "notes.txt").read_text() == "mine"
    with pytest.raises(InvalidInputError, match="fitted scikit-learn estimator"):
        nbtrack.sklearn.save_model(object(), tmp_path / "x")
    assert not (tmp_path / "x").exists()  # nothing half-written is left behind
    with pytest.raises(InvalidInputError, match="could not predict on input_example"):
        nbtrack.sklearn.save_model(clf, tmp_path / "y", input_example=pd.DataFrame({"x": [1.0]}))
    assert not (tmp_path / "y").exists()


def test_loading_what_is_not_an_nbtrack_model(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match="does not exist, so it is not a saved model"):
        nbtrack.pyfunc.load_model(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFormatError, match="has no MLmodel file"):
        nbtrack.pyfunc.load_model(tmp_path / "empty")
    mlflow_style = tmp_path / "mlflow"
    mlflow_style.mkdir()
    (mlflow_style / "MLmodel").write_text("flavors:\n  sklearn:\n    pickled_model: model.pkl\n")
    with pytest.raises(ModelFormatError, match="was not saved by nbtrack"):
        nbtrack.pyfunc.load_model(mlflow_style)
    (mlflow_style / "MLmodel").write_text("flavors:\n- a list\n")
    with pytest.raises(ModelFormatError, match="load a model written by MLflow itself"):
        nbtrack.pyfunc.load_model(mlflow_style)


def test_flavor_modules_are_lazy_attributes() -> None:
    assert nbtrack.sklearn.log_model.__module__ == "nbtrack.sklearn"
    assert nbtrack.pyfunc.load_model.__module__ == "nbtrack.pyfunc"
    with pytest.raises(AttributeError, match="no attribute 'tensorflow'"):
        _ = nbtrack.tensorflow  # type: ignore[attr-defined]


def test_yaml_subset_is_read_by_pyyaml_identically() -> None:
    yaml = pytest.importorskip("yaml")
    document = {
        "a": None,
        "nested": {"x y": "1e-05", "list": [1, "two", None, True], "empty": {}},
        "quote": 'he said "hi"\n',
    }
    text = _yaml.dump(document)
    assert _yaml.load(text) == document
    assert yaml.safe_load(text) == document
    with pytest.raises(TypeError, match="not floats"):
        _yaml.dump({"x": 0.5})
