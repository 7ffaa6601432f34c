"""MLflow 3's fluent logged-model functions: ``get_logged_model``, ``set_active_model``, ...

Thin functions over the client's logged-model methods
(:mod:`nbtrack._logged_model_client`) in the current experiment, the active run's
when one is active.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nbtrack import _active_model, fluent
from nbtrack.entities import LoggedModel, LoggedModelStatus


def _experiment_id(experiment_id: str | None) -> str:
    if experiment_id is not None:
        return str(experiment_id)
    run = fluent.active_run()
    return run.info.experiment_id if run is not None else fluent._current_experiment_id()


def _source_run_id(source_run_id: str | None) -> str | None:
    run = fluent.active_run()
    return source_run_id or (run.info.run_id if run is not None else None)


def get_logged_model(model_id: str) -> LoggedModel:
    """The logged model ``model_id`` (``ModelInfo.model_id``) with its params, tags, metrics."""
    return fluent._client().get_logged_model(model_id)


def initialize_logged_model(
    name: str | None = None,
    source_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    model_type: str | None = None,
    experiment_id: str | None = None,
) -> LoggedModel:
    """A new PENDING logged model in the current experiment, linked to the active run."""
    return fluent._client().create_logged_model(
        _experiment_id(experiment_id),
        name,
        _source_run_id(source_run_id),
        tags,
        params,
        model_type,
    )


def create_external_model(
    name: str | None = None,
    source_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    model_type: str | None = None,
    experiment_id: str | None = None,
) -> LoggedModel:
    """A READY logged model for a model kept outside the store (no files)."""
    client = fluent._client()
    model = initialize_logged_model(
        name, source_run_id, tags, params, model_type or "external", experiment_id
    )
    return client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)


def set_active_model(*, name: str | None = None, model_id: str | None = None) -> LoggedModel:
    """Link metrics logged from now on to a logged model (by id, or by name: the newest
    of that name in the current experiment, created if there is none)."""
    client = fluent._client()
    if model_id is not None:
        model = client.get_logged_model(model_id)
    elif name is not None:
        found = [m for m in client.search_logged_models([_experiment_id(None)]) if m.name == name]
        model = found[0] if found else create_external_model(name)  # the newest of that name
    else:
        from nbtrack.exceptions import InvalidInputError

        raise InvalidInputError("set_active_model needs name= or model_id=")
    _active_model.set_id(model.model_id)
    return model


def get_active_model_id() -> str | None:
    """The id of the active logged model (see :func:`set_active_model`), or None."""
    return _active_model.get()


def clear_active_model() -> None:
    """Stop linking metrics to the active logged model."""
    _active_model.set_id(None)


def last_logged_model() -> LoggedModel | None:
    """The logged model this process logged last (``log_model``, ``initialize_logged_model``)."""
    model_id = _active_model.last()
    return None if model_id is None else get_logged_model(model_id)


def search_logged_models(
    experiment_ids: list[str] | None = None,
    filter_string: str | None = None,
    max_results: int | None = None,
    output_format: str = "pandas",
) -> Any:
    """Logged models of these experiments (default: the current one), newest first.

    ``output_format="pandas"`` (MLflow's default) gives a DataFrame with a row per
    model (its ``to_dictionary()``), ``"list"`` the :class:`LoggedModel` objects.
    """
    if filter_string:
        from nbtrack.exceptions import InvalidInputError

        raise InvalidInputError(
            "search_logged_models does not filter yet; filter its DataFrame instead, "
            "e.g. df[df.name == 'model'] (filter_string was given)"
        )
    if output_format not in ("pandas", "list"):
        from nbtrack.exceptions import InvalidInputError

        raise InvalidInputError(f"output_format must be 'pandas' or 'list', not {output_format!r}")
    ids = experiment_ids if experiment_ids is not None else [_experiment_id(None)]
    models = list(fluent._client().search_logged_models(ids, max_results=max_results))
    if output_format == "list":
        return models
    import pandas as pd

    return pd.DataFrame([m.to_dictionary() for m in models])
