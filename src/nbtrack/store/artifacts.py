"""Content-addressed blob storage for artifacts, and artifact path rules.

A file is stored once under ``<root>/<sha256[:2]>/<sha256[2:]>`` however many
runs log it; the ``artifacts`` table maps (run, path) to the blob. Blobs are
written atomically (temporary file, fsync, rename), so a crash leaves either
the whole blob or nothing under its name.

The root is a local directory (:class:`BlobStore`) or any fsspec URL
(``s3://bucket/prefix``, ``gs://``, ``az://``: :mod:`nbtrack.store._remote_blobs`);
both share :class:`Blobs`, so reading, verifying and copying out work the same.

Nothing read from the database becomes a path unchecked: :func:`require_sha256`
(through :meth:`BlobStore.path_of` and the remote store's key) refuses anything
but 64 lowercase hex characters before a sha256 names a file or an object.
Every read checks the content against its name (sha256, computed while
reading) and raises :class:`~nbtrack.exceptions.ArtifactIntegrityError` rather
than hand out edited bytes; storing a file whose blob exists checks that blob
too and replaces a damaged one.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import io
import logging
import os
import posixpath
import re
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast

from nbtrack._validation import text
from nbtrack.exceptions import ArtifactIntegrityError, InvalidInputError, NbtrackWarning

_CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")
_log = logging.getLogger(__name__)
MAX_PATH_LENGTH = 1024
#: Files uploaded or downloaded at once by ``log_artifacts`` and ``download_artifacts``.
TRANSFER_WORKERS = 8
_T = TypeVar("_T")
_R = TypeVar("_R")


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
    text(what, path)  # a lone surrogate (an undecodable file name) cannot be stored
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


def directory_files(root: Path) -> list[tuple[Path, str]]:
    """The files to log from directory ``root``: ``(file, path relative to root)``, sorted.

    Symbolic links are followed only where they stay inside ``root``: a link to a
    file inside it is logged as a file (with the content it points to) under the
    link's own name. Skipped, with one :class:`~nbtrack.exceptions.NbtrackWarning`
    naming each: links that point outside ``root`` (logging a directory never
    copies what lies outside it), dangling links, links to directories (what they
    point to inside ``root`` is logged under its own path; following them could
    loop), and anything that is not a regular file (sockets, FIFOs).
    """
    base = root.resolve()
    found: list[tuple[Path, str]] = []
    skipped: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):  # never descends into linked dirs
        folder = Path(dirpath)
        files = set(filenames)
        for name in sorted([*dirnames, *filenames]):
            path = folder / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                try:
                    target = path.resolve()
                except (OSError, RuntimeError):  # a loop of links (RuntimeError before 3.13)
                    skipped.append(f"{rel} -> {path.readlink()} (a loop of links)")
                    continue
                if not target.is_relative_to(base):
                    skipped.append(f"{rel} -> {path.readlink()} (outside the directory)")
                elif target.is_dir():
                    skipped.append(f"{rel} -> {path.readlink()} (a directory)")
                elif not target.is_file():
                    skipped.append(f"{rel} -> {path.readlink()} (nothing there)")
                else:  # the checked target, not the link: it could change meanwhile
                    found.append((target, rel))
            elif name in files:
                if path.is_file():
                    found.append((path, rel))
                else:
                    skipped.append(f"{rel} (not a regular file)")
    if skipped:
        listed = "; ".join(skipped[:20]) + (
            f"; and {len(skipped) - 20} more" if len(skipped) > 20 else ""
        )
        warnings.warn(
            f"not logged from {root}: {listed}. Links are followed only to files inside the "
            "logged directory; copy what they point to into it to log it",
            NbtrackWarning,
            stacklevel=3,
        )
    found.sort(key=lambda item: item[1])
    return found


def is_sha256(value: object) -> bool:
    """Whether ``value`` is a sha256 as the store writes it: 64 lowercase hex characters."""
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


class Blobs(abc.ABC):
    """sha256-addressed blobs under one root: a local directory or an fsspec URL.

    Subclasses store and list; reading, verifying and copying out are shared, so
    every backend checks content against its sha256 the same way.
    """

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """The root as recorded and shown: a local directory or a URL such as ``s3://b/p``."""

    @abc.abstractmethod
    def location(self, sha256: str) -> str:
        """Where the blob ``sha256`` lives (a path or URL); refuses anything not a sha256."""

    @abc.abstractmethod
    def put_stream(self, stream: BinaryIO) -> tuple[str, int]:
        """Copy a binary stream into the store while hashing it; returns (sha256, size)."""

    @abc.abstractmethod
    def _open_blob(self, sha256: str, expected: int | None = None) -> tuple[BinaryIO, int]:
        """The blob's stream and size; FileNotFoundError if it is not there.

        ``expected``: the size the store recorded, when known (a remote store
        fetches a small blob in one request then).
        """

    @abc.abstractmethod
    def all_blobs(self) -> Iterable[str]:
        """Every sha256 stored (for garbage collection); stray files are not blobs."""

    @abc.abstractmethod
    def delete(self, sha256: str) -> int:
        """Remove a blob; returns the bytes freed (0 if it was already gone)."""

    @abc.abstractmethod
    def modified(self, sha256: str) -> float | None:
        """When the blob was last written (seconds since the epoch); None if it is not there."""

    @abc.abstractmethod
    def exists(self, sha256: str) -> bool:
        """Whether a blob file of that name is there (its content is not checked)."""

    @abc.abstractmethod
    def size(self, sha256: str) -> int:
        """The blob's size in bytes as stored (0 if it is not there)."""

    def listing(self) -> Iterable[tuple[str, float | None, int]]:
        """``(sha256, when written, size)`` of every blob stored (for garbage collection)."""
        for sha in self.all_blobs():
            yield sha, self.modified(sha), self.size(sha)

    def delete_many(self, sha256s: Sequence[str]) -> None:
        """Remove blobs (those already gone are skipped)."""
        for sha in sha256s:
            self.delete(sha)

    def put_file(
        self, source: Path, progress: Callable[[int], object] | None = None
    ) -> tuple[str, int]:
        """Store a local file; returns (sha256, size). Identical content is stored once."""
        with source.open("rb") as stream:
            return self.put_stream(
                cast(BinaryIO, _Counted(stream, progress)) if progress else stream
            )

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store bytes; returns (sha256, size)."""
        return self.put_stream(io.BytesIO(data))

    def chunks(self, sha256: str, size: int | None = None) -> Iterator[bytes]:
        """The blob's content in chunks, checked against its sha256 (and ``size`` if given).

        The last chunk is held back until the whole content has been hashed: a
        damaged blob raises :class:`ArtifactIntegrityError` before it is
        delivered, so a blob of one chunk (1 MiB) or less yields nothing at all,
        and a longer one never yields its complete content. A size that differs
        from ``size`` is refused before the first chunk.
        """
        where = self.location(sha256)
        digest = hashlib.sha256()
        try:
            stream, actual = self._open_blob(sha256, size)
        except FileNotFoundError:
            raise _missing(where, sha256) from None
        with stream:
            if size is not None and actual != size:
                raise _damaged(where, f"it holds {actual} bytes, the store recorded {size}")
            pending = stream.read(_CHUNK)
            while pending:
                digest.update(pending)
                following = stream.read(_CHUNK)
                if not following:
                    break
                yield pending
                pending = following
            found = digest.hexdigest()
            if found != sha256:
                raise _damaged(where, f"its content's sha256 is {found[:16]}...")
            if pending:
                yield pending

    def copy_to(
        self,
        sha256: str,
        destination: Path,
        progress: Callable[[int], object] | None = None,
        size: int | None = None,
    ) -> None:
        """Write the blob's content to ``destination`` (parents created), checked.

        The content goes to a temporary file beside ``destination`` that is
        renamed into place only once its sha256 matched, so a damaged blob
        leaves no file behind. ``progress`` is called with each chunk's size;
        ``size``, the size the store recorded, is checked too when given.
        """
        destination.parent.mkdir(parents=True, exist_ok=True)
        # Not mkstemp: its 0600 mode would survive the rename; os.open honours the umask.
        partial = destination.with_name(f".{destination.name}.{os.urandom(6).hex()}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in self.chunks(sha256, size):
                    out.write(chunk)
                    if progress is not None:
                        progress(len(chunk))
            partial.replace(destination)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    def read_bytes(self, sha256: str) -> bytes:
        """The blob's content, checked against its sha256."""
        return b"".join(self.chunks(sha256))

    def check(self, sha256: str) -> str | None:
        """None when the blob is intact, else what is wrong with it ('missing', 'damaged')."""
        self.location(sha256)  # refuses a value that is not a sha256
        try:
            stream, _ = self._open_blob(sha256)
        except FileNotFoundError:
            return "missing"
        with stream:
            return None if stream_sha256(stream) == sha256 else "damaged"


class BlobStore(Blobs):
    """sha256-addressed files under one local directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def url(self) -> str:
        """The root directory, as a string."""
        return str(self.root)

    def path_of(self, sha256: str) -> Path:
        """The file holding the blob ``sha256``; refuses anything that is not a sha256.

        Every blob path is built here, so a database row whose ``sha256`` was
        edited (``../../etc/passwd``) can never name a file outside the store.
        """
        require_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:]

    def location(self, sha256: str) -> str:
        """The blob's file, as a string."""
        return str(self.path_of(sha256))

    def put_stream(self, stream: BinaryIO) -> tuple[str, int]:
        """Copy a binary stream into the store while hashing it.

        When the blob exists already its size and sha256 are checked: a damaged
        one is replaced (atomically) by the content just written.
        """
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
            if self._intact(final, sha, size):
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

    def _intact(self, path: Path, sha256: str, size: int) -> bool:
        """Whether ``path`` holds the blob (False when missing; a damaged one is logged)."""
        try:
            if path.stat().st_size == size and _file_sha256(path) == sha256:
                return True
        except FileNotFoundError:
            return False
        _log.warning(
            "artifact blob %s was damaged on disk; replacing it with the content logged now", path
        )
        return False

    def _open_blob(self, sha256: str, expected: int | None = None) -> tuple[BinaryIO, int]:
        stream = self.path_of(sha256).open("rb")
        return stream, os.fstat(stream.fileno()).st_size

    def all_blobs(self) -> Iterable[str]:
        """Every sha256 stored (for garbage collection); stray files are not blobs."""
        if not self.root.exists():
            return
        for sub in self.root.iterdir():
            if len(sub.name) == 2 and sub.is_dir():
                for blob in sub.iterdir():
                    if is_sha256(sub.name + blob.name):
                        yield sub.name + blob.name

    def listing(self) -> Iterable[tuple[str, float | None, int]]:
        """``(sha256, mtime, size)`` of every blob file, one ``stat`` each."""
        for sha in self.all_blobs():
            try:
                found = self.path_of(sha).stat()
            except FileNotFoundError:
                continue
            yield sha, found.st_mtime, found.st_size

    def delete(self, sha256: str) -> int:
        """Remove a blob; returns the bytes freed (0 if it was already gone)."""
        path = self.path_of(sha256)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def modified(self, sha256: str) -> float | None:
        """The blob file's mtime; None if it is not there."""
        try:
            return self.path_of(sha256).stat().st_mtime
        except FileNotFoundError:
            return None

    def exists(self, sha256: str) -> bool:
        """Whether the blob's file is there."""
        return self.path_of(sha256).is_file()

    def size(self, sha256: str) -> int:
        """The blob file's size (0 if it is not there)."""
        try:
            return self.path_of(sha256).stat().st_size
        except FileNotFoundError:
            return 0


class _Counted(io.RawIOBase):
    """A read-only stream that reports how many bytes were read (for progress bars)."""

    def __init__(self, stream: BinaryIO, progress: Callable[[int], object]) -> None:
        self._stream = stream
        self._progress = progress

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        if chunk:
            self._progress(len(chunk))
        return chunk

    def readinto(self, buffer: Any) -> int:  # io.RawIOBase's contract, unused by the store
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def parallel_map(
    function: Callable[[_T], _R], items: Sequence[_T], workers: int = TRANSFER_WORKERS
) -> list[_R]:
    """``[function(item) for item in items]``, run in up to ``workers`` threads.

    Transfers of many files wait on the network (or fsync) far more than on the
    CPU, so threads overlap them. Results keep the order of ``items``; the first
    error is raised once the calls already started have finished.
    """
    if len(items) <= 1 or workers <= 1:
        return [function(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(workers, len(items)), thread_name_prefix="nbtrack-blobs") as pool:
        return list(pool.map(function, items))


def require_sha256(sha256: object) -> None:
    """Refuse a value that is not a sha256 before it becomes part of any path or key."""
    if not is_sha256(sha256):
        raise ArtifactIntegrityError(
            f"the store records {str(sha256)[:80]!r} as an artifact's sha256, which is not "
            "one (64 lowercase hex characters): its database was altered. Nothing was read; "
            "run `nbtrack gc --verify` to list every damaged row, and log the file again"
        )


def stream_sha256(stream: BinaryIO) -> str:
    """The sha256 of what is left in ``stream``, read in chunks."""
    digest = hashlib.sha256()
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return stream_sha256(stream)


def _damaged(path: str, how: str) -> ArtifactIntegrityError:
    return ArtifactIntegrityError(
        f"artifact blob {path} was changed on disk ({how}; its name is the sha256 it was "
        "stored with). Refusing to serve it: log the original file again to repair the blob, "
        "and run `nbtrack gc --verify` to check every other one",
        path,
    )


def _missing(path: str, sha256: str) -> ArtifactIntegrityError:
    return ArtifactIntegrityError(
        f"artifact blob {sha256[:16]}... is missing from the store ({path} does not exist): "
        "it was deleted by hand. Log the original file again to restore it, and run "
        "`nbtrack gc --verify` to check every other blob",
        path,
    )


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
