"""indexes for the supervisor reports (issue 19): deadlines falling in a period, items created in a period
(covering the response times), the open backlog by queue and age, and audit events by action and time

Revision ID: 0016_report_indexes
Revises: 0015_item_notes
"""
from __future__ import annotations

from alembic import op

revision = "0016_report_indexes"
down_revision = "0015_item_notes"
branch_labels = None
depends_on = None

INDEXES = (
    # compliance and breaches: internal and statutory deadlines in [from, to) (an OR of two range scans)
    ("ix_work_items_sla_due", "work_items", ["sla_due"]),
    ("ix_work_items_statutory_due", "work_items", ["statutory_due"]),
    # response times (covering: no table lookups) and volumes: items created in [from, to)
    ("ix_work_items_created_response", "work_items", ["created_at", "first_response_at", "dispatched_at", "outcome"]),
    # backlog age: open items per queue by age (covering)
    ("ix_work_items_state_queue_created", "work_items", ["state", "queue", "created_at"]),
    # per-agent throughput and the live figures: completions in a period, then each one's last claim of the
    # item (without the second, SQLite's planner walks every claim of the period for every completion)
    ("ix_audit_events_action_at", "audit_events", ["action", "at"]),
    ("ix_audit_events_item_action_at", "audit_events", ["work_item_id", "action", "at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
