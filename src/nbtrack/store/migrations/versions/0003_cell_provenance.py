"""The cell timeline of notebook runs, and which cell logged each value.

* ``cell_sources``: each distinct cell text once, by sha256.
* ``cells``: a run's timeline, one row per executed cell (``seq`` counts from 1).
* ``params``, ``tags`` and ``artifacts`` gain ``cell_seq``: the timeline entry
  that logged them (NULL outside a notebook cell).
* ``metric_cells``: for each (run, metric, cell) the step range and count that
  cell logged; a per-point column would cost bytes on the biggest table.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cell_sources",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
    )
    op.create_table(
        "cells",
        sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.run_pk"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("cell_id", sa.String(64), nullable=True),
        sa.Column("execution_count", sa.Integer, nullable=True),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error_type", sa.String(250), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
    )
    for table in ("params", "tags", "artifacts"):
        op.add_column(table, sa.Column("cell_seq", sa.Integer, nullable=True))
    op.create_table(
        "metric_cells",
        sa.Column("run_pk", sa.Integer, primary_key=True),
        sa.Column("key_id", sa.Integer, primary_key=True),
        sa.Column("cell_seq", sa.Integer, primary_key=True),
        sa.Column("first_step", sa.BigInteger, nullable=False),
        sa.Column("last_step", sa.BigInteger, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("metric_cells")
    for table in ("artifacts", "tags", "params"):
        op.drop_column(table, "cell_seq")
    op.drop_table("cells")
    op.drop_table("cell_sources")
