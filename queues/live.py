"""Live delivery: which outbox rows an agent should see. The outbox is written in the same
transaction as the change it reports, so any process that can read the database can deliver it
(the SSE endpoint polls it; no broker in between)."""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass
class Cursor:
    """Where a stream is: the highest id delivered, and the lower ids not seen yet ("holes"). On PostgreSQL an id
    is taken from the sequence before its transaction commits, so a later id can become visible first; a hole is
    looked for again for ``HOLE_SECONDS`` (then it was a rolled-back transaction) so its event is not lost."""

    after: int
    holes: dict[int, float] = field(default_factory=dict)  # id → when it was first missed (monotonic seconds)


HOLE_SECONDS = 10.0
MAX_HOLES = 1000


def poll(session: Session, agent: str, cursor: Cursor, now: float) -> list[LiveEvent]:
    """The events for ``agent`` after the cursor, and any that filled a hole; the cursor moves on."""
    rows = list(session.scalars(select(OutboxEvent).where(OutboxEvent.id > cursor.after)
                                .order_by(OutboxEvent.id).limit(BATCH)))
    late = list(session.scalars(select(OutboxEvent).where(OutboxEvent.id.in_(list(cursor.holes))))) \
        if cursor.holes else []
    for ev in late:
        cursor.holes.pop(ev.id, None)
    if rows:
        seen = {ev.id for ev in rows}
        missing = [i for i in range(cursor.after + 1, rows[-1].id) if i not in seen][:MAX_HOLES]
        for i in missing:
            cursor.holes.setdefault(i, now)
        cursor.after = rows[-1].id
    for i, since in list(cursor.holes.items()):
        if now - since > HOLE_SECONDS:
            del cursor.holes[i]
    if not rows and not late:
        return []
    queues = agent_scope(session, agent).queues
    return [LiveEvent(ev.id, ev.kind, {"at": ev.at.isoformat(), **ev.payload})
            for ev in sorted([*late, *rows], key=lambda e: e.id) if visible(ev, agent, queues)]
