"""The REST handlers under ``{base_url}nbtrack/api/`` (the contract is in nbtrack.server).

Every method is ``@web.authenticated`` and ``@authorized`` (resource ``nbtrack``:
GET is "read", POST "write"), XSRF stays on for cookie-authenticated POSTs, and
POSTs take JSON only. Store work runs in the extension's reader threads, never
on the event loop, so a slow read cannot stall JupyterLab.
"""

from __future__ import annotations

import asyncio
import functools
import json
import mimetypes
from collections.abc import Callable
from http.client import responses
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

import nbtrack
from nbtrack._artifact_names import ENVIRONMENT_FILE, SNAPSHOT_FILE
from nbtrack.client import TrackingClient
from nbtrack.exceptions import ArtifactIntegrityError, InvalidInputError, NotFoundError, StoreError
from nbtrack.server import _queries as queries
from nbtrack.server._config import NbtrackExtension, store_exists
from nbtrack.store import get_store, locate

if TYPE_CHECKING:
    from nbtrack.store.sql_store import SqlStore

T = TypeVar("T")

#: The resource name an Authorizer sees for every nbtrack request.
AUTH_RESOURCE = "nbtrack"
_CHUNK = 1 << 20
_MAX_MESSAGE = 1000
#: Types an artifact may be served as; anything else (HTML, SVG, JavaScript, ...) goes out
#: as application/octet-stream so that no artifact can run script on the server's origin.
_SAFE_TYPES = frozenset(
    {
        "application/json",
        "application/pdf",
        "image/gif",
        "image/jpeg",
        "image/png",
        "image/webp",
        "text/csv",
        "text/plain",
    }
)


class ApiError(web.HTTPError):
    """An HTTP error whose message goes to the client as is (``%`` included)."""

    def __init__(self, status_code: int, message: str) -> None:
        # Short whatever the request: a message quoting a 5,000-character run id or view
        # is cut (the request's own text is no news to the client).
        if len(message) > _MAX_MESSAGE:
            message = f"{message[: _MAX_MESSAGE - 40]}... ({len(message)} characters in all)"
        # The message travels as an argument: tornado %-formats log_message when logging.
        super().__init__(status_code, "%s", message)
        self.message = message


class NbtrackHandler(APIHandler):
    """Base of the nbtrack handlers: JSON errors, the store of a request, reads off the loop."""

    auth_resource = AUTH_RESOURCE

    def initialize(self, extension: NbtrackExtension) -> None:
        """Called by tornado with the handler's keyword arguments."""
        self.extension = extension

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors are ``{"message": ..., "reason": ...}`` JSON."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        reason = responses.get(status_code, "Unknown Error")
        if isinstance(exc, ApiError):
            message = exc.message
        elif isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        elif exc is not None and not isinstance(exc, web.HTTPError):
            # Not the exception's text: a database error's names the SQL and its values.
            # tornado has logged the traceback; the client gets the type and where to look.
            message = (
                f"nbtrack server error ({type(exc).__name__}); the Jupyter server's log "
                "has the details"
            )
        else:
            message = reason
        self.set_status(status_code)
        self.finish(json.dumps({"message": message, "reason": reason}))

    def send_json(self, payload: Any) -> None:
        """Finish with ``payload`` as JSON (no NaN: it is not JSON)."""
        self.finish(json.dumps(payload, allow_nan=False))

    @property
    def notebook(self) -> str | None:
        """The ``notebook`` query argument: whose store to read."""
        return self.get_argument("notebook", None)

    async def in_thread(self, work: Callable[..., T], *args: Any) -> T:
        """Run ``work(*args)`` in a reader thread; nbtrack errors become 400/404 JSON."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self.extension.executor, functools.partial(work, *args)
            )
        except NotFoundError as exc:
            raise ApiError(404, str(exc)) from exc
        except InvalidInputError as exc:  # FilterSyntaxError included: its text points at the token
            raise ApiError(400, str(exc)) from exc
        except ArtifactIntegrityError as exc:  # the store is damaged: say so, serve nothing
            raise ApiError(500, str(exc)) from exc
        except StoreError as exc:  # needs upgrading, not nbtrack's, read-only for a POST
            raise ApiError(409, str(exc)) from exc

    async def read(self, work: Callable[[SqlStore], T], missing: Callable[[str], T]) -> T:
        """``work(store)`` on the request's store, or ``missing(uri)`` when it does not exist.

        A missing store is never created: reading must leave no file behind.
        """
        notebook = self.notebook

        def run() -> T:
            uri = self.extension.tracking_uri_for(notebook)
            if not store_exists(uri):
                return missing(uri)
            # Read-only: a GET never creates, migrates or locks anything.
            self.extension.mark_orphans(get_store(uri, readonly=True))
            # Again: marking runs KILLED may have opened the store for writing,
            # which then serves reads too (and the read-only one is closed).
            return work(get_store(uri, readonly=True))

        return await self.in_thread(run)

    async def read_run(self, run_id: str, work: Callable[[SqlStore], T]) -> T:
        """Like :meth:`read` for one run: a missing store is a 404 naming where it looked."""

        def no_store(uri: str) -> T:
            raise NotFoundError(f"no run with id {run_id!r}: there is no store at {uri}")

        return await self.read(work, no_store)

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object; 415 unless the Content-Type is JSON."""
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise ApiError(
                415,
                f"this endpoint takes JSON; send the body with Content-Type: application/json "
                f"(got {content_type or 'none'!r})",
            )
        if not self.request.body.strip():
            return {}
        try:
            body = json.loads(self.request.body)
        except ValueError as exc:
            raise ApiError(400, f"the body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ApiError(400, f"the body must be a JSON object, not {type(body).__name__}")
        return body


class StatusHandler(NbtrackHandler):
    """GET status: the version and whether the request's store exists."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """``{"version", "store_exists", "tracking_uri"}``."""

        notebook = self.notebook

        def status() -> dict[str, Any]:
            uri = self.extension.tracking_uri_for(notebook)
            exists = store_exists(uri)
            problem = None
            if exists:
                try:
                    get_store(uri, readonly=True)
                except StoreError as exc:  # needs upgrading, or not nbtrack's: say so
                    problem = str(exc)
            return {"version": nbtrack.__version__, "store_exists": exists,
                    "tracking_uri": uri, "store_path": locate.store_location(uri),
                    "store_problem": problem}  # fmt: skip

        self.send_json(await self.in_thread(status))


class ExperimentsHandler(NbtrackHandler):
    """GET experiments."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """``{"experiments": [...]}``; ``view`` is active (default), deleted or all."""
        view = self.get_argument("view", None)
        found = await self.read(lambda store: queries.experiments(store, view), lambda _: [])
        self.send_json({"experiments": found})


class RunsHandler(NbtrackHandler):
    """GET runs: filter, sort, page; the current notebook's runs first."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """``{"runs": [RunSummary], "next_page_token": str | null}``."""
        file = await self.in_thread(self.extension.notebook_file, self.notebook)
        try:
            experiment_ids = [e for e in self.get_arguments("experiment_id") if e]
            if len(experiment_ids) > queries.MAX_EXPERIMENT_IDS:
                raise InvalidInputError(
                    f"give at most {queries.MAX_EXPERIMENT_IDS} experiment_id arguments, "
                    f"not {len(experiment_ids)}"
                )
            query = queries.RunQuery(
                experiment_ids=experiment_ids or None,
                filter_string=self.get_argument("filter", "") or None,
                order_by=[o for o in self.get_arguments("order_by") if o],
                view=queries.view_of(self.get_argument("view", None)),
                max_results=queries.bounded_int(
                    self.get_argument("max_results", None),
                    "max_results",
                    50,
                    1,
                    queries.MAX_RESULTS_LIMIT,
                ),
                offset=queries.decode_page_token(self.get_argument("page_token", None)),
                notebook_paths=queries.notebook_candidates(file),
            )
        except InvalidInputError as exc:
            raise ApiError(400, str(exc)) from exc
        extension = self.extension

        def page(store: SqlStore) -> dict[str, Any]:
            runs, current, more = queries.search_runs(store, query)
            # Runs of one notebook share its path: each is made relative once.
            relative = functools.lru_cache(maxsize=None)(extension.relative_notebook)
            return {
                "runs": [
                    queries.summary_json(
                        run, relative(run.tags.get(queries.NOTEBOOK_TAG)), run.run_id in current
                    )
                    for run in runs
                ],
                "next_page_token": queries.encode_page_token(query.offset + len(runs))
                if more
                else None,
            }

        self.send_json(await self.read(page, lambda _: {"runs": [], "next_page_token": None}))


class RunHandler(NbtrackHandler):
    """GET runs/<run_id>: a RunSummary with metric details and the lifecycle stage."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        """``{"run": RunSummary + {"metrics_detail", "lifecycle_stage"}}``."""
        file = await self.in_thread(self.extension.notebook_file, self.notebook)
        candidates = set(queries.notebook_candidates(file))
        extension = self.extension

        def detail(store: SqlStore) -> dict[str, Any]:
            run = store.get_run(run_id)
            recorded = run.data.tags.get(queries.NOTEBOOK_TAG)
            summary = queries.run_json(
                run, extension.relative_notebook(recorded), recorded in candidates
            )
            summary["metrics_detail"] = queries.metrics_detail(store, run_id)
            summary["lifecycle_stage"] = run.info.lifecycle_stage
            summary["parent_run_id"] = run.info.parent_run_id
            return summary

        self.send_json({"run": await self.read_run(run_id, detail)})


class HistoryHandler(NbtrackHandler):
    """GET runs/<run_id>/history?key=&max_points=: one metric, downsampled."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        """``{"key", "points": [{"step", "timestamp", "value"}], "downsampled", "total_points"}``"""
        key = self.get_argument("key", "")
        if not key:
            raise ApiError(400, "give the metric's name: history?key=<metric key>")
        try:
            max_points = queries.bounded_int(
                self.get_argument("max_points", None),
                "max_points",
                2000,
                2,
                queries.MAX_POINTS_LIMIT,
            )
        except InvalidInputError as exc:
            raise ApiError(400, str(exc)) from exc
        series = self.extension.series
        found = await self.read_run(
            run_id, lambda store: queries.history(store, series, run_id, key, max_points)
        )
        self.send_json(found)


class TimelineHandler(NbtrackHandler):
    """GET runs/<run_id>/timeline: the cells executed during the run."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        """``{"cells": [...]}`` in execution order."""
        cells = await self.read_run(run_id, lambda store: queries.timeline(store, run_id))
        self.send_json({"cells": cells})


class ArtifactsHandler(NbtrackHandler):
    """GET runs/<run_id>/artifacts?path=: one directory level of the run's artifacts."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        """``{"files": [{"path", "is_dir", "file_size"}]}``."""
        path = self.get_argument("path", None)
        files = await self.read_run(run_id, lambda store: queries.artifacts(store, run_id, path))
        self.send_json({"files": files})


class ArtifactRawHandler(NbtrackHandler):
    """GET runs/<run_id>/artifacts/raw?path=: one artifact file's bytes, as an attachment."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        """The file's bytes, streamed; 404 if missing, 400 for an absolute or escaping path."""
        path = self.get_argument("path", None)
        target, chunks, size = await self.read_run(
            run_id, lambda store: queries.artifact_file(store, run_id, path)
        )
        # The first chunk is read before any header is sent: a blob that fits in one
        # chunk, or whose size is wrong, fails as a clean JSON error. A longer blob whose
        # sha256 is wrong fails before its last chunk: the connection closes short of
        # Content-Length, so no client takes the edited file for a whole one.
        first = await self.in_thread(next, chunks, b"")
        name = target.rsplit("/", 1)[-1]
        guessed = mimetypes.guess_type(name)[0]
        content_type = guessed if guessed in _SAFE_TYPES else "application/octet-stream"
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(name)}")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Length", str(size))
        self.set_header("Content-Type", content_type)
        chunk = first
        while chunk:
            self.write(chunk)
            await self.flush()
            chunk = await self.in_thread(next, chunks, b"")
        self.finish(set_content_type=content_type)


class DocumentHandler(NbtrackHandler):
    """GET of a JSON document the tracker stores as an artifact (snapshot, environment)."""

    artifact = ""
    what = ""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        """The document as stored (already JSON); 404 if the run has none."""
        document = await self.read_run(
            run_id,
            lambda store: queries.stored_document(store, run_id, self.artifact, self.what),
        )
        self.finish(document)


class SnapshotHandler(DocumentHandler):
    """GET runs/<run_id>/snapshot: the notebook snapshot (nbformat v4 JSON)."""

    artifact = SNAPSHOT_FILE
    what = "notebook snapshot"


class EnvironmentHandler(DocumentHandler):
    """GET runs/<run_id>/environment: the environment captured at run start."""

    artifact = ENVIRONMENT_FILE
    what = "captured environment"


class MutationHandler(NbtrackHandler):
    """A POST that changes a run through :class:`~nbtrack.client.TrackingClient`."""

    def change(self, client: TrackingClient, run_id: str, body: dict[str, Any]) -> None:
        """Apply the change (validated by the client); runs in a reader thread."""
        raise NotImplementedError

    @web.authenticated
    @authorized
    async def post(self, run_id: str) -> None:
        """``{"ok": true}`` once the change is durable."""
        body = self.json_body()

        def apply(store: SqlStore) -> None:
            client = TrackingClient(store.uri)
            self.change(client, run_id, body)
            client.flush()

        await self.read_run(run_id, apply)
        self.send_json({"ok": True})


class TagHandler(MutationHandler):
    """POST runs/<run_id>/tags ``{"key": str, "value": str}``: set a tag."""

    def change(self, client: TrackingClient, run_id: str, body: dict[str, Any]) -> None:
        """Set the tag (a tag set again takes the new value)."""
        key, value = body.get("key"), body.get("value")
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidInputError(
                'send {"key": "<tag name>", "value": "<text>"}; both must be strings'
            )
        client.set_tag(run_id, key, value)


class DeleteHandler(MutationHandler):
    """POST runs/<run_id>/delete: move the run to the trash."""

    def change(self, client: TrackingClient, run_id: str, body: dict[str, Any]) -> None:
        """Delete (restorable until ``nbtrack gc``)."""
        client.delete_run(run_id)


class RestoreHandler(MutationHandler):
    """POST runs/<run_id>/restore: bring a deleted run back."""

    def change(self, client: TrackingClient, run_id: str, body: dict[str, Any]) -> None:
        """Restore."""
        client.restore_run(run_id)


class UnknownHandler(NbtrackHandler):
    """Anything else under nbtrack/api/: a JSON 404 (after authentication, like the rest)."""

    @web.authenticated
    @authorized
    async def get(self, rest: str) -> None:
        """404 naming the path."""
        raise ApiError(404, f"no nbtrack endpoint {rest!r}; see the nbtrack.server docstring")

    @web.authenticated
    @authorized
    async def post(self, rest: str) -> None:
        """404 naming the path."""
        raise ApiError(404, f"no nbtrack endpoint {rest!r}; see the nbtrack.server docstring")


_RUN = r"runs/(?P<run_id>[^/]+)"
ROUTES: list[tuple[str, type[NbtrackHandler]]] = [
    (r"status", StatusHandler),
    (r"experiments", ExperimentsHandler),
    (r"runs", RunsHandler),
    (_RUN, RunHandler),
    (_RUN + r"/history", HistoryHandler),
    (_RUN + r"/timeline", TimelineHandler),
    (_RUN + r"/artifacts", ArtifactsHandler),
    (_RUN + r"/artifacts/raw", ArtifactRawHandler),
    (_RUN + r"/snapshot", SnapshotHandler),
    (_RUN + r"/environment", EnvironmentHandler),
    (_RUN + r"/tags", TagHandler),
    (_RUN + r"/delete", DeleteHandler),
    (_RUN + r"/restore", RestoreHandler),
    (r"(?P<rest>.*)", UnknownHandler),
]
