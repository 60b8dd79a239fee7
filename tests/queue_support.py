"""Builders for queue tests: real envelopes, documents and work items routed by the shipped rules."""

from __future__ import annotations

import hashlib
import itertools
from datetime import datetime

from sqlalchemy.orm import Session

from ground.records import Classification
from queues.cases import routed
from queues.routing import RuleSet, route
from queues.sla import SlaPolicies, compute_sla
from storage.models import Document, DocumentState, Envelope, WorkItem

_n = itertools.count(1)


def make_item(s: Session, rules: RuleSet, policies: SlaPolicies, received: datetime, *, category: str = "complaint",
              language: str = "pl", text: str = "", channel: str = "scan", entities: dict | None = None,
              segment: str = "individual", link: bool = True, now: datetime | None = None) -> WorkItem:
    """A document received at ``received``, classified as given, routed and timed like run_route does."""
    n = next(_n)
    env_id = f"env-{n}-{received.timestamp():.0f}"
    s.add(Envelope(id=env_id, channel=channel, source_name=f"{n}.pdf", content_type="application/pdf",
                   sha256=hashlib.sha256(env_id.encode()).hexdigest(), size=1,
                   received_at=received))
    doc = Document(id=f"doc-{env_id}", envelope_id=env_id, part_index=0, doc_index=0, part_sha256="0" * 64,
                   pages=1, text=text or f"letter number {n}", state=DocumentState.ROUTED, language=language,
                   category=category, confidence=0.9, segment=segment, entities=entities or {})
    s.add(doc)
    c = Classification(language=language, category=category, confidence=0.9, entities=entities or {},
                       segment=segment)
    r = route(c, channel, doc.text, rules)
    sla = compute_sla(received, category, language, r.queue, policies)
    item = WorkItem(document_id=doc.id, queue=r.queue, priority=r.priority, routing_rule=r.rule,
                    sla_policy=sla.policy, sla_due=sla.due, first_response_due=sla.first_response_due,
                    warn_at=sla.warn_at, created_at=received, updated_at=received)
    s.add(item)
    s.flush()
    if link:
        routed(s, item, policies, now or received)
    return item
