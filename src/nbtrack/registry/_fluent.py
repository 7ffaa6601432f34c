"""Module-level registry functions on the current tracking store (MLflow's fluent names)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nbtrack.entities import ModelVersion, RegisteredModel

if TYPE_CHECKING:
    from nbtrack.registry._client import TrackingClient


def _client() -> TrackingClient:
    from nbtrack.registry._client import TrackingClient

    return TrackingClient()


def register_model(
    model_uri: str, name: str, tags: Mapping[str, Any] | None = None
) -> ModelVersion:
    """Register the model at ``model_uri`` (``runs:/RUN_ID/model``, a path...) as a new version.

    The registered model ``name`` is created if needed. Example::

        info = nbtrack.sklearn.log_model(clf, "model")
        version = nbtrack.register_model(info.model_uri, "iris")
    """
    return _client().register_model(model_uri, name, tags)


def search_registered_models(
    filter_string: str | None = None,
    max_results: int | None = 100,
    order_by: Sequence[str] | None = None,
) -> list[RegisteredModel]:
    """Registered models matching the filter, e.g. ``"name LIKE 'iris%'"``."""
    return _client().search_registered_models(filter_string, max_results, order_by)


def search_model_versions(
    filter_string: str | None = None,
    max_results: int | None = 1000,
    order_by: Sequence[str] | None = None,
) -> list[ModelVersion]:
    """Model versions matching the filter, e.g. ``"name = 'iris' and tags.ok = 'yes'"``."""
    return _client().search_model_versions(filter_string, max_results, order_by)
