"""Trained category model, calibration/triage, agents' corrections as training data, customer linking,
and entity checksums/formats per language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect

from classifiers import classify, classify_with
from classifiers.entities import extract_entities
from classifiers.model import MODEL_DIR, CategoryModel, default_model, feature_view, load_model
from classifiers.training import (
    Example,
    corrections_from_db,
    expected_calibration_error,
    generated_examples,
    model_version,
    noisy,
    record_correction,
    train_textcat,
)
from ground.errors import MailroomError, NotFound
from ground.settings import CONFIG_DIR, Settings
from queues.routing import load_rules, route
from storage.customers import earlier_correspondence, link_customer, seed_demo_customers
from storage.db import get_engine, migrate, session_scope
from storage.models import Document, Envelope

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


# ---------------------------------------------------------------------------- shipped model
def test_shipped_model_is_small_loads_fast_once_and_is_recorded() -> None:
    size = sum(f.stat().st_size for f in MODEL_DIR.rglob("*") if f.is_file())
    assert size < 5_000_000
    model = load_model(MODEL_DIR)  # how long it takes: `python -m bench.budgets model`
    assert default_model() is default_model()
    assert model.version.startswith("textcat-")
    c = classify("Dzień dobry, od tygodnia nie działa internet, router miga na czerwono. Proszę o naprawę.")
    assert c.category == "fault_report"
    assert c.model_version == model.version
    assert any(model.version in r for r in c.reasons)


@pytest.mark.parametrize(("text", "category"), [
    ("Vážení, chci si ponechat své číslo a přejít k jinému operátorovi. Děkuji.", "number_porting"),
    ("Уважаемые господа, прошу удалить все мои персональные данные из ваших баз.", "gdpr_request"),
    ("Hello, I moved house last month; please send my letters to the new address below.", "data_change"),
    ("Szanowni Państwo, wypowiadam umowę z zachowaniem okresu wypowiedzenia.", "cancellation"),
])
def test_shipped_model_reads_wording_outside_the_generator(text: str, category: str) -> None:
    assert classify(text).category == category


def test_feature_view_folds_inflection_and_ocr_noise() -> None:
    assert feature_view("Reklamację") == feature_view("rek1amacje") == "reklam"
    assert feature_view("Číslo 123 456") == "cislo"


def test_low_confidence_goes_to_triage_and_confident_goes_to_its_queue() -> None:
    rules = load_rules(CONFIG_DIR / "routing.yaml")
    vague = classify("Dzień dobry, w nawiązaniu do rozmowy przesyłam pismo. Pozdrawiam")
    assert vague.confidence < rules.confidence_threshold
    assert route(vague, "scan", "", rules).queue == rules.low_confidence_queue
    sure = classify("Dotyczy: reklamacja faktury. Składam reklamację, kwota jest zawyżona, żądam korekty faktury.")
    assert sure.category == "complaint" and sure.confidence >= rules.confidence_threshold
    assert route(sure, "scan", "", rules).queue != rules.low_confidence_queue


def test_expected_calibration_error() -> None:
    assert expected_calibration_error([0.9] * 10, [True] * 9 + [False]) == pytest.approx(0.0)
    assert expected_calibration_error([1.0, 1.0], [False, False]) == pytest.approx(1.0)


def test_noise_is_reproducible_and_changes_text() -> None:
    import random

    text = "Zgłaszam reklamację faktury za październik, proszę o zwrot nadpłaty."
    a, b = noisy(text, random.Random(3)), noisy(text, random.Random(3))
    assert a == b and a != text


# ---------------------------------------------------------------------------- corrections → next model
def _add_document(s, doc_id: str, text: str, when: datetime, channel: str = "scan") -> Document:  # type: ignore[no-untyped-def]
    env = Envelope(id=f"env-{doc_id}", received_at=when, channel=channel, source_name=f"{doc_id}.pdf",
                   content_type="application/pdf", sha256=doc_id.ljust(64, "0"), size=1)
    doc = Document(id=doc_id, envelope_id=env.id, part_index=0, doc_index=0, part_sha256="0" * 64, pages=1,
                   text=text, language="pl", created_at=when)
    s.add_all([env, doc])
    s.flush()
    return doc


@pytest.fixture
def db(settings: Settings) -> str:
    migrate(settings.db_url)
    return settings.db_url


def test_migration_0002_creates_tables_and_column(db: str) -> None:
    insp = inspect(get_engine(db))
    assert {"customers", "training_examples"} <= set(insp.get_table_names())
    assert "customer_id" in {c["name"] for c in insp.get_columns("documents")}


def test_reclassification_becomes_training_example_that_changes_next_model(db: str) -> None:
    text = "Zamawiam trzy koszulki z logo Telewave w rozmiarze XL na firmowy piknik."
    with session_scope(db) as s:
        _add_document(s, "d1", text, NOW)
    base = generated_examples(seed=5, per_pair=3, split="default", noise_share=0.0, phrases=False)
    before = CategoryModel(train_textcat(base, seed=5, epochs=3), "before")
    assert max(before.textcat_probs(text).items(), key=lambda kv: kv[1])[0] != "other"

    with session_scope(db) as s:
        record_correction(s, "d1", "other", "agent1", NOW)
    with session_scope(db) as s:
        corrections = corrections_from_db(s)
    assert corrections == [Example(text, "other", "pl")]
    after_nlp = train_textcat(base + corrections * 4, seed=5, epochs=3)
    after = CategoryModel(after_nlp, model_version(after_nlp))
    assert max(after.textcat_probs(text).items(), key=lambda kv: kv[1])[0] == "other"
    assert after.version != model_version(before.nlp)
    assert classify_with(text, after).model_version == after.version


def test_record_correction_rejects_unknown_category_and_document(db: str) -> None:
    with session_scope(db) as s:
        _add_document(s, "d2", "tekst", NOW)
        with pytest.raises(MailroomError):
            record_correction(s, "d2", "spam", "agent1", NOW)
        with pytest.raises(NotFound):
            record_correction(s, "nope", "other", "agent1", NOW)


def test_training_is_reproducible() -> None:
    data = generated_examples(seed=7, per_pair=2, split="default", noise_share=0.5)
    assert model_version(train_textcat(data, seed=7, epochs=2)) == model_version(train_textcat(data, seed=7, epochs=2))


# ---------------------------------------------------------------------------- customers
def test_link_customer_by_each_key_and_earlier_correspondence(db: str) -> None:
    with session_scope(db) as s:
        assert seed_demo_customers(s) > 0
        assert seed_demo_customers(s) == 0  # idempotent
        assert link_customer(s, {"customer_id": ["MR-2345678"]}) == "MR-2345678"
        assert link_customer(s, {"customer_id": ["MR-0000001"], "phone": ["+48501222333"]}) == "MR-3456789"
        assert link_customer(s, {"email": ["Jana.Novakova@seznam.cz"]}) == "MR-5678901"
        assert link_customer(s, {"nip": ["1234563218"]}) == "MR-4567890"
        assert link_customer(s, {"inn": ["7707083893"]}) == "MR-8901234"
        assert link_customer(s, {"phone": ["+48600000000"], "email": ["x@y.pl"]}) is None
        old = _add_document(s, "e1", "stary list", NOW - timedelta(days=9), channel="fax")
        mail = _add_document(s, "e2", "e-mail", NOW - timedelta(days=2), channel="email")
        new = _add_document(s, "e3", "nowy list", NOW)
        other = _add_document(s, "e4", "inny klient", NOW - timedelta(days=1))
        for d in (old, mail, new):
            d.customer_id = "MR-2345678"
        other.customer_id = "MR-3456789"
        s.flush()
        earlier = earlier_correspondence(s, "MR-2345678", "e3")
        assert [d.id for d in earlier] == ["e2", "e1"]
        assert {d.envelope.channel for d in earlier} == {"email", "fax"}
        assert earlier_correspondence(s, "MR-2345678", "e1") == []


# ---------------------------------------------------------------------------- checksums, amounts, dates
@pytest.mark.parametrize(("lang", "text", "kind", "value"), [
    ("pl", "PESEL 44051401359", "pesel", "44051401359"),
    ("pl", "PESEL 44051401358", "pesel", None),
    ("pl", "NIP 123-456-32-18", "nip", "1234563218"),
    ("pl", "NIP 123-456-32-19", "nip", None),
    ("cs", "IČO 25596641", "ico", "25596641"),
    ("cs", "IČO 25596642", "ico", None),
    ("ru", "ИНН 7707083893", "inn", "7707083893"),
    ("ru", "ИНН 7707083894", "inn", None),
    ("ru", "ИНН 500100732259", "inn", "500100732259"),
    ("ru", "ИНН 500100732258", "inn", None),
    ("pl", "konto PL61 1090 1014 0000 0712 1981 2874", "iban", "PL61109010140000071219812874"),
    ("pl", "konto PL62 1090 1014 0000 0712 1981 2874", "iban", None),
    ("en", "account GB82 WEST 1234 5698 7654 32", "iban", "GB82WEST12345698765432"),
    ("en", "account GB83 WEST 1234 5698 7654 32", "iban", None),
])
def test_checksums_valid_and_invalid(lang: str, text: str, kind: str, value: str | None) -> None:
    assert extract_entities(text, lang)[kind] == ([value] if value else [])


@pytest.mark.parametrize(("lang", "text", "value"), [
    ("pl", "kwota 149,99 zł", "149.99 PLN"), ("pl", "kwota 1 250,00 zł", "1250.00 PLN"),
    ("pl", "kwota 1 250,00 PLN", "1250.00 PLN"), ("cs", "částka 1 250,00 Kč", "1250.00 CZK"),
    ("cs", "částka 899 Kč", "899.00 CZK"), ("ru", "сумма 3 400 руб.", "3400.00 RUB"),
    ("ru", "сумма 3 400,50 ₽", "3400.50 RUB"), ("ru", "долг 15 196,50 Р был погашен", "15196.50 RUB"),
    ("en", "amount 1,250.00 EUR", "1250.00 EUR"), ("en", "a charge of £12.50", "12.50 GBP"),
    ("en", "a charge of €12.50", "12.50 EUR"),
])
def test_amount_formats_per_language(lang: str, text: str, value: str) -> None:
    assert extract_entities(text, lang)["amount"] == [value]


@pytest.mark.parametrize(("lang", "text"), [
    ("pl", "dnia 12.10.2026"), ("pl", "12 października 2026 r."), ("pl", "12 pazdziernika 2026"),
    ("cs", "dne 12. října 2026"), ("cs", "12.10.2026"), ("ru", "12 октября 2026 г."), ("ru", "12.10.2026 г."),
    ("en", "12 October 2026"), ("en", "October 12, 2026"), ("en", "2026-10-12"),
])
def test_date_formats_per_language(lang: str, text: str) -> None:
    assert extract_entities(text, lang)["date"] == ["2026-10-12"]


@pytest.mark.parametrize(("lang", "text", "field", "value"), [
    ("ru", "Номер клиента МВ-4232319", "customer_id", "MR-4232319"),
    ("pl", "e-mail: ewa.kaminska©biuro.pl", "email", "ewa.kaminska@biuro.pl"),
    ("en", "E-mail: Charlotte.robertsQgreenway.co.uk", "email", "charlotte.roberts@greenway.co.uk"),
    ("pl", "NIP 822-47-69-749\ntel. 798 519 459", "phone", "+48798519459"),
])
def test_ocr_slips_seen_in_the_benchmark(lang: str, text: str, field: str, value: str) -> None:
    assert value in extract_entities(text, lang)[field]


def test_model_dir_constant_points_into_package() -> None:
    assert MODEL_DIR == Path(__file__).resolve().parent.parent / "classifiers" / "model"
