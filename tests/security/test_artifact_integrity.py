"""Blobs edited on disk are refused on every read and repaired by logging the file again."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _tamper import blob_file
from click.testing import CliRunner

import nbtrack
from nbtrack import ArtifactIntegrityError, TrackingClient
from nbtrack.cli import main
from nbtrack.store.artifacts import BlobStore

ORIGINAL = b"weights: 1 2 3\n"
EDITED = b"weights: 6 6 6\n"  # same size: only the sha256 tells them apart


@pytest.fixture
def logged(client: TrackingClient) -> tuple[str, Path]:
    """A run with one small artifact, and that artifact's blob file."""
    run_id = client.create_run("0").info.run_id
    client.log_bytes(run_id, ORIGINAL, "model/weights.txt")
    return run_id, blob_file(client, run_id, "model/weights.txt")


@pytest.mark.parametrize(
    "edit", [EDITED, ORIGINAL + b"extra", b""], ids=["same-size", "longer", "emptied"]
)
def test_an_edited_blob_is_refused_by_read_and_download(
    client: TrackingClient, logged: tuple[str, Path], tmp_path: Path, edit: bytes
) -> None:
    run_id, blob = logged
    blob.write_bytes(edit)
    with pytest.raises(ArtifactIntegrityError, match="was changed on disk") as caught:
        client.read_artifact(run_id, "model/weights.txt")
    assert caught.value.path == str(blob)
    assert "log the original file again" in str(caught.value)
    out = tmp_path / "out"
    for path in ("model/weights.txt", "model", ""):
        with pytest.raises(ArtifactIntegrityError, match=re.escape(str(blob))):
            client.download_artifacts(run_id, path, out)
    # Nothing edited landed at the destination, not even under a temporary name.
    assert [p for p in out.rglob("*") if p.is_file()] == []


def test_a_missing_blob_says_so(client: TrackingClient, logged: tuple[str, Path]) -> None:
    run_id, blob = logged
    blob.unlink()
    with pytest.raises(ArtifactIntegrityError, match="is missing from the store"):
        client.read_artifact(run_id, "model/weights.txt")


def test_logging_the_original_again_repairs_the_blob(
    client: TrackingClient, logged: tuple[str, Path], tmp_path: Path
) -> None:
    run_id, blob = logged
    blob.write_bytes(EDITED)
    other = client.create_run("0").info.run_id
    source = tmp_path / "weights.txt"
    source.write_bytes(ORIGINAL)
    client.log_artifact(other, source, "model")
    assert blob.read_bytes() == ORIGINAL
    assert client.read_artifact(run_id, "model/weights.txt") == ORIGINAL  # the first run too
    for edit in (ORIGINAL + b"more", b""):  # a different size is replaced without hashing
        blob.write_bytes(edit)
        client.log_bytes(other, ORIGINAL, "again.txt")
        assert blob.read_bytes() == ORIGINAL


def test_reading_verifies_long_blobs_before_their_last_chunk(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    data = bytes(range(256)) * 12_000  # ~3 MiB: three chunks
    sha, size = blobs.put_bytes(data)
    assert blobs.read_bytes(sha) == data
    path = blobs.path_of(sha)
    path.write_bytes(data[:-1] + b"\x00")  # same size, last byte changed
    chunks = blobs.chunks(sha, size)
    delivered = [next(chunks), next(chunks)]
    with pytest.raises(ArtifactIntegrityError, match="sha256"):
        next(chunks)
    assert sum(map(len, delivered)) < size  # the complete edited content never came out
    path.write_bytes(data + b"!")
    with pytest.raises(ArtifactIntegrityError, match=f"holds {size + 1} bytes"):
        next(blobs.chunks(sha, size))  # a wrong size fails before any byte


def test_gc_verify_reports_every_damaged_blob_and_exits_non_zero(
    client: TrackingClient, logged: tuple[str, Path]
) -> None:
    run_id, blob = logged
    client.log_text(run_id, "fine", "notes.txt")
    client.log_text(run_id, "gone soon", "gone.txt")
    client.flush()
    ok = CliRunner().invoke(main, ["gc", "--verify", "--grace", "0"])
    assert ok.exit_code == 0, ok.output
    assert "3 blob(s) checked, all intact" in ok.output

    blob.write_bytes(EDITED)
    blob_file(client, run_id, "gone.txt").unlink()
    bad = CliRunner().invoke(main, ["gc", "--verify", "--grace", "0"])
    assert bad.exit_code == 1, bad.output
    assert f"damaged: {blob}" in bad.output
    assert f"run {run_id} artifact 'model/weights.txt'" in bad.output
    assert f"run {run_id} artifact 'gone.txt'" in bad.output
    assert "missing" in bad.output
    assert "2 problem(s)" in bad.output
    assert "Removed 0 deleted run(s)" in bad.output  # collection still ran
    assert blob.exists()  # a damaged blob is reported, never deleted

    client.log_bytes(run_id, ORIGINAL, "model/weights.txt")
    client.log_text(run_id, "gone soon", "gone.txt")
    assert CliRunner().invoke(main, ["gc", "--verify"]).exit_code == 0


def test_the_api_names_the_error() -> None:
    assert issubclass(ArtifactIntegrityError, nbtrack.NbtrackError)
