"""The store a multi-process test runs on: a SQLite directory or a PostgreSQL schema.

``backend`` parametrizes a test over both; children get ``Backend.store`` (a path
or a URI) and the test counts rows with ``Backend.sql``, not through nbtrack.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Backend:
    """A store for the children (a directory or a PostgreSQL URI) and direct SQL on it."""

    store: str
    db: Path | None  # the SQLite file; None on PostgreSQL

    def sql(self, query: str, *params: object) -> list[tuple[object, ...]]:
        if self.db is None:
            from _postgres import sql as pg_sql

            return pg_sql(self.store, query.replace("?", "%s"), *params)
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(query, params).fetchall()
        finally:
            conn.close()

    def assert_intact(self) -> None:
        """SQLite's integrity check (PostgreSQL keeps its own)."""
        if self.db is not None:
            assert self.sql("PRAGMA integrity_check") == [("ok",)]
