"""The one background writer of a store in this process.

``log_*`` calls append a small named tuple (one of :mod:`._writer_ops`) to a
deque and return: no I/O, no lock, no wake-up on the hot path. A daemon thread
drains the deque every ``interval`` seconds (or at once when asked to flush, or
when the backlog is large) and writes each drained batch in a single
``BEGIN IMMEDIATE`` transaction. ``flush()`` returns when everything enqueued
before it is committed. How a batch becomes rows is :mod:`._writer_batch`'s
part (metric points: :mod:`._writer_metrics`). Functions submitted with
:meth:`BackgroundWriter.call` run on the writer thread too, so the process
never has two writers racing each other.

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
import logging
import os
import random
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import sqlalchemy as sa

from nbtrack.exceptions import WriteError
from nbtrack.store import _dialect, _liveness, schema
from nbtrack.store._writer_batch import BatchWriter
from nbtrack.store._writer_ops import (
    OP_CALL,
    OP_FLUSH,
    OP_METRICS,
    CallSlot,
    MetricsOp,
    WriteOp,
    call_op,
    describe,
    flush_op,
    split,
    values_in,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Backlog length at which the hot path wakes the writer early.
WAKE_BACKLOG = 50_000
#: Queued operations, and points queued by batches, past which a producer waits for
#: the writer to catch up (to half of it): a loop that logs faster than SQLite can
#: write would otherwise grow the queue, and the process, without bound.
MAX_BACKLOG = 500_000
MAX_BACKLOG_POINTS = 5_000_000
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
#: Pauses before trying again a batch that PostgreSQL rolled back to resolve a
#: conflict with another writer (deadlock, serialization failure): the other
#: transaction goes on, so ours succeeds once it is done. Jittered so that two
#: victims do not meet again; ~3 s in all before the batch counts as failed.
CONFLICT_RETRY_DELAYS_S = (0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
#: A failed part of a batch with at most this many operations (or points of one
#: log_batch) is tried one by one rather than halved again: finding one bad value
#: in 50,000 takes ~40 transactions, and when every value is bad (values are checked
#: when logged, so that takes a bug) ~1.1 per value.
ONE_BY_ONE_BELOW = 16
#: Failures listed one by one in a WriteError and in the log; later ones are counted.
MAX_LISTED_FAILURES = 10
#: Characters kept of one failure's message (a driver's error can quote a whole statement).
MAX_FAILURE_CHARS = 300


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
        self._heartbeat_runs: set[int] = set()
        self._last_heartbeat = time.monotonic()
        self._batches = BatchWriter(engine)
        self._thread = threading.Thread(target=self._run, name="nbtrack-writer", daemon=True)
        self._thread.start()

    # -- producer side (any thread) -------------------------------------------------

    def put(self, op: WriteOp) -> None:
        """Enqueue one operation (hot path: an append and a length check)."""
        queue = self._queue
        queue.append(op)
        if len(queue) >= WAKE_BACKLOG:
            self._wake.set()
            if len(queue) >= MAX_BACKLOG:
                self._wait_for_room()

    def put_batch(self, op: MetricsOp, size: int) -> None:
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

    def put_many(self, ops: Iterable[WriteOp]) -> None:
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
        slot = CallSlot()
        self._queue.append(call_op(fn, slot))
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
            self._queue.append(flush_op(done))
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
                    if kind in (OP_CALL, OP_FLUSH):
                        self._write(batch)
                        batch = []
                        self._control(op)
                        continue
                    if kind == OP_METRICS:
                        with self._points_lock:
                            self._batch_points -= values_in(op)
                    batch.append(op)
                self._write(batch)
            finally:
                self._busy = False

    def _control(self, op: tuple[Any, ...]) -> None:
        if op[0] == OP_FLUSH:
            _, done = op
            done.set()
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
        for delay in CONFLICT_RETRY_DELAYS_S:
            if not _transaction_conflict(error):
                break
            time.sleep(delay * (0.5 + random.random()))  # noqa: S311 (jitter, not security)
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
                self._batches.apply(conn, ops)
        except Exception as exc:
            self._batches.forget_key_ids()  # ids made in the rolled-back transaction are gone
            return exc
        return None

    def _isolate(self, ops: list[tuple[Any, ...]], error: Exception) -> None:
        """Store what can be stored of ``ops`` (which failed with ``error``), in order.

        Parts are written one after the other, and a failing part is split
        again, down to single operations and single points of a batch. A
        database failure meanwhile (the disk filled up) fails the part whole.
        """
        parts = split(ops, ONE_BY_ONE_BELOW)
        if parts is None or _database_failure(error):
            self._record_error(ops, error)
            return
        for part in parts:
            failed = self._attempt(part)
            if failed is not None:
                self._isolate(part, failed)

    def _record_error(self, ops: list[tuple[Any, ...]], exc: Exception) -> None:
        values = sum(values_in(op) for op in ops)
        what = describe(ops[0])
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
    psycopg = sys.modules.get("psycopg")  # prepared reads run on the driver, unwrapped
    if psycopg is not None and isinstance(cause, psycopg.OperationalError):
        return True
    # sqlite3.DatabaseError itself (not a subclass): "file is not a database", "malformed".
    return isinstance(cause, sqlite3.OperationalError) or type(cause) is sqlite3.DatabaseError


def _transaction_conflict(exc: BaseException) -> bool:
    """Whether PostgreSQL rolled the write back for a conflict (SQLSTATE class 40).

    A deadlock or serialization failure says nothing about the values: the same
    transaction succeeds when tried again.
    """
    cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    return str(getattr(cause, "sqlstate", "") or "").startswith("40")
