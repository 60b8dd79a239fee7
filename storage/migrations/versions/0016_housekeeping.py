"""scheduled housekeeping: one row per day (issue 19)

Revision ID: 0016_housekeeping
Revises: 0015_item_notes
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_housekeeping"
down_revision = "0015_item_notes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "housekeeping_runs",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("housekeeping_runs")
