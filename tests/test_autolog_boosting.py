"""XGBoost and LightGBM autolog: params, iteration metrics, importance, models in own formats."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

import nbtrack
from nbtrack.autologging import _core

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")


@pytest.fixture
def autolog() -> Iterator[None]:
    nbtrack.xgboost.autolog()
    nbtrack.lightgbm.autolog()
    yield
    nbtrack.xgboost.autolog(disable=True)
    nbtrack.lightgbm.autolog(disable=True)
    _core._reported.clear()


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_diabetes(return_X_y=True)
    return x, y


def test_xgboost_train(
    autolog: None, data: tuple[np.ndarray, np.ndarray], client: nbtrack.TrackingClient
) -> None:
    x, y = data
    train, valid = xgb.DMatrix(x[:300], label=y[:300]), xgb.DMatrix(x[300:], label=y[300:])
    with nbtrack.start_run() as run:
        booster = xgb.train(
            {"max_depth": 3, "eta": 0.3},
            train,
            num_boost_round=30,
            evals=[(train, "train"), (valid, "valid")],
            early_stopping_rounds=3,
            verbose_eval=False,
        )
    run_id = run.info.run_id
    data_ = client.get_run(run_id).data
    assert data_.params["max_depth"] == "3"
    assert data_.params["num_boost_round"] == "30"
    assert data_.params["early_stopping_rounds"] == "3"
    history = client.get_metric_history(run_id, "valid-rmse")
    stopped = int(data_.metrics["stopped_iteration"])
    best = int(data_.metrics["best_iteration"])
    assert best == booster.best_iteration
    assert [m.step for m in history] == [*range(stopped + 1), stopped + 1]
    assert history[-1].value == history[best].value  # the best iteration's result again
    assert len(client.get_metric_history(run_id, "train-rmse")) == stopped + 2
    paths = {a.path for a in client.list_artifacts(run_id)}
    assert {"feature_importance_weight.json", "feature_importance_weight.png", "model"} <= paths
    scores = json.loads(client.read_artifact(run_id, "feature_importance_weight.json"))
    assert scores == pytest.approx(booster.get_score(importance_type="weight"))
    model_files = {a.path for a in client.list_artifacts(run_id, "model")}
    assert "model/model.json" in model_files
    assert not any(p.endswith((".pkl", ".pickle")) for p in model_files)
    loaded = nbtrack.xgboost.load_model(f"runs:/{run_id}/model")
    np.testing.assert_allclose(loaded.predict(valid), booster.predict(valid))


def test_xgboost_sklearn_api_is_logged_and_rebuilt_as_its_class(
    autolog: None, client: nbtrack.TrackingClient
) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    with nbtrack.start_run() as run:
        model = xgb.XGBClassifier(n_estimators=8, max_depth=2).fit(x, y, eval_set=[(x, y)])
    run_id = run.info.run_id
    assert len(client.get_metric_history(run_id, "validation_0-logloss")) == 8
    loaded = nbtrack.xgboost.load_model(f"runs:/{run_id}/model")
    assert type(loaded) is xgb.XGBClassifier
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    pyfunc = nbtrack.pyfunc.load_model(f"runs:/{run_id}/model")
    np.testing.assert_array_equal(np.asarray(pyfunc.predict(x[:5])), model.predict(x[:5]))


def test_lightgbm_train(
    autolog: None, data: tuple[np.ndarray, np.ndarray], client: nbtrack.TrackingClient
) -> None:
    x, y = data
    train = lgb.Dataset(x[:300], y[:300])
    valid = lgb.Dataset(x[300:], y[300:], reference=train)
    with nbtrack.start_run() as run:
        booster = lgb.train(
            {"objective": "regression", "num_leaves": 7, "verbose": -1},
            train,
            num_boost_round=12,
            valid_sets=[train, valid],
            valid_names=["train", "valid"],
        )
    run_id = run.info.run_id
    data_ = client.get_run(run_id).data
    assert data_.params["num_leaves"] == "7"
    assert data_.params["num_boost_round"] == "12"
    steps = [m.step for m in client.get_metric_history(run_id, "valid-l2")]
    assert steps == list(range(12))
    paths = {a.path for a in client.list_artifacts(run_id)}
    for kind in ("split", "gain"):
        assert {f"feature_importance_{kind}.json", f"feature_importance_{kind}.png"} <= paths
    split = json.loads(client.read_artifact(run_id, "feature_importance_split.json"))
    assert sum(split.values()) == booster.feature_importance("split").sum()
    assert "model/model.txt" in {a.path for a in client.list_artifacts(run_id, "model")}
    loaded = nbtrack.lightgbm.load_model(f"runs:/{run_id}/model")
    np.testing.assert_allclose(loaded.predict(x[300:]), booster.predict(x[300:]))


def test_a_failing_log_leaves_boosting_alone(
    autolog: None,
    data: tuple[np.ndarray, np.ndarray],
    client: nbtrack.TrackingClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    x, y = data
    params = {"objective": "regression", "num_leaves": 7, "verbose": -1, "seed": 1}
    nbtrack.lightgbm.autolog(disable=True)
    reference = lgb.train(params, lgb.Dataset(x, y), num_boost_round=5)
    nbtrack.lightgbm.autolog()
    run = nbtrack.start_run()
    client.delete_run(run.info.run_id)
    with caplog.at_level(logging.WARNING, "nbtrack.autolog"):
        booster = lgb.train(params, lgb.Dataset(x, y), num_boost_round=5)
    np.testing.assert_allclose(booster.predict(x), reference.predict(x))
    assert any("deleted" in r.getMessage() for r in caplog.records)
    nbtrack.end_run()


def test_disable_restores_train() -> None:
    original = xgb.train
    nbtrack.xgboost.autolog()
    assert xgb.train is not original
    nbtrack.xgboost.autolog(disable=True)
    assert xgb.train is original
