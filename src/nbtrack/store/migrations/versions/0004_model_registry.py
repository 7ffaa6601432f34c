"""The model registry: registered models, versions, their files, aliases and an audit trail.

* ``registered_models`` (+ ``registered_model_tags``): one row per model name.
* ``model_versions`` (+ ``model_version_tags``): consecutive version numbers per
  model, each with its stage, source URI and source run id (no foreign key to
  ``runs``: a version outlives its run).
* ``model_version_files``: a version's files as (path, sha256, size), pointing
  at the content-addressed blobs; garbage collection keeps these blobs.
* ``model_aliases``: ``champion`` -> version, one version per alias.
* ``registry_events``: every registry change (what, from, to, when, who, where).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _model_pk() -> sa.Column[int]:
    return sa.Column(
        "model_pk", sa.Integer, sa.ForeignKey("registered_models.model_pk"), primary_key=True
    )


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("model_pk", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(256), nullable=False, unique=True),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
    )
    op.create_table(
        "registered_model_tags",
        _model_pk(),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "model_versions",
        _model_pk(),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("current_stage", sa.String(20), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("flavor", sa.String(64), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
    )
    op.create_index("ix_model_versions_run_id", "model_versions", ["run_id"])
    op.create_table(
        "model_version_tags",
        _model_pk(),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "model_version_files",
        _model_pk(),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_model_version_files_sha256", "model_version_files", ["sha256"])
    op.create_table(
        "model_aliases",
        _model_pk(),
        sa.Column("alias", sa.String(256), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "registry_events",
        sa.Column("event_id", sa.Integer, primary_key=True),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("model_name", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("key", sa.String(256), nullable=True),
        sa.Column("from_value", sa.Text, nullable=True),
        sa.Column("to_value", sa.Text, nullable=True),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("host", sa.String(256), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
    )
    op.create_index("ix_registry_events_model", "registry_events", ["model_name", "event_id"])


def downgrade() -> None:
    for index, table in (
        ("ix_registry_events_model", "registry_events"),
        ("ix_model_version_files_sha256", "model_version_files"),
        ("ix_model_versions_run_id", "model_versions"),
    ):
        op.drop_index(index, table_name=table)
    for table in (
        "registry_events",
        "model_aliases",
        "model_version_files",
        "model_version_tags",
        "model_versions",
        "registered_model_tags",
        "registered_models",
    ):
        op.drop_table(table)
