"""The processes writing each run, so a run lives as long as one of them does.

* ``run_writers``: one row per (run, host, pid) that logged to the run, with a
  heartbeat its writer thread refreshes every 30 s. A RUNNING run is marked
  KILLED on open only when its creating process and every writer are gone
  (``runs.host``/``pid`` stay: the creator, and all that older stores have).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_writers",
        sa.Column("run_pk", sa.Integer, sa.ForeignKey("runs.run_pk"), primary_key=True),
        sa.Column("host", sa.String(256), primary_key=True),
        sa.Column("pid", sa.Integer, primary_key=True),
        sa.Column("heartbeat", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("run_writers")
