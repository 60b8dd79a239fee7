"""Outlook .msg files (OLE compound files), read with ``extract-msg``: headers, body (plain, else
HTML, else RTF), attachments, and messages embedded as attachments (forwarded inside Outlook), to a
bounded depth."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from typing import Any

from ground.errors import CorruptInput
from intake.html import html_to_text
from intake.text import decode_header_value, decode_text

MAX_ATTACHMENTS = 200
MAX_DEPTH = 5

logging.getLogger("extract_msg").setLevel(logging.CRITICAL)  # it logs every unusual property


@dataclass
class OutlookAttachment:
    name: str
    data: bytes
    content_id: str = ""
    mimetype: str = ""


@dataclass
class OutlookMessage:
    subject: str = ""
    sender: str = ""
    to: str = ""
    date: str = ""
    message_id: str = ""
    in_reply_to: str = ""
    body: str = ""
    cids: set[str] = field(default_factory=set)
    attachments: list[OutlookAttachment] = field(default_factory=list)
    embedded: list[OutlookMessage] = field(default_factory=list)


def read_msg(data: bytes) -> OutlookMessage:
    """The message of an Outlook .msg file; raises CorruptInput when it cannot be read."""
    import extract_msg

    try:
        msg = extract_msg.openMsg(io.BytesIO(data), delayAttachments=False)
    except Exception as exc:  # noqa: BLE001 - olefile/extract_msg raise many types on bad input
        raise CorruptInput(f"The Outlook .msg file could not be read: {exc}.") from exc
    try:
        return _message(msg, 0)
    except CorruptInput:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged property stream deep inside
        raise CorruptInput(f"The Outlook .msg file is damaged and could not be read: {exc}.") from exc
    finally:
        try:
            msg.close()
        except Exception:  # noqa: BLE001,S110 - closing a damaged file
            pass


def _get(obj: Any, name: str) -> Any:
    try:
        return getattr(obj, name, None)
    except Exception:  # noqa: BLE001 - extract_msg parses properties lazily and raises on damaged ones
        return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = decode_text(value)
    return decode_header_value(str(value))


def _message(msg: Any, depth: int) -> OutlookMessage:
    out = OutlookMessage(subject=_text(_get(msg, "subject")), sender=_text(_get(msg, "sender")),
                         to=_text(_get(msg, "to")), date=_text(_get(msg, "date")),
                         message_id=_text(_get(msg, "messageId")), in_reply_to=_text(_get(msg, "inReplyTo")))
    out.body, out.cids = _body(msg)
    for att in (_get(msg, "attachments") or [])[:MAX_ATTACHMENTS]:
        payload = _get(att, "data")
        if isinstance(payload, bytes | bytearray):
            if payload:
                out.attachments.append(OutlookAttachment(
                    name=_name(att), data=bytes(payload),
                    content_id=str(_get(att, "cid") or _get(att, "contentId") or "").strip("<> ").lower(),
                    mimetype=str(_get(att, "mimetype") or "")))
        elif payload is not None and hasattr(payload, "attachments") and depth < MAX_DEPTH:
            out.embedded.append(_message(payload, depth + 1))  # an Outlook item attached to this one
    return out


def _body(msg: Any) -> tuple[str, set[str]]:
    body = _get(msg, "body")
    html = _get(msg, "htmlBody")
    cids: set[str] = set()
    if isinstance(html, bytes | str) and html:
        parsed = html_to_text(html if isinstance(html, str) else decode_text(bytes(html)))
        cids = parsed.cids
        if not (isinstance(body, str) and body.strip()):
            return parsed.text, cids
    if isinstance(body, bytes):
        body = decode_text(body)
    if isinstance(body, str) and body.strip():
        return body.replace("\r\n", "\n").strip("\x00"), cids
    rtf = _get(msg, "rtfBody")
    if isinstance(rtf, bytes) and rtf.lstrip().startswith(b"{\\rtf"):
        from intake.tnef import rtf_to_text

        return rtf_to_text(rtf), cids
    return "", cids


def _name(att: Any) -> str:
    for attr in ("longFilename", "shortFilename", "displayName", "name"):
        value = _get(att, attr)
        if isinstance(value, str) and value.strip("\x00 "):
            return value.strip("\x00 ")[:200]
    return "attachment"
