"""The one read of a metric's points, shared by every history a caller sees.

``Client.get_metric_history`` (Metric tuples), the panels' arrays
(:func:`arrays`), the server's incremental history cache
(:mod:`._series`) and the Experiments view's sampled chart grid
(:mod:`._grid`) all read points through :func:`point_rows`: a range scan of
``metrics`` by ``(run_pk, key_id, step)``, straight from the driver as plain
tuples (SQLAlchemy's row objects cost more than the query itself for a
history of 10^6 points), with the cyclic GC paused while the tuples are built.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from nbtrack.store import _dialect, schema

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

_metrics, _keys = schema.metrics, schema.metric_keys

#: The columns a caller may ask :func:`point_rows` for, by name.
STEP, TIMESTAMP, VALUE = _metrics.c.step, _metrics.c.timestamp, _metrics.c.value


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building very many tuples (it would walk them all for nothing)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def key_id(conn: sa.Connection, key: str) -> int | None:
    """The interned id of a metric name; None if no run ever logged it."""
    found = conn.execute(sa.select(_keys.c.key_id).where(_keys.c.key == key)).scalar()
    return None if found is None else int(found)


def series_where(run_pk: int, metric_key_id: int) -> tuple[sa.ColumnElement[bool], ...]:
    """The conditions that select one series (one run, one metric) of ``metrics``."""
    return (_metrics.c.run_pk == run_pk, _metrics.c.key_id == metric_key_id)


def point_rows(
    conn: sa.Connection,
    run_pk: int,
    metric_key_id: int,
    columns: Sequence[sa.ColumnElement[Any]] = (STEP, TIMESTAMP, VALUE),
    *,
    after_step: int | None = None,
    skip_nan: bool = False,
) -> list[tuple[Any, ...]]:
    """Points of one series by step, as driver tuples of ``columns``.

    ``after_step``: only the points above that step (a poll reading what is new).
    ``skip_nan``: leave out NaN points (stored as NULL); otherwise their value is None.
    """
    query = sa.select(*columns).where(*series_where(run_pk, metric_key_id))
    if after_step is not None:
        query = query.where(after_step < STEP)
    if skip_nan:
        query = query.where(VALUE.is_not(None))
    with gc_paused(), _dialect.index_order(conn):  # 10^6 tuples hold no cycles
        return _dialect.fetch_tuples(conn, query.order_by(STEP), binary=True)


def arrays(rows: list[tuple[Any, ...]], columns: int) -> npt.NDArray[np.float64]:
    """``rows`` of ``columns`` numbers (no None) as an ``n x columns`` float array."""
    import numpy as np

    flat = np.fromiter(
        itertools.chain.from_iterable(rows), dtype=np.float64, count=columns * len(rows)
    )
    return flat.reshape(len(rows), columns)
