"""Archive search on SQLite FTS5 and on a real PostgreSQL server: same documents, same answers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ground.errors import MailroomError
from storage.db import migrate, session_scope
from storage.models import Document, DocumentState, Envelope, WorkItem
from storage.search import BadQuery, Filters, fold, index_document, parse_query, search, snippet

LETTERS = [
    # (language, category, channel, received, queue, state, entities, text)
    ("pl", "cancellation", "scan", datetime(2026, 3, 2, 9, tzinfo=UTC), "retention", "new",
     {"customer_id": ["MR-1234567"]},
     "Szanowni Państwo,\nniniejszym składam wypowiedzenie umowy o świadczenie usług telekomunikacyjnych "
     "z zachowaniem okresu wypowiedzenia. Proszę o wyłączenie usług."),
    ("pl", "complaint", "email", datetime(2026, 3, 10, 12, tzinfo=UTC), "complaints", "claimed",
     {"invoice_no": ["FV/2026/02/004512"], "customer_id": ["MR-7654321"]},
     "Dzień dobry,\nskładam zażalenie na fakturę FV/2026/02/004512. Kwota jest za wysoka. "
     "Umowy nie zmieniałem."),
    ("cs", "complaint", "fax", datetime(2026, 4, 1, 8, tzinfo=UTC), "complaints", "done",
     {"invoice_no": ["FA/2026/03/000111"]},
     "Vážení,\npodávám reklamaci vyúčtování FA/2026/03/000111. Účtovaná částka neodpovídá smlouvě."),
    ("ru", "cancellation", "scan", datetime(2026, 4, 15, 8, tzinfo=UTC), "retention", "new",
     {"customer_id": ["MR-1111111"]},
     "Уважаемые господа!\nПрошу расторгнуть договор на оказание услуг связи с 1 мая 2026 г. "
     "Номер клиента MR-1111111."),
    ("en", "complaint", "email", datetime(2026, 5, 5, 8, tzinfo=UTC), "complaints", "new",
     {"invoice_no": ["IN/2026/04/000999"]},
     "Dear Sir or Madam,\nI wish to complain about invoice IN/2026/04/000999: I was charged twice."),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'search.db'}"
    else:
        base = request.getfixturevalue("postgres_url")
        name = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        url = base.rsplit("/", 1)[0] + f"/{name}"
    migrate(url)
    yield url


def add_letter(url: str, lang: str, category: str, channel: str, received: datetime, queue: str, state: str,
               entities: dict[str, list[str]], body: str) -> str:
    env_id, doc_id = str(uuid.uuid4()), str(uuid.uuid4())
    with session_scope(url) as s:
        s.add(Envelope(id=env_id, received_at=received, channel=channel, source_name="x.pdf",
                       content_type="application/pdf", sha256=uuid.uuid4().hex * 2, size=1))
        s.flush()
        doc = Document(id=doc_id, envelope_id=env_id, part_index=0, doc_index=0, part_sha256="0" * 64, pages=1,
                       text=body, state=DocumentState.ROUTED, language=lang, category=category, entities=entities)
        s.add(doc)
        s.flush()
        s.add(WorkItem(document_id=doc_id, queue=queue, priority=3, state=state, routing_rule="r", sla_policy="p",
                       sla_due=received))
        index_document(s, doc)
    return doc_id


@pytest.fixture
def archive(db_url: str) -> tuple[str, list[str]]:
    return db_url, [add_letter(db_url, *letter) for letter in LETTERS]


def ids(url: str, q: str, filters: Filters | None = None, **kw: object) -> list[str]:
    with session_scope(url) as s:
        return [h.document_id for h in search(s, q, filters, **kw).hits]  # type: ignore[arg-type]


def test_fold_removes_polish_and_czech_diacritics_and_keeps_cyrillic_letters() -> None:
    assert fold("Zażalenie — WYŁĄCZENIE, Účtovaná částka") == "zazalenie wylaczenie uctovana castka"
    assert fold("Прошу РАСТОРГНУТЬ договор") == "прошу расторгнуть договор"


def test_polish_queries_without_diacritics(archive: tuple[str, list[str]]) -> None:
    url, docs = archive
    assert ids(url, '"wypowiedzenie umowy"') == [docs[0]]
    assert ids(url, "zazalenie") == [docs[1]]
    assert ids(url, "ZAŻALENIE") == [docs[1]]
    assert ids(url, "wylaczenie") == [docs[0]]  # ł is not a combining diacritic: folded by us
    assert set(ids(url, "umowy")) == {docs[0], docs[1]}
    assert ids(url, '"umowy wypowiedzenie"') == []  # a phrase keeps word order


def test_czech_cyrillic_prefix_and_operators(archive: tuple[str, list[str]]) -> None:
    url, docs = archive
    assert ids(url, "uctovana castka") == [docs[2]]
    assert ids(url, '"прошу расторгнуть договор"') == [docs[3]]
    assert ids(url, '"ПРОШУ РАСТОРГНУТЬ"') == [docs[3]]
    assert ids(url, '"расторгнуть прошу"') == []
    assert ids(url, "wypow*") == [docs[0]]
    assert ids(url, "растор*") == [docs[3]]
    assert set(ids(url, "zazalenie OR reklamaci")) == {docs[1], docs[2]}
    assert ids(url, "umowy -zazalenie") == [docs[0]]
    assert ids(url, "nonexistentword") == []
    with pytest.raises(BadQuery):
        ids(url, "-umowy")


def test_filters_combined_and_entity_values(archive: tuple[str, list[str]]) -> None:
    url, docs = archive
    assert ids(url, "", Filters(category=["complaint"]), sort="date_asc") == [docs[1], docs[2], docs[4]]
    assert ids(url, "", Filters(category=["complaint"], queue=["complaints"], status=["new", "claimed"],
                                date_from=date(2026, 3, 1), date_to=date(2026, 4, 30))) == [docs[1]]
    assert ids(url, "", Filters(date_from=date(2026, 4, 1), date_to=date(2026, 4, 1))) == [docs[2]]
    assert ids(url, "", Filters(channel=["scan"], language=["ru"])) == [docs[3]]
    assert ids(url, "", Filters(entity=["fv/2026/02/004512"])) == [docs[1]]
    assert ids(url, "", Filters(entity=["invoice_no=FA/2026/03/000111"])) == [docs[2]]
    assert ids(url, "", Filters(entity=["customer_id=FA/2026/03/000111"])) == []
    assert ids(url, "", Filters(customer="MR 1234567")) == [docs[0]]
    assert ids(url, "umowy", Filters(customer="MR-7654321")) == [docs[1]]
    assert ids(url, "umowy", Filters(category=["complaint"], channel=["scan"])) == []
    # the invoice number as a query is a phrase of its parts
    assert ids(url, "FV/2026/02/004512") == [docs[1]]


def test_sort_paging_totals_and_snippets(archive: tuple[str, list[str]]) -> None:
    url, docs = archive
    with session_scope(url) as s:
        page1 = search(s, "", Filters(), sort="date", page=1, per_page=2)
        page3 = search(s, "", Filters(), sort="date", page=3, per_page=2)
        hits = search(s, "zazalenie", None).hits
    assert [h.document_id for h in page1.hits] == [docs[4], docs[3]]
    assert [h.document_id for h in page3.hits] == [docs[0]]
    assert page1.total == 5 and page3.total == 5 and not page1.total_capped
    assert "<mark>zażalenie</mark>" in hits[0].snippet  # highlighted in the original spelling
    assert hits[0].queue == "complaints" and hits[0].status == "claimed"
    assert hits[0].entities["invoice_no"] == ["FV/2026/02/004512"]


def test_relevance_puts_the_denser_match_first(db_url: str) -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    weak = add_letter(db_url, "pl", "other", "scan", when, "q", "new", {},
                      "Faktura za styczeń. " + "Tekst bez znaczenia. " * 30 + "Reklamacja.")
    strong = add_letter(db_url, "pl", "complaint", "scan", when, "q", "new", {},
                        "Reklamacja: reklamacja faktury, ponowna reklamacja.")
    assert ids(db_url, "reklamacja") == [strong, weak]


def test_reindexing_follows_a_reclassification(archive: tuple[str, list[str]]) -> None:
    url, docs = archive
    with session_scope(url) as s:
        doc = s.get(Document, docs[4])
        assert doc is not None
        doc.category, doc.text = "payment", "Payment confirmation for invoice IN/2026/04/000999, thank you."
        index_document(s, doc)
    assert ids(url, "complain") == []
    assert ids(url, "payment confirmation", Filters(category=["payment"])) == [docs[4]]


def test_snippet_escapes_html_and_marks_prefix_and_phrase() -> None:
    q = parse_query('wypow* "<b>"')
    out = snippet("Składam <b>wypowiedzenie</b> umowy.", q)
    assert "&lt;" in out and "<b>" not in out.replace("<mark>", "")
    assert "<mark>wypowiedzenie</mark>" in out
    assert isinstance(BadQuery("x"), MailroomError)


def test_sqlite_entries_are_keyed_by_receipt_time_and_0007_rekeys_old_rows(tmp_path: Path) -> None:
    import importlib.util

    from storage.db import get_engine
    from storage.search import date_key

    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url)
    older = add_letter(url, "pl", "complaint", "scan", datetime(2025, 1, 5, tzinfo=UTC), "q", "new", {},
                       "Reklamacja faktury.")
    newer = add_letter(url, "pl", "complaint", "scan", datetime(2026, 2, 1, tzinfo=UTC), "q", "new", {},
                       "Reklamacja faktury, druga.")
    oldest = add_letter(url, "pl", "complaint", "scan", datetime(2024, 6, 1, tzinfo=UTC), "q", "new", {},
                        "Reklamacja faktury, pierwsza.")
    with get_engine(url).begin() as conn:  # as revision 0005 left them: ids in indexing order
        for n, doc in enumerate([older, newer, oldest], start=1):
            conn.execute(text("UPDATE search_entries SET id = :n WHERE document_id = :d"), {"n": n, "d": doc})
        conn.execute(text("INSERT INTO search_fts(search_fts) VALUES ('rebuild')"))
    path = Path(__file__).parents[1] / "storage/migrations/versions/0007_search_speed.py"
    spec = importlib.util.spec_from_file_location("m0007", path)
    assert spec is not None and spec.loader is not None
    m0007 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m0007)
    with get_engine(url).begin() as conn:
        m0007._rekey_sqlite(conn)
    with get_engine(url).connect() as conn:
        keyed = dict(conn.execute(text("SELECT document_id, id FROM search_entries")).all())
    assert keyed[newer] == date_key(datetime(2026, 2, 1, tzinfo=UTC), newer)
    assert ids(url, "reklamacja", sort="date") == [newer, older, oldest]
    assert ids(url, "reklamacja", sort="date_asc") == [oldest, older, newer]
    assert ids(url, "faktury", Filters(date_from=date(2025, 1, 5), date_to=date(2025, 1, 5))) == [older]
    late = add_letter(url, "pl", "complaint", "scan", datetime(2025, 6, 1, tzinfo=UTC), "q", "new", {},
                      "Reklamacja faktury, spóźniona.")  # indexed last, sorted by its date
    assert ids(url, "reklamacja", sort="date") == [newer, late, older, oldest]
    assert ids(url, "", Filters(date_from=date(2025, 1, 1), date_to=date(2025, 12, 31)), sort="date") == [late, older]


def test_totals_paging_and_the_relevance_cap_on_many_matches(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import storage.search as search_module

    days = list(range(1, 29))
    docs = {day: add_letter(db_url, "pl", "complaint", "scan", datetime(2025, 2, day, tzinfo=UTC), "q", "new", {},
                            "Reklamacja faktury. " + "Reklamacja. " * (6 if day == 26 else day % 2)) for day in days}
    with create_engine(db_url).connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    with session_scope(db_url) as s:
        by_date = search(s, "reklamacja", None, sort="date", page=2, per_page=5)
        ranked = search(s, "reklamacja", None, sort="relevance", page=3, per_page=5)
        oldest = search(s, "faktury", Filters(date_to=date(2025, 2, 3)), sort="date_asc", per_page=2)
    assert [h.document_id for h in by_date.hits] == [docs[d] for d in range(23, 18, -1)]
    assert by_date.total == ranked.total == 28 and not by_date.total_capped
    assert [h.document_id for h in oldest.hits] == [docs[1], docs[2]] and oldest.total == 3
    # relevance ranks only the newest RANK_CANDIDATES matches (on PostgreSQL through a time window)
    monkeypatch.setattr(search_module, "RANK_CANDIDATES", 4)
    with session_scope(db_url) as s:
        top = search(s, "reklamacja", None, sort="relevance", per_page=10)
    assert {h.document_id for h in top.hits} == {docs[d] for d in (25, 26, 27, 28)}
    assert top.hits[0].document_id == docs[26]  # by far the most repetitions among the four
    assert top.total == 28


@pytest.mark.parametrize("value", [" :x", "a :b c", "'; DROP TABLE documents; --", "%(x)s", "100%"])
def test_filter_values_are_bound_never_spliced_into_sql(archive: tuple[str, list[str]], value: str) -> None:
    """Security review (issue 15): PostgreSQL search built its EXPLAIN with ``literal_binds``, so a filter value
    containing `` :x`` answered 500. Values are bound parameters on both engines, whatever they contain."""
    url, docs = archive
    assert ids(url, "umowy", Filters(customer=value)) == []
    assert ids(url, "umowy", Filters(queue=[value])) == []
    assert ids(url, "umowy", Filters(status=[value], category=[value])) == []
    assert ids(url, "umowy", Filters(entity=[f"invoice_no={value}"])) == []
    assert ids(url, f'"{value}" umowy') == []
    assert len(ids(url, "umowy")) >= 1  # and the archive is still there
