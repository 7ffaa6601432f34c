"""Initial schema: experiments, runs, params, tags, interned metrics, artifacts.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(256), nullable=False, unique=True),
        sa.Column("artifact_location", sa.Text, nullable=False),
        sa.Column("lifecycle_stage", sa.String(32), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_update_time", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "experiment_tags",
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.experiment_id"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("run_pk", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(32), nullable=False, unique=True),
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.experiment_id"),
            nullable=False,
        ),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=False),
        sa.Column("end_time", sa.BigInteger, nullable=True),
        sa.Column("lifecycle_stage", sa.String(32), nullable=False),
        sa.Column("parent_run_pk", sa.Integer, sa.ForeignKey("runs.run_pk"), nullable=True),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("host", sa.String(256), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("heartbeat", sa.BigInteger, nullable=False),
        sa.Column("deleted_time", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_runs_experiment_start", "runs", ["experiment_id", "start_time"])
    op.create_index("ix_runs_status", "runs", ["status"])
    for name in ("params", "tags"):
        op.create_table(
            name,
            sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.run_pk"), primary_key=True),
            sa.Column("key", sa.String(250), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )
    op.create_table(
        "metric_keys",
        sa.Column("key_id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(250), nullable=False, unique=True),
    )
    op.create_table(
        "metrics",
        sa.Column("run_pk", sa.Integer, primary_key=True),
        sa.Column("key_id", sa.Integer, primary_key=True),
        sa.Column("step", sa.BigInteger, primary_key=True),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "latest_metrics",
        sa.Column("run_pk", sa.Integer, primary_key=True),
        sa.Column("key_id", sa.Integer, primary_key=True),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "artifacts",
        sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.run_pk"), primary_key=True),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_artifacts_sha256", "artifacts", ["sha256"])


def downgrade() -> None:
    for name in (
        "artifacts",
        "latest_metrics",
        "metrics",
        "metric_keys",
        "tags",
        "params",
        "runs",
        "experiment_tags",
        "experiments",
    ):
        op.drop_table(name)
