"""pytest plugin: runs MLflow's own test functions against nbtrack (or against MLflow).

Loaded with ``-p tests.mlflow_compat._plugin`` in a subprocess (see
``test_mlflow_suite.py``). It

- installs the ``mlflow`` -> ``nbtrack`` alias unless ``NBTRACK_COMPAT_TARGET=mlflow``;
- keeps only the tests listed in ``selection.py`` and marks the knowingly
  different ones ``xfail(strict=True)`` with their reason (not when measuring MLflow);
- gives each test a fresh SQLite store, as MLflow's own ``tests/conftest.py`` does,
  and provides the fixtures of MLflow's conftest those tests ask for (``db_uri``), and
  ``test_client.py``'s ``tracking_uri`` (MLflow's resets its tracer, which nbtrack has not).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.mlflow_compat import _alias
from tests.mlflow_compat.selection import SELECTED, Different

TARGET = os.environ.get("NBTRACK_COMPAT_TARGET", "nbtrack")
if TARGET == "nbtrack":
    _alias.install()

_ENV_PREFIXES = ("MLFLOW_", "NBTRACK_")


def _source_path(item: pytest.Item) -> str:
    """The test file's path inside MLflow's repository (``tests/tracking/...``)."""
    parts = Path(str(item.path)).parts
    return "/".join(parts[len(parts) - 1 - parts[::-1].index("tests") :])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the selected tests; mark the knowingly different ones."""
    kept, dropped = [], []
    for item in items:
        name = getattr(item, "originalname", item.name)
        verdict = SELECTED.get(_source_path(item), {}).get(name)
        if verdict is None:
            dropped.append(item)
            continue
        if isinstance(verdict, Different) and TARGET == "nbtrack":
            item.add_marker(pytest.mark.xfail(strict=True, reason=verdict.reason))
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept


def _mlflow() -> Any:
    import mlflow

    return mlflow


@pytest.fixture(autouse=True)
def _fresh_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A new SQLite store per test; no run or experiment left active afterwards."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    mlflow = _mlflow()
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.clear_active_model()  # set_active_model (MLflow 3) outlives the test otherwise
    mlflow.tracking.fluent._active_experiment_id = None
    mlflow.set_tracking_uri(None)


@pytest.fixture
def reset_active_experiment() -> Iterator[None]:
    """MLflow's conftest fixture: forget the active experiment after the test."""
    yield
    _mlflow().tracking.fluent._active_experiment_id = None


@pytest.fixture
def empty_active_run_stack() -> Iterator[None]:
    """MLflow patches its private run stack; here: no run is active before or after."""
    mlflow = _mlflow()
    while mlflow.active_run() is not None:
        mlflow.end_run()
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.fixture
def db_uri(tmp_path: Path) -> str:
    """MLflow's conftest fixture: a fresh SQLite database URI for the test."""
    return f"sqlite:///{tmp_path / 'db' / 'mlflow.db'}"


@pytest.fixture(params=["file", "sqlalchemy"])
def tracking_uri(
    request: pytest.FixtureRequest, tmp_path: Path, db_uri: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """``test_client.py``'s fixture: the tests run once on a file URI, once on a database URI."""
    # MLflow 3.17 refuses a file store unless told (its own test setup allows it).
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    mlflow = _mlflow()
    original = mlflow.get_tracking_uri()
    uri = tmp_path.joinpath("file").as_uri() if request.param == "file" else db_uri
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(original)
