"""MLflow 3's logged-model methods of the client (a mixin of ``TrackingClient``).

A logged model has an id of its own (``m-<32 hex>``), params, tags, a status,
files and metrics linked from any run; ``models:/<model_id>`` loads it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrack import _active_model
from nbtrack import _validation as check
from nbtrack._paging import PagedList, offset_token, token_offset
from nbtrack.entities import (
    ArtifactInfo,
    LifecycleStage,
    LoggedModel,
    LoggedModelMetric,
    LoggedModelStatus,
)
from nbtrack.exceptions import InvalidInputError, NotFoundError
from nbtrack.store.artifacts import join_artifact_path, normalize_artifact_path

if TYPE_CHECKING:
    from nbtrack.store.sql_store import SqlStore


def check_model_id(model_id: Any) -> str:
    """``model_id`` if it is a non-empty string (MLflow's wording otherwise)."""
    if not isinstance(model_id, str) or not model_id:
        raise InvalidInputError(f"`model_id` must be a non-empty string, but got {model_id!r}")
    return model_id


def _status(status: LoggedModelStatus | str) -> LoggedModelStatus:
    try:
        return LoggedModelStatus(str(status))
    except ValueError:
        choices = ", ".join(s.value for s in LoggedModelStatus)
        raise InvalidInputError(f"unknown logged model status {status!r}; use {choices}") from None


class LoggedModelMethods:
    """``create_logged_model``, ``get_logged_model``, ``log_model_artifact`` and the rest."""

    @property
    def _store(self) -> SqlStore:  # provided by TrackingClient
        raise NotImplementedError

    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        model_type: str | None = None,
        *,
        artifact_path: str | None = None,
        status: LoggedModelStatus | str = LoggedModelStatus.PENDING,
    ) -> LoggedModel:
        """A new logged model (PENDING until :meth:`finalize_logged_model`) in the experiment.

        ``name`` defaults to a generated one, as in MLflow. ``artifact_path``: the
        model's files are the source run's artifacts there (what ``log_model`` does).
        """
        store = self._store
        store.get_experiment(str(experiment_id))  # a clear error for an unknown experiment
        if source_run_id is not None:
            store.run_pk(source_run_id)
        model_id = store.create_logged_model(
            str(experiment_id),
            name or f"model-{os.urandom(4).hex()}",
            source_run_id=source_run_id,
            artifact_path=artifact_path,
            model_type=model_type,
            params=_strings(params, "parameter"),
            tags=_strings(tags, "tag"),
            status=_status(status),
        )
        _active_model.created(model_id)
        return store.get_logged_model(model_id)

    def get_logged_model(self, model_id: str) -> LoggedModel:
        """The logged model ``model_id`` with its params, tags and linked metrics."""
        return self._store.get_logged_model(check_model_id(model_id))

    def finalize_logged_model(self, model_id: str, status: LoggedModelStatus | str) -> LoggedModel:
        """Set the model's final status (``READY`` or ``FAILED``)."""
        store = self._store
        store.update_logged_model(check_model_id(model_id), status=_status(status))
        return store.get_logged_model(model_id)

    def delete_logged_model(self, model_id: str) -> None:
        """Move a logged model to the trash (``get_logged_model`` no longer finds it)."""
        self._store.update_logged_model(
            check_model_id(model_id), lifecycle_stage=LifecycleStage.DELETED
        )

    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, Any]) -> None:
        """Set tags of a logged model (a tag set again takes the new value)."""
        self._store.set_logged_model_pairs(check_model_id(model_id), tags=_strings(tags, "tag"))

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        """Remove a tag of a logged model."""
        self._store.delete_logged_model_tag(check_model_id(model_id), key)

    def log_model_params(self, model_id: str, params: Mapping[str, Any]) -> None:
        """Set params of a logged model."""
        self._store.set_logged_model_pairs(
            check_model_id(model_id), params=_strings(params, "parameter")
        )

    def search_logged_models(
        self,
        experiment_ids: Iterable[str],
        filter_string: str | None = None,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[LoggedModel]:
        """The active logged models of these experiments, newest first, a page at a time
        (``.token`` of the result gives the next page; None on the last)."""
        if filter_string:
            raise InvalidInputError(
                "search_logged_models does not filter yet; select from its result instead "
                "(filter_string was given)"
            )
        store = self._store
        ids = store.logged_model_ids([str(e) for e in experiment_ids])
        start = token_offset(page_token)
        end = len(ids) if max_results is None else start + max_results
        token = offset_token(end) if end < len(ids) else None
        return PagedList([store.get_logged_model(i) for i in ids[start:end]], token)

    def log_model_artifact(self, model_id: str, local_path: str | os.PathLike[str]) -> None:
        """Store a local file among a logged model's files, under its file name."""
        source = Path(local_path)
        if not source.is_file():
            raise InvalidInputError(
                f"{source} is not a file; use log_model_artifacts for a directory"
            )
        self._put_model_files(check_model_id(model_id), [(source, source.name)])

    def log_model_artifacts(self, model_id: str, local_dir: str | os.PathLike[str]) -> None:
        """Store every file under a local directory among a logged model's files."""
        root = Path(local_dir)
        if not root.is_dir():
            raise InvalidInputError(f"{root} is not a directory; use log_model_artifact")
        files = [
            (p, p.relative_to(root).as_posix()) for p in sorted(root.rglob("*")) if p.is_file()
        ]
        self._put_model_files(check_model_id(model_id), files)

    def _put_model_files(self, model_id: str, files: list[tuple[Path, str]]) -> None:
        store = self._store
        found = store.get_logged_model(model_id)
        if found.artifact_location.startswith("runs:/"):
            raise InvalidInputError(
                f"logged model {model_id} keeps its files in run {found.source_run_id}; "
                "log more files there with log_artifact(run_id, path, artifact_path)"
            )
        blobs = store.blobs_for_experiment(found.experiment_id)
        for source, target in files:
            sha, size = blobs.put_file(source)
            store.log_model_file(model_id, normalize_artifact_path(target), sha, size)

    def logged_model_files(self, model_id: str) -> list[tuple[str, str, int]]:
        """``(path, sha256, size)`` of the files of a model created on its own (not in a run)."""
        return self._store.logged_model_rows(check_model_id(model_id))

    def list_logged_model_artifacts(
        self, model_id: str, path: str | None = None
    ) -> list[ArtifactInfo]:
        """Immediate children of ``path`` among a logged model's files, like ``ls``."""
        store = self._store
        model_id = check_model_id(model_id)
        found = store.get_logged_model(model_id)
        if found.artifact_location.startswith("runs:/") and found.source_run_id is not None:
            base = found.artifact_location.split("/", 2)[2]
            inner = store.list_artifacts(
                found.source_run_id, join_artifact_path(base, path) if path else base
            )
            cut = len(base) + 1
            return [ArtifactInfo(i.path[cut:], i.is_dir, i.file_size, i.sha256) for i in inner]
        from nbtrack.store.sql_store import children_of

        prefix = normalize_artifact_path(path) if path else ""
        return children_of(store.logged_model_rows(model_id), prefix)

    def _link_model_metrics(
        self,
        run_id: str,
        points: Iterable[Sequence[Any]],  # (key, value, timestamp, step), steps may be None
        model_id: str | None,
        dataset_name: str | None = None,
        dataset_digest: str | None = None,
    ) -> None:
        """Link metric points to ``model_id``, else to the active model (if it is in this store)."""
        store = self._store
        if model_id is not None:
            if not store.has_logged_model(check_model_id(model_id)):
                raise NotFoundError(
                    f"Logged model with ID '{model_id}' not found in {store.uri}; "
                    "use ModelInfo.model_id of a model logged to this store"
                )
        else:
            model_id = _active_model.get()
            if model_id is None or not store.has_logged_model(model_id):
                return  # no active model, or one of another store
        now = check.timestamp(None)
        store.log_model_metrics(
            LoggedModelMetric(
                key,
                float(value),
                now if timestamp is None else timestamp,
                0 if step is None else step,
                run_id,
                model_id,
                dataset_name,
                dataset_digest,
            )
            for key, value, timestamp, step in points
        )


def _strings(pairs: Mapping[str, Any] | None, what: str) -> dict[str, str]:
    return {check.key(k, f"{what} name"): str(v) for k, v in (pairs or {}).items()}
