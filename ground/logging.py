"""Logs without personal data: national ids, phone numbers, IBANs and e-mail addresses are masked
in every record, whichever format is chosen.

``MAILROOM_LOG_FORMAT=json`` writes one JSON object per line (``ts``, ``level``, ``logger``, ``msg``,
``pid``, and ``exc`` for tracebacks) for a log collector; the default is one readable text line.
``MAILROOM_LOG_LEVEL`` sets the level (default WARNING; the worker logs its jobs at INFO).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime

_MASK = "•"
# Order matters: the longest, most specific shapes first.
_PATTERNS = [
    re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"),  # IBAN
    re.compile(r"\+\d{1,3}[ ]?(?:\(\d{1,4}\)[ ]?)?\d{2,4}(?:[ -]?\d{2,4}){1,4}"),  # +48 601 234 567, +7 (912) 345-67-89
    re.compile(r"(?<![\w-])8[ ]?\(?\d{3}\)?[ -]?\d{3}[ -]?\d{2}[ -]?\d{2}(?![\w-])"),  # RU 8 912 345 67 89
    re.compile(r"(?<![\w-])\d{3}[ -]\d{3}[ -]\d{3}(?![\w-])"),  # PL 601-234-567
    re.compile(r"(?<![\w-])\d{3}-\d{3}-\d{2}-\d{2}(?![\w-])|(?<![\w-])\d{3}-\d{2}-\d{2}-\d{3}(?![\w-])"),  # NIP
    re.compile(r"(?<![\w-])\d{8,12}(?![\w-])"),  # PESEL 11, NIP 10, IČO 8, ИНН 10/12 digits
]
_EMAIL = re.compile(r"\b([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")


def _hide(match: re.Match[str]) -> str:
    """Keep the last two characters (enough to tell two records apart), hide the rest."""
    text = match.group(0)
    keep = 2
    return "".join(_MASK if c.isalnum() else c for c in text[:-keep]) + text[-keep:]


def mask(text: str) -> str:
    """``text`` with national ids, phone numbers, IBANs and e-mail local parts masked."""
    for pattern in _PATTERNS:
        text = pattern.sub(_hide, text)
    return _EMAIL.sub(lambda m: f"{m.group(1)}{_MASK * 3}{m.group(2)}", text)


class MaskingFilter(logging.Filter):
    """Renders the message once, masked, so that neither format nor handler can leak the arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg, record.args = mask(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out, ensure_ascii=False)


def configure(level: str | int | None = None, fmt: str | None = None) -> logging.Handler:
    """Install one masked handler on the root logger (stderr); returns it."""
    fmt = (fmt or os.environ.get("MAILROOM_LOG_FORMAT", "text")).lower()
    level = level or os.environ.get("MAILROOM_LOG_LEVEL", "WARNING").upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(MaskingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
