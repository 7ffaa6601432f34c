"""scikit-learn autolog against a real store: MLflow's names, runs, models, failures."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("skops")

import sklearn.metrics
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import nbtrack
from nbtrack.autologging import _core

CLASSIFIER_METRICS = {
    "training_score",
    "training_accuracy_score",
    "training_precision_score",
    "training_recall_score",
    "training_f1_score",
    "training_log_loss",
    "training_roc_auc",
}
REGRESSOR_METRICS = {
    "training_score",
    "training_mean_squared_error",
    "training_root_mean_squared_error",
    "training_mean_absolute_error",
    "training_r2_score",
}


@pytest.fixture
def autolog() -> Iterator[None]:
    nbtrack.sklearn.autolog()
    yield
    nbtrack.sklearn.autolog(disable=True)
    _core._reported.clear()


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_iris(return_X_y=True)
    return x, y


def test_importing_nbtrack_patches_nothing() -> None:
    code = (
        "import nbtrack, nbtrack.sklearn, sys\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "assert not hasattr(LogisticRegression.fit, '__nbtrack_autolog__')\n"
        "assert 'nbtrack.autologging._sklearn' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_classifier_fit_logs_params_metrics_tags_and_a_loadable_model(
    autolog: None, iris: tuple[np.ndarray, np.ndarray], client: nbtrack.TrackingClient
) -> None:
    x, y = iris
    clf = LogisticRegression(C=0.5, max_iter=300)
    returned = clf.fit(x, y)
    assert returned is clf  # the library's own result
    run_id = nbtrack.last_active_run_id() or client.search_runs(["0"])[0].info.run_id
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"  # autolog started and ended it
    assert run.data.metrics.keys() >= CLASSIFIER_METRICS
    assert run.data.metrics["training_accuracy_score"] == pytest.approx(clf.score(x, y))
    assert run.data.params["C"] == "0.5"
    assert run.data.params["max_iter"] == "300"
    assert run.data.tags["estimator_name"] == "LogisticRegression"
    assert run.data.tags["estimator_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert run.data.tags[_core.AUTOLOGGING_TAG] == "sklearn"
    assert '"shape": [150, 4]' in run.data.tags["nbtrack.dataset.train"]
    loaded = nbtrack.sklearn.load_model(f"runs:/{run_id}/model")
    np.testing.assert_array_equal(loaded.predict(x), clf.predict(x))


def test_regressor_metrics_and_logging_into_the_active_run(
    autolog: None, client: nbtrack.TrackingClient
) -> None:
    x, y = load_diabetes(return_X_y=True)
    with nbtrack.start_run() as run:
        LinearRegression().fit(x, y)
        assert nbtrack.active_run() is run  # the user's run stays active
    data = client.get_run(run.info.run_id).data
    assert data.metrics.keys() >= REGRESSOR_METRICS
    assert data.metrics["training_root_mean_squared_error"] == pytest.approx(
        data.metrics["training_mean_squared_error"] ** 0.5
    )
    assert len(client.search_runs(["0"])) == 1


def test_pipeline_logs_nested_params_once(
    autolog: None, iris: tuple[np.ndarray, np.ndarray], client: nbtrack.TrackingClient
) -> None:
    x, y = iris
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=2.0))])
    with nbtrack.start_run() as run:
        pipe.fit(x, y)
    data = client.get_run(run.info.run_id).data
    assert data.params["clf__C"] == "2.0"
    assert "scale__with_mean" in data.params
    assert data.tags["estimator_name"] == "Pipeline"
    assert len(client.search_runs(["0"])) == 1  # the steps' fits made no runs
    # methods the pipeline exposes only when its last step has them are still checked
    no_proba = Pipeline([("scale", StandardScaler()), ("reg", LinearRegression())])
    assert not hasattr(no_proba, "predict_proba")


def test_grid_search_child_runs_and_best_values(
    autolog: None, iris: tuple[np.ndarray, np.ndarray], client: nbtrack.TrackingClient
) -> None:
    x, y = iris
    nbtrack.sklearn.autolog(max_tuning_runs=2)
    search = GridSearchCV(LogisticRegression(max_iter=300), {"C": [0.01, 0.1, 1.0]}, cv=3)
    with nbtrack.start_run() as run:
        search.fit(x, y)
    parent = client.get_run(run.info.run_id)
    assert parent.data.params["best_C"] == str(search.best_params_["C"])
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    paths = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"model", "best_estimator", "cv_results.csv"} <= paths
    children = [r for r in client.search_runs(["0"]) if r.info.parent_run_id == run.info.run_id]
    assert len(children) == 2
    ranks = sorted(c.data.metrics["rank_test_score"] for c in children)
    assert ranks[0] == 1.0
    assert all("mean_test_score" in c.data.metrics for c in children)
    assert {c.data.params["C"] for c in children} <= {"0.01", "0.1", "1.0"}


def test_post_training_metrics(
    autolog: None, iris: tuple[np.ndarray, np.ndarray], client: nbtrack.TrackingClient
) -> None:
    x, y = iris
    X_test, y_test = x[::3], y[::3]
    with nbtrack.start_run() as run:
        model = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
        predicted = model.predict(X_test)
        accuracy = sklearn.metrics.accuracy_score(y_test, predicted)
        accuracy_again = sklearn.metrics.accuracy_score(y_test, predicted)
        score = model.score(X_test, y_test)
    metrics = client.get_run(run.info.run_id).data.metrics
    assert metrics["accuracy_score_X_test"] == pytest.approx(accuracy)
    assert metrics["accuracy_score-2_X_test"] == pytest.approx(accuracy_again)
    assert metrics["RandomForestClassifier_score_X_test"] == pytest.approx(score)


def test_a_failing_log_leaves_training_alone(
    autolog: None,
    iris: tuple[np.ndarray, np.ndarray],
    client: nbtrack.TrackingClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The run is deleted under autolog's feet: fit still trains and returns, warned once."""
    x, y = iris
    reference = LogisticRegression(max_iter=300)
    nbtrack.sklearn.autolog(disable=True)
    reference.fit(x, y)
    nbtrack.sklearn.autolog()
    run = nbtrack.start_run()
    client.delete_run(run.info.run_id)
    with caplog.at_level(logging.WARNING, "nbtrack.autolog"):
        for _ in range(2):
            clf = LogisticRegression(max_iter=300)
            assert clf.fit(x, y) is clf
            np.testing.assert_array_equal(clf.coef_, reference.coef_)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "deleted" in warnings[0].getMessage()
    nbtrack.end_run()


def test_exclusive_and_disable(
    autolog: None, iris: tuple[np.ndarray, np.ndarray], client: nbtrack.TrackingClient
) -> None:
    x, y = iris
    nbtrack.sklearn.autolog(exclusive=True)
    with nbtrack.start_run() as run:
        LogisticRegression(max_iter=300).fit(x, y)
    assert client.get_run(run.info.run_id).data.metrics == {}
    nbtrack.sklearn.autolog(disable=True)
    assert not hasattr(LogisticRegression.fit, "__nbtrack_autolog__")
    assert "fit" not in Pipeline.__dict__ or not hasattr(Pipeline.fit, "__nbtrack_autolog__")
    LogisticRegression(max_iter=300).fit(x, y)
    assert len(client.search_runs(["0"])) == 1


def test_generic_autolog_enables_installed_libraries(client: nbtrack.TrackingClient) -> None:
    try:
        enabled = nbtrack.autolog(log_models=False)
        assert "sklearn" in enabled
        x, y = load_iris(return_X_y=True)
        LogisticRegression(max_iter=300).fit(x, y)
        (run,) = client.search_runs(["0"])
        assert "training_score" in run.data.metrics
        assert "model" not in {a.path for a in client.list_artifacts(run.info.run_id)}
    finally:
        nbtrack.autolog(disable=True)


def _sklearn_reference(estimator: object, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from nbtrack.autologging import _sklearn

    predicted = estimator.predict(x)  # type: ignore[attr-defined]
    proba = _sklearn._proba(estimator, x)
    found = _sklearn._sklearn_classifier_metrics(estimator, y, predicted, proba, None, None)
    return {k: float(v) for k, v in found.items()}


@pytest.mark.parametrize("classes", [2, 3])
def test_numpy_training_metrics_equal_sklearn_ones(classes: int) -> None:
    from sklearn.datasets import make_classification

    from nbtrack.autologging import _fast_metrics

    x, y = make_classification(
        n_samples=300, n_features=6, n_informative=4, n_classes=classes, random_state=1
    )
    labels = np.array(["cat", "dog", "eel"])[y]  # string labels too
    for target in (y, labels):
        for model in (LogisticRegression(max_iter=500), RandomForestClassifier(n_estimators=3)):
            model.fit(x, target)
            fast = _fast_metrics.classifier_metrics(
                target, model.predict(x), model.predict_proba(x), model.classes_
            )
            assert fast is not None
            assert fast == pytest.approx(_sklearn_reference(model, x, target), rel=1e-9)
    xr, yr = load_diabetes(return_X_y=True)
    reg = LinearRegression().fit(xr, yr)
    fast = _fast_metrics.regressor_metrics(yr, reg.predict(xr))
    assert fast is not None
    slow = _sklearn_regressor_reference(yr, reg.predict(xr))
    assert fast == pytest.approx(slow, rel=1e-9)


def _sklearn_regressor_reference(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    from nbtrack.autologging import _sklearn

    return {k: float(v) for k, v in _sklearn._sklearn_regressor_metrics(y, predicted, None).items()}
