"""outbound letters and post batches; work items' registration, extension, acknowledgement and first
response; customers' postal address and longer identifiers (issues 17, 18)

Revision ID: 0014_replies
Revises: 0002 (customers), 0004 (queues)
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_replies"
down_revision = ("0002", "0004")
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "outbound_letters",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("work_item_id", sa.Integer, sa.ForeignKey("work_items.id"), nullable=False),
        sa.Column("case_id", sa.Integer, nullable=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("template", sa.String(64), nullable=True),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("folded", sa.Text, nullable=False, server_default=""),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("to_email", sa.String(254), nullable=True),
        sa.Column("address", sa.JSON, nullable=False),
        sa.Column("attachments", sa.JSON, nullable=False),
        sa.Column("needs_approval", sa.Boolean, nullable=False),
        sa.Column("approved_by", sa.String(64), nullable=True),
        sa.Column("message_id", sa.String(300), nullable=True, unique=True),
        sa.Column("in_reply_to", sa.String(500), nullable=True),
        sa.Column("references", sa.JSON, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("batch_id", sa.Integer, nullable=True),
        sa.Column("registered", sa.Boolean, nullable=False),
        sa.Column("registered_number", sa.String(64), nullable=True),
        sa.Column("send_attempts", sa.Integer, nullable=False),
        sa.Column("relay_answer", sa.String(500), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        _ts("created_at", False),
        _ts("updated_at", False),
        _ts("dispatched_at"),
        _ts("delivered_at"),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_outbound_letters_work_item_id", "outbound_letters", ["work_item_id"])
    op.create_index("ix_outbound_letters_case_id", "outbound_letters", ["case_id"])
    op.create_index("ix_outbound_letters_state", "outbound_letters", ["state"])
    op.create_index("ix_outbound_letters_batch_id", "outbound_letters", ["batch_id"])
    op.create_index("ix_outbound_letters_created_at", "outbound_letters", ["created_at"])
    op.create_table(
        "post_batches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        _ts("created_at", False),
        sa.Column("letters", sa.Integer, nullable=False),
        sa.Column("print_sha256", sa.String(64), nullable=True),
        sa.Column("list_sha256", sa.String(64), nullable=True),
        _ts("handed_over_at"),
        sa.Column("handed_over_by", sa.String(64), nullable=True),
    )
    with op.batch_alter_table("work_items") as batch_op:
        for name in ("registered_at", "extended_at", "acknowledged_at", "first_response_at"):
            batch_op.add_column(_ts(name))
    with op.batch_alter_table("customers") as batch_op:
        batch_op.add_column(sa.Column("address", sa.JSON, nullable=False, server_default=sa.text("'[]'")))
        # other operators' customer numbers and national ids (REGON-14, SNILS, rodné číslo) are longer
        batch_op.alter_column("id", type_=sa.String(40), existing_type=sa.String(16))
        batch_op.alter_column("national_id", type_=sa.String(32), existing_type=sa.String(16))
        batch_op.alter_column("national_id_kind", type_=sa.String(16), existing_type=sa.String(8))
    with op.batch_alter_table("documents") as batch_op:
        batch_op.alter_column("customer_id", type_=sa.String(40), existing_type=sa.String(16))


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_column("address")
    with op.batch_alter_table("work_items") as batch_op:
        for name in ("first_response_at", "acknowledged_at", "extended_at", "registered_at"):
            batch_op.drop_column(name)
    op.drop_table("post_batches")
    op.drop_table("outbound_letters")
