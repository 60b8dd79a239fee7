"""How operators and customers really write customer, contract and invoice numbers (issue 14).

The shipped labels and shapes of ground/config/entities.yaml, the "…" gap in a label, the ``filler`` words
before a ":" and the rules that keep a year or an amount from becoming an id. Every sentence and value here
is made up for these tests; none comes from the independent evaluation set (evaluation/letters).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import regex

from classifiers.entities import extract_entities
from classifiers.entity_config import label_regex, load_entity_config
from ground.errors import ConfigError

EVALUATION = Path(__file__).resolve().parents[1] / "evaluation" / "letters"
OURS = ("customer_id", "contract_no", "invoice_no")

FOUND = [
    # (language, text, entity, value) — every value made up for this test
    # --- customer numbers, Polish: orders, inflections, utilities' and B2B names
    ("pl", "Klient nr 4410872 prosi o kontakt.", "customer_id", "4410872"),
    ("pl", "Jestem klientką nr 661203, proszę o pomoc.", "customer_id", "661203"),
    ("pl", "jako klient numer KL-90017 zgłaszam usterkę", "customer_id", "KL-90017"),
    ("pl", "Numer płatnika: 20045118", "customer_id", "20045118"),
    ("pl", "nr odbiorcy: 5510-33-18", "customer_id", "5510-33-18"),
    ("pl", "Kod abonenta AB77120", "customer_id", "AB77120"),
    ("pl", "Numer identyfikacyjny klienta: 7300-4412", "customer_id", "7300-4412"),
    ("pl", "nr konta klienta 88013377 (nie mylić z rachunkiem bankowym)", "customer_id", "88013377"),
    ("pl", "ID abonenta: 51-77320", "customer_id", "51-77320"),
    ("pl", "Numer kontrahenta K/5517", "customer_id", "K/5517"),
    ("pl", "Nr kl. 9930-118", "customer_id", "9930-118"),
    # --- customer numbers, Czech
    ("cs", "Číslo klienta: 5533-112", "customer_id", "5533-112"),
    ("cs", "moje klientské číslo je 77120034", "customer_id", "77120034"),
    ("cs", "zák. č. 4471920", "customer_id", "4471920"),
    ("cs", "Číslo odběratele 1102334455", "customer_id", "1102334455"),
    ("cs", "Kód zákazníka: ZK-40812", "customer_id", "ZK-40812"),
    ("cs", "jsem zákazník č. 6610073", "customer_id", "6610073"),
    # --- customer numbers, Russian
    ("ru", "Номер лицевого счёта: 3301-1122", "customer_id", "3301-1122"),
    ("ru", "ЛС 0551203388", "customer_id", "0551203388"),
    ("ru", "л/счёт 7712003", "customer_id", "7712003"),
    ("ru", "ЕЛС: 44 0012 3381", "customer_id", "44 0012 3381"),
    ("ru", "клиентский номер 552103", "customer_id", "552103"),
    ("ru", "лицевой счёт номер 66-01-779", "customer_id", "66-01-779"),
    ("ru", "Код плательщика 7790012", "customer_id", "7790012"),
    ("ru", "персональный счёт 3019-55", "customer_id", "3019-55"),
    # --- customer numbers, English
    ("en", "Acct no. 4471-0092", "customer_id", "4471-0092"),
    ("en", "A/C No: 33120045", "customer_id", "33120045"),
    ("en", "Member number 7712045", "customer_id", "7712045"),
    ("en", "Customer code: CX7712", "customer_id", "CX7712"),
    ("en", "Billing account 99120044", "customer_id", "99120044"),
    ("en", "Customer # 5521-09", "customer_id", "5521-09"),
    ("en", "customer reference number 7702-1190", "customer_id", "7702-1190"),
    # --- a value a few words after its label (filler) or after a parenthetical
    ("pl", "Nr klienta podany na fakturze: 7731-0042", "customer_id", "7731-0042"),
    ("pl", "Mój numer klienta w Waszym systemie to 30551927.", "customer_id", "30551927"),
    ("en", "Customer number (see your bill): 55120348", "customer_id", "55120348"),
    ("en", "Customer number (top right of the letter) 55120349", "customer_id", "55120349"),
    ("en", "My customer number with you is 88314402.", "customer_id", "88314402"),
    ("cs", "Číslo zákazníka uvedené na vyúčtování: 40771203", "customer_id", "40771203"),
    ("ru", "Номер лицевого счёта (указан в квитанции): 501-778-20", "customer_id", "501-778-20"),
    # --- contract numbers
    ("pl", "dotyczy umowy abonenckiej nr UA-2020-5512", "contract_no", "UA-2020-5512"),
    ("pl", "umowy o świadczenie usług nr 7701/K/2019", "contract_no", "7701/K/2019"),
    ("pl", "numer mojej umowy: 5519-20", "contract_no", "5519-20"),
    ("pl", "Numer umowy abonenckiej 7719-02-K", "contract_no", "7719-02-K"),
    ("pl", "umowa o numerze 44-B-1102", "contract_no", "44-B-1102"),
    ("pl", "Nr polisy 0077120341", "contract_no", "0077120341"),
    ("pl", "wypowiadam umowę nr 318 od 1 lipca", "contract_no", "318"),  # three characters are enough
    ("cs", "smlouvy o poskytování služeb č. 88-2210", "contract_no", "88-2210"),
    ("cs", "číslo pojistné smlouvy 5530017741", "contract_no", "5530017741"),
    ("ru", "договор оказания услуг связи № 5521-М", "contract_no", "5521-М"),
    ("ru", "Договор об оказании услуг связи № 7719/ТС", "contract_no", "7719/ТС"),
    ("ru", "номер абонентского договора 4471-0091", "contract_no", "4471-0091"),
    ("ru", "договор номер 55-017/Т", "contract_no", "55-017/Т"),
    ("en", "Policy number PL-441203", "contract_no", "PL-441203"),
    ("en", "Contract: 4471/22", "contract_no", "4471/22"),
    ("en", "Agreement # AG-77190", "contract_no", "AG-77190"),
    # --- invoice numbers
    ("pl", "Reklamuję fakturę korygującą nr 771/05/2026 z dnia 3 maja", "invoice_no", "771/05/2026"),
    ("pl", "FV nr 5512/2026 jest błędna", "invoice_no", "5512/2026"),
    ("pl", "Zapłaciłem fakturę o numerze 9917-2026-11", "invoice_no", "9917-2026-11"),
    ("pl", "faktura nr 318 ma złą kwotę", "invoice_no", "318"),
    ("pl", "numer ostatniej faktury: 77-0192", "invoice_no", "77-0192"),
    ("cs", "k faktuře č. 2026000917 ze dne 5. 5.", "invoice_no", "2026000917"),
    ("cs", "vyúčtování služeb č. 551203", "invoice_no", "551203"),
    ("cs", "faktura za služby č. 7791-A", "invoice_no", "7791-A"),
    ("cs", "daňový doklad číslo 5512077", "invoice_no", "5512077"),
    ("cs", "vyúčtování číslo 2026-0917", "invoice_no", "2026-0917"),
    ("ru", "Счёт-фактура № 917 от 5 мая", "invoice_no", "917"),
    ("ru", "счёт на оплату № 45-Б оплачен", "invoice_no", "45-Б"),
    ("ru", "счёт за услуги связи № 8812 за май", "invoice_no", "8812"),
    ("ru", "с/ф № 00771-К", "invoice_no", "00771-К"),
    ("ru", "УПД № 1190-Т", "invoice_no", "1190-Т"),
    ("en", "Inv. no. 83917", "invoice_no", "83917"),
    ("en", "Bill # 7720-19", "invoice_no", "7720-19"),
    ("en", "Statement number ST-77102", "invoice_no", "ST-77102"),
    ("en", "invoice for May no. 66102", "invoice_no", "66102"),
]


def assert_only(text: str, lang: str, entity: str, value: str) -> None:
    """``value`` is the one ``entity`` found in ``text``, and no other of customer, contract and invoice number."""
    found = extract_entities(text, lang)
    assert found[entity] == [value], found
    for other in OURS:
        if other != entity:
            assert found[other] == [], (other, found[other])


@pytest.mark.parametrize(("lang", "text", "entity", "value"), FOUND)
def test_real_world_labels(lang: str, text: str, entity: str, value: str) -> None:
    assert_only(text, lang, entity, value)


SHAPES = [
    # invoice numbers without a label, and the date before a contract number
    ("pl", "Proszę o korektę FV 88/11/2026.", "invoice_no", "FV 88/11/2026"),
    ("pl", "dotyczy F/77120/2026", "invoice_no", "F/77120/2026"),
    ("pl", "dotyczy FA 551/11/2026", "invoice_no", "FA 551/11/2026"),
    ("pl", "korekta KOR/2026/0917", "invoice_no", "KOR/2026/0917"),
    ("pl", "Dokument 2026/11/00917 nie został opłacony", "invoice_no", "2026/11/00917"),
    ("cs", "doklad 0917/10/2026 jsem uhradil", "invoice_no", "0917/10/2026"),
    ("pl", "umowy z dnia 12.03.2024 r. nr 331/2024 wypowiadam", "contract_no", "331/2024"),
    ("pl", "umowy abonenckiej z dnia 2 lutego 2023 nr UA/77", "contract_no", "UA/77"),
    ("cs", "smlouvy ze dne 1. 3. 2020 č. 4471/K", "contract_no", "4471/K"),
    ("ru", "договор от 01.06.2020 № 17/331-Р расторгнуть", "contract_no", "17/331-Р"),
    ("ru", "договора от 1 июня 2020 г. № 4471 прошу", "contract_no", "4471"),
    ("en", "the contract dated 3 May 2021 no. CT-7719", "contract_no", "CT-7719"),
    ("pl", "faktury z dnia 3.05.2026 nr 771/05 nie uznaję", "invoice_no", "771/05"),
    ("pl", "faktury VAT z dnia 3 maja 2026 r. nr FV 1190", "invoice_no", "FV 1190"),
    ("cs", "faktury ze dne 3. 5. 2026 č. 2026007", "invoice_no", "2026007"),
    ("ru", "счёт от 03.05.2026 № 45-Б оплачен", "invoice_no", "45-Б"),
    ("ru", "счёт-фактура от 3 мая 2026 г. № 917", "invoice_no", "917"),
    ("en", "invoice dated 3 May 2026 no. 7719", "invoice_no", "7719"),
]


@pytest.mark.parametrize(("lang", "text", "entity", "value"), SHAPES)
def test_shapes_without_a_label(lang: str, text: str, entity: str, value: str) -> None:
    assert_only(text, lang, entity, value)


def test_the_date_before_a_contract_number_stays_a_date() -> None:
    found = extract_entities("umowy z dnia 12.03.2024 r. nr 331/2024", "pl")
    assert found["date"] == ["2024-03-12"]
    found = extract_entities("договора от 1 июня 2020 г. № 4471", "ru")
    assert found["date"] == ["2020-06-01"]


def test_a_shape_after_another_entitys_label_is_that_labels_value() -> None:
    """"umowa nr 1234/05/2023" has an invoice's shape, but its label says it is a contract number."""
    found = extract_entities("umowa nr 1234/05/2023 zawarta w Krakowie", "pl")
    assert found["contract_no"] == ["1234/05/2023"] and found["invoice_no"] == []
    found = extract_entities("Nr klienta: 2026/11/00917", "pl")
    assert found["customer_id"] == ["2026/11/00917"] and found["invoice_no"] == []
    found = extract_entities("Faktura nr 2026/11/00917", "pl")  # its own label: read once
    assert found["invoice_no"] == ["2026/11/00917"]


NOT_OURS = [
    # (language, text): none of these is a customer, contract or invoice number
    ("pl", "Nr klienta i nr umowy: 3318-22"),  # "nr umowy" stands in the filler: the contract's (see below)
    ("pl", "faktura nr 1500 zł"),  # an amount
    ("pl", "faktury z 2024 r. nie zapłacę"),  # a year
    ("pl", "numer klienta 2019"),  # a year alone is not an id
    ("pl", "Płatność za 12/11/2026 wynosi 100 zł"),  # a date, not number/month/year
    ("pl", "zgodnie z ustawą 150/2024 oraz 3/2025"),  # two groups without a prefix: no invoice
    ("cs", "podle zákona č. 127/2005 Sb."),
    ("ru", "счётчик № 1102245 показывает неверно"),  # a meter, not an invoice ("счёт*" is not a label)
    ("ru", "номер телефона клиента 89161234567"),
    ("ru", "абонентский номер 89161234567"),  # a phone number
    ("ru", "мощность двигателя 150 л.с. 2019 года выпуска"),
    ("ru", "показания счётчика от 03.05.2026 № 4471"),  # a meter reading's date, not an invoice
    ("en", "the invoice 2024 was too high"),
    ("en", "Your customer number on the invoice is wrong."),
    ("en", "Invoice 150 GBP"),
    ("en", "Bank account: 12345678"),
    ("en", "our reference number 55120 and your ref: 77102"),  # references are not customer numbers
    ("pl", "Numer konta: 61 1090 1014 0000 0712 1981 2874"),  # a bank account
    ("pl", "numer PPE 590310600000123456"),  # a metering point
    ("cs", "variabilní symbol 7790012"),  # a payment reference: invoice or customer, the letter does not say
    ("en", "Customer number: see the attached copy, thanks"),
    ("pl", "Numer klienta, który podałem w 2024 roku: nie pamiętam"),
]


@pytest.mark.parametrize(("lang", "text"), NOT_OURS)
def test_not_a_customer_contract_or_invoice_number(lang: str, text: str) -> None:
    found = extract_entities(text, lang)
    if text.startswith("Nr klienta i nr umowy"):
        assert found["customer_id"] == [] and found["contract_no"] == ["3318-22"], found
        return
    assert [found[name] for name in OURS] == [[], [], []], found


def test_gap_words_where_another_label_begins_end_the_label() -> None:
    found = extract_entities("Faktura dla klienta nr 55120349 jest błędna", "pl")
    assert found["customer_id"] == ["55120349"] and found["invoice_no"] == []
    found = extract_entities("Invoice for account no. 33120047 is wrong", "en")
    assert found["customer_id"] == ["33120047"] and found["invoice_no"] == []


@pytest.mark.parametrize(
    ("lang", "text", "value"),
    [
        ("pl", "Nr kIienta: 5512-0093", "5512-0093"),  # OCR: capital I for l
        ("pl", "Numer k1ienta 77120044", "77120044"),  # OCR: 1 for l
        ("en", "Acc0unt number: 44120093", "44120093"),  # OCR: 0 for o
        ("en", "Customer number:              66120057", "66120057"),  # a form's columns
        ("pl", "Numer klienta\t\t\t44120071", "44120071"),
        ("pl", "jako klient (nr klienta 5512-0071) proszę", "5512-0071"),  # the label inside brackets
        ("pl", "numer klienta (30117791)", "30117791"),  # the value inside brackets
        ("en", 'customer number "CX-5519"', "CX-5519"),  # or quotes
    ],
)
def test_ocr_lookalikes_and_columns(lang: str, text: str, value: str) -> None:
    assert extract_entities(text, lang)["customer_id"] == [value]


def test_the_amount_and_the_year_stay_what_they_are() -> None:
    found = extract_entities("Faktura nr 1500 zł, płatna w 2024", "pl")
    assert found["amount"] == ["1500.00 PLN"] and found["invoice_no"] == []
    # "лицевой счёт" is an account, not a bill ("счёт"): its dated number is no invoice number
    assert extract_entities("лицевой счёт от 03.05.2026 № 4471", "ru")["invoice_no"] == []


# ---------------------------------------------------------------- the syntax: "…" in a label, filler

GAP_AND_FILLER = """\
between: ['nr', 'is']
filler: 2
entities:
  contract_no:
    labels:
      en: ['lease … nr']
  customer_id:
    labels:
      en: ['member code']
"""


def test_a_gap_in_a_label_and_filler_words_from_a_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "entities.yaml"
    path.write_text(GAP_AND_FILLER, encoding="utf-8")
    config = load_entity_config(path)
    found = extract_entities("the lease for my flat nr 7710-2 and member code on file: MC-4411", "en", config=config)
    assert found["contract_no"] == ["7710-2"] and found["customer_id"] == ["MC-4411"]
    # five words are more than one gap (four) / three more than the filler (two) allow
    found = extract_entities("the lease of the old big flat nr 7710-2; member code printed on file: MC-4411", "en",
                             config=config)
    assert found["contract_no"] == found["customer_id"] == []
    # without "filler" (default 0) the words before ":" hide the value
    path.write_text(GAP_AND_FILLER.replace("filler: 2\n", ""), encoding="utf-8")
    config = load_entity_config(path)
    assert extract_entities("member code on file: MC-4411", "en", config=config)["customer_id"] == []
    assert extract_entities("member code (see card) MC-4411", "en", config=config)["customer_id"] == []


def test_label_gap_syntax() -> None:
    pattern = label_regex("umow* … nr")
    assert regex.fullmatch(pattern, "umowy abonenckiej nr", regex.IGNORECASE)
    assert regex.fullmatch(pattern, "umowy o swiadczenie uslug nr", regex.IGNORECASE)
    assert not regex.fullmatch(pattern, "umowy nr", regex.IGNORECASE)  # at least one word
    assert not regex.fullmatch(pattern, "umowy z dnia 12 nr", regex.IGNORECASE)  # words of letters only
    assert regex.fullmatch(pattern, "umowy o swiadczenie uslug telekomunikacyjnych nr", regex.IGNORECASE)
    assert not regex.fullmatch(pattern, "umowy a b c d e nr", regex.IGNORECASE)  # at most four
    assert regex.fullmatch(label_regex("umow* ... nr"), "umowy ramowej nr", regex.IGNORECASE)


@pytest.mark.parametrize("label", ["… nr klienta", "nr klienta …", "umow* …nr", "a … b … c"])
def test_a_misplaced_gap_gives_a_clear_error(tmp_path: Path, label: str) -> None:
    path = tmp_path / "entities.yaml"
    path.write_text(f"entities:\n  customer_id:\n    labels: {{pl: ['{label}']}}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_entity_config(path)
    assert "entity 'customer_id'" in err.value.reason and "…" in err.value.reason


def test_filler_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "entities.yaml"
    path.write_text("filler: 9\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_entity_config(path)
    assert "filler" in err.value.reason


def test_made_up_values_are_not_from_the_evaluation_set() -> None:
    """The rule of the independent set: nothing of it is used here, not even a value."""
    if not EVALUATION.exists():
        pytest.skip("no evaluation set in this tree")
    corpus = "\n".join(p.read_text(encoding="utf-8") for p in EVALUATION.glob("*/*.txt"))
    values = [v for _, _, _, v in FOUND + SHAPES if len(v) >= 5] + ["5512-0093", "77120044", "44120093",
                                                                     "66120057", "44120071", "5512-0071",
                                                                     "30117791", "CX-5519"]
    assert [v for v in values if v in corpus] == []


# ---------------------------------------------------------------- bare labels: the noun alone before a code
BARE = [
    # (language, text, entity, value) — every value made up for this test
    ("pl", "Dotyczy: faktura FX/KT/26/0071234, proszę o korektę", "invoice_no", "FX/KT/26/0071234"),
    ("pl", "w ramach umowy UMX/2026/44190 zamówiłem dekoder", "contract_no", "UMX/2026/44190"),
    ("pl", "klient 55019932, sprawa pilna", "customer_id", "55019932"),
    ("pl", "Mój numer klienta był 60118824, teraz nie wiem", "customer_id", "60118824"),  # a copula between
    ("cs", "v poslední faktuře QX260114 je chyba", "invoice_no", "QX260114"),
    ("cs", "podepsal jsem smlouvu SX-0077120 na tarif", "contract_no", "SX-0077120"),
    ("cs", "zákazník KM-5B1E2 chce zrušit službu", "customer_id", "KM-5B1E2"),
    ("ru", "По счёту ГК260519 начислено лишнее", "invoice_no", "ГК260519"),
    ("ru", "Договор ПР/Д/55120 прошу расторгнуть", "contract_no", "ПР/Д/55120"),
    ("ru", "Абонентский номер: ЛК-771045", "customer_id", "ЛК-771045"),
    ("en", "We have received invoice QAZ-26-550193 for the wrong amount", "invoice_no", "QAZ-26-550193"),
    ("en", "I wish to cancel my contract CTX-2026-90417 today", "contract_no", "CTX-2026-90417"),
    ("en", "about the arrears on account 6003317742, which I dispute", "customer_id", "6003317742"),
    ("en", "my account QR 5512 0934 was closed", "customer_id", "QR 5512 0934"),
    ("en", "notice that I wish to cancel my contract\nCTX-2026-55120 today", "contract_no", "CTX-2026-55120"),
    ("en", "our new business contract (CTX-66120) needs two more lines", "contract_no", "CTX-66120"),
    # "phone" keeps "account" from being the customer's label, not "contract" the contract's
    ("en", "our broadband and phone contract CTX-77120 ends in May", "contract_no", "CTX-77120"),
    ("en", "The last invoice, QB/26/0771, has been paid", "invoice_no", "QB/26/0771"),  # an apposition
    ("en", "My account is QGP/41/005512. Could you check?", "customer_id", "QGP/41/005512"),  # a copula
    ("en", "the address on my motor policy QRK-CAR-4410823 is old", "contract_no", "QRK-CAR-4410823"),
    ("ru", "Оплатила квитанцию № 0000771203 через банк", "invoice_no", "0000771203"),
    ("cs", "vyúčtování s číslem daňového dokladu 2610559012 na částku", "invoice_no", "2610559012"),
]

LISTS = [
    # (language, text, entity, values): values of one shape listed after one label
    ("pl", "zapłaciłam faktury nr 55120/2026 i 55121/2026 jednym przelewem", "invoice_no",
     ["55120/2026", "55121/2026"]),
    ("pl", "Zaległość dotyczy faktur 7711/2025, 7712/2025 oraz 1088/2026 — nie zgadzam się", "invoice_no",
     ["1088/2026", "7711/2025", "7712/2025"]),
    ("cs", "potvrzení o úhradě faktur QV2026-00412, QV2026-00413 a QV2026-00420", "invoice_no",
     ["QV2026-00412", "QV2026-00413", "QV2026-00420"]),
    ("ru", "долг по счетам № 5510-Ж и № 5517-Ж не признаю", "invoice_no", ["5510-Ж", "5517-Ж"]),
    ("en", "I've been charged twice for invoices QNV-00220511 and QNV-00220512", "invoice_no",
     ["QNV-00220511", "QNV-00220512"]),
]


@pytest.mark.parametrize(("lang", "text", "entity", "values"), LISTS)
def test_a_list_after_one_label_gives_every_value(lang: str, text: str, entity: str, values: list[str]) -> None:
    found = extract_entities(text, lang)
    assert found[entity] == values, found


def test_a_list_goes_on_only_with_values_of_the_same_shape() -> None:
    """What follows "i" / "oraz" is another invoice only when it has the first one's shape."""
    found = extract_entities("faktura nr 55120/2026 i zamówienie 7788-QX", "pl")
    assert found["invoice_no"] == ["55120/2026"]
    found = extract_entities("faktura nr 55120/2026 oraz umowa 2026/44/QX", "pl")
    assert found["invoice_no"] == ["55120/2026"] and found["contract_no"] == ["2026/44/QX"]

NOT_BARE = [
    # (language, text): a bare label with no code after it
    ("pl", "faktura 12/2026 była za wysoka"),  # month/year
    ("pl", "umowa 24 miesiące"),
    ("pl", "faktury 1200 nie zapłacę"),  # four digits alone: no code
    ("pl", "klient 600 123 456 dzwonił"),  # a Polish phone number
    ("en", "my bank account 55120934 is closed"),  # a bank account
    ("en", "the bill 05/11/2026 arrived late"),  # a date
    ("ru", "номер телефона клиента 89031112233"),
    ("ru", "абонентский номер 89031112233"),  # the phone number, as Russian operators say
    ("ru", "расчётный счёт 40702810900000012345"),  # a bank account (20 digits)
]


@pytest.mark.parametrize(("lang", "text", "entity", "value"), BARE)
def test_a_bare_label_takes_a_code_right_after_it(lang: str, text: str, entity: str, value: str) -> None:
    found = extract_entities(text, lang)
    assert found[entity] == [value], found
    assert [n for n in OURS if n != entity and found[n]] == [], found


@pytest.mark.parametrize(("lang", "text"), NOT_BARE)
def test_a_bare_label_takes_nothing_that_is_not_a_code(lang: str, text: str) -> None:
    found = extract_entities(text, lang)
    assert [found[name] for name in OURS] == [[], [], []], found


def test_a_bare_label_needs_the_value_right_after_it() -> None:
    found = extract_entities("Umowa z dnia wczoraj oraz 7/UX/2026 w aneksie", "pl")
    assert found["contract_no"] == []
    found = extract_entities("faktura\n\nFX-2026-01", "pl")  # the value on another line
    assert found["invoice_no"] == []


def test_bare_and_listed_values_are_not_from_the_evaluation_set() -> None:
    corpus = "\n".join(p.read_text(encoding="utf-8") for p in EVALUATION.glob("*/*.txt"))
    values = [v for _, _, _, v in BARE] + [v for _, _, _, vs in LISTS for v in vs]
    assert corpus and [v for v in values if v in corpus] == []


def test_a_bare_label_with_a_gap_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "entities.yaml"
    path.write_text("entities:\n  invoice_no:\n    bare:\n      pl: ['faktur* … nr']\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bare label"):
        load_entity_config(path)


# ---------------------------------------------------------------- lines wrapped by a PDF or a scan
def test_a_grouped_id_wrapped_at_the_end_of_a_line_is_read_whole() -> None:
    found = extract_entities("číslo zákaznického účtu QZ 5501\n7319. Děkuji", "cs")
    assert found["customer_id"] == ["QZ 5501 7319"]


def test_a_wrap_continues_only_a_group_of_the_same_size() -> None:
    """"Nr klienta 55019932⏎2026 r." — the next line's number is not part of the id."""
    found = extract_entities("Nr klienta: KX 4471\n12 sztuk dekoderów", "pl")
    assert found["customer_id"] == ["KX 4471"]
    found = extract_entities("Nr klienta 550199\n2026 r. podpisałem", "pl")
    assert found["customer_id"] == ["550199"]


def test_filler_words_may_wrap_once_after_a_word_on_the_labels_line() -> None:
    found = extract_entities("Лицевой счёт по\nновому договору: 55012377", "ru")
    assert found["customer_id"] == ["55012377"]
    # nothing of the filler on the label's line: the next line's "Telefon:" is another field
    found = extract_entities("Nr klienta\nTelefon: 600123456", "pl")
    assert found["customer_id"] == []


def test_a_capital_prefix_at_a_lines_end_goes_with_the_number_on_the_next_line() -> None:
    found = extract_entities("zaległość z faktur nr FA\n2026/07/00412, FA 2026/08/00412", "pl")
    assert found["invoice_no"] == ["FA 2026/07/00412", "FA 2026/08/00412"]
    found = extract_entities("Numer klienta: QK\n551207, proszę o kontakt", "pl")
    assert found["customer_id"] == ["QK 551207"]


# ---------------------------------------------------------------- phone numbers wrapped by a PDF or a scan
@pytest.mark.parametrize(("lang", "text", "phone"), [
    ("pl", "Proszę o kontakt pod numerem 601\n774 392, najlepiej po 16:00.", "+48601774392"),
    ("ru", "Прошу прислать мастера. Телефон 8 903 117\n44 21.", "+79031174421"),
    ("en", "Please ring my mobile 07861\n352904 after six.", "+447861352904"),
])
def test_a_phone_number_wrapped_after_a_phone_word_is_read_whole(lang: str, text: str, phone: str) -> None:
    assert extract_entities(text, lang)["phone"] == [phone]


def test_without_a_phone_word_two_lines_of_digits_stay_apart() -> None:
    assert extract_entities("Zamówienie 601\n774 392 sztuk", "pl")["phone"] == []
