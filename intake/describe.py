"""What the envelope's meta keeps of an arrival: e-mail headers, fax TIFF tags, page count."""

from __future__ import annotations

import io
from typing import Any

from ground.errors import MailroomError
from intake.fax import fax_meta
from intake.parts import email_summary

EMAIL_TYPES = ("message/rfc822", "application/vnd.ms-outlook")


def describe(data: bytes, content_type: str) -> dict[str, Any]:
    """Channel metadata worth keeping with the envelope; never raises for bad input."""
    meta: dict[str, Any] = {}
    if content_type in EMAIL_TYPES:
        try:
            meta["email"] = email_summary(data, content_type)
        except MailroomError as exc:  # the read stage quarantines it with the same reason
            meta["email_error"] = exc.reason
    elif content_type == "image/tiff":
        fax = fax_meta(data)
        if fax:
            meta["fax"] = fax
            meta["pages_received"] = fax.get("pages")
    elif content_type == "application/pdf":
        meta["pages_received"] = _pdf_pages(data)
    elif content_type.startswith("image/"):
        meta["pages_received"] = 1
    return meta


def _pdf_pages(data: bytes) -> int | None:
    import pypdfium2 as pdfium

    from ocr.pages import PDFIUM_LOCK

    with PDFIUM_LOCK:  # receive runs in the web app's thread pool
        try:
            pdf = pdfium.PdfDocument(io.BytesIO(data))
        except pdfium.PdfiumError:
            return None  # encrypted or damaged: the read stage says which
        try:
            return len(pdf)
        finally:
            pdf.close()
