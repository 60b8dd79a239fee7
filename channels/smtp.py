"""SMTP / LMTP receiving endpoint (aiosmtpd) for a mail server or a fax-to-mail gateway.

The answer to DATA is 250 only after the message is stored (fsynced) and its envelope
committed; any failure before that answers 451 so that the sending server keeps the message
and tries again. Over LMTP there is one answer per recipient, all the same: the message is
stored once, whatever the number of recipients.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.receive import Dispatch, Received, receive
from ground.errors import MailroomError
from ground.records import Channel
from pipeline.context import Context

log = logging.getLogger(__name__)
TEMPORARY = "451 4.3.0 The message could not be stored now; please try again later"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class IntakeHandler:
    """aiosmtpd handler: every message delivered becomes an accepted envelope (or a duplicate)."""

    def __init__(self, ctx: Context, *, dispatch: Dispatch | None = None, lmtp: bool = False,
                 channel: Channel = Channel.EMAIL, clock: Callable[[], datetime] = _utcnow) -> None:
        self.ctx, self.dispatch, self.lmtp, self.channel, self.clock = ctx, dispatch, lmtp, channel, clock
        self.received: list[Received] = []  # what this endpoint stored, for the log and the tests

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        data = envelope.original_content or b""
        meta: dict[str, Any] = {"smtp": {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos)[:100],
                                         "peer": str(session.peer[0]) if session.peer else None,
                                         "helo": session.host_name, "protocol": "lmtp" if self.lmtp else "smtp"}}
        loop = asyncio.get_running_loop()
        try:
            got = await loop.run_in_executor(None, self._store, data, meta)
        except MailroomError as exc:  # StorageError and the like: the sender must keep the message
            log.warning("message from %s not stored: %s", envelope.mail_from, exc.reason)
            return self._answer(envelope, TEMPORARY)
        except Exception as exc:  # noqa: BLE001 - database down etc.: never answer 250 without the original stored
            log.exception("message from %s not stored (%s)", envelope.mail_from, type(exc).__name__)
            return self._answer(envelope, TEMPORARY)
        self.received.append(got)
        if self.dispatch is not None and not got.duplicate and got.ok:
            try:
                await loop.run_in_executor(None, self.dispatch, got.envelope_id)
            except Exception as exc:  # noqa: BLE001 - stored and committed: the reconciler picks it up
                log.warning("envelope %s stored, dispatch failed (%s)", got.envelope_id, exc)
        what = "duplicate of" if got.duplicate else "stored as"
        return self._answer(envelope, f"250 2.0.0 Message {what} {got.envelope_id}")

    def _store(self, data: bytes, meta: dict[str, Any]) -> Received:
        return receive(self.ctx, data, "smtp", self.clock(), channel=self.channel, submitted_by="smtp", meta=meta)

    def _answer(self, envelope: Envelope, line: str) -> str:
        if not self.lmtp:
            return line
        return "\r\n".join([line] * max(1, len(envelope.rcpt_tos)))


class LmtpController(Controller):
    def factory(self) -> LMTP:
        return LMTP(self.handler, **self.SMTP_kwargs)


def start_endpoint(ctx: Context, host: str = "127.0.0.1", port: int = 8025, *, lmtp: bool = False,
                   dispatch: Dispatch | None = None, channel: Channel = Channel.EMAIL) -> Controller:
    """Start the endpoint in a background thread; call ``.stop()`` on the result to end it."""
    handler = IntakeHandler(ctx, dispatch=dispatch, lmtp=lmtp, channel=channel)
    cls = LmtpController if lmtp else Controller
    controller = cls(handler, hostname=host, port=port, data_size_limit=ctx.settings.max_upload_bytes)
    controller.start()
    return controller
