"""Artifact roots: a local directory or an fsspec URL, checked and opened.

``NBTRACK_ARTIFACT_ROOT`` and an experiment's ``artifact_location`` name a
root. A local path (or ``file://`` URL) opens a
:class:`~nbtrack.store.artifacts.BlobStore`; ``s3://``, ``gs://``, ``az://``
and any other fsspec protocol open a
:class:`~nbtrack.store._remote_blobs.RemoteBlobStore`. The filesystem package
is imported only then; a missing one is an error naming the extra to install.
Credentials and endpoints come from each library's usual environment
(``AWS_ENDPOINT_URL``, ``AWS_PROFILE``, ``GOOGLE_APPLICATION_CREDENTIALS``...).
"""

from __future__ import annotations

import os
from pathlib import Path

from nbtrack.exceptions import InvalidInputError
from nbtrack.store.artifacts import Blobs, BlobStore

#: The experiment tag naming the root of the experiment's blobs (light: the client checks it).
ROOT_TAG = "nbtrack.artifact_root"

#: The extra that brings each protocol's filesystem package.
EXTRAS = {
    "s3": ("s3", "s3fs"),
    "s3a": ("s3", "s3fs"),
    "gs": ("gcs", "gcsfs"),
    "gcs": ("gcs", "gcsfs"),
    "az": ("azure", "adlfs"),
    "abfs": ("azure", "adlfs"),
    "abfss": ("azure", "adlfs"),
}


def canonical_root(root: str | os.PathLike[str]) -> str | Path:
    """A root as nbtrack records it: an absolute local path, or a URL without a trailing '/'.

    Refused with a clear error: an empty root, NUL bytes, a remote URL without
    a bucket or with ``.``/``..`` components, a ``file://`` URL naming a host.
    """
    text = os.fspath(root).strip()
    if not text:
        raise InvalidInputError(
            "the artifact root is empty; give a directory or a URL such as s3://bucket/prefix"
        )
    if "\x00" in text:
        raise InvalidInputError(f"the artifact root {text!r} contains a NUL byte")
    if text.startswith("file://"):
        rest = text[len("file://") :]
        if not rest.startswith("/"):
            raise InvalidInputError(
                f"artifact root {text!r} names a host; a file URL is file:///absolute/path"
            )
        return Path(rest).resolve()
    if "://" not in text:
        return Path(text).expanduser().resolve()
    scheme, rest = text.split("://", 1)
    scheme = scheme.lower()
    parts = rest.rstrip("/").split("/")
    if not parts[0]:
        raise InvalidInputError(
            f"artifact root {text!r} names no bucket; write {scheme}://BUCKET/PREFIX"
        )
    if any(part in (".", "..") for part in parts) or "\\" in rest:
        raise InvalidInputError(
            f"artifact root {text!r} has '.', '..' or '\\' in it; write a plain "
            f"{scheme}://BUCKET/PREFIX"
        )
    return f"{scheme}://{'/'.join(p for p in parts if p)}"


def open_blobs(root: str | os.PathLike[str]) -> Blobs:
    """The blob store at ``root`` (fsspec reuses one filesystem object per set of options)."""
    where = canonical_root(root)
    if isinstance(where, Path):
        return BlobStore(where)
    return _open_remote(where)


def _open_remote(url: str) -> Blobs:
    from nbtrack.store._remote_blobs import RemoteBlobStore

    scheme = url.split("://", 1)[0]
    extra, package = EXTRAS.get(scheme, (None, None))
    install = (
        f"pip install 'nbtrack[{extra}]' (it brings {package})"
        if extra
        else f"install the fsspec package that handles {scheme}://"
    )
    try:
        import fsspec
    except ImportError:
        raise InvalidInputError(
            f"the artifact root {url} needs fsspec and its {scheme}:// filesystem: {install}"
        ) from None
    try:
        fs, base = fsspec.core.url_to_fs(url)
    except ImportError as error:
        raise InvalidInputError(
            f"the artifact root {url} needs the {scheme}:// filesystem: {install} ({error})"
        ) from None
    except ValueError as error:  # fsspec: "Protocol not known"
        raise InvalidInputError(
            f"the artifact root {url} uses {scheme}://, which fsspec does not know ({error}); "
            "use a local directory, s3://, gs://, az:// or another fsspec URL"
        ) from None
    return RemoteBlobStore(fs, str(base), url)
