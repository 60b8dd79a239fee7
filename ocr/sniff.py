"""Decide what a file is from its first bytes. The file name is a hint only: content wins."""

from __future__ import annotations

import re
import unicodedata

from PIL import features

from ground.errors import CorruptInput, UnsupportedInput

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"
GIF = "image/gif"
BMP = "image/bmp"
WEBP = "image/webp"
EMAIL = "message/rfc822"
OUTLOOK = "application/vnd.ms-outlook"
TEXT = "text/plain"

IMAGE_TYPES = frozenset({PNG, JPEG, TIFF, GIF, BMP, WEBP})

_BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})  # DIB header sizes Pillow reads
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Every Outlook .msg holds property streams named "__substg1.0_…" (UTF-16LE in the OLE2 directory);
# Word/Excel 97 files, which share the OLE2 container, do not.
_MSG_STREAM = "__substg1.0_".encode("utf-16-le")

# Header names that open real messages; a text file rarely starts with two of them.
_MAIL_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "received",
        "return-path",
        "content-type",
        "delivered-to",
        "reply-to",
        "sender",
        "x-mailer",
        "dkim-signature",
        "authentication-results",
        "in-reply-to",
        "references",
        "user-agent",
    }
)
_HEADER_LINE = re.compile(rb"^([!-9;-~]+):[ \t]?(.*)$")  # RFC 5322 field-name: printable ASCII but ':'
_TEXT_CONTROLS = frozenset("\t\n\r\f\v")


def sniff_type(data: bytes, name: str = "") -> str:
    """Return the MIME type of ``data`` or raise UnsupportedInput / CorruptInput (empty file)."""
    if not data:
        raise CorruptInput(f"{_label(name)} is empty (0 bytes); the scan or upload probably failed, send it again.")
    head = data[:4096]
    # An OLE compound file (Outlook .msg) first: its first sectors may hold an attached PDF's bytes.
    if head.startswith(_OLE2):
        if _MSG_STREAM in data:
            return OUTLOOK
        raise UnsupportedInput(
            f"{_label(name)} is an old Microsoft Office file (Word/Excel 97), not an Outlook message; "
            "save or print it as PDF and send that."
        )
    if b"%PDF-" in data[:1024]:  # readers accept junk before the header, so must we
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return BMP
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and features.check("webp"):
        return WEBP
    # An e-mail is recognised by its header block (ASCII by RFC 5322) in any body encoding: a delivered
    # message with an 8-bit KOI8-R or windows-1250 body is no valid UTF-8, and still an e-mail.
    if _looks_like_email(data, name):
        return EMAIL
    if _as_text(data) is not None:
        return TEXT
    raise UnsupportedInput(f"{_label(name)} is not a PDF, image, TIFF fax or e-mail; send it as one of those.")


def _label(name: str) -> str:
    """The name as shown to a person: quoted, one line, bounded."""
    if not name:
        return "The file"
    clean = "".join(c if c.isprintable() else "?" for c in name)
    if len(clean) > 80:
        clean = clean[:77] + "…"
    return f"“{clean}”"


def _as_text(data: bytes) -> str | None:
    """The data as UTF-8 text if it is text a person wrote (no NULs, hardly any control characters)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    sample = text[:65536]
    if "\x00" in sample:
        return None
    bad = sum(1 for c in sample if unicodedata.category(c) == "Cc" and c not in _TEXT_CONTROLS)
    if bad > max(2, len(sample) // 100):
        return None
    return text


_EMAIL_WINDOW = 16384  # bytes of the header block looked at


def _looks_like_email(data: bytes, name: str) -> bool:
    """RFC 822 heuristic: the bytes open with a header block holding known mail headers (a leading
    Return-Path, Received or mbox ``From `` line included). Header values may hold raw 8-bit bytes."""
    head = data[:_EMAIL_WINDOW]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]  # a UTF-8 byte order mark some Windows tools write
    if b"\x00" in head[:1024]:
        return False  # binary
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    if len(data) > _EMAIL_WINDOW and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut in the middle
    if lines and lines[0].startswith(b"From ") and not lines[0].startswith(b"From: "):
        lines = lines[1:]  # mbox separator line
    known = 0
    seen_header = False
    for line in lines[:200]:
        if not line.strip():
            break  # end of the header block
        if line[:1] in (b" ", b"\t"):
            if not seen_header:
                return False
            continue  # folded continuation
        match = _HEADER_LINE.match(line)
        if match is None:
            return False  # a non-header line before the blank line: not a message
        seen_header = True
        if match.group(1).decode("ascii").lower() in _MAIL_HEADERS:
            known += 1
    needed = 1 if name.lower().endswith((".eml", ".mbox")) else 2
    return known >= needed
