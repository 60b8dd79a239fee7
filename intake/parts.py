"""Split what arrived into document-bearing parts: the file itself, or an e-mail's letter (the body
part first, then the further pages its attachments and forwarded messages hold; see intake.mail).

An e-mail is parsed in a child process with a deadline and a memory budget (intake.bounded), so a
hostile message costs at most that; the pipeline turns an e-mail's parts into one letter
(intake.letter).
"""

from __future__ import annotations

from typing import Any

from ground.records import Channel, Part
from ground.settings import get_settings
from intake.bounded import call_bounded
from intake.mail import BODY_PART, BOUNCE_PART, MAX_DEPTH, MAX_PARTS, MailContent, read_email, read_outlook
from intake.office import office_kind, rejection
from intake.text import CHARSETS, clean_header, decode_header_value, decode_text

EMAIL_TYPES = ("message/rfc822", "application/vnd.ms-outlook")
READABLE = ("application/pdf", "image/", "text/plain")

__all__ = ["BODY_PART", "BOUNCE_PART", "CHARSETS", "EMAIL_TYPES", "MAX_DEPTH", "MAX_PARTS", "READABLE",
           "clean_header", "decode_header_value", "decode_text", "email_summary", "explode", "guess_channel",
           "is_email", "office_kind", "read_mail", "rejection"]


def is_email(content_type: str) -> bool:
    return content_type in EMAIL_TYPES


def guess_channel(data: bytes, content_type: str) -> Channel:
    """Channel of a file handed to ``mailroom process``: faxes are TIFFs, e-mails are
    messages, PDFs with a text layer are uploads, everything else is a scan."""
    if content_type in EMAIL_TYPES:
        return Channel.EMAIL
    if content_type == "image/tiff":
        return Channel.FAX
    if content_type == "application/pdf" and _has_text_layer(data):
        return Channel.UPLOAD
    return Channel.SCAN


def _has_text_layer(data: bytes) -> bool:
    """Twenty letters of text on one of the first three pages. PDFium's text (C) is enough to tell, at a
    fraction of what pdfplumber's layout-aware extraction costs; OCR later decides page by page."""
    import pypdfium2 as pdfium

    from ocr.pages import PDFIUM_LOCK

    with PDFIUM_LOCK:  # PDFium is not thread-safe, and uploads arrive on the web app's threads
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError:
            return False
        try:
            for index in range(min(3, len(pdf))):
                page = pdf[index]
                textpage = page.get_textpage()
                try:
                    text = textpage.get_text_range()
                finally:
                    textpage.close()
                    page.close()
                if sum(ch.isalpha() for ch in text) >= 20:
                    return True
        except pdfium.PdfiumError:
            return False
        finally:
            pdf.close()
    return False


def explode(data: bytes, content_type: str, name: str) -> list[Part]:
    """The parts of an arrival that carry a letter, in order: an e-mail's body part first."""
    if content_type in EMAIL_TYPES:
        return read_mail(data, content_type).parts
    return [Part(name=name, content_type=content_type, data=data)]


def read_mail(data: bytes, content_type: str, text: bool = True) -> MailContent:
    """An e-mail or Outlook .msg read in a bounded child process; raises MailroomError (with the reason).
    ``text``=False: for the meta only, the bodies' text is not read."""
    settings = get_settings()
    return call_bounded(_read_mail, data, content_type, settings.min_attachment_image_pixels, text,
                        timeout=settings.parse_timeout, memory_mb=settings.parse_memory_mb,
                        what="Reading the e-mail")


def _read_mail(data: bytes, content_type: str, min_pixels: int, text: bool) -> MailContent:
    if content_type == "application/vnd.ms-outlook":
        return read_outlook(data, min_pixels)
    return read_email(data, min_pixels, text)


def email_summary(data: bytes, content_type: str) -> dict[str, Any]:
    """What intake keeps in the envelope's meta about an e-mail (RFC 822 or Outlook .msg): sender,
    recipients, subject, date, Message-ID, reply headers for case linking, attachments, those rejected
    (with their reason) and those skipped as decoration, and what a delivery-status report says."""
    return read_mail(data, content_type, text=False).summary()
