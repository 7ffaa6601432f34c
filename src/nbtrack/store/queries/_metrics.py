"""A run's metrics at a glance (the latest-values table) and histories as arrays.

Summaries come from ``latest_metrics`` (one row per run and metric: the value
at the highest step, and the min and max seen), so a table or a compare view
never scans a history. Histories as numpy arrays go through the store's one
history read, :func:`._history.point_rows`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import sqlalchemy as sa

from nbtrack.store import schema
from nbtrack.store.queries import _history

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from nbtrack.store.queries import Queries


class MetricSummary(NamedTuple):
    """One metric of a run: the latest value (at the highest step), its step and
    timestamp, and the smallest and largest values logged (None stands for NaN)."""

    value: float | None
    step: int
    timestamp: int
    min: float | None
    max: float | None


def summaries(queries: Queries, run_id: str) -> dict[str, MetricSummary]:
    """``{key: MetricSummary}`` of every metric of a run, by key."""
    store = queries._store
    latest, keys = schema.latest_metrics, schema.metric_keys
    query = (
        sa.select(
            keys.c.key,
            latest.c.value,
            latest.c.step,
            latest.c.timestamp,
            latest.c.min_value,
            latest.c.max_value,
        )
        .join(keys, keys.c.key_id == latest.c.key_id)
        .where(latest.c.run_pk == store.run_pk(run_id))
        .order_by(keys.c.key)
    )
    with store.engine.connect() as conn:
        return {row[0]: MetricSummary(*row[1:]) for row in conn.execute(query)}


def arrays(
    queries: Queries, run_id: str, key: str, with_timestamps: bool, after_step: int | None
) -> npt.NDArray[np.float64]:
    """The finite-or-infinite points of a metric (NaN left out) as an ``n x 2|3`` array.

    Columns: step, [timestamp,] value.
    """
    store = queries._store
    run_pk = store.run_pk(run_id)
    columns = (
        (_history.STEP, _history.TIMESTAMP, _history.VALUE)
        if with_timestamps
        else (_history.STEP, _history.VALUE)
    )
    with store.engine.connect() as conn:
        key_id = _history.key_id(conn, key)
        rows = (
            []
            if key_id is None
            else _history.point_rows(
                conn, run_pk, key_id, columns, after_step=after_step, skip_nan=True
            )
        )
    return _history.arrays(rows, len(columns))
