"""Sweepers run by the scheduler: expired leases and SLA clocks. Each takes ``now``; each step is a
compare-and-set transition, so a sweep racing an agent loses quietly and the next sweep retries.

SLA sweep, per item:
* **warning** when the binding deadline's warn point has passed (default: 80% of the time used):
  ``sla.warning`` event to the assignee (or the queue), ``sla_state`` warned;
* **breach** of the binding deadline: escalation — the item moves to the escalation queue with
  its priority raised, ``sla_state`` breached, audit event and live event. Items on hold have
  their internal clock paused, so only the statutory clock can breach them;
* **first response** (an acknowledgement, a reply, or a first answer recorded by hand): a warning when 80 % of
  the time to ``first_response_due`` is used, and at its breach an escalation, as for resolution;
* **statutory clocks** run until the reply is dispatched, whatever the item's state (closing an
  item does not stop them): a risk flag at the rule's warn point — ``deemed_accepted_risk`` for
  rules where silence means the claim is accepted (PL telecom complaints) — and a breach flag
  (``statutory_breached``, plus ``deemed_accepted``) when the deadline passes undispatched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ground.errors import Conflict
from queues.routing import RuleSet
from queues.sla import SlaPolicies
from queues.work import emit, escalate, expire_leases, transition
from storage.db import session_scope
from storage.models import WorkItem, WorkItemState

log = logging.getLogger(__name__)

ACTIVE = (WorkItemState.NEW, WorkItemState.CLAIMED)
OPEN_STATES = (*ACTIVE, WorkItemState.ON_HOLD)


@dataclass
class SweepResult:
    warned: list[int] = field(default_factory=list)
    breached: list[int] = field(default_factory=list)
    first_response_warned: list[int] = field(default_factory=list)
    first_response_breached: list[int] = field(default_factory=list)
    statutory_risk: list[int] = field(default_factory=list)
    statutory_breached: list[int] = field(default_factory=list)
    leases_expired: list[int] = field(default_factory=list)


def _deemed(policies: SlaPolicies, rule_name: str | None) -> bool:
    return any(r.name == rule_name and r.deemed_accepted for r in policies.statutory)


def sweep_sla(session: Session, now: datetime, policies: SlaPolicies, rules: RuleSet) -> SweepResult:
    """One pass over the clocks (see the module doc); returns what it changed."""
    out = SweepResult()

    warn_q = select(WorkItem.id).where(WorkItem.state.in_(ACTIVE), WorkItem.sla_state == "ok",
                                       WorkItem.warn_at <= now, WorkItem.sla_due > now)
    for item_id in list(session.scalars(warn_q)):
        try:
            item = transition(session, item_id, ACTIVE, "system", "sla_warning", now, sla_state="warned")
        except Conflict:
            continue
        emit(session, "sla.warning", item, now, recipient=item.assignee, due=item.sla_due, policy=item.sla_policy)
        out.warned.append(item_id)

    breach_q = select(WorkItem.id).where(WorkItem.state.in_(ACTIVE), WorkItem.sla_state != "breached",
                                         WorkItem.sla_due <= now)
    for item_id in list(session.scalars(breach_q)):
        try:
            item = session.get(WorkItem, item_id)
            assert item is not None
            reason = f"{item.sla_policy} deadline {item.sla_due.isoformat()} passed"
            item = escalate(session, item_id, "system", now, policies, rules, reason, action="sla_breached")
            item = transition(session, item_id, ACTIVE, "system", "sla_state", now, sla_state="breached")
        except Conflict:
            continue
        emit(session, "sla.breached", item, now, recipient=item.assignee, policy=item.sla_policy)
        out.breached.append(item_id)

    _sweep_first_response(session, now, policies, rules, out)

    stat_q = select(WorkItem.id, WorkItem.statutory_due, WorkItem.statutory_rule, WorkItem.flags).where(
        WorkItem.statutory_due.is_not(None), WorkItem.dispatched_at.is_(None),
        or_(WorkItem.statutory_warn_at <= now, WorkItem.statutory_due <= now),
        WorkItem.outcome.is_distinct_from("duplicate_of_case"))
    any_state = (*ACTIVE, WorkItemState.ON_HOLD, WorkItemState.DONE)
    # Decided on one query's rows; an item is touched only when it has something to change (an item past its
    # warning time stays a candidate every round until it is dispatched: loading each would cost a query each).
    for item_id, due, rule, row_flags in session.execute(stat_q).all():
        flags = set(row_flags or ())
        breached = due <= now
        if ("statutory_breached" if breached else "statutory_risk") in flags:
            continue
        deemed = _deemed(policies, rule)
        try:
            if breached:
                new = flags | {"statutory_breached", "statutory_risk"} | ({"deemed_accepted"} if deemed else set())
                item = transition(session, item_id, any_state, "system", "statutory_breached", now,
                                   detail={"rule": rule, "due": due.isoformat(), "deemed_accepted": deemed},
                                   flags=sorted(new))
                if item.state in ACTIVE and item.queue != policies.escalation.queue:
                    escalate(session, item_id, "system", now, policies, rules,
                             f"statutory deadline {rule} passed", action="sla_breached")
                out.statutory_breached.append(item_id)
            else:
                new = flags | {"statutory_risk"} | ({"deemed_accepted_risk"} if deemed else set())
                item = transition(session, item_id, any_state, "system", "statutory_risk", now,
                                   detail={"rule": rule, "due": due.isoformat(),
                                           "deemed_accepted_risk": deemed}, flags=sorted(new))
                emit(session, "sla.warning", item, now, recipient=item.assignee, due=due,
                     policy=f"statutory:{rule}", deemed_accepted_risk=deemed)
                out.statutory_risk.append(item_id)
        except Conflict:
            continue
    return out


FIRST_RESPONSE_WARN = 0.8  # share of the time to the first-response target after which the agent is warned
FIRST_RESPONSE_LOOKAHEAD = timedelta(days=4)  # candidates: targets this close (the longest, PL's 14 days, at 80 %)


def _sweep_first_response(session: Session, now: datetime, policies: SlaPolicies, rules: RuleSet,
                          out: SweepResult) -> None:
    q = select(WorkItem.id, WorkItem.created_at, WorkItem.first_response_due, WorkItem.flags).where(
        WorkItem.state.in_(OPEN_STATES), WorkItem.first_response_at.is_(None), WorkItem.first_response_due.is_not(None),
        WorkItem.first_response_due <= now + FIRST_RESPONSE_LOOKAHEAD,
        WorkItem.outcome.is_distinct_from("duplicate_of_case"))

    # Candidates are most open items (every target within the look-ahead): decided on one query's rows, and an
    # item is touched only when it is due a warning or a breach (one query per candidate cost 0.35 s a round at 1,000).
    for item_id, created_at, due, row_flags in session.execute(q).all():
        flags = set(row_flags or ())
        if due <= now:
            if "first_response_breached" in flags:
                continue
        elif "first_response_warned" in flags or now < created_at + (due - created_at) * FIRST_RESPONSE_WARN:
            continue
        try:
            if due <= now:
                item = transition(session, item_id, OPEN_STATES, "system", "first_response_breached", now,
                                   detail={"due": due.isoformat()},
                                   flags=sorted(flags | {"first_response_breached", "first_response_warned"}))
                if item.queue != policies.escalation.queue:
                    escalate(session, item_id, "system", now, policies, rules,
                             f"no first response by {due.isoformat()}", action="sla_breached")
                emit(session, "sla.breached", item, now, recipient=item.assignee, policy="first_response")
                out.first_response_breached.append(item_id)
            else:
                item = transition(session, item_id, OPEN_STATES, "system", "first_response_warning", now,
                                   detail={"due": due.isoformat()}, flags=sorted(flags | {"first_response_warned"}))
                emit(session, "sla.warning", item, now, recipient=item.assignee, due=due, policy="first_response")
                out.first_response_warned.append(item_id)
        except Conflict:
            continue


def sweep_all(session: Session, now: datetime, policies: SlaPolicies, rules: RuleSet) -> SweepResult:
    """What the scheduler runs: leases first (an expired claim returns to the queue), then clocks."""
    expired = expire_leases(session, now)
    result = sweep_sla(session, now, policies, rules)
    result.leases_expired = expired
    return result


def run_scheduled(db_url: str, policies: SlaPolicies, rules: RuleSet, now: datetime) -> SweepResult | None:
    """One scheduler round in its own transaction; a database hiccup skips the round (logged)."""
    try:
        with session_scope(db_url) as s:
            result = sweep_all(s, now, policies, rules)
    except SQLAlchemyError as exc:
        log.warning("queue sweep skipped a round: %s", exc)
        return None
    if result.leases_expired or result.warned or result.breached or result.statutory_breached:
        log.info("queue sweep: %s leases expired, %s warned, %s breached, %s statutory breached",
                 len(result.leases_expired), len(result.warned), len(result.breached),
                 len(result.statutory_breached))
    return result
