"""Handlers of the Experiments view: ``GET histories`` and ``GET compare`` (read-only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jupyter_server.auth.decorator import authorized
from tornado import web

from nbtrack.exceptions import InvalidInputError
from nbtrack.server import _queries as queries
from nbtrack.server import _view as view
from nbtrack.server._handlers import ApiError, NbtrackHandler

if TYPE_CHECKING:
    from nbtrack.store.sql_store import SqlStore


class HistoriesHandler(NbtrackHandler):
    """GET histories?run_id=&key=&max_points=: several runs' metrics in one answer."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """``{"histories": [{"run_id", "key", "steps", "timestamps", "values", ...}]}``."""
        try:
            query = view.histories_query(
                self.get_arguments("run_id"),
                self.get_arguments("key"),
                queries.bounded_int(
                    self.get_argument("max_points", None),
                    "max_points",
                    1000,
                    4,
                    view.MAX_GRID_POINTS,
                ),
            )
        except InvalidInputError as exc:
            raise ApiError(400, str(exc)) from exc
        series = self.extension.series

        def read(store: SqlStore) -> list[dict[str, object]]:
            return view.histories(store, series, query)

        found = await self.read_run(query.run_ids[0], read)
        self.send_json({"histories": found})


class CompareHandler(NbtrackHandler):
    """GET compare?run_id=&run_id=[&base=&other=]: params diff, metric summaries, notebook diff."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """``{"runs", "param_keys", "differing_params", "metric_keys", "diff"}``."""
        try:
            run_ids = view.compare_ids(self.get_arguments("run_id"))
        except InvalidInputError as exc:
            raise ApiError(400, str(exc)) from exc
        base = self.get_argument("base", None) or None
        other = self.get_argument("other", None) or None
        found = await self.read_run(
            run_ids[0], lambda store: view.compare(store, run_ids, base, other)
        )
        self.send_json(found)


#: The routes of this module (under ``{base_url}nbtrack/api/``).
VIEW_ROUTES: list[tuple[str, type[NbtrackHandler]]] = [
    (r"histories", HistoriesHandler),
    (r"compare", CompareHandler),
]
