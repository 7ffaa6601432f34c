"""Multi-row writes on PostgreSQL: one statement per batch, whatever its size.

Rows travel as one array per column and the server unnests them::

    INSERT INTO t (a, b) SELECT * FROM unnest(%s::INTEGER[], %s::TEXT[]) ON CONFLICT ...

so a batch of 100,000 metric points is a single statement with five
parameters (no statement text that grows with the batch, no per-row round
trip). PostgreSQL refuses an ``ON CONFLICT DO UPDATE`` statement that touches
one row twice ("command cannot affect row a second time"), and SQLite applies
repeated keys in order: rows whose key repeats within a batch are written in
later statements ("rounds"), the n-th occurrence of a key in the n-th round,
which is the same as applying every row in order. Rows of a round go in key
order, so concurrent writers take row locks in one order and do not deadlock
over the same rows.

Metric points (the bulk of everything written) are first tried with ``COPY``
straight into the table, inside a savepoint: a batch whose points are all new
(the common case) costs one COPY; if any point already exists, the savepoint
is rolled back and the batch goes through the upsert.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

import sqlalchemy as sa

#: Below this many rows a round is sorted by key (a consistent lock order); bigger
#: rounds are metric points, whose keys no two processes normally share.
SORT_BELOW = 20_000
#: Batches of at least this many rows are tried with COPY first (when the statement allows).
COPY_FROM = 256


def conflict_columns(statement: Any) -> list[str]:
    """The ON CONFLICT target columns of an :func:`upsert` (empty for a plain INSERT)."""
    clause = statement._post_values_clause
    clauses = getattr(clause, "clauses", None) or ([clause] if clause is not None else [])
    names: list[str] = []
    for item in clauses:
        for column in getattr(item, "inferred_target_elements", None) or ():
            names.append(column if isinstance(column, str) else column.name)
    return names


class PgBulk:
    """An INSERT or upsert of many rows given as tuples in ``columns`` order."""

    def __init__(self, engine: sa.Engine, statement: Any, columns: list[str], copy: bool) -> None:
        dialect = engine.dialect
        table: sa.Table = statement.table
        self.columns = columns
        compiled = str(statement.compile(dialect=dialect, column_keys=columns))
        at = compiled.find(" ON CONFLICT ")
        suffix = compiled[at:] if at >= 0 else ""
        quote = dialect.identifier_preparer.quote
        arrays = ", ".join(
            f"%s::{table.c[name].type.compile(dialect=dialect)}[]" for name in columns
        )
        names = ", ".join(quote(name) for name in columns)
        target = dialect.identifier_preparer.format_table(table)
        self._sql = f"INSERT INTO {target} ({names}) SELECT * FROM unnest({arrays}){suffix}"
        conflict = conflict_columns(statement)
        self._key = itemgetter(*[columns.index(c) for c in conflict]) if conflict else None
        # COPY cannot resolve conflicts: only for a plain table whose rows are keyed.
        # Binary, with the columns' types given: psycopg then formats each row without
        # looking up a dumper per value (1.5x the rows/s of plain text COPY here).
        self._copy_sql = (
            f"COPY {target} ({names}) FROM STDIN (FORMAT BINARY)" if copy and conflict else None
        )
        self._copy_types = [table.c[name].type.compile(dialect=dialect) for name in columns]
        self._copy_oids: list[int] | None = None

    def run(self, conn: sa.Connection, rows: list[tuple[Any, ...]]) -> None:
        """Write ``rows`` as SQLite would apply them one by one, in few statements."""
        if not rows:
            return
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            if (
                self._copy_sql is not None
                and len(rows) >= COPY_FROM
                and _copied(cursor, self._copy_sql, self._oids(cursor), rows)
            ):
                return
            for part in self._rounds(rows):
                cursor.execute(self._sql, [list(column) for column in zip(*part, strict=True)])
        finally:
            cursor.close()

    def _oids(self, cursor: Any) -> list[int]:
        """The type oids of the columns (asked once: the server knows what e.g. FLOAT is)."""
        if self._copy_oids is None:
            cursor.execute(
                "SELECT " + ", ".join("%s::regtype::oid" for _ in self._copy_types),
                self._copy_types,
            )
            self._copy_oids = [int(oid) for oid in cursor.fetchone()]
        return self._copy_oids

    def _rounds(self, rows: list[tuple[Any, ...]]) -> list[list[tuple[Any, ...]]]:
        key = self._key
        if key is None:
            return [rows]
        keys = list(map(key, rows))
        if len(set(keys)) == len(keys):
            return [sorted(rows, key=key) if len(rows) < SORT_BELOW else rows]
        rounds: list[list[tuple[Any, ...]]] = []
        seen: dict[Any, int] = {}
        for row, k in zip(rows, keys, strict=True):
            n = seen.get(k, 0)
            seen[k] = n + 1
            if n == len(rounds):
                rounds.append([])
            rounds[n].append(row)
        return [sorted(part, key=key) if len(part) < SORT_BELOW else part for part in rounds]


def _copied(cursor: Any, sql: str, oids: list[int], rows: list[tuple[Any, ...]]) -> bool:
    """COPY ``rows`` in a savepoint; False (nothing written) if a key already existed."""
    import psycopg

    cursor.execute("SAVEPOINT nbtrack_copy")
    try:
        with cursor.copy(sql) as copy:
            copy.set_types(oids)
            write = copy.write_row
            for row in rows:
                write(row)
    except psycopg.errors.UniqueViolation:
        cursor.execute("ROLLBACK TO SAVEPOINT nbtrack_copy")
        return False
    cursor.execute("RELEASE SAVEPOINT nbtrack_copy")
    return True
