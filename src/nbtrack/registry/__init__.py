"""The model registry: named models, immutable versions, aliases, stages, audit trail.

Lives in the tracking store's database (migration 0004). The API is
:class:`TrackingClient`'s registry methods (MLflow's names; it is
``nbtrack.TrackingClient``) and the functions below.
"""

from nbtrack.registry._client import TrackingClient
from nbtrack.registry._entities import ModelVersion, RegisteredModel, RegistryEvent, Stage
from nbtrack.registry._fluent import register_model, search_model_versions, search_registered_models

__all__ = [
    "ModelVersion",
    "RegisteredModel",
    "RegistryEvent",
    "Stage",
    "TrackingClient",
    "register_model",
    "search_model_versions",
    "search_registered_models",
]
