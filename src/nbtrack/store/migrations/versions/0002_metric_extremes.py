"""latest_metrics keeps each series' min and max, backfilled from history.

Run tables and comparisons show last/min/max per metric without scanning
the metrics table.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("latest_metrics", sa.Column("min_value", sa.Float, nullable=True))
    op.add_column("latest_metrics", sa.Column("max_value", sa.Float, nullable=True))
    latest = sa.table(
        "latest_metrics",
        sa.column("run_pk"),
        sa.column("key_id"),
        sa.column("min_value"),
        sa.column("max_value"),
    )
    history = sa.table("metrics", sa.column("run_pk"), sa.column("key_id"), sa.column("value"))
    same_series = sa.and_(history.c.run_pk == latest.c.run_pk, history.c.key_id == latest.c.key_id)
    op.execute(
        latest.update().values(
            min_value=sa.select(sa.func.min(history.c.value)).where(same_series).scalar_subquery(),
            max_value=sa.select(sa.func.max(history.c.value)).where(same_series).scalar_subquery(),
        )
    )


def downgrade() -> None:
    op.drop_column("latest_metrics", "max_value")
    op.drop_column("latest_metrics", "min_value")
