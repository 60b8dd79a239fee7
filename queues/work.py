"""Work-item lifecycle as compare-and-set transitions: a lost race is a Conflict, never a silent
double claim. Every transition is an audit event (actor, time, what changed) and, where an agent
should see it live, an outbox row written in the same transaction.

States: new → claimed (lease, renewable; an expired lease returns the item) → on_hold (waiting
for the customer: the internal SLA clock is paused) → done (with an outcome code). Transfer,
reclassify and escalation move an item to another queue. Queue order: priority first, then the
binding deadline (the earlier of the internal target and the statutory deadline).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Update, func, insert, select, update
from sqlalchemy.orm import Session

from classifiers.training import record_correction
from ground.errors import Conflict, InvalidRequest, NotFound
from ground.records import CATEGORIES, Classification
from queues.routing import RuleSet, route
from queues.sla import SlaPolicies, clocks
from storage.audit import record
from storage.db import begin_write
from storage.models import (
    AgentSkill,
    Case,
    Document,
    OutboxEvent,
    QueueMember,
    Role,
    User,
    WorkItem,
    WorkItemState,
)

log = logging.getLogger(__name__)

OPEN = (WorkItemState.NEW, WorkItemState.CLAIMED, WorkItemState.ON_HOLD)
LEASE = timedelta(minutes=15)
OUTCOMES: tuple[str, ...] = ("resolved", "answered", "rejected", "no_action", "forwarded", "duplicate",
                             "duplicate_of_case")
DISPATCH_CHANNELS: tuple[str, ...] = ("post", "email")
FIRST_RESPONSE_CHANNELS: tuple[str, ...] = ("phone", "chat", "in_person", "other")
DEFAULT_CAPACITY = 10


# ---------------------------------------------------------------- helpers


def _jsonable(v: object) -> object:
    if isinstance(v, datetime):
        return v.astimezone(UTC).isoformat()
    if hasattr(v, "value"):
        return v.value  # type: ignore[attr-defined]
    return v


def _iso(v: datetime) -> str:
    return v.astimezone(UTC).isoformat()


def emit(session: Session, kind: str, item: WorkItem, now: datetime, *, actor: str = "system",
         recipient: str | None = None, **payload: Any) -> None:
    """Queue a live notification in the caller's transaction (delivered by ``GET /api/events``)."""
    body = {"item_id": item.id, "queue": item.queue, "priority": item.priority, "state": str(item.state),
            "sla_due": _iso(item.sla_due), **{k: _jsonable(v) for k, v in payload.items()}}
    session.add(OutboxEvent(at=now, kind=kind, queue=item.queue, work_item_id=item.id, actor=actor,
                            recipient=recipient, payload=body))


def queue_counts(session: Session) -> dict[str, dict[str, int]]:
    rows = session.execute(select(WorkItem.queue, WorkItem.state, func.count()).group_by(WorkItem.queue,
                                                                                          WorkItem.state))
    out: dict[str, dict[str, int]] = {}
    for queue, state, n in rows:
        out.setdefault(queue, {s.value: 0 for s in WorkItemState})[state] = n
    return out


def _get(session: Session, item_id: int) -> WorkItem:
    begin_write(session)  # every caller goes on to write: SQLite takes the write lock up front
    item = session.get(WorkItem, item_id)
    if item is None:
        raise NotFound(f"work item {item_id} does not exist")
    return item


def transition(session: Session, item_id: int, expected: tuple[WorkItemState, ...], actor: str,
                action: str, now: datetime, *, detail: dict[str, Any] | None = None, **values: object) -> WorkItem:
    item = _get(session, item_id)
    if item.state not in expected:
        raise Conflict(f"work item {item_id} is {item.state}; it must be {' or '.join(expected)} to {action}")
    changed = session.scalars(
        update(WorkItem)
        .where(WorkItem.id == item_id, WorkItem.version == item.version)
        .values(version=item.version + 1, updated_at=now, **values)
        .returning(WorkItem)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).first()
    if changed is None:
        raise Conflict(f"work item {item_id} was changed by someone else; reload and try again")
    info = {k: _jsonable(v) for k, v in values.items() if k not in ("holds", "flags", "dispatch")}
    record(session, actor, f"work_item.{action}", document_id=changed.document_id, work_item_id=item_id,
           detail={**info, **(detail or {})})
    return changed


def _owned(session: Session, item_id: int, agent: str, action: str) -> WorkItem:
    """The item, if ``agent`` may act on it as on a claim: nobody else has claimed it or holds it on hold
    (the scheduler, actor ``system``, may act on any item)."""
    item = _get(session, item_id)
    if (agent != "system" and item.assignee not in (None, agent)
            and item.state in (WorkItemState.CLAIMED, WorkItemState.ON_HOLD)):
        raise Conflict(f"work item {item_id} is {item.state.replace('_', ' ')} by another agent; only they "
                       f"may {action} it")
    return item


def _pauses(holds: Sequence[Sequence[str | None]], now: datetime) -> list[tuple[datetime, datetime]]:
    """Stored hold intervals; an open hold counts up to ``now``."""
    return [(datetime.fromisoformat(a), datetime.fromisoformat(b) if b else now) for a, b in holds
            if a is not None]


def sla_values(session: Session, item: WorkItem, policies: SlaPolicies, now: datetime, *,
               queue: str | None = None, holds: Sequence[Sequence[str | None]] | None = None,
               dispatched: bool | None = None) -> dict[str, object]:
    """Column values for an item's clocks, recomputed from receipt, holds, case and dispatch.

    While on hold (an open pause) the internal clock is stopped, so its due time is what it was
    when the hold began plus nothing: it is recomputed on resume; the statutory clock runs on.
    """
    doc = item.document
    received = doc.envelope.received_at
    statutory_from = received
    if item.case_id is not None:
        case = session.get(Case, item.case_id)
        if case is not None and case.first_received_at < received:
            statutory_from = case.first_received_at
    hold_list = item.holds if holds is None else holds
    c = clocks(received, doc.category or "other", doc.language or "und", queue or item.queue, policies,
               _pauses(hold_list, now), statutory_from=statutory_from, registered_at=item.registered_at,
               extended=item.extended_at is not None)
    is_dispatched = item.dispatched_at is not None if dispatched is None else dispatched
    b = c.binding(dispatched=is_dispatched)
    st = c.statutory
    return {"sla_policy": b.policy, "sla_due": b.due, "warn_at": b.warn_at,
            "first_response_due": b.first_response_due, "internal_due": c.internal.due,
            "statutory_rule": st.rule if st else None, "statutory_due": st.due if st else None,
            "statutory_warn_at": st.warn_at if st else None}


# ---------------------------------------------------------------- claim, lease, complete




def claim(session: Session, item_id: int, agent: str, now: datetime, lease: timedelta = LEASE, *,
          capacity: int | None = None) -> WorkItem:
    """Take one item by its id. ``capacity``: how many claimed items the agent may hold at once (their skills'
    capacity: a direct claim is bound like the next item)."""
    if capacity is not None:
        begin_write(session)
        held = session.scalar(select(func.count()).select_from(_T).where(
            _T.c.assignee == agent, _T.c.state == WorkItemState.CLAIMED.value, _T.c.id != item_id)) or 0
        if held >= capacity:
            raise Conflict(f"{agent} already works {held} items, their capacity; complete or release one first")
    item = transition(session, item_id, (WorkItemState.NEW,), agent, "claimed", now,
                       state=WorkItemState.CLAIMED, assignee=agent, claimed_until=now + lease)
    emit(session, "item.taken", item, now, actor=agent, assignee=agent)
    return item


def renew(session: Session, item_id: int, agent: str, now: datetime, lease: timedelta = LEASE) -> WorkItem:
    """Extend the lease of an item the agent holds (an agent still working keeps it)."""
    item = _owned(session, item_id, agent, "renew")
    if item.state == WorkItemState.CLAIMED and item.claimed_until is not None and item.claimed_until < now:
        raise Conflict(f"the lease on work item {item_id} expired at {_iso(item.claimed_until)}; claim it again")
    return transition(session, item_id, (WorkItemState.CLAIMED,), agent, "lease_renewed", now,
                       claimed_until=now + lease)


def assign(session: Session, item_id: int, actor: str, now: datetime, to: str, reason: str,
           lease: timedelta = LEASE) -> WorkItem:
    """Hand an open item to a named colleague, with a reason: it is claimed for them (a new lease) and they are
    told at once. An item claimed or held by someone else can be handed over only by that person (or by the
    scheduler); a colleague must be an active agent of the item's queue, or a supervisor."""
    if not reason.strip():
        raise InvalidRequest("say why the item is handed over (the reason goes into the audit trail)")
    user = session.scalars(select(User).where(User.username == to, User.active.is_(True))).first()
    if user is None or user.role not in (Role.AGENT.value, Role.SUPERVISOR.value):
        raise InvalidRequest(f"{to!r} is not an active agent or supervisor")
    item = _owned(session, item_id, actor, "hand over")
    if user.role == Role.AGENT.value and session.scalar(select(QueueMember.queue).where(
            QueueMember.user_id == user.id, QueueMember.queue == item.queue)) is None:
        raise InvalidRequest(f"{to} does not work the queue {item.queue}; add them to it or transfer the item")
    previous = item.assignee
    state = WorkItemState.ON_HOLD if item.state == WorkItemState.ON_HOLD else WorkItemState.CLAIMED
    item = transition(session, item_id, OPEN, actor, "assigned", now,
                       detail={"to": to, "from": previous, "reason": reason[:500]}, state=state, assignee=to,
                       claimed_until=None if state == WorkItemState.ON_HOLD else now + lease)
    emit(session, "item.assigned", item, now, actor=actor, recipient=to, reason=reason[:200])
    return item


def record_first_response(session: Session, item_id: int, agent: str, now: datetime, *, how: str,
                          at: datetime | None = None, note: str = "") -> WorkItem:
    """A first answer given outside Mailroom's letters (a phone call, a chat): the first-response clock stops at
    ``at`` (default now). Letters out record it themselves (replies.service)."""
    if how not in FIRST_RESPONSE_CHANNELS:
        raise InvalidRequest(f"how must be one of {', '.join(FIRST_RESPONSE_CHANNELS)}, got {how!r}")
    when = at or now
    if when > now:
        raise InvalidRequest("the first response cannot be in the future")
    item = _owned(session, item_id, agent, "record the first response of")
    if item.first_response_at is not None:
        raise Conflict(f"work item {item_id} already had its first response at {_iso(item.first_response_at)}")
    return transition(session, item_id, OPEN, agent, "first_response", now,
                       detail={"how": how, "at": _iso(when), "note": note[:300]}, first_response_at=when)


def release(session: Session, item_id: int, agent: str, now: datetime) -> WorkItem:
    """The agent gives the item back to its queue."""
    _owned(session, item_id, agent, "release")
    item = transition(session, item_id, (WorkItemState.CLAIMED,), agent, "released", now,
                       state=WorkItemState.NEW, assignee=None, claimed_until=None)
    emit(session, "item.new", item, now, actor=agent)
    return item


def expire_leases(session: Session, now: datetime) -> list[int]:
    """Sweeper: claimed items whose lease ran out go back to their queue. Returns their ids."""
    ids = list(session.scalars(select(WorkItem.id).where(WorkItem.state == WorkItemState.CLAIMED,
                                                         WorkItem.claimed_until < now)))
    returned = []
    for item_id in ids:
        item = _get(session, item_id)
        try:
            item = transition(session, item_id, (WorkItemState.CLAIMED,), "system", "lease_expired", now,
                               detail={"was_assignee": item.assignee}, state=WorkItemState.NEW,
                               assignee=None, claimed_until=None)
        except Conflict:  # renewed or completed meanwhile
            continue
        emit(session, "item.new", item, now)
        returned.append(item_id)
    return returned


def complete(session: Session, item_id: int, agent: str, now: datetime, outcome: str = "resolved") -> WorkItem:
    """Close an item the agent holds: one conditional UPDATE; the precise error only when it misses."""
    if outcome not in OUTCOMES:
        raise InvalidRequest(f"unknown outcome {outcome!r}; use one of: {', '.join(OUTCOMES)}")
    begin_write(session)
    item = session.scalars(
        update(WorkItem).where(_T.c.id == item_id, _T.c.state == WorkItemState.CLAIMED.value, _T.c.assignee == agent)
        .values(state=WorkItemState.DONE.value, outcome=outcome, claimed_until=None, version=WorkItem.version + 1,
                updated_at=now)
        .returning(WorkItem).execution_options(synchronize_session=False),
        execution_options={"populate_existing": True}).first()
    if item is None:
        item = _owned(session, item_id, agent, "complete")
        raise Conflict(f"work item {item_id} is {item.state}; it must be claimed to complete")
    record(session, agent, "work_item.completed", document_id=item.document_id, work_item_id=item_id,
           detail={"state": WorkItemState.DONE.value, "outcome": outcome, "claimed_until": None})
    return item


# ---------------------------------------------------------------- hold, transfer, reclassify, escalate


def hold(session: Session, item_id: int, agent: str, now: datetime, reason: str = "") -> WorkItem:
    """Waiting for the customer: the internal SLA clock pauses from ``now``."""
    item = _owned(session, item_id, agent, "put on hold")
    holds = [*item.holds, [_iso(now), None]]
    return transition(session, item_id, (WorkItemState.CLAIMED,), agent, "on_hold", now,
                       detail={"reason": reason, "sla": "paused"}, state=WorkItemState.ON_HOLD,
                       claimed_until=None, holds=holds)


def resume(session: Session, item_id: int, actor: str, now: datetime, policies: SlaPolicies,
           lease: timedelta = LEASE) -> WorkItem:
    """The customer answered: the pause closes, due times move out by the paused open time, and
    the item returns to the agent who held it (claimed, new lease)."""
    item = _owned(session, item_id, actor, "resume")
    holds = [list(h) for h in item.holds]
    if holds and holds[-1][1] is None:
        holds[-1][1] = _iso(now)
    values = sla_values(session, item, policies, now, holds=holds)
    state = WorkItemState.CLAIMED if item.assignee else WorkItemState.NEW
    item = transition(session, item_id, (WorkItemState.ON_HOLD,), actor, "resumed", now,
                       detail={"sla": "resumed"}, state=state, holds=holds,
                       claimed_until=now + lease if item.assignee else None, **values)
    if state == WorkItemState.NEW:
        emit(session, "item.new", item, now, actor=actor)
    return item


def transfer(session: Session, item_id: int, actor: str, now: datetime, to_queue: str, rules: RuleSet,
             policies: SlaPolicies, *, priority: int | None = None, reason: str = "",
             action: str = "transferred") -> WorkItem:
    """Move an open item to another queue, unassigned; its internal target follows the new queue."""
    try:
        rules.queue(to_queue)
    except KeyError:
        raise InvalidRequest(f"there is no queue {to_queue!r}; use one of: "
                             f"{', '.join(q.id for q in rules.queues)}") from None
    item = _get(session, item_id)
    if item.state == WorkItemState.CLAIMED and item.assignee != actor and action == "transferred":
        raise Conflict(f"work item {item_id} is claimed by another agent; only they may transfer it")
    holds = [list(h) for h in item.holds]
    if holds and holds[-1][1] is None:
        holds[-1][1] = _iso(now)
    values = sla_values(session, item, policies, now, queue=to_queue, holds=holds)
    item = transition(session, item_id, OPEN, actor, action, now,
                       detail={"from_queue": item.queue, "reason": reason}, queue=to_queue,
                       priority=item.priority if priority is None else priority, state=WorkItemState.NEW,
                       assignee=None, claimed_until=None, holds=holds, **values)
    emit(session, "item.new", item, now, actor=actor)
    return item


def reclassify(session: Session, item_id: int, actor: str, now: datetime, category: str, rules: RuleSet,
               policies: SlaPolicies, *, segment: str | None = None) -> WorkItem:
    """A person corrects the category: the document is re-routed by the rules and the correction
    is offered to training."""
    if category not in CATEGORIES:
        raise InvalidRequest(f"unknown category {category!r}; use one of: {', '.join(CATEGORIES)}")
    item = _owned(session, item_id, actor, "reclassify")
    doc = item.document
    old = doc.category
    c = Classification(language=doc.language or "und", category=category, confidence=1.0,
                       entities=doc.entities or {}, segment=segment or doc.segment or "individual")
    decision = route(c, doc.envelope.channel, doc.text, rules)
    doc.category, doc.confidence, doc.segment = category, 1.0, c.segment
    doc.reasons = [*doc.reasons, f"reclassified by {actor} from {old!r} to {category!r}"]
    session.flush()
    item = transfer(session, item_id, actor, now, decision.queue, rules, policies, priority=decision.priority,
                    reason=f"reclassified {old} → {category}; {'; '.join(decision.reasons)}",
                    action="reclassified")
    session.execute(update(WorkItem).where(WorkItem.id == item_id).values(routing_rule=decision.rule)
                    .execution_options(synchronize_session=False))
    record_correction(session, doc.id, category, actor, now)  # a training example for the next model
    record(session, actor, "document.reclassified", document_id=doc.id, work_item_id=item_id,
           detail={"from": old, "to": category, "rule": decision.rule, "training": True})
    session.refresh(item)
    return item


def escalate(session: Session, item_id: int, actor: str, now: datetime, policies: SlaPolicies, rules: RuleSet,
             reason: str, *, action: str = "escalated") -> WorkItem:
    """Move an item to the escalation queue with its priority raised (manual or at breach)."""
    item = _owned(session, item_id, actor, "escalate")
    esc = policies.escalation
    flags = sorted({*item.flags, "escalated"})
    if item.queue == esc.queue:
        return transition(session, item_id, OPEN, actor, action, now, detail={"reason": reason}, flags=flags)
    try:
        rules.queue(esc.queue)
    except KeyError:
        raise InvalidRequest(f"the escalation queue {esc.queue!r} of sla.yaml is not in routing.yaml") from None
    values = sla_values(session, item, policies, now, queue=esc.queue)
    item = transition(session, item_id, OPEN, actor, action, now,
                       detail={"from_queue": item.queue, "reason": reason}, queue=esc.queue,
                       priority=item.priority + esc.raise_priority, flags=flags, **values)
    emit(session, "item.new", item, now, actor=actor, escalated=True)
    return item


def dispatch(session: Session, item_id: int, actor: str, now: datetime, policies: SlaPolicies, *, channel: str,
             at: datetime | None = None, tracking_number: str | None = None,
             queues: Sequence[str] | None = None, letter_id: str | None = None) -> WorkItem:
    """The reply was sent: the statutory clock of the item (and of the open items of its case in ``queues``,
    the actor's scope; None: every queue) stops at ``at``, which lies between the letter's receipt and now.
    ``letter_id`` names the outbound letter whose dispatch this is (replies.service: the relay's acceptance,
    the post batch's hand-over or the proven delivery); the mailroom that hands a batch over acts for the agent,
    so a letter's dispatch does not need the item's claim."""
    if channel not in DISPATCH_CHANNELS:
        raise InvalidRequest(f"dispatch channel must be one of {', '.join(DISPATCH_CHANNELS)}, got {channel!r}")
    if channel == "post" and not (tracking_number or "").strip() and not letter_id:
        raise InvalidRequest("a reply sent by post needs its tracking number (nadanie / podací číslo)")
    sent = at or now
    if sent > now:
        raise InvalidRequest("the dispatch time is in the future")
    item = _get(session, item_id) if letter_id else _owned(session, item_id, actor, "dispatch the reply to")
    received = item.document.envelope.received_at
    if received.tzinfo is None:
        received = received.replace(tzinfo=UTC)
    if sent < received:
        raise InvalidRequest(f"the dispatch time {_iso(sent)} is before the letter was received ({_iso(received)})")
    if item.dispatched_at is not None:
        raise Conflict(f"the reply to work item {item_id} was already dispatched at {_iso(item.dispatched_at)}")
    targets = [item]
    if item.case_id is not None:
        same_case = select(WorkItem).where(WorkItem.case_id == item.case_id, WorkItem.dispatched_at.is_(None))
        if queues is not None:
            same_case = same_case.where(WorkItem.queue.in_(list(queues)))
        targets = list(session.scalars(same_case))
    for t in targets:
        met = t.statutory_due is None or sent <= t.statutory_due
        values = sla_values(session, t, policies, now, dispatched=True)
        transition(session, t.id, (*OPEN, WorkItemState.DONE), actor, "dispatched", now,
                    detail={"channel": channel, "tracking_number": tracking_number, "at": _iso(sent),
                            "statutory_met": met, "case_id": t.case_id},
                    dispatched_at=sent, dispatch={"channel": channel, "tracking_number": tracking_number,
                                                  "by": actor, "at": _iso(sent), "letter_id": letter_id},
                    **values)
    session.refresh(item)
    return item


# ---------------------------------------------------------------- who works what, next item


@dataclass
class AgentScope:
    queues: list[str] | None  # None: every queue (supervisors, admins); an agent works only their member queues
    languages: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)
    capacity: int = DEFAULT_CAPACITY


def agent_scope(session: Session, agent: str) -> AgentScope:
    """What ``agent`` may work. An agent with no queue memberships works no queue (never every queue).

    One statement (the user, their skills and one row per member queue), as every claim asks it."""
    rows = session.execute(
        select(User.role, AgentSkill, QueueMember.queue).where(User.username == agent)
        .outerjoin(AgentSkill, AgentSkill.user_id == User.id).outerjoin(QueueMember, QueueMember.user_id == User.id)
        .order_by(QueueMember.queue)).all()
    if not rows:
        return AgentScope(queues=[])
    if rows[0].role != Role.AGENT.value:
        return AgentScope(queues=None)
    scope = AgentScope(queues=[r.queue for r in rows if r.queue is not None])
    skill = rows[0].AgentSkill
    if skill is not None:
        scope.languages, scope.categories = list(skill.languages), list(skill.categories)
        scope.segments, scope.capacity = list(skill.segments), skill.capacity
    return scope


def queue_if_in_scope(session: Session, user: User, item_id: int) -> str | None:
    """The item's queue when ``user`` may work it, None otherwise (or when there is no such item): one
    statement over the same membership rows as :func:`agent_scope` (agents: a member of the item's queue;
    supervisors and admins: every queue)."""
    q = select(WorkItem.queue).where(WorkItem.id == item_id)
    if user.role == Role.AGENT.value:
        q = q.where(select(QueueMember.id).where(QueueMember.user_id == user.id,
                                                 QueueMember.queue == WorkItem.queue).exists())
    return session.scalar(q)


@dataclass(frozen=True)
class Claimed:
    """What a claim returns without loading the ORM object (the bench and hot paths use this)."""

    id: int
    document_id: str
    queue: str
    priority: int
    sla_due: datetime
    claimed_until: datetime
    version: int


_T = WorkItem.__table__
_CLAIM_RETURNING = (_T.c.id, _T.c.document_id, _T.c.queue, _T.c.priority, _T.c.sla_due, _T.c.claimed_until,
                    _T.c.version)


def claim_next(session: Session, agent: str, now: datetime, *, queues: Sequence[str] | None = None,
               lease: timedelta = LEASE, use_scope: bool = True) -> Claimed | None:
    """Atomically claim the most urgent new item among the queues ``agent`` may work (optionally
    narrowed to ``queues``) that fits their skills; None when there is none or they are at capacity.

    One statement picks and claims: ``UPDATE work_items SET ... WHERE id = (SELECT id ... ORDER BY
    priority DESC, sla_due, id LIMIT 1 [FOR UPDATE SKIP LOCKED]) RETURNING ...`` — on PostgreSQL
    concurrent agents skip each other's locked rows, on SQLite the transaction holds the write lock
    (``BEGIN IMMEDIATE``). The outbox row and the audit event follow in the same transaction (on
    PostgreSQL the event is linked into the audit chain inside COMMIT: storage.audit).
    Order: priority (higher first), then the binding deadline (``sla_due``: the earlier of internal
    and statutory, so the least time left first), then age.
    """
    stmt = _claim_statement(session, agent, now, queues, lease, use_scope)
    row = None if stmt is None else session.execute(stmt.returning(*_CLAIM_RETURNING)).first()
    if row is None:
        return None
    c = Claimed(*row)
    _claimed(session, agent, now, c)
    return c


def next_for_agent(session: Session, agent: str, now: datetime, *, queues: Sequence[str] | None = None,
                   lease: timedelta = LEASE, use_scope: bool = True) -> WorkItem | None:
    """``claim_next``, returning the claimed work item (loaded by the claim's own RETURNING)."""
    stmt = _claim_statement(session, agent, now, queues, lease, use_scope)
    if stmt is None:
        return None
    item = session.scalars(stmt.returning(WorkItem), execution_options={"populate_existing": True}).first()
    if item is None:
        return None
    _claimed(session, agent, now, Claimed(item.id, item.document_id, item.queue, item.priority, item.sla_due,
                                     item.claimed_until, item.version))  # type: ignore[arg-type]
    return item


def _claim_statement(session: Session, agent: str, now: datetime, queues: Sequence[str] | None,
                     lease: timedelta, use_scope: bool) -> Update | None:
    """claim_next's UPDATE (without its RETURNING); None when the agent may work none of ``queues``."""
    begin_write(session)
    scope = agent_scope(session, agent) if use_scope else AgentScope(queues=None)
    allowed = scope.queues
    if queues is not None:
        allowed = [q for q in queues if allowed is None or q in allowed]
    if allowed is not None and not allowed:
        return None
    pick = select(_T.c.id).where(_T.c.state == WorkItemState.NEW.value)
    if allowed is not None:
        pick = pick.where(_T.c.queue.in_(allowed))
    if scope.languages or scope.categories or scope.segments:
        d = Document.__table__
        pick = pick.join(d, d.c.id == _T.c.document_id)
        if scope.languages:
            pick = pick.where(d.c.language.in_(scope.languages))
        if scope.categories:
            pick = pick.where(d.c.category.in_(scope.categories))
        if scope.segments:
            pick = pick.where(d.c.segment.in_(scope.segments))
    pick = pick.order_by(_T.c.priority.desc(), _T.c.sla_due.asc(), _T.c.id.asc()).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True, of=_T)
    stmt = update(WorkItem).where(_T.c.id == pick.scalar_subquery(), _T.c.state == WorkItemState.NEW.value)
    if use_scope:
        held = (select(func.count()).select_from(_T)
                .where(_T.c.assignee == agent, _T.c.state == WorkItemState.CLAIMED.value).scalar_subquery())
        stmt = stmt.where(held < scope.capacity)
    return stmt.values(state=WorkItemState.CLAIMED.value, assignee=agent, claimed_until=now + lease,
                       version=WorkItem.version + 1, updated_at=now
                       ).execution_options(synchronize_session=False)


def _claimed(session: Session, agent: str, now: datetime, c: Claimed) -> None:
    """The outbox row and the audit event of a claim, in its transaction."""
    session.execute(insert(OutboxEvent.__table__).values(
        at=now, kind="item.taken", queue=c.queue, work_item_id=c.id, actor=agent, recipient=None,
        payload={"item_id": c.id, "queue": c.queue, "priority": c.priority, "state": WorkItemState.CLAIMED.value,
                 "sla_due": _iso(c.sla_due), "assignee": agent}))
    record(session, agent, "work_item.claimed", document_id=c.document_id, work_item_id=c.id,
           detail={"state": WorkItemState.CLAIMED.value, "assignee": agent, "claimed_until": _iso(c.claimed_until)})


def next_item(session: Session, queue: str, agent: str, now: datetime) -> WorkItem | None:
    """Claim the most urgent new item of one queue for ``agent``; None when the queue is empty."""
    return next_for_agent(session, agent, now, queues=[queue], use_scope=False)


# ---------------------------------------------------------------- membership (supervisors)


def set_members(session: Session, queue: str, usernames: Sequence[str], actor: str, rules: RuleSet) -> list[str]:
    try:
        rules.queue(queue)
    except KeyError:
        raise NotFound(f"there is no queue {queue!r}") from None
    users = {u.username: u for u in session.scalars(select(User).where(User.username.in_(list(usernames))))}
    unknown = sorted(set(usernames) - set(users))
    if unknown:
        raise InvalidRequest(f"no such users: {', '.join(unknown)}")
    existing = {m.user_id: m for m in session.scalars(select(QueueMember).where(QueueMember.queue == queue))}
    wanted = {u.id for u in users.values()}
    for uid, m in existing.items():
        if uid not in wanted:
            session.delete(m)
    for uid in wanted - set(existing):
        session.add(QueueMember(queue=queue, user_id=uid))
    record(session, actor, "queue.members_set", detail={"queue": queue, "members": sorted(users)})
    session.flush()
    return sorted(users)


def members(session: Session, queue: str) -> list[str]:
    return list(session.scalars(select(User.username).join(QueueMember, QueueMember.user_id == User.id)
                                .where(QueueMember.queue == queue).order_by(User.username)))


def set_skills(session: Session, username: str, actor: str, *, languages: Sequence[str] = (),
               categories: Sequence[str] = (), segments: Sequence[str] = (),
               capacity: int = DEFAULT_CAPACITY) -> AgentSkill:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"there is no user {username!r}")
    bad = [c for c in categories if c not in CATEGORIES]
    if bad:
        raise InvalidRequest(f"unknown categories {bad}; use: {', '.join(CATEGORIES)}")
    if capacity < 1:
        raise InvalidRequest("capacity must be at least 1")
    skill = session.get(AgentSkill, user.id) or AgentSkill(user_id=user.id)
    skill.languages, skill.categories, skill.segments = list(languages), list(categories), list(segments)
    skill.capacity = capacity
    session.add(skill)
    record(session, actor, "agent.skills_set", detail={"user": username, "languages": list(languages),
                                                        "categories": list(categories),
                                                        "segments": list(segments), "capacity": capacity})
    session.flush()
    return skill
