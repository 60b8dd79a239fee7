"""One way in for every channel (IMAP, SMTP/LMTP, hot folder, CLI import).

``receive`` sniffs the bytes, gathers what the channel knows (e-mail headers, fax TIFF tags,
page count) into the envelope's meta, and accepts the arrival: the original is stored and
fsynced and the envelope row committed before it returns. Only then may a channel acknowledge
(answer 250, move the IMAP message, move the file to ``done/``). Input that cannot be read at
all (empty, unknown type) is still stored, and quarantined with its reason at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ground.errors import MailroomError
from ground.records import Channel
from intake.accept import Accepted, Arrival, accept
from intake.describe import describe
from intake.parts import guess_channel
from ocr import sniff_type
from pipeline.context import Context
from pipeline.runner import quarantine, run_inline
from storage.db import session_scope

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
    """Store and commit one arrival; then hand a new, readable one to ``dispatch``."""
    problem: MailroomError | None = None
    try:
        ctype = sniff_type(data, name)
    except MailroomError as exc:
        ctype, problem = "application/octet-stream", exc
    if channel is None:
        channel = guess_channel(data, ctype) if problem is None else Channel.UPLOAD
    info = {**(meta or {}), **describe(data, ctype)}
    message_id = (info.get("email") or {}).get("message_id")
    arrival = Arrival(data=data, name=name, channel=channel, content_type=ctype, received_at=now,
                      submitted_by=submitted_by, meta=info, message_id=message_id,
                      idempotency_key=idempotency_key)
    with session_scope(ctx.db_url) as s:
        result = accept(arrival, s, ctx.blobs)
    new = isinstance(result, Accepted)
    env_id = result.envelope_id if isinstance(result, Accepted) else result.of
    if problem is not None:
        if new:
            quarantine(ctx, env_id, problem)
        return Received(env_id, not new, ctype, problem.reason, problem.http_status)
    if new and dispatch is not None:
        dispatch(env_id)
    return Received(env_id, not new, ctype)


def inline(ctx: Context) -> Dispatch:
    """Run the whole pipeline in this process (CLI import, tests, benchmarks)."""

    def run(envelope_id: str) -> None:
        run_inline(ctx, envelope_id)

    return run


def enqueue(ctx: Context) -> Dispatch:
    """Hand the envelope to the rq workers; if Redis is down the reconciler enqueues it later."""
    from redis.exceptions import RedisError

    from pipeline.jobs import enqueue_read, job_queue

    queue = job_queue(ctx.settings)

    def run(envelope_id: str) -> None:
        try:
            enqueue_read(queue, envelope_id)
        except (RedisError, OSError) as exc:  # stored and committed: nothing is lost
            log.warning("could not enqueue %s now (%s); the reconciler will", envelope_id, exc)

    return run
