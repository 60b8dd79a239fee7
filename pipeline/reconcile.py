"""The database is the record of truth: re-enqueue whatever Redis lost or never got."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rq import Queue
from sqlalchemy import select

from pipeline.jobs import enqueue_read, enqueue_route
from storage.db import session_scope
from storage.models import Document, DocumentState, Envelope, EnvelopeState


@dataclass
class Reconciled:
    envelopes: int = 0
    documents: int = 0


def reconcile(db_url: str, queue: Queue, now: datetime, grace: timedelta = timedelta(seconds=30)) -> Reconciled:
    """Enqueue reads for envelopes and routes for documents stuck longer than ``grace``."""
    cutoff = now - grace
    out = Reconciled()
    with session_scope(db_url) as s:
        envs = s.scalars(select(Envelope.id).where(Envelope.state == EnvelopeState.RECEIVED,
                                                   Envelope.updated_at < cutoff)).all()
        docs = s.scalars(select(Document.id).where(Document.state == DocumentState.READ,
                                                   Document.created_at < cutoff)).all()
    for env_id in envs:
        out.envelopes += enqueue_read(queue, env_id)
    for doc_id in docs:
        out.documents += enqueue_route(queue, doc_id)
    return out
