"""TNEF (``winmail.dat``, ``application/ms-tnef``): Outlook's wrapping of a message's body and
attachments, decoded with ``tnefparse``.

tnefparse copies the rest of the data for every object it reads, so a file of many tiny objects costs
quadratic time; the object walk is checked first (count and bytes copied) and refused beyond sane
bounds. The caller runs this in a bounded child process (intake.bounded) as well.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ground.errors import CorruptInput, TooLarge
from intake.html import html_to_text
from intake.text import decode_text

MAX_OBJECTS = 10_000
MAX_COPIED = 1 << 30  # bytes tnefparse would copy while walking the objects
MAX_DEPTH = 5  # messages embedded in messages
SIGNATURE = b"\x78\x9f\x3e\x22"

logging.getLogger("tnefparse").setLevel(logging.CRITICAL)  # it logs an error per damaged property


@dataclass
class TnefContent:
    subject: str = ""
    body: str = ""
    attachments: list[tuple[str, bytes]] = field(default_factory=list)
    embedded: list[TnefContent] = field(default_factory=list)


def is_tnef(payload: bytes) -> bool:
    return payload[:4] == SIGNATURE


def read_tnef(data: bytes, depth: int = 0) -> TnefContent:
    """Body text (plain, else HTML, else RTF) and attachments of a TNEF stream; raises CorruptInput/TooLarge."""
    if data[:4] != SIGNATURE:
        raise CorruptInput("The winmail.dat attachment is not a TNEF file; it could not be read.")
    _check_walk(data)
    from tnefparse.tnef import TNEF

    try:
        tnef = TNEF(data, do_checksum=False)
    except (ValueError, IndexError, KeyError, TypeError, UnicodeError, OverflowError, LookupError) as exc:
        raise CorruptInput(f"The winmail.dat attachment (TNEF) is damaged and could not be read ({exc}).") from exc
    except Exception as exc:  # noqa: BLE001 - struct.error and the like from a damaged stream
        raise CorruptInput(f"The winmail.dat attachment (TNEF) is damaged and could not be read ({exc}).") from exc
    return _content(tnef, depth)


def _content(tnef: object, depth: int) -> TnefContent:
    """What a parsed TNEF message holds; messages embedded in it (parsed by tnefparse) likewise."""
    content = TnefContent(subject=_subject(tnef), body=_body(tnef))
    for att in getattr(tnef, "attachments", [])[:200]:
        embed = getattr(att, "embed", None)
        if embed is not None:
            if depth < MAX_DEPTH:
                content.embedded.append(_content(embed, depth + 1))
            continue
        payload = att.data if isinstance(att.data, bytes) else b""
        if payload:
            content.attachments.append((_name(att), payload))
    return content


def _check_walk(data: bytes) -> None:
    """Refuse a stream whose object walk in tnefparse would be too costly (count, bytes copied)."""
    offset, count, copied = 6, 0, 0
    size = len(data)
    while offset + 12 < size:
        remaining = size - offset
        count += 1
        copied += remaining
        if count > MAX_OBJECTS or copied > MAX_COPIED:
            raise TooLarge("The winmail.dat attachment (TNEF) has too many parts to be read; ask the sender to "
                           "send the letter again without Outlook's rich text (as plain text or PDF).")
        length = int.from_bytes(data[offset + 5:offset + 9], "little") + 11
        offset += min(remaining, length)


def _subject(tnef: object) -> str:
    for obj in getattr(tnef, "msgprops", []):
        if getattr(obj, "name", None) == 0x8004 and isinstance(obj.data, str):
            return " ".join(obj.data.split())[:500]
    return ""


def _body(tnef: object) -> str:
    body = getattr(tnef, "body", None)
    codepage = getattr(tnef, "codepage", None)
    if isinstance(body, bytes):
        body = decode_text(body.rstrip(b"\x00"), codepage)
    if isinstance(body, str) and body.strip("\x00 \r\n\t"):
        return body.strip("\x00")
    html = getattr(tnef, "htmlbody", None)
    if isinstance(html, bytes):
        html = decode_text(html.rstrip(b"\x00"), codepage)
    if isinstance(html, str) and html.strip():
        return html_to_text(html).text
    try:
        rtf = tnef.rtfbody  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - compressed RTF that does not decompress
        rtf = None
    if isinstance(rtf, bytes) and rtf.lstrip().startswith(b"{\\rtf"):
        return rtf_to_text(rtf)
    return ""


def _name(att: object) -> str:
    raw = None
    try:
        raw = att.long_filename()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - names in a codepage tnefparse decodes as UTF-8
        raw = getattr(att, "_name", b"")
    if isinstance(raw, bytes):
        raw = decode_text(raw)
    return str(raw or "attachment").strip("\x00 ")[:200] or "attachment"


# ---------------------------------------------------------------- RTF (Outlook's rich-text body)

_SKIP_DESTINATIONS = frozenset({"fonttbl", "colortbl", "stylesheet", "info", "pict", "object", "header", "footer",
                                "headerl", "headerr", "footerl", "footerr", "listtable", "listoverridetable",
                                "rsidtbl", "generator", "themedata", "colorschememapping", "latentstyles",
                                "datastore", "xmlnstbl", "mmathPr", "fldinst", "filetbl", "revtbl"})
_BREAKS = {"par": "\n", "line": "\n", "sect": "\n\n", "page": "\n\n", "tab": "\t", "cell": "\t", "row": "\n",
           "emdash": "—", "endash": "–", "bullet": "•", "lquote": "‘", "rquote": "’", "ldblquote": "“",
           "rdblquote": "”"}


def rtf_to_text(rtf: bytes) -> str:
    """Plain text of an RTF body in one linear pass: control words for breaks and characters, hidden
    destinations skipped, ``\\'hh`` bytes in the document's code page, ``\\uN`` characters, and Outlook's
    encapsulated HTML read through its text (``\\htmlrtf`` runs skipped)."""
    text = rtf.decode("latin-1")
    codepage = "cp1252"
    out: list[str] = []
    pending = bytearray()  # \'hh bytes not decoded yet (a multi-byte character spans several)
    stack: list[tuple[bool, int]] = []
    skip, uc, skip_chars, htmlrtf = False, 1, 0, False
    i, n = 0, len(text)

    def flush() -> None:
        if pending:
            out.append(bytes(pending).decode(codepage, "replace"))
            pending.clear()

    while i < n:
        ch = text[i]
        if ch == "{":
            stack.append((skip, uc))
            i += 1
            if text.startswith("\\*", i):
                skip = True
            continue
        if ch == "}":
            flush()
            skip, uc = stack.pop() if stack else (False, 1)
            i += 1
            continue
        if ch == "\\":
            i += 1
            if i >= n:
                break
            c = text[i]
            if c == "'":
                if not (skip or htmlrtf) and skip_chars == 0:
                    try:
                        pending.append(int(text[i + 1:i + 3], 16))
                    except ValueError:
                        pass
                elif skip_chars:
                    skip_chars -= 1
                i += 3
                continue
            if not c.isalpha():
                if not (skip or htmlrtf) and c in "\\{}":
                    flush()
                    out.append(c)
                elif c == "~" and not skip:
                    out.append(" ")
                i += 1
                continue
            j = i
            while j < n and text[j].isalpha() and j - i < 32:
                j += 1
            word = text[i:j]
            k = j
            if k < n and (text[k] == "-" or text[k].isdigit()):
                k += 1
                while k < n and text[k].isdigit() and k - j < 12:
                    k += 1
            arg = text[j:k]
            if k < n and text[k] == " ":
                k += 1
            i = k
            number = int(arg) if arg not in ("", "-") else None
            if word in _SKIP_DESTINATIONS:
                skip = True
            elif word == "ansicpg" and number:
                codepage = f"cp{number}"
                try:
                    "".encode(codepage)
                except LookupError:
                    codepage = "cp1252"
            elif word == "htmlrtf":
                htmlrtf = number != 0
            elif word == "uc" and number is not None:
                uc = max(0, number)
            elif word == "u" and number is not None:
                if not (skip or htmlrtf):
                    flush()
                    out.append(chr(number % 65536) if number % 65536 < 0xD800 or number % 65536 > 0xDFFF else "?")
                skip_chars = uc
            elif word in _BREAKS and not (skip or htmlrtf):
                flush()
                out.append(_BREAKS[word])
            continue
        if ch in "\r\n":
            i += 1
            continue
        if skip_chars:
            skip_chars -= 1
            i += 1
            continue
        if not (skip or htmlrtf):
            flush()
            out.append(ch)
        i += 1
    flush()
    lines = [line.rstrip() for line in "".join(out).split("\n")]
    return "\n".join(lines).strip()
