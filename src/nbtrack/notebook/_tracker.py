"""The IPython side of nbtrack: cell hooks, watched variables, run events.

:class:`Tracker` is a traitlets ``Configurable`` (``%config Tracker.auto_snapshot
= False``, or ``c.Tracker...`` in ``ipython_config.py``). While a run is
active it records each executed cell in the run's timeline and makes values
logged during the cell remember it. The hooks do no I/O: they enqueue tuples
for the store's writer. They never raise into the user's cell: failures go to
the ``nbtrack.notebook`` logger.

When a run starts or ends it tells the JupyterLab extension over the comm
(:mod:`nbtrack.notebook._comm`, the ``run`` message), and at the start logs
the notebook's ``parameters`` cells as params (``capture_parameters``).
"""

from __future__ import annotations

import logging
import math
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import IPython
from traitlets import Bool, Enum, Unicode, observe
from traitlets.config import Configurable

from nbtrack import fluent
from nbtrack._artifact_names import ENVIRONMENT_FILE, EXECUTED_FILE, SNAPSHOT_FILE
from nbtrack.notebook import _environment, _params_cell
from nbtrack.system_metrics import _monitor as _system_metrics

if TYPE_CHECKING:
    from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult, InteractiveShell

    from nbtrack.client import TrackingClient
    from nbtrack.notebook._comm import SnapshotChannel

log = logging.getLogger("nbtrack.notebook")

_MISSING = object()
EXTENSION = "nbtrack"
_LOAD_EXT = re.compile(r"^\s*%load_ext\s+nbtrack\s*$", re.MULTILINE)


class _OpenCell:
    """The cell executing now, as recorded for one run."""

    __slots__ = ("cell_id", "client", "count", "run_id", "seq", "source", "start_ms", "start_ns")

    def __init__(
        self, run: fluent.ActiveRun, cell_id: str | None, count: int | None, source: str
    ) -> None:
        self.run_id = run.info.run_id
        self.client = run.client
        self.cell_id = cell_id
        self.count = count
        self.source = source
        self.start_ns = time.perf_counter_ns()
        self.start_ms = time.time_ns() // 1_000_000
        self.seq = self.client.begin_cell(self.run_id, cell_id, count, source, self.start_ms)

    def close(self, error: BaseException | None) -> None:
        duration_ms = (time.perf_counter_ns() - self.start_ns) // 1_000_000
        self.client.end_cell(
            self.run_id, self.seq, self.cell_id, self.count, self.source, self.start_ms,
            duration_ms, error,
        )  # fmt: skip


class Tracker(Configurable):
    """Captures a notebook's work into the active nbtrack run."""

    record_timeline = Bool(
        True,
        help="Record every cell executed while a run is active (source, execution count, "
        "duration, outcome) and which cell logged each value.",
    ).tag(config=True)
    auto_snapshot = Bool(
        True,
        help="Store the notebook (notebook.ipynb) and the cells as they ran (executed.ipynb) "
        "as artifacts when a run ends, including at kernel shutdown.",
    ).tag(config=True)
    capture_environment = Bool(
        True,
        help="At run start, store Python, platform, installed packages, git state and GPUs "
        "as tags and an environment.json artifact.",
    ).tag(config=True)
    capture_parameters = Bool(
        True,
        help="At run start, log as params the top-level assignments of the cells tagged "
        "'parameters' (papermill's convention) in the notebook the JupyterLab extension "
        "sent: the kernel's value of each name, else the literal in the cell (never run).",
    ).tag(config=True)
    runner_timeline = Bool(
        False,
        help="The run's cell timeline is recorded by the process that runs this kernel "
        "(`nbtrack run`, with record_timeline off here), one entry per executed cell "
        "numbered by its execution count: values logged during a cell are linked to "
        "that entry.",
    ).tag(config=True)
    default_experiment = Unicode(
        "",
        help="Experiment for `%track start` when --experiment is not given "
        "(empty: the active experiment, else 'Default').",
    ).tag(config=True)

    durability = Enum(
        ["", "normal", "full"],
        "",
        help="What flush() guarantees: 'normal' (a flushed value survives the kernel being "
        "killed) or 'full' (it survives a power loss too: an fsync per write transaction). "
        "Empty: NBTRACK_DURABILITY, else 'normal'.",
    ).tag(config=True)

    @observe("durability")
    def _durability_changed(self, change: dict[str, Any]) -> None:
        from nbtrack.store import set_durability

        set_durability(change["new"] or None)

    autolog = Bool(
        False,
        help="Log training by the installed libraries (scikit-learn, XGBoost, LightGBM, "
        "Lightning) with no log calls: nbtrack.autolog() when set, autolog(disable=True) "
        "when unset.",
    ).tag(config=True)

    @observe("autolog")
    def _autolog_changed(self, change: dict[str, Any]) -> None:
        from nbtrack.autologging import autolog

        autolog(disable=not change["new"])

    def __init__(self, shell: InteractiveShell, **kwargs: Any) -> None:
        super().__init__(parent=shell, **kwargs)
        self.shell = shell
        self.channel: SnapshotChannel | None = None
        self.watched: dict[str, Any] = {}
        self._cell: _OpenCell | None = None
        self._cell_info: tuple[str | None, int | None, str] | None = None
        self._unmarked = False  # nbtrack left out of IPython's loaded extensions for a cell
        self._registered = False
        # the client and run whose values are linked to a runner's cell
        self._linked: tuple[TrackingClient, str] | None = None
        self._executing = False  # between IPython's pre_execute and post_execute
        self._run_ended = False  # a run ended in this execution: tell the frontend after it

    # -- registration ---------------------------------------------------------------

    def _hooks(self) -> tuple[tuple[str, Any], ...]:
        # pre/post_execute also fire for silent executions (the labextension's
        # toolbar), pre/post_run_cell only for the user's cells.
        return (
            ("pre_run_cell", self.pre_run_cell),
            ("post_run_cell", self.post_run_cell),
            ("pre_execute", self.pre_execute),
            ("post_execute", self.post_execute),
        )

    def register(self) -> None:
        """Hook into the shell's cell events and into run start/end."""
        for event, callback in self._hooks():
            self.shell.events.register(event, callback)
        fluent.add_run_listener(self.on_run_event)
        self._registered = True

    def unregister(self) -> None:
        """Remove every hook :meth:`register` added."""
        for event, callback in self._hooks():
            if callback in self.shell.events.callbacks[event]:
                self.shell.events.unregister(event, callback)
        fluent.remove_run_listener(self.on_run_event)
        self._registered = False

    # -- cell hooks (hot path: no I/O, never raise) --------------------------------

    def pre_run_cell(self, info: ExecutionInfo) -> None:
        """Open a timeline entry for the active run."""
        try:
            cell_info = (
                getattr(info, "cell_id", None),
                _running_count(self.shell.execution_count, info),
                str(info.raw_cell or ""),
            )
            self._cell_info = cell_info
            self._cell = None
            if "load_ext" in cell_info[2]:
                self._quiet_reload(cell_info[2])
            if self.record_timeline and fluent._active_runs:
                self._cell = _OpenCell(fluent._active_runs[-1], *cell_info)
            elif self.runner_timeline and fluent._active_runs:
                self._link_runner_cell(fluent._active_runs[-1], cell_info[1])
        except Exception:
            log.exception("nbtrack: could not record the start of a cell")

    def post_run_cell(self, result: ExecutionResult) -> None:
        """Close the timeline entry and log watched variables that changed."""
        try:
            if self._unmarked:
                self._unmarked = False
                manager: Any = self.shell.extension_manager
                if self._registered:  # not unloaded by the cell: IPython's record again
                    manager.loaded.add(EXTENSION)
            if self._linked is not None:
                (client, run_id), self._linked = self._linked, None
                client.link_cell(run_id, None)
            cell, self._cell, self._cell_info = self._cell, None, None
            try:
                if self.watched and fluent._active_runs:
                    self._log_watched()  # before closing: the points remember this cell
            finally:
                if cell is not None:
                    if result.execution_count is not None:
                        cell.count = result.execution_count  # the authoritative count
                    cell.close(result.error_in_exec or result.error_before_exec)
            _system_metrics.cell_ended()  # a clock check; the sampler thread does the work
        except Exception:
            log.exception("nbtrack: could not record the end of a cell")

    def _quiet_reload(self, source: str) -> None:
        """Let ``%load_ext nbtrack`` run again silently (re-running a notebook's first cell).

        IPython prints "The nbtrack extension is already loaded" for a name in
        ``extension_manager.loaded``: for this cell the name is left out, so
        IPython calls ``load_ipython_extension`` again (which does nothing for a
        shell it has loaded) and records it again; :meth:`post_run_cell` puts
        it back in any case.
        """
        manager = getattr(self.shell, "extension_manager", None)
        if manager is not None and EXTENSION in manager.loaded and _LOAD_EXT.search(source):
            manager.loaded.discard(EXTENSION)
            self._unmarked = True

    def _link_runner_cell(self, run: fluent.ActiveRun, count: int | None) -> None:
        """Values logged from now to the cell's end belong to the runner's entry ``count``."""
        if count is None:
            return
        run.client.link_cell(run.info.run_id, count)
        self._linked = (run.client, run.info.run_id)

    def pre_execute(self) -> None:
        """Note that code runs (a cell, or a silent execution from the frontend)."""
        self._executing = True

    def post_execute(self) -> None:
        """Tell the frontend about a run that ended during the execution just finished."""
        self._executing = False
        if self._run_ended:
            self._run_ended = False
            try:
                self._send_run()
            except Exception:  # IPython would print a callback error under the cell
                log.exception("nbtrack: could not tell the frontend that a run ended")

    def _log_watched(self) -> None:
        namespace = self.shell.user_ns
        for name, last in self.watched.items():
            value = namespace.get(name, _MISSING)
            if value is _MISSING or value is last or _same(value, last):
                continue
            self.watched[name] = value
            try:
                fluent.log_metric(name, value)
            except ValueError as exc:
                log.warning("nbtrack: watched variable %s not logged: %s", name, exc)

    # -- run events ----------------------------------------------------------------

    def on_run_event(self, event: str, run: fluent.ActiveRun) -> None:
        """Tie runs started inside a cell to it; snapshot and close the cell when a run ends.

        Either way the frontend is told the active run (see :meth:`post_execute`).
        """
        if event == "started":
            try:
                self._on_start(run)
            finally:  # the frontend hears of the run even if capturing its context failed
                self._send_run()
        elif event == "ending":
            self._on_end(run)
        elif event == "ended":
            # While code runs, wait for post_execute (one message per execution, however
            # many runs ended); otherwise (kernel exit, a thread) tell the frontend now:
            # the end is stored, so the frontend reads the run ended.
            if self._executing:
                self._run_ended = True
            else:
                self._send_run()

    def _send_run(self) -> None:
        if self.channel is not None:
            self.channel.send_run()

    def _on_start(self, run: fluent.ActiveRun) -> None:
        if self.record_timeline and self._cell_info is not None and self._cell is None:
            # The run began inside this cell (`%track start`, `with start_run()`).
            self._cell = _OpenCell(run, *self._cell_info)
        elif self.runner_timeline and self._cell_info is not None:
            self._link_runner_cell(run, self._cell_info[1])
        notebook = self.notebook_path()
        tags = {"mlflow.source.type": "NOTEBOOK"}
        if notebook is not None:
            tags["mlflow.source.name"] = str(notebook)
            tags["nbtrack.notebook"] = str(notebook)
        if self.capture_environment:
            env = _environment.capture(notebook)
            tags.update(_environment.summary_tags(env))
            run.client.log_dict(run.info.run_id, env, ENVIRONMENT_FILE)
        run.client.log_batch(run.info.run_id, tags=list(tags.items()))
        if self.capture_parameters:
            self._log_parameters(run)

    def _log_parameters(self, run: fluent.ActiveRun) -> None:
        """Log the live notebook's ``parameters`` cells as params, but none the run has."""
        latest = self.channel.latest() if self.channel is not None else None
        if latest is None:
            return
        params, skipped = _params_cell.notebook_params(
            latest[0], self.shell.user_ns, self.shell.transform_cell
        )
        for reason in skipped:
            log.info("nbtrack: parameters cell: not a param: %s", reason)
        client, run_id = run.client, run.info.run_id
        # A resumed or joined run keeps what it has: params cannot change value.
        new = [(k, v) for k, v in params.items() if client.logged_param(run_id, k) is None]
        if new:
            run.client.log_batch(run_id, params=new)

    def _on_end(self, run: fluent.ActiveRun) -> None:
        cell = self._cell
        if cell is not None and cell.run_id == run.info.run_id:
            cell.close(None)  # the run ends inside this cell: record it as it stands
            self._cell = None
        if self.auto_snapshot:
            self.snapshot(run)

    # -- snapshots -----------------------------------------------------------------

    def notebook_path(self) -> Path | None:
        """The notebook file this kernel runs, if it can be found."""
        from nbtrack.notebook._session import find_notebook_path

        path, source = find_notebook_path(self.shell.user_ns)
        log.debug("nbtrack: notebook path %s (from %s)", path, source)
        return Path(path) if path is not None else None

    def snapshot(self, run: fluent.ActiveRun) -> str:
        """Store notebook.ipynb and executed.ipynb for ``run``; returns the snapshot's source.

        Durable when this returns: the JupyterLab extension reads it from the
        server right after ``%track snapshot``.
        """
        from nbtrack.notebook._notebook_json import notebook_bytes
        from nbtrack.notebook._snapshot import notebook_from_timeline, take_snapshot

        client, run_id = run.client, run.info.run_id
        events = client.get_cell_timeline(run_id)
        snap = take_snapshot(self.channel, self.shell.user_ns, events)
        client.log_bytes(run_id, snap.content, SNAPSHOT_FILE)
        client.log_bytes(run_id, notebook_bytes(notebook_from_timeline(events)), EXECUTED_FILE)
        client.set_tag(run_id, "nbtrack.snapshot.source", snap.source)
        client.flush()
        return str(snap.source)


# IPython 9 counts a cell (execution_count += 1) before pre_run_cell, IPython 8 after.
_COUNTED_BEFORE_PRE_RUN_CELL = IPython.version_info >= (9,)


def _running_count(shell_count: int, info: ExecutionInfo) -> int:
    """The execution count of the cell about to run, as pre_run_cell can know it."""
    if _COUNTED_BEFORE_PRE_RUN_CELL and getattr(info, "store_history", False):
        return int(shell_count) - 1
    return int(shell_count)


def _same(a: Any, b: Any) -> bool:
    try:
        if a == b:
            return True
        return isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    except Exception:  # arrays and odd objects compare strangely: treat as changed
        return False
