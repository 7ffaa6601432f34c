"""The explicit API: every call names its run (MLflow's ``MlflowClient``).

Inputs are validated here, before anything is queued, so a bad value is
refused in the caller's frame with a clear message and nothing already
logged is affected. Reads flush this process's pending writes first, so a
value is visible as soon as ``log_*`` returns.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from nbtrack import _validation as check
from nbtrack._logged_model_client import LoggedModelMethods
from nbtrack._paging import PagedList, offset_token, token_offset
from nbtrack.entities import (
    INPUT_TAG_PREFIX,
    ArtifactInfo,
    CellEvent,
    Experiment,
    LifecycleStage,
    Metric,
    MetricProvenance,
    Param,
    Run,
    RunStatus,
    RunTag,
    ViewType,
)
from nbtrack.exceptions import InvalidInputError, NotFoundError
from nbtrack.store import get_store, locate
from nbtrack.store._blob_roots import ROOT_TAG
from nbtrack.store.artifacts import (
    directory_files,
    join_artifact_path,
    normalize_artifact_path,
    parallel_map,
)

if TYPE_CHECKING:
    import pandas as pd

    from nbtrack.store._imports import Imports
    from nbtrack.store._verify import BlobReport
    from nbtrack.store.artifacts import Blobs
    from nbtrack.store.queries import Queries
    from nbtrack.store.registry import RegistryStore
    from nbtrack.store.sql_store import SqlStore

__all__ = ["PagedList", "TrackingClient", "ViewType", "current_user", "view_stage"]

T = TypeVar("T")
#: MLflow's system tags that are a run's own fields here (its name, its parent).
RUN_NAME_TAG = "mlflow.runName"
PARENT_RUN_TAG = "mlflow.parentRunId"
DATASET_CONTEXT_TAG = "mlflow.data.context"


_VIEW_STAGES = {
    ViewType.ACTIVE_ONLY: LifecycleStage.ACTIVE.value,
    ViewType.DELETED_ONLY: LifecycleStage.DELETED.value,
    ViewType.ALL: "all",
}
_EXPERIMENT_FILTER = re.compile(
    r"^\s*(?:attributes\.)?name\s+(=|LIKE|ILIKE)\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE
)


def view_stage(view_type: ViewType | int | str) -> str:
    """The lifecycle stage ('active', 'deleted' or 'all') a view type selects."""
    if isinstance(view_type, str) and view_type in ("active", "deleted", "all"):
        return view_type
    try:
        return _VIEW_STAGES[ViewType(int(view_type))]
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"unknown view type {view_type!r}; use ViewType.ACTIVE_ONLY, DELETED_ONLY or ALL"
        ) from None


def current_user() -> str:
    """The OS user logging runs (``NBTRACK_USER`` overrides)."""
    explicit = os.environ.get("NBTRACK_USER")
    if explicit:
        return explicit
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


class TrackingClient(LoggedModelMethods):
    """Experiments, runs, logged values and artifacts of one tracking store, by id.

    ``nbtrack.TrackingClient`` (alias ``MlflowClient``) is the subclass
    :class:`nbtrack.registry.TrackingClient`, which adds the model registry's
    methods (``register_model``, ``set_registered_model_alias``, ...).

    ``tracking_uri`` defaults to the current one (see :func:`nbtrack.get_tracking_uri`).
    ``readonly=True`` opens the store for reading only: nothing is created,
    upgraded or written (a missing store is a :class:`NotFoundError`, an old
    schema a :class:`StoreError` saying to run ``nbtrack upgrade``), and writing
    methods raise :class:`StoreError`. A store this process may not write is
    opened that way in any case.
    """

    def __init__(
        self, tracking_uri: str | os.PathLike[str] | None = None, *, readonly: bool = False
    ) -> None:
        self.tracking_uri = (
            locate.normalize_tracking_uri(tracking_uri)
            if tracking_uri is not None
            else locate.get_tracking_uri()
        )
        self.readonly = readonly

    @property
    def _store(self) -> SqlStore:
        """The store this client talks to (opened on first use)."""
        return get_store(self.tracking_uri, readonly=self.readonly)

    @property
    def queries(self) -> Queries:
        """Reads for panels and tables, without flushing (see :mod:`nbtrack.store.queries`).

        The MLflow-named methods of this client flush this process's pending
        writes before they read; these never do, so a panel polling from a
        background thread never waits on a training loop that is logging
        (values show once the writer has committed them). Pages of runs with
        counts, sorting and filters, run summaries, metric arrays and summaries,
        histories cached between polls, artifact files.
        """
        return self._store.queries

    @property
    def imports(self) -> Imports:
        """Writes that keep another store's ids and times (``nbtrack import-mlflow``).

        The usual methods stamp "now", this host and new ids; these keep the
        source's, and trust their inputs: the importer checks them first.
        """
        from nbtrack.store._imports import Imports

        return Imports(self._store)

    def open(self) -> None:
        """Open the store now rather than on first use.

        A read-only client of a store that does not exist raises
        :class:`NotFoundError` here, and one of an old schema a ``StoreError``.
        """
        self._store  # noqa: B018 (the property opens it)

    @property
    def _registry(self) -> RegistryStore:
        """The store's registry half, for the methods :mod:`nbtrack.registry` mixes in."""
        return self._store.registry

    def _synced(self) -> SqlStore:
        store = self._store
        store.flush()
        return store

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything logged in this process is durable on disk.

        Raises :class:`~nbtrack.exceptions.WriteError` if something could not be stored.
        """
        self._store.flush(timeout)

    def require_writable(self) -> None:
        """Open the store for writing now (creating or upgrading it as needed).

        Raises :class:`~nbtrack.exceptions.StoreError`, saying why, when this
        client was opened read-only or this process may not write the store.
        """
        self._store.require_writable()

    def logged_param(self, run_id: str, key: str) -> str | None:
        """The value a param of the run already has, or None (no flush: params are
        remembered as they are logged, so this is cheap enough for a cell hook)."""
        return self._store.logged_param(run_id, key)

    # -- experiments ----------------------------------------------------------------

    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> str:
        """Create an experiment and return its id; an existing name is an error.

        ``artifact_location`` is where the experiment's runs keep their artifacts
        (content-addressed, as in the store's own root): a local directory or an
        fsspec URL such as ``s3://bucket/prefix`` (``pip install 'nbtrack[s3]'``).
        Without it they go to the store's root (``NBTRACK_ARTIFACT_ROOT``).
        For code written before it was added, a mapping passed second is taken as ``tags``.
        """
        if isinstance(artifact_location, Mapping):  # create_experiment(name, {"tag": ...})
            artifact_location, tags = None, artifact_location
        return self._store.create_experiment(
            check.experiment_name(name),
            _tags(tags),
            artifact_location=str(artifact_location) if artifact_location is not None else None,
        )

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        """Set a tag of an experiment (a tag set again takes the new value)."""
        key = check.key(key, "tag name")
        if key == ROOT_TAG:
            raise InvalidInputError(
                f"{ROOT_TAG!r} is where the experiment's artifacts are stored and is set only by "
                "create_experiment(name, artifact_location=...); choose another tag name"
            )
        self._store.set_experiment_tag(str(experiment_id), key, check.tag_value(key, value))

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove a tag of an experiment; a tag it does not have is an error."""
        self._store.set_experiment_tag(str(experiment_id), check.key(key, "tag name"), None)

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id."""
        return self._store.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment called ``name``, or None."""
        return self._store.get_experiment_by_name(name)

    def search_experiments(
        self,
        view_type: ViewType | int = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        filter_string: str | None = None,
    ) -> list[Experiment]:
        """Experiments, oldest first.

        ``filter_string`` takes ``name = '...'``, ``name LIKE '...'`` or ``name ILIKE '...'``.
        """
        pattern: str | None = None
        escape: str | None = None
        op = "LIKE"
        if filter_string:
            match = _EXPERIMENT_FILTER.match(filter_string)
            if match is None:
                raise InvalidInputError(
                    f"experiment filter {filter_string!r} is not supported; "
                    "use name = 'x' or name LIKE '%x%'"
                )
            op, pattern = match.group(1).upper(), match.group(2).replace("''", "'")
            if op == "=":  # an exact name: match LIKE's wildcards literally
                escape = "\\"
                for special in ("\\", "%", "_"):
                    pattern = pattern.replace(special, escape + special)
        found = self._store.search_experiments(
            view_stage(view_type), pattern, case_insensitive=op == "ILIKE", escape=escape
        )
        return found[:max_results] if max_results is not None else found

    def delete_experiment(self, experiment_id: str) -> None:
        """Move an experiment to the trash (its runs stay, hidden from default searches)."""
        self._store.set_experiment_lifecycle(experiment_id, LifecycleStage.DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        """Bring a deleted experiment back."""
        self._store.set_experiment_lifecycle(experiment_id, LifecycleStage.ACTIVE)

    # -- runs -----------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: Mapping[str, Any] | None = None,
        run_name: str | None = None,
        parent_run_id: str | None = None,
    ) -> Run:
        """Start a RUNNING run in an experiment, owned by this process.

        MLflow's system tags ``mlflow.runName`` and ``mlflow.parentRunId`` in
        ``tags`` name the run and its parent (when ``run_name``/``parent_run_id``
        are not given).
        """
        all_tags = _tags(tags)
        run_name = run_name if run_name is not None else all_tags.pop(RUN_NAME_TAG, None)
        all_tags.pop(RUN_NAME_TAG, None)
        parent_run_id = parent_run_id or all_tags.pop(PARENT_RUN_TAG, None)
        all_tags.pop(PARENT_RUN_TAG, None)
        return self._store.create_run(
            experiment_id=_experiment_id(experiment_id),
            run_name=check.run_name(run_name),
            tags=all_tags,
            start_time=check.timestamp(start_time),
            parent_run_id=parent_run_id,
            user_id=current_user(),
        )

    def resume_run(self, run_id: str) -> Run:
        """Make an ended run RUNNING again in this process; new steps continue after its last."""
        return self._store.resume_run(run_id)

    def get_run(self, run_id: str) -> Run:
        """A run with its latest metrics, params and tags."""
        return self._synced().get_run(run_id)

    def set_terminated(
        self, run_id: str, status: str = RunStatus.FINISHED, end_time: int | None = None
    ) -> None:
        """End a run (FINISHED, FAILED or KILLED) and flush everything it logged."""
        final = _status(status)
        if not final.is_terminal:
            raise InvalidInputError(f"a run ends as FINISHED, FAILED or KILLED, not {status!r}")
        store = self._store
        store.set_terminated(run_id, final, check.timestamp(end_time))
        store.flush()

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        """Change a run's status and/or name."""
        store = self._store
        if name is not None:
            store.set_run_name(run_id, check.run_name(name) or name)
        if status is not None:
            final = _status(status)
            if final.is_terminal:
                store.set_terminated(run_id, final, check.timestamp(None))
            else:
                store.resume_run(run_id)
        store.flush()

    def delete_run(self, run_id: str) -> None:
        """Move a run to the trash; ``nbtrack gc`` removes it for good."""
        self._synced().set_run_lifecycle(run_id, LifecycleStage.DELETED)

    def restore_run(self, run_id: str) -> None:
        """Bring a deleted run back."""
        self._store.set_run_lifecycle(run_id, LifecycleStage.ACTIVE)

    def search_runs(
        self,
        experiment_ids: Sequence[str] | str | None = None,
        filter_string: str = "",
        run_view_type: ViewType | int = ViewType.ACTIVE_ONLY,
        max_results: int | None = 1000,
        order_by: Sequence[str] | None = None,
        offset: int = 0,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        """Runs matching ``filter_string`` (MLflow's grammar plus OR and parentheses).

        A page of at most ``max_results`` runs; its ``token`` (None on the last
        page) passed as ``page_token`` gives the next page, as in MLflow.
        """
        start = offset + token_offset(page_token)
        found = self._synced().search_runs(
            _experiment_ids(experiment_ids),
            filter_string or None,
            view_stage(run_view_type),
            None if max_results is None else max_results + 1,
            order_by,
            start,
        )
        if max_results is not None and len(found) > max_results:
            return PagedList(found[:max_results], offset_token(start + max_results))
        return PagedList(found, None)

    def search_runs_frame(
        self,
        experiment_ids: Sequence[str] | str | None = None,
        filter_string: str = "",
        run_view_type: ViewType | int = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        order_by: Sequence[str] | None = None,
        offset: int = 0,
    ) -> pd.DataFrame:
        """:meth:`search_runs` as a pandas DataFrame with MLflow's column names."""
        return self._synced().search_runs_frame(
            _experiment_ids(experiment_ids),
            filter_string or None,
            view_stage(run_view_type),
            max_results,
            order_by,
            offset,
        )

    # -- logging --------------------------------------------------------------------

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
        *,
        model_id: str | None = None,
        dataset_name: str | None = None,
        dataset_digest: str | None = None,
    ) -> None:
        """Queue one metric point. ``step=None`` takes the next step of that metric.

        The point is also linked to logged model ``model_id`` (default: the active
        model, see ``nbtrack.set_active_model``), with the dataset it was computed on.
        """
        key = check.key(key, "metric name")
        value = check.metric_value(key, value)
        timestamp = check.timestamp(timestamp)
        self._store.log_metric(run_id, key, value, timestamp, check.step(key, step))
        self._link_model_metrics(
            run_id, [(key, value, timestamp, step)], model_id, dataset_name, dataset_digest
        )

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        """Log a param; logging it again with another value is an error. Returns ``value``."""
        self.log_batch(run_id, params=[Param(key, value)])
        return value

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set a tag (a tag set again takes the new value)."""
        self.log_batch(run_id, tags=[RunTag(key, value)])

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag; a tag the run does not have is an error."""
        key = check.key(key, "tag name")
        if key not in self._synced().get_run(run_id).data.tags:
            raise NotFoundError(
                f"No tag with name {key!r} in run {run_id}; list its tags with "
                "get_run(run_id).data.tags"
            )
        self._store.delete_tag(run_id, key)

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[Metric | tuple[str, float, int | None, int | None]] = (),
        params: Iterable[Param | tuple[str, Any]] = (),
        tags: Iterable[RunTag | tuple[str, Any]] = (),
        *,
        model_id: str | None = None,
        dataset_name: str | None = None,
        dataset_digest: str | None = None,
    ) -> None:
        """Log many values at once; everything is checked before anything is queued.

        ``metrics`` holds :class:`Metric` or ``(key, value, timestamp, step)`` tuples
        (timestamp and step may be None). Metrics are also linked to logged model
        ``model_id`` (default: the active one, ``nbtrack.set_active_model``), with
        the dataset they were computed on.
        """
        store = self._store
        metrics = list(metrics)
        new_params = _check_params(store, run_id, params)
        new_tags = {
            check.key(k, "tag name"): check.tag_value(k, v) for k, v in (tuple(t) for t in tags)
        }
        points = store.prepare_metrics(run_id, metrics)
        new_name = new_tags.pop(RUN_NAME_TAG, None)  # MLflow renames a run through this tag
        if new_name is not None:
            store.set_run_name(run_id, check.run_name(new_name) or new_name)
        if new_params:
            store.log_params(run_id, new_params)
        if new_tags:
            store.set_tags(run_id, new_tags)
        if points.rows:
            store.queue_metrics(run_id, points)
            self._link_model_metrics(
                run_id, [tuple(m) for m in metrics], model_id, dataset_name, dataset_digest
            )

    def log_inputs(
        self,
        run_id: str,
        datasets: Iterable[tuple[Any, str | None, Mapping[str, str] | None]],
    ) -> None:
        """Record datasets (``nbtrack.data``) with their context and tags as inputs of a run.

        The same dataset (name and digest) logged again replaces its record.
        """
        records: dict[str, str] = {}
        for dataset, context, tags in datasets:
            if not hasattr(dataset, "to_entity"):
                raise InvalidInputError(
                    f"log_input takes a dataset from nbtrack.data.from_pandas or from_numpy, "
                    f"got {type(dataset).__name__}"
                )
            entity = dataset.to_entity()
            input_tags = [
                (check.key(k, "dataset tag name"), str(v)) for k, v in (tags or {}).items()
            ]
            if context is not None:
                input_tags.append((DATASET_CONTEXT_TAG, str(context)))
            name_hash = hashlib.sha256(entity.name.encode()).hexdigest()[:12]
            key = f"{INPUT_TAG_PREFIX}{entity.digest}.{name_hash}"
            records[key] = json.dumps(
                {"dataset": dataclasses.asdict(entity), "tags": input_tags}, sort_keys=True
            )
        self._store.set_tags(run_id, records)  # internal records: no tag-length limit

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """All points of a metric, ordered by step; NaN comes back as NaN."""
        return self._synced().get_metric_history(run_id, key)

    def get_metric_keys(self, run_id: str) -> list[str]:
        """Names of the metrics a run has logged."""
        return self._synced().metric_keys_of(run_id)

    # -- artifacts ------------------------------------------------------------------

    def log_artifact(
        self,
        run_id: str,
        local_path: str | os.PathLike[str],
        artifact_path: str | None = None,
        progress: Callable[[int], object] | None = None,
    ) -> str:
        """Store a local file under ``artifact_path/<file name>``; returns the artifact path.

        The file is streamed into the store (never read whole into memory);
        ``progress`` is called with the size of each piece stored.
        """
        _check_run_exists(self._store, run_id)
        source = Path(local_path)
        if not source.is_file():
            raise InvalidInputError(
                f"{source} is not a file; use log_artifacts for a directory"
                if source.is_dir()
                else f"{source} does not exist"
            )
        target = join_artifact_path(artifact_path, source.name)
        store = self._store
        store.run_pk(run_id)  # fail before writing a blob for a run that does not exist
        sha, size = store.blobs_for_run(run_id).put_file(source, progress)
        store.log_artifact_blob(run_id, target, sha, size)
        return target

    def log_artifacts(
        self,
        run_id: str,
        local_dir: str | os.PathLike[str],
        artifact_path: str | None = None,
        progress: Callable[[int], object] | None = None,
    ) -> list[str]:
        """Store every file under a local directory, keeping its layout.

        Symbolic links are followed only to files inside ``local_dir``; links that
        point outside it, to directories, or nowhere are skipped with an
        :class:`~nbtrack.exceptions.NbtrackWarning` naming each. Files are
        stored several at once (large ones streamed, never read whole into
        memory); ``progress`` is called with the size of each piece stored.
        """
        root = Path(local_dir)
        if not root.is_dir():
            raise InvalidInputError(f"{root} is not a directory")
        store = self._store
        store.run_pk(run_id)
        # Every path is checked before anything is stored (warns of each symlink skipped).
        files = [
            (file, join_artifact_path(artifact_path, rel)) for file, rel in directory_files(root)
        ]
        blobs = store.blobs_for_run(run_id)
        stored = parallel_map(lambda item: blobs.put_file(item[0], progress), files)
        rows = [(target, sha, size) for (_, target), (sha, size) in zip(files, stored, strict=True)]
        store.log_artifact_blobs(run_id, rows)
        return [target for target, _, _ in rows]

    def log_bytes(self, run_id: str, data: bytes, artifact_file: str) -> str:
        """Store bytes as the artifact ``artifact_file``."""
        target = normalize_artifact_path(artifact_file, what="artifact_file")
        store = self._store
        store.run_pk(run_id)
        sha, size = store.blobs_for_run(run_id).put_bytes(data)
        store.log_artifact_blob(run_id, target, sha, size)
        return target

    def log_text(self, run_id: str, text: str, artifact_file: str) -> str:
        """Store text (UTF-8) as an artifact file."""
        return self.log_bytes(run_id, text.encode("utf-8"), artifact_file)

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> str:
        """Store a JSON-serialisable object as ``.json`` (or ``.yaml``/``.yml`` with PyYAML)."""
        if artifact_file.endswith((".yaml", ".yml")):
            try:
                import yaml  # type: ignore[import-untyped]
            except ImportError:
                raise InvalidInputError(
                    "writing YAML needs PyYAML: pip install pyyaml, or use a .json file name"
                ) from None
            text = yaml.safe_dump(dictionary, sort_keys=False)
        else:
            text = json.dumps(dictionary, indent=2, default=str)
        return self.log_text(run_id, text, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> str:
        """Store a matplotlib figure as an image (format from the file extension)."""
        if not hasattr(figure, "savefig"):
            raise InvalidInputError(
                f"log_figure takes a matplotlib Figure, got {type(figure).__name__}"
            )
        target = normalize_artifact_path(artifact_file, what="artifact_file")
        suffix = Path(target).suffix or ".png"
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / f"figure{suffix}"
            figure.savefig(local)
            return self.log_bytes(run_id, local.read_bytes(), target)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[ArtifactInfo]:
        """Files and directories directly under ``path`` (the run's root by default)."""
        prefix = normalize_artifact_path(path) if path else ""
        return self._synced().list_artifacts(run_id, prefix)

    def download_artifacts(
        self,
        run_id: str,
        path: str = "",
        dst_path: str | os.PathLike[str] | None = None,
        progress: Callable[[int], object] | None = None,
    ) -> str:
        """Copy an artifact file or directory to ``dst_path`` (a new temp dir by default).

        Each file is checked against its sha256 before it is renamed into place;
        ``progress`` is called with the size of each piece copied.
        """
        prefix = normalize_artifact_path(path) if path else ""
        destination = Path(dst_path) if dst_path is not None else Path(tempfile.mkdtemp())
        return str(self._synced().download_artifacts(run_id, prefix, destination, progress))

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """The content of one artifact file."""
        store = self._synced()
        target = normalize_artifact_path(path)
        rows = store.artifact_rows(run_id, target)
        exact = [sha for p, sha, _ in rows if p == target]
        if not exact:
            raise NotFoundError(f"run {run_id} has no artifact file {path!r}")
        return store.blobs_holding(exact[0], store.blobs_for_run(run_id)).read_bytes(exact[0])

    # -- stored files by sha256 (model versions, imports) -------------------------------

    @property
    def blobs(self) -> Blobs:
        """The artifact root new files go to (content-addressed by sha256)."""
        return self._store.blobs

    def blobs_holding(self, sha256: str) -> Blobs:
        """The artifact root that holds the file of content ``sha256`` (a bucket too).

        Model versions name their files by sha256, whichever run or root they came from.
        """
        return self._store.blobs_holding(sha256)

    # -- notebook provenance --------------------------------------------------------

    def begin_cell(
        self,
        run_id: str,
        cell_id: str | None,
        execution_count: int | None,
        source: str,
        start_ms: int,
    ) -> int:
        """Open a timeline entry for a cell starting to run; returns its ``seq``.

        Until :meth:`end_cell`, what this process logs to ``run_id`` is linked
        to that entry (the cell hook of the kernel and the headless runner call this).
        """
        return self._store.begin_cell(run_id, cell_id, execution_count, source, start_ms)

    def end_cell(
        self,
        run_id: str,
        seq: int,
        cell_id: str | None,
        execution_count: int | None,
        source: str,
        start_ms: int,
        duration_ms: int,
        error: BaseException | None,
    ) -> None:
        """Close timeline entry ``seq`` with its duration and outcome (``error`` or success)."""
        self._store.end_cell(
            run_id, seq, cell_id, execution_count, source, start_ms, duration_ms, error
        )

    def link_cell(self, run_id: str, seq: int | None) -> None:
        """Link what this process logs to ``run_id`` from now on to timeline entry ``seq``.

        ``seq=None`` ends the link. A kernel run by ``nbtrack run`` uses it: the
        runner records the entry, the kernel logs the values.
        """
        store = self._store
        store.cell_context = None if seq is None else (store.run_pk(run_id), seq)

    def run_status(self, run_id: str) -> RunStatus:
        """The run's status as stored, without flushing (for threads beside a logging loop)."""
        return RunStatus(self._store.get_run(run_id).info.status)

    def get_cell_timeline(self, run_id: str) -> list[CellEvent]:
        """The notebook cells executed while the run was active, in execution order."""
        return self._synced().cell_timeline(run_id)

    def get_metric_provenance(self, run_id: str, key: str) -> list[MetricProvenance]:
        """Which cells logged metric ``key``: each with the steps it logged."""
        return self._synced().metric_provenance(run_id, key)

    def get_value_cells(self, run_id: str) -> dict[str, dict[str, int]]:
        """Timeline ``seq`` of the cell that logged each param, tag and artifact."""
        return self._synced().value_cells(run_id)

    # -- maintenance ----------------------------------------------------------------

    def garbage_collect(
        self, grace_seconds: float = 3600.0, dry_run: bool = False
    ) -> dict[str, int]:
        """Remove deleted runs and unreferenced blobs older than ``grace_seconds``.

        Every artifact root the store uses is swept, remote ones included.
        ``dry_run`` counts what would go (``runs``, ``blobs``, ``bytes``) and
        changes nothing.
        """
        return self._synced().garbage_collect(grace_seconds, dry_run)

    def verify_artifacts(self) -> BlobReport:
        """Check every stored artifact blob against its sha256 (reads them all; changes nothing).

        The report's ``problems`` name each damaged, missing or invalid blob and
        the run artifacts and model versions that use it; log a damaged file again
        to repair it.
        """
        return self._synced().verify_blobs()


def _experiment_id(experiment_id: Any) -> str:
    if isinstance(experiment_id, bool) or not isinstance(experiment_id, str | int):
        raise InvalidInputError(
            f"Invalid experiment id: {experiment_id!r} ({type(experiment_id).__name__}) is not "
            "an id; ids are integers such as '0' or '3': pass one experiment id"
        )
    return str(experiment_id)


def _status(status: str) -> RunStatus:
    try:
        return RunStatus(str(status).upper())
    except ValueError:
        raise InvalidInputError(
            f"unknown run status {status!r}; use one of {', '.join(s.value for s in RunStatus)}"
        ) from None


def _tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    return {check.key(k, "tag name"): check.tag_value(k, v) for k, v in (tags or {}).items()}


def _experiment_ids(ids: Sequence[str] | str | None) -> list[str] | None:
    if ids is None:
        return None
    return [ids] if isinstance(ids, str | int) else [str(i) for i in ids]


def _check_params(
    store: SqlStore, run_id: str, params: Iterable[Param | tuple[str, Any]]
) -> dict[str, str]:
    """Validated new params; a different value for a param already logged is refused."""
    out: dict[str, str] = {}
    for key, value in (tuple(p) for p in params):
        key = check.key(key, "parameter name")
        text = check.param_value(key, value)
        before = out.get(key)
        if before is not None and before != text:
            raise InvalidInputError(
                f"Duplicate parameter keys have been submitted: param {key!r} is already "
                f"{before!r}; refusing {text!r} in the same batch. Log each param once"
            )
        if before is None:
            before = store.logged_param(run_id, key)
        if before is not None and before != text:
            raise InvalidInputError(
                f"Changing param values is not allowed. Param with key={key!r} was logged "
                f"before: param {key!r} of run {run_id} is already {before!r}; refusing {text!r}. "
                "A run's params are fixed: start a new run for new settings, or log the "
                "value under another name"
            )
        if before is None:
            out[key] = text
    return out


def _check_run_exists(store: SqlStore, run_id: str) -> None:
    """Refuse an unknown run id before touching files (MLflow's "Invalid run id")."""
    try:
        store.run_pk(run_id)
    except NotFoundError:
        raise NotFoundError(
            f"Invalid run id: no run with id {run_id!r} in {store.uri}; pass "
            "run.info.run_id of a run of this store"
        ) from None
