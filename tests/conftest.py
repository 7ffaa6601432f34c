"""Shared fixtures: every test gets its own store directory and fresh fluent state."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import nbtrack
from _backends import Backend
from nbtrack import _active_model, fluent
from nbtrack.store import close_all, locate

if TYPE_CHECKING:
    from comm.base_comm import CommManager
    from IPython.core.interactiveshell import InteractiveShell

    import _s3_helpers


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the default store at a temp directory; end runs and close stores afterwards."""
    store_dir = tmp_path / ".nbtrack"
    monkeypatch.setenv(locate.ENV_TRACKING_URI, str(store_dir))
    # Empty means unset; set so that the value an in-process Jupyter server's
    # nbtrack extension assigns is removed after the test.
    monkeypatch.setenv(locate.ENV_JUPYTER_ROOT, "")
    monkeypatch.delenv(locate.ENV_ARTIFACT_ROOT, raising=False)
    # MLflow's set_registry_uri (used by tests beside the real MLflow) sets its variable.
    for name in (
        "MLFLOW_TRACKING_URI",
        "MLFLOW_EXPERIMENT_NAME",
        "MLFLOW_EXPERIMENT_ID",
        "MLFLOW_REGISTRY_URI",
    ):
        monkeypatch.delenv(name, raising=False)  # nbtrack honours MLflow's variables
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.chdir(tmp_path)
    nbtrack.set_tracking_uri(None)
    fluent._active_experiment_id = None
    yield store_dir
    while fluent._active_runs:
        nbtrack.end_run()
    fluent._active_experiment_id = None
    _active_model.set_id(None)
    _active_model.created(None)
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


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3 API (moto's server, its own process) on 127.0.0.1; yields its endpoint URL.

    Clients find it through ``AWS_ENDPOINT_URL`` (botocore, s3fs and the
    processes tests start all read it), with dummy credentials and no AWS
    configuration file, so nothing can reach AWS. When moto cannot start the
    S3 tests are skipped with the reason, except under ``CI=true``, where that
    is a failure.
    """
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:  # a free port: moto's command line needs a number
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    problem = None
    deadline = time.monotonic() + 60
    while True:
        try:
            # http://127.0.0.1 only, built here: never a user-given or file: URL.
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):  # noqa: S310
                break
        except OSError as error:
            problem = error
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            server.wait()
            why = f"moto's S3 server did not start ({problem!r}): {log.read_text()[-2000:]}"
            if os.environ.get("CI") == "true":
                pytest.fail(f"{why}; in CI this is a failure (pip install 'moto[server]')")
            pytest.skip(f"{why}; pip install 'moto[server]'")
        time.sleep(0.2)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL", endpoint)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_CONFIG_FILE", os.devnull)
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN"):
            env.delenv(name, raising=False)
        try:
            yield endpoint
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@pytest.fixture
def s3_bucket(moto_s3: str) -> str:
    """A new empty bucket on the moto server, for this test only; yields its name."""
    import uuid

    import boto3

    name = f"nbtrack-{uuid.uuid4().hex[:16]}"
    boto3.client("s3", endpoint_url=moto_s3).create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_root(moto_s3: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> _s3_helpers.Backend:
    """The store's artifact root is ``s3://<new bucket>/blobs`` on the moto server.

    Set as ``NBTRACK_ARTIFACT_ROOT``, so the fluent API, clients, in-process
    servers and the processes tests start all keep their blobs there; the
    returned :class:`~_s3_helpers.Backend` reads the bucket through boto3.
    """
    from _s3_helpers import s3_backend

    found = s3_backend(moto_s3, s3_bucket)
    monkeypatch.setenv(locate.ENV_ARTIFACT_ROOT, found.root)
    return found


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A store not yet created, for tests run on both backends.

    A directory under tmp_path, or a fresh schema of the test PostgreSQL server.
    """
    if request.param == "sqlite":
        store = tmp_path / "store"
        yield Backend(str(store), store / "nbtrack.db")
        return
    from _postgres import fresh_schema

    with fresh_schema() as uri:
        yield Backend(uri, None)
