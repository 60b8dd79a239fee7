"""archive: search index (FTS5 / tsvector), audit hash chain, legal hold and retention

Revision ID: 0005
Revises: 0001
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None

GENESIS = "0" * 64

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE search_fts USING fts5(folded, content='search_entries', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER search_entries_ai AFTER INSERT ON search_entries BEGIN "
    "INSERT INTO search_fts(rowid, folded) VALUES (new.id, new.folded); END",
    "CREATE TRIGGER search_entries_ad AFTER DELETE ON search_entries BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, folded) VALUES ('delete', old.id, old.folded); END",
    "CREATE TRIGGER search_entries_au AFTER UPDATE OF folded ON search_entries BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, folded) VALUES ('delete', old.id, old.folded); "
    "INSERT INTO search_fts(rowid, folded) VALUES (new.id, new.folded); END",
]
POSTGRES_FTS = [
    "ALTER TABLE search_entries ADD COLUMN tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', folded)) STORED",
    "CREATE INDEX ix_search_entries_tsv ON search_entries USING gin (tsv)",
]


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("envelopes") as batch_op:
        batch_op.add_column(sa.Column("legal_hold", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_audit_events_hash", ["hash"])
    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    seq, last = _chain_existing_events(bind)
    op.bulk_insert(head, [{"id": 1, "seq": seq, "last_hash": last}])

    op.create_table(
        "search_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("envelope_id", sa.String(length=36), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("folded", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("document_id"),
    )
    for col in ("envelope_id", "received_at", "channel", "language", "category"):
        op.create_index(f"ix_search_entries_{col}", "search_entries", [col])
    op.create_table(
        "search_entity_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_search_entity_values_document_id", "search_entity_values", ["document_id"])
    op.create_index("ix_search_entity_values_value", "search_entity_values", ["value"])
    for stmt in POSTGRES_FTS if bind.dialect.name == "postgresql" else SQLITE_FTS:
        op.execute(stmt)


def _chain_existing_events(bind: sa.engine.Connection) -> tuple[int, str]:
    """Events written before this revision are chained now, in id order."""
    from storage.audit import event_hash, stored_time
    from storage.models import AuditEvent

    events = sa.table("audit_events", sa.column("id"), sa.column("prev_hash"), sa.column("hash"))
    rows = bind.execute(sa.text("SELECT id, at, actor, action, envelope_id, document_id, work_item_id, detail "
                                "FROM audit_events ORDER BY id")).all()
    last, seq = GENESIS, 0
    for r in rows:
        detail = r.detail if isinstance(r.detail, dict) else json.loads(r.detail or "{}")
        ev = AuditEvent(id=r.id, at=stored_time(r.at), actor=r.actor, action=r.action, envelope_id=r.envelope_id,
                        document_id=r.document_id, work_item_id=r.work_item_id, detail=detail, prev_hash=last)
        h = event_hash(ev)
        bind.execute(events.update().where(events.c.id == r.id).values(prev_hash=last, hash=h))
        last, seq = h, seq + 1
    return seq, last


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_table("search_entity_values")
    op.drop_table("search_entries")
    op.drop_table("audit_chain_head")
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.drop_index("ix_audit_events_hash")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
    with op.batch_alter_table("envelopes") as batch_op:
        batch_op.drop_column("purged_at")
        batch_op.drop_column("legal_hold")
