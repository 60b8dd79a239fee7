"""PostgreSQL search entries partitioned by month of receipt (migration 0009, storage/search_partitions.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from storage.db import alembic_config, get_engine, migrate
from storage.search_partitions import DEFAULT, ensure_partitions, is_partitioned
from tests.test_search import LETTERS, add_letter, ids


@pytest.fixture
def pg_url(postgres_url: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"


def placement(url: str) -> dict[str, str]:
    """document id -> the partition its search entry is stored in."""
    with get_engine(url).connect() as conn:
        return {r.document_id: r.part for r in conn.execute(text(
            "SELECT document_id, tableoid::regclass::text AS part FROM search_entries"))}


def test_entries_land_in_their_month_and_letters_outside_in_default(pg_url: str) -> None:
    migrate(pg_url)
    engine = get_engine(pg_url)
    with engine.connect() as conn:
        assert is_partitioned(conn)
    made = ensure_partitions(engine, since=datetime(2026, 3, 15, tzinfo=UTC), now=datetime(2026, 5, 1, tzinfo=UTC),
                             months_ahead=1)
    assert {"search_entries_p202603", "search_entries_p202604", "search_entries_p202605"} <= set(made)
    assert ensure_partitions(engine, since=datetime(2026, 3, 15, tzinfo=UTC), now=datetime(2026, 5, 1, tzinfo=UTC),
                             months_ahead=1) == []  # idempotent
    docs = [add_letter(pg_url, *letter) for letter in LETTERS]
    old = add_letter(pg_url, "pl", "complaint", "scan", datetime(2001, 1, 5, tzinfo=UTC), "complaints", "new", {},
                     "Stare pismo: zażalenie na rachunek z grudnia.")
    where = placement(pg_url)
    assert [where[d] for d in docs] == ["search_entries_p202603", "search_entries_p202603", "search_entries_p202604",
                                        "search_entries_p202604", "search_entries_p202605"]
    assert where[old] == DEFAULT
    assert set(ids(pg_url, "zazalenie")) == {docs[1], old}  # found across partitions and the default one
    assert ids(pg_url, "zazalenie", sort="date") == [docs[1], old]


def test_migration_moves_existing_entries_into_month_partitions(pg_url: str) -> None:
    cfg = alembic_config(pg_url)
    with get_engine(pg_url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0008")  # the flat table of revisions 0005-0008 (other branches: heads below)
    with get_engine(pg_url).begin() as conn:
        cfg.attributes["connection"] = conn
        for head in ("0002", "0003", "0004", "0006"):
            command.upgrade(cfg, head)
    docs = [add_letter(pg_url, *letter) for letter in LETTERS]
    with get_engine(pg_url).connect() as conn:
        assert not is_partitioned(conn)
    migrate(pg_url)
    where = placement(pg_url)
    assert sorted(set(where.values())) == ["search_entries_p202603", "search_entries_p202604",
                                           "search_entries_p202605"]
    assert set(where) == set(docs)
    assert ids(pg_url, '"wypowiedzenie umowy"') == [docs[0]]
    assert ids(pg_url, '"прошу расторгнуть договор"') == [docs[3]]
    new = add_letter(pg_url, "en", "complaint", "email", datetime.now(UTC), "complaints", "new", {},
                     "A new complaint about roaming charges.")
    assert placement(pg_url)[new] == f"search_entries_p{datetime.now(UTC):%Y%m}"  # made by migrate


def test_a_month_whose_letters_already_sit_in_default_is_skipped_not_fatal(pg_url: str) -> None:
    migrate(pg_url)
    engine = get_engine(pg_url)
    far = add_letter(pg_url, "pl", "complaint", "scan", datetime(2031, 1, 10, tzinfo=UTC), "complaints", "new", {},
                     "Pismo z przyszłości: reklamacja.")
    assert placement(pg_url)[far] == DEFAULT
    made = ensure_partitions(engine, now=datetime(2030, 11, 1, tzinfo=UTC), months_ahead=3)
    assert "search_entries_p203012" in made and "search_entries_p203102" in made
    assert "search_entries_p203101" not in made  # its letter sits in the default partition
    assert placement(pg_url)[far] == DEFAULT and ids(pg_url, "reklamacja") == [far]
