"""What a database file holds, found without changing a byte of it.

Opening a store for writing switches SQLite to WAL and may migrate the schema;
both change the file. So before anything else, :func:`inspect_file` reads the
file read-only and says whether it is nbtrack's store (and at which schema
revision), an empty file or database (a new store), or something else: MLflow's
SQLite store, another application's database, or not a database at all.

:func:`connect_readonly` is also how a store opened only for reading connects,
so that reading writes nothing, not even beside the database:

* A rollback-journal database (not WAL): ``mode=ro``, which creates nothing.
* No ``-wal`` data and no ``-shm`` file: no process has the database open (a
  WAL connection keeps both while open), so every committed transaction is in
  the database file; it is read with ``immutable=1``, which creates nothing. A
  writer that starts meanwhile writes into a new ``-wal`` first, and the next
  read (each read connects afresh) sees it and switches to:
* ``mode=ro`` through the WAL index the writer keeps, as any reader does.
* If that index cannot be used (a read-only directory or mount) while the
  ``-wal`` file holds data, reading would miss that data: :class:`StoreError`
  says so and what to do.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from nbtrack.exceptions import NotFoundError, StoreError

#: The first 16 bytes of every SQLite 3 database file.
SQLITE_HEADER = b"SQLite format 3\x00"
#: nbtrack's Alembic revisions are numbered 0001, 0002, ...
_NBTRACK_REVISION = re.compile(r"^\d{4}$")
#: Tables every MLflow SQLite tracking store has (mlflow/store/db/base_sql_model.py).
_MLFLOW_TABLES = frozenset({"experiments", "runs", "metrics", "params", "tags", "experiment_tags"})


@dataclass(frozen=True)
class FileInfo:
    """What :func:`inspect_file` found at a path."""

    path: Path
    #: Whether a file is there at all.
    exists: bool
    #: nbtrack's schema revision when the file is an nbtrack store, else None.
    revision: str | None = None
    #: What the file is when it is neither nbtrack's store nor empty ("an MLflow ...").
    foreign: str | None = None

    @property
    def is_new(self) -> bool:
        """No file, an empty file, or a database without tables: a store may be created here."""
        return self.revision is None and self.foreign is None

    def refuse_foreign(self) -> None:
        """Raise :class:`StoreError` if the file is not nbtrack's (nothing has been changed)."""
        if self.foreign is not None:
            raise StoreError(
                f"{self.path} is {self.foreign}, not an nbtrack store: nbtrack cannot open "
                "it as its own store and has not changed it. Point --tracking-uri or "
                "NBTRACK_TRACKING_URI at an nbtrack store (a directory such as .nbtrack, "
                "or a path where a new store may be created)."
            )


def connect_readonly(path: Path, timeout: float = 60.0) -> sqlite3.Connection:
    """A connection that reads ``path`` and can never write to it (see the module docstring)."""
    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    wal_has_data = wal.exists() and wal.stat().st_size > 0
    if not wal_has_data and not shm.exists() and _is_wal_file(path):
        return _connect(path, "immutable=1", timeout)
    conn = _connect(path, "mode=ro", timeout)
    try:
        # SQLite opens lazily: the first read is where an unusable WAL index shows.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        conn.close()
        if wal_has_data:
            raise StoreError(
                f"cannot read {path}: another process is writing it, and this process "
                f"cannot use SQLite's index of the pending writes ({shm.name}: {exc}). Ask "
                "the store's owner to let you write its directory, or read it once the "
                "writer has finished."
            ) from exc
        # An index left behind but no -wal data: the database file holds everything.
        return _connect(path, "immutable=1", timeout)
    return conn


def _is_wal_file(path: Path) -> bool:
    """Whether the database header says WAL (bytes 18 and 19 are 2); rollback-journal
    databases read with ``mode=ro`` create nothing and take SQLite's usual locks."""
    with path.open("rb") as stream:
        header = stream.read(20)
    return header[18:20] == b"\x02\x02"


def _connect(path: Path, query: str, timeout: float) -> sqlite3.Connection:
    uri = f"file:{quote(str(path.resolve()))}?{query}"
    return sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)


def _describe_foreign(tables: set[str]) -> str:
    if tables >= _MLFLOW_TABLES:
        return "an MLflow tracking store (MLflow's SQLite database)"
    names = ", ".join(sorted(tables)[:6]) + (", ..." if len(tables) > 6 else "")
    return f"the SQLite database of another application (tables: {names})"


def _tables_and_revision(path: Path) -> tuple[set[str], str | None]:
    try:
        conn = connect_readonly(path)
        try:
            tables = {
                str(name)
                for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            revision = None
            if "alembic_version" in tables:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = None if row is None else str(row[0])
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot read the store file {path}: {exc}") from exc
    return tables, revision


def inspect_file(path: Path) -> FileInfo:
    """Read ``path`` read-only and say what it is; raises :class:`StoreError` if unreadable."""
    if not path.exists():
        return FileInfo(path, exists=False)
    try:
        with path.open("rb") as stream:
            header = stream.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"cannot read the store file {path}: {exc.strerror}") from exc
    if not header:
        return FileInfo(path, exists=True)  # an empty file: SQLite makes it a new database
    if header != SQLITE_HEADER:
        return FileInfo(path, exists=True, foreign="not an SQLite database")
    tables, revision = _tables_and_revision(path)
    if not tables:
        return FileInfo(path, exists=True)
    if revision is not None and _NBTRACK_REVISION.match(revision) and "runs" in tables:
        return FileInfo(path, exists=True, revision=revision)
    return FileInfo(path, exists=True, foreign=_describe_foreign(tables))


def existing_store(uri: str) -> FileInfo:
    """The nbtrack store file of a normalized SQLite ``uri``, inspected.

    :class:`NotFoundError` if there is no store there (nothing is created),
    :class:`StoreError` if the file is not nbtrack's.
    """
    path = Path(uri.removeprefix("sqlite:///"))
    info = inspect_file(path)
    info.refuse_foreign()
    if info.is_new:
        where = path.parent if path.name == "nbtrack.db" else path
        raise NotFoundError(f"no store at {where} (create one by logging a run)")
    return info
