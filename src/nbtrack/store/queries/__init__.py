"""The store's read side: every query the panels, the server and the CLI run.

Callers outside the store never write SQL nor import SQLAlchemy. They read
through a :class:`Queries` bound to one store:

* code holding a :class:`~nbtrack.client.TrackingClient` (``nbtrack.ui``, the
  CLI, the notebook extension) uses ``client.queries``;
* the Jupyter server extension, which opens stores itself with
  :func:`nbtrack.store.get_store`, uses ``store.queries``.

Unlike the client's MLflow-named methods, these reads never flush this
process's writer: a panel polling from a background thread, or a server
answering a browser, never waits on (or slows) a training loop that is
logging; values appear once their writer has committed them. Every query is
SQLAlchemy Core (portable to PostgreSQL); long results come straight from the
driver as tuples (:func:`nbtrack.store._dialect.fetch_tuples`).

Modules, by concept: ``_runs`` (pages, counts, sorting, child grouping),
``_summaries`` (run summaries for tables of thousands of runs), ``_history``
(the one read of a metric's points), ``_metrics`` (latest values, arrays),
``_series`` (histories cached between polls), ``_grid`` (many histories at
once, sampled).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nbtrack.entities import LifecycleStage
from nbtrack.store.queries import _grid, _metrics, _runs, _summaries
from nbtrack.store.queries._grid import GridSeries
from nbtrack.store.queries._metrics import MetricSummary
from nbtrack.store.queries._runs import ATTRIBUTE_SORT, RunPage
from nbtrack.store.queries._summaries import RunSummary, SummaryPage

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from nbtrack.entities import Run
    from nbtrack.store.queries._series import Series, SeriesCache
    from nbtrack.store.sql_store import SqlStore

    FloatArray = npt.NDArray[np.float64]

__all__ = [
    "ATTRIBUTE_SORT",
    "GridSeries",
    "MetricSummary",
    "Queries",
    "RunPage",
    "RunSummary",
    "Series",
    "SeriesCache",
    "SummaryPage",
]


def __getattr__(name: str) -> Any:
    # The history cache needs numpy: imported when asked for, so that the store's
    # own history read (which imports this package) does not load numpy.
    if name in ("Series", "SeriesCache"):
        from nbtrack.store.queries import _series

        return getattr(_series, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Queries:
    """The reads of one store (``client.queries`` or ``store.queries``); never flushes.

    An unknown run id raises :class:`~nbtrack.exceptions.NotFoundError`; a bad
    filter or ``order_by`` :class:`~nbtrack.exceptions.FilterSyntaxError`.
    """

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    @property
    def uri(self) -> str:
        """The tracking URI of the store read."""
        return self._store.uri

    # -- runs ------------------------------------------------------------------------

    def run(self, run_id: str) -> Run:
        """The whole run as stored now."""
        return self._store.get_run(run_id)

    def run_status(self, run_id: str) -> str:
        """A run's status as stored now (``RUNNING``, ``FINISHED``, ...)."""

        return _runs.status(self, run_id)

    def count_runs(
        self,
        experiment_ids: Sequence[str] | None = None,
        filter_string: str | None = None,
        view: str = LifecycleStage.ACTIVE,
    ) -> int:
        """How many runs match (``view``: ``active``, ``deleted`` or ``all``)."""

        return _runs.count(self, experiment_ids, filter_string, view)

    def run_page(
        self,
        experiment_ids: Sequence[str] | None,
        filter_string: str | None,
        sort: tuple[str, str] | None,
        descending: bool,
        offset: int,
        limit: int,
    ) -> RunPage:
        """One page of active runs (whole :class:`~nbtrack.entities.Run` objects) and the count.

        ``sort`` is ``(kind, key)``: kind ``attribute`` (key one of
        :data:`ATTRIBUTE_SORT`), ``param``, ``metric`` or ``tag``; None sorts newest first.
        """

        return _runs.page(self, experiment_ids, filter_string, sort, descending, offset, limit)

    def with_children(self, page: RunPage) -> RunPage:
        """``page`` with each shown parent's child runs (a sweep's combinations) under it."""

        return _runs.with_children(self, page)

    def run_summaries(
        self,
        experiment_ids: Sequence[str] | None,
        filter_string: str | None,
        order_by: Sequence[str],
        view: str,
        max_results: int,
        offset: int,
        first: tuple[str, Sequence[str]] | None = None,
    ) -> SummaryPage:
        """One page of :class:`RunSummary` (no entity objects: for pages of 1,000 runs).

        ``order_by`` takes the items of ``search_runs``; ``first=(tag, values)``
        puts the runs whose tag ``tag`` is one of ``values`` before the others.
        """

        return _summaries.summaries(
            self, experiment_ids, filter_string, order_by, view, max_results, offset, first
        )

    # -- metrics ---------------------------------------------------------------------

    def metric_summaries(self, run_id: str) -> dict[str, MetricSummary]:
        """``{key: MetricSummary}`` (latest, min, max) of every metric of a run, by key."""

        return _metrics.summaries(self, run_id)

    def metric_arrays(
        self, run_id: str, key: str, after_step: int | None = None
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(steps, timestamps_ms, values)`` of a metric as float arrays, NaN points left out.

        ``after_step`` reads only the points logged after that step (live charts).
        """

        table = _metrics.arrays(self, run_id, key, True, after_step)
        return table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy()

    def metric_steps_values(self, run_id: str, key: str) -> tuple[FloatArray, FloatArray]:
        """``(steps, values)`` of a metric, NaN points left out (no timestamps read)."""

        table = _metrics.arrays(self, run_id, key, False, None)
        return table[:, 0].copy(), table[:, 1].copy()

    def series(self, cache: SeriesCache, run_id: str, key: str) -> Series:
        """A metric's whole history (NaN kept), through ``cache`` (read incrementally)."""
        return cache.get(self, run_id, key)

    def grid_series(
        self, cache: SeriesCache, run_ids: Sequence[str], keys: Sequence[str], max_points: int
    ) -> list[GridSeries]:
        """Every (run, key) series for a chart grid, sampled at ``max_points`` steps past it."""

        return _grid.grid_series(self, cache, run_ids, keys, max_points)

    # -- artifacts -------------------------------------------------------------------

    def artifact_files(self, run_id: str, prefix: str = "") -> list[tuple[str, str, int]]:
        """``(path, sha256, size)`` of a run's artifact files at or under ``prefix``, by path."""
        return self._store.artifact_rows(run_id, prefix)
