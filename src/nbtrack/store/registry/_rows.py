"""Registry lookups and the audit trail, inside the caller's connection or transaction.

Every lookup that misses raises :class:`NotFoundError` naming what exists
(the known models, a model's version range, its aliases), so a typo in a
``models:/`` URI or a client call says what to write instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from nbtrack.entities import Stage
from nbtrack.exceptions import NotFoundError
from nbtrack.store import _liveness, schema

models_t = schema.registered_models
versions_t = schema.model_versions
files_t = schema.model_version_files
aliases_t = schema.model_aliases
model_tags_t = schema.registered_model_tags
version_tags_t = schema.model_version_tags
events_t = schema.registry_events


@dataclass(frozen=True)
class Actor:
    """Who makes a registry change, for the audit trail."""

    user_id: str
    host: str = _liveness.HOST


def record(
    conn: sa.Connection,
    actor: Actor,
    name: str,
    action: str,
    *,
    version: int | None = None,
    key: str | None = None,
    from_value: str | None = None,
    to_value: str | None = None,
    run_id: str | None = None,
) -> None:
    """Append an audit event (inside the caller's transaction)."""
    conn.execute(
        events_t.insert().values(
            time=_liveness.now_ms(),
            model_name=name,
            version=version,
            action=action,
            key=key,
            from_value=from_value,
            to_value=to_value,
            user_id=actor.user_id,
            host=actor.host,
            run_id=run_id,
        )
    )


def find_model_pk(conn: sa.Connection, name: str, *, lock: bool = False) -> int | None:
    """The key of a registered model, or None.

    ``lock``: hold the model's row until the transaction ends (``FOR UPDATE``
    where the backend has it; SQLite's write transaction already excludes
    every other writer), so concurrent new versions of one model queue up.
    """
    query = sa.select(models_t.c.model_pk).where(models_t.c.name == name)
    if lock:
        query = query.with_for_update()
    pk = conn.execute(query).scalar()
    return None if pk is None else int(pk)


def model_pk(conn: sa.Connection, name: str, *, lock: bool = False) -> int:
    """The key of a registered model; :class:`NotFoundError` naming the known ones."""
    pk = find_model_pk(conn, name, lock=lock)
    if pk is None:
        known = conn.execute(sa.select(models_t.c.name).order_by(models_t.c.name).limit(10))
        names = ", ".join(repr(n) for n in known.scalars()) or "none yet"
        raise NotFoundError(f"no registered model named {name!r} (known: {names})")
    return pk


def max_version(conn: sa.Connection, pk: int, stage: Stage | None = None) -> int | None:
    """The highest version of a model (in ``stage`` if given), or None."""
    query = sa.select(sa.func.max(versions_t.c.version)).where(versions_t.c.model_pk == pk)
    if stage is not None:
        query = query.where(versions_t.c.current_stage == stage.value)
    found = conn.execute(query).scalar()
    return None if found is None else int(found)


def version_row(conn: sa.Connection, name: str, version: int) -> Any:
    """The ``model_versions`` row of ``name`` version ``version``."""
    pk = model_pk(conn, name)
    row = conn.execute(
        sa.select(versions_t).where(versions_t.c.model_pk == pk, versions_t.c.version == version)
    ).first()
    if row is None:
        latest = max_version(conn, pk)
        hint = f"its versions are 1 to {latest}" if latest else "it has no versions"
        raise NotFoundError(f"model {name!r} has no version {version} ({hint})")
    return row


def latest_version(conn: sa.Connection, name: str, stage: Stage | None = None) -> int:
    """The highest version of ``name`` (in ``stage`` if given)."""
    found = max_version(conn, model_pk(conn, name), stage)
    if found is None:
        if stage is not None:
            raise NotFoundError(f"model {name!r} has no version in stage {stage.value!r}")
        raise NotFoundError(f"model {name!r} has no versions yet")
    return found


def alias_version(conn: sa.Connection, name: str, alias: str) -> int:
    """The version an alias points at."""
    pk = model_pk(conn, name)
    found = conn.execute(
        sa.select(aliases_t.c.version).where(aliases_t.c.model_pk == pk, aliases_t.c.alias == alias)
    ).scalar()
    if found is None:
        known = conn.execute(
            sa.select(aliases_t.c.alias)
            .where(aliases_t.c.model_pk == pk)
            .order_by(aliases_t.c.alias)
        )
        names = ", ".join(repr(a) for a in known.scalars()) or "none"
        raise NotFoundError(f"model {name!r} has no alias {alias!r} (its aliases: {names})")
    return int(found)


def version_files(conn: sa.Connection, pk: int, version: int) -> list[tuple[str, str, int]]:
    """``(path, sha256, size)`` of a version's files, by path."""
    return [
        (r.path, r.sha256, r.size)
        for r in conn.execute(
            sa.select(files_t.c.path, files_t.c.sha256, files_t.c.size)
            .where(files_t.c.model_pk == pk, files_t.c.version == version)
            .order_by(files_t.c.path)
        )
    ]


def touch_model(conn: sa.Connection, pk: int) -> None:
    """Set the model's ``last_updated_time`` to now."""
    conn.execute(
        models_t.update()
        .where(models_t.c.model_pk == pk)
        .values(last_updated_time=_liveness.now_ms())
    )


def touch_version(conn: sa.Connection, pk: int, version: int) -> None:
    """Set a version's (and its model's) ``last_updated_time`` to now."""
    conn.execute(
        versions_t.update()
        .where(versions_t.c.model_pk == pk, versions_t.c.version == version)
        .values(last_updated_time=_liveness.now_ms())
    )
    touch_model(conn, pk)
