"""Content-addressed blobs on any fsspec filesystem (S3, GCS, Azure, ...).

The layout is the local one (``<root>/<sha256[:2]>/<sha256[2:]>``), so a local
blob directory copied into a bucket is a valid remote root and back. Object
stores have no rename; what keeps a half-written blob from ever being visible
under its name is that an upload becomes visible only when complete (S3, GCS
and Azure all commit an object at once). The name is known before the upload:
a file is hashed first (locally, cheap next to the network), then streamed up
in blocks while hashed again; if the two hashes differ (the file changed while
it was stored), the object is removed and the call fails. Identical content
already in the bucket is not uploaded again once its sha256 is checked.
Small content (up to :data:`SMALL_PUT`) is held in memory and sent in one
request without looking first: asking whether an object exists costs a
request or two (s3fs lists the prefix after a miss), more than sending it.

Every read is verified while streaming, exactly as for local blobs
(:meth:`~nbtrack.store.artifacts.Blobs.chunks`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import logging
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from nbtrack.exceptions import InvalidInputError
from nbtrack.store.artifacts import Blobs, is_sha256, require_sha256

_log = logging.getLogger(__name__)
_CHUNK = 1 << 20
#: Upload block (S3's multipart part): what one upload holds in memory at most.
UPLOAD_BLOCK = 8 << 20
#: Streams of unknown length are spooled to a local file past this size.
_SPOOL_LIMIT = 16 << 20
#: Content up to this size is sent in one request, without asking first whether it is there.
SMALL_PUT = 1 << 20


class RemoteBlobStore(Blobs):
    """sha256-addressed objects under ``url`` on the fsspec filesystem ``fs``.

    ``base`` is the root as the filesystem names it (``bucket/prefix`` for S3).
    """

    def __init__(self, fs: Any, base: str, url: str) -> None:
        self.fs = fs
        self.base = base.rstrip("/")
        self._url = url
        self.root = url

    @property
    def url(self) -> str:
        """The root URL, e.g. ``s3://bucket/prefix``."""
        return self._url

    def key_of(self, sha256: str) -> str:
        """The object holding the blob ``sha256``; refuses anything that is not a sha256."""
        require_sha256(sha256)
        return f"{self.base}/{sha256[:2]}/{sha256[2:]}"

    def location(self, sha256: str) -> str:
        """The blob's URL."""
        require_sha256(sha256)
        return f"{self._url}/{sha256[:2]}/{sha256[2:]}"

    # -- writing --------------------------------------------------------------------

    def put_file(
        self, source: Path, progress: Callable[[int], object] | None = None
    ) -> tuple[str, int]:
        """Store a local file: hashed first, uploaded only if the bucket lacks it.

        A small file is read whole and sent in one request, there or not.
        """
        with source.open("rb") as stream:
            head = stream.read(SMALL_PUT + 1)
            if len(head) <= SMALL_PUT:
                sha = self._put_small(head)
                if progress is not None:
                    progress(len(head))
                return sha, len(head)
            stream.seek(0)
            digest = hashlib.sha256()
            size = 0
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
            sha = digest.hexdigest()
            if self._intact(sha, size):
                if progress is not None:
                    progress(size)
                return sha, size
            stream.seek(0)
            self._upload(stream, sha, size, source, progress)
        return sha, size

    def put_stream(self, stream: BinaryIO) -> tuple[str, int]:
        """Store a stream: spooled locally while hashed (in memory while small), then uploaded."""
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_LIMIT) as spool:
            digest = hashlib.sha256()
            size = 0
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
                spool.write(chunk)
                size += len(chunk)
            if size <= SMALL_PUT:
                spool.seek(0)
                return self._put_small(spool.read()), size
            sha = digest.hexdigest()
            if not self._intact(sha, size):
                spool.seek(0)
                self._upload(spool, sha, size, None, None)  # type: ignore[arg-type]
        return sha, size

    def _put_small(self, data: bytes) -> str:
        """Send content held in memory in one request (the object appears whole or not at all)."""
        sha = hashlib.sha256(data).hexdigest()
        key = self.key_of(sha)
        try:
            self.fs.pipe_file(key, data)
        finally:
            self.fs.invalidate_cache(key)
        return sha

    def _upload(
        self,
        stream: BinaryIO,
        sha256: str,
        size: int,
        source: Path | None,
        progress: Callable[[int], object] | None,
    ) -> None:
        key = self.key_of(sha256)
        digest = hashlib.sha256()
        written = 0
        out = self.fs.open(key, "wb", block_size=UPLOAD_BLOCK)
        try:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                written += len(chunk)
                if progress is not None:
                    progress(len(chunk))
            if digest.hexdigest() != sha256 or written != size:
                raise InvalidInputError(
                    f"{source or 'the stream'} changed while it was being stored "
                    f"({written} bytes now, {size} when it was hashed); nothing was "
                    "stored, log it again once it is complete"
                )
        except BaseException:
            _abandon(out)
            raise
        finally:
            self.fs.invalidate_cache(key)
        out.close()  # the object becomes visible, whole, only now

    def _intact(self, sha256: str, size: int) -> bool:
        """Whether the bucket holds the blob whole (a damaged one is logged and replaced)."""
        key = self.key_of(sha256)
        try:
            found = self._info(key)
        except FileNotFoundError:
            return False
        if int(found.get("size") or 0) == size and self.check(sha256) is None:
            return True
        _log.warning(
            "artifact blob %s was damaged in its store; replacing it with the content logged now",
            self.location(sha256),
        )
        return False

    # -- reading --------------------------------------------------------------------

    def _info(self, key: str) -> dict[str, Any]:
        self.fs.invalidate_cache(key)  # another process may have written or removed it
        info: dict[str, Any] = self.fs.info(key)
        if info.get("type") == "directory":
            raise FileNotFoundError(key)
        return info

    def _open_blob(self, sha256: str, expected: int | None = None) -> tuple[BinaryIO, int]:
        key = self.key_of(sha256)
        self.fs.invalidate_cache(key)  # another process may have written or removed it
        if expected is not None and expected <= SMALL_PUT:
            # One request for the whole object; a missing one raises FileNotFoundError.
            data = self.fs.cat_file(key)
            return io.BytesIO(data), len(data)
        # Opening asks for the object's size itself: no request of our own before it.
        stream: BinaryIO = self.fs.open(key, "rb", block_size=UPLOAD_BLOCK)
        size = getattr(stream, "size", None)
        if size is None:
            size = self._info(key).get("size")
        return stream, int(size or 0)

    def exists(self, sha256: str) -> bool:
        """Whether an object of the blob's name is there."""
        try:
            self._info(self.key_of(sha256))
        except FileNotFoundError:
            return False
        return True

    def size(self, sha256: str) -> int:
        """The object's size (0 if it is not there)."""
        try:
            return int(self._info(self.key_of(sha256)).get("size") or 0)
        except FileNotFoundError:
            return 0

    def all_blobs(self) -> Iterable[str]:
        """Every sha256 under the root (one recursive listing; other objects are skipped)."""
        for sha, _, _ in self.listing():
            yield sha

    def listing(self) -> Iterable[tuple[str, float | None, int]]:
        """``(sha256, when written, size)`` of every blob, from one recursive listing."""
        self.fs.invalidate_cache(self.base)
        try:
            found = self.fs.find(self.base, detail=True)
        except FileNotFoundError:
            return
        prefix = self.base + "/"
        for name, info in found.items():
            rel = str(name)[len(prefix) :] if str(name).startswith(prefix) else ""
            head, sep, tail = rel.partition("/")
            if sep and len(head) == 2 and is_sha256(head + tail):
                yield head + tail, _written(info), int(info.get("size") or 0)

    def modified(self, sha256: str) -> float | None:
        """When the object was written, from the store's listing; None if it is not there."""
        try:
            info = self._info(self.key_of(sha256))
        except FileNotFoundError:
            return None
        return _written(info)

    def delete_many(self, sha256s: Sequence[str]) -> None:
        """Remove objects in bulk (S3 deletes up to 1,000 in one request)."""
        keys = [self.key_of(sha) for sha in sha256s]
        if not keys:
            return
        try:
            self.fs.rm(keys)
        except FileNotFoundError:  # a filesystem that refuses to remove what is gone
            for key in keys:
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm_file(key)
        finally:
            for key in keys:
                self.fs.invalidate_cache(key)

    def delete(self, sha256: str) -> int:
        """Remove the object; returns the bytes freed (0 if it was already gone)."""
        key = self.key_of(sha256)
        try:
            size = int(self._info(key).get("size") or 0)
            self.fs.rm_file(key)
        except FileNotFoundError:
            return 0
        finally:
            self.fs.invalidate_cache(key)
        return size


def _written(info: dict[str, Any]) -> float:
    """When an object was written, from its listing entry (0: the filesystem does not say)."""
    for field in ("LastModified", "mtime", "last_modified", "updated", "created"):
        value = info.get(field)
        if isinstance(value, dt.datetime):
            return value.timestamp()
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return 0.0  # the filesystem says nothing of age: as old as can be


def _abandon(out: Any) -> None:
    """Close an upload without committing it: nothing appears under its name.

    fsspec's buffered files commit on ``close``; ``discard`` aborts the
    multipart upload, and marking the file flushed keeps ``close`` from
    sending what is buffered.
    """
    discard = getattr(out, "discard", None)
    if callable(discard):
        discard()
    out.forced = True
    out.close()
