"""Autologged scikit-learn models are written off the training thread, and never lost.

The model of each fit is a snapshot of that fit (a refit right after does not
change it), and it is in the run once the run ends, after ``nbtrack.flush()``,
when loaded by ``runs:/`` URI, and when the process exits without ending the run.
"""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("skops")

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.tree import DecisionTreeClassifier

import nbtrack
from nbtrack.autologging import _background, _core


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


def _model_paths(client: nbtrack.TrackingClient, run_id: str) -> list[str]:
    return sorted(a.path for a in client.list_artifacts(run_id) if a.path.startswith("model"))


def test_the_logged_model_is_the_fit_time_state_even_after_an_immediate_refit(
    autolog: None, iris: tuple[np.ndarray, np.ndarray], client: nbtrack.TrackingClient
) -> None:
    x, y = iris
    tree = DecisionTreeClassifier(max_depth=1, random_state=0)
    with nbtrack.start_run() as run:
        tree.fit(x, y)
        first = tree.predict_proba(x).copy()
        tree.set_params(max_depth=None)
        tree.fit(x[::-1], y[::-1])  # refit at once, in place: the first model must not change
        second = tree.predict_proba(x).copy()
        # the background worker may not have written anything yet; the loads wait for it
        loaded_first = nbtrack.sklearn.load_model(f"runs:/{run.info.run_id}/model")
        loaded_second = nbtrack.sklearn.load_model(f"runs:/{run.info.run_id}/model-2")
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(loaded_first.predict_proba(x), first)
    np.testing.assert_array_equal(loaded_second.predict_proba(x), second)
    assert loaded_first.get_params()["max_depth"] == 1


def test_every_model_of_a_loop_of_fits_is_present_after_end_run(
    autolog: None, iris: tuple[np.ndarray, np.ndarray], client: nbtrack.TrackingClient
) -> None:
    x, y = iris
    with nbtrack.start_run() as run:
        for depth in range(1, 7):  # max_depth stays the first value logged (MLflow's rule)
            DecisionTreeClassifier(max_depth=depth, random_state=0).fit(x, y)
    assert _background.pending() == 0
    run_id = run.info.run_id
    names = ["model", *(f"model-{n}" for n in range(2, 7))]
    assert _model_paths(client, run_id) == sorted(names)
    for depth, name in enumerate(names, start=1):
        loaded = nbtrack.sklearn.load_model(f"runs:/{run_id}/{name}")
        assert loaded.get_params()["max_depth"] == depth
        expected = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(x, y)
        np.testing.assert_array_equal(loaded.predict(x), expected.predict(x))
    _path, metadata, _temporary = nbtrack.models.fetch(f"runs:/{run_id}/model")
    assert metadata.signature is not None  # inferred by the worker from the fit's first rows


def test_flush_waits_for_the_models_of_a_run_still_active(
    autolog: None, iris: tuple[np.ndarray, np.ndarray], client: nbtrack.TrackingClient
) -> None:
    x, y = iris
    with nbtrack.start_run() as run:
        LogisticRegression(max_iter=300).fit(x, y)
        nbtrack.flush()
        assert _background.pending() == 0
        assert _model_paths(client, run.info.run_id) == ["model"]
        assert client.get_run(run.info.run_id).info.status == "RUNNING"


def _passthrough(values: np.ndarray, log: io.StringIO | None = None) -> np.ndarray:
    return values


def test_a_model_that_cannot_be_written_is_reported_once_and_training_goes_on(
    autolog: None,
    iris: tuple[np.ndarray, np.ndarray],
    client: nbtrack.TrackingClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """skops cannot store a StringIO held by the pipeline: a warning, once; fits are unchanged."""
    x, y = iris
    buffer = io.StringIO()  # the same object in both fits, so their params agree

    def pipeline() -> Pipeline:
        step = FunctionTransformer(_passthrough, kw_args={"log": buffer})
        return Pipeline([("same", step), ("clf", LogisticRegression(max_iter=300))])

    with caplog.at_level(logging.WARNING, "nbtrack.autolog"), nbtrack.start_run() as run:
        for _ in range(2):
            pipe = pipeline()
            assert pipe.fit(x, y) is pipe
            assert pipe.score(x, y) > 0.9
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "log the model" in warnings[0]
    data = client.get_run(run.info.run_id)
    assert data.info.status == "FINISHED"
    assert "training_accuracy_score" in data.data.metrics  # the rest was logged
    assert _model_paths(client, run.info.run_id) == []  # nothing half-written


@pytest.mark.slow
def test_a_run_left_active_at_exit_gets_its_model(tmp_path: Path, store_dir: Path) -> None:
    code = (
        "import nbtrack\n"
        "from sklearn.datasets import load_iris\n"
        "from sklearn.tree import DecisionTreeClassifier\n"
        "x, y = load_iris(return_X_y=True)\n"
        "nbtrack.sklearn.autolog()\n"
        "run = nbtrack.start_run()\n"
        "DecisionTreeClassifier(max_depth=2).fit(x, y)\n"
        "print(run.info.run_id)\n"  # exits with the run active and the model maybe queued
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip().splitlines()[-1]
    client = nbtrack.TrackingClient(store_dir)
    assert client.get_run(run_id).info.status == "FINISHED"
    assert _model_paths(client, run_id) == ["model"]
    x, y = load_iris(return_X_y=True)
    loaded = nbtrack.sklearn.load_model(f"runs:/{run_id}/model")
    expected = DecisionTreeClassifier(max_depth=2).fit(x, y)
    np.testing.assert_array_equal(loaded.predict(x), expected.predict(x))
