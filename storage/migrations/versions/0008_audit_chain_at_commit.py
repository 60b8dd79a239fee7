"""audit chain at commit: events carry their content hash and chain position; PostgreSQL chains them in a
deferred trigger

The chain link used to be computed by the writer while it held the chain head (taken mid-transaction and
held until its client sent COMMIT), so every transition of every agent queued behind the slowest client.
Now an event stores ``content_hash`` (SHA-256 of its canonical fields) and its chain link is
``hash = sha256(prev_hash || content_hash)`` at position ``seq``. On PostgreSQL a deferred constraint
trigger computes the link inside COMMIT, so the head is held only for the commit itself, never across a
round trip to the client. On SQLite the writer still chains in Python (the database write lock already
serialises writers). Existing events are re-sealed in id order under the new link.

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
BATCH = 2000
ADVISORY_LOCK_KEY = 1835100524  # storage.audit.ADVISORY_LOCK_KEY

CHAIN_FUNCTION = f"""
CREATE OR REPLACE FUNCTION mailroom_audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    prev text;
    n bigint;
    digest text;
BEGIN
    IF NEW.content_hash IS NULL OR NEW.hash IS NOT NULL THEN
        RETURN NULL;  -- written outside storage.audit.record (verify names it) or already chained
    END IF;
    PERFORM pg_advisory_xact_lock({ADVISORY_LOCK_KEY});
    SELECT last_hash, seq INTO prev, n FROM audit_chain_head WHERE id = 1;
    IF NOT FOUND THEN  -- the head row was removed: continue from the newest event; verify reports the count
        SELECT hash, seq INTO prev, n FROM audit_events WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1;
        IF NOT FOUND THEN
            prev := '{GENESIS}';
            n := 0;
        END IF;
        INSERT INTO audit_chain_head (id, seq, last_hash) VALUES (1, n, prev);
    END IF;
    n := n + 1;
    digest := encode(sha256(convert_to(prev || NEW.content_hash, 'UTF8')), 'hex');
    UPDATE audit_chain_head SET seq = n, last_hash = digest WHERE id = 1;
    UPDATE audit_events SET seq = n, prev_hash = prev, hash = digest WHERE id = NEW.id;
    RETURN NULL;
END $$
"""
CHAIN_TRIGGER = ("CREATE CONSTRAINT TRIGGER audit_events_chain AFTER INSERT ON audit_events "
                 "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION mailroom_audit_chain()")


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.add_column(sa.Column("content_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.create_index("ix_audit_events_seq", ["seq"], unique=True)
    seq, last = _reseal(bind)
    head = sa.table("audit_chain_head", sa.column("id"), sa.column("seq"), sa.column("last_hash"))
    bind.execute(head.delete())
    bind.execute(head.insert().values(id=1, seq=seq, last_hash=last))
    if bind.dialect.name == "postgresql":
        op.execute(CHAIN_FUNCTION)
        op.execute(CHAIN_TRIGGER)


def _reseal(bind: sa.engine.Connection) -> tuple[int, str]:
    """Chain every existing event again, in id order, with the new link (keyset pages)."""
    from storage.audit import content_digest, link_hash, stored_time

    events = sa.table("audit_events", sa.column("id"), sa.column("prev_hash"), sa.column("hash"),
                      sa.column("content_hash"), sa.column("seq"))
    last, seq, last_id = GENESIS, 0, 0
    while True:
        rows = bind.execute(sa.text("SELECT id, at, actor, action, envelope_id, document_id, work_item_id, detail "
                                    "FROM audit_events WHERE id > :last ORDER BY id LIMIT :n"),
                            {"last": last_id, "n": BATCH}).all()
        if not rows:
            return seq, last
        for r in rows:
            detail = r.detail if isinstance(r.detail, dict) else json.loads(r.detail or "{}")
            content = content_digest(at=stored_time(r.at), actor=r.actor, action=r.action, envelope_id=r.envelope_id,
                                     document_id=r.document_id, work_item_id=r.work_item_id, detail=detail)
            digest = link_hash(last, content)
            seq += 1
            bind.execute(events.update().where(events.c.id == r.id)
                         .values(prev_hash=last, hash=digest, content_hash=content, seq=seq))
            last = digest
        last_id = rows[-1].id


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_chain ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS mailroom_audit_chain()")
    with op.batch_alter_table("audit_events") as batch_op:
        batch_op.drop_index("ix_audit_events_seq")
        batch_op.drop_column("seq")
        batch_op.drop_column("content_hash")
