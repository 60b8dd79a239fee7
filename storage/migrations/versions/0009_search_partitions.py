"""search partitions: PostgreSQL ``search_entries`` partitioned by month of receipt

See ``storage/search_partitions.py`` for why. The table is rebuilt: the flat one is renamed, the
partitioned one created with the same columns and indexes (primary key and the one-entry-per-
document constraint now include ``received_at``, as partitioning requires; a document's receipt
time never changes), one partition per month from the oldest entry to 12 months ahead plus a
DEFAULT partition, the rows copied, the flat table dropped. SQLite: nothing changes.

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = "id, document_id, envelope_id, received_at, channel, language, category, folded"
INDEXES = {  # name: definition on the parent (partitions get their own copy)
    "ix_search_entries_tsv": "USING gin (tsv)",
    "ix_search_entries_received_id": "(received_at, id)",
    "ix_search_entries_envelope_id": "(envelope_id)",
    "ix_search_entries_channel": "(channel)",
    "ix_search_entries_language": "(language)",
    "ix_search_entries_category": "(category)",
}


def _rename_flat(suffix: str) -> None:
    op.execute(f"ALTER TABLE search_entries RENAME TO search_entries_{suffix}")
    for name in [*INDEXES, "ix_search_entries_received_at"]:
        op.execute(f"ALTER INDEX IF EXISTS {name} RENAME TO {name}_{suffix}")
    op.execute(f"ALTER TABLE search_entries_{suffix} RENAME CONSTRAINT search_entries_pkey "
               f"TO search_entries_{suffix}_pkey")
    op.execute(f"ALTER TABLE search_entries_{suffix} RENAME CONSTRAINT search_entries_document_id_key "
               f"TO search_entries_{suffix}_document_id_key")


def _create(partitioned: bool) -> None:
    op.execute(f"""
        CREATE TABLE search_entries (
            id integer NOT NULL DEFAULT nextval('search_entries_id_seq'),
            document_id varchar(36) NOT NULL,
            envelope_id varchar(36) NOT NULL,
            received_at timestamptz NOT NULL,
            channel varchar(10) NOT NULL,
            language varchar(8),
            category varchar(32),
            folded text NOT NULL,
            tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', folded)) STORED,
            CONSTRAINT search_entries_pkey PRIMARY KEY (id{", received_at" if partitioned else ""}),
            CONSTRAINT search_entries_document_id_key UNIQUE (document_id{", received_at" if partitioned else ""})
        ){" PARTITION BY RANGE (received_at)" if partitioned else ""}""")
    op.execute("ALTER SEQUENCE search_entries_id_seq OWNED BY search_entries.id")
    for name, definition in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON search_entries {definition}")
    # the relevance window is sized from the planner's word estimates (0007)
    op.execute("ALTER TABLE search_entries ALTER COLUMN tsv SET STATISTICS 1000")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    from storage.search_partitions import (DEFAULT, MONTHS_AHEAD, TSV_STATISTICS, create_partitions, month_start,
                                           months, next_month)

    _rename_flat("flat")
    _create(partitioned=True)
    op.execute(f"CREATE TABLE {DEFAULT} PARTITION OF search_entries DEFAULT")
    op.execute(f"ALTER TABLE {DEFAULT} ALTER COLUMN tsv SET STATISTICS {TSV_STATISTICS}")
    oldest = bind.execute(sa.text("SELECT min(received_at) FROM search_entries_flat")).scalar()
    now = datetime.now(UTC)
    ahead = month_start(now)
    for _ in range(MONTHS_AHEAD):
        ahead = next_month(ahead)
    create_partitions(bind, months(min(oldest or now, now), ahead))
    op.execute(f"INSERT INTO search_entries ({COLUMNS}) SELECT {COLUMNS} FROM search_entries_flat")
    op.execute("DROP TABLE search_entries_flat")
    op.execute("ANALYZE search_entries")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _rename_flat("parted")
    _create(partitioned=False)
    op.execute("CREATE INDEX ix_search_entries_received_at ON search_entries (received_at)")
    op.execute(f"INSERT INTO search_entries ({COLUMNS}) SELECT {COLUMNS} FROM search_entries_parted")
    op.execute("DROP TABLE search_entries_parted CASCADE")
