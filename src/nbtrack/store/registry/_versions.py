"""New registered models, new versions and stage transitions, in the caller's transaction.

Two processes registering the same name get consecutive, distinct versions:
the model's row is created with an upsert that does nothing when it exists,
then locked (:func:`._rows.find_model_pk` with ``lock``) before the next
number is read, so the second writer waits for the first's commit and then
sees its version. The ``(model, version)`` primary key refuses a duplicate
whatever happens.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from nbtrack.entities import Stage
from nbtrack.store import _dialect, _liveness
from nbtrack.store.registry._rows import (
    Actor,
    files_t,
    max_version,
    model_pk,
    models_t,
    record,
    touch_model,
    version_row,
    version_tags_t,
    versions_t,
)

FileRow = tuple[str, str, int]


def ensure_model(
    conn: sa.Connection,
    name: str,
    actor: Actor,
    *,
    creation_time: int | None = None,
    description: str | None = None,
) -> tuple[int, bool]:
    """The model's key (its row locked), creating it and its audit event if missing.

    ``creation_time`` defaults to now (an imported model keeps its source's).
    Returns ``(model_pk, created)``.
    """
    when = _liveness.now_ms() if creation_time is None else creation_time
    # RETURNING, not rowcount: PostgreSQL reports -1 rows for an INSERT that returns
    # its key (as SQLAlchemy makes it), so rowcount cannot tell "created" there.
    inserted = conn.execute(
        _dialect.upsert(models_t, ["name"])
        .values(name=name, creation_time=when, last_updated_time=when, description=description)
        .returning(models_t.c.model_pk)
    ).first()
    if inserted is not None:
        record(conn, actor, name, "create_model")
    return model_pk(conn, name, lock=True), inserted is not None


def insert_version_rows(
    conn: sa.Connection,
    pk: int,
    version: int,
    files: Iterable[FileRow],
    tags: dict[str, str],
) -> None:
    """A version's file and tag rows (the version row must exist)."""
    file_rows = [
        {"model_pk": pk, "version": version, "path": p, "sha256": s, "size": n} for p, s, n in files
    ]
    if file_rows:
        conn.execute(files_t.insert(), file_rows)
    if tags:
        conn.execute(
            version_tags_t.insert(),
            [{"model_pk": pk, "version": version, "key": k, "value": v} for k, v in tags.items()],
        )


def create_version(
    conn: sa.Connection,
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
    """Insert the next version of ``name`` (created if needed) with its files; returns it."""
    pk, _created = ensure_model(conn, name, actor)
    number = (max_version(conn, pk) or 0) + 1
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
    insert_version_rows(conn, pk, number, files, tags)
    touch_model(conn, pk)
    record(conn, actor, name, "create_version", version=number, to_value=source, run_id=run_id)
    return number


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
            sa.select(versions_t.c.version, versions_t.c.run_id)
            .where(
                versions_t.c.model_pk == row.model_pk,
                versions_t.c.current_stage == stage.value,
                versions_t.c.version != version,
            )
            .order_by(versions_t.c.version)
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
