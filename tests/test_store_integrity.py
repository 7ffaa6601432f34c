"""Store integrity: values the store cannot hold are refused when logged, and a bad
value that reaches the writer anyway (or a full disk) costs only itself, reported briefly.

Reproductions of issue 11 (points 6, 7 and the numeric part of 12).
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

import nbtrack
from _backends import Backend
from _tag_helpers import user_tags
from nbtrack import InvalidInputError, TrackingClient, WriteError
from nbtrack import _validation as check
from nbtrack.store import _writer
from nbtrack.store._writer_ops import metric_op, statement_op, tag_op
from nbtrack.store.sql_store import SqlStore
from test_writer import writer_held

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


@pytest.fixture
def run_id(client: TrackingClient) -> str:
    return client.create_run("0").info.run_id


def _count(store_dir: Path, sql: str, *args: object) -> Any:
    conn = sqlite3.connect(store_dir / "nbtrack.db")
    try:
        return conn.execute(sql, args).fetchone()[0]
    finally:
        conn.close()


# -- refused at the call: steps ------------------------------------------------------------


@pytest.mark.parametrize("bad", [2**63, -(2**63) - 1, 10**30, np.uint64(2**64 - 1)])
def test_steps_outside_int64_are_refused_when_logged(
    client: TrackingClient, run_id: str, bad: object
) -> None:
    client.log_metric(run_id, "m", 1.0, step=0)
    with pytest.raises(InvalidInputError, match=r"step -?\d+ of metric 'm' is out of range"):
        client.log_metric(run_id, "m", 2.0, step=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="steps are 64-bit integers"):
        client.log_batch(run_id, metrics=[("m", 3.0, None, 1), ("m", 4.0, None, bad)])
    client.flush()  # nothing failed later in the writer
    assert [(p.step, p.value) for p in client.get_metric_history(run_id, "m")] == [(0, 1.0)]


def test_the_int64_extremes_are_valid_steps(client: TrackingClient, run_id: str) -> None:
    client.log_metric(run_id, "m", 1.0, step=INT64_MIN)
    client.log_batch(run_id, metrics=[("m", 2.0, None, INT64_MAX)])
    assert [p.step for p in client.get_metric_history(run_id, "m")] == [INT64_MIN, INT64_MAX]


def test_no_automatic_step_after_the_largest_one(
    client: TrackingClient, run_id: str, store_dir: Path
) -> None:
    client.log_metric(run_id, "m", 1.0, step=INT64_MAX)
    with pytest.raises(InvalidInputError, match="already has the largest step"):
        client.log_metric(run_id, "m", 2.0)
    with pytest.raises(InvalidInputError, match="already has the largest step"):
        client.log_batch(run_id, metrics=[("m", 2.0, None, None)])
    client.flush()
    nbtrack.store.close_all()
    # A process that did not log the largest step itself: the writer refuses the point alone.
    reopened = TrackingClient(store_dir)
    reopened.log_metric(run_id, "other", 5.0)
    store = reopened._store
    with writer_held(store.writer):
        store.writer.put(metric_op(store.run_pk(run_id), "m", 3.0, 0, None, None, False))
        reopened.log_metric(run_id, "other", 6.0)
    with pytest.raises(WriteError, match=r"(?s)^1 logged value\(s\).*metric 'm'.*largest step"):
        reopened.flush()
    assert [p.value for p in reopened.get_metric_history(run_id, "m")] == [1.0]
    assert [p.value for p in reopened.get_metric_history(run_id, "other")] == [5.0, 6.0]


# -- refused at the call: timestamps ---------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "hint"),
    [
        (1_764_000_000_000_000_000, "time.time_ns()"),  # nanoseconds
        (1_764_000_000_000_000, "time.time_ns()"),  # microseconds
        (2**64, "time.time_ns()"),
        (-(2**63), ""),
    ],
)
def test_timestamps_out_of_range_are_refused_when_logged(
    client: TrackingClient, run_id: str, bad: int, hint: str
) -> None:
    message = r"timestamp -?\d+ is out of range.*from -9223372036854 \(1677\) to 9223372036854"
    with pytest.raises(InvalidInputError, match=message) as info:
        client.log_metric(run_id, "m", 1.0, timestamp=bad)
    assert hint in str(info.value)
    with pytest.raises(InvalidInputError, match=message):
        client.log_batch(run_id, metrics=[("m", 1.0, 1000, 0), ("m", 1.0, bad, 1)])
    with pytest.raises(InvalidInputError, match=message):
        client.create_run("0", start_time=bad)
    with pytest.raises(InvalidInputError, match=message):
        client.set_terminated(run_id, end_time=bad)
    client.flush()
    assert client.get_metric_history(run_id, "m") == []
    assert client.get_run(run_id).info.status == "RUNNING"
    assert len(client.search_runs("0")) == 1


def test_timestamp_extremes_are_stored_and_shown(client: TrackingClient, run_id: str) -> None:
    client.log_metric(run_id, "m", 1.0, timestamp=check.MAX_TIMESTAMP_MS, step=0)
    client.log_metric(run_id, "m", 2.0, timestamp=check.MIN_TIMESTAMP_MS, step=1)
    run = client.create_run("0", start_time=check.MIN_TIMESTAMP_MS).info.run_id
    client.set_terminated(run, end_time=check.MAX_TIMESTAMP_MS)
    stamps = [p.timestamp for p in client.get_metric_history(run_id, "m")]
    assert stamps == [check.MAX_TIMESTAMP_MS, check.MIN_TIMESTAMP_MS]
    frame = client.search_runs_frame("0")  # the run table turns them into datetimes
    assert 1677 in set(frame["start_time"].dt.year)
    assert 2262 in set(frame["end_time"].dropna().dt.year)


# -- refused at the call: text -------------------------------------------------------------


def test_lone_surrogates_are_refused_when_logged(
    client: TrackingClient, run_id: str, store_dir: Path
) -> None:
    bad = "caf\udce9"  # os.fsdecode(b"caf\xe9") on a UTF-8 system
    with pytest.raises(InvalidInputError, match=r"param 'p' holds a lone surrogate '\\udce9'"):
        client.log_param(run_id, "p", bad)
    with pytest.raises(InvalidInputError, match=r"tag 't' holds a lone surrogate"):
        client.set_tag(run_id, "t", bad)
    with pytest.raises(InvalidInputError, match=r"contains '\\udce9'"):
        client.log_metric(run_id, bad, 1.0)
    with pytest.raises(InvalidInputError, match=r"contains '\\udce9'"):
        client.set_tag(run_id, bad, "v")
    with pytest.raises(InvalidInputError, match="run name holds a lone surrogate"):
        client.create_run("0", run_name=bad)
    with pytest.raises(InvalidInputError, match="run name holds a lone surrogate"):
        client.update_run(run_id, name=bad)
    with pytest.raises(InvalidInputError, match="experiment name holds a lone surrogate"):
        client.create_experiment(bad)
    with pytest.raises(InvalidInputError, match=r"tag 'k' holds a lone surrogate"):
        client.create_experiment("fine", tags={"k": bad})
    nbtrack.start_run(run_name="fluent")
    with pytest.raises(InvalidInputError, match="holds a lone surrogate"):
        nbtrack.log_params({"good": 1, "bad": bad})
    with pytest.raises(InvalidInputError, match="holds a lone surrogate"):
        nbtrack.set_tags({"bad": bad})
    nbtrack.end_run()  # flushes: nothing refused reached the writer
    client.flush()
    assert _count(store_dir, "SELECT count(*) FROM params") == 0
    assert _count(store_dir, "SELECT count(*) FROM tags WHERE key IN ('t', 'bad')") == 0
    # Valid non-ASCII text is untouched.
    client.log_param(run_id, "p", "café ☕ \N{GREEK SMALL LETTER ALPHA}")
    assert client.get_run(run_id).data.params == {"p": "café ☕ \N{GREEK SMALL LETTER ALPHA}"}


# -- numbers (issue 11, point 12) ----------------------------------------------------------


@pytest.mark.parametrize("huge", [10**400, -(10**309), Fraction(10**400, 3), np.int64(5)])
def test_numbers_beyond_a_float_are_refused_with_their_range(
    client: TrackingClient, run_id: str, huge: object
) -> None:
    if isinstance(huge, np.integer):  # a numpy int is fine: the control case
        client.log_metric(run_id, "m", huge, step=0)
        assert client.get_run(run_id).data.metrics == {"m": 5.0}
        return
    with pytest.raises(InvalidInputError, match=r"metric 'm' got .* out of the range of a float"):
        client.log_metric(run_id, "m", huge, step=0)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="out of the range of a float"):
        client.log_batch(run_id, metrics=[("m", 1.0, None, 0), ("m", huge, None, 1)])
    message = ""
    try:
        check.metric_value("m", huge)
    except InvalidInputError as exc:
        message = str(exc)
    assert len(message) < 300  # a 400-digit number is not printed in full
    client.flush()
    assert client.get_metric_history(run_id, "m") == []


def test_largest_floats_and_ints_that_fit_are_kept(client: TrackingClient, run_id: str) -> None:
    client.log_metric(run_id, "m", 2**1023, step=0)
    client.log_metric(run_id, "m", -1.7976931348623157e308, step=1)
    values = [p.value for p in client.get_metric_history(run_id, "m")]
    assert values == [float(2**1023), -1.7976931348623157e308]


def test_negative_zero_comes_back_as_zero(client: TrackingClient, run_id: str) -> None:
    """Documented (README, Store integrity): SQLite's REAL columns keep no sign of zero."""
    client.log_metric(run_id, "z", -0.0, step=0)
    (point,) = client.get_metric_history(run_id, "z")
    assert point.value == 0.0
    assert math.copysign(1.0, point.value) == 1.0


# -- a bad value that reaches the writer costs only itself -------------------------------


def test_a_bad_point_inside_a_batch_loses_only_itself(
    client: TrackingClient, run_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = client._store
    client.log_metric(run_id, "m", -1.0, step=-1)
    client.flush()
    batch = store.prepare_metrics(run_id, [("m", float(i), 1000 + i, i) for i in range(1000)])
    rows = list(batch.rows)
    rows[500] = (*rows[500][:2], 2**63, *rows[500][3:])  # past validation, as by a bug
    store.queue_metrics(run_id, batch._replace(rows=rows))
    with pytest.raises(WriteError) as info:
        client.flush()
    message = str(info.value)
    assert message.startswith("1 logged value(s) could not be stored")
    assert "point at step 9223372036854775808 of metric #" in message
    assert "OverflowError" in message
    assert "retrying in parts" in caplog.text
    steps = [p.step for p in client.get_metric_history(run_id, "m")]
    assert steps == [-1, *range(500), *range(501, 1000)]
    assert client.get_run(run_id).data.metrics == {"m": 999.0}


def test_bad_text_reaching_the_writer_loses_only_itself(
    client: TrackingClient, run_id: str, store_dir: Path
) -> None:
    store = client._store
    run_pk = store.run_pk(run_id)
    with writer_held(store.writer):
        client.set_tag(run_id, "before", "1")
        store.writer.put(tag_op(run_pk, "bad", "x\ud800", None))
        client.log_metric(run_id, "m", 1.0)
        client.set_tag(run_id, "after", "2")
    expected = r"(?s)^1 logged value\(s\).*tag 'bad'.*UnicodeEncodeError"
    with pytest.raises(WriteError, match=expected):
        client.flush()
    assert user_tags(client.get_run(run_id).data.tags) == {"before": "1", "after": "2"}
    assert client.get_run(run_id).data.metrics == {"m": 1.0}


def test_many_failures_are_counted_and_only_the_first_listed(
    client: TrackingClient, run_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    writer = client._store.writer
    bad = sa.text("INSERT INTO params (run_pk, key, value) VALUES (1, 'k', NULL)")  # NOT NULL
    with caplog.at_level(logging.ERROR, logger="nbtrack"):
        with writer_held(writer):
            for i in range(200):
                writer.put(statement_op(bad, f"bad statement {i}"))
                client.log_metric(run_id, "m", float(i))
        with pytest.raises(WriteError) as info:
            client.flush()
    message = str(info.value)
    listed = _writer.MAX_LISTED_FAILURES
    assert message.startswith("200 logged value(s) could not be stored")
    assert message.count("bad statement") == listed
    assert f"... and {200 - listed} more failure(s)" in message
    assert len(message) < 200 * listed
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) <= listed + 1
    # Every good point of the batch is there.
    values = [p.value for p in client.get_metric_history(run_id, "m")]
    assert values == [float(i) for i in range(200)]
    client.flush()  # reported once


# -- disk full (issue 11, point 7) --------------------------------------------------------


def test_a_full_disk_is_reported_briefly_after_bounded_retries(
    client: TrackingClient, run_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    client.log_metric(run_id, "m", 0.0, step=0)
    client.flush()
    points = 100_000
    with caplog.at_level(logging.WARNING, logger="nbtrack"):
        begun, message = _log_on_full_disk(client, run_id, points)
    batches = math.ceil(points / _writer.MAX_BATCH)
    attempts = 1 + len(_writer.RETRY_DELAYS_S)
    assert begun <= batches * attempts  # tried again twice, never point by point
    assert message.startswith(f"{points} logged value(s) could not be stored")
    assert "database or disk is full" in message
    assert "INSERT" not in message  # no SQL text, no parameters
    assert len(message) < 2000
    assert len(caplog.text) < 5000
    assert "retrying in parts" not in caplog.text
    # Space again: logging carries on, and what was stored before is intact.
    client.log_metric(run_id, "m", 1.0)
    client.flush()
    assert [(p.step, p.value) for p in client.get_metric_history(run_id, "m")] == [
        (0, 0.0),
        (1, 1.0),
    ]


def _log_on_full_disk(client: TrackingClient, run_id: str, points: int) -> tuple[int, str]:
    """Log ``points`` points while the disk is full; (write transactions begun, WriteError)."""
    engine = client._store.engine
    with engine.connect() as conn:
        pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar() or 0)
    begun = 0

    def cap(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 1}")

    def count(conn: sa.Connection) -> None:
        nonlocal begun
        if conn.get_execution_options().get("nbtrack_write"):
            begun += 1

    writer = client._store.writer
    sa.event.listen(engine, "connect", cap)
    try:
        engine.dispose()  # pooled connections reconnect, capped
        with writer_held(writer):  # every point is queued before the writer sees one
            sa.event.listen(engine, "begin", count)
            for i in range(points):
                client.log_metric(run_id, "m", float(i), step=i + 1)
        with pytest.raises(WriteError) as info:
            client.flush()
    finally:
        sa.event.remove(engine, "connect", cap)
        if sa.event.contains(engine, "begin", count):
            sa.event.remove(engine, "begin", count)
        engine.dispose()
    return begun, str(info.value)


# -- durability (issue 11, point 13) -------------------------------------------------------


@pytest.fixture
def durability_reset() -> Iterator[None]:
    yield
    nbtrack.store.set_durability(None)


def _synchronous(client: TrackingClient) -> tuple[int, int]:
    """``PRAGMA synchronous`` of the writer's connection and of a reading one (1 NORMAL, 2 FULL)."""
    store = client._store
    written = store.writer.call(lambda conn: conn.exec_driver_sql("PRAGMA synchronous").scalar())
    with store.engine.connect() as conn:
        read = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    return int(written), int(read)


def test_durability_is_normal_by_default(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NBTRACK_DURABILITY", raising=False)
    assert _synchronous(client) == (1, 1)


@pytest.mark.usefixtures("durability_reset")
def test_full_durability_from_the_environment_reaches_every_connection(
    client: TrackingClient, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    nbtrack.store.close_all()
    monkeypatch.setenv("NBTRACK_DURABILITY", " Full ")
    reopened = TrackingClient(client.tracking_uri)
    assert _synchronous(reopened) == (2, 2)
    reopened.log_metric(run_id, "m", 1.0)
    reopened.flush()
    assert reopened.get_run(run_id).data.metrics == {"m": 1.0}


@pytest.mark.usefixtures("durability_reset")
def test_set_durability_applies_to_an_open_store(
    client: TrackingClient, run_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NBTRACK_DURABILITY", raising=False)
    client.log_metric(run_id, "m", 1.0)
    assert _synchronous(client) == (1, 1)
    nbtrack.store.set_durability("full")
    assert _synchronous(client) == (2, 2)
    client.log_metric(run_id, "m", 2.0)
    nbtrack.store.set_durability(None)  # back to the environment's: normal
    assert _synchronous(client) == (1, 1)
    assert [p.value for p in client.get_metric_history(run_id, "m")] == [1.0, 2.0]


@pytest.mark.usefixtures("durability_reset")
def test_unknown_durability_is_refused_by_name(
    store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InvalidInputError, match="unknown durability 'paranoid'; use 'normal'"):
        nbtrack.store.set_durability("paranoid")
    monkeypatch.setenv("NBTRACK_DURABILITY", "fsync")
    with pytest.raises(InvalidInputError, match="NBTRACK_DURABILITY: unknown durability 'fsync'"):
        TrackingClient(store_dir).search_runs()


@pytest.mark.usefixtures("durability_reset")
def test_tracker_durability_setting_reaches_the_connection(
    ip: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NBTRACK_DURABILITY", raising=False)
    assert ip.run_cell("%track start").success
    client = nbtrack.active_run().client  # type: ignore[union-attr]
    assert _synchronous(client) == (1, 1)
    assert ip.run_cell("%config Tracker.durability = 'full'").success
    assert _synchronous(client) == (2, 2)
    assert ip.run_cell("%config Tracker.durability = ''").success
    assert _synchronous(client) == (1, 1)


def test_the_hot_path_literals_are_the_documented_bounds() -> None:
    for bound in (check.MIN_STEP, check.MAX_STEP):
        assert check.step("m", bound) == bound
    for bound in (check.MIN_TIMESTAMP_MS, check.MAX_TIMESTAMP_MS):
        assert check.timestamp(bound) == bound
    for outside in (check.MIN_STEP - 1, check.MAX_STEP + 1):
        with pytest.raises(InvalidInputError):
            check.step("m", outside)
    for outside in (check.MIN_TIMESTAMP_MS - 1, check.MAX_TIMESTAMP_MS + 1):
        with pytest.raises(InvalidInputError):
            check.timestamp(outside)
    assert check.MIN_STEP == -(2**63)
    assert check.MAX_STEP == 2**63 - 1
    assert check.MIN_TIMESTAMP_MS == -check.MAX_TIMESTAMP_MS == -(2**63 // 10**6)


def test_cell_text_with_lone_surrogates_is_stored_with_replacements(
    client: TrackingClient, run_id: str
) -> None:
    """The kernel's cell text is not checked at the call (the hook never raises): the writer
    stores it with U+FFFD for each lone surrogate, and a surrogate pair as its character."""
    store = client._store
    source = "open('caf\udce9.txt')  # \ud83d\ude00"
    error = ValueError("no file named caf\udce9.txt")
    seq = store.begin_cell(run_id, "cell-\udce9", 1, source, 1000)
    client.log_metric(run_id, "m", 1.0)
    store.end_cell(run_id, seq, "cell-\udce9", 1, source, 1000, 5, error)
    client.flush()  # nothing failed
    (event,) = client.get_cell_timeline(run_id)
    assert event.source == "open('caf\ufffd.txt')  # \N{GRINNING FACE}"
    assert event.cell_id == "cell-\ufffd"
    assert event.error_type == "ValueError"
    assert event.error_message == "no file named caf\ufffd.txt"
    assert client.get_run(run_id).data.metrics == {"m": 1.0}


def test_cell_text_with_nul_is_stored_with_replacements(backend: Backend) -> None:
    """NUL in the kernel's cell text (PostgreSQL text cannot hold it) becomes U+FFFD,
    on both backends alike, and the rest of the batch is stored."""
    client = TrackingClient(backend.store)
    run_id = client.create_run("0").info.run_id
    store = client._store
    source = "raise ValueError('a\x00b')"
    seq = store.begin_cell(run_id, "cell-1", 1, source, 1000)
    client.log_metric(run_id, "m", 1.0)
    store.end_cell(run_id, seq, "cell-1", 1, source, 1000, 5, ValueError("a\x00b"))
    client.flush()  # nothing failed
    (event,) = client.get_cell_timeline(run_id)
    assert event.source == "raise ValueError('a\ufffdb')"
    assert event.error_message == "a\ufffdb"
    assert client.get_run(run_id).data.metrics == {"m": 1.0}


# -- automatic steps (issue 11, point 4; the multi-process test is in test_concurrency) ---------


def test_automatic_steps_follow_explicit_ones_within_one_write(
    client: TrackingClient, run_id: str
) -> None:
    store = client._store
    with writer_held(store.writer):  # one transaction: the writer assigns from its rows
        client.log_metric(run_id, "a", 1.0, step=5)
        client.log_metric(run_id, "a", 2.0)
        client.log_batch(run_id, metrics=[("a", 3.0, None, None), ("b", 4.0, None, 3)])
        client.log_batch(run_id, metrics=[("b", 5.0, None, None), ("c", 6.0, None, -4)])
        client.log_metric(run_id, "c", 7.0)  # after only negative steps: 0
        client.log_metric(run_id, "a", 8.0, step=2)  # replaces nothing, moves nothing
        client.log_metric(run_id, "a", 9.0)
    steps = {
        key: [(p.step, p.value) for p in client.get_metric_history(run_id, key)] for key in "abc"
    }
    assert steps == {
        "a": [(2, 8.0), (5, 1.0), (6, 2.0), (7, 3.0), (8, 9.0)],
        "b": [(3, 4.0), (4, 5.0)],
        "c": [(-4, 6.0), (0, 7.0)],
    }


def test_two_writers_on_one_key_never_take_the_same_automatic_step(
    client: TrackingClient, run_id: str
) -> None:
    """Two stores on one file, as two processes: each writer reads the stored last step."""
    other = SqlStore(client._store.uri)
    try:
        client.log_metric(run_id, "m", 0.0)
        client.flush()
        for i in range(1, 50):
            if i % 2:
                other.log_metric(run_id, "m", float(i), 0, None)
                other.flush()
            else:
                client.log_metric(run_id, "m", float(i))
                client.flush()
        # Both queue at once; their writers commit one after the other.
        for i in range(50, 60):
            other.log_metric(run_id, "m", float(i), 0, None)
            client.log_metric(run_id, "m", float(i) + 0.5)
        other.flush()
        client.flush()
    finally:
        other.close()
    history = client.get_metric_history(run_id, "m")
    assert [p.step for p in history] == list(range(70))
    values = sorted(p.value for p in history)
    assert values == sorted([float(i) for i in range(60)] + [i + 0.5 for i in range(50, 60)])


def test_undecodable_artifact_file_names_are_refused_before_anything_is_stored(
    client: TrackingClient, run_id: str, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInputError, match="artifact_file holds a lone surrogate"):
        client.log_text(run_id, "x", "caf\udce9.txt")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "good.txt").write_text("good")
    (folder / "caf\udce9.txt").write_bytes(b"bad name")  # b"caf\xe9.txt" on disk
    with pytest.raises(InvalidInputError, match="artifact path holds a lone surrogate"):
        client.log_artifacts(run_id, folder)
    client.flush()  # nothing failed in the writer
    assert client.list_artifacts(run_id) == []  # not even good.txt: checked first
