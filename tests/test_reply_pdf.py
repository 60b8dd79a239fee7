"""Printed letters and the daily post batch (replies.pdf, replies.batch), rendered with the real WeasyPrint and
read back with pdfplumber: the text is there as text in every language, the address lies in the DL window,
labels and dates follow the letter's language, long letters number their pages, the batch starts every letter on
a front side and the posting list holds the registered letters."""

from __future__ import annotations

import io
import socket
from dataclasses import replace
from datetime import date

import pdfplumber
import pikepdf
import pytest

from ground.errors import CorruptInput, InvalidRequest
from replies.batch import BatchLetter, build_batch
from replies.letter import Attachment, LetterContent, PostalAddress, Sender
from replies.pdf import html_to_pdf, refusing_fetcher, render_letter, write_pdf

PT_PER_MM = 72 / 25.4
WINDOW_MM = (20.0, 45.0, 110.0, 90.0)  # a DL window: left, top, right, bottom from the sheet's top left corner
FIELD_MM = (20.0, 45.0, 105.0, 90.0)  # the DIN 5008 address field

SENDER = Sender(name="Telewave S.A. — Dział Reklamacji", address=PostalAddress(("ul. Prosta 1", "00-001 Warszawa")),
                return_line="Telewave S.A., ul. Prosta 1, 00-001 Warszawa", email="reklamacje@telewave.example",
                phone="+48 22 123 45 67", web="www.telewave.example")

LETTERS = {
    "pl": dict(recipient=("Pani Zofia Źdźbło-Łęcka", "ul. Żółkiewskiego 12 m. 4", "31-000 Kraków"),
               subject="Odpowiedź na reklamację", body="Szanowna Pani,\n\nzażółć gęślą jaźń: reklamację uznajemy.\n"
               "Kwota zostanie zwrócona.\n\nZ poważaniem", month="grudnia", registered="Polecony",
               our="Nasz znak"),
    "cs": dict(recipient=("Paní Růžena Dvořáková", "Příčná 5", "110 00 Praha 1"), subject="Odpověď na reklamaci",
               body="Vážená paní,\n\nPříliš žluťoučký kůň úpěl ďábelské ódy.\n\nS pozdravem", month="prosince",
               registered="Doporučeně", our="Naše značka"),
    "ru": dict(recipient=("Иванову Ивану Ивановичу", "ул. Лесная, д. 5, кв. 12", "Москва", "125047"),
               subject="Ответ на претензию", body="Уважаемый Иван Иванович!\n\nСъешь же ещё этих мягких французских "
               "булок, да выпей чаю.\n\nС уважением", month="декабря", registered="Заказное", our="Наш исх. №"),
    "en": dict(recipient=("Mr John Smith", "12 High Street", "Leeds LS1 1AA", "United Kingdom"),
               subject="Your complaint", body="Dear Mr Smith,\n\nWe have credited your account.\n\nYours sincerely",
               month="December", registered="Registered", our="Our reference"),
}


def letter(language: str = "pl", **changes: object) -> LetterContent:
    spec = LETTERS[language]
    content = LetterContent(language=language, sender=SENDER, recipient=PostalAddress(spec["recipient"]),
                            reference="MR-C-000123", letter_date=date(2026, 12, 7), place="Warszawa",
                            subject=spec["subject"], body=spec["body"], signature=("Anna Kowalska", "Specjalistka"))
    return replace(content, **changes)  # type: ignore[arg-type]


def pdf_text(data: bytes) -> list[str]:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return [page.extract_text() or "" for page in pdf.pages]


def mm(value_pt: float) -> float:
    return value_pt / PT_PER_MM


def found(page: pdfplumber.page.Page, text: str) -> dict:
    hits = page.search(text, regex=False)
    assert len(hits) == 1, f"{text!r} found {len(hits)} times"
    return hits[0]


def inside(hit: dict, box: tuple[float, float, float, float]) -> bool:
    left, top, right, bottom = box
    return all(left <= mm(c["x0"]) and mm(c["x1"]) <= right and top <= mm(c["top"]) and mm(c["bottom"]) <= bottom
               for c in hit["chars"])


# ---------------------------------------------------------------- the letter


@pytest.mark.parametrize("language", ["pl", "cs", "ru", "en"])
def test_text_labels_and_date_come_out_as_text_in_the_letters_language(language: str) -> None:
    spec = LETTERS[language]
    content = letter(language, their_reference="Ref-77/2026",
                     attachments=(Attachment("faktura-řž.pdf", "application/pdf", b"%PDF"),))
    pages = pdf_text(render_letter(content))
    assert len(pages) == 1
    text = pages[0]
    lines = [line for paragraph in spec["body"].split("\n\n") for line in paragraph.split("\n")]
    for expected in [*lines, *spec["recipient"], spec["subject"], SENDER.name, SENDER.phone, SENDER.email,
                     "MR-C-000123", "Ref-77/2026", "Anna Kowalska", "faktura-řž.pdf", spec["our"]]:
        assert expected in text, expected
    assert f"7 {spec['month']} 2026" in text or f"{spec['month']} 7, 2026" in text or \
        f"7. {spec['month']} 2026" in text, text
    assert "Warszawa, " in text
    others = {LETTERS[x]["month"] for x in LETTERS if x != language}
    assert not any(month in text for month in others)


def test_paragraphs_and_line_breaks_of_the_body_are_kept() -> None:
    body = "First paragraph line one\nline two of the first\n\n\nSecond paragraph"
    with pdfplumber.open(io.BytesIO(render_letter(letter("en", body=body)))) as pdf:
        page = pdf.pages[0]
        one, two, second = (found(page, t) for t in ("First paragraph line one", "line two of the first",
                                                     "Second paragraph"))
    line_height = two["top"] - one["top"]
    assert line_height > 0 and abs(one["x0"] - two["x0"]) < 0.5  # a line break, not a wrapped or joined line
    assert second["top"] - two["top"] > line_height * 1.3  # a paragraph gap, bigger than a line


@pytest.mark.parametrize("language", ["pl", "cs", "ru", "en"])
@pytest.mark.parametrize("registered", [False, True])
def test_the_address_lies_in_the_dl_window_under_the_return_line(language: str, registered: bool) -> None:
    content = letter(language, registered=registered)
    with pdfplumber.open(io.BytesIO(render_letter(content))) as pdf:
        page = pdf.pages[0]
        assert (mm(float(page.width)), mm(float(page.height))) == pytest.approx((210, 297), abs=0.5)
        lines = [found(page, line) for line in content.recipient.lines]
        back = found(page, SENDER.return_line)
    for hit in lines:
        assert inside(hit, WINDOW_MM), (hit["text"], [(mm(c["x0"]), mm(c["top"])) for c in hit["chars"][:1]])
    assert [h["top"] for h in lines] == sorted(h["top"] for h in lines)
    assert inside(back, FIELD_MM)
    assert max(c["bottom"] for c in back["chars"]) < min(c["top"] for c in lines[0]["chars"])
    assert max(c["size"] for c in back["chars"]) < min(c["size"] for c in lines[0]["chars"])  # small print


def test_a_long_address_line_is_set_smaller_to_stay_in_the_window() -> None:
    long_line = "Spółdzielnia Mieszkaniowa „Przyszłość” w Krakowie"
    content = letter("pl", recipient=PostalAddress((long_line, "os. Centrum C 7/12", "31-929 Kraków")))
    with pdfplumber.open(io.BytesIO(render_letter(content))) as pdf:
        page = pdf.pages[0]
        hits = [found(page, line) for line in content.recipient.lines]
    for hit in hits:
        assert inside(hit, WINDOW_MM), hit["text"]


def test_an_address_that_cannot_fit_the_window_is_refused_with_what_to_do() -> None:
    too_long = "Przedsiębiorstwo Handlowo-Usługowe „Wielka Nazwa Firmy Która Nie Mieści Się W Okienku” Sp. z o.o."
    with pytest.raises(InvalidRequest) as refused:
        render_letter(letter("pl", recipient=PostalAddress((too_long, "ul. Długa 1", "00-001 Warszawa"))))
    assert too_long in refused.value.reason and "shorten" in refused.value.reason
    with pytest.raises(InvalidRequest, match="lines"):
        render_letter(letter("pl", recipient=PostalAddress(tuple(f"line {i}" for i in range(8)))))
    with pytest.raises(InvalidRequest, match="empty"):
        render_letter(letter("pl", recipient=PostalAddress(("  ", ""))))
    with pytest.raises(InvalidRequest, match="language"):
        render_letter(replace(letter("pl"), language="de"))


@pytest.mark.parametrize("language", ["pl", "cs", "ru", "en"])
def test_the_registered_mark_is_printed_in_the_address_field_only_when_registered(language: str) -> None:
    mark = LETTERS[language]["registered"].upper()
    with pdfplumber.open(io.BytesIO(render_letter(letter(language, registered=True)))) as pdf:
        page = pdf.pages[0]
        hit = found(page, mark)
        first_line = found(page, LETTERS[language]["recipient"][0])
        back = found(page, SENDER.return_line)
    assert inside(hit, FIELD_MM)
    assert back["bottom"] <= hit["top"] and hit["bottom"] <= first_line["top"]
    plain = pdf_text(render_letter(letter(language, registered=False)))[0]
    assert mark not in plain.upper()


def test_a_long_letter_runs_to_page_two_with_its_page_number_in_the_language() -> None:
    paragraph = "Wyjaśniamy szczegółowo przebieg postępowania reklamacyjnego i naliczenia opłat. " * 6
    body = "\n\n".join(f"{i}. {paragraph}" for i in range(1, 12))
    pages = pdf_text(render_letter(letter("pl", body=body)))
    assert len(pages) >= 2
    assert "Strona" not in pages[0]
    for number, text in enumerate(pages[1:], start=2):
        assert f"Strona {number} z {len(pages)}" in text
        assert "MR-C-000123" in text
    assert "11. Wyjaśniamy" in pages[-1] and "Anna Kowalska" in pages[-1]
    short = pdf_text(render_letter(letter("pl")))
    assert len(short) == 1 and "Strona" not in short[0]


def test_html_in_the_body_and_subject_is_printed_as_text() -> None:
    body = "Hello <b>bold</b> and <script>alert(1)</script> & <i>more</i>\n\n<p>not a paragraph</p>"
    data = render_letter(letter("en", body=body, subject="Re: <img src=x onerror=alert(1)>"))
    text = pdf_text(data)[0]
    for fragment in ("<b>bold</b>", "<script>alert(1)</script> & <i>more</i>", "<p>not a paragraph</p>",
                     "Re: <img src=x onerror=alert(1)>"):
        assert fragment in text
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        bold = found(pdf.pages[0], "<b>bold</b>")
    assert not any("Bold" in c["fontname"] for c in bold["chars"])


def test_the_letter_is_pdf_a_with_embedded_dejavu_fonts() -> None:
    with pikepdf.open(io.BytesIO(render_letter(letter("ru")))) as pdf:
        assert pdf.open_metadata().pdfa_status == "3B"
        assert "/OutputIntents" in pdf.Root
        fonts = [font for page in pdf.pages for font in page.Resources.Font.values()]
        assert fonts and all("DejaVu" in str(f.get("/BaseFont")) for f in fonts)
        descriptors = [f.DescendantFonts[0].FontDescriptor if "/DescendantFonts" in f else f.FontDescriptor
                       for f in fonts]
        assert all("/FontFile2" in d or "/FontFile3" in d for d in descriptors)  # embedded, not referenced


def test_nothing_is_fetched_while_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="refused"):
        refusing_fetcher()("https://example.com/logo.png")
    connects: list[object] = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: connects.append(address))
    html = ('<html><head><link rel="stylesheet" href="http://127.0.0.1:9/x.css"></head><body>'
            '<img src="http://127.0.0.1:9/logo.png"><img src="file:///etc/hostname"><p>text</p></body></html>')
    data = write_pdf(html_to_pdf(html, [], "a test page"), "a test page")
    assert connects == []
    assert "text" in pdf_text(data)[0]


# ---------------------------------------------------------------- the post batch


def batch_letter(reference: str, pages: int, registered: bool = False, number: str | None = None,
                 language: str = "pl") -> BatchLetter:
    body = "Krótka odpowiedź." if pages == 1 else "\n\n".join(["Długi akapit wyjaśnień dotyczących sprawy. " * 8] * 9)
    content = letter(language, reference=reference, body=body, registered=registered)
    data = render_letter(content)
    assert len(pdf_text(data)) == pages, reference
    return BatchLetter(reference=reference, pdf=data, recipient=content.recipient, registered=registered,
                       registered_number=number)


def test_the_batch_starts_every_letter_on_a_front_side() -> None:
    one, two = batch_letter("MR-C-000001", 1), batch_letter("MR-C-000002", 2)
    batch = build_batch([one, two], language="pl", batch_date=date(2026, 12, 7), title="Poczta 7 grudnia")
    pages = pdf_text(batch.print_pdf)
    assert len(pages) == batch.pages == 4 and batch.sheets == 2 and batch.blank_pages == 1
    assert "MR-C-000001" in pages[0]
    assert pages[1].strip() == ""  # the back of letter one's sheet stays blank
    assert "MR-C-000002" in pages[2] and "Strona 2 z 2" in pages[3]
    assert batch.starts == (1, 3)
    again = build_batch([two, one, one], language="pl", batch_date=date(2026, 12, 7), title="")
    assert again.pages == len(pdf_text(again.print_pdf)) == 6 and again.starts == (1, 3, 5)


def test_the_posting_list_lists_exactly_the_registered_letters_with_their_numbers() -> None:
    letters = [batch_letter("MR-C-000010", 1, registered=True, number="RR123456789PL"),
               batch_letter("MR-C-000011", 1),
               batch_letter("MR-C-000012", 2, registered=True)]
    batch = build_batch(letters, language="pl", batch_date=date(2026, 12, 7), title="Poczta — Reklamacje",
                        sender=SENDER)
    assert batch.registered == 2
    text = "\n".join(pdf_text(batch.posting_list_pdf))
    assert "MR-C-000010" in text and "MR-C-000012" in text and "MR-C-000011" not in text
    assert "RR123456789PL" in text and text.count("RR") == 1
    assert "2 listy polecone" in text and "7 grudnia 2026" in text and SENDER.name in text
    assert "Poczta — Reklamacje" in text and "Adresat" in text
    with pikepdf.open(io.BytesIO(batch.posting_list_pdf)) as listing:
        assert listing.open_metadata().pdfa_status == "3B"
    with pdfplumber.open(io.BytesIO(batch.posting_list_pdf)) as pdf:
        page = pdf.pages[0]
        known, unknown = found(page, "MR-C-000010"), found(page, "MR-C-000012")
        number = found(page, "RR123456789PL")
        # the box's edges lie inside the column (the table's own rules start at the column's left edge)
        edges = [line for line in page.lines if line["top"] == line["bottom"] and line["x0"] >= number["x0"] - 2]
    assert abs(number["top"] - known["top"]) < 2  # the number stands in its letter's row
    assert any(abs(e["top"] - unknown["top"]) < 5 for e in edges)  # an empty box to write in the other's number
    assert not any(abs(e["top"] - known["top"]) < 5 for e in edges)


def test_a_batch_of_many_letters_lists_every_registered_one_on_numbered_pages() -> None:
    source = [batch_letter(f"MR-C-{i:06d}", 1, registered=True) for i in range(3)]
    letters = [replace(source[i % 3], reference=f"MR-C-{i:06d}", registered_number=f"RR{i:09d}PL" if i % 2 else None)
               for i in range(60)]
    batch = build_batch(letters, language="cs", batch_date=date(2026, 12, 7), title="Pošta", sender=SENDER)
    assert batch.pages == 120 and batch.starts == tuple(range(1, 121, 2))
    pages = pdf_text(batch.posting_list_pdf)
    assert len(pages) >= 2 and f"Strana {len(pages)} z {len(pages)}" in pages[-1]
    text = "\n".join(pages)
    assert "60 doporučených dopisů" in text
    assert all(f"MR-C-{i:06d}" in text for i in range(60))
    assert all((f"RR{i:09d}PL" in text) == bool(i % 2) for i in range(60))


def test_a_broken_letter_pdf_or_a_stray_number_stops_the_batch_with_what_to_do() -> None:
    good = batch_letter("MR-C-000020", 1)
    with pytest.raises(CorruptInput, match="MR-C-000021.*render it again"):
        build_batch([good, replace(good, reference="MR-C-000021", pdf=b"not a pdf")], language="pl",
                    batch_date=date(2026, 12, 7), title="")
    with pytest.raises(InvalidRequest, match="not registered"):
        build_batch([replace(good, registered_number="RR1PL")], language="pl", batch_date=date(2026, 12, 7),
                    title="")
    with pytest.raises(InvalidRequest, match="no letters"):
        build_batch([], language="pl", batch_date=date(2026, 12, 7), title="")
