"""The one background writer of a store in this process.

``log_*`` calls append a small tuple to a deque and return: no I/O, no lock,
no wake-up on the hot path. A daemon thread drains the deque every
``interval`` seconds (or at once when asked to flush, or when the backlog is
large) and writes each drained batch in a single ``BEGIN IMMEDIATE``
transaction. ``flush()`` returns when everything enqueued before it is
committed. Functions submitted with :meth:`BackgroundWriter.call` run on the
writer thread too, so the process never has two writers racing each other.

Metric points logged with ``step=None`` are queued without a step: the
writer gives each the next step of its series inside the write transaction,
from the stored maximum, so processes logging to one key never take the same
step (``BEGIN IMMEDIATE`` on SQLite, the run's row locked elsewhere).

Failures are contained and bounded:

* a batch that fails because of its values is split in halves until the bad
  operations (or points of a ``log_batch``) are found; the rest is stored;
* a batch that fails because of the database (disk full, read-only file, I/O
  error) is tried :data:`RETRY_DELAYS_S` more times, then reported as a whole;
* the next ``flush()`` raises :class:`~nbtrack.exceptions.WriteError` with the
  number of values lost and the first :data:`MAX_LISTED_FAILURES` failures, and
  the log gets as many lines.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from itertools import groupby
from operator import itemgetter
from typing import Any, Final, TypeVar

import sqlalchemy as sa

from nbtrack._validation import MAX_STEP
from nbtrack.exceptions import InvalidInputError, WriteError
from nbtrack.store import _dialect, _liveness, schema
from nbtrack.store._writer_statements import WriterStatements, intern_keys

log = logging.getLogger(__name__)

T = TypeVar("T")

# Operation kinds: the first element of every queued tuple.
# ``cell_seq`` is the run's timeline entry that logged the value, or None.
# ``rewrite``: the step may already hold a value (it is not past the metric's last step).
OP_METRIC: Final = 0  # (OP_METRIC, run_pk, key, value, timestamp_ms, step, cell_seq, rewrite)
OP_PARAM: Final = 1  # (OP_PARAM, run_pk, key, value, cell_seq)
OP_TAG: Final = 2  # (OP_TAG, run_pk, key, value, cell_seq)
OP_STATEMENT: Final = 3  # (OP_STATEMENT, core_statement, description)
OP_CALL: Final = 4  # (OP_CALL, fn, _Call)
OP_FLUSH: Final = 5  # (OP_FLUSH, threading.Event)
# (OP_CELL, run_pk, seq, cell_id, execution_count, source, start_ms, duration_ms,
#  outcome, error_type, error_message): a timeline entry, written again when it ends
OP_CELL: Final = 6
# (OP_METRICS, run_pk, [(run_pk, key_id, step, timestamp_ms, value), ...], cell_seq, rewrite,
#  auto): a log_batch, already in the metrics table's row shape (NaN as None); ``auto``:
#  some steps are None (the series' next step, given by the writer)
# A step of None in OP_METRIC too is the series' next step.
OP_METRICS: Final = 7

#: Backlog length at which the hot path wakes the writer early.
WAKE_BACKLOG = 50_000
#: Queued operations, and points queued by batches, past which a producer waits for
#: the writer to catch up (to half of it): a loop that logs faster than SQLite can
#: write would otherwise grow the queue, and the process, without bound.
MAX_BACKLOG = 500_000
MAX_BACKLOG_POINTS = 5_000_000
#: Segments at least this long get their summaries from SQL; shorter ones
#: (a notebook's metric per cell) are cheaper to summarise in Python.
SQL_SUMMARY_MIN_ROWS = 64
#: Points in one queued batch at which the writer is woken at once.
WAKE_BATCH_POINTS = 1000
#: Largest number of operations written in one transaction: a loop logging as fast
#: as it can still sees a commit (and readers such as a live chart see its points)
#: every ~0.1 s, at no cost in throughput.
MAX_BATCH = 50_000
HEARTBEAT_INTERVAL_S = 30.0
#: Pauses before trying a batch again that failed because of the database rather
#: than its values (disk full, read-only file, I/O error): two more tries, ~0.3 s.
RETRY_DELAYS_S = (0.05, 0.25)
#: A failed part of a batch with at most this many operations (or points of one
#: log_batch) is tried one by one rather than halved again: finding one bad value
#: in 50,000 takes ~40 transactions, and when every value is bad (values are checked
#: when logged, so that takes a bug) ~1.1 per value.
ONE_BY_ONE_BELOW = 16
#: Failures listed one by one in a WriteError and in the log; later ones are counted.
MAX_LISTED_FAILURES = 10
#: Characters kept of one failure's message (a driver's error can quote a whole statement).
MAX_FAILURE_CHARS = 300


class _Call:
    """The result slot of a function run on the writer thread."""

    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class BackgroundWriter:
    """Queues writes and commits them in batches from one daemon thread."""

    def __init__(self, engine: sa.Engine, *, interval: float = 0.1) -> None:
        self._engine = engine
        self._interval = interval
        self._queue: collections.deque[tuple[Any, ...]] = collections.deque()
        self._wake = threading.Event()
        self._stopping = False
        self._busy = False
        self._errors: list[str] = []  # the first MAX_LISTED_FAILURES since the last flush
        self._lost = 0  # values lost since the last flush
        self._unlisted = 0  # failures since the last flush beyond the listed ones
        self._errors_lock = threading.Lock()
        self._batch_points = 0  # points queued by put_batch and not yet taken by the writer
        self._points_lock = threading.Lock()
        self._key_ids: dict[str, int] = {}
        self._heartbeat_runs: set[int] = set()
        self._last_heartbeat = time.monotonic()
        self._statements = WriterStatements(engine)
        self._thread = threading.Thread(target=self._run, name="nbtrack-writer", daemon=True)
        self._thread.start()

    # -- producer side (any thread) -------------------------------------------------

    def put(self, op: tuple[Any, ...]) -> None:
        """Enqueue one operation (hot path: an append and a length check)."""
        queue = self._queue
        queue.append(op)
        if len(queue) >= WAKE_BACKLOG:
            self._wake.set()
            if len(queue) >= MAX_BACKLOG:
                self._wait_for_room()

    def put_batch(self, op: tuple[Any, ...], size: int) -> None:
        """Enqueue one operation that carries ``size`` points (a ``log_batch``).

        A large batch wakes the writer at once, so writing overlaps the
        caller's preparation of the next batch.
        """
        with self._points_lock:
            self._batch_points += size
        self._queue.append(op)
        if size >= WAKE_BATCH_POINTS or len(self._queue) >= WAKE_BACKLOG:
            self._wake.set()
        if self._batch_points >= MAX_BACKLOG_POINTS or len(self._queue) >= MAX_BACKLOG:
            self._wait_for_room()

    def _wait_for_room(self) -> None:
        """Hold the producer until the writer has taken half of the backlog."""
        if threading.current_thread() is self._thread:
            return
        while (
            len(self._queue) > MAX_BACKLOG // 2 or self._batch_points > MAX_BACKLOG_POINTS // 2
        ) and self._thread.is_alive():
            self._wake.set()
            time.sleep(0.005)

    def put_many(self, ops: Iterable[tuple[Any, ...]]) -> None:
        """Enqueue several operations in order."""
        self._queue.extend(ops)
        if len(self._queue) >= WAKE_BACKLOG:
            self._wake.set()

    def call(self, fn: Callable[[sa.Connection], T]) -> T:
        """Run ``fn(conn)`` in a write transaction on the writer thread and return its result.

        Everything enqueued before is committed first, so ``fn`` sees it.
        Exceptions raised by ``fn`` are re-raised here.
        """
        if threading.current_thread() is self._thread:
            with _dialect.write_transaction(self._engine) as conn:
                return fn(conn)
        slot = _Call()
        self._queue.append((OP_CALL, fn, slot))
        self._wake.set()
        self._wait_alive(slot.done)
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[no-any-return]

    def flush(self, timeout: float | None = None) -> None:
        """Return once everything enqueued before this call is durable.

        Raises :class:`WriteError` if any queued write failed since the last flush.
        """
        if self._queue or self._busy:
            done = threading.Event()
            self._queue.append((OP_FLUSH, done))
            self._wake.set()
            if not self._wait_alive(done, timeout):
                raise WriteError(f"flush did not finish within {timeout} s")
        with self._errors_lock:
            errors, lost, unlisted = self._errors, self._lost, self._unlisted
            self._errors, self._lost, self._unlisted = [], 0, 0
        if errors:
            more = f"\n  ... and {unlisted} more failure(s)" if unlisted else ""
            raise WriteError(
                f"{lost} logged value(s) could not be stored:\n  " + "\n  ".join(errors) + more
            )

    def pending(self) -> int:
        """How many operations wait to be written."""
        return len(self._queue)

    def is_alive(self) -> bool:
        """Whether the writer thread still runs (it stops at :meth:`close`)."""
        return self._thread.is_alive()

    def add_heartbeat(self, run_pk: int) -> None:
        """Keep the run's heartbeats fresh while this process lives.

        ``runs.heartbeat`` (while RUNNING) and this process's ``run_writers`` row.
        """
        self._heartbeat_runs.add(run_pk)

    def remove_heartbeat(self, run_pk: int) -> None:
        """Stop refreshing a run's heartbeat (the run ended)."""
        self._heartbeat_runs.discard(run_pk)

    def close(self) -> None:
        """Flush and stop the thread (called at exit)."""
        if not self._thread.is_alive():
            return
        try:
            self.flush()
        except WriteError as exc:
            log.error("nbtrack: %s", exc)
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=30)

    def _wait_alive(self, event: threading.Event, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not event.wait(0.5):
            if not self._thread.is_alive():
                raise WriteError("the nbtrack writer thread has stopped; nothing more is written")
            if deadline is not None and time.monotonic() > deadline:
                return False
        return True

    # -- writer thread --------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self._drain()
                self._maybe_heartbeat()
            except Exception:  # the thread must survive anything
                log.exception("nbtrack writer: unexpected failure")
            if self._stopping and not self._queue:
                return

    def _drain(self) -> None:
        queue = self._queue
        while queue:
            self._busy = True
            try:
                batch: list[tuple[Any, ...]] = []
                popleft = queue.popleft
                for _ in range(min(len(queue), MAX_BATCH)):
                    op = popleft()
                    kind = op[0]
                    if kind == OP_METRICS:
                        with self._points_lock:
                            self._batch_points -= len(op[2])
                    if kind in (OP_CALL, OP_FLUSH):
                        self._write(batch)
                        batch = []
                        self._control(op)
                    else:
                        batch.append(op)
                self._write(batch)
            finally:
                self._busy = False

    def _control(self, op: tuple[Any, ...]) -> None:
        if op[0] == OP_FLUSH:
            op[1].set()
            return
        _, fn, slot = op
        try:
            with _dialect.write_transaction(self._engine) as conn:
                slot.result = fn(conn)
        except BaseException as exc:  # handed back to the caller
            slot.error = exc
        finally:
            slot.done.set()

    def _write(self, batch: list[tuple[Any, ...]]) -> None:
        if not batch:
            return
        error = self._attempt(batch)
        if error is None:
            return
        if _database_failure(error):
            for delay in RETRY_DELAYS_S:
                time.sleep(delay)
                error = self._attempt(batch)
                if error is None:
                    return
                if not _database_failure(error):
                    break
            else:
                self._record_error(batch, error)
                return
        log.warning(
            "nbtrack writer: batch of %d failed (%s); retrying in parts to find the bad values",
            len(batch),
            _error_text(error),
        )
        self._isolate(batch, error)

    def _attempt(self, ops: list[tuple[Any, ...]]) -> Exception | None:
        """Write ``ops`` in one transaction; the error if it failed (and was rolled back)."""
        try:
            with _dialect.write_transaction(self._engine) as conn:
                self._apply(conn, ops)
        except Exception as exc:
            self._key_ids.clear()  # ids made in the rolled-back transaction are gone
            return exc
        return None

    def _isolate(self, ops: list[tuple[Any, ...]], error: Exception) -> None:
        """Store what can be stored of ``ops`` (which failed with ``error``), in order.

        Parts are written one after the other, and a failing part is split
        again, down to single operations and single points of a batch. A
        database failure meanwhile (the disk filled up) fails the part whole.
        """
        parts = _split(ops)
        if parts is None or _database_failure(error):
            self._record_error(ops, error)
            return
        for part in parts:
            failed = self._attempt(part)
            if failed is not None:
                self._isolate(part, failed)

    def _record_error(self, ops: list[tuple[Any, ...]], exc: Exception) -> None:
        values = sum(len(op[2]) if op[0] == OP_METRICS else 1 for op in ops)
        what = _describe(ops[0])
        if len(ops) > 1:
            what = f"{len(ops)} operations ({values} values; the first: {what})"
        message = f"{what}: {_error_text(exc)}"
        with self._errors_lock:
            self._lost += values
            listed = len(self._errors) < MAX_LISTED_FAILURES
            if listed:
                self._errors.append(message)
            else:
                self._unlisted += 1
        if listed:
            log.error("nbtrack writer: could not store %s", message)
            if len(self._errors) == MAX_LISTED_FAILURES:
                log.error("nbtrack writer: further failures are counted, not logged, until flush")

    def _apply(self, conn: sa.Connection, batch: list[tuple[Any, ...]]) -> None:
        """Write a batch, grouping rows by table between statements.

        Rows of one kind keep their order (the last value of a tag or step
        wins); a statement (a status change, a tag deletion) is executed only
        after every row queued before it.
        """
        groups: dict[int, list[tuple[Any, ...]]] = {
            OP_METRIC: [],
            OP_METRICS: [],
            OP_PARAM: [],
            OP_TAG: [],
            OP_CELL: [],
        }
        for op in batch:
            group = groups.get(OP_METRIC if op[0] == OP_METRICS else op[0])
            if group is not None:
                group.append(op)
                continue
            self._write_groups(conn, groups)
            conn.execute(op[1])
        self._write_groups(conn, groups)

    def _write_groups(self, conn: sa.Connection, groups: dict[int, list[tuple[Any, ...]]]) -> None:
        if groups[OP_PARAM]:
            self._statements.params.run(conn, [op[1:] for op in groups[OP_PARAM]])
        if groups[OP_TAG]:
            self._statements.tags.run(conn, [op[1:] for op in groups[OP_TAG]])
        if groups[OP_METRIC]:
            self._write_metrics(conn, groups[OP_METRIC])
        if groups[OP_CELL]:
            self._write_cells(conn, groups[OP_CELL])
        for group in groups.values():
            group.clear()

    def _write_cells(self, conn: sa.Connection, ops: list[tuple[Any, ...]]) -> None:
        # A cell's "running" entry and its final one usually share a batch:
        # only the last entry per (run, seq) is written, each source hashed once.
        last: dict[tuple[int, int], tuple[Any, ...]] = {}
        for op in ops:
            last[(op[1], op[2])] = op
        shas: dict[str, str] = {}
        rows = []
        for (
            _,
            run_pk,
            seq,
            cell_id,
            count,
            source,
            start,
            duration,
            outcome,
            etype,
            emsg,
        ) in last.values():
            # Cell text comes unchecked from the kernel (an exception message may quote
            # an undecodable file name): lone surrogates are replaced, not fatal.
            source, cell_id, etype, emsg = (
                _storable(source),
                _storable(cell_id),
                _storable(etype),
                _storable(emsg),
            )
            sha = shas.get(source)
            if sha is None:
                sha = shas[source] = hashlib.sha256(
                    source.encode("utf-8", "surrogatepass")
                ).hexdigest()
            rows.append((run_pk, seq, cell_id, count, sha, start, duration, outcome, etype, emsg))
        self._statements.sources.run(conn, [(sha, source) for source, sha in shas.items()])
        self._statements.cells.run(conn, rows)

    def _write_metrics(self, conn: sa.Connection, ops: list[tuple[Any, ...]]) -> None:
        """Insert metric rows, then merge each touched series' latest/min/max.

        This runs for every point logged and bounds batch throughput: batches
        arrive already in row shape, and when no point can replace a stored
        one (steps past each metric's last), the per-series summaries are read
        back with SQL over the batch's step range (SQLite's C code, with the
        GIL released) instead of being computed point by point in Python.
        """
        key_ids = self._key_ids
        missing = {op[2] for op in ops if op[0] == OP_METRIC} - key_ids.keys()
        if missing:
            key_ids.update(intern_keys(conn, missing))
        segments = _segments(ops, key_ids, _NextSteps(conn, self._statements))
        # A replaced value is gone from the table before SQL could see it: when
        # any point of the batch may replace one, summarise every point in Python.
        exact = any(segment[2] for segment in segments)
        rows: list[tuple[Any, ...]] = []
        touched: dict[tuple[int, int], list[int]] = {}  # (run_pk, key_id) -> [low, high step]
        spans: list[tuple[Any, ...]] = []
        summaries: list[tuple[Any, ...]] = []
        for run_pk, cell_seq, _, segment in segments:
            rows.extend(segment)
            if exact or len(segment) < SQL_SUMMARY_MIN_ROWS:
                summaries.extend(_summaries(segment))
            else:
                low, high = min(segment, key=_STEP)[2], max(segment, key=_STEP)[2]
                for key_id in {row[1] for row in segment}:
                    window = touched.setdefault((run_pk, key_id), [low, high])
                    window[0], window[1] = min(window[0], low), max(window[1], high)
            if cell_seq is not None:
                spans.extend(_cell_spans(segment, cell_seq))
        self._statements.metrics.run(conn, rows)
        for (run_pk, key_id), (low, high) in touched.items():
            summaries.append(self._series_summary(conn, run_pk, key_id, low, high))
        # Rows for the same series merge in the upsert, in order.
        self._statements.latest.run(conn, summaries)
        # A replaced value may have been a series' min, max or latest: those series'
        # summaries are read again over the whole series and replace the merged ones.
        rewritten = {(row[0], row[1]) for segment in segments if segment[2] for row in segment[3]}
        if rewritten:
            self._statements.latest_exact.run(
                conn,
                [
                    self._series_summary(conn, run_pk, key_id, -(2**63), 2**63 - 1)
                    for run_pk, key_id in sorted(rewritten)
                ],
            )
        if spans:
            self._statements.metric_cells.run(conn, spans)

    def _series_summary(
        self, conn: sa.Connection, run_pk: int, key_id: int, low: int, high: int
    ) -> tuple[Any, ...]:
        """A latest_metrics row for one series from the stored points with steps in [low, high]."""
        ((lowest, highest, top),) = self._statements.extremes.all(conn, run_pk, key_id, low, high)
        ((timestamp, value),) = self._statements.point.all(conn, run_pk, key_id, top)
        return (run_pk, key_id, top, timestamp, value, lowest, highest)

    def _maybe_heartbeat(self) -> None:
        now = time.monotonic()
        if not self._heartbeat_runs or now - self._last_heartbeat < HEARTBEAT_INTERVAL_S:
            return
        self._last_heartbeat = now
        runs, writers = schema.runs, schema.run_writers
        run_pks = list(self._heartbeat_runs)
        beat = time.time_ns() // 1_000_000
        with _dialect.write_transaction(self._engine) as conn:
            conn.execute(
                runs.update()
                .where(runs.c.run_pk.in_(run_pks))
                .where(runs.c.status == "RUNNING")
                .values(heartbeat=beat)
            )
            conn.execute(
                writers.update()
                .where(writers.c.run_pk.in_(run_pks))
                .where(writers.c.host == _liveness.HOST)
                .where(writers.c.pid == os.getpid())
                .values(heartbeat=beat)
            )


def _storable(text: Any) -> Any:
    """``text`` with lone surrogates (which have no UTF-8 form) replaced by U+FFFD."""
    if type(text) is not str or text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Through UTF-16 with surrogatepass: a surrogate pair becomes its character,
        # a lone surrogate U+FFFD.
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


_SERIES = itemgetter(0, 1)
_STEP = itemgetter(2)


def _summaries(segment: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Latest point and min/max of each series among metric rows, in Python."""
    out = []
    for (run_pk, key_id), group in groupby(sorted(segment, key=_SERIES), key=_SERIES):
        series = list(group)
        last = max(reversed(series), key=_STEP)  # the last logged of the top step
        values = [row[4] for row in series if row[4] is not None]
        low, high = (min(values), max(values)) if values else (None, None)
        out.append((run_pk, key_id, last[2], last[3], last[4], low, high))
    return out


def _cell_spans(segment: list[tuple[Any, ...]], cell_seq: int) -> list[tuple[Any, ...]]:
    """``(run_pk, key_id, cell_seq, first_step, last_step, count)`` per series of a segment."""
    spans = []
    for (run_pk, key_id), group in groupby(sorted(segment, key=_SERIES), key=_SERIES):
        steps = [row[2] for row in group]
        spans.append((run_pk, key_id, cell_seq, min(steps), max(steps), len(steps)))
    return spans


Segment = tuple[int, int | None, bool, list[tuple[Any, ...]]]


class _NextSteps:
    """Steps for points logged with ``step=None``, within one write transaction.

    A series' first such point of the transaction continues after the larger of
    its stored last step (read here, under the write lock, so another process's
    points are counted) and the steps of this transaction's rows before it;
    later ones follow it. Never below 0, as a first step is 0 even after
    negative ones.
    """

    __slots__ = ("_conn", "_explicit", "_locked", "_statements", "last")

    def __init__(self, conn: sa.Connection, statements: WriterStatements) -> None:
        self._conn = conn
        self._statements = statements
        self._locked: set[int] = set()
        #: (run_pk, key_id) -> last step in this transaction, for series with auto steps.
        self.last: dict[tuple[int, int], int] = {}
        #: (run_pk, key_id) -> largest explicit step in this transaction so far, for
        #: the other series; built at the first auto step (one pass), then kept by saw().
        self._explicit: dict[tuple[int, int], int] | None = None

    def next(self, run_pk: int, key_id: int, segments: list[Segment]) -> int:
        series = (run_pk, key_id)
        last = self.last.get(series)
        if last is None:
            last = self._start(run_pk, key_id, segments)
        if last >= MAX_STEP:
            raise InvalidInputError(
                f"this metric already has the largest step ({MAX_STEP}); "
                "give later points explicit steps"
            )
        self.last[series] = last + 1
        return last + 1

    def saw(self, run_pk: int, key_id: int, step: int) -> None:
        """An explicit step, once this transaction has auto steps."""
        series = (run_pk, key_id)
        last = self.last.get(series)
        if last is not None:
            if step > last:
                self.last[series] = step
            return
        explicit = self._explicit
        if explicit is not None and step > explicit.get(series, step - 1):
            explicit[series] = step

    def _start(self, run_pk: int, key_id: int, segments: list[Segment]) -> int:
        statements = self._statements
        if statements.lock_run is not None and run_pk not in self._locked:
            statements.lock_run.all(self._conn, run_pk)
            self._locked.add(run_pk)
        ((stored,),) = statements.max_step.all(self._conn, run_pk, key_id)
        last = -1 if stored is None else max(int(stored), -1)
        explicit = self._explicit
        if explicit is None:  # the rows of this transaction so far, not inserted yet
            explicit = self._explicit = {}
            for segment in segments:
                for row in segment[3]:
                    series = (row[0], row[1])
                    if row[2] > explicit.get(series, row[2] - 1):
                        explicit[series] = row[2]
        return max(last, explicit.pop((run_pk, key_id), -1))


def _segments(  # noqa: PLR0912 (one loop per point: inlined, not split into calls)
    ops: list[tuple[Any, ...]], key_ids: dict[str, int], steps: _NextSteps
) -> list[Segment]:
    """Consecutive metric ops of one run, cell and rewrite flag, as table rows.

    ``(run_pk, cell_seq, rewrite, [(run_pk, key_id, step, timestamp, value), ...])``
    in logging order, every step assigned.
    """
    segments: list[Segment] = []
    current: tuple[int, int | None, bool] | None = None
    rows: list[tuple[Any, ...]] = []
    auto = steps.last  # non-empty once a series got an auto step: explicit steps count too
    # The series of the last log_metric(step=None) and its step, kept in locals while
    # the same series repeats (a logging loop) and put back into ``auto`` when another
    # op needs it.
    cached_run: int | None = None
    cached_key: int | None = None
    cached = 0
    for op in ops:
        ident = (op[1], op[3], op[4]) if op[0] == OP_METRICS else (op[1], op[6], op[7])
        if ident != current:
            current, rows = ident, []
            segments.append((*ident, rows))
        if op[0] == OP_METRICS:
            if cached_key is not None:
                auto[(cached_run, cached_key)] = cached  # type: ignore[index]
                cached_key = None
            if op[5]:
                _fill_steps(op[2], rows, segments, steps)
            else:
                if auto:
                    for row in op[2]:
                        steps.saw(row[0], row[1], row[2])
                rows.extend(op[2])
        else:
            _, run_pk, key, value, timestamp, step = op[:6]
            key_id = key_ids[key]
            if step is None:
                if key_id == cached_key and run_pk == cached_run and cached < MAX_STEP:
                    cached += 1
                    step = cached
                else:
                    if cached_key is not None:
                        auto[(cached_run, cached_key)] = cached  # type: ignore[index]
                    step = cached = steps.next(run_pk, key_id, segments)
                    cached_run, cached_key = run_pk, key_id
            elif auto:
                if cached_key is not None:
                    auto[(cached_run, cached_key)] = cached  # type: ignore[index]
                    cached_key = None
                steps.saw(run_pk, key_id, step)
            # value != value only for NaN, which is stored as NULL.
            rows.append((run_pk, key_id, step, timestamp, None if value != value else value))  # noqa: PLR0124
    if cached_key is not None:
        auto[(cached_run, cached_key)] = cached  # type: ignore[index]
    return segments


def _fill_steps(
    batch: list[tuple[Any, ...]],
    rows: list[tuple[Any, ...]],
    segments: list[Segment],
    steps: _NextSteps,
) -> None:
    """Append a batch's rows to ``rows`` (the current segment's), giving None steps theirs."""
    append = rows.append
    for row in batch:
        if row[2] is None:
            append((row[0], row[1], steps.next(row[0], row[1], segments), row[3], row[4]))
        else:
            steps.saw(row[0], row[1], row[2])
            append(row)


def _split(ops: list[tuple[Any, ...]]) -> list[list[tuple[Any, ...]]] | None:
    """``ops`` in halves, or one by one when few, in order; None for a single value.

    A single log_batch is split by its points.
    """
    if len(ops) > 1:
        if len(ops) <= ONE_BY_ONE_BELOW:
            return [[op] for op in ops]
        middle = len(ops) // 2
        return [ops[:middle], ops[middle:]]
    op = ops[0]
    rows = op[2] if op[0] == OP_METRICS else ()
    if len(rows) <= 1:
        return None
    if len(rows) <= ONE_BY_ONE_BELOW:
        return [[(*op[:2], [row], *op[3:])] for row in rows]
    middle = len(rows) // 2
    return [[(*op[:2], rows[:middle], *op[3:])], [(*op[:2], rows[middle:], *op[3:])]]


_NAMES = {OP_METRIC: "metric", OP_PARAM: "param", OP_TAG: "tag", OP_CELL: "cell"}


def _describe(op: tuple[Any, ...]) -> str:
    """What one queued operation writes, for a failure report."""
    if op[0] == OP_STATEMENT:
        return str(op[2])
    if op[0] == OP_METRICS:  # a whole batch's rows would flood the log
        rows = op[2]
        if len(rows) == 1:
            return f"point at step {rows[0][2]} of metric #{rows[0][1]} of run #{op[1]} (log_batch)"
        return f"metric batch of {len(rows)} points of run #{op[1]}"
    if op[0] == OP_CELL:
        return f"cell #{op[2]} of run #{op[1]}"
    key = op[2]
    shown = repr(key) if len(key) <= 60 else repr(key[:57] + "...")
    return f"{_NAMES[op[0]]} {shown} of run #{op[1]}"


def _error_text(exc: BaseException) -> str:
    """``Type: message`` of a failure, without SQL text or parameters, kept short."""
    if isinstance(exc, sa.exc.StatementError) and exc.orig is not None:
        exc = exc.orig  # SQLAlchemy's message quotes the statement and its parameters
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_FAILURE_CHARS else text[: MAX_FAILURE_CHARS - 3] + "..."


def _database_failure(exc: BaseException) -> bool:
    """Whether a write failed because of the database, not of the values written.

    Disk full, a read-only file, an I/O error, a lock held past the busy timeout:
    every part of the batch would fail the same way, so it is not split.
    """
    if isinstance(exc, sa.exc.OperationalError):
        return True
    cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    # sqlite3.DatabaseError itself (not a subclass): "file is not a database", "malformed".
    return isinstance(cause, sqlite3.OperationalError) or type(cause) is sqlite3.DatabaseError
