"""Conflicts between PostgreSQL writers are tried again, never taken for bad values.

A deadlock or serialization failure rolls one transaction back; the writer
tries that batch again (after a jittered pause) instead of splitting it to
find "bad values" and reporting the points as failed.
"""

from __future__ import annotations

import threading

import pytest

from _postgres import _driver_uri, fresh_schema
from nbtrack.store._writer import _database_failure, _transaction_conflict

pytestmark = pytest.mark.postgres


def _real_deadlock(uri: str) -> BaseException:
    """The error PostgreSQL raises in the victim of a real two-connection deadlock."""
    import psycopg

    schema = uri.rsplit("search_path%3D", 1)[1]
    base = _driver_uri(uri.split("?", 1)[0])
    with psycopg.connect(base, autocommit=True) as setup:
        setup.execute(f"CREATE TABLE {schema}.pair (id int PRIMARY KEY)")
        setup.execute(f"INSERT INTO {schema}.pair VALUES (1), (2)")
    first, second = psycopg.connect(base), psycopg.connect(base)
    errors: list[BaseException] = []
    both_hold_one = threading.Barrier(2)

    def lock(conn: psycopg.Connection, mine: int, theirs: int) -> None:
        try:
            conn.execute(f"SELECT id FROM {schema}.pair WHERE id = %s FOR UPDATE", (mine,))
            both_hold_one.wait(10)
            conn.execute(f"SELECT id FROM {schema}.pair WHERE id = %s FOR UPDATE", (theirs,))
        except psycopg.Error as exc:
            errors.append(exc)
        finally:
            conn.rollback()  # the victim's rollback lets the other one finish

    threads = [
        threading.Thread(target=lock, args=(first, 1, 2)),
        threading.Thread(target=lock, args=(second, 2, 1)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    first.close()
    second.close()
    assert len(errors) == 1, errors
    return errors[0]


def test_a_deadlock_is_a_conflict_to_retry_not_bad_values() -> None:
    with fresh_schema() as uri:
        error = _real_deadlock(uri)
    assert type(error).__name__ == "DeadlockDetected"
    assert _transaction_conflict(error)
    # Unwrapped driver errors (prepared reads run on psycopg directly) are still
    # failures of the database, so a batch is never split over one.
    assert _database_failure(error)


def test_a_value_error_is_no_conflict() -> None:
    assert not _transaction_conflict(ValueError("NaN is not a step"))
