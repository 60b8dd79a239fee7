"""Work-item transitions as compare-and-set updates: a lost race is a Conflict, never a
silent double claim. Queue order: priority first, then time left to the deadline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mailroom.errors import Conflict, NotFound
from storage.audit import record
from storage.models import WorkItem, WorkItemState

OPEN = (WorkItemState.NEW, WorkItemState.CLAIMED, WorkItemState.ON_HOLD)


def queue_counts(session: Session) -> dict[str, dict[str, int]]:
    rows = session.execute(select(WorkItem.queue, WorkItem.state, func.count()).group_by(WorkItem.queue,
                                                                                          WorkItem.state))
    out: dict[str, dict[str, int]] = {}
    for queue, state, n in rows:
        out.setdefault(queue, {s.value: 0 for s in WorkItemState})[state] = n
    return out


def _transition(session: Session, item_id: int, expected: tuple[WorkItemState, ...], actor: str,
                action: str, now: datetime, **values: object) -> WorkItem:
    item = session.get(WorkItem, item_id)
    if item is None:
        raise NotFound(f"work item {item_id} does not exist")
    if item.state not in expected:
        raise Conflict(f"work item {item_id} is {item.state}; it must be {' or '.join(expected)} to {action}")
    result = session.execute(
        update(WorkItem)
        .where(WorkItem.id == item_id, WorkItem.version == item.version)
        .values(version=item.version + 1, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"work item {item_id} was changed by someone else; reload and try again")
    record(session, actor, f"work_item.{action}", document_id=item.document_id, work_item_id=item_id,
           detail={k: (v.value if hasattr(v, "value") else v) for k, v in values.items()})
    session.flush()
    session.refresh(item)
    return item


def claim(session: Session, item_id: int, agent: str, now: datetime) -> WorkItem:
    return _transition(session, item_id, (WorkItemState.NEW,), agent, "claimed", now,
                       state=WorkItemState.CLAIMED, assignee=agent)


def complete(session: Session, item_id: int, agent: str, now: datetime) -> WorkItem:
    item = session.get(WorkItem, item_id)
    if item is not None and item.state == WorkItemState.CLAIMED and item.assignee != agent:
        raise Conflict(f"work item {item_id} is claimed by another agent")
    return _transition(session, item_id, (WorkItemState.CLAIMED,), agent, "completed", now,
                       state=WorkItemState.DONE)


def next_item(session: Session, queue: str, agent: str, now: datetime, attempts: int = 5) -> WorkItem | None:
    """Claim the most urgent new item of a queue for ``agent``; None when the queue is empty."""
    for _ in range(attempts):
        item_id = session.scalars(
            select(WorkItem.id)
            .where(WorkItem.queue == queue, WorkItem.state == WorkItemState.NEW)
            .order_by(WorkItem.priority.desc(), WorkItem.sla_due.asc(), WorkItem.id.asc())
            .limit(1)
        ).first()
        if item_id is None:
            return None
        try:
            return claim(session, item_id, agent, now)
        except Conflict:
            session.rollback()
    return None
