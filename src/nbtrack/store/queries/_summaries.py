"""Run summaries for a table of thousands of runs, read as plain tuples.

A summary is what a run table shows: identity, status, times, params, latest
metrics and tags, without the entity objects of :class:`~nbtrack.entities.Run`.
One page costs six statements (the page's run keys in order, then the runs,
their params, tags, latest metrics and parents' ids by ``run_pk IN (...)``),
each read straight from the driver: SQLAlchemy's row objects and the
entities cost more than the queries for pages of 1,000 runs (the
Experiments view loads 10,000 runs in 10 pages).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa

from nbtrack.entities import INPUT_TAG_PREFIX
from nbtrack.store import _dialect, _records, schema, search

if TYPE_CHECKING:
    from nbtrack.store.queries import Queries

_runs = schema.runs
_CHUNK = 5000  # bound parameters per IN (...) list


class RunSummary(NamedTuple):
    """One run as a run table shows it.

    ``metrics`` are the latest values (None for NaN); ``tags`` include MLflow's
    ``mlflow.runName`` and ``mlflow.parentRunId`` as :class:`~nbtrack.entities.Run`
    shows them, and leave out the dataset-input records.
    """

    run_id: str
    run_name: str
    experiment_id: str
    status: str
    start_time: int
    end_time: int | None
    lifecycle_stage: str
    parent_run_id: str | None
    params: dict[str, str]
    metrics: dict[str, float | None]
    tags: dict[str, str]


class SummaryPage(NamedTuple):
    """The summaries of one page, and whether more runs follow it."""

    runs: list[RunSummary]
    more: bool


def summaries(
    queries: Queries,
    experiment_ids: Sequence[str] | None,
    filter_string: str | None,
    order_by: Sequence[str],
    view: str,
    max_results: int,
    offset: int,
    first: tuple[str, Sequence[str]] | None = None,
) -> SummaryPage:
    """See :meth:`nbtrack.store.queries.Queries.run_summaries`."""
    store = queries._store
    select = store.search_query(
        experiment_ids,
        filter_string,
        view,
        max_results + 1,  # one more tells whether another page follows
        order_by,
        offset,
    )
    if first is not None and first[1]:
        tags = schema.tags
        key, values = first
        chosen = (
            sa.select(tags.c.run_pk)
            .where(tags.c.run_pk == _runs.c.run_pk, tags.c.key == key, tags.c.value.in_(values))
            .exists()
        )
        # Prepend "chosen runs first" to the ordering (re-compiled: cheap).
        select = select.order_by(None).order_by(
            sa.case((chosen, 0), else_=1), *search.compile_order_by(order_by)
        )
    with store.engine.connect() as conn:
        # The page's keys first, then its rows by key: sorting narrow rows is about
        # twice as fast as sorting whole ones (SQLite's sorter carries every column).
        keys = select.with_only_columns(_runs.c.run_pk)
        pks = [row[0] for row in _dialect.fetch_tuples(conn, keys)]
        more = len(pks) > max_results
        pks = pks[:max_results]
        by_pk: dict[int, tuple[Any, ...]] = {}
        for condition in _of_runs(_runs.c.run_pk, pks):
            query = sa.select(*_records.RUN_COLUMNS).where(condition)
            by_pk.update((row[_PK], row) for row in _dialect.fetch_tuples(conn, query))
        rows = [by_pk[pk] for pk in pks if pk in by_pk]
        return SummaryPage(_summaries(conn, rows), more)


# Positions in a row of _records.RUN_COLUMNS.
_PK, _ID, _NAME, _EXP, _STATUS, _START, _END, _STAGE, _USER, _PARENT = range(10)


def _summaries(conn: sa.Connection, rows: Sequence[tuple[Any, ...]]) -> list[RunSummary]:
    assert len(_records.RUN_COLUMNS) == 10
    pks = [row[_PK] for row in rows]
    params, tags = schema.params, schema.tags
    param_values = _by_run(
        conn, pks, params.c.run_pk, sa.select(params.c.run_pk, params.c.key, params.c.value)
    )
    tag_values = _by_run(
        conn,
        pks,
        tags.c.run_pk,
        sa.select(tags.c.run_pk, tags.c.key, tags.c.value).where(
            ~tags.c.key.startswith(INPUT_TAG_PREFIX, autoescape=True)
        ),
    )
    latest, keys = schema.latest_metrics, schema.metric_keys
    metric_values = _by_run(
        conn,
        pks,
        latest.c.run_pk,
        sa.select(latest.c.run_pk, keys.c.key, latest.c.value).join(
            keys, keys.c.key_id == latest.c.key_id
        ),
    )
    parent_pks = sorted({row[_PARENT] for row in rows if row[_PARENT] is not None})
    parents: dict[int, str] = {}
    for condition in _of_runs(_runs.c.run_pk, parent_pks):
        query = sa.select(_runs.c.run_pk, _runs.c.run_id).where(condition)
        parents.update(_dialect.fetch_tuples(conn, query))
    no_tags: dict[str, str] = {}
    out: list[RunSummary] = []
    for row in rows:
        pk, name = row[_PK], row[_NAME]
        parent = parents.get(row[_PARENT]) if row[_PARENT] is not None else None
        derived = {_records.RUN_NAME_TAG: name}
        if parent is not None:
            derived[_records.PARENT_RUN_TAG] = parent
        out.append(
            RunSummary(
                row[_ID],
                name,
                str(row[_EXP]),
                row[_STATUS],
                row[_START],
                row[_END],
                row[_STAGE],
                parent,
                param_values.get(pk) or {},
                metric_values.get(pk) or {},
                {**derived, **tag_values.get(pk, no_tags)},
            )
        )
    return out


def _of_runs(column: sa.ColumnElement[int], pks: Sequence[int]) -> list[sa.ColumnElement[bool]]:
    """Conditions that together select the rows of runs ``pks`` (and maybe a few others).

    A page in start-time order is nearly a run of consecutive keys: one index
    range (``BETWEEN``) reads it without an ``IN`` list of 1,000 parameters to
    build, bind and look up; the caller drops rows of runs it did not ask for.
    Scattered keys (a page sorted by a metric) go in ``IN`` lists.
    """
    if not pks:
        return []
    low, high = min(pks), max(pks)
    if high - low + 1 <= 2 * len(pks):
        return [column.between(low, high)]
    return [column.in_(pks[start : start + _CHUNK]) for start in range(0, len(pks), _CHUNK)]


def _by_run(
    conn: sa.Connection, pks: Sequence[int], column: sa.ColumnElement[int], query: sa.Select[Any]
) -> dict[int, dict[str, Any]]:
    """``{run_pk: {key: value}}`` of runs ``pks`` from the ``(run_pk, key, value)`` rows of
    ``query``."""
    wanted = set(pks)
    out: defaultdict[int, dict[str, Any]] = defaultdict(dict)
    for condition in _of_runs(column, pks):
        for pk, key, value in _dialect.fetch_tuples(conn, query.where(condition)):
            if pk in wanted:
                out[pk][key] = value
    return out
