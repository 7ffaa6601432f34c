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
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from nbtrack.store import _dialect, schema

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
    prepared = _statements(store.engine)
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
                series_key = {"run_pk": run_pks[run_id], "key_id": key_id}
                ((low, high),) = prepared.step_range.all(conn, **series_key)
                if low is None or high is None:
                    out.append(GridSeries(run_id, key, [], [], [], False, 0))
                elif high - low + 1 <= max_points:
                    # Short: every point (through the cache the run view's charts share).
                    series = cache.get(queries, run_id, key)
                    values = [None if math.isnan(v) else v for v in series.values.tolist()]
                    steps, times = series.steps.tolist(), series.timestamps.tolist()
                    out.append(GridSeries(run_id, key, steps, times, values, False, len(series)))
                else:
                    rows = prepared.sampled.all(
                        conn, **series_key, low=low, span=high - low, last=max_points - 1
                    )
                    steps = [int(r[0]) for r in rows]
                    times, values = [int(r[1]) for r in rows], [r[2] for r in rows]
                    out.append(GridSeries(run_id, key, steps, times, values, True, None))
    return out


class _Prepared:
    """A statement compiled once for an engine, run with named values.

    Literals that SQLAlchemy binds (the CTE's 0 and 1) keep their compiled values;
    a parameter used twice is passed twice on positional drivers.
    """

    def __init__(self, engine: sa.Engine, statement: sa.Select[Any]) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self.defaults = compiled.construct_params()
        self.names = list(compiled.positiontup or self.defaults)
        self.query = _dialect.PreparedQuery(engine, statement, self.names)

    def all(self, conn: sa.Connection, **values: Any) -> list[tuple[Any, ...]]:
        merged = {**self.defaults, **values}
        return self.query.all(conn, *(merged[name] for name in self.names))


class _GridStatements:
    """The two statements of a sampled series, built and compiled once per engine
    (building them for each of a grid's 200 series cost a third of its time)."""

    def __init__(self, engine: sa.Engine) -> None:
        step = _metrics.c.step
        where = (
            _metrics.c.run_pk == sa.bindparam("run_pk", 0, type_=sa.Integer),
            _metrics.c.key_id == sa.bindparam("key_id", 0, type_=sa.Integer),
        )
        # The lowest and highest step of a series: two index seeks, no scan.
        first = sa.select(step).where(*where).order_by(step).limit(1).scalar_subquery()
        last = sa.select(step).where(*where).order_by(step.desc()).limit(1).scalar_subquery()
        self.step_range = _Prepared(engine, sa.select(first, last))
        # The points at the first step at or after each of last + 1 evenly spaced
        # targets from low to low + span: one query of index seeks (a 100,000-point
        # series costs a few ms, not a scan); the first and last points are always in.
        # The targets are generated in SQL (a recursive CTE).
        count_last = sa.bindparam("last", 1, type_=sa.BigInteger)
        seed = sa.select(sa.literal(0, sa.BigInteger).label("i")).cte("targets", recursive=True)
        targets = seed.union_all(sa.select(seed.c.i + 1).where(seed.c.i < count_last))
        low = sa.bindparam("low", 0, type_=sa.BigInteger)
        span = sa.bindparam("span", 0, type_=sa.BigInteger)
        target = low + (span * targets.c.i) // count_last
        at_or_after = (
            sa.select(sa.func.min(step))
            .where(*where, step >= target)
            .correlate(targets)
            .scalar_subquery()
        )
        self.sampled = _Prepared(
            engine,
            sa.select(step, _metrics.c.timestamp, _metrics.c.value)
            .where(*where, step.in_(sa.select(at_or_after).select_from(targets)))
            .order_by(step),
        )


_BY_ENGINE: weakref.WeakKeyDictionary[sa.Engine, _GridStatements] = weakref.WeakKeyDictionary()


def _statements(engine: sa.Engine) -> _GridStatements:
    found = _BY_ENGINE.get(engine)
    if found is None:
        found = _BY_ENGINE[engine] = _GridStatements(engine)
    return found
