"""Content-addressed blob storage for artifacts, and artifact path rules.

A file is stored once under ``<root>/<sha256[:2]>/<sha256[2:]>`` however many
runs log it; the ``artifacts`` table maps (run, path) to the blob. Blobs are
written atomically (temporary file, fsync, rename), so a crash leaves either
the whole blob or nothing under its name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from nbtrack.exceptions import InvalidInputError

_CHUNK = 1 << 20
MAX_PATH_LENGTH = 1024


def normalize_artifact_path(path: str, *, what: str = "artifact path") -> str:
    """Validate a run-relative artifact path and return it in canonical POSIX form.

    Refused: absolute paths, drive letters, backslashes, ``..`` components, and
    empty or over-long paths, so nothing can escape the run's artifact space.
    """
    if not isinstance(path, str):
        raise InvalidInputError(f"{what} must be a string, got {type(path).__name__}")
    if not path or path.strip() in ("", "."):
        raise InvalidInputError(f"{what} is empty; give a relative path such as 'plots/loss.png'")
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidInputError(f"{what} is {len(path)} characters; the limit is {MAX_PATH_LENGTH}")
    if "\x00" in path:
        raise InvalidInputError(f"{what} {path!r} contains a NUL byte")
    if "\\" in path:
        raise InvalidInputError(
            f"{what} {path!r} contains a backslash; use '/' to separate directories"
        )
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise InvalidInputError(
            f"{what} {path!r} is absolute; artifact paths are relative to the run, "
            "e.g. 'models/model.pkl'"
        )
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidInputError(
            f"{what} {path!r} contains '..' and would escape the run's artifacts; "
            "use a path inside the run"
        )
    return posixpath.join(*parts) if parts else ""


def join_artifact_path(directory: str | None, name: str) -> str:
    """``directory/name`` as a validated artifact path (``directory`` may be None)."""
    if directory in (None, "", "."):
        return normalize_artifact_path(name)
    return normalize_artifact_path(f"{normalize_artifact_path(directory)}/{name}")


def safe_destination(root: Path, artifact_path: str) -> Path:
    """Where ``artifact_path`` lands under ``root``, refusing anything outside it."""
    rel = normalize_artifact_path(artifact_path)
    target = (root / rel).resolve()
    if not target.is_relative_to(root.resolve()):
        raise InvalidInputError(f"artifact path {artifact_path!r} resolves outside {root}")
    return target


class BlobStore:
    """sha256-addressed files under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, sha256: str) -> Path:
        """The file holding the blob ``sha256``."""
        return self.root / sha256[:2] / sha256[2:]

    def put_file(self, source: Path) -> tuple[str, int]:
        """Store a local file; returns (sha256, size). Identical content is stored once."""
        with source.open("rb") as stream:
            return self.put_stream(stream)

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store bytes; returns (sha256, size)."""
        import io

        return self.put_stream(io.BytesIO(data))

    def put_stream(self, stream: BinaryIO) -> tuple[str, int]:
        """Copy a binary stream into the store while hashing it."""
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="blob-")
        tmp_path = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            final = self.path_of(sha)
            if final.exists():
                tmp_path.unlink()
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                tmp_path.replace(final)
                _fsync_directory(final.parent)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()
            raise
        return sha, size

    def copy_to(self, sha256: str, destination: Path) -> None:
        """Write the blob's content to ``destination`` (parents created)."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.path_of(sha256), destination)

    def read_bytes(self, sha256: str) -> bytes:
        """The blob's content."""
        return self.path_of(sha256).read_bytes()

    def all_blobs(self) -> Iterable[str]:
        """Every sha256 stored (for garbage collection)."""
        if not self.root.exists():
            return
        for sub in self.root.iterdir():
            if len(sub.name) == 2 and sub.is_dir():
                for blob in sub.iterdir():
                    yield sub.name + blob.name

    def delete(self, sha256: str) -> int:
        """Remove a blob; returns the bytes freed (0 if it was already gone)."""
        path = self.path_of(sha256)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
