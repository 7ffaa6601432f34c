"""Where the store lives: tracking URIs and the default ``.nbtrack/`` directory.

The default is found like git finds ``.git``: the nearest ``.nbtrack/``
directory in the working directory or above it, else a new one in the working
directory. ``NBTRACK_TRACKING_URI`` (or ``set_tracking_uri``) overrides it;
MLflow's ``MLFLOW_TRACKING_URI`` is read when ``NBTRACK_TRACKING_URI`` is unset.
Accepted URIs: ``sqlite:///path/to/file.db``, or a plain directory path, which
means ``<dir>/nbtrack.db`` with artifacts in ``<dir>/artifacts``.
"""

from __future__ import annotations

import os
from pathlib import Path

from nbtrack.exceptions import InvalidInputError

STORE_DIR_NAME = ".nbtrack"
DB_FILE_NAME = "nbtrack.db"
ENV_TRACKING_URI = "NBTRACK_TRACKING_URI"
MLFLOW_ENV_TRACKING_URI = "MLFLOW_TRACKING_URI"
ENV_ARTIFACT_ROOT = "NBTRACK_ARTIFACT_ROOT"


_override_uri: str | None = None


def set_tracking_uri(uri: str | os.PathLike[str] | None) -> None:
    """Use this store for the rest of the process (None goes back to the default)."""
    global _override_uri
    _override_uri = None if uri is None else normalize_tracking_uri(uri)


def get_tracking_uri() -> str:
    """The tracking URI in force: ``set_tracking_uri``, else the environment, else ``.nbtrack/``."""
    return _override_uri or default_tracking_uri()


def find_store_dir(start: Path | None = None) -> Path:
    """The nearest ``.nbtrack`` directory at or above ``start`` (default: cwd).

    If there is none, ``start/.nbtrack`` (created when the store is opened).
    """
    start = (start or Path.cwd()).resolve()
    for directory in (start, *start.parents):
        candidate = directory / STORE_DIR_NAME
        if candidate.is_dir():
            return candidate
    return start / STORE_DIR_NAME


def default_tracking_uri() -> str:
    """``NBTRACK_TRACKING_URI`` (else ``MLFLOW_TRACKING_URI``) if set, else the SQLite file
    of :func:`find_store_dir`."""
    env = os.environ.get(ENV_TRACKING_URI) or os.environ.get(MLFLOW_ENV_TRACKING_URI)
    if env:
        return normalize_tracking_uri(env)
    return sqlite_uri(find_store_dir() / DB_FILE_NAME)


def sqlite_uri(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path.resolve()}"


def normalize_tracking_uri(uri: str | os.PathLike[str], base: Path | None = None) -> str:
    """Turn what a user passed into a SQLAlchemy URL, with a clear error when it cannot be.

    A relative path is taken from ``base`` (default: the working directory).
    """

    def rooted(path: Path) -> Path:
        path = path.expanduser()
        return base / path if base is not None and not path.is_absolute() else path

    text = os.fspath(uri).strip()
    if not text:
        raise InvalidInputError(
            "tracking URI is empty; pass 'sqlite:///path/to/nbtrack.db' or a directory"
        )
    if text.startswith("sqlite:"):
        if text in ("sqlite://", "sqlite:///:memory:"):
            raise InvalidInputError(
                "in-memory SQLite is not supported: the background writer and other "
                "processes need a file; pass 'sqlite:///path/to/nbtrack.db'"
            )
        if not text.startswith("sqlite:///") or not text[len("sqlite:///") :].strip():
            raise InvalidInputError(f"malformed SQLite URI {text!r}; expected 'sqlite:///path'")
        return sqlite_uri(rooted(Path(text[len("sqlite:///") :])))
    if text.startswith("file:///"):  # a local file URI: the path after the empty host
        text = text[len("file://") :]
    if "://" in text or text.startswith("databricks"):
        scheme = text.split("://", 1)[0] if "://" in text else "databricks"
        server = (
            " nbtrack has no tracking server: runs are stored in a SQLite file that "
            "every process opens directly."
            if scheme.lower() in ("http", "https", "databricks")
            else ""
        )
        raise InvalidInputError(
            f"tracking URI scheme {scheme!r} is not supported.{server} Supported: "
            "'sqlite:///path/to/nbtrack.db', 'file:///path/to/dir' or a plain directory path "
            f"(check {ENV_TRACKING_URI} / {MLFLOW_ENV_TRACKING_URI})"
        )
    if text.startswith("file:"):
        text = text[len("file:") :]
    path = rooted(Path(text))
    if path.suffix == ".db":
        return sqlite_uri(path)
    return sqlite_uri(path / DB_FILE_NAME)


def artifact_root_for(uri: str) -> Path:
    """Where blobs of the store at ``uri`` live (``NBTRACK_ARTIFACT_ROOT`` overrides)."""
    env = os.environ.get(ENV_ARTIFACT_ROOT)
    if env:
        return Path(env).expanduser().resolve()
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///") :]).parent / "artifacts"
    raise InvalidInputError(f"no artifact root for {uri!r}; set {ENV_ARTIFACT_ROOT} to a directory")
