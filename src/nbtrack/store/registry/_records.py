"""Registry rows to entities: models with tags, aliases and latest versions; versions; events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from nbtrack.entities import ModelVersion, RegisteredModel, RegistryEvent
from nbtrack.store.registry._rows import (
    aliases_t,
    events_t,
    files_t,
    model_tags_t,
    models_t,
    version_tags_t,
    versions_t,
)


def registered_models(conn: sa.Connection, rows: Sequence[Any]) -> list[RegisteredModel]:
    """Entities for ``registered_models`` rows, with tags, aliases and latest versions."""
    pks = [r.model_pk for r in rows]
    tags: dict[int, dict[str, str]] = {pk: {} for pk in pks}
    for pk, key, value in conn.execute(
        sa.select(model_tags_t).where(model_tags_t.c.model_pk.in_(pks))
    ):
        tags[pk][key] = value
    aliases: dict[int, dict[str, str]] = {pk: {} for pk in pks}
    for pk, alias, version in conn.execute(
        sa.select(aliases_t).where(aliases_t.c.model_pk.in_(pks)).order_by(aliases_t.c.alias)
    ):
        aliases[pk][alias] = str(version)
    latest = sa.select(
        versions_t.c.model_pk,
        versions_t.c.current_stage,
        sa.func.max(versions_t.c.version).label("version"),
    ).where(versions_t.c.model_pk.in_(pks))
    latest = latest.group_by(versions_t.c.model_pk, versions_t.c.current_stage)
    wanted = {(r.model_pk, r.version) for r in conn.execute(latest)}
    version_rows = [
        v
        for v in conn.execute(sa.select(versions_t).where(versions_t.c.model_pk.in_(pks)))
        if (v.model_pk, v.version) in wanted
    ]
    names = {r.model_pk: r.name for r in rows}
    by_model: dict[int, list[ModelVersion]] = {pk: [] for pk in pks}
    for entity, row in zip(model_versions(conn, version_rows, names), version_rows, strict=True):
        by_model[row.model_pk].append(entity)
    return [
        RegisteredModel(
            name=r.name,
            creation_timestamp=r.creation_time,
            last_updated_timestamp=r.last_updated_time,
            description=r.description,
            tags=tags[r.model_pk],
            aliases=aliases[r.model_pk],
            latest_versions=sorted(by_model[r.model_pk], key=lambda v: int(v.version)),
        )
        for r in rows
    ]


def model_versions(
    conn: sa.Connection,
    rows: Sequence[Any],
    names: dict[int, str] | None = None,
    *,
    with_files: bool = False,
) -> list[ModelVersion]:
    """Entities for ``model_versions`` rows, with tags and aliases (and files)."""
    if not rows:
        return []
    pks = {r.model_pk for r in rows}
    if names is None:
        names = dict(
            conn.execute(
                sa.select(models_t.c.model_pk, models_t.c.name).where(models_t.c.model_pk.in_(pks))
            ).all()
        )
    tags: dict[tuple[int, int], dict[str, str]] = {}
    for pk, version, key, value in conn.execute(
        sa.select(version_tags_t).where(version_tags_t.c.model_pk.in_(pks))
    ):
        tags.setdefault((pk, version), {})[key] = value
    aliases: dict[tuple[int, int], list[str]] = {}
    for pk, alias, version in conn.execute(
        sa.select(aliases_t).where(aliases_t.c.model_pk.in_(pks)).order_by(aliases_t.c.alias)
    ):
        aliases.setdefault((pk, version), []).append(alias)
    files: dict[tuple[int, int], dict[str, str]] = {}
    if with_files:
        for pk, version, path, sha, _size in conn.execute(
            sa.select(files_t).where(files_t.c.model_pk.in_(pks)).order_by(files_t.c.path)
        ):
            files.setdefault((pk, version), {})[path] = sha
    return [
        ModelVersion(
            name=names[r.model_pk],
            version=int(r.version),
            creation_timestamp=r.creation_time,
            last_updated_timestamp=r.last_updated_time,
            current_stage=r.current_stage,
            source=r.source,
            run_id=r.run_id,
            status=r.status,
            description=r.description,
            user_id=r.user_id,
            flavor=r.flavor,
            tags=tags.get((r.model_pk, r.version), {}),
            aliases=aliases.get((r.model_pk, r.version), []),
            files=files.get((r.model_pk, r.version), {}),
        )
        for r in rows
    ]


def events(conn: sa.Connection, name: str | None, limit: int | None) -> list[RegistryEvent]:
    """Audit events, oldest first (of one model, or all; the last ``limit``)."""
    query = sa.select(events_t).order_by(events_t.c.event_id.desc())
    if name is not None:
        query = query.where(events_t.c.model_name == name)
    if limit is not None:
        query = query.limit(limit)
    rows = list(conn.execute(query))[::-1]
    return [
        RegistryEvent(
            event_id=r.event_id,
            timestamp=r.time,
            name=r.model_name,
            version=None if r.version is None else str(r.version),
            action=r.action,
            key=r.key,
            from_value=r.from_value,
            to_value=r.to_value,
            user_id=r.user_id,
            host=r.host,
            run_id=r.run_id,
        )
        for r in rows
    ]
