"""Shared fixtures: every test gets its own store directory and fresh fluent state."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import nbtrack
from nbtrack import fluent
from nbtrack.store import close_all, locate

if TYPE_CHECKING:
    from comm.base_comm import CommManager
    from IPython.core.interactiveshell import InteractiveShell


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the default store at a temp directory; end runs and close stores afterwards."""
    store_dir = tmp_path / ".nbtrack"
    monkeypatch.setenv(locate.ENV_TRACKING_URI, str(store_dir))
    # Empty means unset; set so that the value an in-process Jupyter server's
    # nbtrack extension assigns is removed after the test.
    monkeypatch.setenv(locate.ENV_JUPYTER_ROOT, "")
    monkeypatch.delenv(locate.ENV_ARTIFACT_ROOT, raising=False)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(name, raising=False)  # nbtrack honours MLflow's variables
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.chdir(tmp_path)
    nbtrack.set_tracking_uri(None)
    fluent._active_experiment_id = None
    yield store_dir
    while fluent._active_runs:
        nbtrack.end_run()
    fluent._active_experiment_id = None
    nbtrack.set_tracking_uri(None)
    close_all()


@pytest.fixture
def store_dir(_isolated_store: Path) -> Path:
    """The directory of this test's default store."""
    return _isolated_store


@pytest.fixture
def client(store_dir: Path) -> nbtrack.TrackingClient:
    """A client on this test's store (its PostgreSQL schema under ``postgres_store``)."""
    return nbtrack.TrackingClient(os.environ[locate.ENV_TRACKING_URI])


@pytest.fixture
def postgres_store(
    _isolated_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """Make this test's default store a fresh schema of the test PostgreSQL server.

    Its URI goes into ``NBTRACK_TRACKING_URI`` (so the fluent API, clients and
    child processes use it) and artifacts into ``tmp_path/pg-artifacts``.
    Skips without ``NBTRACK_TEST_POSTGRES_URI``, fails on CI (see ``_postgres``).
    Test modules that run the same bodies on both backends list it in
    ``pytestmark = pytest.mark.usefixtures("postgres_store")``.
    """
    from _postgres import fresh_schema

    with fresh_schema() as uri:
        monkeypatch.setenv(locate.ENV_TRACKING_URI, uri)
        monkeypatch.setenv(locate.ENV_ARTIFACT_ROOT, str(tmp_path / "pg-artifacts"))
        yield uri
        while fluent._active_runs:
            nbtrack.end_run()
        close_all()


@pytest.fixture
def ip(monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    """IPython's test shell with nbtrack loaded (unloaded afterwards, runs ended)."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.testing.globalipapp import start_ipython

    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    start_ipython()
    shell = InteractiveShell.instance()
    shell.reset(new_session=False)
    result = shell.run_cell("%load_ext nbtrack")
    assert result.success, result.error_in_exec
    yield shell
    shell.run_cell("%unload_ext nbtrack")
    while fluent._active_runs:
        fluent.end_run()


@pytest.fixture
def manager(monkeypatch: pytest.MonkeyPatch) -> CommManager:
    """A comm manager installed as a kernel's would be, for the live-snapshot channel tests."""
    from _comm_helpers import install_comm_manager

    return install_comm_manager(monkeypatch)
