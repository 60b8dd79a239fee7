"""Operator identifiers as configuration (ground/config/entities.yaml) and the checksummed national ids.

Every value here is made up for these tests; none comes from the independent evaluation set
(evaluation/letters), which is only ever measured (tests/test_evaluation_set.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from classifiers.entities import extract_entities
from classifiers.entity_config import entity_config, label_regex, load_entity_config
from ground.errors import ConfigError
from ground.records import ENTITY_NAMES
from ground.settings import CONFIG_DIR, Settings
from tests.test_entities_labels import assert_only

EVALUATION = Path(__file__).resolve().parents[1] / "evaluation" / "letters"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "entities.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- the shipped file and the setting


def test_shipped_file_is_valid_and_is_the_default_setting() -> None:
    assert Settings().entities == CONFIG_DIR / "entities.yaml"
    config = load_entity_config(CONFIG_DIR / "entities.yaml")
    assert set(config.entities) == {"customer_id", "contract_no", "invoice_no"}
    for spec in config.entities.values():
        assert set(spec.labels) == {"pl", "cs", "ru", "en"}
    assert {"contract_no", "regon", "rodne_cislo", "snils", "ogrn"} <= set(ENTITY_NAMES)
    assert ENTITY_NAMES[:11] == ("customer_id", "phone", "invoice_no", "amount", "iban", "pesel", "nip", "ico",
                                 "inn", "email", "date")  # the old order is kept, new names are appended


# ---------------------------------------------------------------- invalid files: a clear error naming the entity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("entities:\n  customer_id:\n    patterns:\n      - name: acme\n        regex: 'ACME-(\\d+'\n",
         ["entity 'customer_id'", "pattern 'acme'", "does not compile"]),
        ("entities:\n  invoice_no:\n    lables: {en: ['invoice no.']}\n",
         ["entity 'invoice_no'", "lables", "unknown key"]),
        ("entities:\n  contract:\n    labels: {en: ['contract no.']}\n",
         ["entity 'contract'", "contract_no"]),
        ("entities:\n  customer_id:\n    labels: {polish: ['nr klienta']}\n",
         ["entity 'customer_id'", "'polish' is not an ISO 639-1 language code"]),
        ("entities:\n  customer_id:\n    patterns:\n      - name: acme\n        regex: 'ACME(\\d+)'\n"
         "        template: 'ACME-{number}'\n",
         ["entity 'customer_id'", "pattern 'acme'", "number"]),
        ("entities:\n  customer_id:\n    value: '[0-9'\n", ["entity 'customer_id'", "value", "does not compile"]),
        ("entities:\n  customer_id:\n    min_length: 12\n    max_length: 6\n", ["entity 'customer_id'", "min_length"]),
        ("entities:\n  customer_id:\n    labels: {pl: ['nr klienta'\n", ["not valid YAML", "line"]),
    ],
)
def test_invalid_file_gives_a_clear_error(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_entity_config(path)
    message = err.value.reason
    assert message.startswith(str(path))
    for part in expected:
        assert part in message, message


def test_broken_file_stops_the_start(tmp_path: Path) -> None:
    """`mailroom process` with a broken MAILROOM_ENTITIES stops at once with the entity named (exit 2)."""
    path = _write(tmp_path, "entities:\n  invoice_no:\n    patterns:\n      - name: x\n        regex: '(?P<'\n")
    letter = tmp_path / "letter.eml"
    letter.write_text("From: a@example.org\nSubject: x\n\nNr faktury 2024/11/5\n", encoding="utf-8")
    env = {"MAILROOM_DATA": str(tmp_path / "data"), "MAILROOM_ENTITIES": str(path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "mailroom.cli", "process", "--json", str(letter)],
                          capture_output=True, text=True, env=env, timeout=300,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "entity 'invoice_no'" in proc.stderr and "pattern 'x'" in proc.stderr
    assert proc.stdout == ""


# ---------------------------------------------------------------- a custom operator from a temp config file

ACME = """\
between: ['nr', '#']
entities:
  customer_id:
    labels:
      de: ['Kundennummer', 'Kunden-Nr.']
      pl: ['kod* abonenta']
    patterns:
      - name: acme
        regex: '(?<![\\w-])ACME[ ]?(?P<digits>\\d{3}[ ]?\\d{3})(?!\\d)'
        template: 'ACME{digits}'
  invoice_no:
    labels:
      en: ['statement']
    value: '(?P<value>S\\d{8})\\b'
"""


def test_custom_operator_patterns_from_a_temp_file(tmp_path: Path) -> None:
    config = load_entity_config(_write(tmp_path, ACME))
    text = ("Kundennummer: 4471-AX-02. Proszę o zmianę; mój kod abonenta: ZB 44810.\n"
            "Our ref ACME 771 204; your statement # S20240917 and statement 2024 for July.\n"
            "Nr klienta 99120034 is not a label of this operator.")
    found = extract_entities(text, "en", config=config)
    assert found["customer_id"] == ["4471-AX-02", "ACME771204", "ZB 44810"]
    assert found["invoice_no"] == ["S20240917"]
    assert found["contract_no"] == []
    # the same file through the setting (entity_config re-reads a changed file)
    assert entity_config(tmp_path / "entities.yaml").entities["customer_id"].patterns[0].name == "acme"


def test_a_file_without_labels_finds_nothing_by_label(tmp_path: Path) -> None:
    config = load_entity_config(_write(tmp_path, "entities: {}\n"))
    found = extract_entities("Nr klienta: 55310992, faktura nr 2024/77/118", "pl", config=config)
    assert found["customer_id"] == found["invoice_no"] == found["contract_no"] == []


# ---------------------------------------------------------------- the shipped labels in the four languages

LABELLED = [
    # (language, text, entity, value) — every value made up for this test
    ("pl", "Nr klienta: KX-5531092\n", "customer_id", "KX-5531092"),
    ("pl", "Mój numer klienta to 88120457.", "customer_id", "88120457"),
    ("pl", "posługuję się numerem klienta 3320-118-7, proszę o odpowiedź", "customer_id", "3320-118-7"),
    ("pl", "ID klienta: ab77c91e", "customer_id", "ab77c91e"),
    ("pl", "Numer klienta:\n  QW 30418\n", "customer_id", "QW 30418"),
    ("pl", "dotyczy nr umowy ZU/2021/00417 z dnia 3 maja", "contract_no", "ZU/2021/00417"),
    ("pl", "Wypowiadam umowę nr 5512/K/2020.", "contract_no", "5512/K/2020"),
    ("pl", "Zgodnie z zapisami umowy nr. 63-BB-7719, …", "contract_no", "63-BB-7719"),
    ("pl", "Reklamuję fakturę nr FX 2024/88812 na kwotę", "invoice_no", "FX 2024/88812"),
    ("pl", "w sprawie nr faktury 000771/09/2024;", "invoice_no", "000771/09/2024"),
    ("cs", "Číslo zákazníka: 7003 4419", "customer_id", "7003 4419"),
    ("cs", "zákaznické číslo Z-88231,", "customer_id", "Z-88231"),
    ("cs", "pod zákaznickým číslem 55-1189-02 evidujete", "customer_id", "55-1189-02"),
    ("cs", "Cislo zakaznika 30117702 (bez diakritiky)", "customer_id", "30117702"),
    ("cs", "číslo smlouvy S/2019/7781", "contract_no", "S/2019/7781"),
    ("cs", "vypovídám smlouvu č. 44871-B k 31. 12.", "contract_no", "44871-B"),
    ("cs", "č. smlouvy: 2020-0917-KL", "contract_no", "2020-0917-KL"),
    ("cs", "reklamuji fakturu č. 2024-778812.", "invoice_no", "2024-778812"),
    ("cs", "Číslo faktury: 7710023345", "invoice_no", "7710023345"),
    ("cs", "k faktuře č. 91002233 jsem zaplatil", "invoice_no", "91002233"),
    ("ru", "Лицевой счёт: 500123987", "customer_id", "500123987"),
    ("ru", "по лицевому счёту № 77-190-332 прошу", "customer_id", "77-190-332"),
    ("ru", "л/с 0044712", "customer_id", "0044712"),
    ("ru", "Номер абонента: АБ-55120", "customer_id", "АБ-55120"),
    ("ru", "номер договора Д-2020/4471 от 1 июня", "contract_no", "Д-2020/4471"),
    ("ru", "расторгнуть договор № 17/331-Р с 1 числа", "contract_no", "17/331-Р"),
    ("ru", "по договору № 4410-К оплачено", "contract_no", "4410-К"),
    ("ru", "Счёт № 4471/24 оплачен", "invoice_no", "4471/24"),
    ("ru", "счёт-фактура № 0091-ТК от 2 марта", "invoice_no", "0091-ТК"),
    ("en", "Customer ID: QZ-00412-7", "customer_id", "QZ-00412-7"),
    ("en", "my customer number is 66190023.", "customer_id", "66190023"),
    ("en", "Account number: 4471 0093 21", "customer_id", "4471 0093 21"),
    ("en", "Account no. 12-88412", "customer_id", "12-88412"),
    ("en", "Contract number CN/88/2022", "contract_no", "CN/88/2022"),
    ("en", "Agreement no. AGR-55102", "contract_no", "AGR-55102"),
    ("en", "Invoice number 2024/INV/00412 is wrong", "invoice_no", "2024/INV/00412"),
    ("en", "Invoice no.: 7781023", "invoice_no", "7781023"),
    ("en", "Invoice #A-99120", "invoice_no", "A-99120"),
    ("en", "Invoice: 55-20-1193", "invoice_no", "55-20-1193"),
]


@pytest.mark.parametrize(("lang", "text", "entity", "value"), LABELLED)
def test_labels_in_four_languages(lang: str, text: str, entity: str, value: str) -> None:
    assert_only(text, lang, entity, value)


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("pl", "Proszę podać nr klienta."),
        ("pl", "nr umowy z dnia 12.03.2024"),  # a date is not a contract number
        ("pl", "numer klienta 12"),  # too short
        ("cs", "číslo zákazníka najdete na faktuře"),
        ("ru", "номер договора от 5 мая"),
        ("en", "Invoice number: see the attached copy"),
        ("en", "the invoice 2024 was too high"),  # "invoice:" needs its colon
        ("en", "Customer number " + "7" * 31),  # longer than 30 characters
    ],
)
def test_a_label_without_an_id_finds_nothing(lang: str, text: str) -> None:
    found = extract_entities(text, lang)
    assert found["customer_id"] == found["contract_no"] == found["invoice_no"] == [], found


def test_invoice_shapes_without_a_label_and_the_legacy_customer_shape() -> None:
    text = "Dotyczy FV/2024/03/000317 oraz INV-2024-000918, a także FA 55/2023; klient MR 765 4321."
    found = extract_entities(text, "pl")
    assert found["invoice_no"] == ["FA 55/2023", "FV/2024/03/000317", "INV-2024-000918"]
    assert found["customer_id"] == ["MR-7654321"]
    assert extract_entities("fv/2024/03/000317", "pl")["invoice_no"] == ["FV/2024/03/000317"]
    assert extract_entities("FV-12-88", "pl")["invoice_no"] == []  # no year: not an invoice shape on its own


def test_longest_label_wins_and_each_value_is_read_once() -> None:
    found = extract_entities("Лицевой счёт № 30021177, счёт № 88/2024-К", "ru")
    assert found["customer_id"] == ["30021177"]
    assert found["invoice_no"] == ["88/2024-К"]
    found = extract_entities("Customer number: 48 600 123 456", "en")
    assert found["customer_id"] == ["48 600 123 456"] and found["phone"] == []


def test_a_between_word_never_eats_the_start_of_the_value() -> None:
    """"n", "je" and "č." may stand between label and value, but the C of "C-7781-0032" is the value's."""
    assert extract_entities("(nr klienta C-7781-0032), prosím", "pl")["customer_id"] == ["C-7781-0032"]
    assert extract_entities("číslo zákazníka N-3380-11", "cs")["customer_id"] == ["N-3380-11"]
    assert extract_entities("číslo zákazníka je Q-3380", "cs")["customer_id"] == ["Q-3380"]
    assert extract_entities("faktura č. C 2024/55", "cs")["invoice_no"] == ["C 2024/55"]
    assert extract_entities("Nr klienta nr. 55100239", "pl")["customer_id"] == ["55100239"]


def test_a_label_without_a_value_hides_no_other_label() -> None:
    """"UMOWY" closing a heading and "Nr" opening the next line are not the label "umowy nr"."""
    found = extract_entities("WYPOWIEDZENIE UMOWY\n\nNr klienta: ZX-5512093\n", "pl")
    assert found["customer_id"] == ["ZX-5512093"] and found["contract_no"] == []


def test_an_iban_after_account_number_stays_an_iban() -> None:
    found = extract_entities("Account number: GB82 WEST 1234 5698 7654 32", "en")
    assert found["iban"] == ["GB82WEST12345698765432"]
    assert found["customer_id"] == []


def test_label_pattern_syntax() -> None:
    import regex

    assert regex.fullmatch(label_regex("numer* klienta"), "numerem klienta", regex.IGNORECASE)
    assert regex.fullmatch(label_regex("nr klienta"), "Nr.klienta", regex.IGNORECASE)
    assert regex.fullmatch(label_regex("číslo zákazníka"), "cislo zakaznika", regex.IGNORECASE)
    assert not regex.search(label_regex("customer ref."), "customer reference", regex.IGNORECASE)
    assert not regex.search(label_regex("invoice:"), "invoice 2024", regex.IGNORECASE)


# ---------------------------------------------------------------- checksummed ids: reported only when valid


@pytest.mark.parametrize(
    ("lang", "text", "entity", "value"),
    [
        ("pl", "REGON: 730914551", "regon", "730914551"),
        ("pl", "REGON 58201371837122", "regon", "58201371837122"),
        ("cs", "rodné číslo: 785412/3519", "rodne_cislo", "7854123519"),
        ("cs", "RČ 9103304386", "rodne_cislo", "9103304386"),
        ("cs", "narozena, 785412/3519, bytem Brno", "rodne_cislo", "7854123519"),  # the slash form alone
        ("en", "Birth number (rodné číslo) 910330/4386", "rodne_cislo", "9103304386"),
        ("cs", "nar. 12. 5. 1948, r. č. 480512/117, bytem", "rodne_cislo", "480512117"),  # 9 digits, before 1954
        ("cs", "rod. č.: 9103304386", "rodne_cislo", "9103304386"),
        ("ru", "СНИЛС 148-203-577 56", "snils", "14820357756"),
        ("ru", "страховой номер индивидуального лицевого счёта: 148-203-577 56", "snils", "14820357756"),
        ("ru", "SNILS: 14820357756", "snils", "14820357756"),
        ("ru", "ОГРН 1157746238319", "ogrn", "1157746238319"),
        ("ru", "ОГРНИП: 314774600100524", "ogrn", "314774600100524"),
        ("ru", "реквизиты: 1157746238319", "ogrn", "1157746238319"),  # a 13-digit run in a Russian letter
    ],
)
def test_checksummed_ids_valid(lang: str, text: str, entity: str, value: str) -> None:
    found = extract_entities(text, lang)
    assert found[entity] == [value], found
    assert found["customer_id"] == found["phone"] == [], found


@pytest.mark.parametrize(
    ("lang", "text", "entity"),
    [
        ("pl", "REGON: 730914552", "regon"),
        ("pl", "REGON 58201371837123", "regon"),
        ("pl", "tel. 730 914 551", "regon"),  # a valid REGON without its label is a phone number here
        ("cs", "rodné číslo: 785412/3518", "rodne_cislo"),
        ("cs", "RČ 9113304386", "rodne_cislo"),  # month 13
        ("ru", "СНИЛС 148-203-577 57", "snils"),
        ("ru", "ОГРН 1157746238318", "ogrn"),
        ("ru", "ОГРНИП: 314774600100525", "ogrn"),
    ],
)
def test_checksummed_ids_invalid(lang: str, text: str, entity: str) -> None:
    assert extract_entities(text, lang)[entity] == []


def test_made_up_values_are_not_from_the_evaluation_set() -> None:
    """The rule of the independent set: nothing of it is used here, not even a value."""
    if not EVALUATION.exists():
        pytest.skip("no evaluation set in this tree")
    corpus = "\n".join(p.read_text(encoding="utf-8") for p in EVALUATION.glob("*/*.txt"))
    values = [v for _, _, _, v in LABELLED] + ["730914551", "58201371837122", "785412/3519", "910330/4386",
                                                 "148-203-577 56", "1157746238319", "314774600100524"]
    assert [v for v in values if v in corpus] == []


# ---------------------------------------------------------------- customer linking, the archive filter, cases


def _letter(path: Path, subject: str, body: str, message_id: str) -> str:
    path.write_text(f"From: Klient <klient@example.org>\nTo: bok@example.com\nSubject: {subject}\n"
                    f"Message-ID: <{message_id}@example.org>\nDate: Mon, 2 Mar 2026 09:00:00 +0100\n"
                    f"Content-Type: text/plain; charset=utf-8\n\n{body}\n", encoding="utf-8")
    return str(path)


def test_another_operators_numbers_link_customers_filter_the_archive_and_join_cases(ctx, tmp_path: Path) -> None:
    from mailroom.process import process_path
    from storage.db import session_scope
    from storage.models import Customer, Document, WorkItem
    from storage.search import Filters, search

    with session_scope(ctx.db_url) as s:
        s.add(Customer(id="KX-5531092", name="Jan Testowy", segment="individual", language="pl"))
    first = _letter(tmp_path / "a.eml", "Reklamacja", "Szanowni Państwo,\nnr klienta KX 5531092, nr umowy "
                    "ZU/2021/00417. Reklamuję fakturę nr 000771/09/2024 – kwota jest za wysoka.", "a1")
    # another matter of the same customer, found by the contract number of the first letter alone
    second = _letter(tmp_path / "b.eml", "Zmiana adresu", "Dzień dobry,\nproszę o zmianę adresu do "
                     "korespondencji dla umowy nr ZU/2021/00417 na ul. Polną 4, Kraków.", "b1")
    # the same complaint again by another channel: same customer and invoice number → the same case
    third = _letter(tmp_path / "c.eml", "Reklamacja – ponownie", "Ponawiam reklamację faktury nr "
                    "000771/09/2024 (numer klienta KX 5531092); proszę o korektę.", "c1")
    lines = [line for source in (first, second, third) for line in process_path(ctx, source)]
    assert [line.get("error") for line in lines] == [None, None, None]
    assert lines[0]["entities"]["customer_id"] == ["KX 5531092"]
    assert lines[0]["entities"]["contract_no"] == ["ZU/2021/00417"]
    assert lines[0]["entities"]["invoice_no"] == ["000771/09/2024"]
    with session_scope(ctx.db_url) as s:
        docs = {line["source"]: s.get(Document, line["document_id"]) for line in lines}
        assert [docs[p].customer_id for p in (first, second, third)] == ["KX-5531092"] * 3
        items = {p: s.scalars(select_item(WorkItem, docs[p].id)).one() for p in (first, third)}
        assert items[first].case_id == items[third].case_id
        found = search(s, "", Filters(customer="kx 5531092"))
        assert {h.document_id for h in found.hits} == {docs[first].id, docs[third].id}
        found = search(s, "", Filters(entity=["contract_no=zu/2021/00417"]))
        assert {h.document_id for h in found.hits} == {docs[first].id, docs[second].id}


def select_item(model, document_id: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    return select(model).where(model.document_id == document_id)
