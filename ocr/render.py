"""A page of a letter drawn for a person to look at: a PNG at most PAGE_IMAGE_WIDTH pixels wide.

Plain functions over the stored part's bytes (the web app's page images). Decoding goes through
ocr/pages.py, so the settings' pixel and page limits are checked before anything is decoded, as for OCR.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from ground.errors import MailroomError
from ground.settings import Settings
from ocr.pages import PDFIUM_LOCK, iter_image_pages, open_pdf, render_pdf_page
from ocr.sniff import sniff_type

PAGE_IMAGE_WIDTH = 1400
PAGE_IMAGE_DPI = 130
UNKNOWN_TYPE = "application/octet-stream"


def part_type(data: bytes, name: str) -> str:
    """The content type of a document's part, read from its bytes; UNKNOWN_TYPE when it cannot be told."""
    try:
        return sniff_type(data, name)
    except MailroomError:
        return UNKNOWN_TYPE


def has_images(content_type: str) -> bool:
    """Whether a part of this type has pages that can be drawn (a PDF or an image)."""
    return content_type == "application/pdf" or content_type.startswith("image/")


def page_numbers(page_flags: Sequence[Any] | None, first_page: int, pages: int) -> list[int]:
    """The numbers (in the source file) of a document's pages that are not blank, in order; every page
    from ``first_page`` when the document has no page flags."""
    numbers = [int(p["page"]) for p in page_flags or [] if isinstance(p, dict) and "page" in p
               and "blank" not in (p.get("flags") or [])]
    return numbers or list(range(first_page, first_page + pages))


def render_page_png(data: bytes, content_type: str, number: int, settings: Settings) -> bytes | None:
    """Page ``number`` (1-based, in the source file) of a PDF or image as a PNG, at most PAGE_IMAGE_WIDTH
    pixels wide; None when the part is neither, or an image has no such page."""
    if content_type == "application/pdf":
        with PDFIUM_LOCK:  # PDFium is not thread-safe (the web app draws in its thread pool)
            pdf = open_pdf(data, settings)
            try:
                image = render_pdf_page(pdf, number - 1, settings, dpi=PAGE_IMAGE_DPI).image
            finally:
                pdf.close()
    elif content_type.startswith("image/"):
        page = next(iter_image_pages(data, settings, range(number - 1, number)), None)
        if page is None:
            return None
        image = page.image
    else:
        return None
    if image.width > PAGE_IMAGE_WIDTH:
        image = image.resize((PAGE_IMAGE_WIDTH, round(image.height * PAGE_IMAGE_WIDTH / image.width)))
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
