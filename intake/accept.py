"""Accepting an arrival: the original is stored durably, then the envelope row committed.

Only after both does intake answer "accepted". Identical bytes or a repeated idempotency
key are recognised as a duplicate of what is already there, never a second item.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailroom.records import Channel
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


@dataclass(frozen=True)
class Accepted:
    envelope_id: str
    sha256: str


@dataclass(frozen=True)
class Duplicate:
    of: str  # the envelope id already holding these bytes or this idempotency key
    sha256: str


def _existing(session: Session, sha: str, key: str | None) -> Envelope | None:
    cond = Envelope.sha256 == sha
    if key:
        cond = or_(cond, Envelope.idempotency_key == key)
    return session.scalars(select(Envelope).where(cond).order_by(Envelope.received_at)).first()


def accept(arrival: Arrival, session: Session, blobs: BlobStore) -> Accepted | Duplicate:
    """Store the original (fsynced), then commit its envelope. Safe to call twice."""
    sha = sha256_hex(arrival.data)
    found = _existing(session, sha, arrival.idempotency_key)
    if found is not None:
        return Duplicate(of=found.id, sha256=found.sha256)
    blobs.put(arrival.data)
    env = Envelope(
        id=str(uuid.uuid4()),
        received_at=arrival.received_at,
        channel=arrival.channel.value,
        source_name=arrival.name[:500],
        content_type=arrival.content_type,
        sha256=sha,
        size=len(arrival.data),
        idempotency_key=arrival.idempotency_key,
        state=EnvelopeState.RECEIVED,
        meta=arrival.meta,
        submitted_by=arrival.submitted_by,
    )
    session.add(env)
    record(session, arrival.submitted_by or "system", "envelope.accepted", envelope_id=env.id,
           detail={"channel": env.channel, "sha256": sha, "size": env.size, "name": env.source_name})
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        found = _existing(session, sha, arrival.idempotency_key)
        if found is None:
            raise
        return Duplicate(of=found.id, sha256=found.sha256)
    return Accepted(envelope_id=env.id, sha256=sha)
