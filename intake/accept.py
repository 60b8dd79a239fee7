"""Accepting an arrival: the original is stored durably, then the envelope row committed.

Only after both does intake answer "accepted". Identical bytes or a repeated idempotency
key are recognised as a duplicate of what is already there, never a second item.

An idempotency key belongs to its submitter: it is stored and matched as :func:`scoped_key` (the
submitter's name, then the key), so one station cannot claim another's key in advance and swallow
its upload.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ground.records import Channel
from storage.audit import record
from storage.blobs import BlobStore, sha256_hex
from storage.models import Envelope, EnvelopeState


@dataclass(frozen=True)
class Arrival:
    data: bytes = field(repr=False)
    name: str
    channel: Channel
    content_type: str
    received_at: datetime
    idempotency_key: str | None = None
    submitted_by: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None  # an e-mail's Message-ID: the same message by another route is a duplicate


@dataclass(frozen=True)
class Accepted:
    envelope_id: str
    sha256: str


@dataclass(frozen=True)
class Duplicate:
    of: str  # the envelope id already holding these bytes or this idempotency key
    sha256: str


def scoped_key(submitted_by: str | None, key: str | None) -> str | None:
    """The stored form of ``submitted_by``'s idempotency ``key``: ``<length>:<submitter>:<key>`` (the length
    makes it unambiguous whatever either contains)."""
    if not key:
        return None
    who = submitted_by or "system"
    return f"{len(who)}:{who}:{key}"


def _existing(session: Session, sha: str, key: str | None, message_id: str | None = None) -> Envelope | None:
    """The envelope these bytes, this (already scoped) idempotency key or this Message-ID name, if any."""
    cond = Envelope.sha256 == sha
    if key:
        cond = or_(cond, Envelope.idempotency_key == key)
    if message_id:
        cond = or_(cond, Envelope.message_id == message_id)
    return session.scalars(select(Envelope).where(cond).order_by(Envelope.received_at)).first()


def accept(arrival: Arrival, session: Session, blobs: BlobStore) -> Accepted | Duplicate:
    """Store the original (fsynced), then commit its envelope. Safe to call twice."""
    sha = sha256_hex(arrival.data)
    message_id = arrival.message_id[:500] if arrival.message_id else None
    key = scoped_key(arrival.submitted_by, arrival.idempotency_key)
    found = _existing(session, sha, key, message_id)
    if found is not None:
        if found.sha256 != sha:  # same Message-ID or key, other bytes: keep them too (audit names the blob)
            blobs.put(arrival.data)
        return _duplicate(session, arrival, found, sha)
    blobs.put(arrival.data)
    env = Envelope(
        id=str(uuid.uuid4()),
        received_at=arrival.received_at,
        channel=arrival.channel.value,
        source_name=arrival.name[:500],
        content_type=arrival.content_type,
        sha256=sha,
        size=len(arrival.data),
        idempotency_key=key,
        state=EnvelopeState.RECEIVED,
        meta=arrival.meta,
        submitted_by=arrival.submitted_by,
        message_id=message_id,
    )
    try:  # another process may commit the same bytes, key or Message-ID between the check and here
        session.add(env)
        record(session, arrival.submitted_by or "system", "envelope.accepted", envelope_id=env.id,
               detail={"channel": env.channel, "sha256": sha, "size": env.size, "name": env.source_name})
        session.commit()  # (the audit record's flush already inserts the envelope: its conflict surfaces there)
    except IntegrityError:
        session.rollback()
        found = _existing(session, sha, key, message_id)
        if found is None:
            raise
        return _duplicate(session, arrival, found, sha)
    return Accepted(envelope_id=env.id, sha256=sha)


def _duplicate(session: Session, arrival: Arrival, found: Envelope, sha: str) -> Duplicate:
    """Recorded in the audit trail of the first envelope (committed with the caller's session)."""
    record(session, arrival.submitted_by or "system", "envelope.duplicate", envelope_id=found.id,
           detail={"channel": arrival.channel.value, "name": arrival.name[:500], "sha256": sha,
                   "same_bytes": sha == found.sha256, "message_id": arrival.message_id})
    return Duplicate(of=found.id, sha256=found.sha256)
