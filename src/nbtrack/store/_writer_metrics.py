"""How the background writer stores metric points (see :mod:`._writer`).

Points queued by ``log_metric`` (:func:`~._writer_ops.metric_op`) and by
``log_batch`` (:func:`~._writer_ops.metrics_op`) become metrics-table rows
``(run_pk, key_id, step, timestamp, value)`` grouped in segments (one run,
cell and rewrite flag), with every ``step=None`` given the series' next step
inside the write transaction; then each touched series' latest value, min
and max are merged into ``latest_metrics``, and the cells' step ranges into
``metric_cells``.
"""

from __future__ import annotations

from itertools import groupby
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

from nbtrack._validation import MAX_STEP
from nbtrack.exceptions import InvalidInputError
from nbtrack.store._writer_ops import METRIC_KEY, OP_METRIC, OP_METRICS
from nbtrack.store._writer_statements import WriterStatements, intern_keys

#: Segments at least this long get their summaries from SQL; shorter ones
#: (a notebook's metric per cell) are cheaper to summarise in Python.
SQL_SUMMARY_MIN_ROWS = 64


def write_metrics(
    conn: sa.Connection,
    statements: WriterStatements,
    key_ids: dict[str, int],
    ops: list[tuple[Any, ...]],
) -> None:
    """Insert metric rows, then merge each touched series' latest/min/max.

    ``key_ids`` caches metric names' ids (new names are interned in ``conn``).
    This runs for every point logged and bounds batch throughput: batches
    arrive already in row shape, and when no point can replace a stored
    one (steps past each metric's last), the per-series summaries are read
    back with SQL over the batch's step range (SQLite's C code, with the
    GIL released) instead of being computed point by point in Python.
    """
    # log_metric's points name their metric; batches come with ids
    missing = {op[METRIC_KEY] for op in ops if op[0] == OP_METRIC} - key_ids.keys()
    if missing:
        key_ids.update(intern_keys(conn, missing))
    segments = _segments(ops, key_ids, _NextSteps(conn, statements))
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
    statements.metrics.run(conn, rows)
    for (run_pk, key_id), (low, high) in touched.items():
        summaries.append(_series_summary(conn, statements, run_pk, key_id, low, high))
    # Rows for the same series merge in the upsert, in order.
    statements.latest.run(conn, summaries)
    # A replaced value may have been a series' min, max or latest: those series'
    # summaries are read again over the whole series and replace the merged ones.
    rewritten = {(row[0], row[1]) for segment in segments if segment[2] for row in segment[3]}
    if rewritten:
        statements.latest_exact.run(
            conn,
            [
                _series_summary(conn, statements, run_pk, key_id, -(2**63), 2**63 - 1)
                for run_pk, key_id in sorted(rewritten)
            ],
        )
    if spans:
        statements.metric_cells.run(conn, spans)


def _series_summary(
    conn: sa.Connection,
    statements: WriterStatements,
    run_pk: int,
    key_id: int,
    low: int,
    high: int,
) -> tuple[Any, ...]:
    """A latest_metrics row for one series from the stored points with steps in [low, high]."""
    ((lowest, highest, top),) = statements.extremes.all(conn, run_pk, key_id, low, high)
    ((timestamp, value),) = statements.point.all(conn, run_pk, key_id, top)
    return (run_pk, key_id, top, timestamp, value, lowest, highest)


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
        if op[0] == OP_METRICS:
            _, run_pk, batch, cell_seq, rewrite, auto_steps = op
            ident = (run_pk, cell_seq, rewrite)
            if ident != current:
                current, rows = ident, []
                segments.append((*ident, rows))
            if cached_key is not None:
                auto[(cached_run, cached_key)] = cached  # type: ignore[index]
                cached_key = None
            if auto_steps:
                _fill_steps(batch, rows, segments, steps)
            else:
                if auto:
                    for row in batch:
                        steps.saw(row[0], row[1], row[2])
                rows.extend(batch)
            continue
        _, run_pk, key, value, timestamp, step, cell_seq, rewrite = op
        ident = (run_pk, cell_seq, rewrite)
        if ident != current:
            current, rows = ident, []
            segments.append((*ident, rows))
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
