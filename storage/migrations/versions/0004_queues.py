"""queues: work-item lifecycle (lease, holds, outcome, dispatch, SLA state), agents' queues and
skills, cases across channels, outbox for live delivery

Revision ID: 0004
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as b:
        b.add_column(sa.Column("claimed_until", TS, nullable=True))
        b.add_column(sa.Column("outcome", sa.String(length=40), nullable=True))
        b.add_column(sa.Column("case_id", sa.Integer(), nullable=True))
        b.add_column(sa.Column("holds", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        b.add_column(sa.Column("internal_due", TS, nullable=True))
        b.add_column(sa.Column("statutory_rule", sa.String(length=100), nullable=True))
        b.add_column(sa.Column("statutory_due", TS, nullable=True))
        b.add_column(sa.Column("statutory_warn_at", TS, nullable=True))
        b.add_column(sa.Column("dispatched_at", TS, nullable=True))
        b.add_column(sa.Column("dispatch", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        b.add_column(sa.Column("sla_state", sa.String(length=20), nullable=False, server_default="ok"))
        b.add_column(sa.Column("flags", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        b.create_index("ix_work_items_case_id", ["case_id"], unique=False)
        b.create_index("ix_work_items_pick", ["state", "queue", "priority", "sla_due"], unique=False)

    op.create_table(
        "queue_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("queue", "user_id"),
    )
    op.create_index("ix_queue_members_queue", "queue_members", ["queue"])
    op.create_index("ix_queue_members_user_id", "queue_members", ["user_id"])
    op.create_table(
        "agent_skills",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("segments", sa.JSON(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=True),
        sa.Column("invoice_no", sa.String(length=40), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("shingles", sa.JSON(), nullable=False),
        sa.Column("first_received_at", TS, nullable=False),
        sa.Column("primary_item_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_cases_customer_id", "cases", ["customer_id"])
    op.create_index("ix_cases_invoice_no", "cases", ["invoice_no"])
    op.create_index("ix_cases_created_at", "cases", ["created_at"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("work_item_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outbox_recipient", "outbox", ["recipient"])


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("cases")
    op.drop_table("agent_skills")
    op.drop_table("queue_members")
    with op.batch_alter_table("work_items", schema=None) as b:
        b.drop_index("ix_work_items_pick")
        b.drop_index("ix_work_items_case_id")
        for col in ("flags", "sla_state", "dispatch", "dispatched_at", "statutory_warn_at", "statutory_due",
                    "statutory_rule", "internal_due", "holds", "case_id", "outcome", "claimed_until"):
            b.drop_column(col)
