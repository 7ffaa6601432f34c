"""The registry's side of a tracking store: every registry read and write, one call each.

:class:`RegistryStore` is what :mod:`nbtrack.registry` calls (as
``SqlStore.registry``). Each write runs on the store's background writer in
one write transaction together with its audit events, so a change and its
history land together or not at all; each read sees everything this process
wrote before it. Inputs are trusted: names, aliases, tags and versions are
checked one layer up, in :mod:`nbtrack.registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import sqlalchemy as sa

from nbtrack.entities import ModelVersion, RegisteredModel, RegistryEvent, Stage
from nbtrack.exceptions import InvalidInputError
from nbtrack.store.registry import _edits, _imports, _queries, _records, _rows, _versions
from nbtrack.store.registry._imports import ImportedModel
from nbtrack.store.registry._rows import Actor

if TYPE_CHECKING:
    from nbtrack.store.sql_store import SqlStore

T = TypeVar("T")
FileRow = tuple[str, str, int]


@dataclass(frozen=True)
class StoredFiles:
    """Where a registered version's files are: ``(path, sha256, size)`` rows and its run."""

    name: str
    version: int
    rows: list[FileRow]
    run_id: str | None


class RegistryStore:
    """Registered models, versions, aliases, stages, tags and the audit trail of one store."""

    def __init__(self, store: SqlStore) -> None:
        """The registry of ``store`` (cheap: it holds no connection of its own)."""
        self._store = store

    def _read(self, fn: Callable[[sa.Connection], T]) -> T:
        self._store.flush()
        with self._store.engine.connect() as conn:
            return fn(conn)

    def _write(self, fn: Callable[[sa.Connection], T]) -> T:
        return self._store.writer.call(fn)

    # -- registered models --------------------------------------------------------------

    def create_model(
        self, name: str, tags: dict[str, str], description: str | None, actor: Actor
    ) -> None:
        """Create an empty registered model with tags and a description; an existing name fails."""

        def create(conn: sa.Connection) -> None:
            _pk, created = _versions.ensure_model(conn, name, actor)
            if not created:
                raise InvalidInputError(
                    f"a registered model named {name!r} already exists; "
                    "register new versions with register_model"
                )
            for key, value in tags.items():
                _edits.set_model_tag(conn, name, key, value, actor)
            if description is not None:
                _edits.set_model_description(conn, name, description, actor)

        self._write(create)

    def get_model(self, name: str) -> RegisteredModel:
        """A registered model with its tags, aliases and latest version per stage."""

        def get(conn: sa.Connection) -> RegisteredModel:
            pk = _rows.model_pk(conn, name)
            rows = conn.execute(
                sa.select(_rows.models_t).where(_rows.models_t.c.model_pk == pk)
            ).all()
            return _records.registered_models(conn, rows)[0]

        return self._read(get)

    def search_models(
        self, filter_string: str | None, order_by: Sequence[str] | None, max_results: int | None
    ) -> list[RegisteredModel]:
        """Registered models matching a filter of :mod:`._filter`'s grammar, by name by default."""

        def search(conn: sa.Connection) -> list[RegisteredModel]:
            query = _queries.models_query(filter_string, order_by, max_results)
            return _records.registered_models(conn, conn.execute(query).all())

        return self._read(search)

    def set_model_description(self, name: str, description: str | None, actor: Actor) -> None:
        """Change a registered model's description."""
        self._write(lambda c: _edits.set_model_description(c, name, description, actor))

    def delete_model(self, name: str, actor: Actor) -> None:
        """Delete a model with all its versions (its audit trail stays)."""
        self._write(lambda c: _edits.delete_model(c, name, actor))

    def set_model_tag(self, name: str, key: str, value: str, actor: Actor) -> None:
        """Set a tag of a registered model."""
        self._write(lambda c: _edits.set_model_tag(c, name, key, value, actor))

    def delete_model_tag(self, name: str, key: str, actor: Actor) -> None:
        """Remove a tag of a registered model (an unknown tag is an error)."""
        self._write(lambda c: _edits.delete_model_tag(c, name, key, actor))

    # -- versions -----------------------------------------------------------------------

    def create_version(
        self,
        name: str,
        *,
        source: str,
        run_id: str | None,
        flavor: str | None,
        files: Iterable[FileRow],
        tags: dict[str, str],
        description: str | None,
        actor: Actor,
    ) -> int:
        """Add the next version of ``name`` (the model is created if needed); returns its number.

        Two processes adding versions of one model at once get consecutive numbers.
        """
        rows = list(files)
        return self._write(
            lambda c: _versions.create_version(
                c,
                name,
                source=source,
                run_id=run_id,
                flavor=flavor,
                files=rows,
                tags=tags,
                description=description,
                actor=actor,
            )
        )

    def get_version(self, name: str, version: int) -> ModelVersion:
        """One version with its tags, aliases and files (path -> sha256)."""

        def get(conn: sa.Connection) -> ModelVersion:
            row = _rows.version_row(conn, name, version)
            return _records.model_versions(conn, [row], with_files=True)[0]

        return self._read(get)

    def search_versions(
        self, filter_string: str | None, order_by: Sequence[str] | None, max_results: int | None
    ) -> list[ModelVersion]:
        """Versions matching a filter of :mod:`._filter`'s grammar, newest first by default."""

        def search(conn: sa.Connection) -> list[ModelVersion]:
            query = _queries.versions_query(filter_string, order_by, max_results)
            return _records.model_versions(conn, conn.execute(query).all())

        return self._read(search)

    def has_version(self, name: str, version: int) -> bool:
        """Whether ``name`` exists and has version ``version``."""
        return self._read(lambda c: _imports.has_version(c, name, version))

    def version_files(self, name: str, version: int) -> StoredFiles:
        """The stored files of a version and its source run."""

        def get(conn: sa.Connection) -> StoredFiles:
            row = _rows.version_row(conn, name, version)
            rows = _rows.version_files(conn, row.model_pk, version)
            return StoredFiles(name, version, rows, row.run_id)

        return self._read(get)

    def latest_version(self, name: str, stage: Stage | None = None) -> int:
        """The highest version of ``name`` (in ``stage`` if given); NotFoundError if none."""
        return self._read(lambda c: _rows.latest_version(c, name, stage))

    def set_version_description(
        self, name: str, version: int, description: str | None, actor: Actor
    ) -> None:
        """Change a version's description (its files never change)."""
        self._write(lambda c: _edits.set_version_description(c, name, version, description, actor))

    def delete_version(self, name: str, version: int, actor: Actor) -> None:
        """Delete a version with its tags, files and aliases (its blobs go at the next gc)."""
        self._write(lambda c: _edits.delete_version(c, name, version, actor))

    def transition_stage(
        self, name: str, version: int, stage: Stage, archive_existing_versions: bool, actor: Actor
    ) -> None:
        """Move a version to ``stage``; optionally archive the others in that stage."""
        self._write(
            lambda c: _versions.transition_stage(
                c, name, version, stage, archive_existing_versions, actor
            )
        )

    def set_version_tag(self, name: str, version: int, key: str, value: str, actor: Actor) -> None:
        """Set a tag of a model version."""
        self._write(lambda c: _edits.set_version_tag(c, name, version, key, value, actor))

    def delete_version_tag(self, name: str, version: int, key: str, actor: Actor) -> None:
        """Remove a tag of a model version (an unknown tag is an error)."""
        self._write(lambda c: _edits.delete_version_tag(c, name, version, key, actor))

    # -- aliases ------------------------------------------------------------------------

    def set_alias(self, name: str, alias: str, version: int, actor: Actor) -> None:
        """Point ``alias`` at ``version`` (moving it if it pointed elsewhere)."""
        self._write(lambda c: _edits.set_alias(c, name, alias, version, actor))

    def delete_alias(self, name: str, alias: str, actor: Actor) -> None:
        """Remove an alias (an unknown alias is an error)."""
        self._write(lambda c: _edits.delete_alias(c, name, alias, actor))

    def alias_version(self, name: str, alias: str) -> int:
        """The version an alias points at."""
        return self._read(lambda c: _rows.alias_version(c, name, alias))

    # -- audit and imports --------------------------------------------------------------

    def events(self, name: str | None = None, limit: int | None = None) -> list[RegistryEvent]:
        """Registry changes, oldest first: of one model, or of all (the last ``limit``)."""
        return self._read(lambda c: _records.events(c, name, limit))

    def import_model(self, model: ImportedModel, actor: Actor) -> bool:
        """Write a model from another registry in one transaction; returns whether it was new."""
        return self._write(lambda c: _imports.import_model(c, model, actor))
