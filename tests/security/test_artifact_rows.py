"""A ``sha256`` column edited in the database never becomes a path: every reader refuses it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from _tamper import database, set_sha256

import nbtrack
import nbtrack.pyfunc
import nbtrack.sklearn
from _models_helpers import iris_classifier
from nbtrack import ArtifactIntegrityError, TrackingClient
from nbtrack.store.artifacts import BlobStore, is_sha256

SECRET = b"the content of a file outside the store\n"


def crafted_values(secret: Path) -> list[object]:
    """sha256 values that name ``secret`` (or /etc/passwd) once joined under the blob root."""
    return [
        "xx" + str(secret),  # root / "xx" / "/abs/path" is the absolute path itself
        "../../../../../../../../../../etc/passwd",
        "a" * 63 + "/",  # right length, not hex
        "A" * 64,  # hex, but not as the store writes it
        "a" * 64 + "\n",
        12345,  # SQLite keeps whatever type it is given
    ]


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_bytes(SECRET)
    return path


def test_blob_paths_are_built_only_from_sha256_values(tmp_path: Path, secret: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    for value in crafted_values(secret):
        assert not is_sha256(value)
        with pytest.raises(ArtifactIntegrityError, match="is not one"):
            blobs.path_of(value)  # type: ignore[arg-type]
    sha, _ = blobs.put_bytes(b"x")
    assert is_sha256(sha)
    assert blobs.path_of(sha).parent.parent == blobs.root


def test_read_and_download_refuse_a_crafted_row(
    client: TrackingClient, secret: Path, tmp_path: Path
) -> None:
    run_id = client.create_run("0").info.run_id
    client.log_text(run_id, "harmless", "report.txt")
    for value in crafted_values(secret):
        set_sha256(client, run_id, "report.txt", value)
        with pytest.raises(ArtifactIntegrityError, match="its database was altered"):
            client.read_artifact(run_id, "report.txt")
        with pytest.raises(ArtifactIntegrityError, match="its database was altered"):
            client.download_artifacts(run_id, "", tmp_path / "out")
        assert not any(p.is_file() for p in (tmp_path / "out").rglob("*"))


def test_gc_verify_lists_a_crafted_row(client: TrackingClient, secret: Path) -> None:
    run_id = client.create_run("0").info.run_id
    client.log_text(run_id, "harmless", "report.txt")
    set_sha256(client, run_id, "report.txt", "xx" + str(secret))
    report = client.verify_artifacts()
    assert not report.ok
    [problem] = report.problems
    assert problem.kind == "invalid sha256"
    assert problem.used_by == (f"run {run_id} artifact 'report.txt'",)
    client.garbage_collect(0)  # collection neither follows nor deletes the crafted path
    assert secret.read_bytes() == SECRET


def test_models_refuse_crafted_rows(client: TrackingClient, secret: Path) -> None:
    clf, _ = iris_classifier()
    with nbtrack.start_run():
        info = nbtrack.sklearn.log_model(clf, "model")
    version = nbtrack.register_model(info.model_uri, "iris")
    set_sha256(client, info.run_id, "model/MLmodel", "xx" + str(secret))
    with pytest.raises(ArtifactIntegrityError, match="its database was altered"):
        nbtrack.pyfunc.load_model(info.model_uri)
    with pytest.raises(ArtifactIntegrityError, match="its database was altered"):
        nbtrack.register_model(info.model_uri, "iris")
    # A registered version keeps its own rows: edit those too.
    with sqlite3.connect(database(client)) as conn:
        conn.execute("UPDATE model_version_files SET sha256 = ?", ("xx" + str(secret),))
    with pytest.raises(ArtifactIntegrityError, match="its database was altered"):
        nbtrack.pyfunc.load_model(f"models:/iris/{version.version}")
