"""What import and export share: MLflow itself, store URIs, bookkeeping tags, safe file walks."""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nbtrack.exceptions import InvalidInputError, NotFoundError
from nbtrack.store.artifacts import normalize_artifact_path

#: Tag an exported MLflow run carries: the nbtrack run it came from (import restores the id).
RUN_ID_TAG = "nbtrack.run_id"
#: Tags an exported MLflow model version carries: its nbtrack number and source URI.
VERSION_TAG = "nbtrack.version"
SOURCE_TAG = "nbtrack.source"
#: MLflow system tags that nbtrack keeps as run fields (name, user, parent), not as tags.
FIELD_TAGS = frozenset({"mlflow.runName", "mlflow.user", "mlflow.parentRunId"})
BOOKKEEPING_TAGS = frozenset({RUN_ID_TAG})

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
#: MLflow's log_batch limits per call.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100


def require_mlflow() -> Any:
    """The ``mlflow`` module, or an error saying how to install it."""
    try:
        import mlflow
    except ImportError:
        raise InvalidInputError(
            "moving runs between MLflow and nbtrack needs MLflow: pip install 'nbtrack[mlflow]'"
        ) from None
    return mlflow


def mlflow_uri(uri: str, *, must_exist: bool) -> str:
    """An MLflow tracking URI from what a user typed (a ``./mlruns`` path becomes ``file://``).

    ``must_exist``: a local store (SQLite file or directory) that is not there is
    an error rather than a new empty store made by MLflow.
    """
    text = str(uri).strip()
    if not text:
        raise InvalidInputError(
            "the MLflow store is empty; give e.g. sqlite:///mlflow.db or ./mlruns"
        )
    if "://" not in text and not text.startswith("sqlite:"):
        text = Path(text).expanduser().resolve().as_uri()
    local: Path | None = None
    if text.startswith("file://"):
        local = Path(text[len("file://") :])
    elif text.startswith("sqlite:///"):
        local = Path(text[len("sqlite:///") :])
    if must_exist and local is not None and not local.exists():
        raise NotFoundError(
            f"no MLflow store at {local}; give the path of an existing ./mlruns directory "
            "or sqlite:///path/to/mlflow.db"
        )
    if must_exist and text.split("://", 1)[0].split("+", 1)[0] in _SQL_SCHEMES:
        _require_mlflow_tables(text)
    return text


#: Database URIs MLflow's SQL store takes (SQLAlchemy's, with an optional +driver).
_SQL_SCHEMES = frozenset({"sqlite", "postgresql", "mysql", "mssql"})


def _require_mlflow_tables(uri: str) -> None:
    """Refuse a database that holds no MLflow store, before MLflow sees it.

    MLflow's client creates its tables in any database it is given, so an import
    from the wrong database would write to it; this only reads its catalog.
    """
    from nbtrack.store._foreign import table_names
    from nbtrack.store.locate import hide_password

    tables = table_names(uri, "the MLflow store")
    if not {"experiments", "alembic_version"} <= tables:
        raise NotFoundError(
            f"no MLflow store in {hide_password(uri)}: it has no MLflow tables (experiments, "
            "alembic_version); give the database MLflow writes to (its --backend-store-uri). "
            "Nothing was written to it"
        )


@contextlib.contextmanager
def file_store_allowed(uri: str) -> Iterator[None]:
    """Let MLflow open a ``./mlruns`` store while this runs.

    MLflow 3 refuses its file store unless ``MLFLOW_ALLOW_FILE_STORE=true``;
    moving runs out of (or into) one is what the user asked for by naming it.
    """
    if not uri.startswith("file:") or os.environ.get(_ALLOW_FILE_STORE):
        yield
        return
    os.environ[_ALLOW_FILE_STORE] = "true"
    try:
        yield
    finally:
        os.environ.pop(_ALLOW_FILE_STORE, None)


_ALLOW_FILE_STORE = "MLFLOW_ALLOW_FILE_STORE"


@contextlib.contextmanager
def mlflow_default_uri(uri: str) -> Iterator[None]:
    """Make ``uri`` MLflow's current tracking URI while this runs, then put the old one back.

    MLflow's registry resolves a version's ``models:/<model_id>`` source with
    the current tracking URI, not the client's: without this, registering a
    logged model in a store other than the current one fails.
    """
    mlflow = require_mlflow()
    # MLflow mirrors a URI set in-process into MLFLOW_TRACKING_URI: the variable
    # says whether one was set; None puts MLflow back to choosing its default.
    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before)


def valid_run_id(run_id: Any, where: str) -> str:
    """A 32-hex run id; anything else in a store is refused before it is used."""
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise InvalidInputError(f"{where}: {run_id!r} is not a run id (32 hex characters)")
    return run_id


def checked_path(path: str, where: str) -> str:
    """An artifact path named by a store, refused unless it stays inside its run."""
    try:
        return normalize_artifact_path(path)
    except InvalidInputError as error:
        raise InvalidInputError(f"{where}: refusing artifact path {path!r}: {error}") from None


def regular_files(root: Path, where: str) -> list[tuple[Path, str]]:
    """Every file under ``root`` with its checked relative path; links and devices are refused."""
    found: list[tuple[Path, str]] = []
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            full = Path(directory) / name
            mode = full.lstat().st_mode
            rel = full.relative_to(root).as_posix()
            if stat.S_ISLNK(mode):
                raise InvalidInputError(
                    f"{where}: {rel!r} is a symbolic link; refusing to follow it"
                )
            if name in files:
                if not stat.S_ISREG(mode):
                    raise InvalidInputError(f"{where}: {rel!r} is not a regular file")
                found.append((full, checked_path(rel, where)))
    return sorted(found, key=lambda item: item[1])


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    """``items`` cut into lists of at most ``size``."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def mlflow_versions(client: Any, name: str) -> list[Any]:
    """Every version of ``name`` in an MLflow registry, page by page.

    A name with a quote is matched here rather than in MLflow's filter, whose
    quoting rules differ between its stores.
    """
    query = None if "'" in name else f"name = '{name}'"
    found: list[Any] = []
    token = None
    while True:
        page = client.search_model_versions(query, max_results=1000, page_token=token)
        found.extend(v for v in page if v.name == name)
        token = page.token
        if not token:
            return found
