"""The module-level API around the active run, with MLflow's names.

``import nbtrack as mlflow`` works for the common calls: ``start_run`` (also a
context manager), ``log_param``/``log_metric``/``set_tag``/``log_artifact``,
``end_run``, ``search_runs`` (a pandas DataFrame). Logging with no active run
starts one, as MLflow does. Runs still active at interpreter exit are ended
as FINISHED; a process that dies without exiting leaves its run to be marked
KILLED by the next process that opens the store.

Joining a run owned by another process: when ``NBTRACK_RUN_ID`` is set (the
headless runner, ``nbtrack run``, sets it for the notebook's kernel together
with ``NBTRACK_TRACKING_URI``), ``start_run()`` without a ``run_id``, and so
also the auto-start on the first ``log_*`` and ``%track start``, attaches to
that run instead of creating one. A joined run is only logged into: ending it
here (``end_run``, the end of a ``with`` block, interpreter exit) flushes and
detaches, and the owner decides its final status.
"""

from __future__ import annotations

import atexit
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from nbtrack import _validation as check
from nbtrack.client import TrackingClient, ViewType, _status
from nbtrack.entities import (
    DEFAULT_EXPERIMENT_ID,
    Experiment,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
)
from nbtrack.exceptions import InvalidInputError, NotFoundError
from nbtrack.store import locate
from nbtrack.system_metrics import _settings as _system_metrics

if TYPE_CHECKING:
    import pandas as pd

ENV_EXPERIMENT_NAME = "NBTRACK_EXPERIMENT_NAME"
ENV_EXPERIMENT_ID = "NBTRACK_EXPERIMENT_ID"
#: A run owned by another process that ``start_run()`` joins (see the module docstring).
ENV_RUN_ID = "NBTRACK_RUN_ID"
NOTE_TAG = "mlflow.note.content"  # MLflow's tag for a run's description

_active_runs: list[ActiveRun] = []
_active_experiment_id: str | None = None

log = logging.getLogger(__name__)

#: Called as ``listener(event, run)`` with event "started" (after the run
#: became active), "ending" (just before its end is written; nothing it
#: logs from there on is lost) or "ended" (once its end is stored). The
#: notebook layer uses it to tie runs to cells, take snapshots and tell the
#: JupyterLab extension.
RunListener = Callable[[str, "ActiveRun"], None]
_listeners: list[RunListener] = []


def add_run_listener(listener: RunListener) -> None:
    """Be told when runs start and end (see :data:`RunListener`)."""
    if listener not in _listeners:
        _listeners.append(listener)


def remove_run_listener(listener: RunListener) -> None:
    """Stop telling ``listener`` about runs."""
    if listener in _listeners:
        _listeners.remove(listener)


def _notify(event: str, run: ActiveRun) -> None:
    for listener in list(_listeners):
        try:
            listener(event, run)
        except Exception:  # a listener must never break starting or ending a run
            log.exception("nbtrack: run listener %r failed on %r", listener, event)


class ActiveRun:
    """The run returned by :func:`start_run`; ``with`` ends it (FAILED if the block raised)."""

    def __init__(self, run: Run, client: TrackingClient, *, joined: bool = False) -> None:
        self._run = run
        self._client = client
        self._joined = joined

    @property
    def joined(self) -> bool:
        """Whether this process joined a run another process owns (``NBTRACK_RUN_ID``).

        Ending a joined run only flushes and detaches; its owner sets its status.
        """
        return self._joined

    @property
    def info(self) -> RunInfo:
        """Identity and lifecycle, as when the run was started."""
        return self._run.info

    @property
    def data(self) -> RunData:
        """Metrics, params and tags as they are now in the store."""
        return self._client.get_run(self._run.info.run_id).data

    @property
    def client(self) -> TrackingClient:
        """The client bound to this run's store."""
        return self._client

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        status = RunStatus.FINISHED if exc_type is None else RunStatus.FAILED
        if exc_type is KeyboardInterrupt:
            status = RunStatus.KILLED
        end_run(status, _run=self)

    def __repr__(self) -> str:
        return f"<ActiveRun {self.info.run_name!r} id={self.info.run_id}>"


# -- tracking URI and experiments ------------------------------------------------------


def set_tracking_uri(uri: str | os.PathLike[str] | None) -> None:
    """Log to this store from now on: ``sqlite:///path.db`` or a directory (None: default)."""
    locate.set_tracking_uri(uri)


def get_tracking_uri() -> str:
    """The store that logging goes to."""
    return locate.get_tracking_uri()


def _client() -> TrackingClient:
    return TrackingClient()


def set_experiment(
    experiment_name: str | None = None, experiment_id: str | None = None
) -> Experiment:
    """Make an experiment the active one, creating it (by name) if needed."""
    global _active_experiment_id
    client = _client()
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidInputError(
            "set_experiment takes exactly one of experiment_name, experiment_id"
        )
    if experiment_id is not None:
        experiment = client.get_experiment(experiment_id)
    else:
        name = check.experiment_name(experiment_name)
        found = client.get_experiment_by_name(name)
        if found is None:
            found = client.get_experiment(client.create_experiment(name))
        experiment = found
    if experiment.lifecycle_stage != "active":
        raise InvalidInputError(
            f"experiment {experiment.name!r} is deleted; restore it with "
            f"TrackingClient().restore_experiment({experiment.experiment_id!r})"
        )
    _active_experiment_id = experiment.experiment_id
    return experiment


def create_experiment(name: str, tags: Mapping[str, Any] | None = None) -> str:
    """Create an experiment; returns its id."""
    return _client().create_experiment(name, tags)


def get_experiment(experiment_id: str) -> Experiment:
    """The experiment with this id."""
    return _client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    """The experiment called ``name``, or None."""
    return _client().get_experiment_by_name(name)


def search_experiments(
    view_type: ViewType | int = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
) -> list[Experiment]:
    """Experiments of the current store."""
    return _client().search_experiments(view_type, max_results, filter_string)


def _current_experiment_id() -> str:
    if _active_experiment_id is not None:
        return _active_experiment_id
    if os.environ.get(ENV_EXPERIMENT_ID):
        return os.environ[ENV_EXPERIMENT_ID]
    if os.environ.get(ENV_EXPERIMENT_NAME):
        return set_experiment(os.environ[ENV_EXPERIMENT_NAME]).experiment_id
    return str(DEFAULT_EXPERIMENT_ID)


# -- runs ------------------------------------------------------------------------------


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    parent_run_id: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start (or with ``run_id``, resume) a run and make it the active one.

    With a run already active, pass ``nested=True`` for a child run; otherwise
    this is an error, as in MLflow (``%track start`` in a notebook ends the old
    run for you instead).

    With ``NBTRACK_RUN_ID`` set, no ``run_id``/``parent_run_id`` given and no run
    active, this joins that run (see :attr:`ActiveRun.joined`); ``run_name`` and
    ``experiment_id`` are then ignored, ``tags`` and ``description`` are logged to it.

    ``log_system_metrics``: sample CPU, memory, GPU... into the run
    (:mod:`nbtrack.system_metrics`); None follows ``enable_system_metrics_logging``.
    """
    if _active_runs and not nested:
        current = _active_runs[-1].info
        raise InvalidInputError(
            f"run {current.run_name!r} ({current.run_id}) is still active. Call "
            "nbtrack.end_run() first, or pass nested=True to start a child run"
        )
    system_metrics = _system_metrics.wanted(log_system_metrics)
    client = _client()
    join_id = os.environ.get(ENV_RUN_ID)
    if join_id and not run_id and not parent_run_id and not _active_runs:
        joined = _join_run(client, join_id, tags, description)
        if system_metrics:
            _start_system_metrics(joined, resume=True)
        return joined
    if run_id:
        run = client.resume_run(run_id)
        if run_name is not None:
            client.update_run(run_id, name=run_name)
    else:
        all_tags = dict(tags or {})
        if description is not None:
            all_tags[NOTE_TAG] = description
        parent = parent_run_id or (
            _active_runs[-1].info.run_id if nested and _active_runs else None
        )
        run = client.create_run(
            experiment_id=str(experiment_id)
            if experiment_id is not None
            else _current_experiment_id(),
            tags=all_tags,
            run_name=run_name,
            parent_run_id=parent,
        )
    active = ActiveRun(run, client)
    _active_runs.append(active)
    _notify("started", active)
    if system_metrics:
        _start_system_metrics(active, resume=bool(run_id))
    return active


def _start_system_metrics(run: ActiveRun, *, resume: bool) -> None:
    from nbtrack.system_metrics import _monitor

    try:
        _monitor.start_for_run(run.client, run.info.run_id, resume=resume)
    except Exception:  # the run goes on without system metrics, as in MLflow
        log.exception("nbtrack: could not start system metrics for run %s", run.info.run_id)


def _join_run(
    client: TrackingClient,
    run_id: str,
    tags: Mapping[str, Any] | None,
    description: str | None,
) -> ActiveRun:
    try:
        run = client.get_run(run_id)
    except NotFoundError:
        raise NotFoundError(
            f"{ENV_RUN_ID}={run_id} names no run in {client.tracking_uri}; unset {ENV_RUN_ID} "
            "to start runs of your own, or point NBTRACK_TRACKING_URI at the runner's store"
        ) from None
    all_tags = dict(tags or {})
    if description is not None:
        all_tags[NOTE_TAG] = description
    if all_tags:
        client.log_batch(run_id, tags=list(all_tags.items()))
    active = ActiveRun(run, client, joined=True)
    _active_runs.append(active)
    _notify("started", active)
    return active


def end_run(status: str = RunStatus.FINISHED, *, _run: ActiveRun | None = None) -> None:
    """End the active run (FINISHED unless told otherwise) and flush what it logged."""
    if not _active_runs or (_run is not None and _run not in _active_runs):
        return  # nothing active, or the ``with`` block's run was already ended
    final = _status(status)  # checked before any run is taken off the stack
    if not final.is_terminal:
        raise InvalidInputError(f"a run ends as FINISHED, FAILED or KILLED, not {status!r}")
    run = _run if _run is not None else _active_runs[-1]
    # Children end with their parent.
    while _active_runs:
        top = _active_runs.pop()
        _notify("ending", top)
        if top.joined:  # its owner ends it; make what this process logged durable
            top.client.flush()
        else:
            top.client.set_terminated(top.info.run_id, final)
        _notify("ended", top)
        if top is run:
            break


def active_run() -> ActiveRun | None:
    """The innermost active run, or None."""
    return _active_runs[-1] if _active_runs else None


def last_active_run_id() -> str | None:
    """Id of the active run (None when there is none)."""
    return _active_runs[-1].info.run_id if _active_runs else None


def _run() -> ActiveRun:
    if _active_runs:
        return _active_runs[-1]
    return start_run()


# -- logging to the active run ---------------------------------------------------------


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: int | None = None
) -> None:
    """Log a metric point to the active run (``step=None``: the metric's next step)."""
    run = _run()
    run.client.log_metric(run.info.run_id, key, value, timestamp, step)


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
) -> None:
    """Log several metrics at the same step."""
    run = _run()
    run.client.log_batch(
        run.info.run_id, metrics=[(k, v, timestamp, step) for k, v in metrics.items()]
    )


def log_param(key: str, value: Any) -> Any:
    """Log a param of the active run; returns ``value``."""
    run = _run()
    return run.client.log_param(run.info.run_id, key, value)


def log_params(params: Mapping[str, Any]) -> None:
    """Log several params (all checked before any is stored)."""
    run = _run()
    run.client.log_batch(run.info.run_id, params=[Param(k, v) for k, v in params.items()])


def set_tag(key: str, value: Any) -> None:
    """Set a tag of the active run."""
    run = _run()
    run.client.set_tag(run.info.run_id, key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set several tags of the active run."""
    run = _run()
    run.client.log_batch(run.info.run_id, tags=[RunTag(k, v) for k, v in tags.items()])


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> str:
    """Store a file as an artifact of the active run."""
    run = _run()
    return run.client.log_artifact(run.info.run_id, local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> list[str]:
    """Store a directory's files as artifacts of the active run."""
    run = _run()
    return run.client.log_artifacts(run.info.run_id, local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> str:
    """Store text as an artifact file of the active run."""
    run = _run()
    return run.client.log_text(run.info.run_id, text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str) -> str:
    """Store a dict as JSON (or YAML) in the active run."""
    run = _run()
    return run.client.log_dict(run.info.run_id, dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> str:
    """Store a matplotlib figure as an image artifact of the active run."""
    run = _run()
    return run.client.log_figure(run.info.run_id, figure, artifact_file)


# -- reading ---------------------------------------------------------------------------


def get_run(run_id: str) -> Run:
    """A run by id."""
    return _client().get_run(run_id)


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: ViewType | int = ViewType.ACTIVE_ONLY,
    max_results: int | None = 100_000,
    order_by: Sequence[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> pd.DataFrame | list[Run]:
    """Runs as a DataFrame (``output_format="list"``: Run objects).

    Experiments: ``experiment_ids``, or ``experiment_names``, or all of them
    with ``search_all_experiments``; by default the active experiment.
    """
    client = _client()
    ids: list[str] | None
    if experiment_names is not None:
        ids = []
        for name in experiment_names:
            found = client.get_experiment_by_name(name)
            if found is None:
                raise NotFoundError(f"no experiment named {name!r}")
            ids.append(found.experiment_id)
    elif experiment_ids is not None:
        ids = [str(i) for i in experiment_ids]
    elif search_all_experiments:
        ids = None
    else:
        ids = [_current_experiment_id()]
    if output_format == "list":
        return client.search_runs(ids, filter_string, run_view_type, max_results, order_by)
    if output_format != "pandas":
        raise InvalidInputError(f"output_format must be 'pandas' or 'list', not {output_format!r}")
    return client.search_runs_frame(ids, filter_string, run_view_type, max_results, order_by)


def get_metric_history(run_id: str, key: str) -> list[Metric]:
    """All points of a metric of a run."""
    return _client().get_metric_history(run_id, key)


def delete_run(run_id: str) -> None:
    """Move a run to the trash."""
    _client().delete_run(run_id)


def restore_run(run_id: str) -> None:
    """Bring a deleted run back."""
    _client().restore_run(run_id)


def flush(timeout: float | None = None) -> None:
    """Block until everything logged in this process is durable on disk."""
    _client().flush(timeout)


def _end_runs_at_exit() -> None:
    while _active_runs:
        try:
            end_run(RunStatus.FINISHED)
        except Exception:  # exit must go on; the next open marks the run KILLED
            _active_runs.clear()


# Registered after the store's own atexit hook, so it runs before stores close.
atexit.register(_end_runs_at_exit)
