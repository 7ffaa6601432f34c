"""jupyter_server extension: the REST API the JupyterLab extension reads (contract v1).

Enabled as ``nbtrack`` (``{"ServerApp": {"jpserver_extensions": {"nbtrack": true}}}``,
shipped as ``jupyter-config/server-config/nbtrack.json``). Every route lives under
``{base_url}nbtrack/api/``.

Security
--------
Every handler is a jupyter_server ``APIHandler`` method decorated with
``@tornado.web.authenticated`` and ``@jupyter_server.auth.decorator.authorized``
(resource ``"nbtrack"``; GET is the action ``read``, POST ``write``), so a request
without the server's token or login cookie gets 403 and never data, and an
``Authorizer`` can restrict nbtrack separately. XSRF stays on: a POST
authenticated by cookie needs the ``_xsrf`` cookie/header pair as every JupyterLab
POST does (a token in the ``Authorization`` header needs none). POSTs accept only
``Content-Type: application/json`` (415 otherwise). Artifact downloads are served
as attachments, with ``X-Content-Type-Options: nosniff``, and as
``application/octet-stream`` unless their type is plainly inert (images, PDF,
text, CSV, JSON), so no artifact can run script on the server's origin.

Responses and errors
--------------------
Responses are JSON (``Content-Type: application/json``) except the artifact
download. Errors are JSON ``{"message": "...", "reason": "..."}`` where ``reason``
is the HTTP reason phrase, with status 400 (bad input: the message names the
problem and the fix), 403 (not authenticated or not authorized), 404 (unknown
run, artifact, endpoint), 409 (a store that cannot be used as it is: it needs
upgrading, is not an nbtrack store, or is read-only for a POST), 415 (a POST
body that is not JSON) or 500. Non-finite
floats (NaN, infinities) are ``null``: JSON cannot spell them. Times are integer
milliseconds since the epoch.

Which store
-----------
Every endpoint takes an optional ``notebook`` query argument: the server-relative
path of the notebook (``dir/a.ipynb``, as JupyterLab names it). The store is the
one that notebook's kernel uses by default:

1. ``c.NbtrackExtension.tracking_uri`` when configured (overrides everything);
2. else ``NBTRACK_TRACKING_URI`` from the server's environment;
3. else the nearest ``.nbtrack/`` at or above ``root_dir/dirname(notebook)``
   (from ``root_dir`` when no notebook is given);
4. else, where the kernel would create it: ``.nbtrack/`` at the top of the git
   work tree holding the notebook, else at ``root_dir`` (the extension sets
   ``NBTRACK_JUPYTER_ROOT`` for the kernels the server starts, so they agree).

A ``notebook`` that leaves the server's root (``..``) is a 400. A missing store
gives empty lists (and ``store_exists: false``), never a 500, and reading never
creates a store or any file: GETs open the store read-only (SQLite ``mode=ro``),
so they never migrate it, take its migration lock or change its journal mode.
A store written by an older nbtrack is a 409 whose message says
"store needs upgrading: run `nbtrack upgrade`"; a file that is not an nbtrack
store (MLflow's, another application's) is a 409 saying what it is; a POST to a
store this server may not write is a 409 saying why. Stores are opened once per URI and cached;
reads run in the extension's own threads (``c.NbtrackExtension.reader_threads``,
default 4), never on the event loop, and never flush or lock out a process
that is logging (SQLite WAL: readers and the writer do not block each other).
RUNNING runs whose process died are marked KILLED (keeping all they logged),
checked at most every ``c.NbtrackExtension.orphan_check_interval`` seconds per
store (default 10), as opening a store does.

Endpoints
---------
``GET status``
    ``{"version": "0.1.0", "store_exists": bool, "tracking_uri": str,
    "store_path": str, "store_problem": str | null}``: ``store_path`` is the
    store's directory (or file) as a user names it; ``store_problem`` why an
    existing store cannot be read as it is (e.g. it needs upgrading), else null.

``GET experiments[?view=active|deleted|all]``
    ``{"experiments": [{"experiment_id": str, "name": str, "lifecycle_stage": str,
    "creation_time": int | null, "tags": {str: str}}]}``, oldest first; ``view``
    defaults to ``active``.

``GET runs?experiment_id=&filter=&order_by=&max_results=50&page_token=&notebook=&view=``
    ``{"runs": [RunSummary], "next_page_token": str | null}``.

    * ``experiment_id``: may be repeated; none means every experiment.
    * ``filter``: the search grammar of :mod:`nbtrack.store.search` (MLflow's, plus
      OR and parentheses), e.g. ``metrics.acc > 0.9 and params.lr = '0.01'``. A bad
      filter is 400 whose ``message`` is the store's error text, which quotes the
      filter and points at the offending token (``... (at position 12)``, then the
      filter and a ``^`` under the token).
    * ``order_by``: one item per argument, may be repeated, e.g.
      ``order_by=metrics.acc DESC&order_by=params.lr``; a bad item is 400 the same way.
      Ties (and no ``order_by``) sort by ``start_time DESC``.
    * ``max_results``: 1..1000, default 50. ``page_token``: the ``next_page_token``
      of the previous page (opaque); ``next_page_token`` is null on the last page.
    * ``view``: ``active`` (default), ``deleted`` or ``all`` (to list runs to restore).
    * Runs whose notebook tag (``nbtrack.notebook``, the absolute path the tracker
      records) names the ``notebook`` argument come first, with
      ``"current_notebook": true``; then the others; each group in ``order_by``
      order. Paging runs over the whole ordered list.

    ``RunSummary = {"run_id": str, "run_name": str, "experiment_id": str,
    "status": "RUNNING" | "FINISHED" | "FAILED" | "KILLED" | "SCHEDULED",
    "start_time": int, "end_time": int | null, "notebook": str | null,
    "current_notebook": bool, "params": {str: str}, "metrics": {str: float | null},
    "tags": {str: str}}``. ``metrics`` holds each metric's value at its highest
    step. ``notebook`` is the run's notebook relative to the server's root when it
    lies under it (so it can be opened), else the path as recorded; null when the
    run recorded none.

``GET runs/<run_id>[?notebook=]``
    ``{"run": RunSummary + {"metrics_detail": {key: {"value": float | null,
    "step": int, "timestamp": int, "min": float | null, "max": float | null}},
    "lifecycle_stage": "active" | "deleted", "parent_run_id": str | null}}``;
    404 JSON if the run (or the store) does not exist.

``GET runs/<run_id>/history?key=<metric key>&max_points=2000``
    ``{"key": str, "points": [{"step": int, "timestamp": int, "value": float | null}],
    "downsampled": bool, "total_points": int}``, by step. A history longer than
    ``max_points`` (2..100000) is cut into ``(max_points - 2) // 2`` buckets, each
    keeping its minimum and maximum point, plus the first and last points
    (``downsampled: true``). A key the run never logged gives no points; no
    ``key`` is 400. The server keeps served histories in memory and reads only
    new points: appended points show at once, a point rewritten in place (same
    step logged again) within ``c.NbtrackExtension.history_recheck_interval``
    seconds (default 2).

``GET runs/<run_id>/timeline``
    ``{"cells": [Cell]}`` in execution order, where ``Cell = {"seq": int,
    "execution_count": int | null, "cell_id": str | null, "source": str,
    "started": int, "finished": int | null, "duration_ms": int | null,
    "outcome": "ok" | "error" | "running", "error": bool, "error_type": str | null,
    "error_message": str | null, "metrics": [str], "params": [str], "tags": [str],
    "artifacts": [str]}``: the run's executed notebook cells (``seq`` numbers them
    from 1; ``cell_id`` is JupyterLab's cell id; ``finished`` is null while a cell
    runs or when its kernel died) with the names of the metrics, params, tags and
    artifact paths each cell logged.

``GET runs/<run_id>/artifacts[?path=]``
    ``{"files": [{"path": str, "is_dir": bool, "file_size": int | null}]}``: the
    entries directly under ``path`` (the run's root by default); paths are
    run-relative with ``/``. An absolute path or one with ``..`` is 400.

``GET runs/<run_id>/artifacts/raw?path=<file>``
    The file's bytes with ``Content-Disposition: attachment``; 404 if the run has
    no such file (or it is a directory), 400 for an absolute or escaping path.

``GET runs/<run_id>/snapshot``
    The run's notebook snapshot (artifact ``notebook.ipynb``) as nbformat v4 JSON;
    404 JSON if it has none.

``GET runs/<run_id>/environment``
    The environment captured at run start (artifact ``environment.json``): Python,
    platform, packages, git, GPUs; 404 JSON if none.

``GET histories?run_id=<id>&run_id=...&key=<metric>&key=...&max_points=1000``
    ``{"histories": [{"run_id": str, "key": str, "steps": [int], "timestamps": [int],
    "values": [float | null], "downsampled": bool, "total_points": int | null}]}``,
    one entry per (run, key) in the order asked (runs outer): the Experiments view's
    chart grid in one request. 1..50 runs, at most 2,000 series; ``max_points``
    4..10000. A series whose step range fits in ``max_points`` comes whole; a longer
    one is sampled at ``max_points`` evenly spaced steps by index seeks
    (``downsampled: true``, ``total_points: null``: counting would scan it). A key
    a run never logged has empty columns; an unknown run is 404.

``GET compare?run_id=<id>&run_id=...[&base=<id>&other=<id>]``
    ``{"runs": [{"run_id", "run_name", "status", "start_time", "params",
    "metrics": {key: {"last", "min", "max", "step"}}}], "param_keys": [str],
    "differing_params": [str], "metric_keys": [str], "diff": NotebookDiff | null}``
    for 1..20 runs. ``diff`` is the cell diff of ``base`` → ``other`` (default: the
    first two runs; null for one run): ``{"base", "other", "sources": [str, str],
    "summary": {"added", "removed", "source", "outputs", "same"}, "changes":
    [{"kind", "old": Cell | null, "new": Cell | null, "line_diff": [str]}]}``
    with ``Cell = {"cell_id", "source", "outputs"}`` (outputs as text), from each
    run's notebook snapshot, else its executed notebook, else its cell timeline.
    A ``base``/``other`` not among the runs is 400.

``POST runs/<run_id>/tags`` with body ``{"key": str, "value": str}``
    Sets the tag (a tag set again takes the new value) -> ``{"ok": true}``.

``POST runs/<run_id>/delete``, ``POST runs/<run_id>/restore`` (body ``{}`` or empty)
    Moves the run to the trash / back -> ``{"ok": true}``.

A mutation answers once the change is durable. Any other path under
``nbtrack/api/`` is a 404 JSON.

Configuration (``jupyter_server_config.py``)::

    c.NbtrackExtension.tracking_uri = "sqlite:////data/team/nbtrack.db"
    c.NbtrackExtension.reader_threads = 4
    c.NbtrackExtension.history_cache_points = 4_000_000  # 24 bytes each
    c.NbtrackExtension.history_recheck_interval = 2.0
    c.NbtrackExtension.orphan_check_interval = 10
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from nbtrack.server._config import NbtrackExtension
from nbtrack.store.locate import ENV_JUPYTER_ROOT

if TYPE_CHECKING:
    from jupyter_server.serverapp import ServerApp

__all__ = ["NbtrackExtension"]


def _load_jupyter_server_extension(serverapp: ServerApp) -> None:
    """Register the handlers (jupyter_server calls this once the extension is enabled)."""
    from nbtrack.server._routes import handlers

    extension = NbtrackExtension(root_dir=serverapp.root_dir, parent=serverapp)
    # Kernels inherit the server's environment: with the root known, a kernel
    # running in a subdirectory creates the store where this extension looks.
    # Assigned, not defaulted: a server started from another server's kernel
    # inherits that server's root, which is not its own.
    os.environ[ENV_JUPYTER_ROOT] = str(extension.root_dir)
    web_app = serverapp.web_app
    # tornado's add_handlers is not annotated.
    web_app.add_handlers(".*$", handlers(web_app.settings["base_url"], extension))  # type: ignore[no-untyped-call]
    serverapp.log.info(
        "nbtrack: REST API at %snbtrack/api/ (store: %s)",
        web_app.settings["base_url"],
        extension.tracking_uri or "found from each notebook",
    )
