"""The model registry: named models, immutable versions, aliases, stages, audit trail.

Lives in the tracking store's database (migration 0004). The API is
:class:`TrackingClient`'s registry methods (MLflow's names; it is
``nbtrack.TrackingClient``) and the functions below; the SQL behind it is the
store's (:mod:`nbtrack.store.registry`). The registry imports
:mod:`nbtrack.models`, never the reverse: importing it installs what models
needs from it (``models:/`` URIs, registering a logged model; see
:mod:`nbtrack.registry._uris`).
"""

from nbtrack.entities import ModelVersion, RegisteredModel, RegistryEvent, Stage
from nbtrack.registry import _uris
from nbtrack.registry._client import TrackingClient
from nbtrack.registry._fluent import register_model, search_model_versions, search_registered_models

_uris.install()

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
