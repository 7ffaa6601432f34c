"""The registry's client methods, with MLflow's names, and the client that has them all.

:class:`RegistryMethods` is a mixin; :class:`TrackingClient` puts it together
with the tracking client below it (:class:`nbtrack.client.TrackingClient`),
and is what ``nbtrack.TrackingClient`` and ``nbtrack.MlflowClient`` name. Inputs
are checked here (:mod:`._names`, :mod:`nbtrack._validation`); the reads and
writes are the store's (:class:`nbtrack.store.registry.RegistryStore`),
imported on first use so that ``import nbtrack`` stays light.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from nbtrack import _validation as check
from nbtrack import client as tracking
from nbtrack.entities import ModelVersion, RegisteredModel, RegistryEvent, Stage
from nbtrack.exceptions import InvalidInputError
from nbtrack.registry._names import MAX_NAME_LENGTH, alias_name, model_name, parse_version

if TYPE_CHECKING:
    from nbtrack.models._source import ModelSource
    from nbtrack.store.registry import Actor, RegistryStore

__all__ = [
    "MAX_NAME_LENGTH",
    "RegistryMethods",
    "TrackingClient",
    "alias_name",
    "model_name",
    "parse_version",
]


class RegistryMethods:
    """Registered models, versions, aliases, stages, tags and the audit trail."""

    if TYPE_CHECKING:  # the tracking client's, which this is mixed into

        @property
        def _registry(self) -> RegistryStore: ...

        def flush(self, timeout: float | None = None) -> None: ...

    # -- plumbing -----------------------------------------------------------------------

    def _actor(self) -> Actor:
        from nbtrack.store.registry import Actor

        return Actor(tracking.current_user())

    # -- registered models --------------------------------------------------------------

    def create_registered_model(
        self, name: str, tags: Mapping[str, Any] | None = None, description: str | None = None
    ) -> RegisteredModel:
        """Create an empty registered model; an existing name is an error."""
        name = model_name(name)
        self._registry.create_model(
            name, _tag_items(tags), _description(description), self._actor()
        )
        return self.get_registered_model(name)

    def get_registered_model(self, name: str) -> RegisteredModel:
        """A registered model with its tags, aliases and latest version per stage."""
        return self._registry.get_model(name)

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        """Change a registered model's description."""
        self._registry.set_model_description(name, _description(description), self._actor())
        return self.get_registered_model(name)

    def delete_registered_model(self, name: str) -> None:
        """Delete a model and all its versions (its history stays in the audit trail)."""
        self._registry.delete_model(name, self._actor())

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int | None = 100,
        order_by: Sequence[str] | None = None,
    ) -> list[RegisteredModel]:
        """Registered models matching the filter (``name LIKE 'iris%'``, ``tags.team = 'x'``)."""
        return self._registry.search_models(filter_string, order_by, max_results)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        """Set a tag of a registered model."""
        key, text = check.key(key, "tag name"), check.tag_value(key, value)
        self._registry.set_model_tag(name, key, text, self._actor())

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Remove a tag of a registered model."""
        self._registry.delete_model_tag(name, key, self._actor())

    # -- versions -----------------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> ModelVersion:
        """A new version of ``name`` (created if needed) holding the model at ``source``.

        ``source`` is a ``runs:/``, ``models:/`` URI or a model directory. The
        version records each file's sha256 and keeps the files itself, so it
        works after the source run is deleted. Two processes registering at
        once get consecutive versions.
        """
        from nbtrack.registry import _sources

        name = model_name(name)
        tag_items = _tag_items(tags)
        files = _sources.version_source(cast(tracking.TrackingClient, self), str(source))
        version = self._registry.create_version(
            name,
            source=str(source),
            run_id=run_id or files.run_id,
            flavor=files.flavor,
            files=files.rows,
            tags=tag_items,
            description=_description(description),
            actor=self._actor(),
        )
        return self.get_model_version(name, version)

    def register_model(
        self, model_uri: str, name: str, tags: Mapping[str, Any] | None = None
    ) -> ModelVersion:
        """Register the model at ``model_uri`` as a new version of ``name``."""
        return self.create_model_version(name, model_uri, tags=tags)

    def model_version_source(self, uri: str) -> ModelSource:
        """The stored files of the version a ``models:/`` URI names (aliases, stages, latest)."""
        from nbtrack.models._source import ModelSource

        name, version = resolve_registered(self._registry, uri)
        files = self._registry.version_files(name, version)
        return ModelSource(uri, files.rows, run_id=files.run_id, name=name, version=version)

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """One version, with its tags, aliases and files (path -> sha256)."""
        return self._registry.get_version(name, parse_version(version))

    def update_model_version(
        self, name: str, version: int | str, description: str | None
    ) -> ModelVersion:
        """Change a version's description (its files never change)."""
        number = parse_version(version)
        self._registry.set_version_description(
            name, number, _description(description), self._actor()
        )
        return self.get_model_version(name, number)

    def delete_model_version(self, name: str, version: int | str) -> None:
        """Delete a version (its files go at the next ``nbtrack gc`` if nothing else uses them)."""
        self._registry.delete_version(name, parse_version(version), self._actor())

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int | None = 1000,
        order_by: Sequence[str] | None = None,
    ) -> list[ModelVersion]:
        """Versions matching the filter (``name = 'iris' and run_id = '...'``), newest first."""
        return self._registry.search_versions(filter_string, order_by, max_results)

    def get_latest_versions(
        self, name: str, stages: Iterable[str] | None = None
    ) -> list[ModelVersion]:
        """The highest version in each stage (each of ``stages``, or every stage)."""
        model = self.get_registered_model(name)
        if stages is None:
            return model.latest_versions
        wanted = {Stage.parse(s).value for s in stages}
        return [v for v in model.latest_versions if v.current_stage in wanted]

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
    ) -> ModelVersion:
        """Move a version to None, Staging, Production or Archived.

        ``archive_existing_versions`` archives the other versions in that stage.
        """
        number, target = parse_version(version), Stage.parse(stage)
        self._registry.transition_stage(
            name, number, target, archive_existing_versions, self._actor()
        )
        return self.get_model_version(name, number)

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: Any) -> None:
        """Set a tag of a model version."""
        number = parse_version(version)
        key, text = check.key(key, "tag name"), check.tag_value(key, value)
        self._registry.set_version_tag(name, number, key, text, self._actor())

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        """Remove a tag of a model version."""
        self._registry.delete_version_tag(name, parse_version(version), key, self._actor())

    # -- aliases ------------------------------------------------------------------------

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        """Point ``alias`` (e.g. ``champion``) at a version; ``models:/NAME@ALIAS`` loads it."""
        alias, number = alias_name(alias), parse_version(version)
        self._registry.set_alias(name, alias, number, self._actor())

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias."""
        self._registry.delete_alias(name, alias, self._actor())

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at."""
        return self.get_model_version(name, self._registry.alias_version(name, alias))

    # -- audit --------------------------------------------------------------------------

    def get_registry_history(
        self, name: str | None = None, max_results: int | None = None
    ) -> list[RegistryEvent]:
        """Registry changes, oldest first: of one model, or of all (the last ``max_results``)."""
        return self._registry.events(name, max_results)


class TrackingClient(tracking.TrackingClient, RegistryMethods):
    """Experiments, runs, artifacts and the model registry of one tracking store.

    ``nbtrack.TrackingClient`` and ``nbtrack.MlflowClient``: the tracking
    methods of :class:`nbtrack.client.TrackingClient` plus the registry's.
    """


def _description(description: str | None) -> str | None:
    """A description as stored: text any backend holds (no NUL, no lone surrogate)."""
    return None if description is None else check.text("description", str(description))


def _tag_items(tags: Mapping[str, Any] | None) -> dict[str, str]:
    return {check.key(k, "tag name"): check.tag_value(k, v) for k, v in (tags or {}).items()}


def resolve_registered(registry: RegistryStore, uri: str) -> tuple[str, int]:
    """``(name, version)`` of a ``models:/`` URI (aliases, stages and ``latest`` resolved)."""
    rest = uri[len("models:/") :].lstrip("/")
    if "@" in rest and "/" not in rest.split("@", 1)[1]:
        name, alias = rest.rsplit("@", 1)
        return name, registry.alias_version(name, alias)
    name, sep, which = rest.rpartition("/")
    if not sep or not name or not which:
        raise InvalidInputError(
            f"model URI {uri!r} names no version; write models:/NAME/VERSION, "
            "models:/NAME@ALIAS or models:/NAME/STAGE"
        )
    if which.isdigit():
        return name, int(which)  # checked when its files are read
    if which.lower() == "latest":
        return name, registry.latest_version(name)
    return name, registry.latest_version(name, Stage.parse(which))
