"""The module-level API around the active run, with MLflow's names.

``import nbtrack as mlflow`` works for the common calls: ``start_run`` (also a
context manager), ``log_param``/``log_metric``/``set_tag``/``log_artifact``,
``end_run``, ``search_runs`` (a pandas DataFrame). Logging with no active run
starts one, as MLflow does. Runs still active at interpreter exit are ended
as FINISHED; a process that dies without exiting leaves its run to be marked
KILLED by the next process that opens the store.

Each thread has its own stack of active runs, as in MLflow: a run started in
a thread is the active run of that thread only.

MLflow's environment variables are honoured where nbtrack's own are unset:
``MLFLOW_EXPERIMENT_NAME``/``MLFLOW_EXPERIMENT_ID`` choose the experiment and
``MLFLOW_RUN_ID`` makes ``start_run()`` resume that run (MLflow's meaning:
ending it here sets its status), ``MLFLOW_TRACKING_URI`` the store.

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
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from nbtrack import _validation as check
from nbtrack._run_context import default_tags
from nbtrack.client import TrackingClient, ViewType, _experiment_id, _status
from nbtrack.entities import (
    DEFAULT_EXPERIMENT_ID,
    Experiment,
    LifecycleStage,
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
#: MLflow's names, read when nbtrack's are unset.
MLFLOW_ENV_EXPERIMENT_NAME = "MLFLOW_EXPERIMENT_NAME"
MLFLOW_ENV_EXPERIMENT_ID = "MLFLOW_EXPERIMENT_ID"
MLFLOW_ENV_RUN_ID = "MLFLOW_RUN_ID"
NOTE_TAG = "mlflow.note.content"  # MLflow's tag for a run's description

_active_experiment_id: str | None = None
_stacks_lock = threading.Lock()
_every_stack: list[list[ActiveRun]] = []  # each thread's stack, for the exit hook
_stack_threads: list[weakref.ref[threading.Thread]] = []  # the thread of each stack


class _ThreadRuns(threading.local):
    """The active-run stack of one thread (MLflow keeps run stacks thread-local too)."""

    def __init__(self) -> None:
        self.runs: list[ActiveRun] = []
        self.last_run_id: str | None = None
        with _stacks_lock:
            # Forget the stacks of finished threads that left no run active.
            keep = [
                i
                for i, ref in enumerate(_stack_threads)
                if _every_stack[i] or ((thread := ref()) is not None and thread.is_alive())
            ]
            _every_stack[:] = [_every_stack[i] for i in keep]
            _stack_threads[:] = [_stack_threads[i] for i in keep]
            _every_stack.append(self.runs)
            _stack_threads.append(weakref.ref(threading.current_thread()))


_thread = _ThreadRuns()


def __getattr__(name: str) -> Any:
    # ``fluent._active_runs`` is the calling thread's stack (read by the notebook layer).
    if name == "_active_runs":
        return _thread.runs
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


#: Called as ``waiter(timeout)`` by :func:`flush` and before a model is read by
#: ``runs:/`` URI: work queued off the caller's thread (autologged models are
#: written by a background worker) that must be stored first.
BackgroundWaiter = Callable[[float | None], None]
_background_waiters: list[BackgroundWaiter] = []


def add_background_waiter(waiter: BackgroundWaiter) -> None:
    """Have :func:`flush` wait for ``waiter`` too (see :data:`BackgroundWaiter`)."""
    if waiter not in _background_waiters:
        _background_waiters.append(waiter)


def wait_background(timeout: float | None = None) -> None:
    """Return once the background work queued so far (autologged models) is stored."""
    for waiter in list(_background_waiters):
        waiter(timeout)


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
            "Must specify exactly one of experiment_name, experiment_id (set_experiment)"
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
            f"Cannot set a deleted experiment {experiment.name!r} as the active experiment; "
            f"restore it with nbtrack.restore_experiment({experiment.experiment_id!r})"
        )
    _active_experiment_id = experiment.experiment_id
    return experiment


def create_experiment(
    name: str,
    artifact_location: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> str:
    """Create an experiment; returns its id (see :meth:`TrackingClient.create_experiment`)."""
    return _client().create_experiment(name, artifact_location, tags)


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


def _env(name: str, mlflow_name: str) -> str | None:
    """nbtrack's variable, else MLflow's (an empty value counts as unset)."""
    return os.environ.get(name) or os.environ.get(mlflow_name) or None


def _current_experiment_id() -> str:
    if _active_experiment_id is not None:
        return _active_experiment_id
    env_id = _env(ENV_EXPERIMENT_ID, MLFLOW_ENV_EXPERIMENT_ID)
    if env_id:
        return env_id
    env_name = _env(ENV_EXPERIMENT_NAME, MLFLOW_ENV_EXPERIMENT_NAME)
    if env_name:
        return set_experiment(env_name).experiment_id
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
    runs = _thread.runs
    if runs and not nested:
        current = runs[-1].info
        raise InvalidInputError(
            f"Run with UUID {current.run_id} ({current.run_name!r}) is already active. Call "
            "nbtrack.end_run() first; to start a nested run, pass nested=True"
        )
    if description is not None and tags and NOTE_TAG in tags:
        raise InvalidInputError(
            f"Description is already set via the tag {NOTE_TAG} in tags."
            f"Remove the key {NOTE_TAG} from the tags or omit the description."
        )
    if experiment_id is not None:
        experiment_id = _experiment_id(experiment_id)
    system_metrics = _system_metrics.wanted(log_system_metrics)
    client = _client()
    join_id = os.environ.get(ENV_RUN_ID)
    if join_id and not run_id and not parent_run_id and not runs:
        joined = _join_run(client, join_id, tags, description)
        if system_metrics:
            _start_system_metrics(joined, resume=True)
        return joined
    if not run_id and not parent_run_id and not runs:
        run_id = os.environ.get(MLFLOW_ENV_RUN_ID) or None  # MLflow's meaning: resume it
    all_tags = dict(tags or {})
    if description is not None:
        all_tags[NOTE_TAG] = description
    if run_id:
        run = _resume(client, run_id, run_name, all_tags)
    else:
        parent = parent_run_id or (runs[-1].info.run_id if nested and runs else None)
        run = client.create_run(
            experiment_id=experiment_id if experiment_id is not None else _current_experiment_id(),
            tags={**default_tags(), **all_tags},
            run_name=run_name,
            parent_run_id=parent,
        )
    active = ActiveRun(run, client)
    runs.append(active)
    _notify("started", active)
    if system_metrics:
        _start_system_metrics(active, resume=bool(run_id))
    return active


def _resume(
    client: TrackingClient, run_id: str, run_name: str | None, tags: Mapping[str, Any]
) -> Run:
    existing = client.get_run(run_id)
    if existing.info.lifecycle_stage == LifecycleStage.DELETED:
        raise InvalidInputError(
            f"Cannot start run with ID {run_id} because it is in the deleted state. "
            f"Restore it first with nbtrack.restore_run({run_id!r})"
        )
    run = client.resume_run(run_id)
    if run_name is not None:
        client.update_run(run_id, name=run_name)
    if tags:
        client.log_batch(run_id, tags=list(tags.items()))
    return client.get_run(run_id) if run_name is not None else run


def _start_system_metrics(run: ActiveRun, *, resume: bool) -> None:
    # system_metrics is below fluent (layers in pyproject.toml): the sampler knows a
    # client and a run id; fluent stops it when the run ends.
    from nbtrack.system_metrics import _monitor

    try:
        _monitor.start_for_run(run.client, run.info.run_id, resume=resume)
    except Exception:  # the run goes on without system metrics, as in MLflow
        log.exception("nbtrack: could not start system metrics for run %s", run.info.run_id)
        return
    add_run_listener(_stop_system_metrics)


def _stop_system_metrics(event: str, run: ActiveRun) -> None:
    """Run listener: the run's sampler logs its last point and stops when the run ends."""
    if event == "ending":
        from nbtrack.system_metrics import _monitor

        _monitor.stop_for_run(run.info.run_id)


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
    global _active_experiment_id
    _active_experiment_id = run.info.experiment_id  # search_runs() defaults to the run's
    active = ActiveRun(run, client, joined=True)
    _thread.runs.append(active)
    _notify("started", active)
    return active


def end_run(status: str = RunStatus.FINISHED, *, _run: ActiveRun | None = None) -> None:
    """End the active run (FINISHED unless told otherwise) and flush what it logged."""
    runs = _thread.runs
    if _run is not None and _run not in runs:
        runs = next((stack for stack in _every_stack if _run in stack), runs)
    if not runs or (_run is not None and _run not in runs):
        return  # nothing active, or the ``with`` block's run was already ended
    final = _status(status)  # checked before any run is taken off the stack
    if not final.is_terminal:
        raise InvalidInputError(f"a run ends as FINISHED, FAILED or KILLED, not {status!r}")
    run = _run if _run is not None else runs[-1]
    _thread.last_run_id = run.info.run_id
    # Children end with their parent.
    while runs:
        top = runs.pop()
        _notify("ending", top)
        if top.joined:  # its owner ends it; make what this process logged durable
            top.client.flush()
        else:
            top.client.set_terminated(top.info.run_id, final)
        _notify("ended", top)
        if top is run:
            break


def active_run() -> ActiveRun | None:
    """The innermost active run of this thread, or None."""
    runs = _thread.runs
    return runs[-1] if runs else None


def last_active_run_id() -> str | None:
    """Id of the active run (None when there is none)."""
    runs = _thread.runs
    return runs[-1].info.run_id if runs else None


def _run() -> ActiveRun:
    runs = _thread.runs
    if runs:
        return runs[-1]
    return start_run()


# -- logging to the active run ---------------------------------------------------------


class RunOperations:
    """What ``log_*(..., synchronous=False)`` returns, as in MLflow: ``wait()`` for it.

    nbtrack always queues values for its background writer and checks them
    before queueing, so a bad value raises at the call; ``wait()`` flushes.
    """

    def __init__(self, client: TrackingClient) -> None:
        self._client = client

    def wait(self) -> None:
        """Block until what was logged is durable."""
        self._client.flush()


def _done(run: ActiveRun, synchronous: bool | None) -> RunOperations | None:
    return RunOperations(run.client) if synchronous is False else None


def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = None,
    **_mlflow_options: Any,
) -> RunOperations | None:
    """Log a metric point to the active run (``step=None``: the metric's next step).

    Returns None (with ``synchronous=False``, a :class:`RunOperations`), as MLflow does.
    MLflow 3's keywords: ``model_id`` links the point to that logged model (default:
    the active model), ``dataset`` records which dataset it was computed on, ``run_id``
    logs to that run instead of the active one.
    """
    run = _target(_mlflow_options)
    run.client.log_metric(
        run.info.run_id, key, value, timestamp, step, **_model_link(_mlflow_options)
    )
    return _done(run, synchronous)


def log_metrics(
    metrics: Mapping[str, float],
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = None,
    **_mlflow_options: Any,
) -> RunOperations | None:
    """Log several metrics at the same step."""
    run = _target(_mlflow_options)
    run.client.log_batch(
        run.info.run_id,
        metrics=[(k, v, timestamp, step) for k, v in metrics.items()],
        **_model_link(_mlflow_options),
    )
    return _done(run, synchronous)


def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    """Log a param of the active run; returns ``value`` (MLflow does too)."""
    run = _run()
    run.client.log_param(run.info.run_id, key, value)
    return _done(run, synchronous) if synchronous is False else value


def log_params(params: Mapping[str, Any], synchronous: bool | None = None) -> RunOperations | None:
    """Log several params (all checked before any is stored)."""
    run = _run()
    run.client.log_batch(run.info.run_id, params=[Param(k, v) for k, v in params.items()])
    return _done(run, synchronous)


def set_tag(key: str, value: Any, synchronous: bool | None = None) -> RunOperations | None:
    """Set a tag of the active run (``mlflow.runName`` renames it, as in MLflow)."""
    run = _run()
    run.client.set_tag(run.info.run_id, key, value)
    return _done(run, synchronous)


def set_tags(tags: Mapping[str, Any], synchronous: bool | None = None) -> RunOperations | None:
    """Set several tags of the active run."""
    run = _run()
    run.client.log_batch(run.info.run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    return _done(run, synchronous)


def _model_link(options: Mapping[str, Any]) -> dict[str, Any]:
    """MLflow 3's ``model_id``/``dataset`` keywords as the client's linking arguments."""
    dataset = options.get("dataset")
    return {
        "model_id": options.get("model_id"),
        "dataset_name": getattr(dataset, "name", None),
        "dataset_digest": getattr(dataset, "digest", None),
    }


def _target(options: Mapping[str, Any]) -> ActiveRun:
    unknown = set(options) - {"model_id", "dataset", "run_id"}
    if unknown:
        raise InvalidInputError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    run_id = options.get("run_id")
    if run_id is None:
        return _run()
    client = _client()
    return ActiveRun(client.get_run(run_id), client)


def log_artifact(
    local_path: str | os.PathLike[str], artifact_path: str | None = None, run_id: str | None = None
) -> None:
    """Store a file as an artifact of the active run (or of ``run_id``)."""
    run = _target({"run_id": run_id})
    run.client.log_artifact(run.info.run_id, local_path, artifact_path)


def log_artifacts(
    local_dir: str | os.PathLike[str], artifact_path: str | None = None, run_id: str | None = None
) -> None:
    """Store a directory's files as artifacts of the active run (or of ``run_id``)."""
    run = _target({"run_id": run_id})
    run.client.log_artifacts(run.info.run_id, local_dir, artifact_path)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    """Store text as an artifact file of the active run."""
    run = _target({"run_id": run_id})
    run.client.log_text(run.info.run_id, text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Store a dict as JSON (or YAML) in the active run."""
    run = _target({"run_id": run_id})
    run.client.log_dict(run.info.run_id, dictionary, artifact_file)


def log_figure(
    figure: Any, artifact_file: str, *, save_kwargs: Mapping[str, Any] | None = None
) -> None:
    """Store a matplotlib figure as an image artifact of the active run."""
    run = _run()
    run.client.log_figure(run.info.run_id, figure, artifact_file)


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
    if experiment_ids is not None and experiment_names is not None:
        raise InvalidInputError("Only experiment_ids or experiment_names can be used, but not both")
    if experiment_names is not None:
        # MLflow: names of no experiment select nothing (an empty result, not an error).
        found = [client.get_experiment_by_name(n) for n in experiment_names if n is not None]
        ids = [e.experiment_id for e in found if e is not None]
        if not ids:
            if output_format == "list":
                return []
            return client.search_runs_frame([], filter_string, run_view_type, 0, order_by)
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
    """Block until everything logged in this process is durable on disk.

    Models that autolog writes in the background are waited for too.
    """
    wait_background(timeout)
    _client().flush(timeout)


def _end_runs_at_exit() -> None:
    for stack in list(_every_stack):  # every thread's runs, not only the main thread's
        while stack:
            try:
                end_run(RunStatus.FINISHED, _run=stack[0])
            except Exception:  # exit must go on; the next open marks the run KILLED
                stack.clear()


# Registered after the store's own atexit hook, so it runs before stores close.
atexit.register(_end_runs_at_exit)
