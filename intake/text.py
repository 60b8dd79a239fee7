"""Charsets and header text of mail as it really arrives.

Bodies: the declared charset when it decodes cleanly, else UTF-8, else the best guess of
``charset-normalizer`` among the charsets Polish, Czech and Russian mail really uses. Headers: RFC 2047
encoded words in any charset, and raw 8-bit header bytes (no RFC 2047, as older clients and gateways
send them) decoded with the message's own charset when it fits, else guessed the same way.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re

# Charsets mail in the four languages really uses, most likely first; the guess picks among them.
CHARSETS = ("utf-8", "windows-1250", "iso-8859-2", "windows-1251", "koi8-r")
GUESS_SAMPLE = 200_000  # bytes the guess looks at (charset-normalizer is linear, but not free)
_NO_CHARSET = frozenset({"", "us-ascii", "ascii", "unknown-8bit", "x-unknown", "unknown", "default", "none",
                         "8bit", "x-user-defined", "ansi_x3.4-1968", "ansi-x3.4-1968"})
_LATIN1 = frozenset({"iso-8859-1", "latin-1", "latin1", "iso8859-1", "l1", "cp819"})
_ALIASES = {"cp-1250": "windows-1250", "win-1250": "windows-1250", "cp-1251": "windows-1251",
            "win-1251": "windows-1251", "x-cp1250": "windows-1250", "x-cp1251": "windows-1251",
            "koi8r": "koi8-r", "iso-8859-8-i": "iso-8859-8", "ks_c_5601-1987": "cp949", "gb2312": "gb18030",
            "gbk": "gb18030"}
_C1 = re.compile("[\x80-\x9f]")


def normal_charset(charset: object) -> str:
    """The declared charset, lower-case and unquoted; '' when it says nothing useful."""
    name = str(charset or "").strip().strip("\"'").lower()
    name = _ALIASES.get(name, name)
    return "" if name in _NO_CHARSET else name


def decode_text(payload: bytes, charset: str | None = None) -> str:
    """Text of ``payload``: the declared charset if it decodes cleanly, else UTF-8, else the best guess."""
    declared = normal_charset(charset)
    if declared:
        try:
            text: str | None = payload.decode(declared)
        except (LookupError, UnicodeDecodeError):
            text = None
        # latin-1 decodes anything; C1 controls in it mean the sender lied (usually windows-1250)
        if text is not None and not (declared in _LATIN1 and _C1.search(text)):
            return text
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return payload.decode(guess_charset(payload), errors="replace")


def guess_charset(payload: bytes) -> str:
    """The most likely 8-bit charset of ``payload`` among CHARSETS (not UTF-8: the caller tried it)."""
    from charset_normalizer import from_bytes

    best = from_bytes(payload[:GUESS_SAMPLE], cp_isolation=list(CHARSETS[1:])).best()
    return best.encoding if best is not None else "windows-1250"


def decodes(payload: bytes, charset: str) -> bool:
    try:
        payload.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return False
    return True


def has_raw_8bit(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def decode_header_value(value: object, hint: str | None = None, limit: int = 2000) -> str:
    """A header as one line of text: RFC 2047 words decoded (any charset), raw 8-bit octets decoded with
    ``hint`` (the message's charset) when they fit it, else guessed."""
    text = str(value or "")
    if not text:
        return ""
    if has_raw_8bit(text):
        raw = text.encode("utf-8", "surrogateescape")
        hinted = normal_charset(hint)
        if raw.isascii():
            text = raw.decode("ascii")
        elif decodes(raw, "utf-8"):
            text = raw.decode("utf-8")
        elif hinted and hinted != "utf-8" and decodes(raw, hinted):
            text = raw.decode(hinted)
        else:
            text = raw.decode(guess_charset(raw), errors="replace")
    if "=?" in text:
        text = _encoded_words(text)
    return " ".join(text.split())[:limit]


_WORD = re.compile(r"=\?([^?\s]{1,40})\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(\?=)[ \t\r\n]+(=\?)")


def _encoded_words(text: str) -> str:
    """RFC 2047: each encoded word in its own charset (an unknown or lying one is guessed); the white
    space between two encoded words is dropped (RFC 2047 section 6.2), all other text is kept as it is.
    Adjacent words of one charset are decoded together: a multi-byte character may be split across them."""
    text = _BETWEEN_WORDS.sub(r"\1\2", text)
    out: list[str] = []
    pending: tuple[str, bytes] | None = None  # (charset, bytes) of adjacent words not decoded yet
    end = 0
    for match in _WORD.finditer(text):
        data = _word_bytes(match.group(2).upper(), match.group(3))
        if data is None:
            continue  # not a valid encoded word: it stays as literal text
        charset = match.group(1).split("*", 1)[0]  # RFC 2231 language suffix: charset*lang
        gap = text[end:match.start()]
        if pending is not None and (gap or pending[0] != charset):
            out.append(decode_text(pending[1], pending[0]))
            pending = None
        out.append(gap)
        pending = (charset, pending[1] + data) if pending is not None else (charset, data)
        end = match.end()
    if pending is not None:
        out.append(decode_text(pending[1], pending[0]))
    out.append(text[end:])
    return "".join(out)


def _word_bytes(encoding: str, payload: str) -> bytes | None:
    try:
        if encoding == "B":
            return base64.b64decode(payload + "=" * (-len(payload) % 4))
        return quopri.decodestring(payload.encode("ascii", "replace"), header=True)
    except (ValueError, binascii.Error):
        return None


def clean_header(value: object, hint: str | None = None) -> str:
    """A header value as one line of text (kept for callers of the old name)."""
    return decode_header_value(value, hint)
