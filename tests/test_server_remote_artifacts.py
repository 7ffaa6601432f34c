"""The server extension and the panels with artifacts in a bucket (moto's S3 on 127.0.0.1).

The store's database stays local; ``NBTRACK_ARTIFACT_ROOT`` (the ``s3_root``
fixture) or an experiment's ``artifact_location`` puts the blobs in a bucket.
Run pages (snapshot, environment, artifact listing and download), the compare
view's notebook diff and the notebook panels read them from there; nothing is
written beside the database. The in-process server is pytest-jupyter's; the
last test starts a real ``jupyter lab``, a process of its own that finds the
bucket through the environment it inherits.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import nbformat
import pytest

pytest.importorskip("jupyter_server")
pytest.importorskip("pytest_jupyter")
pytest.importorskip("s3fs")

from IPython.core.interactiveshell import InteractiveShell
from pytest_jupyter.jupyter_server import *  # noqa: F403 - its fixtures, for this module only

import nbtrack
from _s3_helpers import Backend, s3_backend
from _server_helpers import (
    Api,
    api_caller,
    enabled_config_dir,
    error,
    fetch,
    notebook_run,
    ok,
)
from _ui_helpers import make_runs
from nbtrack._artifact_names import ENVIRONMENT_FILE, SNAPSHOT_FILE
from nbtrack.ui import compare

ENABLED: dict[str, Any] = {"ServerApp": {"jpserver_extensions": {"nbtrack": True}}}


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    """nbtrack enabled."""
    return copy.deepcopy(ENABLED)


@pytest.fixture
def notebook_run_id(s3_root: Backend, ip: InteractiveShell) -> str:
    """A notebook run whose snapshot and environment went to the bucket.

    Listed before ``api`` (see test_server_api.py: the run must exist before
    the in-process server does).
    """
    return notebook_run(ip)


@pytest.fixture
def api(jp_fetch: Any, jp_asyncio_loop: Any) -> Api:
    """One call to nbtrack/api of the in-process server."""
    return api_caller(jp_fetch, jp_asyncio_loop)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _nothing_local(store_dir: Path) -> None:
    """No blob was written beside the database."""
    local = store_dir / "artifacts"
    assert not local.exists() or not [p for p in local.rglob("*") if p.is_file()]


def test_notebook_run_pages_read_the_bucket(
    notebook_run_id: str, api: Api, s3_root: Backend, store_dir: Path
) -> None:
    client = nbtrack.TrackingClient()
    snapshot = client.read_artifact(notebook_run_id, SNAPSHOT_FILE)
    environment = client.read_artifact(notebook_run_id, ENVIRONMENT_FILE)
    stored = s3_root.blobs()
    assert stored[_sha(snapshot)] == snapshot
    assert stored[_sha(environment)] == environment
    _nothing_local(store_dir)

    notebook = nbformat.reads(json.dumps(ok(api("runs", notebook_run_id, "snapshot"))), 4)
    nbformat.validate(notebook)
    assert notebook == nbformat.reads(snapshot.decode(), 4)
    assert ok(api("runs", notebook_run_id, "environment")) == json.loads(environment)
    assert len(ok(api("runs", notebook_run_id, "timeline"))["cells"]) == 6
    listed = ok(api("runs", notebook_run_id, "artifacts"))["files"]
    assert {f["path"] for f in listed} >= {SNAPSHOT_FILE, ENVIRONMENT_FILE}


def test_artifacts_list_and_download_from_the_bucket(
    s3_root: Backend, api: Api, client: nbtrack.TrackingClient, store_dir: Path
) -> None:
    run_id = make_runs(client, 1)[0]
    big = os.urandom(3 << 20) + b"tail"  # several read chunks
    client.log_bytes(run_id, big, "model/weights.bin")
    client.log_text(run_id, "hello", "notes/readme.txt")
    client.flush()
    assert set(s3_root.blobs()) == {_sha(big), _sha(b"hello")}
    _nothing_local(store_dir)

    assert ok(api("runs", run_id, "artifacts"))["files"] == [
        {"path": "model", "is_dir": True, "file_size": None},
        {"path": "notes", "is_dir": True, "file_size": None},
    ]
    inner = ok(api("runs", run_id, "artifacts", params={"path": "model"}))["files"]
    assert inner == [{"path": "model/weights.bin", "is_dir": False, "file_size": len(big)}]
    raw = api("runs", run_id, "artifacts", "raw", params={"path": "model/weights.bin"})
    assert raw.status == 200
    assert raw.headers["Content-Length"] == str(len(big))
    assert raw.body == big
    text = api("runs", run_id, "artifacts", "raw", params={"path": "notes/readme.txt"})
    assert text.body == b"hello"


def test_a_changed_or_missing_object_is_refused(
    s3_root: Backend, api: Api, client: nbtrack.TrackingClient
) -> None:
    run_id = make_runs(client, 1)[0]
    client.log_text(run_id, "genuine", "a.txt")
    client.log_text(run_id, "soon gone", "b.txt")
    client.flush()
    s3_root.overwrite(_sha(b"genuine"), b"forged!")  # same size: caught by the sha256
    message = error(api("runs", run_id, "artifacts", "raw", params={"path": "a.txt"}), 500)
    assert "was changed on disk" in message
    assert s3_root.root in message  # says where the damaged object is
    s3_root.remove(_sha(b"soon gone"))
    message = error(api("runs", run_id, "artifacts", "raw", params={"path": "b.txt"}), 404)
    assert "gone from the store" in message


def test_an_experiment_bucket_beside_a_local_root(
    moto_s3: str, s3_bucket: str, api: Api, client: nbtrack.TrackingClient, store_dir: Path
) -> None:
    remote = s3_backend(moto_s3, s3_bucket, "team")
    exp = client.create_experiment("team", artifact_location=remote.root)
    away = client.create_run(exp).info.run_id
    home = make_runs(client, 1)[0]
    client.log_text(away, "in the bucket", "a.txt")
    client.log_text(home, "beside the database", "a.txt")
    client.flush()
    assert list(remote.blobs().values()) == [b"in the bucket"]
    for run_id, content in ((away, b"in the bucket"), (home, b"beside the database")):
        raw = api("runs", run_id, "artifacts", "raw", params={"path": "a.txt"})
        assert (raw.status, raw.body) == (200, content)


def test_compare_view_and_panel_diff_snapshots_in_the_bucket(
    notebook_run_id: str, ip: InteractiveShell, api: Api, s3_root: Backend, store_dir: Path
) -> None:
    other = notebook_run(ip)  # the same cells again
    _nothing_local(store_dir)
    diff = ok(api("compare", params=[("run_id", notebook_run_id), ("run_id", other)]))["diff"]
    assert (diff["base"], diff["other"]) == (notebook_run_id, other)
    assert diff["summary"]["same"] + diff["summary"]["outputs"] >= 5
    assert diff["summary"]["added"] == diff["summary"]["removed"] == 0

    panel = compare([notebook_run_id, other], client=nbtrack.TrackingClient())
    changes = panel.notebook_diff()
    assert changes is not None
    assert {c.kind for c in changes} <= {"same", "outputs"}
    assert any("log_param" in c.new.source for c in changes if c.new is not None)
    assert "notebook diff:" in panel.text()


def test_tables_and_images_of_the_panels_come_from_the_bucket(
    s3_root: Backend, store_dir: Path
) -> None:
    pytest.importorskip("PIL")
    import numpy as np
    import pandas as pd

    with nbtrack.start_run() as run:
        nbtrack.log_table(pd.DataFrame({"x": [1, 2], "y": ["a", "b"]}), "eval/table.json")
        nbtrack.log_table(pd.DataFrame({"x": [3], "y": ["c"]}), "eval/table.json")  # appends
        nbtrack.log_image(np.zeros((4, 4, 3), dtype=np.uint8), "plots/blank.png")
    nbtrack.flush()
    _nothing_local(store_dir)
    table = nbtrack.load_table("eval/table.json", run_ids=[run.info.run_id])
    assert table.to_dict("list") == {"x": [1, 2, 3], "y": ["a", "b", "c"]}
    png = nbtrack.TrackingClient().read_artifact(run.info.run_id, "plots/blank.png")
    assert png.startswith(b"\x89PNG")
    assert s3_root.blobs()[_sha(png)] == png


@pytest.mark.slow
def test_a_real_jupyter_server_serves_artifacts_from_the_bucket(
    s3_root: Backend, ip: InteractiveShell, tmp_path: Path, store_dir: Path
) -> None:
    from _jupyter_browser import start_lab

    run_id = notebook_run(ip)
    nbtrack.TrackingClient().log_bytes(run_id, os.urandom(2 << 20), "data/blob.bin")
    nbtrack.flush()
    expected = nbtrack.TrackingClient().read_artifact(run_id, "data/blob.bin")
    _nothing_local(store_dir)
    root = tmp_path / "lab-root"
    root.mkdir()
    # The server is another process: the store, the root and the endpoint reach it
    # through the environment (NBTRACK_*, AWS_ENDPOINT_URL and the dummy keys).
    env = {"JUPYTER_CONFIG_DIR": str(enabled_config_dir(tmp_path))}
    with start_lab(root, env=env) as lab:
        base = f"{lab.url}/nbtrack/api/runs/{run_id}"
        raw = fetch(f"{base}/artifacts/raw?path=data/blob.bin", lab.token)
        assert (raw.status, raw.body) == (200, expected)
        snapshot = fetch(f"{base}/snapshot", lab.token)
        assert snapshot.status == 200, snapshot.body[:300]
        assert snapshot.json()["cells"]
