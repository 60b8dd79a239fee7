"""An e-mail, as it really arrives, turned into one letter: the body first, then what the attachments
hold, in order.

- Body: every text part that is not an attachment (plain text, or HTML through a parser), in any
  charset, declared or not. Of ``multipart/alternative`` one rendering is read (plain text, else HTML).
- Further pages: attachments that are PDFs, images, TIFF faxes or text; forwarded messages
  (``message/rfc822``, nested too: their body and attachments), Outlook .msg attachments (and the
  messages embedded in them), TNEF ``winmail.dat`` (its body, when the e-mail's own body does not
  already hold it, and its attachments).
- Decoration is skipped, never read and never a failure: logos, signature and inline (``cid:``)
  images, tracking pixels, images smaller than ``MAILROOM_MIN_ATTACHMENT_IMAGE_PIXELS``, vCards, calendar
  parts, S/MIME and PGP signatures. They are listed in the envelope's meta (``skipped_attachments``).
- Attachments that cannot be read (office files, archives, programs, damaged or password-protected
  files, empty ones) are kept with the e-mail and listed with their reason (``rejected_attachments``);
  the reasons are also written at the end of the body, so the person handling the letter sees them.
- A delivery-status report (a bounce, ``multipart/report; report-type=delivery-status``) is recognised
  as such: what it says (original Message-ID, recipients, status) is kept in ``bounce``, and the letter's
  body part is named :data:`BOUNCE_PART` so the pipeline keeps it apart from customer letters.

Headers are parsed with the lenient ``compat32`` policy and decoded here (RFC 2047 and RFC 2231 in any
charset, raw 8-bit headers with the message's own charset), so a malformed header never fails a letter.
Bounded: at most MAX_PARTS MIME parts and MAX_DEPTH levels of nesting.
"""

from __future__ import annotations

import email
import email.errors
import email.message
import email.parser
import email.policy
import io
import re
import warnings
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from ground.errors import CorruptInput, MailroomError, TooLarge, UnsupportedInput
from ground.records import Part
from intake.html import cid_references, html_to_text
from intake.office import label_of, rejection
from intake.outlook import OutlookMessage, read_msg
from intake.text import GUESS_SAMPLE, decode_header_value, decode_text, decodes, guess_charset, has_raw_8bit
from intake.tnef import TnefContent, is_tnef, read_tnef
from ocr.sniff import EMAIL, IMAGE_TYPES, OUTLOOK, PDF, TEXT, sniff_type

MAX_PARTS = 200
MAX_DEPTH = 20
HEADER_LIMIT = 64 * 1024  # bytes of the header block read before the original is stored (Message-ID)
BODY_PART = "body"
BOUNCE_PART = "delivery-status report"
NOTES_PART = "attachments not read"  # the last part: the reasons, one per line
MAX_TEXT_CHARS = 500_000  # of one text part (about 250 pages); a body longer than that is no letter someone wrote
INLINE_PAGE_PIXELS = 1_000_000  # an inline image this big is a pasted page or photo, not a logo
_DECORATION_TYPES = {
    "text/vcard": "a contact card (vCard)", "text/x-vcard": "a contact card (vCard)",
    "text/directory": "a contact card (vCard)", "application/vcard": "a contact card (vCard)",
    "text/calendar": "a calendar entry", "application/ics": "a calendar entry", "text/x-vcalendar": "a calendar entry",
    "application/pkcs7-signature": "an S/MIME signature", "application/x-pkcs7-signature": "an S/MIME signature",
    "application/pgp-signature": "a PGP signature", "application/pgp-keys": "a PGP key",
    "application/x-pkcs7-certificates": "a certificate", "application/pkcs7-certificates": "a certificate",
}
_DECORATION_EXTENSIONS = {".vcf": "a contact card (vCard)", ".ics": "a calendar entry", ".vcs": "a calendar entry",
                          ".p7s": "an S/MIME signature", ".asc": "a PGP signature", ".sig": "a signature"}
_LOGO_NAME = re.compile(r"logo|sig(nature)?|podpis|banner|icon|facebook|linkedin|twitter|instagram|"
                        r"youtube|spacer|pixel|image0\d\d", re.I)
_TEXT_EXTENSIONS = frozenset({".txt", ".text", ".csv", ".log", ".md", ".html", ".htm"})
_ENCRYPTED_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime", "application/pgp-encrypted"})
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,400}>")


# ---------------------------------------------------------------- what a walk collects


@dataclass
class _Image:
    width: int
    height: int
    content_id: str
    inline: bool


@dataclass
class _Piece:
    part: Part
    image: _Image | None = None


@dataclass
class _Message:
    """One message's own body and further pages (the e-mail itself, or one forwarded inside it)."""

    body: list[str] = field(default_factory=list)
    pieces: list[_Piece] = field(default_factory=list)
    cids: set[str] = field(default_factory=set)


@dataclass
class _State:
    min_pixels: int
    hint: str | None = None
    text: bool = True  # False: only the meta is wanted (email_summary), the bodies' text is not read
    count: int = 0
    attachments: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    bounce: dict[str, Any] | None = None

    def tick(self, depth: int) -> None:
        self.count += 1
        if self.count > MAX_PARTS:
            raise TooLarge(f"The e-mail has more than {MAX_PARTS} MIME parts; forward the letter alone.")
        if depth > MAX_DEPTH:
            raise TooLarge(f"The e-mail nests deeper than {MAX_DEPTH} levels; forward the letter alone.")

    def reject(self, name: str, reason: str) -> None:
        self.rejected.append({"name": name[:200], "reason": reason})

    def skip(self, name: str, what: str) -> None:
        self.skipped.append({"name": name[:200], "reason": f"{label_of(name)} is {what}; decoration, not read."})


@dataclass
class MailContent:
    """What an e-mail holds, as intake keeps it: the letter's parts and the meta of the envelope."""

    parts: list[Part]
    headers: dict[str, Any]
    attachments: list[dict[str, Any]]
    rejected: list[dict[str, str]]
    skipped: list[dict[str, str]]
    bounce: dict[str, Any] | None

    def summary(self) -> dict[str, Any]:
        out = {**self.headers, "attachments": self.attachments, "rejected_attachments": self.rejected,
               "skipped_attachments": self.skipped}
        if self.bounce is not None:
            out["bounce"] = self.bounce
        return out


# ---------------------------------------------------------------- entry points


def parse(data: bytes) -> Message:
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    if not msg.keys():
        raise CorruptInput("The e-mail has no headers; it does not look like an RFC 822 message.")
    return msg


def read_email(data: bytes, min_pixels: int, text: bool = True) -> MailContent:
    """The letter in an RFC 822 message: body part first, then further pages; raises MailroomError.
    ``text``=False: for the meta only (:meth:`MailContent.summary`); the bodies' text is left out."""
    try:
        msg = parse(data)
        state = _State(min_pixels=min_pixels, hint=_charset_hint(msg), text=text)
        top = _Message()
        if _is_bounce(msg):
            state.bounce = {}
        _walk(msg, top, state, 0)
        headers = _headers(msg, state.hint)
    except MailroomError:
        raise
    except (ValueError, LookupError, UnicodeError, IndexError, TypeError, AttributeError, AssertionError,
            KeyError, email.errors.MessageError) as exc:
        raise CorruptInput(f"The e-mail could not be parsed: {exc}.") from exc
    if state.bounce is not None:
        state.bounce = _bounce_summary(state.bounce)
    return _letter(_header_block(headers), top, state, headers)


def read_outlook(data: bytes, min_pixels: int) -> MailContent:
    """The letter in an Outlook .msg file, as :func:`read_email` gives it for an RFC 822 message."""
    item = read_msg(data)
    state = _State(min_pixels=min_pixels)
    top = _Message()
    _outlook_into(item, top, state, 0, top_level=True)
    ids = _MESSAGE_ID.findall(item.message_id)
    headers = {"from": item.sender, "to": item.to, "subject": item.subject, "date": item.date,
               "message_id": ids[0] if ids else None,
               "in_reply_to": (_MESSAGE_ID.findall(item.in_reply_to) or [None])[0], "references": []}
    return _letter(_header_block(headers), top, state, headers)


def message_id_of(data: bytes, limit: int = HEADER_LIMIT) -> str | None:
    """The Message-ID from the header block alone, reading at most ``limit`` bytes (None when the block is
    longer, or has none): cheap enough to run before the original is stored, for dedupe."""
    head = data[:limit]
    end = _header_end(head)
    if end is None:
        return None
    try:
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head[:end])
        ids = _MESSAGE_ID.findall(decode_header_value(headers.get("message-id", ""), limit=1000))
    except (ValueError, LookupError, UnicodeError, IndexError, TypeError):
        return None
    return ids[0] if ids else None


def _header_end(head: bytes) -> int | None:
    found = [i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0]
    return min(found) + 2 if found else None


# ---------------------------------------------------------------- the letter


def _letter(header: str, top: _Message, state: _State, headers: dict[str, Any]) -> MailContent:
    body = "\n\n".join(t.strip() for t in top.body if t.strip())
    if state.bounce is not None:
        body = (_bounce_text(state.bounce) + "\n\n" + body).strip()
    name = BOUNCE_PART if state.bounce is not None else BODY_PART
    parts = [_text_part(name, header + body)]
    parts.extend(_resolve(top, state))
    if state.rejected:  # last: what was kept but not read, with the reasons, for the person handling it
        notes = "\n".join(f"[{r['reason']}]" for r in state.rejected)
        parts.append(Part(name=NOTES_PART, content_type="text/plain", data=notes.encode("utf-8")))
    return MailContent(parts=parts, headers=headers, attachments=state.attachments, rejected=state.rejected,
                       skipped=state.skipped, bounce=state.bounce)


def _resolve(msg: _Message, state: _State) -> list[Part]:
    """The message's further pages, its decoration (small or inline images) left out and listed."""
    parts: list[Part] = []
    for piece in msg.pieces:
        image = piece.image
        if image is not None:
            what = _decoration(image, piece.part.name, msg.cids, state.min_pixels)
            if what:
                state.skip(piece.part.name, what)
                _mark(state, piece.part.name, "skipped")
                continue
        parts.append(piece.part)
    return parts


def _decoration(image: _Image, name: str, cids: set[str], min_pixels: int) -> str | None:
    pixels = image.width * image.height
    size = f"{image.width}×{image.height} pixels"
    if pixels < min_pixels:
        return f"a small image ({size}: a logo, icon or tracking pixel)"
    shown = image.content_id and image.content_id in cids
    if (shown or image.inline) and pixels < INLINE_PAGE_PIXELS:
        return f"an image shown inside the e-mail's text ({size}: a logo or signature)"
    if _LOGO_NAME.search(name) and pixels < 4 * min_pixels:
        return f"a logo or signature image ({size})"
    return None


def _mark(state: _State, name: str, key: str) -> None:
    for entry in reversed(state.attachments):
        if entry["name"] == name[:200] and key not in entry:
            entry[key] = True
            return


def _text_part(name: str, text: str) -> Part:
    """A text page of the letter, at most MAX_TEXT_CHARS long (the original keeps the rest)."""
    if len(text) > MAX_TEXT_CHARS:
        text = (text[:MAX_TEXT_CHARS] + f"\n\n[The text goes on for {len(text) - MAX_TEXT_CHARS} more characters; "
                "they are kept in the original e-mail but not read.]")
    return Part(name=name, content_type=TEXT, data=text.encode("utf-8"))


def _header_block(headers: dict[str, Any]) -> str:
    return f"Subject: {headers.get('subject') or ''}\nFrom: {headers.get('from') or ''}\n\n"


def body_of(letter_text: str) -> str:
    """The body part's text without the header block :func:`_header_block` puts first."""
    head, sep, rest = letter_text.partition("\n\n")
    return rest if sep and head.startswith("Subject: ") else letter_text


# ---------------------------------------------------------------- walking the MIME tree


def _walk(m: Message, msg: _Message, state: _State, depth: int) -> None:
    state.tick(depth)
    ctype = _content_type(m)
    if ctype in ("message/rfc822", "message/global", "message/news"):
        inner = _inner(m)
        if inner is not None:
            if state.bounce is not None and depth <= 2 and "returned_subject" not in state.bounce:
                _returned(inner, msg, state)
            else:
                _forwarded(inner, msg, state, depth + 1)
        return
    if ctype == "message/delivery-status":
        if state.bounce is not None:
            state.bounce.setdefault("fields", []).extend(_status_blocks(m))
        return
    if ctype == "message/external-body":
        return  # a pointer to a file elsewhere (FTP, mail server): nothing here to read
    if m.is_multipart():
        subs = [s for s in (m.get_payload() or []) if isinstance(s, Message)]
        if ctype == "multipart/alternative" and subs:  # one rendering of the same text is enough
            subs = [_best_alternative(subs)]
        for sub in subs:
            _walk(sub, msg, state, depth + 1)
        return
    _leaf(m, ctype, msg, state, depth)


def _content_type(m: Message) -> str:
    try:
        ctype = m.get_content_type()
    except (ValueError, TypeError, IndexError):
        return "text/plain"
    return ctype if ctype.count("/") == 1 else "text/plain"


def _inner(m: Message) -> Message | None:
    payload = m.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    if isinstance(payload, str | bytes) and payload:  # encoded (base64) or not split by the parser
        raw = m.get_payload(decode=True)
        if isinstance(raw, bytes) and raw.strip():
            return email.message_from_bytes(raw, policy=email.policy.compat32)
    return None


def _best_alternative(subs: list[Message]) -> Message:
    """Plain text when it says something, else HTML, else the richest (a multipart/related …)."""
    def rank(s: Message) -> int:
        ctype = _content_type(s)
        if ctype == "text/plain":
            return 0 if _has_text(s) else 3
        if ctype == "text/html":
            return 1
        return 2 if s.is_multipart() else 4
    return min(subs, key=rank)


def _has_text(m: Message) -> bool:
    payload = m.get_payload(decode=True)
    return isinstance(payload, bytes) and any(ch.isalnum() for ch in decode_text(payload[:4096], _charset(m)))


def _charset(m: Message) -> str | None:
    try:
        charset = m.get_content_charset()
    except (ValueError, LookupError, TypeError, IndexError):
        return None
    return str(charset) if charset else None


def _filename(m: Message, hint: str | None) -> str:
    raw: Any = _raw_param(m, "content-disposition", "filename") or _raw_param(m, "content-type", "name")
    if raw is None:  # no raw 8-bit bytes: the library's reading (RFC 2231 included)
        try:
            raw = m.get_filename() or m.get_param("name") or ""
        except (ValueError, LookupError, UnicodeError, TypeError, IndexError):
            raw = ""
    if isinstance(raw, tuple):  # an RFC 2231 value compat32 could not collapse
        raw = raw[2] if len(raw) == 3 else ""
    return decode_header_value(str(raw), hint, limit=200)


def _raw_value(m: Message, name: str) -> str | None:
    """A header's value as it came (8-bit octets as surrogate escapes), not compat32's lossy Header object."""
    for key, value in m.raw_items():
        if key.lower() == name:
            return value if isinstance(value, str) else str(value)
    return None


def _raw_param(m: Message, header: str, key: str) -> str | None:
    """A parameter of a header holding raw 8-bit bytes (a file name written by an old client), else None."""
    value = _raw_value(m, header)
    if value is None or not has_raw_8bit(value):
        return None
    for param in value.split(";")[1:]:
        name, sep, val = param.partition("=")
        if sep and name.strip().lower() == key:
            return val.strip().strip('"')
    return None


def _disposition(m: Message) -> str | None:
    try:
        return m.get_content_disposition()
    except (ValueError, TypeError, IndexError):
        return None


def _leaf(m: Message, ctype: str, msg: _Message, state: _State, depth: int) -> None:
    disposition = _disposition(m)
    filename = _filename(m, state.hint)
    try:
        payload = m.get_payload(decode=True)
    except (ValueError, TypeError, LookupError):
        payload = None
    payload = payload if isinstance(payload, bytes) else b""
    attached = disposition == "attachment" or bool(filename)
    maintype = ctype.split("/", 1)[0]
    name = filename or ""
    what = _DECORATION_TYPES.get(ctype) or _DECORATION_EXTENSIONS.get(_extension(name))
    if what:
        _list(state, name or f"attachment-{len(state.attachments) + 1}", ctype, payload, skipped=True)
        state.skip(name or ctype, what)
        return
    if ctype in _ENCRYPTED_TYPES or (ctype == "application/octet-stream" and _extension(name) == ".p7m"):
        label = name or f"attachment-{len(state.attachments) + 1}"
        _list(state, label, ctype, payload, rejected=True)
        state.reject(label, f"{label_of(label)} is encrypted (S/MIME or PGP); it cannot be read. Ask the sender "
                            "to send the letter unencrypted.")
        return
    if ctype == "text/rfc822-headers":
        if state.bounce is not None:
            state.bounce.setdefault("returned_headers", decode_text(payload[:HEADER_LIMIT], _charset(m)))
        return
    if maintype == "text" and not attached:
        if not state.text:  # meta only: the body's text is not needed, only which images it shows
            if ctype == "text/html":
                msg.cids |= cid_references(payload.decode("ascii", "replace"))
            return
        text = decode_text(payload, _charset(m))
        if ctype == "text/html":
            parsed = html_to_text(text)
            msg.body.append(parsed.text)
            msg.cids |= parsed.cids
        else:
            msg.body.append(text)
        return
    if not payload:
        if attached:
            label = name or f"attachment-{len(state.attachments) + 1}"
            _list(state, label, ctype, payload, rejected=True)
            state.reject(label, f"{label_of(label)} is empty (0 bytes); ask the sender to attach it again.")
        return
    cid = str(m.get("content-id", "") or "").strip().strip("<>").lower()
    _attachment(name or f"attachment-{len(state.attachments) + 1}", payload, ctype, _charset(m), msg, state,
                depth, inline=disposition == "inline" or (not attached and bool(cid)), content_id=cid)


def _extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot >= 0 else ""


def _list(state: _State, name: str, ctype: str, payload: bytes, **flags: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name[:200], "type": ctype, "size": len(payload)}
    entry.update({k: v for k, v in flags.items() if v})
    state.attachments.append(entry)
    return entry


def _attachment(name: str, payload: bytes, declared: str, charset: str | None, msg: _Message, state: _State,
                depth: int, inline: bool = False, content_id: str = "") -> None:
    """One attached file (of a MIME part, a TNEF or an Outlook message): a further page, decoration,
    a message of its own, or rejected with its reason."""
    if is_tnef(payload) or declared in ("application/ms-tnef", "application/vnd.ms-tnef"):
        _list(state, name, "application/ms-tnef", payload)
        _tnef(name, payload, msg, state, depth)
        return
    real = _sniff(payload)  # content wins over the declared type …
    if real in (TEXT, "application/octet-stream") and (declared.startswith("text/") or (
            _extension(name) in _TEXT_EXTENSIONS and b"\x00" not in payload[:4096])):
        real = "text/html" if declared == "text/html" or _extension(name) in (".html", ".htm") else TEXT  # … but
        # text in an 8-bit charset sniffs as unknown bytes: a declared text type or a .txt name says it is text
    if real == "text/html":
        _list(state, name, real, payload)
        text = html_to_text(decode_text(payload, charset)).text
        if text.strip():
            msg.pieces.append(_Piece(_text_part(name, text)))
        return
    if real == TEXT:
        _list(state, name, real, payload)
        text = decode_text(payload, charset)
        if text.strip():
            msg.pieces.append(_Piece(_text_part(name, text)))
        return
    if real == EMAIL:
        _list(state, name, real, payload)
        _forwarded(email.message_from_bytes(payload, policy=email.policy.compat32), msg, state, depth + 1)
        return
    if real == OUTLOOK:
        _list(state, name, real, payload)
        try:
            item = read_msg(payload)
        except MailroomError as exc:
            _mark(state, name, "rejected")
            state.reject(name, f"{label_of(name)}: {exc.reason}")
            return
        _outlook_into(item, msg, state, depth + 1)
        return
    if real == PDF:
        entry = _list(state, name, real, payload)
        problem = _pdf_problem(payload)
        if problem:
            entry["rejected"] = True
            state.reject(name, f"{label_of(name)}: {problem}")
            return
        msg.pieces.append(_Piece(Part(name=name, content_type=real, data=payload)))
        return
    if real in IMAGE_TYPES:
        entry = _list(state, name, real, payload)
        size = _image_size(payload)
        if size is None:
            entry["rejected"] = True
            state.reject(name, f"{label_of(name)} is a damaged image; it could not be read. Ask the sender "
                               "for a new copy.")
            return
        image = _Image(size[0], size[1], content_id, inline) if size != (0, 0) else None
        msg.pieces.append(_Piece(Part(name=name, content_type=real, data=payload), image))
        return
    _list(state, name, real, payload, rejected=True)
    state.reject(name, rejection(payload, name))


def _sniff(payload: bytes) -> str:
    try:
        return sniff_type(payload, "")
    except UnsupportedInput:
        return "application/octet-stream"
    except CorruptInput:
        return "application/x-empty"


def _pdf_problem(payload: bytes) -> str | None:
    """Why a PDF attachment cannot be read (damaged, password-protected), or None."""
    import pypdfium2 as pdfium

    from ocr.pages import PDFIUM_LOCK

    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(payload)
        except pdfium.PdfiumError as exc:
            if "password" in str(exc).lower():
                return "the PDF is password-protected; ask the sender for an unprotected copy."
            return "the PDF is damaged and cannot be opened; ask the sender for a new copy."
        try:
            if len(pdf) == 0:
                return "the PDF has no pages; ask the sender for a new copy."
        finally:
            pdf.close()
    return None


def _image_size(payload: bytes) -> tuple[int, int] | None:
    """(width, height) from the image header; (0, 0) when too big to open here (the OCR stage says why);
    None when the image is damaged."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(payload)) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        return (0, 0)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, TypeError, EOFError):
        return None
    return (int(width), int(height)) if width > 0 and height > 0 else None


# ---------------------------------------------------------------- messages inside the message


def _forwarded(inner: Message, msg: _Message, state: _State, depth: int) -> None:
    """A forwarded message: its body, then its own attachments, as further pages of the letter."""
    sub = _Message()
    _walk(inner, sub, state, depth)
    headers = _headers(inner, state.hint)
    _as_pages(headers, sub, msg, state)


def _as_pages(headers: dict[str, Any], sub: _Message, msg: _Message, state: _State) -> None:
    body = "\n\n".join(t.strip() for t in sub.body if t.strip())
    if body:
        text = ("Forwarded message\n" + f"Date: {headers.get('date') or ''}\n" + _header_block(headers) + body)
        msg.pieces.append(_Piece(_text_part("forwarded", text)))
    msg.pieces.extend(_Piece(p) for p in _resolve(sub, state))


def _outlook_into(item: OutlookMessage, msg: _Message, state: _State, depth: int, top_level: bool = False) -> None:
    state.tick(depth)
    target = msg if top_level else _Message()
    target.body.append(item.body)
    target.cids |= item.cids
    for att in item.attachments:
        state.tick(depth + 1)
        _attachment(att.name, att.data, att.mimetype.lower(), None, target, state, depth + 1,
                    content_id=att.content_id)
    for embedded in item.embedded:
        _outlook_into(embedded, target, state, depth + 1)
    if not top_level:
        _as_pages({"subject": item.subject, "from": item.sender, "date": item.date}, target, msg, state)


def _tnef(name: str, payload: bytes, msg: _Message, state: _State, depth: int) -> None:
    from ground.settings import get_settings
    from intake.bounded import call_bounded

    settings = get_settings()
    try:
        content = call_bounded(read_tnef, payload, timeout=settings.parse_timeout,
                               memory_mb=settings.parse_memory_mb, what=f"Reading {label_of(name)} (TNEF)")
    except MailroomError as exc:
        _mark(state, name, "rejected")
        state.reject(name, f"{label_of(name)} (Outlook rich text, TNEF) could not be read: {exc.reason}")
        return
    _tnef_into(content, msg, state, depth, name)


def _tnef_into(content: TnefContent, msg: _Message, state: _State, depth: int, name: str) -> None:
    body = content.body.strip()
    if body and _collapse(body) not in _collapse("\n".join(msg.body)):
        msg.pieces.append(_Piece(_text_part(name, body)))
    for att_name, data in content.attachments:
        state.tick(depth + 1)
        _attachment(att_name, data, "", None, msg, state, depth + 1)
    for embedded in content.embedded:
        sub = _Message(body=[embedded.body])
        _tnef_into(TnefContent(attachments=embedded.attachments, embedded=embedded.embedded), sub, state,
                   depth + 1, name)
        _as_pages({"subject": embedded.subject}, sub, msg, state)


def _collapse(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------- headers


def _charset_hint(msg: Message) -> str | None:
    """The charset raw 8-bit headers are most likely in: the first declared one of a text part, else a
    guess over the raw header bytes and the first text part's bytes together."""
    raw_headers = [v for _, v in msg.raw_items() if isinstance(v, str) and has_raw_8bit(v)]
    if not raw_headers:
        return None
    first_text: bytes = b""
    for n, part in enumerate(msg.walk()):
        if n > 50:
            break
        if part.get_content_maintype() == "text" and not part.is_multipart():
            charset = _charset(part)
            if charset and charset not in ("us-ascii", "utf-8") and decodes(b"", charset):
                return charset
            if not first_text:
                payload = part.get_payload(decode=True)
                first_text = payload[:GUESS_SAMPLE] if isinstance(payload, bytes) else b""
    sample = b" ".join(v.encode("utf-8", "surrogateescape") for v in raw_headers) + b"\n" + first_text
    if decodes(sample, "utf-8"):
        return "utf-8"
    return guess_charset(sample)


def _header(msg: Message, name: str, hint: str | None) -> str:
    return decode_header_value((_raw_value(msg, name) or "")[:20_000], hint)


def _headers(msg: Message, hint: str | None) -> dict[str, Any]:
    ids = _MESSAGE_ID.findall(_header(msg, "message-id", hint))
    return {
        "from": _header(msg, "from", hint),
        "to": _header(msg, "to", hint),
        "subject": _header(msg, "subject", hint),
        "date": _header(msg, "date", hint),
        "message_id": ids[0] if ids else None,
        "in_reply_to": (_MESSAGE_ID.findall(_header(msg, "in-reply-to", hint)) or [None])[0],
        "references": _MESSAGE_ID.findall(_header(msg, "references", hint))[:50],
        # what an automatic answer must respect (RFC 3834): never acknowledge machines or mailing lists
        "reply_to": _header(msg, "reply-to", hint)[:500],
        "auto_submitted": _header(msg, "auto-submitted", hint)[:100],
        "precedence": _header(msg, "precedence", hint)[:100],
        "list_id": _header(msg, "list-id", hint)[:300],
    }


# ---------------------------------------------------------------- delivery-status reports (bounces)


def _is_bounce(msg: Message) -> bool:
    if _content_type(msg) != "multipart/report":
        return False
    try:
        report = str(msg.get_param("report-type") or "")
    except (ValueError, TypeError, IndexError):
        report = ""
    if report.strip().lower() == "delivery-status":
        return True
    subs = msg.get_payload() if msg.is_multipart() else []
    return any(isinstance(s, Message) and _content_type(s) == "message/delivery-status" for s in subs[:20])


def _status_blocks(m: Message) -> list[dict[str, str]]:
    """The fields of a message/delivery-status part: one dict per block (per message, per recipient)."""
    blocks: list[dict[str, str]] = []
    payload = m.get_payload()
    subs = payload if isinstance(payload, list) else []
    if not subs and isinstance(payload, str):  # not split by the parser: blocks are separated by blank lines
        raw = m.get_payload(decode=True) or b""
        subs = [email.message_from_bytes(b.strip(), policy=email.policy.compat32)
                for b in re.split(rb"\r?\n\r?\n", raw[:HEADER_LIMIT]) if b.strip()]
    for block in subs[:50]:
        if isinstance(block, Message):
            blocks.append({k.lower(): decode_header_value(str(v), limit=500) for k, v in list(block.items())[:40]})
    return blocks


def _returned(inner: Message, msg: _Message, state: _State) -> None:
    """The message that could not be delivered: its headers and text (our own mail: its attachments are not
    read again)."""
    headers = _headers(inner, state.hint)
    sub = _Message()
    for part in inner.walk() if inner.is_multipart() else [inner]:
        if part.is_multipart() or _content_type(part) not in ("text/plain", "text/html"):
            continue
        if _disposition(part) == "attachment":
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            text = decode_text(payload, _charset(part))
            sub.body.append(html_to_text(text).text if _content_type(part) == "text/html" else text)
        break
    state.bounce["returned_message_id"] = headers.get("message_id")  # type: ignore[index]
    state.bounce["returned_subject"] = headers.get("subject")  # type: ignore[index]
    state.bounce["returned_to"] = headers.get("to")  # type: ignore[index]
    body = "\n\n".join(t.strip() for t in sub.body if t.strip())
    text = "Returned message\n" + _header_block(headers) + body
    msg.pieces.append(_Piece(_text_part("returned message", text)))


def _bounce_summary(raw: dict[str, Any]) -> dict[str, Any]:
    """What the envelope's meta keeps of a bounce: the original Message-ID, and status per recipient."""
    fields = raw.get("fields", [])
    recipients = [{"recipient": _address(b.get("final-recipient") or b.get("original-recipient", "")),
                   "action": b.get("action", "").lower(), "status": b.get("status", ""),
                   "diagnostic": b.get("diagnostic-code", "")[:300]}
                  for b in fields if "final-recipient" in b or "original-recipient" in b or "status" in b]
    original = raw.get("returned_message_id")
    if not original and raw.get("returned_headers"):
        found = _MESSAGE_ID.findall(_headers_message_id(raw["returned_headers"]))
        original = found[0] if found else None
    first = recipients[0] if recipients else {}
    return {"report_type": "delivery-status", "original_message_id": original,
            "original_subject": raw.get("returned_subject"), "action": first.get("action") or None,
            "status": first.get("status") or None, "recipients": recipients[:20],
            "reporting_mta": next((b.get("reporting-mta") for b in fields if "reporting-mta" in b), None)}


def _headers_message_id(text: str) -> str:
    headers = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(text, headersonly=True)
    return decode_header_value(headers.get("message-id", ""), limit=1000)


def _address(value: str) -> str:
    kind, sep, rest = value.partition(";")
    return rest.strip() if sep else value.strip()


def _bounce_text(bounce: dict[str, Any]) -> str:
    lines = ["Delivery-status report (a bounce): a message could not be delivered. Not a customer letter."]
    if bounce.get("original_message_id"):
        lines.append(f"Original Message-ID: {bounce['original_message_id']}")
    if bounce.get("original_subject"):
        lines.append(f"Original subject: {bounce['original_subject']}")
    for r in bounce.get("recipients", []):
        lines.append(f"Recipient: {r['recipient']}; action: {r['action'] or '?'}; status: {r['status'] or '?'}"
                     + (f"; {r['diagnostic']}" if r["diagnostic"] else ""))
    return "\n".join(lines)
