"""read chunks: a long file is read as page chunks that any worker can take

Revision ID: 0010
Revises: 0003 (the intake branch)
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "read_chunks",
        sa.Column("envelope_id", sa.String(length=36), nullable=False),
        sa.Column("part_index", sa.Integer(), nullable=False),
        sa.Column("first_page", sa.Integer(), nullable=False),
        sa.Column("stop_page", sa.Integer(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("pages", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["envelope_id"], ["envelopes.id"]),
        sa.PrimaryKeyConstraint("envelope_id", "part_index", "first_page"),
    )


def downgrade() -> None:
    op.drop_table("read_chunks")
