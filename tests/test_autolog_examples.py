"""``log_input_examples`` and ``log_model_signatures`` for XGBoost, LightGBM, Lightning, sklearn.

As MLflow does: the input example is the training data's first rows
(``log_input_examples``, off by default) and the signature is inferred from
them and the model's output (``log_model_signatures``, on by default); with
signatures off, an example does not bring one back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

import nbtrack
from nbtrack.autologging import _core
from nbtrack.models import TensorSpec

EXAMPLE_ROWS = 5


@pytest.fixture(autouse=True)
def _forget_reports() -> Iterator[None]:
    yield
    _core._reported.clear()


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_diabetes(return_X_y=True)
    return x, y


def _model(run_id: str) -> tuple[Any, list[Any] | None]:
    """The logged model's signature and input example rows (None without an example)."""
    path, metadata, _temporary = nbtrack.models.fetch(f"runs:/{run_id}/model")
    example_file = Path(path) / "input_example.json"
    rows = json.loads(example_file.read_text())["inputs"] if example_file.exists() else None
    return metadata.signature, rows


def _assert_tensor_input(signature: Any, columns: int, dtype: str) -> None:
    assert signature is not None
    (spec,) = signature.inputs
    assert isinstance(spec, TensorSpec)
    assert spec.shape == (-1, columns)
    assert spec.dtype == dtype
    assert signature.outputs  # the model's output for the rows was inferred too


# -- XGBoost ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("examples", "signatures"), [(False, True), (True, True), (True, False), (False, False)]
)
def test_xgboost_train_example_and_signature(
    data: tuple[np.ndarray, np.ndarray], examples: bool, signatures: bool
) -> None:
    xgb = pytest.importorskip("xgboost")
    x, y = data
    nbtrack.xgboost.autolog(log_input_examples=examples, log_model_signatures=signatures)
    try:
        train = xgb.DMatrix(x[:300], label=y[:300])
        with nbtrack.start_run() as run:
            xgb.train({"max_depth": 2}, train, num_boost_round=3)
    finally:
        nbtrack.xgboost.autolog(disable=True)
    signature, rows = _model(run.info.run_id)
    if signatures:
        _assert_tensor_input(signature, x.shape[1], "float64")
    else:
        assert signature is None
    if examples:
        np.testing.assert_allclose(np.asarray(rows), x[:EXAMPLE_ROWS])
    else:
        assert rows is None


def test_xgboost_sklearn_api_example_comes_from_x(data: tuple[np.ndarray, np.ndarray]) -> None:
    xgb = pytest.importorskip("xgboost")
    x, y = data
    nbtrack.xgboost.autolog(log_input_examples=True)
    try:
        with nbtrack.start_run() as run:
            model = xgb.XGBRegressor(n_estimators=3, max_depth=2).fit(x, y)
    finally:
        nbtrack.xgboost.autolog(disable=True)
    signature, rows = _model(run.info.run_id)
    _assert_tensor_input(signature, x.shape[1], "float64")
    np.testing.assert_allclose(np.asarray(rows), x[:EXAMPLE_ROWS])
    loaded = nbtrack.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_allclose(
        np.asarray(loaded.predict(np.asarray(rows))), model.predict(x[:EXAMPLE_ROWS]), rtol=1e-6
    )


def test_xgboost_example_is_the_rows_as_they_were_at_dmatrix_time(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    xgb = pytest.importorskip("xgboost")
    x, y = data
    features = x[:100].copy()
    nbtrack.xgboost.autolog(log_input_examples=True)
    try:
        train = xgb.DMatrix(features, label=y[:100])
        features[:] = 0.0  # the caller reuses its buffer: the DMatrix already has the data
        with nbtrack.start_run() as run:
            xgb.train({"max_depth": 2}, train, num_boost_round=2)
    finally:
        nbtrack.xgboost.autolog(disable=True)
    _signature, rows = _model(run.info.run_id)
    np.testing.assert_allclose(np.asarray(rows), x[:EXAMPLE_ROWS])


# -- LightGBM -----------------------------------------------------------------------------


@pytest.mark.parametrize(("examples", "signatures"), [(False, True), (True, True), (True, False)])
def test_lightgbm_train_example_and_signature(
    data: tuple[np.ndarray, np.ndarray], examples: bool, signatures: bool
) -> None:
    lgb = pytest.importorskip("lightgbm")
    pd = pytest.importorskip("pandas")
    x, y = data
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    nbtrack.lightgbm.autolog(log_input_examples=examples, log_model_signatures=signatures)
    try:
        with nbtrack.start_run() as run:
            lgb.train(
                {"objective": "regression", "verbose": -1, "num_leaves": 4},
                lgb.Dataset(frame, y),  # the raw data is freed once built: taken before
                num_boost_round=3,
            )
    finally:
        nbtrack.lightgbm.autolog(disable=True)
    path, metadata, _temporary = nbtrack.models.fetch(f"runs:/{run.info.run_id}/model")
    if signatures:
        assert metadata.signature is not None
        assert [c.name for c in metadata.signature.columns] == list(frame.columns)
        assert {c.type for c in metadata.signature.columns} == {"double"}
    else:
        assert metadata.signature is None
    example_file = Path(path) / "input_example.json"
    if examples:
        split = json.loads(example_file.read_text())  # a DataFrame: MLflow's split orient
        assert split["columns"] == list(frame.columns)
        np.testing.assert_allclose(np.asarray(split["data"]), x[:EXAMPLE_ROWS])
    else:
        assert not example_file.exists()


# -- Lightning ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("examples", "signatures"), [(False, True), (True, True), (True, False)])
def test_lightning_example_and_signature_from_the_first_training_batch(
    tmp_path: Path, examples: bool, signatures: bool
) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("lightning.pytorch")
    from test_autolog_lightning import TinyRegressor, _trainer

    generator = torch.Generator().manual_seed(1)
    x = torch.randn(48, 4, generator=generator)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=16
    )
    val = torch.utils.data.DataLoader(  # the sanity check's batches must not be the example
        torch.utils.data.TensorDataset(-x, x.sum(dim=1, keepdim=True)), batch_size=16
    )
    model = TinyRegressor(hidden=4)
    own_forward = model.forward
    nbtrack.pytorch.autolog(log_input_examples=examples, log_model_signatures=signatures)
    try:
        with nbtrack.start_run() as run:
            _trainer(tmp_path, 1).fit(model, loader, val)
    finally:
        nbtrack.pytorch.autolog(disable=True)
    assert "forward" not in vars(model)  # the capture was removed
    assert model.forward == own_forward
    signature, rows = _model(run.info.run_id)
    if signatures:
        _assert_tensor_input(signature, 4, "float32")
    else:
        assert signature is None
    if examples:
        np.testing.assert_allclose(np.asarray(rows), x[:EXAMPLE_ROWS].numpy(), rtol=1e-6)
    else:
        assert rows is None


# -- scikit-learn -------------------------------------------------------------------------


def test_sklearn_signatures_off_with_examples_on_gives_no_signature(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    from sklearn.linear_model import LinearRegression

    x, y = data
    nbtrack.sklearn.autolog(log_input_examples=True, log_model_signatures=False)
    try:
        with nbtrack.start_run() as run:
            LinearRegression().fit(x, y)
    finally:
        nbtrack.sklearn.autolog(disable=True)
    signature, rows = _model(run.info.run_id)
    assert signature is None
    np.testing.assert_allclose(np.asarray(rows), x[:EXAMPLE_ROWS])
