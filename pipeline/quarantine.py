"""Quarantine and batch status: what a supervisor sees and does, shared by the CLI and the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ground.errors import Conflict, MailroomError, NotFound
from intake.describe import describe
from ocr import sniff_type
from pipeline import chunks
from pipeline.context import Context
from storage.audit import record
from storage.db import session_scope
from storage.models import AuditEvent, Envelope, EnvelopeState

HELD = (EnvelopeState.QUARANTINED, EnvelopeState.NEEDS_HUMAN)


def _summary(env: Envelope) -> dict[str, Any]:
    return {"id": env.id, "state": env.state, "reason": env.error, "channel": env.channel,
            "source_name": env.source_name, "content_type": env.content_type, "size": env.size,
            "received_at": env.received_at.isoformat(), "attempts": env.attempts}


def list_quarantined(session: Session, limit: int = 100, offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
    """Held envelopes, oldest first (they wait longest), and how many there are in all."""
    where = Envelope.state.in_([s.value for s in HELD])
    total = session.scalar(select(func.count()).select_from(Envelope).where(where)) or 0
    rows = session.scalars(select(Envelope).where(where).order_by(Envelope.received_at, Envelope.id)
                           .limit(limit).offset(offset)).all()
    return total, [_summary(e) for e in rows]


def show(session: Session, envelope_id: str) -> dict[str, Any]:
    """One envelope with its reason, channel metadata and audit trail."""
    env = session.get(Envelope, envelope_id)
    if env is None:
        raise NotFound(f"Envelope {envelope_id} does not exist.")
    events = session.scalars(select(AuditEvent).where(AuditEvent.envelope_id == envelope_id)
                             .order_by(AuditEvent.at, AuditEvent.id)).all()
    return {**_summary(env), "sha256": env.sha256, "meta": env.meta,
            "events": [{"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "detail": e.detail}
                       for e in events]}


def retry(ctx: Context, envelope_id: str, actor: str, now: datetime) -> None:
    """Put a held envelope back to ``received`` (type sniffed again) so the pipeline reads it once more.

    The caller then runs it inline or enqueues it. Raises Conflict when it is not held.
    """
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, envelope_id)
        if env is None:
            raise NotFound(f"Envelope {envelope_id} does not exist.")
        if env.state not in HELD:
            raise Conflict(f"Envelope {envelope_id} is {env.state}, not in quarantine; nothing to retry.")
        data = ctx.blobs.get(env.sha256)
        try:
            ctype = sniff_type(data, env.source_name)
        except MailroomError:
            ctype = env.content_type
        if ctype != env.content_type:
            env.content_type = ctype
            env.meta = {**(env.meta or {}), **describe(data, ctype)}
        previous = env.error
        env.state, env.error, env.attempts, env.updated_at = EnvelopeState.RECEIVED, None, 0, now
        record(s, actor, "envelope.retry", envelope_id=envelope_id,
               detail={"previous_reason": previous, "content_type": ctype})


def batch_status(session: Session, envelope_id: str) -> dict[str, Any]:
    """Pages received, documents found and each document's state (and work item)."""
    env = session.get(Envelope, envelope_id)
    if env is None:
        raise NotFound(f"Envelope {envelope_id} does not exist.")
    docs = []
    for d in sorted(env.documents, key=lambda d: (d.part_index, d.doc_index)):
        if d.superseded_by is not None:  # replaced by a mailroom correction (pipeline/corrections.py)
            continue
        item = d.work_item
        docs.append({"id": d.id, "part": d.part_name, "first_page": d.first_page, "pages": d.pages,
                     "blank_pages": d.blank_pages, "state": d.state, "category": d.category,
                     "language": d.language,
                     "work_item": None if item is None else {"id": item.id, "queue": item.queue,
                                                             "state": item.state,
                                                             "sla_due": item.sla_due.isoformat()}})
    pages = (env.meta or {}).get("pages_received")
    reading = chunks.progress(session, env.id)  # a long file read in page chunks, not finished
    return {"envelope_id": env.id, "state": env.state, "reason": env.error, "channel": env.channel,
            "source_name": env.source_name, "submitted_by": env.submitted_by,
            "received_at": env.received_at.isoformat(), "pages_received": pages,
            "documents_found": len(docs), "documents": docs, "reading": reading}
