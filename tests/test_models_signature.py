"""Signatures: inferred from the example, written in MLflow's form, enforced by predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nbtrack
from _models_helpers import iris_classifier
from nbtrack.models import ColSpec, ModelSignature, SignatureError, TensorSpec, infer_signature
from nbtrack.models._signature import enforce


def test_inferred_from_a_dataframe_with_names_and_types() -> None:
    frame = pd.DataFrame(
        {
            "f64": [1.5, 2.5],
            "f32": np.array([1, 2], dtype=np.float32),
            "i64": [1, 2],
            "i32": np.array([1, 2], dtype=np.int32),
            "flag": [True, False],
            "city": ["Oslo", "Lima"],
            "when": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        }
    )
    signature = infer_signature(frame, np.array([0, 1]))
    assert signature.inputs == (
        ColSpec("double", "f64"),
        ColSpec("float", "f32"),
        ColSpec("long", "i64"),
        ColSpec("integer", "i32"),
        ColSpec("boolean", "flag"),
        ColSpec("string", "city"),
        ColSpec("datetime", "when"),
    )
    assert signature.outputs == (TensorSpec("int64", (-1,)),)
    assert ModelSignature.from_dict(signature.to_dict()) == signature


def test_inferred_from_numpy_as_a_tensor() -> None:
    signature = infer_signature(np.zeros((5, 4), dtype=np.float32))
    assert signature.inputs == (TensorSpec("float32", (-1, 4)),)
    with pytest.raises(SignatureError, match="object array"):
        infer_signature(np.array([object(), object()]))
    with pytest.raises(SignatureError, match="cannot infer a signature from set"):
        infer_signature({1, 2})
    with pytest.raises(SignatureError, match="column 'x' holds dict"):
        infer_signature(pd.DataFrame({"x": [{"a": 1}]}))


def test_mlflow_reads_our_signature() -> None:
    from mlflow.models.signature import ModelSignature as MlflowSignature

    _, X = iris_classifier()
    ours = infer_signature(X, np.array([0, 1]))
    theirs = MlflowSignature.from_dict(ours.to_dict())
    assert theirs.inputs.input_names() == list(X.columns)
    assert [t.name for t in theirs.inputs.input_types()] == ["double"] * 4


def test_predict_names_the_missing_column(tmp_path: Path) -> None:
    clf, X = iris_classifier()
    nbtrack.sklearn.save_model(clf, tmp_path / "m", input_example=X[:5])
    model = nbtrack.pyfunc.load_model(tmp_path / "m")
    with pytest.raises(SignatureError) as caught:
        model.predict(X.drop(columns=["petal width (cm)"]))
    message = str(caught.value)
    assert "missing column 'petal width (cm)' (double)" in message
    assert "sepal length (cm): double" in message
    with pytest.raises(SignatureError, match=r"missing column 'sepal length \(cm\)'.*3 more"):
        model.predict(pd.DataFrame({"other": [1.0]}))


def test_predict_names_the_mistyped_column(tmp_path: Path) -> None:
    clf, X = iris_classifier()
    nbtrack.sklearn.save_model(clf, tmp_path / "m", input_example=X[:5])
    model = nbtrack.pyfunc.load_model(tmp_path / "m")
    bad = X.head(3).astype(object)
    bad.loc[bad.index[1], "sepal width (cm)"] = "wide"
    with pytest.raises(SignatureError, match="column 'sepal width \\(cm\\)' has a value 'wide'"):
        model.predict(bad)
    flags = X.head(2).copy()
    flags["petal length (cm)"] = [True, False]
    with pytest.raises(
        SignatureError, match=r"'petal length \(cm\)' has type boolean .* expects double"
    ):
        model.predict(flags)


def test_predict_widens_reorders_and_drops_extras(tmp_path: Path) -> None:
    clf, X = iris_classifier()
    nbtrack.sklearn.save_model(clf, tmp_path / "m", input_example=X[:5])
    model = nbtrack.pyfunc.load_model(tmp_path / "m")
    expected = clf.predict(X)
    shuffled = X[list(reversed(X.columns))].assign(extra="ignored")
    np.testing.assert_array_equal(model.predict(shuffled), expected)
    as_ints = X.round().astype(np.int64)
    np.testing.assert_array_equal(model.predict(as_ints), clf.predict(as_ints.astype(float)))
    np.testing.assert_array_equal(model.predict(X.to_numpy()), expected)  # columns by position
    np.testing.assert_array_equal(model.predict(X.to_dict(orient="records")), expected)
    np.testing.assert_array_equal(model.predict(X.to_dict(orient="list")), expected)
    with pytest.raises(SignatureError, match=r"array of shape \(150, 3\).* 4 named columns"):
        model.predict(X.to_numpy()[:, :3])
    with pytest.raises(SignatureError, match="input is a str"):
        model.predict("5.1,3.5,1.4,0.2")


def test_tensor_signature_checks_rank_size_and_dtype() -> None:
    signature = ModelSignature((TensorSpec("float32", (-1, 3)),))
    ok = enforce(signature, np.zeros((2, 3), dtype=np.int16))
    assert ok.dtype == np.float32
    with pytest.raises(SignatureError, match="1 dimension"):
        enforce(signature, np.zeros(3))
    with pytest.raises(SignatureError, match="size 4 on axis 1"):
        enforce(signature, np.zeros((2, 4)))
    with pytest.raises(SignatureError, match="float64, which cannot be safely converted"):
        enforce(signature, np.zeros((2, 3)))
    assert enforce(None, "anything") == "anything"
