"""Pages of runs: counts, sorting (including by duration), filters and child grouping.

The filter is the search grammar of :mod:`nbtrack.store.search`; a bad one
raises :class:`~nbtrack.exceptions.FilterSyntaxError`. Only the runs of the page
shown are loaded whole (params, tags, latest metrics).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from nbtrack.entities import LifecycleStage, Run
from nbtrack.exceptions import NotFoundError
from nbtrack.store import _records, schema, search
from nbtrack.store._experiments import int_id

if TYPE_CHECKING:
    from nbtrack.store.queries import Queries

_runs = schema.runs

#: The attribute columns of a run table, with the ``order_by`` key each sorts by
#: (``duration`` is not in the search grammar: :func:`page` sorts by it itself).
ATTRIBUTE_SORT: dict[str, str | None] = {
    "status": "attributes.status",
    "name": "attributes.run_name",
    "start": "attributes.start_time",
    "duration": None,
}


@dataclass(frozen=True)
class RunPage:
    """One page of a search: the runs shown and how many match in all."""

    runs: list[Run]
    total: int
    offset: int


def where(
    experiment_ids: Sequence[str] | None, filter_string: str | None, view: str
) -> list[sa.ColumnElement[bool]]:
    """The conditions on ``runs`` of a search (``view``: active, deleted or all)."""
    clauses: list[sa.ColumnElement[bool]] = []
    if experiment_ids is not None:
        clauses.append(_runs.c.experiment_id.in_([int_id(e) for e in experiment_ids]))
    if view != "all":
        clauses.append(_runs.c.lifecycle_stage == view)
    condition = search.compile_filter(filter_string)
    if condition is not None:
        clauses.append(condition)
    return clauses


def count(
    queries: Queries,
    experiment_ids: Sequence[str] | None,
    filter_string: str | None,
    view: str,
) -> int:
    """How many runs match."""
    query = (
        sa.select(sa.func.count())
        .select_from(_runs)
        .where(*where(experiment_ids, filter_string, view))
    )
    with queries._store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def page(
    queries: Queries,
    experiment_ids: Sequence[str] | None,
    filter_string: str | None,
    sort: tuple[str, str] | None,
    descending: bool,
    offset: int,
    limit: int,
) -> RunPage:
    """The active runs of one page and the total count; see :meth:`Queries.run_page`."""
    total = count(queries, experiment_ids, filter_string, LifecycleStage.ACTIVE)
    if sort == ("attribute", "duration"):
        runs = _page_by_duration(queries, experiment_ids, filter_string, descending, offset, limit)
        return RunPage(runs, total, offset)
    order_by: list[str] = []
    if sort is not None:
        kind, key = sort
        base = ATTRIBUTE_SORT[key] if kind == "attribute" else f"{kind}s.`{key}`"
        order_by.append(f"{base} {'DESC' if descending else 'ASC'}")
    found = queries._store.search_runs(
        experiment_ids, filter_string or None, LifecycleStage.ACTIVE, limit, order_by, offset
    )
    return RunPage(found, total, offset)


def _page_by_duration(
    queries: Queries,
    experiment_ids: Sequence[str] | None,
    filter_string: str | None,
    descending: bool,
    offset: int,
    limit: int,
) -> list[Run]:
    now = int(time.time() * 1000)
    duration = sa.func.coalesce(_runs.c.end_time, now) - _runs.c.start_time
    ordered = duration.desc() if descending else duration.asc()
    shown = (
        sa.select(_runs.c.run_pk)
        .where(*where(experiment_ids, filter_string, LifecycleStage.ACTIVE))
        .order_by(ordered, _runs.c.run_pk.desc())
        .limit(limit)
        .offset(offset)
    )
    with queries._store.engine.connect() as conn:
        pks = [row[0] for row in conn.execute(shown)]
        if not pks:
            return []
        rows = conn.execute(sa.select(*_records.RUN_COLUMNS).where(_runs.c.run_pk.in_(pks))).all()
        found = {run.info.run_id: run for run in _records.runs_from_rows(conn, rows)}
    order = {row.run_pk: row.run_id for row in rows}
    return [found[order[pk]] for pk in pks if pk in order]


def with_children(queries: Queries, shown: RunPage) -> RunPage:
    """The page with each parent's child runs (a sweep's combinations) right under it.

    Children of a parent shown on the page are fetched whole (oldest first)
    even when they fall on another page, and appear once, under their
    parent; children whose parent is not shown stay where they are.
    """
    ids = {run.info.run_id for run in shown.runs}
    parents = _runs.alias("parents")
    query = (
        sa.select(*_records.RUN_COLUMNS)
        .join(parents, parents.c.run_pk == _runs.c.parent_run_pk)
        .where(parents.c.run_id.in_(ids), _runs.c.lifecycle_stage == LifecycleStage.ACTIVE)
        .order_by(_runs.c.start_time, _runs.c.run_pk)
    )
    with queries._store.engine.connect() as conn:
        children = _records.runs_from_rows(conn, conn.execute(query).all())
    if not children:
        return shown
    by_parent: dict[str, list[Run]] = {}
    for child in children:
        by_parent.setdefault(child.info.parent_run_id or "", []).append(child)
    placed = {child.info.run_id for child in children}
    ordered: list[Run] = []
    for run in shown.runs:
        if run.info.run_id in placed:
            continue  # shown under its parent
        ordered.append(run)
        ordered.extend(by_parent.get(run.info.run_id, []))
    return RunPage(ordered, shown.total, shown.offset)


def status(queries: Queries, run_id: str) -> str:
    """A run's status as stored now."""
    query = sa.select(_runs.c.status).where(_runs.c.run_id == run_id)
    with queries._store.engine.connect() as conn:
        found = conn.execute(query).scalar_one_or_none()
    if found is None:
        raise NotFoundError(f"no run with id {run_id!r}")
    return str(found)
