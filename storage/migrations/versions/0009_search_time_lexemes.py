"""search time lexemes: PostgreSQL ``tsv`` also holds the entry's receipt month and day

``tsv`` becomes ``search_tsv(folded, received_at)``: the words as before (``to_tsvector('simple', folded)``)
plus two position-less lexemes, ``@YYYY-MM`` and ``@YYYY-MM-DD`` (UTC). A user's query can never produce
them: query words are folded letters and digits only, so neither a word nor a prefix (``wypow*``) reaches
a lexeme starting with ``@``; ranking uses the user's tsquery only, so scores do not change.

A narrow relevance window ("the newest matches", up to 30 % of the time span) is then part of the GIN
query, ``word`` AND ``'@2026-10-28' | '@2026-10-29' | ... | '@2026-11' | ...``: GIN walks the window's
postings and skips through the common word's posting tree, instead of building a bitmap of every match
and ANDing it with a ``received_at`` bitmap (storage/search.py).

``tsv`` is stored MAIN (kept in the row): as EXTENDED, the toaster moved the ``tsv`` of longer letters
(Cyrillic ones, two bytes a letter: a quarter of the bench's rows) out of line, and every phrase re-check and
rank of such a row read the TOAST table (4-5 buffers a row: a phrase's 12,000 re-checks cost 180 ms). Now
``folded`` (read only when a document is re-indexed) goes out of line first.

PostgreSQL 15 cannot change a generated column's expression: the column is dropped and added again
(every existing row is re-computed), with its GIN index and its statistics target. SQLite: nothing.

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# IMMUTABLE: to_char of a UTC timestamp with a numeric-only format depends on no setting or locale.
TSV_FUNCTION = """
CREATE OR REPLACE FUNCTION search_tsv(folded text, received_at timestamptz) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT to_tsvector('simple', folded) || array_to_tsvector(ARRAY[
    '@' || to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM'),
    '@' || to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')])
$$
"""


def _recreate(expression: str, storage: str) -> None:
    op.execute("ALTER TABLE search_entries DROP COLUMN tsv")  # drops ix_search_entries_tsv with it
    op.execute(f"ALTER TABLE search_entries ADD COLUMN tsv tsvector GENERATED ALWAYS AS ({expression}) STORED, "
               f"ALTER COLUMN tsv SET STORAGE {storage}")  # one rewrite, rows stored the new way
    op.execute("SET LOCAL maintenance_work_mem = '512MB'")
    op.execute("CREATE INDEX ix_search_entries_tsv ON search_entries USING gin (tsv)")
    op.execute("ALTER TABLE search_entries ALTER COLUMN tsv SET STATISTICS 1000")  # as 0007
    op.execute("ANALYZE search_entries")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(TSV_FUNCTION)
    _recreate("search_tsv(folded, received_at)", "MAIN")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _recreate("to_tsvector('simple', folded)", "EXTENDED")
    op.execute("DROP FUNCTION search_tsv(text, timestamptz)")
