"""mailroom corrections and the batch check (issue 18): a batch's expected letter count and correction
version; a derived letter's origin and a superseded letter's correction. Merges the two 0016 heads.

Revision ID: 0017_corrections
Revises: 0016_housekeeping, 0016_report_indexes
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_corrections"
down_revision = ("0016_housekeeping", "0016_report_indexes")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("envelopes", sa.Column("expected_letters", sa.Integer, nullable=True))
    op.add_column("envelopes", sa.Column("corrections", sa.Integer, nullable=False, server_default="0"))
    op.add_column("documents", sa.Column("derived", sa.JSON, nullable=True))
    op.add_column("documents", sa.Column("superseded_by", sa.String(36), nullable=True))
    op.add_column("documents", sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_documents_superseded_by", "documents", ["superseded_by"])


def downgrade() -> None:
    op.drop_index("ix_documents_superseded_by", table_name="documents")
    with op.batch_alter_table("documents") as t:
        t.drop_column("superseded_at")
        t.drop_column("superseded_by")
        t.drop_column("derived")
    with op.batch_alter_table("envelopes") as t:
        t.drop_column("corrections")
        t.drop_column("expected_letters")
