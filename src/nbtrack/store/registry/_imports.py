"""Registry rows made elsewhere (an MLflow registry), keeping their names, numbers and times.

A new version normally takes the next number, "now" and files that passed
nbtrack's model checks; an imported version keeps its number (gaps left by
deleted versions stay gaps), times and stage, and holds the source's files
as blobs: it is never loaded here. :func:`import_model` writes one model in
the caller's write transaction and records its audit events there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from nbtrack.store.registry._edits import set_alias, set_model_tag
from nbtrack.store.registry._rows import Actor, models_t, record, versions_t
from nbtrack.store.registry._versions import ensure_model, insert_version_rows


@dataclass(frozen=True)
class ImportedVersion:
    """A model version as the source registry describes it, with its files stored as blobs."""

    version: int
    creation_time: int
    last_updated_time: int
    description: str | None
    user_id: str
    current_stage: str
    source: str
    run_id: str | None
    status: str
    files: list[tuple[str, str, int]]
    tags: dict[str, str]
    #: nbtrack's flavor name when the files are an nbtrack model, else None.
    flavor: str | None = None


@dataclass(frozen=True)
class ImportedModel:
    """A registered model as the source registry describes it, with the versions to add.

    ``versions`` must not exist here yet; ``aliases`` are ``(alias, version)``
    pairs, pointed (or moved) whether their version is new or was there.
    """

    name: str
    creation_time: int
    last_updated_time: int
    description: str | None
    tags: dict[str, str] = field(default_factory=dict)
    versions: list[ImportedVersion] = field(default_factory=list)
    aliases: list[tuple[str, int]] = field(default_factory=list)


def has_version(conn: sa.Connection, name: str, version: int) -> bool:
    """Whether ``name`` already has version ``version``."""
    found = conn.execute(
        sa.select(versions_t.c.version)
        .join(models_t, models_t.c.model_pk == versions_t.c.model_pk)
        .where(models_t.c.name == name, versions_t.c.version == version)
    ).first()
    return found is not None


def import_model(conn: sa.Connection, model: ImportedModel, actor: Actor) -> bool:
    """Write ``model``: created with the source's time if missing, tags, new versions, aliases.

    Tags and aliases already as the source has them record nothing. The model
    ends with the source's last-update time. Returns whether it was created.
    """
    name = model.name
    pk, created = ensure_model(
        conn,
        name,
        actor,
        creation_time=model.creation_time,
        description=model.description,
    )
    for key, value in model.tags.items():
        set_model_tag(conn, name, key, value, actor)
    for mv in model.versions:
        _insert_version(conn, pk, name, mv, actor)
    for alias, version in model.aliases:
        set_alias(conn, name, alias, version, actor)
    conn.execute(
        models_t.update()
        .where(models_t.c.model_pk == pk)
        .values(last_updated_time=model.last_updated_time)
    )
    return created


def _insert_version(
    conn: sa.Connection, pk: int, name: str, mv: ImportedVersion, actor: Actor
) -> None:
    conn.execute(
        versions_t.insert().values(
            model_pk=pk,
            version=mv.version,
            creation_time=mv.creation_time,
            last_updated_time=mv.last_updated_time,
            description=mv.description,
            user_id=mv.user_id,
            current_stage=mv.current_stage,
            source=mv.source,
            run_id=mv.run_id,
            flavor=mv.flavor,
            status=mv.status,
        )
    )
    insert_version_rows(conn, pk, mv.version, mv.files, mv.tags)
    record(
        conn,
        actor,
        name,
        "create_version",
        version=mv.version,
        to_value=mv.source,
        run_id=mv.run_id,
    )
