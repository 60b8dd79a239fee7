"""Inflection-aware archive search (migration 0013, storage/lemmas.py) on SQLite FTS5 and on PostgreSQL.

The example letters are written here; none comes from the evaluation set (evaluation/README.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from storage import lemmas
from storage.db import alembic_config, get_engine, migrate, session_scope
from storage.lemmas import lemma_stream, query_lemmas
from storage.models import Document
from storage.search import (
    fold,
    fts5_expression,
    index_document,
    parse_query,
    reindex,
    search,
    snippet,
    tsquery_expression,
)
from tests.test_search import add_letter

WHEN = datetime(2026, 6, 1, 9, tzinfo=UTC)
PL = ("Dzień dobry, składałem już dwie reklamacje w sprawie rachunków za internet, a w odpowiedzi na "
      "ostatnią reklamację dostałem tylko kolejny rachunek. Proszę o zawieszenie usługi do czasu naprawy modemu.")
CS = ("Dobrý den, posílám stížnost na vyúčtování: za měsíc květen mi byly naúčtovány dva poplatky za "
      "instalaci. Prosím o opravu faktury a o vrácení přeplatku.")
RU = ("Добрый день! Прошу вернуть деньги за неоказанные услуги: мастер так и не пришёл. "
      "Задолженности по договорам у меня нет, все счета оплачены.")
EN = ("The engineer visited twice, and both visits were charged to my account. Please refund the charges "
      "and send corrected invoices.")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'lemmas.db'}"
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


@pytest.fixture
def letters(db_url: str) -> tuple[str, dict[str, str]]:
    docs = {lang: add_letter(db_url, lang, "complaint", "email", WHEN, "complaints", "new", {}, body)
            for lang, body in (("pl", PL), ("cs", CS), ("ru", RU), ("en", EN))}
    return db_url, docs


def ids(url: str, q: str) -> list[str]:
    with session_scope(url) as s:
        return [h.document_id for h in search(s, q, None, sort="date", per_page=50).hits]


def snippets(url: str, q: str) -> list[str]:
    with session_scope(url) as s:
        return [h.snippet for h in search(s, q).hits]


# --------------------------------------------------------------------------- lemmatising


def test_the_lemma_stream_runs_parallel_to_the_folded_text() -> None:
    for text_, lang in ((PL, "pl"), (CS, "cs"), (RU, "ru"), (EN, "en"), (PL + " " + RU, None),
                        ("Faktura FV/2026/05/001122 z 3.05.2026 na 149,99 zł — Nr MR-1234567.", "pl"), ("", "pl")):
        lemmas, folded = lemma_stream(text_, lang).split(), fold(text_).split()
        assert len(lemmas) == len(folded), (lang, lemmas, folded)
    words = dict(zip(fold(PL).split(), lemma_stream(PL, "pl").split(), strict=True))
    assert words["reklamacje"] == "reklamacja" and words["rachunkow"] == "rachunek" and words["uslugi"] == "usluga"
    assert dict(zip(fold(RU).split(), lemma_stream(RU, "ru").split(), strict=True))["счета"] == "счет"  # ё → е
    # numbers and identifiers are never lemmatised; Latin words of a Russian letter keep their form
    assert lemma_stream("2026 FV2026 invoices", "ru") == "2026 fv2026 invoices"


def test_the_letter_language_decides_the_lemmatiser_and_cyrillic_is_russian() -> None:
    assert lemma_stream("umowy", "pl") == "umowa"
    assert lemma_stream("umowy", "en") == "umowy"  # not an English word: kept as written
    assert lemma_stream("umowy", None) == "umowy"
    assert lemma_stream("договоры", "pl") == "договор"  # a Cyrillic word is Russian in any letter


def test_the_prebuilt_tries_give_the_lemmas_of_simplemmas_tables(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """`make install` builds the tries; they must lemmatise exactly as the tables they are made from."""
    import simplemma

    assert all((lemmas.tries_dir() / f"{lang}.dic").is_file() for lang in lemmas.SIMPLEMMA_LANGUAGES), \
        "make install builds the tries (python -m storage.lemmas)"
    from simplemma.strategies.dictionaries.trie_dictionary_factory import TrieDictionaryFactory

    assert isinstance(lemmas.trie_factory(), TrieDictionaryFactory)
    on_tries = lemmas._simplemma_lemmatizer()
    for text_, lang in ((CS, "cs"), (EN, "en"), (CS + " " + EN, "cs"), (EN + " " + CS, "en")):
        for word in lemmas.TOKEN.findall(text_.lower()):
            assert on_tries.lemmatize(word, lang=lang) == simplemma.lemmatize(word, lang=lang), (lang, word)
    # built elsewhere: whole files, and a second build leaves them as they are
    built = lemmas.build_tries(tmp_path / "tries")
    first = {p.name: p.stat().st_mtime_ns for p in built.iterdir()}
    assert sorted(first) == ["cs.dic", "en.dic"]
    assert {p.name: p.stat().st_mtime_ns for p in lemmas.build_tries(built).iterdir()} == first
    # without the tries (a fresh checkout before make) the tables are decoded, with the same lemmas
    monkeypatch.setattr(lemmas, "tries_dir", lambda: tmp_path / "none")
    assert lemmas.trie_factory() is None
    on_tables = lemmas._simplemma_lemmatizer()
    assert on_tables.lemmatize("invoices", lang="en") == on_tries.lemmatize("invoices", lang="en") == "invoice"


def test_a_query_word_is_lemmatised_in_every_language_it_may_be_in() -> None:
    assert query_lemmas("faktury")[0] == "faktury"  # its own form first
    assert "faktura" in query_lemmas("faktury")  # Polish and Czech
    assert "invoice" in query_lemmas("invoices")  # English
    assert "smlouva" in query_lemmas("smlouvy")  # Czech
    assert query_lemmas("договора") == ("договора", "договор")  # Cyrillic: Russian only
    assert query_lemmas("2026") == ("2026",)


def test_query_expressions_keep_exact_forms_prefixes_and_phrases() -> None:
    q = parse_query('umowy =faktury wypow* "rachunek za"')
    expr = fts5_expression(q)
    assert '"umowy" OR "umowa"' in expr and 'folded : "faktury"' in expr and 'folded : "wypow" *' in expr
    assert 'folded : "rachunek za"' in expr and 'lemmas : "rachunek za"' in expr
    tsq = tsquery_expression(q)
    assert "'éumowa'" in tsq and "('faktury')" in tsq and "'wypow':*" in tsq and " <-> " in tsq
    assert "'éfaktury'" not in tsq  # =faktury: this form only


# --------------------------------------------------------------------------- both engines


def test_dictionary_forms_find_inflected_forms_in_each_language(letters: tuple[str, dict[str, str]]) -> None:
    url, docs = letters
    for lang, words in {"pl": ["reklamacja", "rachunek", "usługa", "naprawa", "modem", "odpowiedź"],
                        "cs": ["stížnost", "poplatek", "faktura", "vrácení", "přeplatek"],
                        "ru": ["услуга", "договор", "задолженность", "счёт", "счет", "деньги"],
                        "en": ["visit", "charge", "invoice", "refund", "account"]}.items():
        for word in words:
            assert docs[lang] in ids(url, word), (lang, word)
    assert ids(url, "reklamacji") == [docs["pl"]]  # any form finds the others
    assert ids(url, "zawieszenie usługa") == [docs["pl"]]
    assert ids(url, "reklamacja -rachunek") == []  # an excluded word excludes its forms too
    assert ids(url, "reklamacja -faktura") == [docs["pl"]]
    assert set(ids(url, "reklamacja OR stížnost")) == {docs["cs"], docs["pl"]}


def test_exact_forms_prefixes_and_phrases_keep_working(letters: tuple[str, dict[str, str]]) -> None:
    url, docs = letters
    assert ids(url, "reklamacje") == [docs["pl"]]  # the form as written, as before
    assert ids(url, "=reklamacje") == [docs["pl"]]
    assert ids(url, "=reklamacja") == []  # "=": only this form
    assert ids(url, '="dwie reklamacje"') == [docs["pl"]]
    assert ids(url, "reklam*") == [docs["pl"]]
    # a phrase matches the words in that order, in any of their forms
    assert ids(url, '"dwie reklamacje"') == [docs["pl"]]
    assert ids(url, '"reklamacja w sprawa rachunek"') == [docs["pl"]]
    assert ids(url, '"zawieszenie usługa"') == [docs["pl"]]
    assert ids(url, '"usługa zawieszenie"') == []
    assert ids(url, '"usługa modem"') == []  # both words occur, not next to each other
    assert ids(url, '"неоказанный услуга"') == [docs["ru"]]
    assert ids(url, '"услуга неоказанный"') == []
    assert ids(url, '"charge to my account"') == [docs["en"]]
    assert ids(url, '"poplatek za instalace"') == [docs["cs"]]


def test_highlights_mark_every_inflected_match(letters: tuple[str, dict[str, str]]) -> None:
    url, _ = letters
    [pl] = snippets(url, "reklamacja")
    assert "<mark>reklamacje</mark>" in pl and "<mark>reklamację</mark>" in pl  # both forms, original spelling
    [ru] = snippets(url, "счёт")
    assert "<mark>счета</mark>" in ru
    [en] = snippets(url, '"charge to my account"')
    assert "<mark>charged</mark> <mark>to</mark> <mark>my</mark> <mark>account</mark>" in en
    [exact] = snippets(url, "=rachunek")
    assert "<mark>rachunek</mark>" in exact and "<mark>rachunków</mark>" not in exact
    [lemma] = snippets(url, "rachunek")
    assert "<mark>rachunek</mark>" in lemma and "<mark>rachunków</mark>" in lemma
    # escaped; the CLI's snippet (no language given) marks inflected forms too
    q = parse_query("faktura")
    assert snippet("Faktury <b>faktur</b> & co", q) == \
        "<mark>Faktury</mark> &lt;b&gt;<mark>faktur</mark>&lt;/b&gt; &amp; co"
    assert snippet("Faktury, faktur.", q, mark=("[", "]"), escape=False, language="pl") == "[Faktury], [faktur]"


def test_a_russian_query_finds_russian_forms(letters: tuple[str, dict[str, str]]) -> None:
    url, docs = letters
    assert ids(url, "договор") == [docs["ru"]]  # договорам
    assert ids(url, "ДОЛГ") == []  # another word: no match
    assert ids(url, "оплатить") == [docs["ru"]]  # оплачены (a participle of the verb)
    assert ids(url, "счёт") == ids(url, "счет") == [docs["ru"]]
    assert ids(url, '"все счёт оплатить"') == [docs["ru"]]
    assert ids(url, "prijít") == []  # a Latin word never reaches a Russian one


def test_the_letter_language_decides_and_reclassification_reindexes(db_url: str) -> None:
    doc = add_letter(db_url, "en", "other", "scan", WHEN, "q", "new", {}, "Wypowiedzenia reklamacji nie przyjmuję.")
    assert ids(db_url, "reklamacja") == []  # read as English: Polish forms are not lemmatised
    assert ids(db_url, "reklamacji") == [doc]
    with session_scope(db_url) as s:
        d = s.get(Document, doc)
        assert d is not None
        d.language = "pl"
        index_document(s, d)
    assert ids(db_url, "reklamacja") == [doc]
    assert ids(db_url, '"wypowiedzenie reklamacja"') == [doc]


def test_reindex_and_the_upgrade_fill_lemmas_of_existing_entries(letters: tuple[str, dict[str, str]]) -> None:
    url, docs = letters
    engine = get_engine(url)
    with engine.begin() as conn:  # entries as an older version left them: no lemmas
        conn.execute(text("UPDATE search_entries SET lemmas = ''"))
    assert ids(url, "reklamacje") == [docs["pl"]] and ids(url, "reklamacja") == []  # exact forms only
    with session_scope(url) as s:
        assert reindex(s) == 4  # mailroom search --reindex
    assert ids(url, "reklamacja") == [docs["pl"]]
    # the upgrade from 0009: the column, the index, and every existing entry's lemmas
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0009")
    with engine.connect() as conn:
        columns = [r[1] for r in conn.execute(text("PRAGMA table_info(search_entries)"))] if \
            engine.dialect.name == "sqlite" else list(conn.execute(text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'search_entries'")).scalars())
    assert "lemmas" not in columns
    migrate(url)
    assert ids(url, "reklamacja") == [docs["pl"]] and ids(url, "договор") == [docs["ru"]]
    assert ids(url, '"zawieszenie usługa"') == [docs["pl"]]
