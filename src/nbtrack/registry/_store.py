"""Registry reads and writes on a tracking store's database (SQLAlchemy Core).

Every write runs on the store's background writer (``writer.call``), in one
``BEGIN IMMEDIATE`` transaction together with its audit event, so two
processes registering the same name get consecutive, distinct versions: the
second waits for the first's commit, then reads the new highest version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from nbtrack.exceptions import InvalidInputError, NotFoundError
from nbtrack.registry._entities import RegistryEvent, Stage
from nbtrack.store import _dialect, _liveness, schema

if TYPE_CHECKING:
    from nbtrack.store.sql_store import SqlStore

T = TypeVar("T")

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


def write(store: SqlStore, fn: Callable[[sa.Connection], T]) -> T:
    """Run ``fn`` in one write transaction on the store's writer thread."""
    return store.writer.call(fn)


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


# -- lookups ---------------------------------------------------------------------------


def model_pk(conn: sa.Connection, name: str) -> int:
    """The key of a registered model; :class:`NotFoundError` naming the known ones."""
    pk = conn.execute(sa.select(models_t.c.model_pk).where(models_t.c.name == name)).scalar()
    if pk is None:
        known = conn.execute(sa.select(models_t.c.name).order_by(models_t.c.name).limit(10))
        names = ", ".join(repr(n) for n in known.scalars()) or "none yet"
        raise NotFoundError(f"no registered model named {name!r} (known: {names})")
    return int(pk)


def version_row(conn: sa.Connection, name: str, version: int) -> Any:
    """The ``model_versions`` row of ``name`` version ``version``."""
    pk = model_pk(conn, name)
    row = conn.execute(
        sa.select(versions_t).where(versions_t.c.model_pk == pk, versions_t.c.version == version)
    ).first()
    if row is None:
        latest = conn.execute(
            sa.select(sa.func.max(versions_t.c.version)).where(versions_t.c.model_pk == pk)
        ).scalar()
        hint = f"its versions are 1 to {latest}" if latest else "it has no versions"
        raise NotFoundError(f"model {name!r} has no version {version} ({hint})")
    return row


def parse_version(version: int | str) -> int:
    """A version number from ``3`` or ``'3'``."""
    try:
        number = int(str(version).strip())
    except ValueError:
        number = 0
    if number < 1:
        raise InvalidInputError(f"model version {version!r} is not a version number (1, 2, ...)")
    return number


# -- registered models -----------------------------------------------------------------


def ensure_model(conn: sa.Connection, name: str, actor: Actor) -> tuple[int, bool]:
    """The model's key, creating the model (and its audit event) if needed."""
    now = _liveness.now_ms()
    inserted = conn.execute(
        _dialect.upsert(models_t, ["name"]).values(
            name=name, creation_time=now, last_updated_time=now, description=None
        )
    ).rowcount
    if inserted:
        record(conn, actor, name, "create_model")
    return model_pk(conn, name), bool(inserted)


def touch_model(conn: sa.Connection, pk: int) -> None:
    """Set the model's ``last_updated_time`` to now."""
    conn.execute(
        models_t.update()
        .where(models_t.c.model_pk == pk)
        .values(last_updated_time=_liveness.now_ms())
    )


# -- versions --------------------------------------------------------------------------


def create_version(
    conn: sa.Connection,
    name: str,
    *,
    source: str,
    run_id: str | None,
    flavor: str | None,
    files: Iterable[tuple[str, str, int]],
    tags: dict[str, str],
    description: str | None,
    actor: Actor,
) -> int:
    """Insert the next version of ``name`` (created if needed) with its files; returns it."""
    pk, _created = ensure_model(conn, name, actor)
    number = (
        conn.execute(
            sa.select(sa.func.max(versions_t.c.version)).where(versions_t.c.model_pk == pk)
        ).scalar()
        or 0
    ) + 1
    now = _liveness.now_ms()
    conn.execute(
        versions_t.insert().values(
            model_pk=pk,
            version=number,
            creation_time=now,
            last_updated_time=now,
            description=description,
            user_id=actor.user_id,
            current_stage=Stage.NONE.value,
            source=source,
            run_id=run_id,
            flavor=flavor,
            status="READY",
        )
    )
    file_rows = [
        {"model_pk": pk, "version": number, "path": p, "sha256": s, "size": n} for p, s, n in files
    ]
    if file_rows:
        conn.execute(files_t.insert(), file_rows)
    if tags:
        conn.execute(
            version_tags_t.insert(),
            [{"model_pk": pk, "version": number, "key": k, "value": v} for k, v in tags.items()],
        )
    touch_model(conn, pk)
    record(conn, actor, name, "create_version", version=number, to_value=source, run_id=run_id)
    return number


def version_files(conn: sa.Connection, name: str, version: int) -> list[tuple[str, str, int]]:
    """``(path, sha256, size)`` of a version's files."""
    row = version_row(conn, name, version)
    return [
        (r.path, r.sha256, r.size)
        for r in conn.execute(
            sa.select(files_t.c.path, files_t.c.sha256, files_t.c.size)
            .where(files_t.c.model_pk == row.model_pk, files_t.c.version == version)
            .order_by(files_t.c.path)
        )
    ]


def transition_stage(
    conn: sa.Connection,
    name: str,
    version: int,
    stage: Stage,
    archive_existing_versions: bool,
    actor: Actor,
) -> None:
    """Move a version to ``stage``; optionally archive the others in that stage."""
    row = version_row(conn, name, version)
    if archive_existing_versions and stage in (Stage.STAGING, Stage.PRODUCTION):
        others = conn.execute(
            sa.select(versions_t.c.version, versions_t.c.run_id).where(
                versions_t.c.model_pk == row.model_pk,
                versions_t.c.current_stage == stage.value,
                versions_t.c.version != version,
            )
        ).all()
        for other, other_run in others:
            _set_stage(conn, row.model_pk, other, Stage.ARCHIVED)
            record(
                conn,
                actor,
                name,
                "transition_stage",
                version=other,
                from_value=stage.value,
                to_value=Stage.ARCHIVED.value,
                run_id=other_run,
            )
    if row.current_stage != stage.value:
        _set_stage(conn, row.model_pk, version, stage)
        record(
            conn,
            actor,
            name,
            "transition_stage",
            version=version,
            from_value=row.current_stage,
            to_value=stage.value,
            run_id=row.run_id,
        )
    touch_model(conn, row.model_pk)


def _set_stage(conn: sa.Connection, pk: int, version: int, stage: Stage) -> None:
    conn.execute(
        versions_t.update()
        .where(versions_t.c.model_pk == pk, versions_t.c.version == version)
        .values(current_stage=stage.value, last_updated_time=_liveness.now_ms())
    )


def latest_in_stage(conn: sa.Connection, name: str, stage: Stage) -> int:
    """The highest version of ``name`` in ``stage``."""
    pk = model_pk(conn, name)
    found = conn.execute(
        sa.select(sa.func.max(versions_t.c.version)).where(
            versions_t.c.model_pk == pk, versions_t.c.current_stage == stage.value
        )
    ).scalar()
    if found is None:
        raise NotFoundError(f"model {name!r} has no version in stage {stage.value!r}")
    return int(found)


def latest_version(conn: sa.Connection, name: str) -> int:
    """The highest version of ``name``."""
    pk = model_pk(conn, name)
    found = conn.execute(
        sa.select(sa.func.max(versions_t.c.version)).where(versions_t.c.model_pk == pk)
    ).scalar()
    if found is None:
        raise NotFoundError(f"model {name!r} has no versions yet")
    return int(found)


def alias_version(conn: sa.Connection, name: str, alias: str) -> int:
    """The version an alias points at."""
    pk = model_pk(conn, name)
    found = conn.execute(
        sa.select(aliases_t.c.version).where(aliases_t.c.model_pk == pk, aliases_t.c.alias == alias)
    ).scalar()
    if found is None:
        known = conn.execute(sa.select(aliases_t.c.alias).where(aliases_t.c.model_pk == pk))
        names = ", ".join(repr(a) for a in known.scalars()) or "none"
        raise NotFoundError(f"model {name!r} has no alias {alias!r} (its aliases: {names})")
    return int(found)


def events(conn: sa.Connection, name: str | None, limit: int | None) -> list[RegistryEvent]:
    """Audit events, oldest first (of one model, or all)."""
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
