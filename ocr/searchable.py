"""Searchable PDF for the archive: each page's image with tesseract's own invisible text layer.

Pages that already carry a usable text layer are copied from the source PDF unchanged; the other
pages are prepared like for OCR (turned upright, deskewed, fax pixels squared), rendered by
tesseract's PDF renderer one page at a time and merged with pikepdf.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator

import pikepdf
import pytesseract

from mailroom.errors import UnsupportedInput
from mailroom.settings import Settings, get_settings
from ocr.engine import OcrFailed, OcrTimeout, _check_languages, _dpi
from ocr.extract import _open_text_layer, _page_text_layer, _prepared, default_engine
from ocr.pages import PageImage, iter_image_pages, open_pdf, render_pdf_page
from ocr.prepare import Prep
from ocr.sniff import IMAGE_TYPES, PDF, sniff_type
from ocr.triage import is_blank, work_copy


def searchable_pdf(data: bytes, content_type: str = "", *, settings: Settings | None = None,
                   prep: Prep | None = None) -> bytes:
    """A PDF of every page of a scan, image, fax or PDF with a text layer a search engine can read.

    Raises UnsupportedInput for text and e-mail, and the errors of ocr.extract for unreadable files.
    """
    settings = settings or get_settings()
    prep = prep or Prep()
    kind = sniff_type(data)
    out = pikepdf.new()
    if kind == PDF:
        source = pikepdf.open(io.BytesIO(data))
        pdf = open_pdf(data, settings)
        layer = _open_text_layer(data)
        try:
            for index in range(len(pdf)):
                text = _page_text_layer(layer, index) if layer is not None else None
                if text is not None:
                    out.pages.append(source.pages[index])
                else:
                    _append(out, _page_pdf(render_pdf_page(pdf, index, settings), settings, prep))
        finally:
            if layer is not None:
                layer.close()
            pdf.close()
    elif kind in IMAGE_TYPES:
        for page in iter_image_pages(data, settings):
            _append(out, _page_pdf(page, settings, prep))
    else:
        raise UnsupportedInput("Only scans, images, faxes and PDFs can be made into a searchable PDF.")
    buf = io.BytesIO()
    out.save(buf)
    return buf.getvalue()


def _append(out: pikepdf.Pdf, page_pdf: bytes) -> None:
    with pikepdf.open(io.BytesIO(page_pdf)) as one:
        out.pages.extend(one.pages)


def _page_pdf(page: PageImage, settings: Settings, prep: Prep) -> bytes:
    """One page through tesseract's PDF renderer (a blank page is still rendered, text-free)."""
    if is_blank(work_copy(page.image)):
        prep = Prep(orient=False, deskew=False, despeckle=False, detect_language=False)
    image, languages = _prepared(page, settings, default_engine(getattr(settings, "ocr_engine", "auto")), prep)
    _check_languages(languages)
    config = f"--psm 3 --dpi {_dpi(image) or 300}"
    with tempfile.NamedTemporaryFile(suffix=".bmp") as tmp:
        image.save(tmp.name, format="BMP")
        try:
            return pytesseract.image_to_pdf_or_hocr(tmp.name, lang=languages, config=config, extension="pdf",
                                                    timeout=settings.ocr_page_timeout)
        except pytesseract.TesseractError as exc:
            raise OcrFailed(f"tesseract failed: {exc.message.strip()[:300]}") from exc
        except RuntimeError as exc:
            raise OcrTimeout(f"tesseract took longer than {settings.ocr_page_timeout:g} s") from exc


def iter_pages(pdf_bytes: bytes) -> Iterator[str]:
    """The text of each page of a PDF (for checking a searchable PDF)."""
    import pdfplumber

    with pdfplumber.open(io.BytesIO(pdf_bytes)) as pdf:
        for page in pdf.pages:
            yield page.extract_text() or ""
