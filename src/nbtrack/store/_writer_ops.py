"""The operations queued for the background writer (see :mod:`._writer`).

Every operation is a plain tuple whose first element is its kind (``OP_*``);
each kind has its shape (a type alias) and its constructor here, and
producers build operations only with these constructors. Plain tuples, not
NamedTuples: a NamedTuple's constructor made ``log_metric``'s enqueue ~14%
slower (and a logging loop with its writes ~8%), a function returning a tuple
costs next to nothing. The writer reads operations by unpacking them into
named variables.

``cell_seq`` is the run's timeline entry (cell) that logged the value, or None.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Final, TypeAlias

import sqlalchemy as sa

OP_METRIC: Final = 0
OP_PARAM: Final = 1
OP_TAG: Final = 2
OP_STATEMENT: Final = 3
OP_CALL: Final = 4
OP_FLUSH: Final = 5
OP_CELL: Final = 6
OP_METRICS: Final = 7

#: ``(OP_METRIC, run_pk, key, value, timestamp_ms, step, cell_seq, rewrite)``
MetricOp: TypeAlias = tuple[int, int, str, float, int, int | None, int | None, bool]
#: ``(OP_METRICS, run_pk, rows, cell_seq, rewrite, auto)``
MetricsOp: TypeAlias = tuple[int, int, list[tuple[Any, ...]], int | None, bool, bool]
#: ``(OP_PARAM, run_pk, key, value, cell_seq)``
ParamOp: TypeAlias = tuple[int, int, str, str, int | None]
#: ``(OP_TAG, run_pk, key, value, cell_seq)``
TagOp: TypeAlias = tuple[int, int, str, str, int | None]
#: ``(OP_CELL, run_pk, seq, cell_id, execution_count, source, start_ms, duration_ms,
#: outcome, error_type, error_message)``
CellOp: TypeAlias = tuple[
    int, int, int, str | None, int | None, str, int, int | None, str, str | None, str | None
]
#: ``(OP_STATEMENT, statement, description)``
StatementOp: TypeAlias = tuple[int, sa.Executable, str]
#: Where a :data:`MetricOp` holds the metric's name: read by index in the writer's
#: loop over a batch, where unpacking eight fields per point would cost.
METRIC_KEY: Final = 2

#: What producers may queue (control operations are made by the writer itself).
WriteOp: TypeAlias = MetricOp | MetricsOp | ParamOp | CellOp | StatementOp


def metric_op(
    run_pk: int,
    key: str,
    value: float,
    timestamp: int,
    step: int | None,
    cell_seq: int | None,
    rewrite: bool,
) -> MetricOp:
    """One ``log_metric`` point.

    ``step`` None: the series' next step, given by the writer when it writes
    the point. ``rewrite``: the step may already hold a value (it is not past
    the metric's last step logged by this process), so the writer takes more care.
    """
    return (OP_METRIC, run_pk, key, value, timestamp, step, cell_seq, rewrite)


def metrics_op(
    run_pk: int, rows: list[tuple[Any, ...]], cell_seq: int | None, rewrite: bool, auto: bool
) -> MetricsOp:
    """A ``log_batch``'s points, already in the metrics table's row shape.

    ``rows``: ``(run_pk, key_id, step, timestamp, value)`` with NaN as None.
    ``auto``: some steps are None (each the series' next step, given by the writer).
    """
    return (OP_METRICS, run_pk, rows, cell_seq, rewrite, auto)


def param_op(run_pk: int, key: str, value: str, cell_seq: int | None) -> ParamOp:
    """A param (a param keeps its first value)."""
    return (OP_PARAM, run_pk, key, value, cell_seq)


def tag_op(run_pk: int, key: str, value: str, cell_seq: int | None) -> TagOp:
    """A tag (a tag set again takes the new value)."""
    return (OP_TAG, run_pk, key, value, cell_seq)


def value_row(op: ParamOp | TagOp) -> tuple[int, str, str, int | None]:
    """A param's or tag's row for its table: ``(run_pk, key, value, cell_seq)``."""
    return op[1:]


def cell_op(
    run_pk: int,
    seq: int,
    cell_id: str | None,
    execution_count: int | None,
    source: str,
    start_ms: int,
    duration_ms: int | None = None,
    outcome: str = "running",
    error_type: str | None = None,
    error_message: str | None = None,
) -> CellOp:
    """A cell timeline entry: queued when the cell starts, and again when it ends.

    A running cell has no ``duration_ms`` and the outcome ``"running"``; the
    last entry queued for a ``(run_pk, seq)`` wins.
    """
    return (
        OP_CELL,
        run_pk,
        seq,
        cell_id,
        execution_count,
        source,
        start_ms,
        duration_ms,
        outcome,
        error_type,
        error_message,
    )


def statement_op(statement: sa.Executable, description: str) -> StatementOp:
    """A Core statement executed in order with the rows around it.

    ``description`` names what it writes in a failure report.
    """
    return (OP_STATEMENT, statement, description)


class CallSlot:
    """The result slot of a function run on the writer thread."""

    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


def call_op(fn: Callable[[sa.Connection], Any], slot: CallSlot) -> tuple[int, Any, CallSlot]:
    """``(OP_CALL, fn, slot)``: ``fn(conn)`` in its own transaction after what was queued before."""
    return (OP_CALL, fn, slot)


def flush_op(done: threading.Event) -> tuple[int, threading.Event]:
    """``(OP_FLUSH, done)``: ``done`` is set once everything queued before is committed."""
    return (OP_FLUSH, done)


def values_in(op: tuple[Any, ...]) -> int:
    """How many logged values ``op`` carries (the points of a batch, else one)."""
    if op[0] == OP_METRICS:
        _, _, rows, *_ = op
        return len(rows)
    return 1


_NAMES = {OP_METRIC: "metric", OP_PARAM: "param", OP_TAG: "tag"}


def describe(op: tuple[Any, ...]) -> str:
    """What one queued operation writes, for a failure report."""
    kind = op[0]
    if kind == OP_STATEMENT:
        _, _, description = op
        return str(description)
    if kind == OP_METRICS:  # a whole batch's rows would flood the log
        _, run_pk, rows, *_ = op
        if len(rows) == 1:
            _, key_id, step, *_ = rows[0]
            return f"point at step {step} of metric #{key_id} of run #{run_pk} (log_batch)"
        return f"metric batch of {len(rows)} points of run #{run_pk}"
    if kind == OP_CELL:
        _, run_pk, seq, *_ = op
        return f"cell #{seq} of run #{run_pk}"
    _, run_pk, key, *_ = op
    shown = repr(key) if len(key) <= 60 else repr(key[:57] + "...")
    return f"{_NAMES[kind]} {shown} of run #{run_pk}"


def split(ops: list[tuple[Any, ...]], one_by_one_below: int) -> list[list[tuple[Any, ...]]] | None:
    """``ops`` in halves, or one by one when at most ``one_by_one_below``, in order.

    A single ``log_batch`` is split by its points; None for a single value.
    """
    if len(ops) > 1:
        if len(ops) <= one_by_one_below:
            return [[op] for op in ops]
        middle = len(ops) // 2
        return [ops[:middle], ops[middle:]]
    if ops[0][0] != OP_METRICS:
        return None
    _, run_pk, rows, cell_seq, rewrite, auto = ops[0]
    if len(rows) <= 1:
        return None
    if len(rows) <= one_by_one_below:
        parts = [[row] for row in rows]
    else:
        middle = len(rows) // 2
        parts = [rows[:middle], rows[middle:]]
    return [[metrics_op(run_pk, part, cell_seq, rewrite, auto)] for part in parts]
