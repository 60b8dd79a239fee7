"""OCR stage: sniffing, page loading and limits, text layers, real tesseract, blank pages, separators.

Fixtures are drawn here with Pillow/reportlab/img2pdf/segno: small crops of 300 dpi pages, so the
whole file runs in well under a minute with real tesseract.
"""

from __future__ import annotations

import io
import random
import struct
import threading
import time
import zlib
from functools import cache
from pathlib import Path

import img2pdf
import numpy as np
import pypdfium2 as pdfium
import pytest
import segno
from PIL import Image, ImageDraw, ImageFile, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from ground.errors import CorruptInput, Disposition, EncryptedPdf, MailroomError, TooLarge, UnsupportedInput
from ground.records import OcrResult, PageText
from ground.settings import Settings
from ocr import extract, ocr_text, sniff_type, split_documents
from ocr.engine import OcrTimeout, TesseractEngine
from ocr.pages import iter_image_pages
from ocr.triage import SEPARATOR_PAYLOADS, ink, is_blank, is_separator, usable_text_layer, work_copy

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SETTINGS = Settings(ocr_page_timeout=30)

LETTER_PL = [
    "Reklamacja faktury FV/2026/10/004512",
    "Nr klienta: MR-1234567",
    "Proszę o korektę kwoty 149,99 zł.",
]
LETTER_CS = ["Číslo zákazníka: MR-7654321", "Žádám o zrušení smlouvy."]
LETTER_RU = ["Номер клиента: MR-1112223", "Прошу расторгнуть договор."]


# ---------------------------------------------------------------- fixture makers


@cache
def text_page(lines: tuple[str, ...], size: tuple[int, int] = (1500, 420), font_px: int = 42) -> Image.Image:
    """A cropped 300 dpi scan: black text on white (42 px ≈ 10 pt)."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, font_px)
    for i, line in enumerate(lines):
        draw.text((120, 60 + i * int(font_px * 1.6)), line, font=font, fill=0)
    return image


@cache
def separator_page() -> Image.Image:
    page = Image.new("L", (1240, 1754), 255)  # A4 at 150 dpi
    qr = segno.make(SEPARATOR_PAYLOADS[0], error="m", micro=False)  # a Micro QR would not be read by OpenCV
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=12, border=4)
    page.paste(Image.open(buf).convert("L"), (420, 700))
    ImageDraw.Draw(page).text((260, 250), "SEPARATOR", font=ImageFont.truetype(FONT, 130), fill=0)
    return page


@cache
def blank_page() -> Image.Image:
    """Grey-ish paper with sensor noise, dust specks and two punch holes in the margin."""
    rng = np.random.default_rng(7)
    arr = rng.normal(242, 6, (1754, 1240)).clip(0, 255).astype(np.uint8)
    for _ in range(200):
        y, x = rng.integers(0, 1750), rng.integers(0, 1236)
        arr[y : y + 1, x : x + 1] = 40
    page = Image.fromarray(arr)
    draw = ImageDraw.Draw(page)
    for cy in (500, 1250):
        draw.ellipse((30, cy - 18, 66, cy + 18), fill=15)
    return page


def png(image: Image.Image, dpi: int = 300) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", dpi=(dpi, dpi))
    return buf.getvalue()


def image_pdf(*pages: Image.Image, dpi: int = 300) -> bytes:
    return img2pdf.convert([png(p, dpi) for p in pages])


def text_layer_pdf(*pages: list[str], encrypt: str | None = None, pagesize: tuple[float, float] = A4) -> bytes:
    if "DejaVu" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVu", FONT))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=pagesize, encrypt=encrypt)
    for lines in pages:
        pdf.setFont("DejaVu", 12)
        for i, line in enumerate(lines):
            pdf.drawString(72, pagesize[1] - 100 - i * 18, line)
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def fax_tiff(pages: int = 2) -> bytes:
    """A G4 fax at 204×98 dpi ('normal' mode), 1-bit, min-is-white, as fax machines send it."""
    frames = []
    for n in range(pages):
        square = text_page((f"Faks strona {n + 1}", "Faktura FV/2026/10/004512"), size=(1728, 360), font_px=44)
        frames.append(square.resize((1728, 180)).point(lambda v: 255 if v > 160 else 0).convert("1"))
    buf = io.BytesIO()
    frames[0].save(
        buf,
        "TIFF",
        compression="group4",
        dpi=(204, 98),
        save_all=True,
        append_images=frames[1:],
        tiffinfo={262: 0},  # PhotometricInterpretation = WhiteIsZero
    )
    return buf.getvalue()


def huge_png_header(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG signature and IHDR claiming a huge size, with almost no data behind it."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def pdf_with_huge_image(width: int = 100_000, height: int = 100_000) -> bytes:
    """An A4 page drawing one 1-bit image that claims width × height pixels (a few bytes compressed)."""
    pixels = zlib.compress(b"\0" * 1000)
    content = b"q 595 0 0 842 0 0 cm /Im0 Do Q"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im0 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 1 "
        b"/Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream" % (width, height, len(pixels), pixels),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


class CountingEngine:
    """The real tesseract engine, counting the pages it is asked to read."""

    name = "counting-tesseract"

    def __init__(self) -> None:
        self.inner = TesseractEngine()
        self.calls = 0

    def read(self, image: Image.Image, languages: str, timeout: float) -> str:
        self.calls += 1
        return self.inner.read(image, languages, timeout)


class RefusingEngine:
    name = "refusing"

    def read(self, image: Image.Image, languages: str, timeout: float) -> str:
        raise AssertionError("pages with a usable text layer must not be OCRed")


def _must_not_decode(*args: object, **kwargs: object) -> None:
    raise AssertionError("a file refused for its size must not be decoded or rendered")


class QuickEngine:
    name = "quick"

    def read(self, image: Image.Image, languages: str, timeout: float) -> str:
        return "text"


class HangsOnPage2Engine:
    """Fault injection through the engine hook: page 2 never answers in time (ignores the timeout)."""

    name = "hangs-on-page-2"

    def __init__(self) -> None:
        self.calls = 0
        self.release = threading.Event()

    def read(self, image: Image.Image, languages: str, timeout: float) -> str:
        self.calls += 1
        if self.calls == 2:
            self.release.wait(30)
            return "too late"
        return f"page text {self.calls}"


# ---------------------------------------------------------------- sniffing


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("TIFF", "image/tiff"), ("GIF", "image/gif"),
     ("BMP", "image/bmp"), ("WEBP", "image/webp")],
)  # fmt: skip
def test_sniff_images_by_content_not_name(fmt: str, expected: str) -> None:
    buf = io.BytesIO()
    Image.new("L", (8, 8), 255).save(buf, fmt)
    assert sniff_type(buf.getvalue(), "letter.pdf") == expected


def test_sniff_documents_and_mail() -> None:
    assert sniff_type(text_layer_pdf(["x"]), "scan.jpg") == "application/pdf"
    assert sniff_type(b"junk\r\n%PDF-1.4\n...") == "application/pdf"
    eml = b"Return-Path: <a@b.pl>\r\nFrom: Jan <a@b.pl>\r\nTo: bok@operator.pl\r\nSubject: Reklamacja\r\n\r\nTekst"
    assert sniff_type(eml, "x.txt") == "message/rfc822"
    assert sniff_type("Dzień dobry,\nproszę o fakturę.\n".encode(), "x.eml") == "text/plain"
    assert sniff_type("Subject: reklamacja\n\nDzień dobry".encode(), "x.eml") == "message/rfc822"
    msg = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500 + "__substg1.0_0037001F".encode("utf-16-le")
    assert sniff_type(msg, "mail.msg") == "application/vnd.ms-outlook"


def test_sniff_refuses_with_reasons_a_person_understands() -> None:
    with pytest.raises(UnsupportedInput, match="is not a PDF, image, TIFF fax or e-mail; send it as one of those"):
        sniff_type(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)), "umowa.docx")
    with pytest.raises(UnsupportedInput, match="Word/Excel"):
        sniff_type(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "old.doc")
    with pytest.raises(CorruptInput, match="empty"):
        sniff_type(b"", "scan.pdf")


# ---------------------------------------------------------------- loading and limits


def test_fax_tiff_frames_are_rescaled_to_square_pixels_and_read_as_ink_on_paper() -> None:
    pages = list(iter_image_pages(fax_tiff(2), SETTINGS))
    assert [p.number for p in pages] == [1, 2]
    for page in pages:
        assert page.image.mode == "L"
        assert page.image.size == (1728, 375)  # 180 rows × 204/98
        assert page.dpi == 204
        assert np.median(np.asarray(page.image)) > 200  # white paper, not inverted


def test_white_on_black_and_transparent_images_become_dark_ink_on_white() -> None:
    inverted = Image.eval(text_page(tuple(LETTER_PL)), lambda v: 255 - v)
    (page,) = iter_image_pages(png(inverted), SETTINGS)
    assert np.median(np.asarray(page.image)) > 200
    rgba = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).text((10, 10), "Tak", fill=(0, 0, 0, 255))
    buf = io.BytesIO()
    rgba.save(buf, "PNG")
    (page,) = iter_image_pages(buf.getvalue(), SETTINGS)
    assert np.median(np.asarray(page.image)) == 255


def test_png_claiming_100k_by_100k_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    # refused from the header: no pixel is decoded (the time it takes is measured by `python -m bench.budgets png`)
    monkeypatch.setattr(ImageFile.ImageFile, "load", _must_not_decode)
    with pytest.raises(TooLarge) as err:
        extract(huge_png_header(), "image/png", settings=SETTINGS, engine=RefusingEngine())
    assert "normal resolution" in err.value.reason
    with pytest.raises(TooLarge):  # under Pillow's own limit but over ours
        extract(huge_png_header(5000, 5000), "image/png", settings=Settings(max_pixels=1_000_000))


def test_huge_pdf_page_and_too_many_pages_are_refused() -> None:
    huge = text_layer_pdf(["x"], pagesize=(14_400, 14_400))  # 200 in × 200 in → 60000² pixels at 300 dpi
    with pytest.raises(TooLarge, match="Page 1 of the PDF"):
        extract(huge, "application/pdf", settings=SETTINGS, engine=RefusingEngine())
    three = text_layer_pdf(LETTER_PL, LETTER_PL, LETTER_PL)
    with pytest.raises(TooLarge, match="3 pages"):
        extract(three, "application/pdf", settings=Settings(max_pages=2))
    with pytest.raises(TooLarge, match="3 pages"):
        extract(fax_tiff(3), "image/tiff", settings=Settings(max_pages=2))


def test_pdf_page_drawing_a_huge_image_is_refused_before_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    # refused before the page is rendered (the time it takes: `python -m bench.budgets pdf`)
    with monkeypatch.context() as m:
        m.setattr(pdfium.PdfPage, "render", _must_not_decode)
        with pytest.raises(TooLarge, match="holds images of more than"):
            extract(pdf_with_huge_image(), "application/pdf", settings=SETTINGS, engine=RefusingEngine())
    result = extract(pdf_with_huge_image(800, 600), "application/pdf", settings=SETTINGS, engine=QuickEngine())
    assert result.pages[0].blank  # same file with a sane image renders (all white: nothing to OCR)


def test_encrypted_pdf_needs_a_person() -> None:
    with pytest.raises(EncryptedPdf) as err:
        extract(text_layer_pdf(LETTER_PL, encrypt="secret"), "application/pdf", settings=SETTINGS)
    assert err.value.reason == "The PDF is password-protected; ask the sender for an unprotected copy."
    assert err.value.disposition is Disposition.NEEDS_HUMAN


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (text_layer_pdf(LETTER_PL)[:400], "application/pdf"),
        (png(text_page(tuple(LETTER_PL)))[:3000], "image/png"),
        (fax_tiff(1)[:300], "image/tiff"),
        (b"", "application/pdf"),
    ],
    ids=["truncated-pdf", "truncated-png", "truncated-tiff", "zero-bytes"],
)
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_broken_files_are_corrupt(data: bytes, content_type: str) -> None:
    with pytest.raises(CorruptInput) as err:
        extract(data, content_type, settings=SETTINGS, engine=RefusingEngine())
    assert err.value.disposition is Disposition.QUARANTINE


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_truncated_scan_is_damaged_also_after_a_letter_was_printed() -> None:
    """A worker prints letters (WeasyPrint) and reads scans: WeasyPrint's import turns on Pillow's
    LOAD_TRUNCATED_IMAGES for the whole process, and a truncated PNG was then OCRed as if whole (seen in the suite:
    the test above failed after a test had printed an acknowledgement)."""
    from replies.pdf import html_to_pdf

    assert html_to_pdf("<p>Dzień dobry</p>", [], "a test letter") is not None
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    with pytest.raises(CorruptInput):
        extract(png(text_page(tuple(LETTER_PL)))[:3000], "image/png", settings=SETTINGS, engine=RefusingEngine())


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow narrates the damage it finds
@pytest.mark.parametrize("kind", ["pdf", "tiff", "png"])
def test_mangled_files_fail_only_with_typed_errors(kind: str) -> None:
    """Truncations and flipped bytes: either the file is read or a MailroomError says why, nothing else."""
    original = {
        "pdf": text_layer_pdf(LETTER_PL, LETTER_CS),
        "tiff": fax_tiff(2),
        "png": png(text_page(tuple(LETTER_CS))),
    }[kind]
    rng = random.Random(11)
    for attempt in range(60):
        data = bytearray(original)
        if attempt % 2:
            data = data[: rng.randrange(1, len(data))]
        else:
            for _ in range(rng.randrange(1, 20)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            extract(bytes(data), "application/octet-stream", settings=SETTINGS, engine=QuickEngine())
        except MailroomError as exc:
            assert exc.reason


def test_e_mail_and_unknown_files_are_not_ocr_input() -> None:
    with pytest.raises(UnsupportedInput):
        extract(b"From: a@b.pl\nSubject: x\n\nbody", "message/rfc822", settings=SETTINGS)
    with pytest.raises(UnsupportedInput):
        extract(b"\x00\x01\x02\x03" * 100, "application/octet-stream", settings=SETTINGS)


# ---------------------------------------------------------------- text layers and plain text


def test_text_layer_pdf_is_read_without_ocr() -> None:
    data = text_layer_pdf(LETTER_PL, LETTER_CS + LETTER_RU)
    result = extract(data, "application/pdf", settings=SETTINGS, engine=RefusingEngine())
    assert [(p.number, p.method, p.blank) for p in result.pages] == [(1, "text-layer", False), (2, "text-layer", False)]
    assert "Proszę o korektę kwoty 149,99 zł." in result.pages[0].text
    assert "Žádám o zrušení smlouvy." in result.pages[1].text
    assert "Прошу расторгнуть договор." in result.pages[1].text


LONG_LETTER = [f"{line} (wiersz {n})" for n in range(1, 5) for line in LETTER_PL + LETTER_CS + LETTER_RU]


def _unmapped_glyphs_pdf(lines: list[str]) -> bytes:
    """A PDF whose font names its glyphs /g32.../g126: no Unicode mapping PDFium trusts."""
    diffs = " ".join(f"/g{c}" for c in range(32, 127))
    content = "BT /F1 12 Tf 72 760 Td 14 TL " + " ".join(f"({line}) '" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        f"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding << /Differences [32 {diffs}] >> >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode())
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    out.write("".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


@pytest.fixture
def plumber_opens(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the times pdfplumber opens a file (the slow reader, used only where PDFium's text is not trusted)."""
    import importlib

    module = importlib.import_module("ocr.extract")
    opened: list[int] = []
    real = module._open_text_layer

    def counting(data: bytes) -> object:
        opened.append(len(data))
        return real(data)

    monkeypatch.setattr(module, "_open_text_layer", counting)
    return opened


def _plumber_text(data: bytes) -> list[str]:
    import pdfplumber

    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return [(page.extract_text() or "").strip() for page in pdf.pages]


def test_a_plain_text_layer_is_read_by_pdfium_as_pdfplumber_reads_it(plumber_opens: list[int]) -> None:
    data = text_layer_pdf(LONG_LETTER, LONG_LETTER[::-1])
    result = extract(data, "application/pdf", settings=SETTINGS, engine=RefusingEngine())
    assert plumber_opens == []
    assert [p.method for p in result.pages] == ["text-layer", "text-layer"]
    assert [p.text for p in result.pages] == _plumber_text(data)  # the same text, line for line


def test_a_page_drawn_out_of_order_is_read_by_pdfplumber_top_to_bottom(plumber_opens: list[int]) -> None:
    pdfmetrics.registerFont(TTFont("DejaVu", FONT))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    pdf.setFont("DejaVu", 12)
    for i, line in reversed(list(enumerate(LONG_LETTER))):  # the last line is drawn first
        pdf.drawString(72, A4[1] - 100 - i * 18, line)
    pdf.showPage()
    pdf.save()
    (page,) = extract(buf.getvalue(), "application/pdf", settings=SETTINGS, engine=RefusingEngine()).pages
    assert len(plumber_opens) == 1
    assert page.text.splitlines() == LONG_LETTER


def test_glyphs_without_a_unicode_mapping_are_read_by_pdfplumber(plumber_opens: list[int]) -> None:
    lines = [f"Dear Sir or Madam, this is line {n} of a letter with plenty of words" for n in range(12)]
    data = _unmapped_glyphs_pdf(lines)
    (page,) = extract(data, "application/pdf", settings=SETTINGS, engine=RefusingEngine()).pages
    assert len(plumber_opens) == 1
    assert page.method == "text-layer" and page.text == _plumber_text(data)[0]


def test_garbage_text_layers_are_rejected() -> None:
    assert usable_text_layer("Szanowni Państwo, proszę o korektę faktury za październik.")
    assert not usable_text_layer("(cid:3)(cid:17)(cid:42)" * 20 + " ab")
    assert not usable_text_layer("\ufffd" * 40 + "Faktura za usługi telekomunikacyjne")
    assert not usable_text_layer("Strona 1/2")  # too few letters: probably a scan with a printed footer
    assert not usable_text_layer("12 34 56 78 90 " * 30 + "abc")


def test_plain_text_is_one_page() -> None:
    result = extract("Zażółć gęślą jaźń".encode("iso-8859-2"), "text/plain; charset=iso-8859-2")
    assert result.pages == [PageText(number=1, text="Zażółć gęślą jaźń", method="text")]
    assert extract("Dobrý den".encode(), "application/octet-stream").pages[0].text == "Dobrý den"


# ---------------------------------------------------------------- real OCR


def test_scanned_png_is_ocred_in_polish_with_default_languages() -> None:
    result = extract(png(text_page(tuple(LETTER_PL))), "image/png", settings=SETTINGS)
    (page,) = result.pages
    assert page.method == "ocr" and not page.blank and page.flags == []
    assert "MR-1234567" in page.text
    assert "FV/2026/10/004512" in page.text
    assert "korektę" in page.text  # Polish diacritics survive


def test_pdf_mixing_text_layer_and_scanned_page() -> None:
    scan = text_page(tuple(LETTER_RU), size=(1500, 300))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    pdfmetrics.registerFont(TTFont("DejaVu", FONT))
    pdf.setFont("DejaVu", 12)
    for i, line in enumerate(LETTER_CS):
        pdf.drawString(72, 700 - i * 18, line)
    pdf.showPage()
    pdf.drawInlineImage(scan, 36, 500, width=scan.width * 72 / 300, height=scan.height * 72 / 300)
    pdf.showPage()
    pdf.save()
    engine = CountingEngine()
    result = extract(buf.getvalue(), "application/pdf", settings=SETTINGS, engine=engine)
    assert [p.method for p in result.pages] == ["text-layer", "ocr"]
    assert engine.calls == 1
    assert "MR-1112223" in result.pages[1].text
    assert "договор" in result.pages[1].text


def test_fax_tiff_pages_are_ocred() -> None:
    result = extract(fax_tiff(2), "image/tiff", settings=SETTINGS)
    assert [p.number for p in result.pages] == [1, 2]
    for n, page in enumerate(result.pages, 1):
        assert f"strona {n}" in page.text
        assert "FV/2026/10/004512" in page.text


def test_batch_with_separator_and_blank_page_splits_into_two_documents() -> None:
    letter_a = text_page(tuple(LETTER_PL), size=(1500, 420))
    letter_b = text_page(tuple(LETTER_CS), size=(1500, 300))
    data = image_pdf(letter_a, separator_page(), letter_b, blank_page(), separator_page())
    engine = CountingEngine()
    result = extract(data, "application/pdf", settings=SETTINGS, engine=engine)
    assert engine.calls == 2  # neither the separators nor the blank page were OCRed
    assert [(p.number, p.blank, p.flags) for p in result.pages] == [
        (1, False, []),
        (2, False, ["separator"]),
        (3, False, []),
        (4, True, []),
        (5, False, ["separator"]),
    ]
    assert result.pages[1].text == ""
    documents = split_documents(result)
    assert [[p.number for p in d.pages] for d in documents] == [[1], [3]]
    assert "MR-1234567" in documents[0].text and "MR-7654321" in documents[1].text
    assert documents[1].page_count == 1


def test_separator_sheet_with_a_scanner_text_layer_is_still_a_separator() -> None:
    """Scanners that OCR on their own give the sheet a text layer; the QR code still decides."""
    qr = separator_page().crop((400, 680, 880, 1160))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    pdfmetrics.registerFont(TTFont("DejaVu", FONT))
    for heading in ("SEPARATOR", "SEPARATOR"):
        pdf.setFont("DejaVu", 40)
        pdf.drawString(150, 700, heading)
        pdf.setFont("DejaVu", 12)
        pdf.drawString(150, 660, "Mailroom batch separator sheet: do not remove, scan with the batch")
        if heading == "SEPARATOR" and pdf.getPageNumber() == 1:
            pdf.drawInlineImage(qr, 180, 300, width=230, height=230)
        pdf.showPage()
    pdf.save()
    result = extract(buf.getvalue(), "application/pdf", settings=SETTINGS, engine=RefusingEngine())
    assert [(p.method, p.flags) for p in result.pages] == [("text-layer", ["separator"]), ("text-layer", [])]
    assert result.pages[0].text == "" and "do not remove" in result.pages[1].text


def test_split_drops_documents_without_content_and_keeps_a_batch_without_separators_whole() -> None:
    sep = PageText(number=0, text="", method="ocr", flags=["separator"])
    blank = PageText(number=0, text="", method="ocr", blank=True)
    text = PageText(number=0, text="a", method="ocr")
    assert split_documents(OcrResult(pages=[sep, blank, sep, text, blank, text])) == [OcrResult([text, text])]
    assert split_documents(OcrResult(pages=[blank, sep, blank])) == []


def test_blank_and_separator_detection_on_their_own() -> None:
    assert is_blank(work_copy(blank_page()))
    assert not is_blank(work_copy(separator_page()))
    signature_only = Image.new("L", (2480, 3508), 255)  # a last page holding only the closing line
    ImageDraw.Draw(signature_only).text((300, 1500), "Z poważaniem, Jan Kowalski", font=ImageFont.truetype(FONT, 42))
    assert not is_blank(work_copy(signature_only))
    assert is_separator(work_copy(separator_page()), separator_page())
    other_qr = separator_page().copy()
    code = segno.make("https://example.com/MAILROOM-SEPARATOR", micro=False)
    buf = io.BytesIO()
    code.save(buf, kind="png", scale=10, border=4)
    other_qr.paste(Image.open(buf).convert("L"), (420, 700))
    assert not is_separator(work_copy(other_qr), other_qr)


def test_only_pages_with_code_like_ink_are_searched_for_a_separator_code() -> None:
    """The ink pass that finds blank pages also tells which pages may carry a QR code at all."""
    letter = Image.new("L", (2480, 3508), 255)
    draw = ImageDraw.Draw(letter)
    for n, line in enumerate([*LETTER_PL, *LETTER_CS, "Z poważaniem", "Jan Kowalski"] * 4):
        draw.text((300, 400 + 64 * n), line, font=ImageFont.truetype(FONT, 42), fill=0)
    draw.text((300, 200), "REKLAMACJA", font=ImageFont.truetype(FONT, 90), fill=0)  # a big bold title
    assert not ink(work_copy(letter)).code_like
    assert not is_separator(work_copy(letter), letter, page_ink=ink(work_copy(letter)))
    sheet = separator_page()
    assert ink(work_copy(sheet)).code_like
    assert is_separator(work_copy(sheet), sheet, page_ink=ink(work_copy(sheet)))
    # a code in the margin, where blobs are not looked at, still sends the page to the QR detector
    corner = letter.copy()
    code = segno.make(SEPARATOR_PAYLOADS[0], error="m", micro=False)
    buf = io.BytesIO()
    code.save(buf, kind="png", scale=7, border=1)
    corner.paste(Image.open(buf).convert("L"), (10, 10))
    assert ink(work_copy(corner)).code_like


def test_hanging_engine_leaves_the_page_empty_and_flagged() -> None:
    engine = HangsOnPage2Engine()
    data = image_pdf(*(text_page((f"Strona {n}", "Reklamacja"), size=(1000, 250)) for n in (1, 2, 3)))
    start = time.perf_counter()
    try:
        result = extract(data, "application/pdf", settings=Settings(ocr_page_timeout=0.5), engine=engine)
    finally:
        engine.release.set()
    assert time.perf_counter() - start < 5
    assert [(p.text, p.flags) for p in result.pages] == [
        ("page text 1", []),
        ("", ["ocr-timeout"]),
        ("page text 3", []),
    ]


def test_tesseract_timeout_kills_the_process() -> None:
    with pytest.raises(OcrTimeout):
        TesseractEngine().read(text_page(tuple(LETTER_PL)), "pol+ces+rus+eng", timeout=0.01)


def test_ocr_text_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "scan.bin"  # the name says nothing; the content does
    path.write_bytes(png(text_page(tuple(LETTER_CS), size=(1500, 300))))
    text = ocr_text(path, settings=SETTINGS)
    assert "MR-7654321" in text and "zrušení" in text
