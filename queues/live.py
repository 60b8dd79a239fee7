"""Live delivery: which outbox rows an agent should see. The outbox is written in the same
transaction as the change it reports, so any process that can read the database can deliver it
(the SSE endpoint polls it; no broker in between)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from queues.work import agent_scope
from storage.models import OutboxEvent

BATCH = 200


@dataclass(frozen=True)
class LiveEvent:
    id: int
    kind: str
    data: dict[str, Any]


def latest_id(session: Session) -> int:
    return int(session.scalar(select(func.max(OutboxEvent.id))) or 0)


def visible(ev: OutboxEvent, agent: str, queues: list[str] | None) -> bool:
    """New items and take-overs in the agent's queues (not their own claims); SLA warnings,
    breaches and copies of a case addressed to them, or to their queues when unassigned."""
    in_mine = queues is None or ev.queue in queues
    if ev.recipient is not None:
        return ev.recipient == agent
    if ev.kind == "item.taken":
        return in_mine and ev.actor != agent
    return in_mine


def poll(session: Session, agent: str, after: int) -> tuple[list[LiveEvent], int]:
    """Events after id ``after`` for ``agent`` and the id to continue from."""
    rows = list(session.scalars(select(OutboxEvent).where(OutboxEvent.id > after)
                                .order_by(OutboxEvent.id).limit(BATCH)))
    if not rows:
        return [], after
    queues = agent_scope(session, agent).queues
    out = [LiveEvent(ev.id, ev.kind, {"at": ev.at.isoformat(), **ev.payload}) for ev in rows
           if visible(ev, agent, queues)]
    return out, rows[-1].id
