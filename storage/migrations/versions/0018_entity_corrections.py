"""entity values corrected by people on letters: training data for the entity extraction (issue 18)

Revision ID: 0018_entity_corrections
Revises: 0017_corrections
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_entity_corrections"
down_revision = "0017_corrections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entity_corrections",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("document_id", sa.String(36), nullable=False),
        sa.Column("work_item_id", sa.Integer, nullable=True),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("old_value", sa.String(200), nullable=True),
        sa.Column("new_value", sa.String(200), nullable=True),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_entity_corrections_document_id", "entity_corrections", ["document_id"])
    op.create_index("ix_entity_corrections_created_at", "entity_corrections", ["created_at"])


def downgrade() -> None:
    op.drop_table("entity_corrections")
