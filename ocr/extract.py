"""The OCR stage: bytes of a PDF, image, TIFF fax or plain text in, OcrResult out.

Recipe per page: PDF text layer if usable, else render → separator? → blank? → OCR.
Pages are produced one at a time, so a long batch never holds all its images in memory.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pdfplumber
import pypdfium2 as pdfium

from mailroom.errors import UnsupportedInput
from mailroom.records import OcrResult, PageText
from mailroom.settings import Settings, get_settings
from ocr.engine import OcrEngine, OcrFailed, OcrTimeout, load_engine, read_with_deadline
from ocr.pages import PageImage, iter_image_pages, open_pdf, render_pdf_page
from ocr.sniff import EMAIL, IMAGE_TYPES, OUTLOOK, PDF, TEXT, sniff_type
from ocr.triage import SEPARATOR_PAYLOAD, is_blank, is_separator, usable_text_layer, work_copy

log = logging.getLogger(__name__)

SEPARATOR = "separator"
OCR_TIMEOUT = "ocr-timeout"
OCR_FAILED = "ocr-failed"

_SEPARATOR_CHECK_DPI = 150
_SCAN_COVERAGE = 0.5  # a page mostly covered by images …
_SCAN_MAX_LETTERS = 200  # … with only a little text (a fax cover line, a stamp) is a scan: OCR it


def extract(
    data: bytes,
    content_type: str,
    *,
    settings: Settings | None = None,
    engine: OcrEngine | None = None,
) -> OcrResult:
    """Recognise the text of every page of one file.

    ``content_type`` is the caller's claim; for anything but text/plain the bytes decide.
    Raises UnsupportedInput, CorruptInput, EncryptedPdf or TooLarge for files that cannot be read.
    """
    settings = settings or get_settings()
    declared = content_type.split(";", 1)[0].strip().lower()
    if declared == TEXT:
        return OcrResult(pages=[PageText(number=1, text=_decode_text(data, content_type), method="text")])
    kind = sniff_type(data)
    if kind == TEXT:
        return OcrResult(pages=[PageText(number=1, text=_decode_text(data, ""), method="text")])
    if kind in (EMAIL, OUTLOOK):
        raise UnsupportedInput(
            "An e-mail reached the OCR stage whole; intake must split it into body and attachments first."
        )
    engine = engine or load_engine()
    if kind == PDF:
        return OcrResult(pages=list(_pdf_pages(data, settings, engine)))
    if kind in IMAGE_TYPES:
        return OcrResult(pages=[_raster_page(p, settings, engine) for p in iter_image_pages(data, settings)])
    raise UnsupportedInput("This file is not a PDF, image, TIFF fax or e-mail; send it as one of those.")


def split_documents(result: OcrResult) -> list[OcrResult]:
    """Split a batch at separator sheets, dropping the sheets and blank pages.

    Page numbers stay those of the source file. A stretch with no non-blank page yields no document,
    so a batch of only blank pages yields an empty list.
    """
    documents: list[OcrResult] = []
    current: list[PageText] = []
    for page in result.pages:
        if SEPARATOR in page.flags:
            if current:
                documents.append(OcrResult(pages=current))
            current = []
        elif not page.blank:
            current.append(replace(page, flags=list(page.flags)))
    if current:
        documents.append(OcrResult(pages=current))
    return documents


def ocr_text(path: str | Path, *, settings: Settings | None = None, engine: OcrEngine | None = None) -> str:
    """The recognised text of a file, documents separated by a form feed (for `mailroom ocr PATH`)."""
    path = Path(path)
    data = path.read_bytes()
    result = extract(data, sniff_type(data, path.name), settings=settings, engine=engine)
    return "\n\f\n".join(doc.text for doc in split_documents(result))


# ---------------------------------------------------------------- steps


def _pdf_pages(data: bytes, settings: Settings, engine: OcrEngine) -> Iterator[PageText]:
    pdf = open_pdf(data, settings)
    layer = _open_text_layer(data)
    try:
        for index in range(len(pdf)):
            text = _page_text_layer(layer, index) if layer is not None else None
            if text is None:
                yield _raster_page(render_pdf_page(pdf, index, settings), settings, engine)
            elif "SEPARATOR" in text.upper() and _pdf_page_is_separator(pdf, index, settings):
                yield PageText(number=index + 1, text="", method="text-layer", flags=[SEPARATOR])
            else:
                yield PageText(number=index + 1, text=text, method="text-layer")
    finally:
        if layer is not None:
            _close_quietly(layer)
        pdf.close()


def _close_quietly(layer: pdfplumber.PDF) -> None:
    try:
        layer.close()  # flushes per-page caches, which re-parses the page tree of a broken file
    except Exception as exc:  # see _open_text_layer
        log.debug("closing the text layer failed: %s", exc)


def _open_text_layer(data: bytes) -> pdfplumber.PDF | None:
    try:
        return pdfplumber.open(io.BytesIO(data))
    except Exception as exc:  # pdfminer raises many types on odd files; PDFium opened it, so OCR instead
        log.warning("no text layer: pdfplumber cannot open the PDF (%s); every page is OCRed", exc)
        return None


def _page_text_layer(layer: pdfplumber.PDF, index: int) -> str | None:
    """The page's text layer if it is trustworthy and the page is not really a scan, else None."""
    try:
        if index >= len(layer.pages):
            return None
        page = layer.pages[index]
    except Exception as exc:  # see _open_text_layer
        log.warning("page %d: text layer unreadable (%s); OCRed instead", index + 1, exc)
        return None
    try:
        text = (page.extract_text() or "").strip()
        if not usable_text_layer(text):
            return None
        letters = sum(1 for c in text if c.isalpha())
        if letters < _SCAN_MAX_LETTERS and _image_coverage(page) > _SCAN_COVERAGE:
            return None
        return text
    except Exception as exc:  # see _open_text_layer
        log.warning("page %d: text layer unreadable (%s); OCRed instead", index + 1, exc)
        return None
    finally:
        page.close()


def _image_coverage(page: pdfplumber.page.Page) -> float:
    area = float(page.width * page.height) or 1.0
    covered = 0.0
    for image in page.images:
        width = max(0.0, min(image["x1"], page.width) - max(image["x0"], 0))
        height = max(0.0, min(image["bottom"], page.height) - max(image["top"], 0))
        covered += width * height
    return min(1.0, covered / area)


def _pdf_page_is_separator(pdf: pdfium.PdfDocument, index: int, settings: Settings) -> bool:
    """A separator sheet that went through a scanner's own OCR has a text layer; check its QR code."""
    page = render_pdf_page(pdf, index, settings, dpi=_SEPARATOR_CHECK_DPI)
    return is_separator(work_copy(page.image), page.image)


def _raster_page(page: PageImage, settings: Settings, engine: OcrEngine) -> PageText:
    gray = work_copy(page.image)
    if is_separator(gray, page.image):
        return PageText(number=page.number, text="", method="ocr", flags=[SEPARATOR])
    if is_blank(gray):
        return PageText(number=page.number, text="", method="ocr", blank=True)
    image = page.image
    image.info["dpi"] = (page.dpi, page.dpi)
    try:
        text = read_with_deadline(engine, image, settings.ocr_languages, settings.ocr_page_timeout)
    except OcrTimeout as exc:
        log.warning("page %d: %s; left empty for a person", page.number, exc)
        return PageText(number=page.number, text="", method="ocr", flags=[OCR_TIMEOUT])
    except OcrFailed as exc:
        log.warning("page %d: %s; left empty for a person", page.number, exc)
        return PageText(number=page.number, text="", method="ocr", flags=[OCR_FAILED])
    return PageText(number=page.number, text=_tidy(text), method="ocr")


def _tidy(text: str) -> str:
    """Tesseract ends pages with a form feed and pads blocks with blank lines; keep one between paragraphs."""
    lines = [line.rstrip() for line in text.replace("\f", "\n").splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def _decode_text(data: bytes, content_type: str) -> str:
    charset = "utf-8-sig"
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'")
    try:
        return data.decode(charset, errors="replace").strip()
    except LookupError:
        return data.decode("utf-8", errors="replace").strip()


__all__ = ["SEPARATOR_PAYLOAD", "extract", "ocr_text", "split_documents"]
