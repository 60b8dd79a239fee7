"""Split what arrived into document-bearing parts: an e-mail's body and attachments,
or the file itself. Pure functions over bytes, bounded against hostile input.

E-mail text is decoded with its declared charset when that decodes cleanly, otherwise the
charset is guessed among those Polish, Czech and Russian mail uses (utf-8, iso-8859-2,
windows-1250/1251, koi8-r). Attachments that carry no readable letter (office files,
programs, archives) are not silently dropped: their names and the reason are listed at the
end of the body text and in :func:`email_summary` (kept in the envelope's meta).
"""

from __future__ import annotations

import email
import email.policy
import html
import io
import re
import zipfile
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from typing import Any

from ground.errors import CorruptInput, TooLarge, UnsupportedInput
from ground.records import Channel, Part
from ocr import sniff_type

MAX_PARTS = 200
MAX_DEPTH = 20
READABLE = ("application/pdf", "image/", "text/plain")
# Charsets mail in the four languages really uses, most likely first; the guess picks among them.
CHARSETS = ("utf-8", "windows-1250", "iso-8859-2", "windows-1251", "koi8-r")
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OFFICE_EXTENSIONS = {
    ".doc": "a Word document", ".docx": "a Word document", ".docm": "a Word document", ".rtf": "an RTF document",
    ".xls": "an Excel spreadsheet", ".xlsx": "an Excel spreadsheet", ".xlsm": "an Excel spreadsheet",
    ".ppt": "a PowerPoint presentation", ".pptx": "a PowerPoint presentation",
    ".odt": "an OpenDocument text", ".ods": "an OpenDocument spreadsheet", ".odp": "an OpenDocument presentation",
}


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
    """The parts of an arrival that carry a letter, in order."""
    if content_type == "message/rfc822":
        return _email_parts(data)
    if content_type == "application/vnd.ms-outlook":
        return _msg_parts(data)
    return [Part(name=name, content_type=content_type, data=data)]


# ---------------------------------------------------------------- charsets


def decode_text(payload: bytes, charset: str | None = None) -> str:
    """Text of ``payload``: the declared charset if it decodes cleanly, else the best of CHARSETS."""
    declared = (charset or "").strip().strip("\"'").lower()
    if declared in ("", "us-ascii", "ascii", "unknown-8bit", "x-unknown"):
        declared = ""
    if declared:
        try:
            text = payload.decode(declared)
        except LookupError:
            text = None
        except UnicodeDecodeError:
            text = None
        # latin-1 decodes anything; C1 controls in it mean the sender lied (usually windows-1250)
        if text is not None and not (declared in ("iso-8859-1", "latin-1", "latin1")
                                     and re.search("[\x80-\x9f]", text)):
            return text
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return payload.decode(_guess_charset(payload), errors="replace")


def _guess_charset(payload: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(payload[:200_000], cp_isolation=list(CHARSETS[1:])).best()
    return best.encoding if best is not None else "windows-1250"


def header(msg: Message, name: str) -> str:
    """A header's text: RFC 2047 decoded, and raw 8-bit bytes (no RFC 2047) decoded by guessing the charset."""
    for key, raw in msg.raw_items():
        if key.lower() == name and isinstance(raw, str) and any("\udc80" <= ch <= "\udcff" for ch in raw):
            return clean_header(raw)
    return clean_header(msg.get(name, ""))


def clean_header(value: object) -> str:
    """A header as text; raw 8-bit headers (no RFC 2047) come back with surrogates: decode them."""
    text = str(value or "")
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        text = decode_text(text.encode("utf-8", "surrogateescape"))
    return " ".join(text.split())[:2000]


# ---------------------------------------------------------------- office files and other non-letters


def office_kind(payload: bytes, name: str = "") -> str | None:
    """'a Word document' etc. when the attachment is an office file (by content, then by name)."""
    if payload.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(payload)) as zf:
                names = zf.namelist()[:2000]
                mimetype = zf.read("mimetype").decode("ascii", "replace") if "mimetype" in names else ""
        except (zipfile.BadZipFile, KeyError, ValueError, OSError):
            names, mimetype = [], ""
        if any(n.startswith("word/") for n in names):
            return "a Word document"
        if any(n.startswith("xl/") for n in names):
            return "an Excel spreadsheet"
        if any(n.startswith("ppt/") for n in names):
            return "a PowerPoint presentation"
        if mimetype.startswith("application/vnd.oasis.opendocument"):
            return "an OpenDocument file"
    if payload.startswith(b"{\\rtf"):
        return "an RTF document"
    if payload.startswith(_OLE2) and "__substg1.0_".encode("utf-16-le") not in payload:
        return "an old Microsoft Office file (Word/Excel 97)"
    lower = name.lower()
    for ext, kind in _OFFICE_EXTENSIONS.items():
        if lower.endswith(ext):
            return kind
    return None


def _rejection(payload: bytes, name: str) -> str:
    label = _label(name)
    kind = office_kind(payload, name)
    if kind:
        return (f"{label} is {kind}; office files are not read. Ask the sender to send it as PDF "
                "(or print it and scan it).")
    return f"{label} is not a PDF, image, TIFF fax or text; it was kept with the e-mail but not read."


def _label(name: str) -> str:
    clean = "".join(c if c.isprintable() else "?" for c in name)[:80] or "An attachment"
    return f"Attachment “{clean}”" if name else clean


# ---------------------------------------------------------------- RFC 822 e-mail


@dataclass
class _Walk:
    parts: list[Part] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0


def _parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    if not msg.keys():
        raise CorruptInput("The e-mail has no headers; it does not look like an RFC 822 message.")
    assert isinstance(msg, EmailMessage)
    return msg


def _walk_message(msg: Message, state: _Walk, depth: int) -> None:
    """Collect body text, readable attachments and rejected ones, within MAX_PARTS / MAX_DEPTH."""

    def walk(m: Message, depth: int) -> None:
        state.count += 1
        if state.count > MAX_PARTS:
            raise TooLarge(f"The e-mail has more than {MAX_PARTS} MIME parts; forward the letter alone.")
        if depth > MAX_DEPTH:
            raise TooLarge(f"The e-mail nests deeper than {MAX_DEPTH} levels; forward the letter alone.")
        ctype = m.get_content_type()
        if ctype == "message/rfc822":  # a forwarded message: its own letter
            inner = m.get_payload(0) if m.is_multipart() else None
            if isinstance(inner, Message):
                _forwarded(inner, state, depth + 1)
            return
        if m.is_multipart():
            subs = list(m.iter_parts() if isinstance(m, EmailMessage) else m.get_payload())
            if ctype == "multipart/alternative" and subs:  # one rendering of the same text is enough
                rank = {"text/plain": 0, "text/html": 1}
                subs = [min(subs, key=lambda s: rank.get(s.get_content_type(), 2 if s.is_multipart() else 3))]
            for sub in subs:
                walk(sub, depth + 1)
            return
        disposition = m.get_content_disposition()
        filename = clean_header(m.get_filename() or "")
        payload = m.get_payload(decode=True) or b""
        if disposition != "attachment" and not filename and ctype in ("text/plain", "text/html"):
            text = decode_text(payload, m.get_content_charset())
            state.body.append(_html_to_text(text) if ctype == "text/html" else text)
            return
        name = filename or f"attachment-{len(state.attachments) + 1}"
        if not payload:
            return
        real = "text/plain" if ctype == "text/plain" else _sniff(payload)
        state.attachments.append({"name": name[:200], "type": real, "size": len(payload)})
        if real == "text/plain":
            text = decode_text(payload, m.get_content_charset())
            state.parts.append(Part(name=name, content_type="text/plain", data=text.encode("utf-8")))
        elif real == "message/rfc822":
            _forwarded(_parse(payload), state, depth + 1)
        elif real.startswith(READABLE):
            state.parts.append(Part(name=name, content_type=real, data=payload))
        else:
            state.rejected.append({"name": name[:200], "reason": _rejection(payload, name)})

    walk(msg, depth)


def _forwarded(inner: Message, state: _Walk, depth: int) -> None:
    sub = _Walk(count=state.count)
    _walk_message(inner, sub, depth)
    state.count = sub.count
    body = "\n".join(sub.body).strip()
    if body:
        state.parts.append(Part(name="forwarded", content_type="text/plain",
                                data=(_header_block(inner) + body).encode("utf-8")))
    state.parts.extend(sub.parts)
    state.rejected.extend(sub.rejected)
    state.attachments.extend(sub.attachments)


def _header_block(msg: Message) -> str:
    return f"Subject: {header(msg, 'subject')}\nFrom: {header(msg, 'from')}\n\n"


def _walk_email(data: bytes) -> tuple[EmailMessage, _Walk]:
    msg = _parse(data)
    state = _Walk()
    try:
        _walk_message(msg, state, 0)
    except (TooLarge, CorruptInput):
        raise
    except (ValueError, LookupError, UnicodeError, IndexError, TypeError) as exc:
        raise CorruptInput(f"The e-mail could not be parsed: {exc}.") from exc
    return msg, state


def _email_parts(data: bytes) -> list[Part]:
    msg, state = _walk_email(data)
    return _assemble(_header_block(msg), "\n".join(state.body), state.parts, state.rejected)


def _assemble(header: str, body_text: str, parts: list[Part], rejected: list[dict[str, str]]) -> list[Part]:
    """The body is a document when it is the letter (no attachment, or long); rejected files are noted in it."""
    notes = "".join(f"\n\n[{r['reason']}]" for r in rejected)
    parts = list(parts)
    if (body_text.strip() or notes) and (not parts or _substantial(body_text) or notes):
        parts.insert(0, Part(name="body", content_type="text/plain",
                             data=(header + body_text.strip() + notes).encode("utf-8")))
    if not parts:
        parts.append(Part(name="body", content_type="text/plain", data=header.encode("utf-8")))
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


def _message_ids(value: object) -> list[str]:
    return re.findall(r"<[^<>\s]{1,400}>", clean_header(value))[:50]


def email_summary(data: bytes, content_type: str) -> dict[str, Any]:
    """What intake keeps in the envelope's meta about an e-mail (RFC 822 or Outlook .msg):
    sender, recipients, subject, date, Message-ID, reply headers for case linking, attachments
    and the ones that were rejected with their reason."""
    if content_type == "application/vnd.ms-outlook":
        return _msg_summary(data)
    msg, state = _walk_email(data)
    ids = _message_ids(header(msg, "message-id"))
    return {
        "from": header(msg, "from"),
        "to": header(msg, "to"),
        "subject": header(msg, "subject"),
        "date": header(msg, "date"),
        "message_id": ids[0] if ids else None,
        "in_reply_to": (_message_ids(header(msg, "in-reply-to")) or [None])[0],
        "references": _message_ids(header(msg, "references")),
        "attachments": state.attachments,
        "rejected_attachments": state.rejected,
    }


# ---------------------------------------------------------------- Outlook .msg


def _open_msg(data: bytes) -> Any:
    import extract_msg

    try:
        return extract_msg.openMsg(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - olefile/extract_msg raise many types on bad input
        raise CorruptInput(f"The Outlook .msg file could not be read: {exc}.") from exc


def _msg_walk(msg: Any) -> tuple[list[Part], list[dict[str, str]], list[dict[str, Any]]]:
    parts: list[Part] = []
    rejected: list[dict[str, str]] = []
    listed: list[dict[str, Any]] = []
    for att in getattr(msg, "attachments", [])[:MAX_PARTS]:
        payload = att.data if isinstance(att.data, bytes) else b""
        name = str(getattr(att, "longFilename", None) or getattr(att, "shortFilename", None) or "attachment")
        if not payload:
            continue
        real = _sniff(payload)
        listed.append({"name": name[:200], "type": real, "size": len(payload)})
        if real.startswith(READABLE):
            if real == "text/plain":
                payload = decode_text(payload).encode("utf-8")
            parts.append(Part(name=name, content_type=real, data=payload))
        else:
            rejected.append({"name": name[:200], "reason": _rejection(payload, name)})
    return parts, rejected, listed


def _msg_parts(data: bytes) -> list[Part]:
    msg = _open_msg(data)
    try:
        parts, rejected, _ = _msg_walk(msg)
        body = msg.body or ""
        header = f"Subject: {msg.subject or ''}\nFrom: {msg.sender or ''}\n\n"
        return _assemble(header, body, parts, rejected)
    finally:
        msg.close()


def _msg_summary(data: bytes) -> dict[str, Any]:
    msg = _open_msg(data)
    try:
        _, rejected, listed = _msg_walk(msg)
        ids = _message_ids(getattr(msg, "messageId", None) or "")
        return {
            "from": clean_header(msg.sender or ""),
            "to": clean_header(getattr(msg, "to", "") or ""),
            "subject": clean_header(msg.subject or ""),
            "date": str(getattr(msg, "date", "") or ""),
            "message_id": ids[0] if ids else None,
            "in_reply_to": (_message_ids(getattr(msg, "inReplyTo", None) or "") or [None])[0],
            "references": [],
            "attachments": listed,
            "rejected_attachments": rejected,
        }
    finally:
        msg.close()


_TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S | re.I)


def _html_to_text(markup: str) -> str:
    text = re.sub(r"<br\s*/?>|</p>|</div>|</tr>|</li>|</h\d>", "\n", markup[:2_000_000], flags=re.I)
    text = html.unescape(_TAG.sub("", text))
    return re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", text).strip()
