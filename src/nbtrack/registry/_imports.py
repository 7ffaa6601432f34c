"""Registry rows made elsewhere (an MLflow registry), keeping their names, numbers and times.

A new version normally takes the next number, "now" and files that passed
nbtrack's model checks (:mod:`._sources`); an imported version keeps its
number (gaps left by deleted versions stay gaps), times and stage, and holds
the source's files as bytes: it is never loaded here. Each function runs in
the caller's write transaction and records its audit events there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from nbtrack.registry._edits import set_alias, set_model_tag, set_version_tag
from nbtrack.registry._store import (
    Actor,
    files_t,
    models_t,
    record,
    version_tags_t,
    versions_t,
)


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


def ensure_model(
    conn: sa.Connection,
    name: str,
    *,
    creation_time: int,
    description: str | None,
    tags: dict[str, str],
    actor: Actor,
) -> bool:
    """Create the registered model with the source's creation time if missing; set its tags.

    Returns whether it was created.
    """
    exists = conn.execute(sa.select(models_t.c.model_pk).where(models_t.c.name == name)).first()
    if exists is None:
        conn.execute(
            models_t.insert().values(
                name=name,
                creation_time=creation_time,
                last_updated_time=creation_time,
                description=description,
            )
        )
        record(conn, actor, name, "create_model")
    for key, value in tags.items():
        set_model_tag(conn, name, key, value, actor)
    return exists is None


def has_version(conn: sa.Connection, name: str, version: int) -> bool:
    """Whether ``name`` already has version ``version``."""
    return (
        conn.execute(
            sa.select(versions_t.c.version)
            .join(models_t, models_t.c.model_pk == versions_t.c.model_pk)
            .where(models_t.c.name == name, versions_t.c.version == version)
        ).first()
        is not None
    )


def insert_version(conn: sa.Connection, name: str, mv: ImportedVersion, actor: Actor) -> None:
    """Insert version ``mv.version`` of ``name`` (the model must exist, the version must not)."""
    pk = conn.execute(sa.select(models_t.c.model_pk).where(models_t.c.name == name)).scalar_one()
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
    if mv.files:
        conn.execute(
            files_t.insert(),
            [
                {"model_pk": pk, "version": mv.version, "path": p, "sha256": s, "size": n}
                for p, s, n in mv.files
            ],
        )
    if mv.tags:
        conn.execute(
            version_tags_t.insert(),
            [
                {"model_pk": pk, "version": mv.version, "key": k, "value": v}
                for k, v in mv.tags.items()
            ],
        )
    record(
        conn,
        actor,
        name,
        "create_version",
        version=mv.version,
        to_value=mv.source,
        run_id=mv.run_id,
    )


def sync_version_tags(
    conn: sa.Connection, name: str, version: int, tags: dict[str, str], actor: Actor
) -> None:
    """Set the source's tags on an existing version (unchanged tags record nothing)."""
    for key, value in tags.items():
        set_version_tag(conn, name, version, key, value, actor)


def set_aliases(
    conn: sa.Connection, name: str, aliases: Iterable[tuple[str, int]], actor: Actor
) -> None:
    """Point each alias at its version (an alias already there records nothing)."""
    for alias, version in aliases:
        set_alias(conn, name, alias, version, actor)


def set_model_times(conn: sa.Connection, name: str, last_updated_time: int) -> None:
    """Give the model the source's last-update time (edits above set "now")."""
    conn.execute(
        models_t.update().where(models_t.c.name == name).values(last_updated_time=last_updated_time)
    )
