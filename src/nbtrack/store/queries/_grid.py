"""Many histories at once for a chart grid (the Experiments view), sampled past a size.

A history whose step range fits in ``max_points`` is read whole (through the
caller's :class:`~._series.SeriesCache`, shared with the run view's charts). A
longer one is sampled in SQL at ``max_points`` evenly spaced steps by index
seeks, as MLflow's bulk-interval history does: reading 200 series of 100,000
points in full (or scanning them for per-bucket extremes) takes tens of
seconds, seeking takes milliseconds per series. A spike between two samples
can be missed; the run view's chart of one metric keeps every bucket's extremes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from nbtrack.store import schema
from nbtrack.store.queries import _history

if TYPE_CHECKING:
    from nbtrack.store.queries import Queries
    from nbtrack.store.queries._series import SeriesCache

_metrics, _keys = schema.metrics, schema.metric_keys


@dataclass(frozen=True)
class GridSeries:
    """One (run, metric) series of a grid, in columns; values None for NaN.

    ``total_points`` is None for a sampled series (counting it would scan it);
    a metric the run never logged has empty columns.
    """

    run_id: str
    key: str
    steps: list[int]
    timestamps: list[int]
    values: list[float | None]
    downsampled: bool
    total_points: int | None


def grid_series(
    queries: Queries,
    cache: SeriesCache,
    run_ids: Sequence[str],
    keys: Sequence[str],
    max_points: int,
) -> list[GridSeries]:
    """Every (run, key) series, runs outer, sampled past ``max_points`` (at least 2).

    An unknown run raises :class:`~nbtrack.exceptions.NotFoundError`.
    """
    store = queries._store
    run_pks = {run_id: store.run_pk(run_id) for run_id in run_ids}
    out: list[GridSeries] = []
    with store.engine.connect() as conn:
        key_ids: dict[str, int] = {
            row[0]: row[1]
            for row in conn.execute(
                sa.select(_keys.c.key, _keys.c.key_id).where(_keys.c.key.in_(list(keys)))
            )
        }
        for run_id in run_ids:
            for key in keys:
                key_id = key_ids.get(key)
                if key_id is None:
                    out.append(GridSeries(run_id, key, [], [], [], False, 0))
                    continue
                where = _history.series_where(run_pks[run_id], key_id)
                low, high = _step_range(conn, where)
                if low is None or high is None:
                    out.append(GridSeries(run_id, key, [], [], [], False, 0))
                elif high - low + 1 <= max_points:
                    # Short: every point (through the cache the run view's charts share).
                    series = cache.get(queries, run_id, key)
                    values = [None if math.isnan(v) else v for v in series.values.tolist()]
                    steps, times = series.steps.tolist(), series.timestamps.tolist()
                    out.append(GridSeries(run_id, key, steps, times, values, False, len(series)))
                else:
                    steps, times, values = _sampled(conn, where, low, high, max_points)
                    out.append(GridSeries(run_id, key, steps, times, values, True, None))
    return out


def _step_range(conn: sa.Connection, where: tuple[Any, ...]) -> tuple[int | None, int | None]:
    """The lowest and highest step of a series: two index seeks, no scan."""
    step = _metrics.c.step
    first = sa.select(step).where(*where).order_by(step).limit(1).scalar_subquery()
    last = sa.select(step).where(*where).order_by(step.desc()).limit(1).scalar_subquery()
    low, high = conn.execute(sa.select(first, last)).one()
    return low, high


def _sampled(
    conn: sa.Connection, where: tuple[Any, ...], low: int, high: int, count: int
) -> tuple[list[int], list[int], list[float | None]]:
    """The points at the first step at or after each of ``count`` evenly spaced targets.

    One query of ``count`` index seeks (a 100,000-point series costs a few ms, not a
    scan); the first and last points are always in. The targets are generated in SQL
    (a recursive CTE), so the statement is the same every time and compiled once.
    """
    seed = sa.select(sa.literal(0, sa.BigInteger).label("i")).cte("targets", recursive=True)
    targets = seed.union_all(sa.select(seed.c.i + 1).where(seed.c.i < count - 1))
    target = low + ((high - low) * targets.c.i) // (count - 1)
    at_or_after = (
        sa.select(sa.func.min(_metrics.c.step))
        .where(*where, _metrics.c.step >= target)
        .correlate(targets)
        .scalar_subquery()
    )
    query = (
        sa.select(_metrics.c.step, _metrics.c.timestamp, _metrics.c.value)
        .where(*where, _metrics.c.step.in_(sa.select(at_or_after).select_from(targets)))
        .order_by(_metrics.c.step)
    )
    rows = conn.execute(query).all()
    return [int(r[0]) for r in rows], [int(r[1]) for r in rows], [r[2] for r in rows]
