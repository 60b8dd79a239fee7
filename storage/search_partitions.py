"""PostgreSQL: ``search_entries`` is partitioned by month of receipt (migration 0009).

Relevance search ranks the newest matches, found through a ``received_at`` window; with one table
the GIN index still returned every match of a common word in the whole archive (230,000 for
"customer" in 1,000,000 letters) before the window cut it down. Partitioned by month, the window
prunes to the newest few partitions and their own GIN indexes hold only their month's matches.

Months from the oldest entry to ``MONTHS_AHEAD`` after now exist as partitions; anything outside
(a letter dated before the archive began, a clock far ahead) lands in the DEFAULT partition and is
found as before, only without pruning. ``ensure_partitions`` adds the coming months: ``migrate`` and
the periodic sweep call it; it is idempotent and cheap when nothing is missing. SQLite: nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

PARENT = "search_entries"
DEFAULT = "search_entries_default"
MONTHS_AHEAD = 12
TSV_STATISTICS = 1000


def month_start(when: datetime) -> datetime:
    when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    return datetime(when.year, when.month, 1, tzinfo=UTC)


def next_month(month: datetime) -> datetime:
    return datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)


def months(first: datetime, last: datetime) -> list[datetime]:
    """Month starts from ``first``'s month to ``last``'s month, inclusive."""
    out, m, end = [], month_start(first), month_start(last)
    while m <= end:
        out.append(m)
        m = next_month(m)
    return out


def partition_name(month: datetime) -> str:
    return f"{PARENT}_p{month:%Y%m}"


def is_partitioned(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.execute(text("SELECT relkind FROM pg_class WHERE relname = :t AND relkind IN ('r', 'p') "
                             "AND pg_table_is_visible(oid)"), {"t": PARENT}).scalar()
    return kind == "p"


def existing(conn: Connection) -> set[str]:
    return set(conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = CAST(:t AS regclass)"), {"t": PARENT}).scalars())


def create_partition(conn: Connection, month: datetime) -> None:
    """One month's partition, in the caller's transaction (its indexes come from the parent's)."""
    name = partition_name(month)
    conn.execute(text(
        f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {PARENT} "
        f"FOR VALUES FROM ('{month.isoformat()}') TO ('{next_month(month).isoformat()}')"))
    # a partition does not inherit the parent's statistics target: relevance windows are sized from
    # these word estimates (storage/search.py), so keep 10,000 lexemes per month as 0007 did
    conn.execute(text(f"ALTER TABLE {name} ALTER COLUMN tsv SET STATISTICS {TSV_STATISTICS}"))


def create_partitions(conn: Connection, wanted: Iterable[datetime]) -> list[str]:
    """The missing ones of ``wanted``, in the caller's transaction (the migration's)."""
    have = existing(conn)
    made = []
    for month in wanted:
        if partition_name(month) not in have:
            create_partition(conn, month)
            made.append(partition_name(month))
    return made


def ensure_partitions(engine: Engine, since: datetime | None = None, *, now: datetime | None = None,
                      months_ahead: int = MONTHS_AHEAD) -> list[str]:
    """Create the missing monthly partitions from ``since`` (default: this month) to ``months_ahead``
    months after ``now``; returns their names. Each is created in its own short transaction with a
    lock timeout (creating a partition locks the parent briefly); one that cannot be created now
    (busy, or rows for that month already sit in the DEFAULT partition) is logged and skipped: its
    letters stay searchable in the DEFAULT partition."""
    if engine.dialect.name != "postgresql":
        return []
    now = now or datetime.now(UTC)
    ahead = now
    for _ in range(months_ahead):
        ahead = next_month(month_start(ahead))
    with engine.connect() as conn:
        if not is_partitioned(conn):
            return []
        have = existing(conn)
    made = []
    for month in months(since or now, ahead):
        name = partition_name(month)
        if name in have:
            continue
        try:
            with engine.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '5s'"))
                create_partition(conn, month)
            made.append(name)
        except DBAPIError as exc:
            log.warning("search partition %s not created now (%s); its letters go to %s meanwhile",
                        name, str(exc.orig).splitlines()[0] if exc.orig else exc, DEFAULT)
    return made
