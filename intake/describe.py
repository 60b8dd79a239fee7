"""What the envelope's meta keeps of an arrival: e-mail headers, fax TIFF tags, page count, and the
channel when the caller did not say.

This parses what arrived, so it runs after the original is stored, in a child process with a deadline
and a memory budget (:func:`explore`): a parser that hangs or eats memory costs that much and no more,
and the envelope then goes to quarantine with the reason.
"""

from __future__ import annotations

import io
from typing import Any

from ground.errors import MailroomError
from ground.settings import Settings
from intake.bounded import call_bounded
from intake.fax import fax_meta
from intake.parts import EMAIL_TYPES, email_summary, guess_channel


def describe(data: bytes, content_type: str, max_pages: int = 500) -> dict[str, Any]:
    """Channel metadata worth keeping with the envelope; never raises for bad input."""
    meta: dict[str, Any] = {}
    if content_type in EMAIL_TYPES:
        try:
            summary = email_summary(data, content_type)
        except MailroomError as exc:  # the read stage quarantines it with the same reason
            meta["email_error"] = exc.reason
        else:
            meta["email"] = summary
            if summary.get("bounce") is not None:
                meta["bounce"] = summary["bounce"]
    elif content_type == "image/tiff":
        fax = fax_meta(data, max_pages)
        if fax:
            meta["fax"] = fax
            meta["pages_received"] = fax.get("pages")
    elif content_type == "application/pdf":
        meta["pages_received"] = _pdf_pages(data)
    elif content_type.startswith("image/"):
        meta["pages_received"] = 1
    return meta


def _explore(data: bytes, content_type: str, channel: str | None, max_pages: int) -> tuple[dict[str, Any], str]:
    meta = describe(data, content_type, max_pages)
    return meta, channel or guess_channel(data, content_type).value


def explore(data: bytes, content_type: str, channel: str | None, settings: Settings) -> tuple[dict[str, Any], str]:
    """(meta, channel) of a stored arrival, read within ``MAILROOM_PARSE_TIMEOUT`` seconds and
    ``MAILROOM_PARSE_MEMORY_MB``; raises a MailroomError (intake.bounded.ParseLimit) beyond them."""
    return call_bounded(_explore, data, content_type, channel, settings.max_pages,
                        timeout=settings.parse_timeout, memory_mb=settings.parse_memory_mb,
                        what="Reading what arrived")


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
