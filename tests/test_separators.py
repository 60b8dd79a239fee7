"""Separator sheets as users already print them (issue 14): the specification's `MAILROOM-SEPARATOR` QR code,
Paperless-ngx's `PATCHT` sheet, and 1-D barcodes (Code 128, Code 39), each splitting a scanned batch into its
letters. The sheets are drawn here with reportlab's own barcode code and segno, printed to a PDF, rasterised
at 300 dpi and given scanner noise: nothing of the detector's own code draws them."""

from __future__ import annotations

import importlib
import io
import json
import random
from pathlib import Path

import img2pdf
import numpy as np
import pypdfium2 as pdfium
import pytest
import segno
from PIL import Image
from reportlab.graphics.barcode import code39, code128
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from corpus.render import scan_effects
from ground.settings import Settings
from ocr.triage import ink, is_separator, work_copy
from pipeline.stages import read


def _sheet(kind: str, payload: str) -> Image.Image:
    """A separator sheet as a PDF printer would make it, scanned at 300 dpi with noise."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    width, height = A4
    if kind == "qr":
        matrix = segno.make_qr(payload, error="m").matrix
        module = 1.6 * mm
        x0, y0 = (width - len(matrix) * module) / 2, height * 0.55
        for r, row in enumerate(matrix):
            for col, dark in enumerate(row):
                if dark:
                    c.rect(x0 + col * module, y0 + (len(matrix) - r) * module, module, module, stroke=0, fill=1)
    else:
        make = code128.Code128 if kind == "code128" else code39.Standard39
        bar = make(payload, barWidth=0.5 * mm, barHeight=25 * mm, humanReadable=True)
        bar.drawOn(c, (width - bar.width) / 2, height * 0.6)
    c.setFont("Helvetica-Bold", 28)
    c.drawCentredString(width / 2, height * 0.4, "Batch separator")
    c.showPage()
    c.save()
    pdf = pdfium.PdfDocument(buf.getvalue())
    image = pdf[0].render(scale=300 / 72, grayscale=True).to_pil().convert("L")
    pdf.close()
    return scan_effects(image, random.Random(7), strength=0.7)


@pytest.fixture(scope="module")
def letters(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Image.Image, str]]:
    from corpus.generate import generate

    out = tmp_path_factory.mktemp("letters")
    truth = generate(out, seed=21, count=12, forms=["scan_png"])
    pages = []
    for rec in truth[:3]:
        pages.append((Image.open(out / rec["file"]).convert("L"), rec["documents"][0]["text"]))
    return pages


def _words(text: str) -> set[str]:
    return {w for w in "".join(ch if ch.isalnum() else " " for ch in text.lower()).split() if len(w) >= 5}


@pytest.mark.parametrize("kind, payload", [("qr", "MAILROOM-SEPARATOR"), ("qr", "PATCHT"),
                                           ("code128", "PATCHT"), ("code39", "PATCHT"),
                                           ("code128", "MAILROOM-SEPARATOR")])
def test_batch_splits_at_separator_sheets(kind: str, payload: str, letters: list[tuple[Image.Image, str]]) -> None:
    sheet = _sheet(kind, payload)
    pages = [letters[0][0], sheet, letters[1][0], sheet, letters[2][0]]
    blobs = []
    for page in pages:
        out = io.BytesIO()
        page.save(out, format="JPEG", quality=85, dpi=(300, 300))
        blobs.append(out.getvalue())
    batch = img2pdf.convert(blobs)
    found = list(read(batch, "application/pdf", "batch.pdf", Settings()))
    assert len(found) == 3, [f.ocr.text[:80] for f in found]
    for doc, (_, truth) in zip(found, letters, strict=True):
        want = _words(truth)
        assert len(want & _words(doc.ocr.text)) >= 0.8 * len(want)  # each document is its own letter


def test_only_configured_payloads_separate() -> None:
    sheet = _sheet("code128", "INVOICE-4711")
    gray = work_copy(sheet)
    assert ink(gray).code_like  # a row of bars is searched ...
    assert not is_separator(gray, sheet, page_ink=ink(gray))  # ... but another payload is no separator
    assert is_separator(gray, sheet, payloads=["INVOICE-4711"], page_ink=ink(gray))


def test_a_letter_page_is_not_searched(letters: list[tuple[Image.Image, str]]) -> None:
    gray = work_copy(letters[0][0])
    assert not ink(gray).code_like  # text lines are neither bars nor a square code: no search at all


def test_payloads_setting_takes_a_list_or_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILROOM_SEPARATOR_PAYLOADS", "ACME-SEP, PATCHT")
    assert Settings().separator_payloads == ["ACME-SEP", "PATCHT"]
    monkeypatch.setenv("MAILROOM_SEPARATOR_PAYLOADS", json.dumps(["ONE"]))
    assert Settings().separator_payloads == ["ONE"]
    monkeypatch.delenv("MAILROOM_SEPARATOR_PAYLOADS")
    assert Settings().separator_payloads == ["MAILROOM-SEPARATOR", "PATCHT"]
    monkeypatch.setenv("MAILROOM_SEPARATOR_PAYLOADS", " , ")
    with pytest.raises(ValueError, match="SEPARATOR_PAYLOADS is empty"):
        Settings()


def test_barcode_sheet_in_a_scanned_tiff(tmp_path: Path, letters: list[tuple[Image.Image, str]]) -> None:
    """The same split on a multi-page TIFF, as a scanning station's hot folder receives it."""
    sheet = _sheet("code39", "PATCHT")
    frames = [Image.fromarray(np.asarray(p)) for p in (letters[0][0], sheet, letters[1][0])]
    out = io.BytesIO()
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_lzw",
                   dpi=(300, 300))
    found = list(read(out.getvalue(), "image/tiff", "batch.tif", Settings()))
    assert len(found) == 2
    assert np.mean([p.method != "separator" for d in found for p in d.ocr.pages]) == 1.0


def _text_page(c: canvas.Canvas, lines: list[str]) -> None:
    c.setFont("Helvetica", 11)
    for i, line in enumerate(lines):
        c.drawString(25 * mm, A4[1] - (30 + 7 * i) * mm, line)
    c.showPage()


def test_born_digital_batch_splits_and_a_text_only_page_is_not_rendered(monkeypatch: pytest.MonkeyPatch) -> None:
    """A PDF printed straight from a computer: a two-page letter whose short last page is text only, a vector
    QR sheet with no caption (its few words name no payload), then a second letter. The sheet is found from
    its drawing; the short text-only page is never rendered to look for a code."""
    extract_module = importlib.import_module("ocr.extract")  # the package exports a function of that name
    letter_a = [f"Dear Sir or Madam, line {i} of the first letter about my broadband contract." for i in range(30)]
    letter_b = [f"Second letter, line {i}: please change my correspondence address to the new one." for i in range(30)]
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    _text_page(c, letter_a)
    _text_page(c, ["Yours faithfully,", "Jane Example"])  # the short, text-only last page of letter A
    matrix = segno.make_qr("PATCHT", error="m").matrix
    module = 1.6 * mm
    for r, row in enumerate(matrix):
        for col, dark in enumerate(row):
            if dark:
                c.rect(70 * mm + col * module, 150 * mm + (len(matrix) - r) * module, module, module, stroke=0, fill=1)
    c.setFont("Helvetica", 9)
    c.drawString(25 * mm, 40 * mm, "Scan station three, morning batch")  # enough words for a text layer
    c.showPage()
    _text_page(c, letter_b)
    c.save()
    rendered: list[int] = []
    real = extract_module._pdf_page_is_separator

    def counting(pdf: pdfium.PdfDocument, index: int, settings: Settings) -> bool:
        rendered.append(index)
        return real(pdf, index, settings)

    monkeypatch.setattr(extract_module, "_pdf_page_is_separator", counting)
    found = list(read(buf.getvalue(), "application/pdf", "batch.pdf", Settings()))
    assert [len(d.ocr.pages) for d in found] == [2, 1], [d.ocr.text[:60] for d in found]
    assert "Jane Example" in found[0].ocr.text and "correspondence address" in found[1].ocr.text
    assert rendered == [2]  # the QR sheet only (0-based page index)
