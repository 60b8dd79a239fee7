"""internal notes on work items (issue 18)

Revision ID: 0015_item_notes
Revises: 0014_replies
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_item_notes"
down_revision = "0014_replies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "item_notes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("work_item_id", sa.Integer, sa.ForeignKey("work_items.id"), nullable=False),
        sa.Column("case_id", sa.Integer, nullable=True),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("folded", sa.Text, nullable=False),
    )
    op.create_index("ix_item_notes_work_item_id", "item_notes", ["work_item_id"])
    op.create_index("ix_item_notes_case_id", "item_notes", ["case_id"])
    op.create_index("ix_item_notes_at", "item_notes", ["at"])


def downgrade() -> None:
    op.drop_table("item_notes")
