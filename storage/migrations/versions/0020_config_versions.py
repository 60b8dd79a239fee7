"""versioned configuration edited in the browser (issue 19)

Revision ID: 0020_config_versions
Revises: 0018_entity_corrections
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_config_versions"
down_revision = "0018_entity_corrections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "config_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("comment", sa.String(500), nullable=False),
        sa.Column("restored_from", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_config_versions_kind", "config_versions", ["kind"])
    op.create_index("ix_config_versions_created_at", "config_versions", ["created_at"])


def downgrade() -> None:
    op.drop_table("config_versions")
