"""search speed: SQLite entries keyed by receipt time; PostgreSQL (received_at, id) index

SQLite: every ``search_entries.id`` (= the FTS5 rowid) becomes ``storage.search.date_key(received_at,
document_id)``, so FTS5's rowid order is receipt order and a date range is a rowid range; the FTS5
index is rebuilt afterwards (its rows are keyed by the old ids). PostgreSQL: a ``(received_at, id)``
index serves "newest first" with the ``id`` tie-breaker without a sort, and the ``tsv`` statistics
target is raised so that the planner's estimate of a word's matches (used to size the relevance
window) covers ten times more words.

Revision ID: 0007
Revises: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.create_index("ix_search_entries_received_id", "search_entries", ["received_at", "id"])
        # the relevance window is sized from the planner's word estimates: keep statistics on
        # 10,000 lexemes (default 1,000), so words outside the most common ones are estimated too
        op.execute("ALTER TABLE search_entries ALTER COLUMN tsv SET STATISTICS 1000")
        return
    _rekey_sqlite(bind)


def _rekey_sqlite(bind: sa.engine.Connection) -> None:
    from storage.search import _parse_sqlite_time, date_key

    rows = bind.execute(sa.text("SELECT id, document_id, received_at FROM search_entries ORDER BY id")).all()
    moves: list[tuple[int, int]] = []
    used = {r.id for r in rows}
    for r in rows:
        base = date_key(_parse_sqlite_time(r.received_at), r.document_id)
        if base <= r.id < base + 1_000_000:  # already keyed (bench fill, or written by this code)
            continue
        key = base
        while key in used:
            key += 1
        used.add(key)
        moves.append((r.id, key))
    if not moves:
        return
    for i in range(0, len(moves), BATCH):
        bind.execute(sa.text("UPDATE search_entries SET id = :new WHERE id = :old"),
                     [{"old": old, "new": new} for old, new in moves[i:i + BATCH]])
    bind.execute(sa.text("INSERT INTO search_fts(search_fts) VALUES ('rebuild')"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE search_entries ALTER COLUMN tsv SET STATISTICS -1")
        op.drop_index("ix_search_entries_received_id", table_name="search_entries")
    # SQLite keeps its keys: they are valid ids for revision 0005 too
