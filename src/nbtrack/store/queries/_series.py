"""Metric histories kept between polls and read incrementally.

A chart polls the history of a run that is still logging: reading 10^6 points
into Python takes about a second of a CPU the training process wants too.
Instead each series read once stays in memory (numpy arrays) and a later poll
reads only the points whose step is above the last one held.

Points are also rewritten in place (a cell re-run logs the same steps again).
To see that, the held points are verified at most every ``recheck_after``
seconds, in the same read transaction as the new points: the count, the sum
of timestamps and the sum of values of the points verified last time, computed
in SQL in one scan (about 0.1 s per 10^6 points), must be unchanged, and the
points held but not yet verified are read again. A change means a full read.
So appended points show at once and rewritten ones within ``recheck_after``.

Entries are dropped least recently used first beyond a budget of points; a
series larger than the budget is read in full every time.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from nbtrack.store import schema
from nbtrack.store.queries import _history

if TYPE_CHECKING:
    import numpy.typing as npt

    from nbtrack.store.queries import Queries

_metrics = schema.metrics


@dataclass(frozen=True)
class Series:
    """One metric of one run, by step: steps, timestamps (ms) and values (NaN for NaN)."""

    steps: npt.NDArray[np.int64]
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    #: The points at or below this step were verified ...
    verified_upto: int = -1
    #: ... and had this ``(count, sum of timestamps, sum of values)``, as SQL computed it ...
    check: tuple[Any, ...] = ()
    #: ... at this ``time.monotonic()``.
    verified_at: float = 0.0

    def __len__(self) -> int:
        return len(self.steps)


EMPTY = Series(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))


class SeriesCache:
    """Histories by (store, run, metric), up to ``budget`` points in all (thread-safe)."""

    def __init__(self, budget: int, recheck_after: float) -> None:
        self.budget = budget
        self.recheck_after = recheck_after
        self._entries: OrderedDict[tuple[str, str, str], Series] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, queries: Queries, run_id: str, key: str) -> Series:
        """The history of ``key`` in run ``run_id`` of the store read, as committed now.

        Raises :class:`~nbtrack.exceptions.NotFoundError` for an unknown run.
        """
        store = queries._store
        run_pk = store.run_pk(run_id)
        cache_key = (store.uri, run_id, key)
        with self._lock:
            held = self._entries.get(cache_key)
        # One connection, one read transaction: new points and the verification of
        # held ones come from the same snapshot of the database.
        with store.engine.connect() as conn:
            key_id = _history.key_id(conn, key)
            if key_id is None:
                return EMPTY
            series = None
            read = _Reader(conn, run_pk, key_id)
            if held is not None and len(held):
                due = time.monotonic() - held.verified_at >= self.recheck_after
                series = read.verified(held) if due else read.appended(held)
            if series is None:
                series = read.all()
        self._keep(cache_key, series)
        return series

    def _keep(self, cache_key: tuple[str, str, str], series: Series) -> None:
        with self._lock:
            self._entries.pop(cache_key, None)
            if len(series) > self.budget:
                return
            self._entries[cache_key] = series
            total = sum(len(s) for s in self._entries.values())
            while total > self.budget:
                _, dropped = self._entries.popitem(last=False)
                total -= len(dropped)


def _arrays(rows: list[tuple[Any, ...]]) -> tuple[Any, Any, Any]:
    n = len(rows)
    return (
        np.fromiter(map(itemgetter(0), rows), np.int64, n),
        np.fromiter(map(itemgetter(1), rows), np.int64, n),
        # dtype=float64 turns the NULLs that stand for NaN into NaN.
        np.array(list(map(itemgetter(2), rows)), np.float64),
    )


def _check_columns(step_limit: int | None = None) -> list[Any]:
    """Count, timestamp sum and value sum of the points (at or below ``step_limit``)."""
    if step_limit is None:
        return [sa.func.count(), sa.func.sum(_metrics.c.timestamp), sa.func.sum(_metrics.c.value)]
    below = _metrics.c.step <= step_limit
    # The same figures for a subset: the same rows in the same (key) order give
    # bit-identical sums, so equality is exact.
    return [
        sa.func.sum(sa.case((below, 1), else_=0)),
        sa.func.sum(sa.case((below, _metrics.c.timestamp))),
        sa.func.sum(sa.case((below, _metrics.c.value))),
    ]


def _joined(head: Series, count: int, rows: list[tuple[Any, ...]]) -> tuple[Any, Any, Any]:
    """The first ``count`` points of ``head`` followed by ``rows``."""
    steps, timestamps, values = _arrays(rows)
    return (
        np.concatenate((head.steps[:count], steps)),
        np.concatenate((head.timestamps[:count], timestamps)),
        np.concatenate((head.values[:count], values)),
    )


class _Reader:
    """Reads of one series on one connection (one snapshot of the database)."""

    def __init__(self, conn: sa.Connection, run_pk: int, key_id: int) -> None:
        self.conn, self.run_pk, self.key_id = conn, run_pk, key_id
        self.where = _history.series_where(run_pk, key_id)

    def points(self, after_step: int | None = None) -> list[tuple[Any, ...]]:
        """``(step, timestamp, value)`` rows by step (the one history read of the store)."""
        return _history.point_rows(self.conn, self.run_pk, self.key_id, after_step=after_step)

    def all(self) -> Series:
        """The whole series, with the check figures of every point."""
        rows = self.points()
        if not rows:
            return EMPTY
        check = tuple(self.conn.execute(sa.select(*_check_columns()).where(*self.where)).one())
        return Series(*_arrays(rows), int(rows[-1][0]), check, time.monotonic())

    def appended(self, held: Series) -> Series:
        """``held`` plus the points logged after its last step (held points taken on trust)."""
        rows = self.points(int(held.steps[-1]))
        if not rows:
            return held
        arrays = _joined(held, len(held), rows)
        return Series(*arrays, held.verified_upto, held.check, held.verified_at)

    def verified(self, held: Series) -> Series | None:
        """``held`` checked against the database, unverified points read again; None if changed."""
        upto = held.verified_upto
        # One scan: the check of the points verified last time, and the same for all of them.
        checks = self.conn.execute(
            sa.select(*_check_columns(upto), *_check_columns()).where(*self.where)
        ).one()
        if tuple(checks[:3]) != held.check:
            return None
        rows = self.points(upto)
        verified = int(np.searchsorted(held.steps, upto, side="right"))
        last = int(rows[-1][0]) if rows else upto
        return Series(*_joined(held, verified, rows), last, tuple(checks[3:]), time.monotonic())
