"""search lemmas: every search entry also holds the lemmas of its words, so dictionary forms find inflected ones

``search_entries.lemmas``: one folded lemma per word of ``folded`` (``storage.lemmas``, in the letter's
language), filled here for the existing entries from their documents' text (reindex on upgrade; ``mailroom
search --reindex`` recomputes it too).

- SQLite: ``search_fts`` gets a second column, ``lemmas`` (FTS5 cannot add a column: the table and its
  triggers are made again and the index rebuilt from ``search_entries``).
- PostgreSQL: ``tsv`` becomes ``search_tsv(folded, lemmas, received_at)``: what 0009 made, plus, at the
  position of each word whose lemma differs from its form, the lemma marked with ``é`` (``'éumowa':7``
  beside ``'umowy':7``; folding removes every accent, so no query word reaches a marked lexeme). Only the
  differing lemmas are stored: a lemma equal to its form is the form's own lexeme, which keeps ``tsv`` small
  (it stays in the row, 0009). The generated column is dropped and added again (one table rewrite).

Long-running on a big archive: lemmatising costs ~0.1 ms a word on first sight (cached after), and
PostgreSQL rewrites the table; see docs/benchmarks.md ("Inflection-aware search").

Revision ID: 0013_search_lemmas
Revises: 0009
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_search_lemmas"
down_revision = "0009"
branch_labels = None
depends_on = None

BATCH = 2000

# IMMUTABLE as 0009's: string functions and casts that depend on no setting. The lemma words are numbered as
# the words of ``folded`` (one lexeme per word: folded text is letters and digits separated by single spaces),
# which is what to_tsvector numbers too; the text round trip merges both without shifting positions (``||``
# would shift the right-hand side past the left's last position).
TSV_FUNCTION = """
CREATE OR REPLACE FUNCTION search_tsv(folded text, lemmas text, received_at timestamptz) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT (to_tsvector('simple', folded)::text || coalesce(' ' || (
    SELECT string_agg('''é' || l || ''':' || least(i, 16383), ' ')
    FROM unnest(string_to_array(folded, ' '), string_to_array(lemmas, ' ')) WITH ORDINALITY AS w(f, l, i)
    WHERE l <> f AND l <> ''), ''))::tsvector
  || array_to_tsvector(ARRAY[
    '@' || to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM'),
    '@' || to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')])
$$
"""

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE search_fts USING fts5(folded, lemmas, content='search_entries', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER search_entries_ai AFTER INSERT ON search_entries BEGIN "
    "INSERT INTO search_fts(rowid, folded, lemmas) VALUES (new.id, new.folded, new.lemmas); END",
    "CREATE TRIGGER search_entries_ad AFTER DELETE ON search_entries BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, folded, lemmas) VALUES ('delete', old.id, old.folded, old.lemmas); "
    "END",
    "CREATE TRIGGER search_entries_au AFTER UPDATE OF folded, lemmas ON search_entries BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, folded, lemmas) VALUES ('delete', old.id, old.folded, old.lemmas); "
    "INSERT INTO search_fts(rowid, folded, lemmas) VALUES (new.id, new.folded, new.lemmas); END",
    "INSERT INTO search_fts(search_fts) VALUES ('rebuild')",
]
SQLITE_FTS_0005 = [  # as 0005 made them
    "CREATE VIRTUAL TABLE search_fts USING fts5(folded, content='search_entries', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER search_entries_ai AFTER INSERT ON search_entries BEGIN "
    "INSERT INTO search_fts(rowid, folded) VALUES (new.id, new.folded); END",
    "CREATE TRIGGER search_entries_ad AFTER DELETE ON search_entries BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, folded) VALUES ('delete', old.id, old.folded); END",
    "CREATE TRIGGER search_entries_au AFTER UPDATE OF folded ON search_entries BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, folded) VALUES ('delete', old.id, old.folded); "
    "INSERT INTO search_fts(rowid, folded) VALUES (new.id, new.folded); END",
    "INSERT INTO search_fts(search_fts) VALUES ('rebuild')",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS search_entries_ai", "DROP TRIGGER IF EXISTS search_entries_ad",
               "DROP TRIGGER IF EXISTS search_entries_au", "DROP TABLE IF EXISTS search_fts"]


def fill_lemmas(bind: sa.engine.Connection) -> int:
    """Compute ``lemmas`` of every entry from its document's text, in id order, BATCH at a time."""
    from storage.lemmas import lemma_stream

    done, last = 0, None
    while True:
        sql = ("SELECT e.id, e.language, d.text FROM search_entries e JOIN documents d ON d.id = e.document_id "
               + ("WHERE e.id > :last " if last is not None else "") + "ORDER BY e.id LIMIT :n")
        rows = bind.execute(sa.text(sql), {"last": last, "n": BATCH}).all()
        if not rows:
            return done
        bind.execute(sa.text("UPDATE search_entries SET lemmas = :lemmas WHERE id = :id"),
                     [{"id": r.id, "lemmas": lemma_stream(r.text or "", r.language)} for r in rows])
        done, last = done + len(rows), rows[-1].id


def _recreate_tsv(expression: str) -> None:
    op.execute("ALTER TABLE search_entries DROP COLUMN IF EXISTS tsv")  # drops ix_search_entries_tsv with it
    op.execute(f"ALTER TABLE search_entries ADD COLUMN tsv tsvector GENERATED ALWAYS AS ({expression}) STORED, "
               "ALTER COLUMN tsv SET STORAGE MAIN")
    op.execute("SET LOCAL maintenance_work_mem = '512MB'")
    op.execute("CREATE INDEX ix_search_entries_tsv ON search_entries USING gin (tsv)")
    op.execute("ALTER TABLE search_entries ALTER COLUMN tsv SET STATISTICS 1000")  # as 0007
    op.execute("ANALYZE search_entries")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE search_entries DROP COLUMN tsv")  # no generated column to update while filling
        op.execute("ALTER TABLE search_entries ADD COLUMN lemmas text NOT NULL DEFAULT ''")
        fill_lemmas(bind)
        op.execute(TSV_FUNCTION)
        _recreate_tsv("search_tsv(folded, lemmas, received_at)")
        return
    for stmt in SQLITE_DROP:
        op.execute(stmt)
    op.execute("ALTER TABLE search_entries ADD COLUMN lemmas TEXT NOT NULL DEFAULT ''")
    fill_lemmas(bind)
    for stmt in SQLITE_FTS:
        op.execute(stmt)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _recreate_tsv("search_tsv(folded, received_at)")
        op.execute("ALTER TABLE search_entries DROP COLUMN lemmas")
        op.execute("DROP FUNCTION search_tsv(text, text, timestamptz)")
        return
    for stmt in SQLITE_DROP:
        op.execute(stmt)
    with op.batch_alter_table("search_entries") as batch_op:
        batch_op.drop_column("lemmas")
    for stmt in SQLITE_FTS_0005:
        op.execute(stmt)
