"""One way in for every channel (IMAP, SMTP/LMTP, hot folder, CLI import).

Store first, then explore. ``receive`` only sniffs the bytes (their first bytes: magic numbers, an
e-mail's header block) and, for an e-mail, reads its Message-ID from the header block (at most
``intake.mail.HEADER_LIMIT`` bytes) for dedupe; then the original is stored and fsynced and the envelope
row committed. Only then is the arrival parsed (e-mail headers and attachments, fax TIFF tags, page
count, the channel of a PDF), in a child process with a deadline and a memory budget
(``MAILROOM_PARSE_TIMEOUT``, ``MAILROOM_PARSE_MEMORY_MB``); a parse that fails that way sends the envelope
to quarantine with its reason. Either way the original is kept and the caller gets its answer: a
channel acknowledges (answers 250, moves the IMAP message, moves the file to ``done/``) once ``receive``
returns. Input that cannot be read at all (empty, unknown type) is stored too, and quarantined with its
reason at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ground.errors import MailroomError
from ground.records import Channel
from intake.accept import Accepted, Arrival, accept
from intake.describe import explore
from intake.mail import message_id_of
from intake.parts import EMAIL_TYPES
from ocr import sniff_type
from ocr.sniff import EMAIL, TIFF
from pipeline.context import Context
from pipeline.runner import quarantine, run_inline
from storage.audit import record
from storage.db import session_scope
from storage.models import Envelope

log = logging.getLogger(__name__)

Dispatch = Callable[[str], None]


@dataclass(frozen=True)
class Received:
    envelope_id: str
    duplicate: bool
    content_type: str
    problem: str | None = None  # why the arrival went straight to quarantine
    problem_status: int = 422  # the HTTP status that problem answers with

    @property
    def ok(self) -> bool:
        return self.problem is None


def receive(ctx: Context, data: bytes, name: str, now: datetime, *, channel: Channel | None = None,
            submitted_by: str = "system", meta: dict[str, Any] | None = None,
            dispatch: Dispatch | None = None, idempotency_key: str | None = None) -> Received:
    """Store and commit one arrival, then explore it; hand a new, readable one to ``dispatch``."""
    problem: MailroomError | None = None
    try:
        ctype = sniff_type(data, name)
    except MailroomError as exc:
        ctype, problem = "application/octet-stream", exc
    message_id = message_id_of(data) if ctype == EMAIL else None
    arrival = Arrival(data=data, name=name, channel=channel or _provisional(ctype, problem), content_type=ctype,
                      received_at=now, submitted_by=submitted_by, meta=dict(meta or {}), message_id=message_id,
                      idempotency_key=idempotency_key)
    with session_scope(ctx.db_url) as s:
        result = accept(arrival, s, ctx.blobs)
    if not isinstance(result, Accepted):
        return Received(result.of, True, ctype, problem.reason if problem else None,
                        problem.http_status if problem else 422)
    env_id = result.envelope_id
    if problem is None:
        try:  # stored and committed: now the parsers may look at it, within their bounds
            info, guessed = explore(data, ctype, channel.value if channel else None, ctx.settings)
        except MailroomError as exc:
            problem = exc
        else:
            problem = _page_problem(ctype, info)
            first = _describe(ctx, arrival, env_id, info, guessed)
            if first is not None:  # the same e-mail (Message-ID) arrived before, by another route
                return Received(first, True, ctype)
    if problem is not None:
        quarantine(ctx, env_id, problem)
        return Received(env_id, False, ctype, problem.reason, problem.http_status)
    if dispatch is not None:
        dispatch(env_id)
    return Received(env_id, False, ctype)


def _provisional(ctype: str, problem: MailroomError | None) -> Channel:
    """The channel until exploring says (a PDF with a text layer is an upload, see intake.parts)."""
    if problem is not None:
        return Channel.UPLOAD
    if ctype in EMAIL_TYPES:
        return Channel.EMAIL
    return Channel.FAX if ctype == TIFF else Channel.SCAN


def _page_problem(ctype: str, info: dict[str, Any]) -> MailroomError | None:
    """A TIFF whose pages cannot be counted (damaged directories, too many pages) is not read at all."""
    reason = (info.get("fax") or {}).get("pages_error") if ctype == TIFF else None
    if not reason:
        return None
    from ground.errors import CorruptInput, TooLarge

    return TooLarge(reason) if "more than" in reason else CorruptInput(reason)


def _describe(ctx: Context, arrival: Arrival, env_id: str, info: dict[str, Any], channel: str) -> str | None:
    """Keep what exploring found on the envelope; returns the first envelope's id instead when the e-mail's
    Message-ID (known only now: an Outlook .msg, or a header block longer than the cheap read) shows that
    the same message arrived before; this envelope is then folded into that one, as a duplicate."""
    message_id = ((info.get("email") or {}).get("message_id") or "")[:500] or None
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, env_id)
        if env is None:
            return None
        env.meta = {**(env.meta or {}), **info}
        env.channel = channel
        if message_id and env.message_id is None:
            first = s.scalar(select(Envelope.id).where(Envelope.message_id == message_id, Envelope.id != env_id))
            if first is None:
                env.message_id = message_id
            else:
                _fold(s, arrival, env, first, message_id)
                return first
        try:
            s.commit()
        except IntegrityError:  # the same Message-ID committed meanwhile by a concurrent arrival
            s.rollback()
            first = s.scalar(select(Envelope.id).where(Envelope.message_id == message_id))
            env = s.get(Envelope, env_id)
            if first is None or env is None:
                raise
            _fold(s, arrival, env, first, message_id)
            return first
    return None


def _fold(s: Any, arrival: Arrival, env: Envelope, first: str, message_id: str | None) -> None:
    """This envelope is a duplicate of ``first`` (found after storing): recorded on both, and removed (it has
    no documents yet; the original stays in the blob store, named by the audit trail)."""
    record(s, arrival.submitted_by or "system", "envelope.duplicate", envelope_id=first,
           detail={"channel": arrival.channel.value, "name": arrival.name[:500], "sha256": env.sha256,
                   "same_bytes": False, "message_id": message_id, "folded": env.id})
    record(s, arrival.submitted_by or "system", "envelope.folded", envelope_id=env.id,
           detail={"duplicate_of": first, "message_id": message_id})
    s.delete(env)
    s.commit()


def inline(ctx: Context) -> Dispatch:
    """Run the whole pipeline in this process (CLI import, tests, benchmarks)."""

    def run(envelope_id: str) -> None:
        run_inline(ctx, envelope_id)

    return run


def enqueue(ctx: Context) -> Dispatch:
    """Hand the envelope to the rq workers; if Redis is down the reconciler enqueues it later."""
    from redis.exceptions import RedisError

    from pipeline.jobs import enqueue_read, job_queue, shared_redis

    queue = job_queue(ctx.settings, shared_redis(ctx.settings))

    def run(envelope_id: str) -> None:
        try:
            enqueue_read(queue, envelope_id)
        except (RedisError, OSError) as exc:  # stored and committed: nothing is lost
            log.warning("could not enqueue %s now (%s); the reconciler will", envelope_id, exc)

    return run
