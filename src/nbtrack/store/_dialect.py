"""Everything that differs between database backends lives here.

SQLite is the embedded default; PostgreSQL (psycopg 3) runs the same code, so
no other module may emit backend-specific SQL. This module owns: connection
settings (SQLite: WAL, ``synchronous`` NORMAL or FULL as :mod:`._durability`
says, busy timeout; PostgreSQL: read-only sessions for readers), ``BEGIN
IMMEDIATE`` for SQLite write transactions, the cross-process lock taken while
migrating (a ``flock`` beside a SQLite file, an advisory lock on PostgreSQL),
upserts that compile for either backend, and the scalar ``least``/``greatest``
functions. Multi-row writes on PostgreSQL live in :mod:`._pg_bulk`.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.sqlite import dml as sqlite_dml
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from nbtrack.store import _durability

#: How long a writer waits for another process's write transaction (ms).
BUSY_TIMEOUT_MS = 60_000

_WRITE_OPTION = "nbtrack_write"


def sqlite_path(url: sa.URL) -> Path | None:
    """The database file of a SQLite URL; None for other backends or in-memory."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database)


def create_engine(url: str | sa.URL, readonly: bool = False) -> sa.Engine:
    """An engine with nbtrack's connection settings for its backend.

    ``readonly``: connections that can never write (SQLite ``mode=ro``, see
    :func:`nbtrack.store._probe.connect_readonly`; PostgreSQL sessions with
    ``default_transaction_read_only``); on SQLite they are opened afresh for
    each use so that each read decides anew how it may read the file; nothing
    is created, and the journal mode is left as it is.
    """
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return _create_postgres_engine(parsed, readonly)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    path = sqlite_path(parsed)
    if readonly:
        if path is None:
            raise ValueError(f"a read-only engine needs a SQLite file, not {parsed}")
        from nbtrack.store._probe import connect_readonly

        engine = sa.create_engine(
            parsed,
            creator=lambda: connect_readonly(path, BUSY_TIMEOUT_MS / 1000),
            poolclass=sa.pool.NullPool,
        )
        event.listen(engine, "connect", _configure_readonly_connection)
        event.listen(engine, "begin", _begin_sqlite_transaction)
        return engine
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        parsed,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=4,
        max_overflow=8,
    )
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _create_postgres_engine(url: sa.URL, readonly: bool) -> sa.Engine:
    """A psycopg 3 engine: a small pool (one writer thread and a few readers per process)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        from nbtrack.exceptions import StoreError

        raise StoreError(
            "a PostgreSQL store needs the psycopg 3 driver: pip install 'nbtrack[postgres]'"
        ) from None
    engine = sa.create_engine(
        url,
        pool_pre_ping=True,
        pool_size=2,
        max_overflow=8,
        connect_args={"application_name": "nbtrack", "connect_timeout": 30},
    )
    if readonly:
        event.listen(engine, "connect", _configure_readonly_postgres)
    return engine


def _configure_readonly_postgres(dbapi_connection: Any, _record: Any) -> None:
    # Every transaction of the session is READ ONLY: the server refuses any write.
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        dbapi_connection.execute("SET default_transaction_read_only = on")
    finally:
        dbapi_connection.autocommit = autocommit


def is_postgres(engine: sa.Engine | sa.Connection) -> bool:
    """Whether the engine (or connection) talks to PostgreSQL."""
    return engine.dialect.name == "postgresql"


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to the "begin" listener below: pysqlite's own
    # implicit BEGIN is always DEFERRED.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _enable_wal(cursor)
        cursor.execute(_durability.synchronous_pragma())  # NORMAL unless asked for FULL
        # MLflow's LIKE is case-sensitive and ILIKE is not; SQLite's LIKE is not
        # by default. SQLAlchemy renders ILIKE as lower() LIKE lower().
        cursor.execute("PRAGMA case_sensitive_like = ON")
    finally:
        cursor.close()


def _configure_readonly_connection(dbapi_connection: Any, _record: Any) -> None:
    # As above, less what would write: no journal mode, no synchronous setting.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA case_sensitive_like = ON")
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL once; it stays so for every later connection.

    Switching needs a moment of exclusive access, and SQLite answers "database
    is locked" at once, without its busy handler, when other processes open
    the same brand-new file at that moment: retry until the busy timeout.
    """
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _begin_sqlite_transaction(conn: sa.Connection) -> None:
    # A deferred transaction that reads then writes fails at once with
    # "database is locked" when another process writes, whatever the busy
    # timeout; IMMEDIATE takes the write lock up front and waits for it.
    if conn.get_execution_options().get(_WRITE_OPTION):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


@contextlib.contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection inside a write transaction (``BEGIN IMMEDIATE`` on SQLite)."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{_WRITE_OPTION: True})
        with conn.begin():
            yield conn


#: The key of the PostgreSQL advisory lock held while creating or upgrading a schema.
MIGRATION_LOCK_KEY = 0x6E62_7472_6163_6B  # "nbtrack"


@contextlib.contextmanager
def migration_lock(engine: sa.Engine) -> Iterator[None]:
    """Serialise schema creation and upgrades across processes.

    SQLite: an exclusive ``flock`` on a file beside the database. PostgreSQL:
    a session advisory lock (on a connection of its own, held until the
    upgrade has committed), so processes on any machine wait for each other.
    """
    if is_postgres(engine):
        with engine.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")
            conn.commit()
            try:
                yield
            finally:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")
                conn.commit()
        return
    path = sqlite_path(engine.url)
    if path is None:
        yield
        return
    lock_path = path.with_name(path.name + ".migrate.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class _DoNothing(sqlite_dml.OnConflictDoNothing):
    """``ON CONFLICT (...) DO NOTHING``, compiled by whichever backend runs it.

    SQLite and PostgreSQL spell ON CONFLICT alike; SQLAlchemy's SQLite clause
    lacks only the attribute PostgreSQL's compiler reads for a named constraint.
    """

    inherit_cache = True
    stringify_dialect = "default"
    constraint_target = None


class _DoUpdate(sqlite_dml.OnConflictDoUpdate):
    """``ON CONFLICT (...) DO UPDATE SET ...`` for either backend (see :class:`_DoNothing`)."""

    inherit_cache = True
    stringify_dialect = "default"
    constraint_target = None


def upsert(
    table: sa.Table,
    index_elements: list[str],
    update_columns: dict[str, Any] | None = None,
) -> Any:
    """``INSERT ... ON CONFLICT (index_elements) DO UPDATE/NOTHING`` for the backend.

    ``update_columns`` maps column names to expressions that may use
    :func:`excluded`; None means ``DO NOTHING``. The statement compiles for
    SQLite and PostgreSQL alike.
    """
    clause: Any
    if update_columns is None:
        clause = _DoNothing(index_elements=index_elements)
    else:
        clause = _DoUpdate(index_elements=index_elements, set_=update_columns)
    return sa.insert(table).ext(clause)


_excluded: dict[str, Any] = {}


def excluded(table: sa.Table, column: str) -> Any:
    """The ``excluded.<column>`` pseudo-row of an upsert."""
    alias = _excluded.get(table.name)
    if alias is None:
        alias = _excluded[table.name] = sa.alias(table, name="excluded")
    return alias.c[column]


class _Extreme(FunctionElement[Any]):
    """The scalar minimum or maximum of two expressions, NULL on one side ignored."""

    inherit_cache = True

    def __init__(self, a: Any, b: Any) -> None:
        super().__init__(a, b)
        self.type = next(iter(self.clauses)).type


class _Least(_Extreme):
    name = "least"
    inherit_cache = True


class _Greatest(_Extreme):
    name = "greatest"
    inherit_cache = True


@compiles(_Least)
@compiles(_Greatest)
def _compile_extreme(element: _Extreme, compiler: Any, **kw: Any) -> str:
    # SQLite's scalar min()/max() return NULL if either side is NULL.
    a, b = (compiler.process(clause, **kw) for clause in element.clauses)
    function = "min" if isinstance(element, _Least) else "max"
    return f"{function}(coalesce({a}, {b}), coalesce({b}, {a}))"


@compiles(_Least, "postgresql")
@compiles(_Greatest, "postgresql")
def _compile_extreme_postgres(element: _Extreme, compiler: Any, **kw: Any) -> str:
    # PostgreSQL's LEAST/GREATEST ignore NULL arguments.
    a, b = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"{element.name.upper()}({a}, {b})"


def least(a: Any, b: Any, engine: sa.Engine | None = None) -> Any:
    """Scalar minimum of two expressions, ignoring NULL on either side."""
    return _Least(a, b)


def greatest(a: Any, b: Any, engine: sa.Engine | None = None) -> Any:
    """Scalar maximum of two expressions, ignoring NULL on either side."""
    return _Greatest(a, b)


def is_sqlite(engine: sa.Engine) -> bool:
    """Whether the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


#: Bound parameters per multi-row statement: SQLite's default limit since 3.32
#: (lowered to the connection's own limit when that is smaller).
_MAX_BOUND_PARAMETERS = 32766


class BulkStatement:
    """An INSERT (or upsert) compiled once and executed with many positional rows.

    The writer's hot loop hands over plain tuples; on SQLite (``qmark``
    parameters) they go to the driver as multi-row ``VALUES (...), (...)``
    statements of up to 4,096 rows (a power of two, within SQLite's bound-parameter
    limit), the rest in statements of the smaller powers of two, so a handful of
    SQL texts serve every batch size and stay in the driver's statement cache.
    Why: per row, the driver's ``executemany`` steps and resets the statement,
    and each step gives Python's GIL away and waits to take it back, which
    stalled the writer thread whenever the logging thread was busy. Rows that
    repeat a key within one statement are applied in order, as separate rows
    would be. PostgreSQL gets one statement of column arrays per batch
    (:class:`._pg_bulk.PgBulk`); other drivers get dictionaries.
    """

    def __init__(
        self, engine: sa.Engine, statement: Any, columns: list[str], *, copy: bool = False
    ) -> None:
        """``copy``: on PostgreSQL, try COPY first for large batches (see :mod:`._pg_bulk`)."""
        self.columns = columns
        self._statement = statement
        self._pg: Any = None
        if is_postgres(engine):
            from nbtrack.store._pg_bulk import PgBulk

            self._pg = PgBulk(engine, statement, columns, copy)
        compiled = statement.compile(dialect=engine.dialect, column_keys=columns)
        positions = list(compiled.positiontup or [])
        self._positional = engine.dialect.paramstyle == "qmark" and positions == columns
        self._sql = str(compiled)
        self._group = "VALUES (" + ", ".join("?" * len(columns)) + ")"
        self._multirow = self._positional and bool(columns) and self._sql.count(self._group) == 1
        self._max_rows = 0  # the largest power of two that fits, set on first use
        self._sql_for_rows: dict[int, str] = {1: self._sql}

    def _rows_sql(self, count: int) -> str:
        sql = self._sql_for_rows.get(count)
        if sql is None:
            values = ", ".join([self._group.removeprefix("VALUES ")] * count)
            sql = self._sql_for_rows[count] = self._sql.replace(self._group, "VALUES " + values)
        return sql

    def _largest_chunk(self, conn: sa.Connection) -> int:
        if not self._max_rows:
            limit = _MAX_BOUND_PARAMETERS
            driver = conn.connection.driver_connection
            if isinstance(driver, sqlite3.Connection):
                limit = min(limit, driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
            fits = max(1, limit // len(self.columns))
            self._max_rows = 1 << (fits.bit_length() - 1)
        return self._max_rows

    def run(self, conn: sa.Connection, rows: list[tuple[Any, ...]]) -> None:
        """Execute the statement for every row, in order, in as few driver calls as it can."""
        if not rows:
            return
        if self._pg is not None:
            self._pg.run(conn, rows)
            return
        if not self._positional:
            conn.execute(
                self._statement, [dict(zip(self.columns, row, strict=True)) for row in rows]
            )
            return
        if not self._multirow or len(rows) == 1:
            conn.exec_driver_sql(self._sql, rows)
            return
        width = len(self.columns)
        flat = list(itertools.chain.from_iterable(rows))
        if len(flat) != len(rows) * width:
            raise ValueError(f"each row must hold {width} values: {self.columns}")
        chunk, start = self._largest_chunk(conn), 0
        while start < len(rows):
            while chunk > len(rows) - start:
                chunk >>= 1
            whole = (len(rows) - start) // chunk * chunk  # rows that fill statements of this size
            step = chunk * width
            conn.exec_driver_sql(
                self._rows_sql(chunk),
                [
                    tuple(flat[i : i + step])
                    for i in range(start * width, (start + whole) * width, step)
                ],
            )
            start += whole


def one_of(column: Any, values: Sequence[int], conn: sa.Connection) -> Any:
    """``column IN (values)``; on PostgreSQL ``column = ANY(array)``: one parameter, not one
    per value (psycopg rewrites a query per distinct IN-list length)."""
    if is_postgres(conn):
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


@contextlib.contextmanager
def index_order(conn: sa.Connection) -> Iterator[None]:
    """On PostgreSQL, read in index order rather than sorting, for the statements inside.

    A series is a range of the primary key ``(run_pk, key_id, step)``, so the
    index gives its points in step order. But right after a COPY the table has
    no statistics yet (until autovacuum analyzes it): the planner expects 3 rows,
    takes a bitmap scan and then sorts 100,000 points on disk (38 ms of server
    time instead of 12 ms). Sorting and bitmap scans are switched off for those
    statements only and back on after (``set_config(..., is_local)``).
    """
    if not is_postgres(conn):
        yield
        return
    from psycopg.pq import TransactionStatus

    switch = "SELECT set_config('enable_sort', %s, true), set_config('enable_bitmapscan', %s, true)"
    driver = conn.connection.driver_connection
    with driver.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(switch, ("off", "off"))
        try:
            yield
        finally:  # a failed transaction drops the local settings with its rollback
            if driver.info.transaction_status != TransactionStatus.INERROR:  # type: ignore[union-attr]
                cursor.execute(switch, ("on", "on"))


def fetch_tuples(
    conn: sa.Connection, statement: Any, *, binary: bool = False
) -> list[tuple[Any, ...]]:
    """All rows of a SELECT as plain tuples, straight from the driver.

    SQLAlchemy's row objects cost more than the query itself for long metric
    histories; positional drivers get the compiled SQL and its parameters.
    ``binary``: on PostgreSQL, ask for results in binary (numbers are read
    without parsing text: 100,000 history points in 0.073 s instead of 0.105 s).
    """
    if is_postgres(conn):
        compiled = statement.compile(
            dialect=conn.dialect, compile_kwargs={"render_postcompile": True}
        )
        return _pg_fetch(conn, str(compiled), compiled.construct_params(), binary)
    if conn.dialect.paramstyle != "qmark":
        return [tuple(row) for row in conn.execute(statement)]
    # render_postcompile: an ``IN`` list becomes one ``?`` per value (a plain cursor
    # has no notion of SQLAlchemy's expanding parameters).
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    positions = compiled.positiontup or []
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), [params[name] for name in positions])
        return cursor.fetchall()  # type: ignore[no-any-return]
    finally:
        cursor.close()


class PreparedQuery:
    """A SELECT with positional bind parameters, compiled once, run many times.

    On SQLite the compiled SQL goes straight to a driver cursor (no row
    objects); other drivers run the statement through SQLAlchemy.
    """

    def __init__(self, engine: sa.Engine, statement: Any, names: list[str]) -> None:
        self.names = names
        self._statement = statement
        compiled = statement.compile(dialect=engine.dialect)
        positions = list(compiled.positiontup or [])
        self._positional = engine.dialect.paramstyle == "qmark" and positions == names
        self._sql = str(compiled)
        self._postgres = is_postgres(engine)

    def all(self, conn: sa.Connection, *values: Any) -> list[tuple[Any, ...]]:
        """Rows for these parameter values, as tuples."""
        if self._postgres:
            return _pg_fetch(conn, self._sql, dict(zip(self.names, values, strict=True)))
        if not self._positional:
            params = dict(zip(self.names, values, strict=True))
            return [tuple(row) for row in conn.execute(self._statement, params)]
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(self._sql, values)
            return cursor.fetchall()  # type: ignore[no-any-return]
        finally:
            cursor.close()


def _pg_fetch(
    conn: sa.Connection, sql: str, params: dict[str, Any], binary: bool = False
) -> list[tuple[Any, ...]]:
    """Rows as tuples straight from psycopg (its default row factory makes tuples)."""
    cursor = conn.connection.driver_connection.cursor(binary=binary)  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        return cursor.fetchall()  # type: ignore[no-any-return]
    finally:
        cursor.close()
