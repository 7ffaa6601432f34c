"""The background writer: durability on flush, concurrency, failure isolation, latest values."""

from __future__ import annotations

import math
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from nbtrack import TrackingClient, WriteError
from nbtrack.store import locate, schema
from nbtrack.store._writer import OP_STATEMENT, BackgroundWriter
from nbtrack.store.sql_store import SqlStore


@pytest.fixture
def run_id(client: TrackingClient) -> str:
    return client.create_run("0").info.run_id


def _query(store_dir: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    """Rows read through a brand-new plain sqlite3 connection, as another process would."""
    conn = sqlite3.connect(store_dir / "nbtrack.db")
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _latest(store_dir: Path, run_pk: int, key: str) -> tuple[Any, ...]:
    rows = _query(
        store_dir,
        "SELECT l.step, l.value, l.min_value, l.max_value FROM latest_metrics l "
        "JOIN metric_keys k ON k.key_id = l.key_id WHERE l.run_pk = ? AND k.key = ?",
        run_pk,
        key,
    )
    assert len(rows) == 1
    return rows[0]


@contextmanager
def writer_held(writer: BackgroundWriter) -> Iterator[None]:
    """Keep the writer thread busy so that everything enqueued meanwhile forms one batch."""
    entered, gate = threading.Event(), threading.Event()

    def hold(_conn: sa.Connection) -> None:
        entered.set()
        gate.wait(10)

    thread = threading.Thread(target=writer.call, args=(hold,))
    thread.start()
    assert entered.wait(10)
    try:
        yield
    finally:
        gate.set()
        thread.join(10)
        assert not thread.is_alive()


# -- durability ------------------------------------------------------------------------


def test_flush_returns_only_when_a_fresh_connection_sees_the_data(
    client: TrackingClient, run_id: str, store_dir: Path
) -> None:
    for i in range(20):
        client.log_metric(run_id, "loss", float(i), step=i)
        client.log_param(run_id, f"p{i}", i)
        client.flush()
        assert _query(store_dir, "SELECT count(*) FROM metrics") == [(i + 1,)]
        assert _query(store_dir, "SELECT count(*) FROM params") == [(i + 1,)]
    client.set_tag(run_id, "t", "v")
    client.log_text(run_id, "hello", "a.txt")
    client.set_terminated(run_id, "FINISHED")  # flushes too
    assert _query(store_dir, "SELECT key, value FROM tags") == [("t", "v")]
    assert _query(store_dir, "SELECT path, size FROM artifacts") == [("a.txt", 5)]
    assert _query(store_dir, "SELECT status FROM runs WHERE run_id = ?", run_id) == [("FINISHED",)]


def test_flush_with_nothing_pending_returns_at_once(client: TrackingClient) -> None:
    client.flush()
    client.flush(timeout=0.01)
    assert client._store.writer.pending() == 0


def test_flush_timeout_is_reported(client: TrackingClient, run_id: str) -> None:
    writer = client._store.writer
    with writer_held(writer):
        client.log_metric(run_id, "m", 1.0)
        with pytest.raises(WriteError, match=re.escape("flush did not finish within 0.1 s")):
            writer.flush(timeout=0.1)
    client.flush()
    assert [m.value for m in client.get_metric_history(run_id, "m")] == [1.0]


def test_puts_from_several_threads_all_land(client: TrackingClient, store_dir: Path) -> None:
    run_ids = [client.create_run("0").info.run_id for _ in range(6)]
    per_thread = 400
    errors: list[BaseException] = []
    start = threading.Barrier(len(run_ids))

    def work(index: int, run_id: str) -> None:
        try:
            start.wait(10)
            for step in range(per_thread):
                client.log_metric(run_id, "loss", step / per_thread, step=step)
                client.log_metric(run_id, f"auto-{index}", float(step))  # steps 0, 1, 2...
                if step % 50 == 0:
                    client.set_tag(run_id, f"tag{step}", step)
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, r)) for i, r in enumerate(run_ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    client.flush()
    total = len(run_ids) * per_thread * 2
    assert _query(store_dir, "SELECT count(*) FROM metrics") == [(total,)]
    assert _query(store_dir, "SELECT count(*) FROM tags") == [(len(run_ids) * 8,)]
    for index, run_id in enumerate(run_ids):
        auto = client.get_metric_history(run_id, f"auto-{index}")
        assert [m.step for m in auto] == list(range(per_thread))
        assert client.get_run(run_id).data.metrics["loss"] == (per_thread - 1) / per_thread


def test_raw_statements_from_several_threads_all_land(
    client: TrackingClient, run_id: str, store_dir: Path
) -> None:
    writer = client._store.writer
    run_pk = client._store.run_pk(run_id)

    def work(index: int) -> None:
        for i in range(100):
            stmt = schema.tags.insert().values(run_pk=run_pk, key=f"t{index}-{i}", value=str(i))
            writer.put((OP_STATEMENT, stmt, f"tag t{index}-{i}"))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    writer.flush()
    assert _query(store_dir, "SELECT count(*) FROM tags WHERE run_pk = ?", run_pk) == [(400,)]


# -- failures --------------------------------------------------------------------------


def test_a_failing_write_is_reported_and_the_rest_of_its_batch_is_stored(
    client: TrackingClient, run_id: str, store_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = client._store
    run_pk = store.run_pk(run_id)
    client.set_tag(run_id, "dup", "first")
    client.flush()
    duplicate = schema.tags.insert().values(run_pk=run_pk, key="dup", value="second")
    with writer_held(store.writer):  # everything below is written as one batch
        client.log_metric(run_id, "before", 1.0, step=0)
        client.log_param(run_id, "lr", 0.1)
        store.writer.put((OP_STATEMENT, duplicate, "the deliberately duplicated tag"))
        client.set_tag(run_id, "after", "yes")
        client.log_metric(run_id, "after", 2.0, step=0)
        client.log_text(run_id, "kept", "kept.txt")
        assert store.writer.pending() >= 6
    with pytest.raises(WriteError) as info:
        client.flush()
    message = str(info.value)
    assert message.startswith("1 logged value(s) could not be stored")
    assert "the deliberately duplicated tag" in message
    assert "IntegrityError" in message
    assert "UNIQUE constraint failed" in message
    assert "retrying in parts" in caplog.text
    # The good operations of the same batch are all there.
    assert _query(store_dir, "SELECT key, value FROM tags ORDER BY key") == [
        ("after", "yes"),
        ("dup", "first"),
    ]
    assert _query(store_dir, "SELECT key, value FROM params") == [("lr", "0.1")]
    assert _query(store_dir, "SELECT count(*) FROM metrics") == [(2,)]
    assert client.read_artifact(run_id, "kept.txt") == b"kept"
    # Reported once; the writer thread lives on and keeps writing.
    client.flush()
    assert store.writer._thread.is_alive()
    client.log_metric(run_id, "later", 3.0)
    client.set_tag(run_id, "later", "ok")
    client.flush()
    run = client.get_run(run_id)
    assert run.data.metrics == {"before": 1.0, "after": 2.0, "later": 3.0}
    assert run.data.tags["later"] == "ok"


def test_several_failures_are_all_listed(client: TrackingClient, run_id: str) -> None:
    writer = client._store.writer
    bad = schema.params.insert().values(run_pk=1, key="k", value=None)  # NOT NULL
    writer.put((OP_STATEMENT, bad, "bad one"))
    writer.put((OP_STATEMENT, bad, "bad two"))
    with pytest.raises(WriteError, match=r"^2 logged value\(s\)") as info:
        writer.flush()
    assert "bad one" in str(info.value)
    assert "bad two" in str(info.value)
    assert "NOT NULL constraint failed" in str(info.value)
    client.log_param(run_id, "k", "fine")
    assert client.get_run(run_id).data.params == {"k": "fine"}


def test_an_error_in_a_call_goes_back_to_the_caller(client: TrackingClient, run_id: str) -> None:
    writer = client._store.writer

    def boom(_conn: sa.Connection) -> None:
        raise ZeroDivisionError("in the writer")

    with pytest.raises(ZeroDivisionError, match="in the writer"):
        writer.call(boom)
    assert writer.call(lambda conn: conn.execute(sa.select(sa.literal(7))).scalar()) == 7
    client.flush()  # a failed call is not a failed logged value
    client.log_metric(run_id, "m", 1.0)
    assert client.get_run(run_id).data.metrics == {"m": 1.0}


def test_a_closed_writer_refuses_to_hang(tmp_path: Path) -> None:
    store = SqlStore(locate.normalize_tracking_uri(tmp_path / "own"))
    store.close()
    assert not store.writer._thread.is_alive()
    store.writer.put((OP_STATEMENT, sa.text("SELECT 1"), "after close"))
    with pytest.raises(WriteError, match="writer thread has stopped"):
        store.writer.flush()
    store.close()  # closing twice is harmless


# -- latest values ---------------------------------------------------------------------


def test_latest_min_max_across_batches(
    client: TrackingClient, run_id: str, store_dir: Path
) -> None:
    run_pk = client._store.run_pk(run_id)
    steps_and_expected = [
        ((5, 1.0), (5, 1.0, 1.0, 1.0)),
        ((3, 10.0), (5, 1.0, 1.0, 10.0)),  # an older step: extremes change, latest does not
        ((7, math.nan), (7, None, 1.0, 10.0)),  # NaN is the latest value, not an extreme
        ((6, -2.0), (7, None, -2.0, 10.0)),
        ((8, 4.0), (8, 4.0, -2.0, 10.0)),
        ((8, 5.0), (8, 5.0, -2.0, 10.0)),  # the same step again: its new value is the latest
        ((2, math.inf), (8, 5.0, -2.0, math.inf)),
    ]
    for (step, value), expected in steps_and_expected:
        client.log_metric(run_id, "m", value, step=step)
        client.flush()  # each point in its own batch
        assert _latest(store_dir, run_pk, "m") == expected
    assert client.get_run(run_id).data.metrics == {"m": 5.0}
    history = client.get_metric_history(run_id, "m")
    assert [m.step for m in history] == [2, 3, 5, 6, 7, 8]
    assert math.isnan(history[4].value)
    assert history[5].value == 5.0


def test_latest_min_max_within_one_batch(
    client: TrackingClient, run_id: str, store_dir: Path
) -> None:
    run_pk = client._store.run_pk(run_id)
    client.log_batch(
        run_id,
        metrics=[
            ("m", 5.0, None, 2),
            ("m", -1.0, None, 0),
            ("m", math.nan, None, 1),
            ("m", 6.0, None, 2),
            ("nan-first", math.nan, None, 4),
            ("nan-first", 3.0, None, 1),
        ],
    )
    client.flush()
    assert _latest(store_dir, run_pk, "m") == (2, 6.0, -1.0, 6.0)
    assert _latest(store_dir, run_pk, "nan-first") == (4, None, 3.0, 3.0)
    latest = client.get_run(run_id).data.metrics
    assert latest["m"] == 6.0
    assert math.isnan(latest["nan-first"])


def test_latest_when_only_nan_was_logged(
    client: TrackingClient, run_id: str, store_dir: Path
) -> None:
    run_pk = client._store.run_pk(run_id)
    client.log_metric(run_id, "m", math.nan, step=0)
    client.flush()
    assert _latest(store_dir, run_pk, "m") == (0, None, None, None)
    client.log_metric(run_id, "m", math.nan, step=1)
    client.flush()
    assert _latest(store_dir, run_pk, "m") == (1, None, None, None)
    client.log_metric(run_id, "m", 3.0, step=0)  # an older step with a real value
    client.flush()
    assert _latest(store_dir, run_pk, "m") == (1, None, 3.0, 3.0)
    client.log_metric(run_id, "m", 2.0, step=2)
    client.flush()
    assert _latest(store_dir, run_pk, "m") == (2, 2.0, 2.0, 3.0)


def test_latest_values_are_kept_per_run(
    client: TrackingClient, run_id: str, store_dir: Path
) -> None:
    other = client.create_run("0").info.run_id
    for step in range(3):
        client.log_metric(run_id, "m", float(step), step=step)
        client.log_metric(other, "m", float(-step), step=step)
    client.flush()
    assert _latest(store_dir, client._store.run_pk(run_id), "m") == (2, 2.0, 0.0, 2.0)
    assert _latest(store_dir, client._store.run_pk(other), "m") == (2, -2.0, -2.0, 0.0)


def test_a_long_batch_repeating_steps_keeps_the_last_value_of_each(
    client: TrackingClient, run_id: str, store_dir: Path
) -> None:
    # Long enough for several multi-row statements plus a remainder; every step
    # is logged three times, the copies far apart and within one statement alike.
    steps = 1000
    first = [("m", float(s), None, s) for s in range(steps)]
    second = [("m", float(s) + 0.5, None, s) for s in range(steps)]
    third = [("m", -float(s), None, s) for s in range(0, steps, 7)]
    nearby = [point for s in range(steps) for point in (("n", 1.0, None, s), ("n", 2.0, None, s))]
    client.log_batch(run_id, metrics=first + second + third + nearby)
    client.flush()
    run_pk = client._store.run_pk(run_id)
    stored = dict(
        _query(
            store_dir,
            "SELECT m.step, m.value FROM metrics m JOIN metric_keys k USING (key_id) "
            "WHERE m.run_pk = ? AND k.key = 'm' ORDER BY m.step",
            run_pk,
        )
    )
    expected = {s: (-float(s) if s % 7 == 0 else float(s) + 0.5) for s in range(steps)}
    assert stored == expected
    history = client.get_metric_history(run_id, "n")
    assert [(m.step, m.value) for m in history] == [(s, 2.0) for s in range(steps)]


def test_a_producer_faster_than_the_writer_waits_instead_of_growing_the_queue(
    client: TrackingClient, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbtrack.store import _writer

    monkeypatch.setattr(_writer, "WAKE_BACKLOG", 100)
    monkeypatch.setattr(_writer, "MAX_BACKLOG", 500)
    monkeypatch.setattr(_writer, "MAX_BACKLOG_POINTS", 5_000)
    writer = client._store.writer
    longest = 0
    for i in range(5_000):
        client.log_metric(run_id, "loss", float(i), step=i)
        longest = max(longest, len(writer._queue))
    assert longest <= 500
    for i in range(20):
        client.log_batch(
            run_id, metrics=[("acc", float(s), None, i * 1000 + s) for s in range(1000)]
        )
        assert writer._batch_points <= 5_000 + 1000
    client.flush()
    assert len(client.get_metric_history(run_id, "loss")) == 5_000
    assert len(client.get_metric_history(run_id, "acc")) == 20_000
    assert writer._batch_points == 0


@pytest.mark.parametrize("batched", [False, True])
def test_replaced_values_leave_min_max_and_latest(
    client: TrackingClient, run_id: str, store_dir: Path, batched: bool
) -> None:
    run_pk = client._store.run_pk(run_id)

    def log(points: list[tuple[int, float]]) -> None:
        if batched:
            client.log_batch(run_id, metrics=[("m", v, None, s) for s, v in points])
        else:
            for step, value in points:
                client.log_metric(run_id, "m", value, step=step)
        client.flush()

    log([(0, 5.0), (1, 1.0), (2, 3.0), (3, 2.0), (4, 4.0)])
    assert _latest(store_dir, run_pk, "m") == (4, 4.0, 1.0, 5.0)
    # Re-running the cell that logged steps 0-1 replaces the old extremes.
    log([(0, 2.5), (1, 2.0)])
    assert _latest(store_dir, run_pk, "m") == (4, 4.0, 2.0, 4.0)
    # Replacing the latest step's value replaces the latest value.
    log([(4, 10.0)])
    assert _latest(store_dir, run_pk, "m") == (4, 10.0, 2.0, 10.0)
    assert client.get_run(run_id).data.metrics == {"m": 10.0}
