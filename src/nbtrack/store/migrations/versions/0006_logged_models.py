"""MLflow 3's logged models: a model with an id of its own, its params, tags, metrics, files.

* ``logged_models``: one row per model ("m-<32 hex>"), in an experiment, with the
  run and artifact path it was logged to (if any), its status and lifecycle stage.
* ``logged_model_params`` / ``logged_model_tags``: its params and tags.
* ``logged_model_metrics``: metrics linked to it, with the run and dataset they came from.
* ``logged_model_files``: files of a model created on its own, as (path, sha256, size)
  pointing at content-addressed blobs (a run-logged model's files are run artifacts).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _model_id(primary_key: bool = True) -> sa.Column[str]:
    return sa.Column(
        "model_id",
        sa.String(40),
        sa.ForeignKey("logged_models.model_id"),
        primary_key=primary_key,
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "logged_models",
        # The integer key orders models by creation (several can share a millisecond).
        sa.Column("model_pk", sa.Integer, primary_key=True),
        sa.Column("model_id", sa.String(40), nullable=False, unique=True),
        sa.Column(
            "experiment_id",
            sa.Integer,
            sa.ForeignKey("experiments.experiment_id"),
            nullable=False,
        ),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("source_run_id", sa.String(32), nullable=True),
        sa.Column("artifact_path", sa.Text, nullable=True),
        sa.Column("model_type", sa.String(250), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lifecycle_stage", sa.String(32), nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_logged_models_experiment_id", "logged_models", ["experiment_id"])
    for table in ("logged_model_params", "logged_model_tags"):
        op.create_table(
            table,
            _model_id(),
            sa.Column("key", sa.String(250), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )
    op.create_table(
        "logged_model_metrics",
        sa.Column("metric_pk", sa.Integer, primary_key=True),
        _model_id(primary_key=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("dataset_name", sa.String(500), nullable=True),
        sa.Column("dataset_digest", sa.String(64), nullable=True),
    )
    op.create_index("ix_logged_model_metrics_model_id", "logged_model_metrics", ["model_id"])
    op.create_table(
        "logged_model_files",
        _model_id(),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_logged_model_files_sha256", "logged_model_files", ["sha256"])


def downgrade() -> None:
    op.drop_index("ix_logged_model_files_sha256", "logged_model_files")
    op.drop_table("logged_model_files")
    op.drop_index("ix_logged_model_metrics_model_id", "logged_model_metrics")
    op.drop_table("logged_model_metrics")
    op.drop_table("logged_model_tags")
    op.drop_table("logged_model_params")
    op.drop_index("ix_logged_models_experiment_id", "logged_models")
    op.drop_table("logged_models")
