"""What models needs from the model registry, installed by the registry: their direction.

:mod:`nbtrack.registry` imports :mod:`nbtrack.models` (it checks a new
version's files against the model format, and logs a model to register it);
:mod:`nbtrack.models` never imports :mod:`nbtrack.registry`. The two things
models needs from the registry, resolving ``models:/NAME/...`` URIs to stored
files and registering a model just logged
(``log_model(..., registered_model_name=...)``), the registry installs here
when it is imported (:mod:`nbtrack.registry._uris`); ``import nbtrack`` does
that, so they are in place before any model is loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from nbtrack.exceptions import NbtrackError

if TYPE_CHECKING:
    from nbtrack.client import TrackingClient
    from nbtrack.entities import ModelVersion
    from nbtrack.models._source import ModelSource


class RegistryHooks(Protocol):
    """The registry's entry points that models calls."""

    def check_name(self, name: str) -> str:
        """``name`` if it is a valid registered model name, else :class:`InvalidInputError`."""
        ...

    def resolve(self, client: TrackingClient, uri: str) -> ModelSource:
        """The stored files of the version a ``models:/`` URI names."""
        ...

    def register(self, tracking_uri: str, model_uri: str, name: str) -> ModelVersion:
        """Register the model at ``model_uri`` as a new version of ``name``."""
        ...


_installed: RegistryHooks | None = None


def install(hooks: RegistryHooks) -> None:
    """Make ``hooks`` the registry models calls (the registry does this when imported)."""
    global _installed
    _installed = hooks


def registry() -> RegistryHooks:
    """The installed registry hooks; :class:`NbtrackError` if the registry was never imported."""
    if _installed is None:
        raise NbtrackError(
            "models:/ URIs and registered_model_name need nbtrack's model registry, which is "
            "not loaded: import nbtrack.registry (import nbtrack does it)"
        )
    return _installed
