"""Registry changes other than new versions and stages: aliases, tags, descriptions, deletes.

Each function runs inside the caller's write transaction and records its
audit event there, with the value before and after; a change to the value
already there records nothing.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from nbtrack.exceptions import NotFoundError
from nbtrack.store import _dialect
from nbtrack.store.registry._rows import (
    Actor,
    alias_version,
    aliases_t,
    files_t,
    model_pk,
    model_tags_t,
    models_t,
    record,
    touch_model,
    touch_version,
    version_row,
    version_tags_t,
    versions_t,
)


def set_alias(conn: sa.Connection, name: str, alias: str, version: int, actor: Actor) -> None:
    """Point ``alias`` at ``version`` (moving it if it pointed elsewhere)."""
    row = version_row(conn, name, version)
    before = conn.execute(
        sa.select(aliases_t.c.version).where(
            aliases_t.c.model_pk == row.model_pk, aliases_t.c.alias == alias
        )
    ).scalar()
    if before == version:
        return
    conn.execute(
        _dialect.upsert(
            aliases_t, ["model_pk", "alias"], {"version": _dialect.excluded(aliases_t, "version")}
        ).values(model_pk=row.model_pk, alias=alias, version=version)
    )
    touch_model(conn, row.model_pk)
    record(
        conn,
        actor,
        name,
        "set_alias",
        version=version,
        key=alias,
        from_value=None if before is None else str(before),
        to_value=str(version),
        run_id=row.run_id,
    )


def delete_alias(conn: sa.Connection, name: str, alias: str, actor: Actor) -> None:
    """Remove an alias (an unknown alias is an error)."""
    version = alias_version(conn, name, alias)
    row = version_row(conn, name, version)
    pk = row.model_pk
    conn.execute(aliases_t.delete().where(aliases_t.c.model_pk == pk, aliases_t.c.alias == alias))
    touch_model(conn, pk)
    record(
        conn,
        actor,
        name,
        "delete_alias",
        version=version,
        key=alias,
        from_value=str(version),
        run_id=row.run_id,
    )


def set_model_tag(conn: sa.Connection, name: str, key: str, value: str, actor: Actor) -> None:
    """Set a tag of a registered model."""
    pk = model_pk(conn, name)
    _set_tag(conn, model_tags_t, {"model_pk": pk}, key, value, actor, name, None, None)
    touch_model(conn, pk)


def delete_model_tag(conn: sa.Connection, name: str, key: str, actor: Actor) -> None:
    """Remove a tag of a registered model."""
    pk = model_pk(conn, name)
    _delete_tag(conn, model_tags_t, {"model_pk": pk}, key, actor, name, None, None)
    touch_model(conn, pk)


def set_version_tag(
    conn: sa.Connection, name: str, version: int, key: str, value: str, actor: Actor
) -> None:
    """Set a tag of a model version."""
    row = version_row(conn, name, version)
    where = {"model_pk": row.model_pk, "version": version}
    _set_tag(conn, version_tags_t, where, key, value, actor, name, version, row.run_id)
    touch_version(conn, row.model_pk, version)


def delete_version_tag(
    conn: sa.Connection, name: str, version: int, key: str, actor: Actor
) -> None:
    """Remove a tag of a model version."""
    row = version_row(conn, name, version)
    where = {"model_pk": row.model_pk, "version": version}
    _delete_tag(conn, version_tags_t, where, key, actor, name, version, row.run_id)
    touch_version(conn, row.model_pk, version)


def _set_tag(
    conn: sa.Connection,
    table: sa.Table,
    where: dict[str, Any],
    key: str,
    value: str,
    actor: Actor,
    name: str,
    version: int | None,
    run_id: str | None,
) -> None:
    match = [table.c[k] == v for k, v in where.items()] + [table.c.key == key]
    before = conn.execute(sa.select(table.c.value).where(*match)).scalar()
    if before == value:
        return
    conn.execute(
        _dialect.upsert(
            table, [*where, "key"], {"value": _dialect.excluded(table, "value")}
        ).values(**where, key=key, value=value)
    )
    record(
        conn,
        actor,
        name,
        "set_tag",
        version=version,
        key=key,
        from_value=before,
        to_value=value,
        run_id=run_id,
    )


def _delete_tag(
    conn: sa.Connection,
    table: sa.Table,
    where: dict[str, Any],
    key: str,
    actor: Actor,
    name: str,
    version: int | None,
    run_id: str | None,
) -> None:
    match = [table.c[k] == v for k, v in where.items()] + [table.c.key == key]
    before = conn.execute(sa.select(table.c.value).where(*match)).scalar()
    if before is None:
        what = f"version {version} of model {name!r}" if version else f"model {name!r}"
        raise NotFoundError(f"{what} has no tag {key!r}")
    conn.execute(table.delete().where(*match))
    record(
        conn,
        actor,
        name,
        "delete_tag",
        version=version,
        key=key,
        from_value=before,
        run_id=run_id,
    )


def set_model_description(
    conn: sa.Connection, name: str, description: str | None, actor: Actor
) -> None:
    """Change a registered model's description."""
    pk = model_pk(conn, name)
    before = conn.execute(
        sa.select(models_t.c.description).where(models_t.c.model_pk == pk)
    ).scalar()
    if before == description:
        return
    conn.execute(models_t.update().where(models_t.c.model_pk == pk).values(description=description))
    touch_model(conn, pk)
    record(conn, actor, name, "set_description", from_value=before, to_value=description)


def set_version_description(
    conn: sa.Connection, name: str, version: int, description: str | None, actor: Actor
) -> None:
    """Change a model version's description."""
    row = version_row(conn, name, version)
    if row.description == description:
        return
    conn.execute(
        versions_t.update()
        .where(versions_t.c.model_pk == row.model_pk, versions_t.c.version == version)
        .values(description=description)
    )
    touch_version(conn, row.model_pk, version)
    record(
        conn,
        actor,
        name,
        "set_description",
        version=version,
        from_value=row.description,
        to_value=description,
        run_id=row.run_id,
    )


def delete_version(conn: sa.Connection, name: str, version: int, actor: Actor) -> None:
    """Delete a version, its tags, files and aliases (its blobs go at the next gc)."""
    row = version_row(conn, name, version)
    pk = row.model_pk
    for table in (version_tags_t, files_t, aliases_t):
        conn.execute(table.delete().where(table.c.model_pk == pk, table.c.version == version))
    conn.execute(
        versions_t.delete().where(versions_t.c.model_pk == pk, versions_t.c.version == version)
    )
    touch_model(conn, pk)
    record(
        conn,
        actor,
        name,
        "delete_version",
        version=version,
        from_value=row.current_stage,
        run_id=row.run_id,
    )


def delete_model(conn: sa.Connection, name: str, actor: Actor) -> None:
    """Delete a registered model with all its versions (the audit trail stays)."""
    pk = model_pk(conn, name)
    count = conn.execute(
        sa.select(sa.func.count()).select_from(versions_t).where(versions_t.c.model_pk == pk)
    ).scalar()
    for table in (version_tags_t, files_t, aliases_t, versions_t, model_tags_t):
        conn.execute(table.delete().where(table.c.model_pk == pk))
    conn.execute(models_t.delete().where(models_t.c.model_pk == pk))
    record(conn, actor, name, "delete_model", from_value=f"{count} version(s)")
