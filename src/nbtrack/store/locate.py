"""Where the store lives: tracking URIs and the default ``.nbtrack/`` directory.

The default store is the project's, whichever subdirectory a kernel or a
command runs in:

1. the nearest existing ``.nbtrack/`` directory at or above the working
   directory (as git finds ``.git``);
2. else a new one at the project's root: the top of the git work tree that
   holds the working directory; else the Jupyter server's root directory when
   the working directory lies inside it (the server's nbtrack extension tells
   its kernels through ``NBTRACK_JUPYTER_ROOT``); else the working directory.

So a notebook running in ``lab/notebooks/`` and ``nbtrack runs list`` typed in
``lab/`` use one store. ``NBTRACK_TRACKING_URI`` (or ``set_tracking_uri``)
overrides all this; MLflow's ``MLFLOW_TRACKING_URI`` is read when
``NBTRACK_TRACKING_URI`` is unset. Accepted URIs: ``sqlite:///path/to/file.db``, or a plain
directory path, which means ``<dir>/nbtrack.db`` with artifacts in
``<dir>/artifacts``; or a PostgreSQL database,
``postgresql+psycopg://user:password@host:5432/dbname`` (``postgresql://`` and
``postgres://`` mean the same: nbtrack talks to PostgreSQL through psycopg 3,
the ``nbtrack[postgres]`` extra). Artifacts of a PostgreSQL store: see
:func:`artifact_root_for`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path

from nbtrack.exceptions import InvalidInputError

log = logging.getLogger(__name__)

STORE_DIR_NAME = ".nbtrack"
DB_FILE_NAME = "nbtrack.db"
ENV_TRACKING_URI = "NBTRACK_TRACKING_URI"
MLFLOW_ENV_TRACKING_URI = "MLFLOW_TRACKING_URI"
ENV_ARTIFACT_ROOT = "NBTRACK_ARTIFACT_ROOT"
#: The Jupyter server's root directory, set by nbtrack's server extension for its kernels.
ENV_JUPYTER_ROOT = "NBTRACK_JUPYTER_ROOT"


_override_uri: str | None = None


def set_tracking_uri(uri: str | os.PathLike[str] | None) -> None:
    """Use this store for the rest of the process (None goes back to the default)."""
    global _override_uri
    _override_uri = None if uri is None else normalize_tracking_uri(uri)


def get_tracking_uri() -> str:
    """The tracking URI in force: ``set_tracking_uri``, else the environment, else ``.nbtrack/``."""
    return _override_uri or default_tracking_uri()


def find_store_dir(start: Path | None = None, jupyter_root: Path | None = None) -> Path:
    """The nearest ``.nbtrack`` directory at or above ``start`` (default: cwd).

    If there is none, where a new store goes: ``.nbtrack`` in :func:`project_root`
    (created when the store is first written).
    """
    start = (start or Path.cwd()).resolve()
    for directory in (start, *start.parents):
        candidate = directory / STORE_DIR_NAME
        if candidate.is_dir():
            return candidate
    return project_root(start, jupyter_root) / STORE_DIR_NAME


def project_root(start: Path, jupyter_root: Path | None = None) -> Path:
    """Where a project's new store goes, seen from ``start`` (see the module docstring).

    ``jupyter_root`` defaults to ``NBTRACK_JUPYTER_ROOT``.
    """
    start = start.resolve()
    for directory in (start, *start.parents):
        if (directory / ".git").exists():  # a directory, or a file in a git worktree
            return directory
    root = jupyter_root or os.environ.get(ENV_JUPYTER_ROOT)
    if root:
        resolved = Path(root).expanduser().resolve()
        if start.is_relative_to(resolved):
            return resolved
    return start


#: The spellings of a PostgreSQL URI's scheme that nbtrack accepts (all go through psycopg 3).
_POSTGRES_SCHEME = re.compile(r"^(postgresql|postgres)(\+psycopg)?://", re.IGNORECASE)
POSTGRES_PREFIX = "postgresql+psycopg://"


def is_postgres_uri(uri: str) -> bool:
    """Whether a normalized tracking URI names a PostgreSQL database."""
    return uri.startswith(POSTGRES_PREFIX)


def hide_password(uri: str) -> str:
    """``uri`` fit to show: a PostgreSQL password becomes ``***``."""
    if not is_postgres_uri(uri):
        return uri
    import sqlalchemy as sa

    return sa.make_url(uri).render_as_string(hide_password=True)


def _postgres_uri(text: str) -> str:
    """A PostgreSQL URI in the one form nbtrack keeps (``postgresql+psycopg://``)."""
    match = _POSTGRES_SCHEME.match(text)
    if match is None:
        scheme = text.split("://", 1)[0]
        raise InvalidInputError(
            f"PostgreSQL driver {scheme.partition('+')[2]!r} is not supported: nbtrack uses "
            f"psycopg 3 (pip install 'nbtrack[postgres]'); write the URI as "
            f"'postgresql://user:password@host/dbname' or '{POSTGRES_PREFIX}...'"
        )
    rest = text[match.end() :]
    host_and_db = rest.split("?", 1)[0]
    if "/" not in host_and_db or not host_and_db.rsplit("/", 1)[1]:
        raise InvalidInputError(
            f"PostgreSQL URI {hide_password(POSTGRES_PREFIX + rest)!r} names no database; "
            "expected 'postgresql://user:password@host:5432/dbname'"
        )
    return POSTGRES_PREFIX + rest


def store_location(uri: str) -> str:
    """The store at ``uri`` as a user knows it: its directory, or its file if not ``nbtrack.db``.

    A PostgreSQL store is its URI, without the password.
    """
    if not uri.startswith("sqlite:///"):
        return hide_password(uri)
    path = Path(uri[len("sqlite:///") :])
    return str(path.parent if path.name == DB_FILE_NAME else path)


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
    if text.lower().startswith("postgres"):
        return _postgres_uri(text)
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
            "'sqlite:///path/to/nbtrack.db', 'file:///path/to/dir', a plain directory path "
            "or 'postgresql://user:password@host/dbname' "
            f"(check {ENV_TRACKING_URI} / {MLFLOW_ENV_TRACKING_URI})"
        )
    if text.startswith("file:"):
        text = text[len("file:") :]
    path = rooted(Path(text))
    if path.suffix == ".db":
        return sqlite_uri(path)
    return sqlite_uri(path / DB_FILE_NAME)


def artifact_root_for(uri: str, recorded: str | None = None) -> Path | str:
    """Where blobs of the store at ``uri`` live (``NBTRACK_ARTIFACT_ROOT`` overrides).

    A root is a local directory (a :class:`~pathlib.Path`) or an fsspec URL such as
    ``s3://bucket/prefix`` as :func:`~nbtrack.store._blob_roots.canonical_root` writes it.
    A SQLite store keeps them beside its file. A PostgreSQL store has no file:
    its artifact root is ``NBTRACK_ARTIFACT_ROOT`` if set, else ``recorded`` (the
    root its creator recorded as the Default experiment's artifact location, so
    every machine uses the same one), else a directory of this machine's
    (:func:`local_postgres_artifact_root`), with a warning, since other machines
    cannot read it.
    """
    from nbtrack.store._blob_roots import canonical_root

    env = os.environ.get(ENV_ARTIFACT_ROOT)
    if env:
        return canonical_root(env)
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///") :]).parent / "artifacts"
    if is_postgres_uri(uri):
        if recorded:
            return canonical_root(recorded)
        root = local_postgres_artifact_root(uri)
        log.warning(
            "nbtrack: artifacts of the PostgreSQL store %s go to %s, a directory of this "
            "machine only; set %s to a directory every machine shares (or a URL such as "
            "s3://bucket/prefix), before the store is first used, so that all of them read "
            "and write the same artifacts",
            hide_password(uri),
            root,
            ENV_ARTIFACT_ROOT,
        )
        return root
    raise InvalidInputError(
        f"no artifact root for {uri!r}; set {ENV_ARTIFACT_ROOT} to a directory or a URL "
        "such as s3://bucket/prefix"
    )


def local_postgres_artifact_root(uri: str) -> Path:
    """``~/.nbtrack/artifacts/<host>-<database>-<hash>``: one machine's artifact root for a
    PostgreSQL store that was created without ``NBTRACK_ARTIFACT_ROOT``."""
    import sqlalchemy as sa

    url = sa.make_url(uri)
    digest = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:8]
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{url.host or 'local'}-{url.database}")
    return Path.home() / STORE_DIR_NAME / "artifacts" / f"{name}-{digest}"
