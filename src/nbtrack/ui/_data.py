"""Queries behind the panels: one page of runs, a count, metric arrays and extremes.

Everything here reads the store without flushing this process's writer, so a
panel polling from a background thread never waits on (or slows) a training
loop that is logging; values appear once the writer has committed them.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from nbtrack.client import TrackingClient, ViewType, view_stage
from nbtrack.entities import Run
from nbtrack.exceptions import NotFoundError
from nbtrack.store import _dialect, schema, search

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

#: The attribute columns of the run table, with the ``order_by`` key each sorts by.
ATTRIBUTE_SORT = {
    "status": "attributes.status",
    "name": "attributes.run_name",
    "start": "attributes.start_time",
    "duration": None,  # not in the search grammar: sorted by :func:`page_of_runs` itself
}


@dataclass(frozen=True)
class Page:
    """One page of a search: the runs shown and how many match in all."""

    runs: list[Run]
    total: int
    offset: int


def experiment_ids(client: TrackingClient, experiment: str | None) -> list[str] | None:
    """Experiment ids for a name or id (None: every experiment)."""
    if experiment is None:
        return None
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        return [found.experiment_id]
    if experiment.isdigit():
        return [experiment]
    raise NotFoundError(f"no experiment named {experiment!r}")


def _where(
    experiment_ids: Sequence[str] | None, filter_string: str | None, view: str
) -> list[sa.ColumnElement[bool]]:
    runs = schema.runs
    clauses: list[sa.ColumnElement[bool]] = []
    if experiment_ids is not None:
        clauses.append(runs.c.experiment_id.in_([int(e) for e in experiment_ids]))
    if view != "all":
        clauses.append(runs.c.lifecycle_stage == view)
    condition = search.compile_filter(filter_string)
    if condition is not None:
        clauses.append(condition)
    return clauses


def count_runs(
    client: TrackingClient,
    experiment_ids: Sequence[str] | None = None,
    filter_string: str | None = None,
    view_type: ViewType | int = ViewType.ACTIVE_ONLY,
) -> int:
    """How many runs match (raises ``FilterSyntaxError`` for a bad filter)."""
    where = _where(experiment_ids, filter_string, view_stage(view_type))
    query = sa.select(sa.func.count()).select_from(schema.runs).where(*where)
    with client._store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def page_of_runs(
    client: TrackingClient,
    experiment_ids: Sequence[str] | None,
    filter_string: str | None,
    sort: tuple[str, str] | None,
    descending: bool,
    offset: int,
    limit: int,
) -> Page:
    """The runs of one page and the total count; only the shown page is loaded.

    ``sort`` is ``(kind, key)``: kind ``attribute`` (key a column of
    :data:`ATTRIBUTE_SORT`), ``param``, ``metric`` or ``tag``; None sorts newest first.
    """
    total = count_runs(client, experiment_ids, filter_string)
    if sort == ("attribute", "duration"):
        runs = _page_by_duration(client, experiment_ids, filter_string, descending, offset, limit)
        return Page(runs, total, offset)
    order_by: list[str] = []
    if sort is not None:
        kind, key = sort
        base = ATTRIBUTE_SORT[key] if kind == "attribute" else f"{kind}s.`{key}`"
        order_by.append(f"{base} {'DESC' if descending else 'ASC'}")
    stage = view_stage(ViewType.ACTIVE_ONLY)
    found = client._store.search_runs(
        experiment_ids, filter_string or None, stage, limit, order_by, offset
    )
    return Page(found, total, offset)


def _page_by_duration(
    client: TrackingClient,
    experiment_ids: Sequence[str] | None,
    filter_string: str | None,
    descending: bool,
    offset: int,
    limit: int,
) -> list[Run]:
    runs = schema.runs
    now = int(time.time() * 1000)
    duration = sa.func.coalesce(runs.c.end_time, now) - runs.c.start_time
    ordered = duration.desc() if descending else duration.asc()
    query = (
        sa.select(runs.c.run_id)
        .where(*_where(experiment_ids, filter_string, "active"))
        .order_by(ordered, runs.c.run_pk.desc())
        .limit(limit)
        .offset(offset)
    )
    with client._store.engine.connect() as conn:
        ids = [row[0] for row in conn.execute(query)]
    if not ids:
        return []
    quoted = ", ".join(f"'{i}'" for i in ids)  # run ids are hex: nothing to escape
    found = client._store.search_runs(None, f"attributes.run_id IN ({quoted})", "all", None)
    by_id = {run.info.run_id: run for run in found}
    return [by_id[i] for i in ids if i in by_id]


def _metric_table(
    client: TrackingClient, run_id: str, key: str, columns: int, after_step: int | None
) -> npt.NDArray[np.float64]:
    """``(step, [timestamp,] value)`` rows of a metric as an ``n x columns`` float array."""
    import numpy as np

    metrics, keys = schema.metrics, schema.metric_keys
    selected = [metrics.c.step, metrics.c.timestamp, metrics.c.value]
    query = (
        sa.select(*(selected if columns == 3 else [metrics.c.step, metrics.c.value]))
        .where(metrics.c.run_pk == client._store.run_pk(run_id))
        .where(
            metrics.c.key_id == sa.select(keys.c.key_id).where(keys.c.key == key).scalar_subquery()
        )
        .where(metrics.c.value.is_not(None))
        .order_by(metrics.c.step)
    )
    if after_step is not None:
        query = query.where(metrics.c.step > after_step)
    with client._store.engine.connect() as conn:
        rows = _dialect.fetch_tuples(conn, query)  # plain tuples: 10^6 rows in well under 1 s
    count = columns * len(rows)
    flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.float64, count=count)
    return flat.reshape(len(rows), columns)


def metric_arrays(
    client: TrackingClient, run_id: str, key: str, after_step: int | None = None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(steps, timestamps_ms, values)`` of a metric as float arrays, NaN points dropped.

    ``after_step`` reads only the points logged after that step (live charts).
    """
    table = _metric_table(client, run_id, key, 3, after_step)
    return table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy()


def metric_steps_values(
    client: TrackingClient, run_id: str, key: str
) -> tuple[FloatArray, FloatArray]:
    """``(steps, values)`` of a metric: what a chart over steps needs (no timestamps to read)."""
    table = _metric_table(client, run_id, key, 2, None)
    return table[:, 0].copy(), table[:, 1].copy()


def metric_extremes(client: TrackingClient, run_id: str) -> dict[str, tuple[Any, Any, Any]]:
    """``{key: (last, min, max)}`` of every metric of a run (from the latest-values table)."""
    latest, keys = schema.latest_metrics, schema.metric_keys
    query = (
        sa.select(keys.c.key, latest.c.value, latest.c.min_value, latest.c.max_value)
        .join(keys, keys.c.key_id == latest.c.key_id)
        .where(latest.c.run_pk == client._store.run_pk(run_id))
        .order_by(keys.c.key)
    )
    with client._store.engine.connect() as conn:
        return {row[0]: (row[1], row[2], row[3]) for row in conn.execute(query)}


def run_status(client: TrackingClient, run_id: str) -> str:
    """A run's status as stored now (no flush)."""
    query = sa.select(schema.runs.c.status).where(schema.runs.c.run_id == run_id)
    with client._store.engine.connect() as conn:
        status = conn.execute(query).scalar_one_or_none()
    if status is None:
        raise NotFoundError(f"no run with id {run_id!r}")
    return str(status)


def group_children(client: TrackingClient, page: Page) -> Page:
    """The page with each parent's child runs (a sweep's combinations) right under it.

    Children of a parent shown on the page are fetched whole (oldest first)
    even when they fall on another page, and appear once, under their
    parent; children whose parent is not shown stay where they are.
    """
    from nbtrack.store import _records

    shown = {run.info.run_id for run in page.runs}
    runs_t = schema.runs
    parents = runs_t.alias("parents")
    query = (
        sa.select(*_records.RUN_COLUMNS)
        .join(parents, parents.c.run_pk == runs_t.c.parent_run_pk)
        .where(parents.c.run_id.in_(shown), runs_t.c.lifecycle_stage == "active")
        .order_by(runs_t.c.start_time, runs_t.c.run_pk)
    )
    with client._store.engine.connect() as conn:
        children = _records.runs_from_rows(conn, conn.execute(query).all())
    if not children:
        return page
    by_parent: dict[str, list[Run]] = {}
    for child in children:
        by_parent.setdefault(child.info.parent_run_id or "", []).append(child)
    placed = {child.info.run_id for child in children}
    ordered: list[Run] = []
    for run in page.runs:
        if run.info.run_id in placed:
            continue  # shown under its parent
        ordered.append(run)
        ordered.extend(by_parent.get(run.info.run_id, []))
    return Page(ordered, page.total, page.offset)
