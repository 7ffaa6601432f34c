"""The rest of MLflow's fluent API, around the active run and experiment.

Experiment tags and lifecycle, ``last_active_run``, ``get_parent_run``,
``get_artifact_uri``, ``delete_tag``, ``log_input`` and the registry URI: thin
functions over :mod:`nbtrack.fluent`'s active run and the client.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from nbtrack import fluent
from nbtrack.entities import Run

log = logging.getLogger(__name__)


def delete_experiment(experiment_id: str) -> None:
    """Move an experiment to the trash (its runs stay, hidden from default searches)."""
    fluent._client().delete_experiment(experiment_id)


def restore_experiment(experiment_id: str) -> None:
    """Bring a deleted experiment back."""
    fluent._client().restore_experiment(experiment_id)


def _tag_experiment_id() -> str:
    # The active run's experiment, else the active one (MLflow's _get_experiment_id).
    runs = fluent._thread.runs
    return runs[-1].info.experiment_id if runs else fluent._current_experiment_id()


def set_experiment_tag(key: str, value: Any) -> None:
    """Set a tag of the current experiment (the active run's, else the active one)."""
    fluent._client().set_experiment_tag(_tag_experiment_id(), key, value)


def set_experiment_tags(tags: Mapping[str, Any]) -> None:
    """Set several tags of the current experiment."""
    client = fluent._client()
    experiment_id = _tag_experiment_id()
    for key, value in tags.items():
        client.set_experiment_tag(experiment_id, key, value)


def delete_experiment_tag(key: str) -> None:
    """Remove a tag of the current experiment."""
    fluent._client().delete_experiment_tag(_tag_experiment_id(), key)


def last_active_run() -> Run | None:
    """The active run, else the run this thread ended last (as stored now), else None."""
    runs = fluent._thread.runs
    run_id = runs[-1].info.run_id if runs else fluent._thread.last_run_id
    return fluent._client().get_run(run_id) if run_id else None


def get_parent_run(run_id: str) -> Run | None:
    """The parent of a nested run, or None for a top-level run."""
    client = fluent._client()
    parent = client.get_run(run_id).info.parent_run_id
    return client.get_run(parent) if parent else None


def get_artifact_uri(artifact_path: str | None = None) -> str:
    """The URI of the active run's artifacts (``runs:/<id>/``), or of one path under it."""
    root = fluent._run().info.artifact_uri
    if not artifact_path:
        return root
    return root.rstrip("/") + "/" + artifact_path.lstrip("/")


def delete_tag(key: str) -> None:
    """Remove a tag of the active run; a tag it does not have is an error."""
    run = fluent._run()
    run.client.delete_tag(run.info.run_id, key)


def flush_async_logging() -> None:
    """MLflow's name for :func:`flush`."""
    fluent.flush()


def log_input(
    dataset: Any, context: str | None = None, tags: Mapping[str, str] | None = None
) -> None:
    """Record a dataset (``nbtrack.data.from_pandas``/``from_numpy``) as an input of the run."""
    run = fluent._run()
    run.client.log_inputs(run.info.run_id, [(dataset, context, tags)])


# -- registry URI (the registry lives in the tracking store) -----------------------------

_registry_uri: str | None = None


def set_registry_uri(uri: str | None) -> None:
    """Remember MLflow's registry URI. nbtrack keeps the registry in the tracking store.

    A URI that names another store than the tracking one is logged at warning
    level: registry calls still use the tracking store.
    """
    global _registry_uri
    _registry_uri = str(uri) if uri is not None else None
    if _registry_uri and _registry_uri != fluent.get_tracking_uri():
        log.warning(
            "nbtrack keeps registered models in the tracking store (%s), not in %s; "
            "use set_tracking_uri to choose the store",
            fluent.get_tracking_uri(),
            _registry_uri,
        )


def get_registry_uri() -> str:
    """The registry URI set, else ``MLFLOW_REGISTRY_URI``, else the tracking URI."""
    return _registry_uri or os.environ.get("MLFLOW_REGISTRY_URI") or fluent.get_tracking_uri()
