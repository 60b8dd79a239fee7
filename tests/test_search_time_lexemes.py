"""PostgreSQL receipt-time lexemes (migration 0009): the relevance window as part of the GIN query."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import create_engine, text

import storage.search as search_module
from storage.db import alembic_config, get_engine, migrate, session_scope
from storage.search import search, time_lexemes
from tests.test_search import add_letter


def test_time_lexemes_cover_days_to_the_month_end_then_whole_months() -> None:
    start, end = datetime(2026, 11, 28, tzinfo=UTC), datetime(2027, 1, 3, 12, tzinfo=UTC)
    assert time_lexemes(start, end) == ("'@2026-11-28' | '@2026-11-29' | '@2026-11-30' | '@2026-12' | '@2027-01'"
                                        " | '@2027-02'")
    assert time_lexemes(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)) == "'@2026-03' | '@2026-04'"


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    migrate(url)
    yield url


def _ids(url: str, q: str, **kw: object) -> list[str]:
    with session_scope(url) as s:
        return [h.document_id for h in search(s, q, **kw).hits]  # type: ignore[arg-type]


def test_time_lexemes_are_indexed_and_no_query_reaches_them(pg_url: str) -> None:
    doc = add_letter(pg_url, "pl", "complaint", "scan", datetime(2025, 7, 31, 23, 30, tzinfo=UTC), "q", "new", {},
                     "Reklamacja faktury numer 7.")
    with get_engine(pg_url).connect() as conn:
        lexemes = set(conn.execute(text("SELECT unnest(tsvector_to_array(tsv)) FROM search_entries")).scalars())
    assert {"@2025-07", "@2025-07-31"} <= lexemes  # the UTC day and month
    assert _ids(pg_url, "reklamacja") == [doc]
    for q in ("2025*", "2025", "07", "31", '"2025 07"', "@2025*", "2025-07", "reklamacja -2025*"):
        assert _ids(pg_url, q) == ([doc] if q == "reklamacja -2025*" else []), q
    with session_scope(pg_url) as s:  # ranks are those of the words alone, as before 0009
        score = search(s, "=reklamacja =faktury").hits[0].score  # these forms only: no lemmas (0013)
        before = s.execute(text("SELECT ts_rank(to_tsvector('simple', folded), 'reklamacja & faktury') "
                                "FROM search_entries")).scalar_one()
    assert score == round(before, 6)


@pytest.mark.parametrize("lexeme_window_max", [1.0, 0.0])  # the window as lexemes / as a received_at range
def test_relevance_window_across_month_boundaries_keeps_the_newest_candidates(
        pg_url: str, monkeypatch: pytest.MonkeyPatch, lexeme_window_max: float) -> None:
    start = datetime(2025, 1, 20, 12, tzinfo=UTC)
    docs = [add_letter(pg_url, "pl", "complaint", "scan", start + timedelta(days=3 * i), "q", "new", {},
                       "Reklamacja faktury. " + "Reklamacja. " * (5 if i == 20 else i % 3)) for i in range(30)]
    with create_engine(pg_url).connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    monkeypatch.setattr(search_module, "RANK_CANDIDATES", 12)
    monkeypatch.setattr(search_module, "LEXEME_WINDOW_MAX", lexeme_window_max)
    with session_scope(pg_url) as s:
        page = search(s, "reklamacja", per_page=50)
    assert {h.document_id for h in page.hits} == set(docs[-12:])  # the 12 newest matches, over 3 months
    assert page.hits[0].document_id == docs[20] and page.total == 30
    with session_scope(pg_url) as s:  # a date filter bounds the window
        page = search(s, "faktury", search_module.Filters(date_from=date(2025, 2, 1), date_to=date(2025, 3, 31)),
                      per_page=50)
    inside = [d for i, d in enumerate(docs) if date(2025, 2, 1) <= (start + timedelta(days=3 * i)).date()
              <= date(2025, 3, 31)]
    assert {h.document_id for h in page.hits} == set(inside[-12:]) and page.total == len(inside)


def test_0009_recomputes_existing_rows_and_downgrades(pg_url: str) -> None:
    doc = add_letter(pg_url, "pl", "complaint", "scan", datetime(2024, 2, 29, 8, tzinfo=UTC), "q", "new", {},
                     "Wypowiedzenie umowy.")
    cfg = alembic_config(pg_url)
    engine = get_engine(pg_url)

    def lexemes() -> set[str]:
        with engine.connect() as conn:
            return set(conn.execute(text("SELECT unnest(tsvector_to_array(tsv)) FROM search_entries")).scalars())

    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0008")
    assert lexemes() == {"wypowiedzenie", "umowy"}
    assert _ids(pg_url, '"wypowiedzenie umowy"') == [doc]
    migrate(pg_url)
    assert lexemes() == {"wypowiedzenie", "umowy", "@2024-02", "@2024-02-29", "éumowa"}  # + lemma (0013)
    with engine.connect() as conn:
        target = conn.execute(text("SELECT attstattarget FROM pg_attribute WHERE attrelid = 'search_entries'::regclass "
                                   "AND attname = 'tsv'")).scalar_one()
    assert target == 1000
    assert _ids(pg_url, '"wypowiedzenie umowy"') == [doc]
