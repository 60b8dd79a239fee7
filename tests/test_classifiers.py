"""Classifiers on realistic short letters in pl, cs, ru and en, clean and with OCR noise."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from classifiers import MODEL_VERSION, classify
from classifiers.category import classify_category
from classifiers.entities import extract_entities
from classifiers.language import detect_language
from classifiers.model import default_model
from classifiers.segment import detect_segment
from classifiers.text import fold
from ground.records import CATEGORIES, ENTITY_NAMES

LETTERS: dict[tuple[str, str], str] = {
    # ------------------------------------------------------------------ Polish
    ("pl", "complaint"): """Anna Nowak, ul. Lipowa 3/12, 30-001 Kraków
Nr klienta: MR-2345678
Dotyczy: reklamacja faktury FV/2026/09/001234

Szanowni Państwo,
składam reklamację faktury za wrzesień. Naliczono mi opłatę 89,99 zł za usługę, której nie
zamawiałam. Kwota jest zawyżona i niezgodna z umową. Proszę o korektę faktury i zwrot nadpłaconej kwoty.
Z poważaniem, Anna Nowak""",
    ("pl", "invoice_query"): """Szanowni Państwo,
proszę o przesłanie duplikatu faktury FV/2026/08/000777 oraz wyjaśnienie, z czego wynika pozycja
„usługi dodatkowe" na fakturze za okres rozliczeniowy sierpień. Nie rozumiem tej pozycji.
Czy mogę też otrzymywać e-fakturę zamiast papierowej?
Pozdrawiam, Piotr Zieliński, nr klienta MR 3456789""",
    ("pl", "payment"): """W sprawie płatności za fakturę FV/2026/07/000321

W załączeniu przesyłam potwierdzenie przelewu na kwotę 149,99 zł z dnia 15.07.2026.
Jednocześnie proszę o rozłożenie zaległości na raty, ponieważ obecnie nie jestem w stanie
uregulować całej kwoty jednorazowo.
Marek Wiśniewski""",
    ("pl", "cancellation"): """Warszawa, 3 listopada 2026 r.
Dotyczy: wypowiedzenie umowy

Niniejszym wypowiadam umowę o świadczenie usług telekomunikacyjnych nr MR-4567890
z zachowaniem okresu wypowiedzenia. Proszę o potwierdzenie rozwiązania umowy na piśmie.
Katarzyna Wójcik""",
    ("pl", "service_order"): """Dzień dobry,
chciałbym zamówić nową usługę: internet światłowodowy 600 Mb/s oraz pakiet telewizji.
Proszę też o zmianę taryfy na abonament Premium od przyszłego miesiąca.
Tomasz Kamiński, tel. +48 601 234 567""",
    ("pl", "fault_report"): """Zgłaszam awarię: od trzech dni nie działa internet, router miga na czerwono,
a telefon stacjonarny nie ma sygnału. Proszę o pilną naprawę i wizytę technika.
Adres instalacji: ul. Długa 7, Gdańsk. Tel. kontaktowy 501 222 333.""",
    ("pl", "data_change"): """Dotyczy: zmiana danych

Uprzejmie informuję, że przeprowadziłam się. Proszę o zmianę adresu korespondencyjnego na:
ul. Słoneczna 14, 60-100 Poznań. Jednocześnie zmieniłam nazwisko po ślubie — proszę o zmianę
nazwiska z Kowalska na Nowicka. Nr klienta MR-5678901.""",
    ("pl", "number_porting"): """Szanowni Państwo,
proszę o przeniesienie numeru 601 234 567 do innego operatora z zachowaniem numeru.
Dotychczasowy numer ma być aktywny do dnia przeniesienia. Operator biorca: Plus.
Jan Lewandowski""",
    ("pl", "legal"): """Sąd Rejonowy dla Warszawy-Śródmieścia, I Wydział Cywilny
Sygnatura akt: I C 1234/26

Nakaz zapłaty w postępowaniu upominawczym. Sąd nakazuje pozwanemu zapłacić kwotę 2 400,00 zł.
Odpis pozwu w załączeniu. W przypadku braku zapłaty sprawa zostanie przekazana komornikowi.""",
    ("pl", "gdpr_request"): """Dotyczy: RODO — żądanie dostępu do danych

Na podstawie art. 15 RODO proszę o informację, jakie moje dane osobowe przetwarzacie, w jakim celu
i komu je udostępniono, a następnie o usunięcie moich danych osobowych zgodnie z art. 17.
Ewa Kaczmarek, PESEL 44051401359""",
    ("pl", "other"): """Szanowni Państwo,
chciałam podziękować za bardzo miłą obsługę w salonie w Łodzi. Pani konsultantka była
profesjonalna i cierpliwa. Gratuluję takiego zespołu!
Z pozdrowieniami, Maria""",
    # ------------------------------------------------------------------ Czech
    ("cs", "complaint"): """Věc: Reklamace vyúčtování FA/2026/09/004512

Dobrý den,
tímto reklamuji vyúčtování za září. Byla mi neoprávněně účtována částka 450,00 Kč za službu,
kterou jsem si neobjednal. Žádám o opravu vyúčtování a vrácení peněz.
S pozdravem Petr Novák, číslo zákazníka MR-1122334""",
    ("cs", "invoice_query"): """Dobrý den,
prosím o zaslání kopie faktury FA/2026/08/000555 a vysvětlení položky „roaming data" ve vyúčtování.
Nerozumím, proč je částka vyšší než obvykle. Chtěla bych také dostávat elektronickou fakturu.
Jana Svobodová""",
    ("cs", "payment"): """Dobrý den,
v příloze zasílám doklad o zaplacení faktury na částku 1 250,00 Kč, uhrazeno převodem dne 12. 10. 2026.
Zároveň žádám o splátkový kalendář na zbývající dlužnou částku.
Karel Dvořák""",
    ("cs", "cancellation"): """Věc: Výpověď smlouvy

Tímto vypovídám smlouvu o poskytování služeb elektronických komunikací č. MR-2233445
a žádám o ukončení smlouvy k nejbližšímu možnému termínu po uplynutí výpovědní lhůty.
Lucie Černá""",
    ("cs", "service_order"): """Dobrý den,
mám zájem o objednávku nové služby: internet 500 Mb/s a datový balíček 20 GB k mobilnímu tarifu.
Prosím také o změnu tarifu na neomezené volání od příštího měsíce.
Martin Procházka""",
    ("cs", "fault_report"): """Dobrý den,
hlásím poruchu: od včerejška nefunguje internet, modem hlásí výpadek signálu a pevná linka je hluchá.
Prosím o opravu a návštěvu technika co nejdříve. Kontakt: +420 601 234 567.""",
    ("cs", "data_change"): """Věc: Změna údajů

Dobrý den, přestěhovala jsem se, prosím o změnu adresy pro zasílání korespondence na
Dlouhá 12, 110 00 Praha 1. Zároveň oznamuji změnu příjmení z Malá na Veselá.""",
    ("cs", "number_porting"): """Dobrý den,
žádám o přenesení čísla 601 234 567 k jinému operátorovi. Prosím o zaslání kódu OKU,
abych mohl zachovat své stávající číslo.
Jiří Horák""",
    ("cs", "legal"): """Exekutorský úřad Praha 4, soudní exekutor JUDr. Jan Král
Spisová značka: 123 EX 4567/26

Na základě pravomocného rozhodnutí soudu bylo zahájeno exekuční řízení. Žádáme o součinnost
a sdělení údajů o povinném do 15 dnů.""",
    ("cs", "gdpr_request"): """Věc: Žádost podle GDPR

Dobrý den, na základě nařízení GDPR žádám o přístup k osobním údajům, které o mně zpracováváte,
a následně o výmaz mých osobních údajů. Souhlas se zpracováním pro marketing odvolávám.
Tereza Marková""",
    ("cs", "other"): """Dobrý den,
chtěla bych poděkovat za skvělou péči Vašeho technika, který byl ochotný a rychlý.
Děkuji za obsluhu a přeji hodně úspěchů. Pochvala patří celému týmu.
Eva Kučerová""",
    # ------------------------------------------------------------------ Russian
    ("ru", "complaint"): """Тема: Претензия по счёту SF/2026/09/004512

Уважаемые господа!
С моего лицевого счёта неправомерно списана сумма 3 400 руб. за услугу, которую я не заказывал.
Требую произвести перерасчёт и вернуть деньги. С начислением не согласен.
Иванов И. И., номер клиента MR-3344556""",
    ("ru", "invoice_query"): """Здравствуйте!
Прошу предоставить детализацию счёта за сентябрь и разъяснить, за что начислена сумма
«дополнительные услуги». Также прошу выслать копию счёта SF/2026/09/000111 в электронном виде.
Петрова А. С.""",
    ("ru", "payment"): """Здравствуйте!
Направляю квитанцию об оплате на сумму 1 500,00 руб. от 12.10.2026. Платёж был произведён
через банк. Прошу зачислить оплату и предоставить рассрочку по оставшейся задолженности.
Сидоров П. П.""",
    ("ru", "cancellation"): """Тема: Расторжение договора

Прошу расторгнуть договор об оказании услуг связи № MR-4455667 с 1 ноября 2026 г.
и закрыть лицевой счёт. От всех услуг отказываюсь.
Кузнецова М. В.""",
    ("ru", "service_order"): """Здравствуйте!
Прошу подключить услугу домашнего интернета 500 Мбит/с и пакет телевидения.
Также хочу сменить тариф на «Безлимит» со следующего месяца.
Смирнов А. А., тел. +7 (912) 345-67-89""",
    ("ru", "fault_report"): """Здравствуйте!
Третий день не работает интернет, роутер не видит сеть, нет связи на домашнем телефоне.
Прошу прислать мастера и устранить неисправность как можно скорее.
Тел. 8 912 345 67 89""",
    ("ru", "data_change"): """Тема: Изменение данных

Прошу внести изменения в мои данные: в связи с переездом прошу сменить адрес для корреспонденции
на г. Москва, ул. Ленина, д. 5, кв. 10. Также прошу изменить фамилию с Иванова на Петрова.""",
    ("ru", "number_porting"): """Здравствуйте!
Прошу перенести номер +7 912 345-67-89 к другому оператору с сохранением номера.
Оператор-реципиент: МегаФон.
Волков Д. С.""",
    ("ru", "legal"): """Федеральная служба судебных приставов, отдел по Центральному району
Исполнительное производство № 12345/26/77001-ИП

На основании решения суда судебный пристав-исполнитель требует предоставить сведения о должнике
в трёхдневный срок. Копия исполнительного листа прилагается.""",
    ("ru", "gdpr_request"): """Тема: Персональные данные

В соответствии с 152-ФЗ «О персональных данных» прошу предоставить сведения об обработке
моих персональных данных и прекратить их обработку. Согласие на обработку отзываю.
Морозова Е. Н.""",
    ("ru", "other"): """Здравствуйте!
Хочу выразить благодарность вашему сотруднику за вежливое и быстрое обслуживание в салоне.
Спасибо большое, так держать!
Соколова Н. А.""",
    # ------------------------------------------------------------------ English
    ("en", "complaint"): """Subject: Complaint about invoice IN/2026/09/004512

Dear Sir or Madam,
I wish to make a formal complaint. I have been overcharged £45.00 for roaming I never used and
charged twice for the same month. Please correct the bill and refund the difference.
Yours faithfully, John Smith, customer number MR-5566778""",
    ("en", "invoice_query"): """Hello,
could you please send me a copy of invoice IN/2026/08/000999 and explain the line item
"additional services"? I would also like to switch to electronic invoices instead of paper.
Kind regards, Emma Brown""",
    ("en", "payment"): """Dear team,
please find attached proof of payment of €120.00 made by bank transfer on 12 October 2026.
I would also like to ask for an instalment plan for the remaining balance.
Regards, Oliver Jones""",
    ("en", "cancellation"): """Subject: Notice of termination

I hereby give notice to terminate my contract, account MR-6677889, at the end of the notice period.
Please confirm the cancellation in writing and close my account.
Sarah Taylor""",
    ("en", "service_order"): """Hello,
I would like to order a new broadband service with the 500 Mb package, and upgrade my mobile tariff
to the unlimited data plan. Please also activate the international roaming add-on.
James Wilson""",
    ("en", "fault_report"): """Hi,
my internet has not been working since Monday. The router shows no signal and the landline has no dial
tone. Please send an engineer to repair the fault as soon as possible.
Call me on +44 7911 123456.""",
    ("en", "data_change"): """Subject: Change of address

Please update my details: I have moved, and my new address is 12 High Street, Leeds LS1 4AB.
I have also changed my surname after marriage, so please change my name to Laura Green.""",
    ("en", "number_porting"): """Hello,
I would like to port my number 07911 123456 to another provider. Please send me my PAC code
so that I can keep my number when I switch.
Daniel White""",
    ("en", "legal"): """Harris & Co Solicitors
Letter before action

We act on behalf of our client, Mr Peter Hall. Unless the disputed sum is refunded within 14 days,
our client will issue court proceedings against you without further notice.""",
    ("en", "gdpr_request"): """Subject: Data subject access request

Under Article 15 of the GDPR I request a copy of all personal data you hold about me, and I ask you to
erase my data afterwards (right to erasure). I withdraw my consent to marketing.
Helen Clark""",
    ("en", "other"): """Dear team,
I just wanted to say thank you for the excellent service at your Manchester store. The assistant was
very helpful and patient. Keep up the great service!
Best wishes, Tom""",
}

LANGS = ("pl", "cs", "ru", "en")


def test_fixtures_cover_every_language_and_category() -> None:
    assert set(LETTERS) == {(lang, cat) for lang in LANGS for cat in CATEGORIES}


@pytest.mark.parametrize(("lang", "category"), sorted(LETTERS))
def test_letter_language_and_category(lang: str, category: str) -> None:
    result = classify(LETTERS[lang, category])
    assert result.language == lang
    assert result.category == category, result.reasons
    shipped = default_model()
    assert result.model_version == (shipped.version if shipped else MODEL_VERSION)
    assert set(result.entities) == set(ENTITY_NAMES)
    assert result.reasons[0].startswith(f"language {lang} ")
    if category != "other":
        assert result.confidence > 0.5, result.reasons
        assert any(f"{category}: '" in r for r in result.reasons)


def _strip_diacritics(text: str) -> str:
    return fold(text)


def _join_words(text: str) -> str:
    """Run a few words together as OCR does when it misses the spaces."""
    return re.sub(r"(\w{3,}) (\w{3,}) (\w{3,})", r"\1\2 \3", text, count=6)


def _stray_char(text: str) -> str:
    """A stray mark or a look-alike inside long words, and a line-end hyphenation."""
    out = re.sub(r"\b(\w{3})(\w{5,})", r"\1.\2", text, count=3)
    out = re.sub(r"(?<=\w\w)l(?=\w\w)", "1", out, count=2)
    return out.replace("o", "0", 1)


NOISY = [
    pytest.param(lang, category, noise, id=f"{lang}-{category}-{noise.__name__.strip('_')}")
    for lang, category in sorted(LETTERS)
    for noise in (_strip_diacritics, _join_words, _stray_char)
    if noise(LETTERS[lang, category]) != LETTERS[lang, category]  # English has no diacritics to drop
]


@pytest.mark.parametrize(("lang", "category", "noise"), NOISY)
def test_ocr_noise_keeps_language_and_category(lang: str, category: str, noise: Callable[[str], str]) -> None:
    noisy = noise(LETTERS[lang, category])
    result = classify(noisy)
    assert result.language == lang
    assert result.category == category, (noisy, result.reasons)


def test_specific_ocr_slips() -> None:
    assert classify_category("Skladam rekIamacje faktury za pazdziernik", "pl").category == "complaint"
    assert classify_category("Niniejszym wypowiadamumowe z zachowaniem okresu", "pl").category == "cancellation"
    assert classify_category("Tímto podávámvýpověď smlouvy", "cs").category == "cancellation"
    assert classify_category("Прошу рас-\nторгнуть договор", "ru").category == "cancellation"
    assert classify_category("I wish to terminnate my contract", "en").category == "cancellation"


@pytest.mark.parametrize("text", ["", "   \n\f\n ", "12345 ---", "§§ ..."])
def test_empty_text_is_undetermined_and_other(text: str) -> None:
    result = classify(text)
    assert result.language == "und"
    assert result.category == "other"
    assert result.confidence < 0.3
    assert all(values == [] for values in result.entities.values())


def test_unknown_language_is_undetermined() -> None:
    german = (
        "Sehr geehrte Damen und Herren, hiermit kündige ich meinen Vertrag zum nächstmöglichen Termin. "
        "Bitte bestätigen Sie mir die Kündigung schriftlich. Mit freundlichen Grüßen, Hans Müller"
    )
    assert detect_language(german)[0] == "und"


def test_language_confidence_is_real() -> None:
    lang, score = detect_language(LETTERS["pl", "complaint"])
    assert lang == "pl" and 0.9 <= score <= 1.0
    lang, short_score = detect_language("Reklamace")
    assert lang in ("cs", "und") and short_score < score


def test_subject_line_outweighs_body() -> None:
    text = "Dotyczy: wypowiedzenie umowy\n\nW załączeniu faktura i potwierdzenie przelewu."
    result = classify_category(text, "pl")
    assert result.category == "cancellation"
    assert any("in subject" in r for r in result.reasons)


def test_legal_and_gdpr_take_priority() -> None:
    text = "Reklamacja. Sprawa została skierowana do sądu, komornik prowadzi egzekucję."
    assert classify_category(text, "pl").category == "legal"
    text = "Reklamace. Žádám o výmaz osobních údajů podle GDPR."
    assert classify_category(text, "cs").category == "gdpr_request"


def test_confidence_reflects_evidence() -> None:
    strong = classify_category(LETTERS["pl", "cancellation"], "pl")
    weak = classify_category("Proszę o informację w sprawie umowy.", "pl")
    nothing = classify_category("Lorem ipsum dolor sit amet.", "en")
    assert strong.confidence > weak.confidence
    assert nothing.category == "other" and nothing.confidence < 0.3
    assert 0.0 <= nothing.confidence <= strong.confidence <= 1.0


# ---------------------------------------------------------------------- entities
def _only(entities: dict[str, list[str]], **expected: list[str]) -> None:
    assert set(entities) == set(ENTITY_NAMES)
    for name in ENTITY_NAMES:
        assert entities[name] == expected.get(name, []), name


def test_customer_id_formats() -> None:
    text = "Nr klienta: MR-1234567, drugi MR 2345678, trzeci MR1234567, Číslo zákazníka MR 345 6789"
    assert extract_entities(text, "pl")["customer_id"] == ["MR-1234567", "MR-2345678", "MR-3456789"]
    assert extract_entities("Номер клиента MR-1234567", "ru")["phone"] == []


def test_invoice_numbers_in_all_series() -> None:
    text = "FV/2026/10/004512, FA/2026/10/004513, SF / 2026 / 10 / 004514 i in/2026/10/004515"
    entities = extract_entities(text, "pl")
    assert entities["invoice_no"] == [
        "FA/2026/10/004513",
        "FV/2026/10/004512",
        "IN/2026/10/004515",
        "SF/2026/10/004514",
    ]
    assert entities["phone"] == [] and entities["amount"] == [] and entities["date"] == []


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        (
            "Do zapłaty 149,99 zł oraz 1 250,00 zł (razem 1399.99 PLN)",
            "pl",
            ["1250.00 PLN", "1399.99 PLN", "149.99 PLN"],
        ),
        ("Částka 1 250,00 Kč a 99,- Kč, celkem CZK 1349", "cs", ["1250.00 CZK", "1349.00 CZK", "99.00 CZK"]),
        ("Сумма 3 400 руб. и 3 400,50 ₽, итого 500 рублей", "ru", ["3400.00 RUB", "3400.50 RUB", "500.00 RUB"]),
        ("Charged 1,250.00 EUR, £12.50, €12.50 and $7", "en", ["12.50 EUR", "12.50 GBP", "1250.00 EUR", "7.00 USD"]),
    ],
)
def test_amounts(text: str, lang: str, expected: list[str]) -> None:
    entities = extract_entities(text, lang)
    assert entities["amount"] == sorted(expected)
    assert entities["phone"] == []


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("tel. +48 601 234 567 lub 601-234-567", "pl", ["+48601234567"]),
        ("Kontakt: +420 601 234 567, 777 123 456", "cs", ["+420601234567", "+420777123456"]),
        ("Тел.: +7 (912) 345-67-89, 8 912 345 67 88", "ru", ["+79123456788", "+79123456789"]),
        ("Call 07911 123456 or +48 601 234 567", "en", ["+447911123456", "+48601234567"]),
    ],
)
def test_phones_are_e164(text: str, lang: str, expected: list[str]) -> None:
    assert extract_entities(text, lang)["phone"] == expected


def test_ibans_valid_only_and_not_phones() -> None:
    text = (
        "Konto: PL61 1090 1014 0000 0712 1981 2874, stare PL61 1090 1014 0000 0712 1981 2875, "
        "účet CZ65 0800 0000 1920 0014 5399, account GB82WEST12345698765432"
    )
    entities = extract_entities(text, "pl")
    assert entities["iban"] == ["CZ6508000000192000145399", "GB82WEST12345698765432", "PL61109010140000071219812874"]
    assert entities["phone"] == [] and entities["pesel"] == [] and entities["nip"] == []
    # A Polish account number without the country code is the PL IBAN.
    assert extract_entities("Nr rachunku: 61 1090 1014 0000 0712 1981 2874", "pl")["iban"] == [
        "PL61109010140000071219812874"
    ]


def test_an_account_number_wrapped_at_a_line_end_is_read_whole() -> None:
    """PDFs and scans end lines inside a grouped account number; the checksum (and the country's length)
    says where it ends, so the next line's number does not join it."""
    wrapped = {
        "pl": "Proszę o zwrot na rachunek: PL61 1090 1014\n0000 0712 1981 2874 (właściciel Jan Nowak).",
        "cs": "Nový účet: CZ65 0800 0000 1920\n  0014 5399\n2026 s pozdravem",
        "en": "Please refund it to IBAN: GB82 WEST 1234\r\n5698 7654 32\n2026 was a long year",
    }
    expected = {"pl": ["PL61109010140000071219812874"], "cs": ["CZ6508000000192000145399"],
                "en": ["GB82WEST12345698765432"]}
    for lang, text in wrapped.items():
        assert extract_entities(text, lang)["iban"] == expected[lang], lang
    # a Polish account number without the country code, wrapped
    assert extract_entities("Nr rachunku: 61 1090 1014 0000\n0712 1981 2874", "pl")["iban"] == [
        "PL61109010140000071219812874"]
    # a wrapped number whose checksum fails is no IBAN, and the words of the next line are not taken as one
    assert extract_entities("Konto: PL61 1090 1014 0000\n0712 1981 2875", "pl")["iban"] == []


def test_slashed_references_are_no_phones_and_grouped_phones_no_national_ids() -> None:
    # a court file number and a contract number joined by "/" are not phones ...
    assert extract_entities("Przyszedł nakaz zapłaty, sygn. VI Nc-e 1442187/25.", "pl")["phone"] == []
    assert extract_entities("vypovídám smlouvu č. EL/2024/55821 k 31. 12.", "cs")["phone"] == []
    # ... but a number after a word that says it is one keeps its slash
    assert extract_entities("tel. 22/123 45 67, proszę dzwonić po 16", "pl")["phone"] == ["+48221234567"]
    # ten digits in phone groups in a Russian letter: the phone it is, not an INN with a valid checksum
    ru = extract_entities("Перенёс к вам номер 980 006 93 43, смс не приходят.", "ru")
    assert ru["phone"] == ["+79800069343"] and ru["inn"] == []
    # written whole or after its label, the INN stays an INN
    assert extract_entities("Моя организация: 9800069343.", "ru")["inn"] == ["9800069343"]
    assert extract_entities("ИНН 980 006 93 43", "ru")["inn"] == ["9800069343"]


def test_an_english_letter_may_give_an_irish_number() -> None:
    en = extract_entities("I moved my number 085 064 0762 to you; ring me on 083 814 3718 or 07911 123456.", "en")
    assert en["phone"] == ["+353838143718", "+353850640762", "+447911123456"]
    # a Polish letter's Irish-looking digits stay unread: only English letters look to Ireland
    assert extract_entities("mój numer 085 064 0762", "pl")["phone"] == []


def test_pesel_and_nip() -> None:
    text = "PESEL: 44051401359, zły PESEL: 44051401358, NIP 123-456-32-18, NIP: 123-456-32-19, NIP PL 5260250274"
    entities = extract_entities(text, "pl")
    _only(entities, pesel=["44051401359"], nip=["1234563218", "5260250274"])


def test_unlabelled_ids_follow_the_letter_language() -> None:
    assert extract_entities("numer 44051401359", "pl")["pesel"] == ["44051401359"]
    assert extract_entities("numer 44051401359", "cs")["pesel"] == []
    # OCR read a zero as O and a one as l
    assert extract_entities("PESEL 44O5l4Ol359", "pl")["pesel"] == ["44051401359"]


def test_ico_mod11() -> None:
    text = "IČO: 25596641, IČ 4527 4649, IČO: 25596642, DIČ: CZ27082440"
    _only(extract_entities(text, "cs"), ico=["25596641", "27082440", "45274649"])


def test_inn_10_and_12_digits() -> None:
    text = "ИНН 7707083893, ИНН: 500100732259, ИНН 7707083894, ИНН/КПП 7736207543/773601001"
    _only(extract_entities(text, "ru"), inn=["500100732259", "7707083893", "7736207543"])


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("12.10.2026, 2026-10-12, 12 października 2026 r., 12 X 2026", "pl"),
        ("12. 10. 2026 a 12. října 2026", "cs"),
        ("12.10.2026 и 12 октября 2026 г.", "ru"),
        ("12 October 2026, October 12, 2026 and 12/10/2026", "en"),
        ("12 pazdziernika 2026, 12 rijna 2026", "pl"),
    ],
)
def test_dates(text: str, lang: str) -> None:
    entities = extract_entities(text, lang)
    assert entities["date"] == ["2026-10-12"]
    assert entities["phone"] == [] and entities["amount"] == []


def test_other_dates_and_invalid_ones() -> None:
    entities = extract_entities("od 1 stycznia 2026 do 31 grudnia 2026; błędna 31.02.2026", "pl")
    assert entities["date"] == ["2026-01-01", "2026-12-31"]


def test_emails_lowercased() -> None:
    entities = extract_entities("Pište na Jana.Novakova@Example.CZ nebo info@firma.cz.", "cs")
    assert entities["email"] == ["info@firma.cz", "jana.novakova@example.cz"]


def test_full_letter_entities() -> None:
    text = """Jan Kowalski, Nr klienta: MR 1234567
PESEL: 44051401359, tel. 601-234-567, jan.kowalski@example.pl
Warszawa, 12 października 2026 r.
Dotyczy: reklamacja faktury FV/2026/10/004512 z dnia 05.10.2026 na kwotę 1 250,00 zł.
Proszę o zwrot na konto PL61 1090 1014 0000 0712 1981 2874."""
    _only(
        extract_entities(text, "pl"),
        customer_id=["MR-1234567"],
        phone=["+48601234567"],
        invoice_no=["FV/2026/10/004512"],
        amount=["1250.00 PLN"],
        iban=["PL61109010140000071219812874"],
        pesel=["44051401359"],
        email=["jan.kowalski@example.pl"],
        date=["2026-10-05", "2026-10-12"],
    )


# ---------------------------------------------------------------------- segment
@pytest.mark.parametrize(
    ("text", "entities", "expected"),
    [
        ("Firma Kowalski Sp. z o.o. prosi o fakturę", {}, "business"),
        ("Novák s.r.o., Praha", {}, "business"),
        ("ООО «Ромашка»", {}, "business"),
        ("Acme Ltd, London", {}, "business"),
        ("Jan Kowalski", {"nip": ["1234563218"]}, "business"),
        ("Иванов", {"inn": ["7707083893"]}, "business"),
        ("Иванов", {"inn": ["500100732259"]}, "individual"),
        ("Jan Kowalski, ul. Polna 5", {}, "individual"),
        ("Отвечаю вам по почте", {}, "individual"),
    ],
)
def test_segment(text: str, entities: dict[str, list[str]], expected: str) -> None:
    assert detect_segment(text, entities) == expected


def test_classify_composes_everything() -> None:
    text = LETTERS["cs", "complaint"] + "\nIČO: 25596641"
    result = classify(text)
    assert result.segment == "business"
    assert result.entities["ico"] == ["25596641"]
    assert result.entities["invoice_no"] == ["FA/2026/09/004512"]
    assert result.entities["amount"] == ["450.00 CZK"]
    assert result.entities["customer_id"] == ["MR-1122334"]
    assert any("reklam" in r for r in result.reasons)


PHONES_IN_LETTERS = {
    ("pl", "service_order"): ["+48601234567"],
    ("pl", "fault_report"): ["+48501222333"],
    ("pl", "number_porting"): ["+48601234567"],
    ("cs", "fault_report"): ["+420601234567"],
    ("cs", "number_porting"): ["+420601234567"],
    ("ru", "service_order"): ["+79123456789"],
    ("ru", "fault_report"): ["+79123456789"],
    ("ru", "number_porting"): ["+79123456789"],
    ("en", "fault_report"): ["+447911123456"],
    ("en", "number_porting"): ["+447911123456"],
}


@pytest.mark.parametrize(("lang", "category"), sorted(LETTERS))
def test_no_phantom_phones_or_ids_in_letters(lang: str, category: str) -> None:
    """Case numbers, postcodes, dates and customer ids in the letters are not phones or national ids."""
    entities = classify(LETTERS[lang, category]).entities
    assert entities["phone"] == PHONES_IN_LETTERS.get((lang, category), [])
    expected_pesel = ["44051401359"] if (lang, category) == ("pl", "gdpr_request") else []
    assert entities["pesel"] == expected_pesel
    assert entities["nip"] == entities["ico"] == entities["inn"] == entities["iban"] == []


def test_a_cue_is_only_skipped_when_its_needle_is_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lexicon's substring pre-check: every match of a cue contains its needle, so skipping the regex
    when the needle is absent changes no score (checked on texts made of every cue of every language, each
    cue's label in its own sentence, inflected and with words in between, and on letters that match none)."""
    import dataclasses

    from classifiers import category as cat

    cues = {lang: cat._cues_for(lang) for lang in ("pl", "cs", "ru", "en")}
    texts = []
    for chosen in cues.values():
        labels = [c.label.strip("^=") for c, _ in chosen]
        texts += [". ".join(labels[i:i + 40]) + "." for i in range(0, len(labels), 40)]
        inflected = [w + "ami" if len(w) > 4 else w for w in labels]
        texts += [". ".join(inflected[i:i + 60:3]) for i in range(0, len(labels), 60)]
    texts += ["Dzień dobry, proszę o kontakt.", "Hello, thank you.", "Добрый день!", "Dobrý den, děkuji."]
    views = [cat.category_view(t) for t in texts]
    for chosen in cues.values():
        for cue, _ in chosen:
            assert cue.needle, cue.label
            for view in views:
                for m in cue.pattern.finditer(view):
                    assert cue.needle in m.group(0), (cue.label, m.group(0))
    with_needle = [(classify_category(t, lang).scores) for t in texts for lang in cues]
    real = cat._cues_for
    monkeypatch.setattr(cat, "_cues_for", lambda lang: tuple((dataclasses.replace(c, needle=""), f)
                                                              for c, f in real(lang)))
    assert [(classify_category(t, lang).scores) for t in texts for lang in cues] == with_needle
    assert any(any(v > 0.5 for k, v in s.items() if k != "other") for s in with_needle)  # the texts do match cues
