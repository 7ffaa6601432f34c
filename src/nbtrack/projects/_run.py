"""``nbtrack run``: a notebook executed headless, as one tracked run.

Before the kernel starts, the runner creates the run and logs the parameters
in force (the parameters cell's literal defaults, overridden by the injected
values) as params, the injected values as ``parameters.json`` (Python literals,
which ``nbtrack reproduce`` injects again), the notebook as given as
``notebook.ipynb``, and (captured inside the kernel, whose Python may be
another one) the environment (``environment.json`` and tags). The
kernel gets ``NBTRACK_RUN_ID`` and ``NBTRACK_TRACKING_URI``, so whatever the
notebook logs (``%track`` magics or the API) joins this run
(see :mod:`nbtrack.fluent`).

The cell timeline has one source, the runner: it records every executed cell
(source, execution count, duration, outcome) through the store, whether or
not the notebook loads the extension. A notebook that does ``%load_ext
nbtrack`` gets a kernel whose ``Tracker`` records no timeline, snapshot or
environment of its own (:data:`KERNEL_TRACKER_ARGS`), so nothing is recorded
twice. The runner's timeline entries are numbered by execution count (a new
run's first cell is entry 1), which the kernel knows too: its ``Tracker``
links each value the notebook logs to the entry of the cell that logged it
(``Tracker.runner_timeline``), as in an interactive run.

After the kernel is shut down the executed notebook is stored as
``executed.ipynb`` and the run ends FINISHED, FAILED (a cell raised; the
error is in the ``nbtrack.error`` tag) or KILLED (Ctrl-C).
"""

from __future__ import annotations

import ast
import json
import logging
import os
import shlex
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from nbtrack._artifact_names import ENVIRONMENT_FILE, EXECUTED_FILE, SNAPSHOT_FILE
from nbtrack.client import TrackingClient
from nbtrack.entities import Run, RunStatus
from nbtrack.exceptions import InvalidInputError, NbtrackError, NbtrackWarning
from nbtrack.fluent import ENV_EXPERIMENT_ID, ENV_EXPERIMENT_NAME, ENV_RUN_ID
from nbtrack.notebook import _environment
from nbtrack.notebook._params_cell import NotSimpleError, param_text
from nbtrack.projects import _parameters
from nbtrack.projects._execute import CellFailure, check_kernel, execute, kernel_name_of
from nbtrack.store.locate import ENV_TRACKING_URI

log = logging.getLogger(__name__)

PARAMETERS_FILE = "parameters.json"
#: Settings for the kernel's own ``Tracker``: the runner records these things itself.
KERNEL_TRACKER_ARGS = (
    "--Tracker.record_timeline=False",
    "--Tracker.runner_timeline=True",
    "--Tracker.auto_snapshot=False",
    "--Tracker.capture_environment=False",
)
_MAX_ERROR_TAG = 1000
_nbformat: Any = nbformat  # untyped


class NotebookExecutionError(NbtrackError):
    """A cell of a headless run raised; the run (FAILED) and the failure are attached."""

    def __init__(self, run: Run, failure: CellFailure) -> None:
        super().__init__(
            f"run {run.info.run_id} FAILED: cell {failure.index} raised "
            f"{failure.ename}: {failure.evalue}"
        )
        self.run = run
        self.failure = failure


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT or SIGTERM) stopped a headless run; the run (KILLED) is attached."""

    def __init__(self, run: Run) -> None:
        super().__init__(f"run {run.info.run_id} was interrupted and marked KILLED")
        self.run = run


class _Timeline:
    """Records each executed cell into the run's timeline (the runner is its only source)."""

    def __init__(self, client: TrackingClient, run_id: str) -> None:
        self.client = client
        self.run_id = run_id
        self._open: tuple[int, int, int, int] | None = None

    def begin(self, index: int, cell: NotebookNode, execution_count: int) -> None:
        start_ms = time.time_ns() // 1_000_000
        seq = self.client.begin_cell(
            self.run_id, cell.get("id"), execution_count, cell.source, start_ms
        )
        if seq != execution_count:  # the kernel links what a cell logs by its count
            log.warning(
                "nbtrack: timeline entry %d of run %s is cell %d: values it logs are not "
                "linked to it", seq, self.run_id, execution_count,
            )  # fmt: skip
        self._open = (seq, execution_count, start_ms, time.perf_counter_ns())
        # Stored before the cell runs: a later cell of the notebook that asks which cell
        # logged what (get_metric_provenance, in the kernel's process) must find it.
        self.client.flush()

    def end(self, index: int, cell: NotebookNode, failure: CellFailure | None) -> None:
        if self._open is None:
            return
        seq, count, start_ms, start_ns = self._open
        self._open = None
        error = _KernelError.of(failure.ename, failure.evalue) if failure is not None else None
        self.client.end_cell(
            self.run_id, seq, cell.get("id"), count, cell.source, start_ms,
            (time.perf_counter_ns() - start_ns) // 1_000_000, error,
        )  # fmt: skip


class _KernelError(Exception):
    """An exception raised in the kernel, re-created so the timeline keeps its type name."""

    @classmethod
    def of(cls, ename: str, evalue: str) -> Exception:
        name = ename if ename.isidentifier() else "KernelError"
        error: Exception = type(name, (cls,), {})(evalue)
        return error


def notebook_text(notebook: NotebookNode) -> str:
    """The notebook as stored (``nbformat.writes``: sorted keys, stable)."""
    text: str = _nbformat.writes(notebook)
    return text


def read_notebook(path: str | os.PathLike[str]) -> NotebookNode:
    """A notebook file as nbformat v4; a clear error when it is missing or not a notebook."""
    file = Path(path)
    if not file.is_file():
        raise InvalidInputError(f"notebook {file} does not exist")
    try:
        notebook: NotebookNode = _nbformat.read(file, as_version=4)
    except (ValueError, nbformat.reader.NotJSONError) as exc:
        raise InvalidInputError(f"{file} is not a Jupyter notebook: {exc}") from None
    return notebook


def experiment_id_for(client: TrackingClient, name: str | None) -> str:
    """The id of experiment ``name`` (created if needed), else the environment's, else Default."""
    name = name or os.environ.get(ENV_EXPERIMENT_NAME)
    if not name:
        return os.environ.get(ENV_EXPERIMENT_ID) or "0"
    found = client.get_experiment_by_name(name)
    if found is None:
        try:
            return client.create_experiment(name)
        except NbtrackError:  # created by another process meanwhile
            found = client.get_experiment_by_name(name)
            if found is None:
                raise
    if found.lifecycle_stage != "active":
        raise InvalidInputError(
            f"experiment {name!r} is deleted; restore it with "
            f"TrackingClient().restore_experiment({found.experiment_id!r}) or choose another"
        )
    return found.experiment_id


@dataclass(frozen=True, slots=True)
class Placement:
    """The run name and experiment a notebook's first ``%track start`` line asks for."""

    run_name: str | None = None
    experiment: str | None = None


def notebook_placement(notebook: NotebookNode) -> Placement:
    """What the notebook's first ``%track start [NAME] [--experiment E]`` line asks for.

    A headless run is created before its kernel starts, so the runner reads this
    line (with the magic's own parser) to name and place the run as the notebook
    would interactively. ``--resume`` lines and lines that do not parse are skipped.
    """
    from IPython.core.error import UsageError

    from nbtrack.notebook._magics import PARSER

    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            words = line.strip().split(None, 2)
            if words[:2] != ["%track", "start"]:
                continue
            try:
                args = PARSER.parse_args(shlex.split(line.strip()[len("%track") :], comments=True))
            except (UsageError, ValueError) as exc:
                log.debug("nbtrack: %r does not parse: %s", line, exc)
                continue
            if not args.resume:
                return Placement(args.name, args.experiment)
    return Placement()


def placed(
    asked: Placement,
    experiment: str | None,
    run_name: str | None,
    warn: Callable[[str], None] | None,
    *,
    command: str = "nbtrack run",
) -> Placement:
    """The command line's experiment and name where given (with a warning when the
    notebook's ``%track start`` asked for others), else the notebook's."""
    for option, given, wanted in (
        ("--experiment", experiment, asked.experiment),
        ("--name", run_name, asked.run_name),
    ):
        if given and wanted and given != wanted:
            (warn or _warn)(
                f"{command} {option} {given!r} overrides the notebook's `%track start` ({wanted!r})"
            )
    return Placement(run_name or asked.run_name, experiment or asked.experiment)


def _warn(message: str) -> None:
    warnings.warn(message, NbtrackWarning, stacklevel=3)


def run(
    notebook: str | os.PathLike[str],
    parameters: Mapping[str, Any] | None = None,
    *,
    experiment: str | None = None,
    run_name: str | None = None,
    kernel: str | None = None,
    cell_timeout: float | None = None,
    output: str | os.PathLike[str] | None = None,
    allow_new: bool = False,
    tags: Mapping[str, Any] | None = None,
    tracking_uri: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    raise_on_error: bool = True,
    warn: Callable[[str], None] | None = None,
) -> Run:
    """Execute ``notebook`` headless in a fresh kernel as one tracked run; returns the ended run.

    ``parameters`` are injected after the cell tagged ``parameters`` (at the top
    when there is none), typed as its defaults; a name it does not define is an
    error unless ``allow_new``. The kernel starts in the notebook's directory.
    ``progress`` (default: when stderr is a terminal) shows a bar over cells.
    The run is named and placed as the notebook's ``%track start NAME
    --experiment E`` line asks, unless ``run_name``/``experiment`` are given
    (then ``warn`` is called, by default :func:`warnings.warn`).

    Raises :class:`NotebookExecutionError` when a cell fails (with
    ``raise_on_error=False`` the FAILED run is returned instead) and
    :class:`RunInterrupted` (a ``KeyboardInterrupt``) on Ctrl-C, after the
    run is marked KILLED and the kernel shut down.
    """
    path = Path(notebook).resolve()
    content = read_notebook(path)
    where = placed(notebook_placement(content), experiment, run_name, warn)
    return run_notebook(
        content,
        source=path,
        cwd=path.parent,
        parameters=parameters,
        experiment=where.experiment,
        run_name=where.run_name,
        kernel=kernel,
        cell_timeout=cell_timeout,
        output=output,
        allow_new=allow_new,
        tags=tags,
        tracking_uri=tracking_uri,
        progress=progress,
        raise_on_error=raise_on_error,
    )


def run_notebook(
    notebook: NotebookNode,
    *,
    source: Path | None,
    cwd: Path,
    parameters: Mapping[str, Any] | None = None,
    experiment: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    kernel: str | None = None,
    cell_timeout: float | None = None,
    output: str | os.PathLike[str] | None = None,
    allow_new: bool = False,
    tags: Mapping[str, Any] | None = None,
    parent_run_id: str | None = None,
    tracking_uri: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    raise_on_error: bool = True,
    stop: Callable[[], bool] | None = None,
) -> Run:
    """:func:`run` for a notebook already in memory (``source``: the file it came from).

    ``stop`` (polled while cells run) ends the run as Ctrl-C does once it returns True.
    """
    label = source.name if source is not None else "the notebook"
    declared = _parameters.find_parameters(notebook)
    values = _parameters.resolve(
        declared, parameters or {}, allow_new=allow_new, notebook_name=label
    )
    to_run = _parameters.inject(notebook, values, declared)
    kernel_name = kernel_name_of(notebook, kernel)
    check_kernel(kernel_name)
    if cell_timeout is not None and cell_timeout <= 0:
        raise InvalidInputError(
            f"cell timeout must be a positive number of seconds, not {cell_timeout}"
        )
    client = TrackingClient(tracking_uri)
    exp_id = experiment_id or experiment_id_for(client, experiment)
    run_tags: dict[str, Any] = {
        "mlflow.source.type": "NOTEBOOK",
        "nbtrack.headless": "true",
        "nbtrack.kernel": kernel_name,
    }
    if source is not None:
        run_tags["mlflow.source.name"] = run_tags["nbtrack.notebook"] = str(source)
    run_tags.update(tags or {})
    created = client.create_run(
        exp_id, tags=run_tags, run_name=run_name, parent_run_id=parent_run_id
    )
    run_id = created.info.run_id
    try:
        _log_inputs(client, run_id, notebook, {**declared.defaults(), **values}, values, source)
        env = {
            **os.environ,
            ENV_RUN_ID: run_id,
            ENV_TRACKING_URI: client.tracking_uri,
        }
        env.pop("JPY_SESSION_NAME", None)  # this process's own notebook, if it runs in one
        if source is not None:
            env["JPY_SESSION_NAME"] = str(source)  # the kernel's notebook path (snapshots)
        execution = execute(
            to_run,
            cwd=cwd,
            env=env,
            kernel_name=kernel_name,
            cell_timeout=cell_timeout,
            progress=sys.stderr.isatty() if progress is None else progress,
            description=label,
            observer=_Timeline(client, run_id),
            python_kernel_args=KERNEL_TRACKER_ARGS,
            kernel_probe=_environment_probe(source),
            stop=stop,
        )
        _log_environment(client, run_id, execution.probe, source)
        _log_outputs(client, run_id, execution.notebook, execution.failure, output)
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        client.set_terminated(run_id, RunStatus.KILLED if interrupted else RunStatus.FAILED)
        raise
    client.set_terminated(run_id, execution.status)
    final = client.get_run(run_id)
    if execution.interrupted:
        raise RunInterrupted(final)
    if execution.failure is not None and raise_on_error:
        raise NotebookExecutionError(final, execution.failure)
    return final


def _log_inputs(
    client: TrackingClient,
    run_id: str,
    notebook: NotebookNode,
    effective: Mapping[str, Any],
    injected: Mapping[str, Any],
    source: Path | None,
) -> None:
    params = {}
    for name, value in effective.items():
        try:
            params[name] = param_text(name, value)
        except NotSimpleError as exc:
            log.info("nbtrack: parameter %s is not logged as a param: %s", name, exc)
    client.log_batch(run_id, params=list(params.items()))
    client.log_dict(
        run_id, {k: _parameters.literal_source(v) for k, v in injected.items()}, PARAMETERS_FILE
    )
    client.log_text(run_id, notebook_text(notebook), SNAPSHOT_FILE)
    client.flush()  # the kernel reads these (a `%%track params` cell compares with them)


def _environment_probe(source: Path | None) -> str:
    """An expression that captures the environment in the kernel, as JSON text.

    The kernel may run another Python (``--kernel``) where nbtrack is not
    installed: it gets the source of :mod:`nbtrack.notebook._environment`
    (standard library only) and runs it in a namespace of its own.
    """
    code = Path(_environment.__file__).read_text(encoding="utf-8")
    where = str(source) if source is not None else None
    return (
        "(lambda ns: (exec(" + repr(code) + ", ns), __import__('json').dumps("
        "ns['capture'](None if " + repr(where) + " is None else "
        "__import__('pathlib').Path(" + repr(where) + "))))[1])"
        "({'__name__': 'nbtrack_environment'})"
    )


def _log_environment(
    client: TrackingClient, run_id: str, probe: str | None, source: Path | None
) -> None:
    """``environment.json`` and its tags: as the kernel saw it, else (not Python) this process."""
    env: dict[str, Any] | None = None
    if probe is not None:
        try:
            env = json.loads(ast.literal_eval(probe))
        except (ValueError, SyntaxError) as exc:
            log.info("nbtrack: the kernel's environment record does not parse: %s", exc)
    if env is None:
        env = {**_environment.capture(source), "captured_in": "runner"}
    else:
        env["captured_in"] = "kernel"
    client.log_dict(run_id, env, ENVIRONMENT_FILE)
    client.log_batch(run_id, tags=list(_environment.summary_tags(env).items()))


def _log_outputs(
    client: TrackingClient,
    run_id: str,
    executed: NotebookNode,
    failure: CellFailure | None,
    output: str | os.PathLike[str] | None,
) -> None:
    text = notebook_text(executed)
    client.log_text(run_id, text, EXECUTED_FILE)
    if output is not None:
        Path(output).write_text(text, encoding="utf-8")
    if failure is not None:
        client.log_batch(
            run_id,
            tags=[
                ("nbtrack.failed_cell", str(failure.index)),
                ("nbtrack.error", f"{failure.ename}: {failure.evalue}"[:_MAX_ERROR_TAG]),
            ],
        )
