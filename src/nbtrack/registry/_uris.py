"""``models:/`` URIs, resolved by the registry, and the hooks it installs into models.

* ``models:/NAME/VERSION``: that version.
* ``models:/NAME@ALIAS``: the version the alias points at.
* ``models:/NAME/STAGE`` (``None``, ``Staging``, ``Production``, ``Archived``):
  the highest version in that stage.
* ``models:/NAME/latest``: the highest version.

Direction: :mod:`nbtrack.registry` imports :mod:`nbtrack.models`, never the
reverse. :func:`install` (run when :mod:`nbtrack.registry` is imported) gives
models what it needs from the registry through
:mod:`nbtrack.models._registry_hooks`. Nothing heavy is imported until a URI
is resolved, so ``import nbtrack`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbtrack.models import _registry_hooks
from nbtrack.registry._names import model_name

if TYPE_CHECKING:
    from nbtrack.client import TrackingClient
    from nbtrack.entities import ModelVersion
    from nbtrack.models._source import ModelSource


def model_source(client: TrackingClient, uri: str) -> ModelSource:
    """The stored files of the version a ``models:/`` URI names."""
    from nbtrack.registry._client import TrackingClient as RegistryClient

    if not isinstance(client, RegistryClient):  # the tracking client, below the registry
        client = RegistryClient(client.tracking_uri, readonly=client.readonly)
    return client.model_version_source(uri)


class _Hooks:
    """The registry as :mod:`nbtrack.models` sees it."""

    def check_name(self, name: str) -> str:
        return model_name(name)

    def resolve(self, client: TrackingClient, uri: str) -> ModelSource:
        return model_source(client, uri)

    def register(self, tracking_uri: str, model_uri: str, name: str) -> ModelVersion:
        from nbtrack.registry._client import TrackingClient

        return TrackingClient(tracking_uri).register_model(model_uri, name)


def install() -> None:
    """Give :mod:`nbtrack.models` the registry's ``models:/`` resolution and registration."""
    _registry_hooks.install(_Hooks())
