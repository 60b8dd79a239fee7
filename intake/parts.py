"""Split what arrived into document-bearing parts: an e-mail's body and attachments,
or the file itself. Pure functions over bytes, bounded against hostile input."""

from __future__ import annotations

import email
import email.policy
import html
import io
import re
from email.message import EmailMessage, Message

from mailroom.errors import CorruptInput, TooLarge, UnsupportedInput
from mailroom.records import Channel, Part
from ocr import sniff_type

MAX_PARTS = 200
MAX_DEPTH = 20
READABLE = ("application/pdf", "image/", "text/plain")


def guess_channel(data: bytes, content_type: str) -> Channel:
    """Channel of a file handed to ``mailroom process``: faxes are TIFFs, e-mails are
    messages, PDFs with a text layer are uploads, everything else is a scan."""
    if content_type in ("message/rfc822", "application/vnd.ms-outlook"):
        return Channel.EMAIL
    if content_type == "image/tiff":
        return Channel.FAX
    if content_type == "application/pdf" and _has_text_layer(data):
        return Channel.UPLOAD
    return Channel.SCAN


def _has_text_layer(data: bytes) -> bool:
    import pdfplumber
    from pdfminer.pdfparser import PDFSyntaxError

    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for page in pdf.pages[:3]:
                if sum(ch.isalpha() for ch in (page.extract_text() or "")) >= 20:
                    return True
    except (PDFSyntaxError, ValueError, KeyError, TypeError):
        return False
    except Exception:  # noqa: BLE001 - pdfminer raises many types on hostile files; treat as "no layer"
        return False
    return False


def explode(data: bytes, content_type: str, name: str) -> list[Part]:
    """The parts of an arrival that carry a letter, in order."""
    if content_type == "message/rfc822":
        return _email_parts(data)
    if content_type == "application/vnd.ms-outlook":
        return _msg_parts(data)
    return [Part(name=name, content_type=content_type, data=data)]


def _email_parts(data: bytes) -> list[Part]:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    if not msg.keys():
        raise CorruptInput("The e-mail has no headers; it does not look like an RFC 822 message.")
    parts: list[Part] = []
    body_text = ""
    count = 0

    def walk(m: Message, depth: int) -> None:
        nonlocal body_text, count
        count += 1
        if count > MAX_PARTS:
            raise TooLarge(f"The e-mail has more than {MAX_PARTS} MIME parts; forward the letter alone.")
        if depth > MAX_DEPTH:
            raise TooLarge(f"The e-mail nests deeper than {MAX_DEPTH} levels; forward the letter alone.")
        if m.is_multipart():
            for sub in m.iter_parts() if isinstance(m, EmailMessage) else m.get_payload():
                walk(sub, depth + 1)
            return
        ctype = m.get_content_type()
        disposition = m.get_content_disposition()
        payload = m.get_payload(decode=True) or b""
        if disposition != "attachment" and ctype in ("text/plain", "text/html") and not body_text:
            charset = m.get_content_charset() or "utf-8"
            try:
                text = payload.decode(charset, errors="replace")
            except LookupError:
                text = payload.decode("utf-8", errors="replace")
            body_text = _html_to_text(text) if ctype == "text/html" else text
            return
        if not payload:
            return
        real = _sniff(payload) if ctype != "text/plain" else "text/plain"
        if real.startswith(READABLE) and real != "message/rfc822":
            parts.append(Part(name=m.get_filename() or f"attachment-{len(parts) + 1}", content_type=real,
                              data=payload))
        elif real == "message/rfc822":
            parts.extend(_email_parts(payload))

    try:
        walk(msg, 0)
    except (TooLarge, CorruptInput):
        raise
    except (ValueError, LookupError, UnicodeError) as exc:
        raise CorruptInput(f"The e-mail could not be parsed: {exc}.") from exc
    header = f"Subject: {msg.get('subject', '')}\nFrom: {msg.get('from', '')}\n\n"
    if body_text.strip() and (not parts or _substantial(body_text)):
        parts.insert(0, Part(name="body", content_type="text/plain", data=(header + body_text).encode()))
    if not parts:
        parts.append(Part(name="body", content_type="text/plain", data=header.encode()))
    return parts


def _sniff(payload: bytes) -> str:
    """Type of an attachment; one that is no letter (a program, an archive) is skipped."""
    try:
        return sniff_type(payload, "")
    except UnsupportedInput:
        return "application/octet-stream"


def _substantial(text: str) -> bool:
    """A body longer than a covering note ('see attached') is a letter of its own."""
    return sum(ch.isalpha() for ch in text) >= 400


def _msg_parts(data: bytes) -> list[Part]:
    import extract_msg

    try:
        msg = extract_msg.openMsg(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - olefile/extract_msg raise many types on bad input
        raise CorruptInput(f"The Outlook .msg file could not be read: {exc}.") from exc
    try:
        parts: list[Part] = []
        for att in getattr(msg, "attachments", [])[:MAX_PARTS]:
            payload = att.data if isinstance(att.data, bytes) else b""
            if payload:
                real = _sniff(payload)
                if real.startswith(READABLE):
                    parts.append(Part(name=att.longFilename or "attachment", content_type=real, data=payload))
        body = msg.body or ""
        header = f"Subject: {msg.subject or ''}\nFrom: {msg.sender or ''}\n\n"
        if body.strip() and (not parts or _substantial(body)):
            parts.insert(0, Part(name="body", content_type="text/plain", data=(header + body).encode()))
        return parts or [Part(name="body", content_type="text/plain", data=header.encode())]
    finally:
        msg.close()


_TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S | re.I)


def _html_to_text(markup: str) -> str:
    text = re.sub(r"<br\s*/?>|</p>|</div>", "\n", markup[:2_000_000], flags=re.I)
    return html.unescape(_TAG.sub("", text))
