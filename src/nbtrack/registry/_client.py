"""The registry's client methods, with MLflow's names, and the client that has them all.

:class:`RegistryMethods` is a mixin; :class:`TrackingClient` puts it together
with the tracking client below it (:class:`nbtrack.client.TrackingClient`),
and is what ``nbtrack.TrackingClient`` and ``nbtrack.MlflowClient`` name. Inputs
are checked here; the SQL lives in :mod:`nbtrack.registry._store` and
:mod:`nbtrack.registry._edits`, imported on first use so that
``import nbtrack`` stays light.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from nbtrack import _validation as check
from nbtrack import client as tracking
from nbtrack.exceptions import InvalidInputError
from nbtrack.registry._entities import ModelVersion, RegisteredModel, RegistryEvent, Stage

if TYPE_CHECKING:
    import sqlalchemy as sa

    from nbtrack.registry._store import Actor
    from nbtrack.store.sql_store import SqlStore

T = TypeVar("T")
_ALIAS = re.compile(r"^[\w\-]+$")
_VERSION_ALIAS = re.compile(r"^v\d+$", re.IGNORECASE)
MAX_NAME_LENGTH = 256


def model_name(name: Any) -> str:
    """A registered model name: 1-256 characters, none of ``/ @ :`` (they end URIs)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(f"model name must be a non-empty string, got {name!r}")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"model name is {len(name)} characters; the limit is 256")
    bad = sorted({c for c in name if c in "/@:" or not c.isprintable()})
    if bad or name != name.strip():
        shown = "".join(bad) or "leading or trailing spaces"
        raise InvalidInputError(
            f"model name {name!r} contains {shown!r}; names appear in URIs such as "
            "models:/NAME@ALIAS, so use letters, digits, '-', '_', '.' and spaces"
        )
    return name


def alias_name(alias: Any) -> str:
    """An alias: letters, digits, ``_`` and ``-``; not ``latest`` nor ``v<number>``."""
    if not isinstance(alias, str) or not _ALIAS.match(alias) or len(alias) > MAX_NAME_LENGTH:
        raise InvalidInputError(
            f"alias {alias!r} must be 1-256 letters, digits, '_' or '-', e.g. 'champion'"
        )
    if alias.lower() == "latest" or _VERSION_ALIAS.match(alias):
        raise InvalidInputError(
            f"alias {alias!r} is reserved (it reads as a version in models:/ URIs)"
        )
    return alias


class RegistryMethods:
    """Registered models, versions, aliases, stages, tags and the audit trail."""

    if TYPE_CHECKING:

        @property
        def _store(self) -> SqlStore: ...

    # -- plumbing -----------------------------------------------------------------------

    def _registry_read(self, fn: Callable[[sa.Connection], T]) -> T:
        store = self._store
        store.flush()
        with store.engine.connect() as conn:
            return fn(conn)

    def _registry_write(self, fn: Callable[[sa.Connection, Actor], T]) -> T:
        from nbtrack.registry._store import Actor

        actor = Actor(tracking.current_user())
        return self._store.writer.call(lambda conn: fn(conn, actor))

    # -- registered models --------------------------------------------------------------

    def create_registered_model(
        self, name: str, tags: Mapping[str, Any] | None = None, description: str | None = None
    ) -> RegisteredModel:
        """Create an empty registered model; an existing name is an error."""
        from nbtrack.registry import _edits, _store

        name = model_name(name)
        tag_items = _tag_items(tags)

        def create(conn: sa.Connection, actor: Actor) -> None:
            _pk, created = _store.ensure_model(conn, name, actor)
            if not created:
                raise InvalidInputError(
                    f"a registered model named {name!r} already exists; "
                    "register new versions with register_model"
                )
            for key, value in tag_items.items():
                _edits.set_model_tag(conn, name, key, value, actor)
            if description is not None:
                _edits.set_model_description(conn, name, description, actor)

        self._registry_write(create)
        return self.get_registered_model(name)

    def get_registered_model(self, name: str) -> RegisteredModel:
        """A registered model with its tags, aliases and latest version per stage."""
        from nbtrack.registry import _records, _store

        def get(conn: sa.Connection) -> RegisteredModel:
            pk = _store.model_pk(conn, name)
            rows = conn.execute(
                _store.models_t.select().where(_store.models_t.c.model_pk == pk)
            ).all()
            return _records.registered_models(conn, rows)[0]

        return self._registry_read(get)

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        """Change a registered model's description."""
        from nbtrack.registry import _edits

        self._registry_write(lambda c, a: _edits.set_model_description(c, name, description, a))
        return self.get_registered_model(name)

    def delete_registered_model(self, name: str) -> None:
        """Delete a model and all its versions (its history stays in the audit trail)."""
        from nbtrack.registry import _edits

        self._registry_write(lambda c, a: _edits.delete_model(c, name, a))

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int | None = 100,
        order_by: Sequence[str] | None = None,
    ) -> list[RegisteredModel]:
        """Registered models matching the filter (``name LIKE 'iris%'``, ``tags.team = 'x'``)."""
        from nbtrack.registry import _queries, _records

        def search(conn: sa.Connection) -> list[RegisteredModel]:
            query = _queries.models_query(filter_string, order_by, max_results)
            return _records.registered_models(conn, conn.execute(query).all())

        return self._registry_read(search)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        """Set a tag of a registered model."""
        from nbtrack.registry import _edits

        key, text = check.key(key, "tag name"), check.tag_value(key, value)
        self._registry_write(lambda c, a: _edits.set_model_tag(c, name, key, text, a))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Remove a tag of a registered model."""
        from nbtrack.registry import _edits

        self._registry_write(lambda c, a: _edits.delete_model_tag(c, name, key, a))

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
        from nbtrack.registry import _sources, _store

        name = model_name(name)
        tag_items = _tag_items(tags)
        files = _sources.version_source(self._store, str(source))

        def create(conn: sa.Connection, actor: Actor) -> int:
            return _store.create_version(
                conn,
                name,
                source=str(source),
                run_id=run_id or files.run_id,
                flavor=files.flavor,
                files=files.rows,
                tags=tag_items,
                description=description,
                actor=actor,
            )

        version = self._registry_write(create)
        return self.get_model_version(name, version)

    def register_model(
        self, model_uri: str, name: str, tags: Mapping[str, Any] | None = None
    ) -> ModelVersion:
        """Register the model at ``model_uri`` as a new version of ``name``."""
        return self.create_model_version(name, model_uri, tags=tags)

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """One version, with its tags, aliases and files (path -> sha256)."""
        from nbtrack.registry import _records, _store

        number = _store.parse_version(version)

        def get(conn: sa.Connection) -> ModelVersion:
            row = _store.version_row(conn, name, number)
            return _records.model_versions(conn, [row], with_files=True)[0]

        return self._registry_read(get)

    def update_model_version(
        self, name: str, version: int | str, description: str | None
    ) -> ModelVersion:
        """Change a version's description (its files never change)."""
        from nbtrack.registry import _edits, _store

        number = _store.parse_version(version)
        self._registry_write(
            lambda c, a: _edits.set_version_description(c, name, number, description, a)
        )
        return self.get_model_version(name, number)

    def delete_model_version(self, name: str, version: int | str) -> None:
        """Delete a version (its files go at the next ``nbtrack gc`` if nothing else uses them)."""
        from nbtrack.registry import _edits, _store

        number = _store.parse_version(version)
        self._registry_write(lambda c, a: _edits.delete_version(c, name, number, a))

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int | None = 1000,
        order_by: Sequence[str] | None = None,
    ) -> list[ModelVersion]:
        """Versions matching the filter (``name = 'iris' and run_id = '...'``), newest first."""
        from nbtrack.registry import _queries, _records

        def search(conn: sa.Connection) -> list[ModelVersion]:
            query = _queries.versions_query(filter_string, order_by, max_results)
            return _records.model_versions(conn, conn.execute(query).all())

        return self._registry_read(search)

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
        from nbtrack.registry import _store

        number, target = _store.parse_version(version), Stage.parse(stage)
        self._registry_write(
            lambda c, a: _store.transition_stage(
                c, name, number, target, archive_existing_versions, a
            )
        )
        return self.get_model_version(name, number)

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: Any) -> None:
        """Set a tag of a model version."""
        from nbtrack.registry import _edits, _store

        number = _store.parse_version(version)
        key, text = check.key(key, "tag name"), check.tag_value(key, value)
        self._registry_write(lambda c, a: _edits.set_version_tag(c, name, number, key, text, a))

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        """Remove a tag of a model version."""
        from nbtrack.registry import _edits, _store

        number = _store.parse_version(version)
        self._registry_write(lambda c, a: _edits.delete_version_tag(c, name, number, key, a))

    # -- aliases ------------------------------------------------------------------------

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        """Point ``alias`` (e.g. ``champion``) at a version; ``models:/NAME@ALIAS`` loads it."""
        from nbtrack.registry import _edits, _store

        alias, number = alias_name(alias), _store.parse_version(version)
        self._registry_write(lambda c, a: _edits.set_alias(c, name, alias, number, a))

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias."""
        from nbtrack.registry import _edits

        self._registry_write(lambda c, a: _edits.delete_alias(c, name, alias, a))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at."""
        from nbtrack.registry import _store

        version = self._registry_read(lambda conn: _store.alias_version(conn, name, alias))
        return self.get_model_version(name, version)

    # -- audit --------------------------------------------------------------------------

    def get_registry_history(
        self, name: str | None = None, max_results: int | None = None
    ) -> list[RegistryEvent]:
        """Registry changes, oldest first: of one model, or of all (the last ``max_results``)."""
        from nbtrack.registry import _store

        return self._registry_read(lambda conn: _store.events(conn, name, max_results))


class TrackingClient(tracking.TrackingClient, RegistryMethods):
    """Experiments, runs, artifacts and the model registry of one tracking store.

    ``nbtrack.TrackingClient`` and ``nbtrack.MlflowClient``: the tracking
    methods of :class:`nbtrack.client.TrackingClient` plus the registry's.
    """


def _tag_items(tags: Mapping[str, Any] | None) -> dict[str, str]:
    return {check.key(k, "tag name"): check.tag_value(k, v) for k, v in (tags or {}).items()}
