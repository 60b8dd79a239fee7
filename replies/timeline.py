"""One chronological view of a case for agents and auditors: letters in, acknowledgements and replies out,
and the events of its clocks (started, warned, breached, dispatched, extended, held, resumed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ground.errors import NotFound
from storage.models import AuditEvent, Case, Document, Envelope, OutboundLetter, WorkItem

CLOCK_ACTIONS = ("sla.started", "sla.warning", "sla.breached", "sla.statutory_breached", "sla.case_clock_moved",
                 "work_item.dispatched", "work_item.on_hold", "work_item.resumed", "work_item.letter_extension",
                 "work_item.letter_acknowledgement", "work_item.reply_bounced", "work_item.reply_returned")


@dataclass
class Entry:
    at: datetime
    kind: str  # letter_in | letter_out | clock
    what: str  # the channel of a letter in, the kind of a letter out, the audit action of a clock event
    work_item_id: int | None
    document_id: str | None = None
    letter_id: str | None = None
    channel: str | None = None
    state: str | None = None
    actor: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def case_timeline(session: Session, case_id: int) -> list[Entry]:
    if session.get(Case, case_id) is None:
        raise NotFound(f"case {case_id} does not exist")
    rows = session.execute(select(WorkItem.id, Document.id, Envelope.received_at, Envelope.channel,
                                  Document.category, Document.language, WorkItem.state, Envelope.meta)
                           .join(Document, Document.id == WorkItem.document_id)
                           .join(Envelope, Envelope.id == Document.envelope_id)
                           .where(WorkItem.case_id == case_id)).all()
    entries = [Entry(at=received, kind="letter_in", what=channel, work_item_id=item_id, document_id=doc_id,
                     channel=channel, state=state,
                     detail={"category": category, "language": language,
                             "subject": str(((meta or {}).get("email") or {}).get("subject") or "")[:200]})
               for item_id, doc_id, received, channel, category, language, state, meta in rows]
    item_ids = [r[0] for r in rows]
    for letter in session.scalars(select(OutboundLetter).where(OutboundLetter.case_id == case_id)):
        entries.append(Entry(at=letter.dispatched_at or letter.created_at, kind="letter_out", what=letter.kind,
                             work_item_id=letter.work_item_id, letter_id=letter.id, channel=letter.channel,
                             state=letter.state, actor=letter.created_by,
                             detail={"subject": letter.subject, "delivered_at": letter.delivered_at.isoformat()
                                     if letter.delivered_at else None, "registered_number": letter.registered_number}))
    if item_ids:
        for ev in session.scalars(select(AuditEvent).where(AuditEvent.work_item_id.in_(item_ids),
                                                           AuditEvent.action.in_(CLOCK_ACTIONS))):
            keep = {k: v for k, v in (ev.detail or {}).items() if k in (
                "policy", "due", "statutory_due", "at", "channel", "letter_id", "reason", "statutory_met")}
            entries.append(Entry(at=ev.at, kind="clock", what=ev.action, work_item_id=ev.work_item_id,
                                 actor=ev.actor, detail=keep))
    order = {"letter_in": 0, "clock": 1, "letter_out": 2}
    return sorted(entries, key=lambda e: (e.at, order[e.kind]))
