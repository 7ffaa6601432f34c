"""The PostgreSQL server the tests may use: ``NBTRACK_TEST_POSTGRES_URI``.

`.ci/run` starts a throwaway cluster and exports the URI (README, "PostgreSQL").
Without it the PostgreSQL tests skip, except on CI (``CI=true``), where a
missing server fails them: a green CI never hides the PostgreSQL backend.

Each test gets a schema of its own in that database (created empty, dropped
afterwards): its URI carries ``options=-csearch_path=<schema>``, so every
process the test starts uses it too. Other tools' stores (MLflow's) get a
database of their own (``fresh_database``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

ENV = "NBTRACK_TEST_POSTGRES_URI"


def server_uri() -> str:
    """The test server's URI; skips (or on CI fails) the test when there is none."""
    uri = os.environ.get(ENV, "")
    if not uri:
        reason = f"PostgreSQL tests need {ENV} (see README, 'PostgreSQL')"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: .ci/run starts the server)", pytrace=False)
        pytest.skip(reason)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail("PostgreSQL tests need psycopg 3: pip install -e '.[test]'", pytrace=False)
    return uri


def _driver_uri(uri: str) -> str:
    """A libpq URI for psycopg.connect (no SQLAlchemy driver suffix)."""
    return "postgresql://" + uri.split("://", 1)[1]


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A tracking URI on a new, empty schema of the test server, dropped on exit."""
    import psycopg

    base = server_uri()
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(_driver_uri(base), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{name}"
    finally:
        from nbtrack.store import close_all

        close_all()
        with psycopg.connect(_driver_uri(base), autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


@contextmanager
def fresh_database() -> Iterator[str]:
    """A ``postgresql://`` URI (psycopg2's, as MLflow writes it) of a new database, dropped on exit.

    For stores other than nbtrack's (MLflow's): they create their tables in the
    database's default schema.
    """
    import psycopg

    base = server_uri()
    name = f"d_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(_driver_uri(base), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield _driver_uri(base.split("?", 1)[0]).rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(_driver_uri(base), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def sql(uri: str, query: str, *params: object) -> list[tuple[object, ...]]:
    """Rows of a query run directly on the test's schema (not through nbtrack)."""
    import psycopg

    schema = uri.rsplit("search_path%3D", 1)[1]
    with psycopg.connect(_driver_uri(uri.split("?", 1)[0]), autocommit=True) as conn:
        conn.execute(f"SET search_path TO {schema}")
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]
