"""Bring a store's schema to the newest version when it is opened.

* Up to date (the common case): one query of ``alembic_version``; Alembic is
  not even imported, which keeps opening a store fast.
* Brand-new database: the tables are created from ``schema.metadata`` and
  stamped with the head revision (Alembic's advice for fresh databases); a
  test proves this equals running every migration.
* Older version: Alembic applies the missing migrations in order.

Creation and upgrades hold :func:`_dialect.migration_lock`, so any number of
processes may open the same new store at once. Only a store opened for writing
is created or upgraded; a store opened for reading must already be at the
head revision (:func:`require_head`), since reading never writes.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa

from nbtrack.exceptions import StoreError
from nbtrack.store import _dialect, schema
from nbtrack.store._probe import FileInfo
from nbtrack.store.migrations import HEAD_REVISION

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

_version_table = sa.Table(
    "alembic_version",
    sa.MetaData(),
    sa.Column("version_num", sa.String(32), primary_key=True),
)


def current_revision(conn: sa.Connection) -> str | None:
    """The revision recorded in the database; None for an empty database."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.select(_version_table.c.version_num)).scalar()


def require_head(info: FileInfo) -> None:
    """Raise :class:`StoreError` unless the store file can be read as it is (schema at head)."""
    revision = info.revision
    if revision is None or revision == HEAD_REVISION:
        return
    if revision < HEAD_REVISION:
        raise StoreError(
            f"store needs upgrading: run `nbtrack upgrade` (`nbtrack --tracking-uri {info.path} "
            f"upgrade` if it is not the default store). The store at {info.path} has schema "
            f"{revision}; this nbtrack reads {HEAD_REVISION}, and reading never changes a store."
        )
    refuse_newer(info)


def refuse_newer(info: FileInfo) -> None:
    """Raise :class:`StoreError` if a newer nbtrack wrote the store (this one cannot migrate it)."""
    if info.revision is not None and info.revision > HEAD_REVISION:
        raise StoreError(
            f"the store at {info.path} was written by a newer nbtrack (schema {info.revision}; "
            f"this one knows schemas up to {HEAD_REVISION}): upgrade nbtrack to use it"
        )


def require_head_postgres(engine: sa.Engine, uri: str) -> None:
    """Like :func:`require_head`, for a PostgreSQL database opened for reading only.

    :class:`NotFoundError` if the database holds no nbtrack store yet (nothing is created).
    """
    from nbtrack.exceptions import NotFoundError
    from nbtrack.store.locate import hide_password

    with engine.connect() as conn:
        revision = current_revision(conn)
        tables = set(sa.inspect(conn).get_table_names())
    where = hide_password(uri)
    if revision is None:
        if tables:
            raise StoreError(
                f"the PostgreSQL database {where} holds other tables "
                f"({', '.join(sorted(tables)[:5])}), not an nbtrack store: "
                "point NBTRACK_TRACKING_URI at a database of its own"
            )
        raise NotFoundError(f"no store at {where} (create one by logging a run)")
    if revision < HEAD_REVISION:
        raise StoreError(
            f"store needs upgrading: run `nbtrack --tracking-uri {where} upgrade`. The store "
            f"has schema {revision}; this nbtrack reads {HEAD_REVISION}, and reading never "
            "changes a store."
        )
    if revision > HEAD_REVISION:
        raise StoreError(
            f"the store at {where} was written by a newer nbtrack (schema {revision}; this one "
            f"knows schemas up to {HEAD_REVISION}): upgrade nbtrack to use it"
        )


def ensure_schema(engine: sa.Engine) -> None:
    """Create or upgrade the schema so it matches :data:`HEAD_REVISION`."""
    with engine.connect() as conn:
        if current_revision(conn) == HEAD_REVISION:
            return
    with _dialect.migration_lock(engine), _dialect.write_transaction(engine) as conn:
        revision = current_revision(conn)  # another process may have done it
        if revision == HEAD_REVISION:
            return
        if revision is not None and revision > HEAD_REVISION:
            raise StoreError(
                f"the store at {engine.url} was written by a newer nbtrack (schema {revision}; "
                f"this one knows schemas up to {HEAD_REVISION}): upgrade nbtrack to use it"
            )
        tables = sa.inspect(conn).get_table_names()
        if revision is None and tables:  # SQLite files are checked before (see _probe)
            raise StoreError(
                f"the database {engine.url} holds other tables ({', '.join(sorted(tables)[:5])}), "
                "not an nbtrack store: nbtrack has not changed it; give nbtrack a database "
                "of its own"
            )
        if revision is None:
            log.debug("creating a new store at %s", engine.url)
            schema.metadata.create_all(conn, checkfirst=False)
            _version_table.create(conn)
            conn.execute(_version_table.insert().values(version_num=HEAD_REVISION))
            return
        log.info("upgrading store %s from %s to %s", engine.url, revision, HEAD_REVISION)
        upgrade(conn, "head")


def upgrade(conn: sa.Connection, target: str) -> None:
    """Run Alembic's migrations up to ``target`` on an open connection."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(MIGRATIONS_DIR))

    def steps(revision: str, _context: object) -> object:
        return scripts._upgrade_revs(target, revision)

    context = MigrationContext.configure(
        connection=conn, opts={"script": scripts, "fn": steps, "render_as_batch": True}
    )
    with Operations.context(context):
        context.run_migrations()


def script_head() -> str:
    """The head revision according to the migration scripts themselves."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head is not None
    return str(head)
