"""Artifact paths cannot escape a run, and blobs are written atomically."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import pytest

import nbtrack
from nbtrack import InvalidInputError, TrackingClient
from nbtrack.store.artifacts import (
    BlobStore,
    join_artifact_path,
    normalize_artifact_path,
    safe_destination,
)

# (path, words the error must contain)
BAD_PATHS = [
    ("/abs/x", "is absolute"),
    ("/", "is absolute"),
    ("C:/x", "is absolute"),
    ("../x", "contains '..'"),
    ("a/../../x", "contains '..'"),
    ("a/..", "contains '..'"),
    ("..", "contains '..'"),
    ("a\\b", "contains a backslash"),
    ("..\\x", "contains a backslash"),
    ("a\x00b", "contains a NUL byte"),
    ("", "is empty"),
    ("   ", "is empty"),
    (".", "is empty"),
    ("x" * 1025, "the limit is 1024"),
]


@pytest.fixture
def run_id(client: TrackingClient) -> str:
    return client.create_run("0").info.run_id


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "file.txt"
    path.write_text("content")
    return path


@pytest.mark.parametrize(("path", "message"), BAD_PATHS)
def test_normalize_refuses_unsafe_paths(path: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        normalize_artifact_path(path)


def test_normalize_refuses_non_strings() -> None:
    with pytest.raises(InvalidInputError, match="must be a string, got bytes"):
        normalize_artifact_path(b"x")


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        ("a.txt", "a.txt"),
        ("a/b/c.txt", "a/b/c.txt"),
        ("./a//b/./c", "a/b/c"),
        ("dir/", "dir"),
        ("..a/b..", "..a/b.."),  # dots inside names are fine
        ("ünï côdé/ok", "ünï côdé/ok"),
    ],
)
def test_normalize_returns_the_canonical_form(path: str, canonical: str) -> None:
    assert normalize_artifact_path(path) == canonical


def test_join_artifact_path() -> None:
    assert join_artifact_path(None, "f.txt") == "f.txt"
    assert join_artifact_path("", "f.txt") == "f.txt"
    assert join_artifact_path(".", "f.txt") == "f.txt"
    assert join_artifact_path("models/", "f.txt") == "models/f.txt"
    with pytest.raises(InvalidInputError, match=re.escape("contains '..'")):
        join_artifact_path("../up", "f.txt")
    with pytest.raises(InvalidInputError, match=re.escape("contains '..'")):
        join_artifact_path("ok", "..")


@pytest.mark.parametrize(("path", "message"), [p for p in BAD_PATHS if p[0] not in ("", ".")])
def test_log_artifact_refuses_unsafe_artifact_path(
    client: TrackingClient, run_id: str, source: Path, path: str, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        client.log_artifact(run_id, source, artifact_path=path)
    with pytest.raises(InvalidInputError, match=message):
        client.log_artifacts(run_id, source.parent, artifact_path=path)
    assert client.list_artifacts(run_id) == []


@pytest.mark.parametrize(("path", "message"), BAD_PATHS)
def test_log_text_refuses_unsafe_artifact_file(
    client: TrackingClient, run_id: str, path: str, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        client.log_text(run_id, "x", path)
    with pytest.raises(InvalidInputError, match=message):
        client.log_dict(run_id, {"a": 1}, path)
    assert client.list_artifacts(run_id) == []


def test_log_text_error_names_the_argument(client: TrackingClient, run_id: str) -> None:
    with pytest.raises(InvalidInputError, match=r"^artifact_file '\.\./x' contains '\.\.'"):
        client.log_text(run_id, "x", "../x")


def test_fluent_calls_refuse_unsafe_paths(source: Path) -> None:
    with nbtrack.start_run() as run:
        with pytest.raises(InvalidInputError, match="is absolute"):
            nbtrack.log_artifact(source, artifact_path="/etc")
        with pytest.raises(InvalidInputError, match=re.escape("contains '..'")):
            nbtrack.log_text("x", "a/../../x")
        with pytest.raises(InvalidInputError, match="contains a backslash"):
            nbtrack.log_dict({}, "a\\b.json")
    assert nbtrack.TrackingClient().list_artifacts(run.info.run_id) == []


@pytest.mark.parametrize(("path", "message"), [p for p in BAD_PATHS if p[0] not in ("", ".")])
def test_download_and_read_refuse_unsafe_paths(
    client: TrackingClient, run_id: str, tmp_path: Path, path: str, message: str
) -> None:
    client.log_text(run_id, "x", "a/x.txt")
    destination = tmp_path / "dl"
    with pytest.raises(InvalidInputError, match=message):
        client.download_artifacts(run_id, path, destination)
    with pytest.raises(InvalidInputError, match=message):
        client.read_artifact(run_id, path)
    with pytest.raises(InvalidInputError, match=message):
        client.list_artifacts(run_id, path)
    assert not destination.exists()


def test_safe_destination_keeps_paths_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    assert safe_destination(root, "a/b.txt") == (root / "a" / "b.txt").resolve()
    for bad in ("../x", "a/../../x", "/etc/passwd", "a\\..\\x"):
        with pytest.raises(InvalidInputError):
            safe_destination(root, bad)


def test_safe_destination_refuses_a_symlink_out_of_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidInputError, match="resolves outside"):
        safe_destination(root, "link/x.txt")


# -- blobs -----------------------------------------------------------------------------


def test_blobs_are_content_addressed_and_atomic(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "artifacts")
    data = b"hello blob"
    sha, size = blobs.put_bytes(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert size == len(data)
    assert blobs.path_of(sha) == tmp_path / "artifacts" / sha[:2] / sha[2:]
    assert blobs.read_bytes(sha) == data
    again, _ = blobs.put_stream(io.BytesIO(data))
    assert again == sha
    assert list(blobs.all_blobs()) == [sha]
    assert list((tmp_path / "artifacts" / "tmp").iterdir()) == []  # no temp file left


def test_large_blob_streams_in_chunks(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "artifacts")
    source = tmp_path / "big.bin"
    data = bytes(range(256)) * 10_000  # 2.5 MB: several chunks
    source.write_bytes(data)
    sha, size = blobs.put_file(source)
    assert size == len(data)
    assert sha == hashlib.sha256(data).hexdigest()
    destination = tmp_path / "out" / "copy.bin"
    blobs.copy_to(sha, destination)
    assert destination.read_bytes() == data
    assert list((tmp_path / "artifacts" / "tmp").iterdir()) == []


def test_failed_write_leaves_no_temp_file_and_no_blob(tmp_path: Path) -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 1:
                raise OSError("disk went away")
            return b"partial"

    blobs = BlobStore(tmp_path / "artifacts")
    with pytest.raises(OSError, match="disk went away"):
        blobs.put_stream(Broken())
    assert list((tmp_path / "artifacts" / "tmp").iterdir()) == []
    assert list(blobs.all_blobs()) == []


def test_blob_delete(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "artifacts")
    sha, size = blobs.put_bytes(b"12345")
    assert blobs.delete(sha) == size
    assert blobs.delete(sha) == 0
    assert list(blobs.all_blobs()) == []
    assert list(BlobStore(tmp_path / "missing").all_blobs()) == []


def test_logging_through_the_client_leaves_no_temp_files(
    client: TrackingClient, run_id: str, store_dir: Path, source: Path
) -> None:
    client.log_artifact(run_id, source)
    client.log_text(run_id, "t", "t.txt")
    client.log_bytes(run_id, b"b", "b.bin")
    client.flush()
    assert list((store_dir / "artifacts" / "tmp").iterdir()) == []
    stored = [p for p in (store_dir / "artifacts").rglob("*") if p.is_file()]
    assert len(stored) == 3
    assert client.read_artifact(run_id, "file.txt") == b"content"
