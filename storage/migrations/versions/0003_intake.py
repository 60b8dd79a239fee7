"""intake: Message-ID of e-mail envelopes, unique, for deduplication across channels

Revision ID: 0003
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("envelopes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.String(length=500), nullable=True))
        batch_op.create_index("ix_envelopes_message_id", ["message_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("envelopes", schema=None) as batch_op:
        batch_op.drop_index("ix_envelopes_message_id")
        batch_op.drop_column("message_id")
