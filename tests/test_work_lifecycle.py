"""Work-item lifecycle: lease, hold (SLA paused), done with outcome, transfer, reclassify,
escalation, dispatch; every transition audited; next item across queues with skills."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ground.errors import Conflict
from pipeline.context import Context
from queues import work
from queues.calendar import add_business_time
from storage.db import session_scope
from storage.models import AuditEvent, OutboxEvent, Role, WorkItem, WorkItemState
from storage.users import upsert_user
from tests.queue_support import make_item

WAW = ZoneInfo("Europe/Warsaw")
MON = datetime(2026, 11, 23, 9, 0, tzinfo=WAW)  # Monday


def _actions(s, item_id: int) -> list[str]:
    return [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.work_item_id == item_id)
                                        .order_by(AuditEvent.id))]


def test_lease_expires_and_item_returns(ctx: Context) -> None:
    with session_scope(ctx.db_url) as s:
        item_id = make_item(s, ctx.rules, ctx.policies, MON, category="invoice_query").id
    with session_scope(ctx.db_url) as s:
        item = work.claim(s, item_id, "anna", MON, lease=timedelta(minutes=10))
        assert item.claimed_until == MON + timedelta(minutes=10)
    with session_scope(ctx.db_url) as s:  # renewing moves the expiry
        assert work.renew(s, item_id, "anna", MON + timedelta(minutes=9), timedelta(minutes=10)).claimed_until \
            == MON + timedelta(minutes=19)
        with pytest.raises(Conflict, match="another agent"):
            work.renew(s, item_id, "petr", MON + timedelta(minutes=9))
    with session_scope(ctx.db_url) as s:
        assert work.expire_leases(s, MON + timedelta(minutes=18)) == []
        assert work.expire_leases(s, MON + timedelta(minutes=20)) == [item_id]
        item = s.get(WorkItem, item_id)
        assert item.state == WorkItemState.NEW and item.assignee is None and item.claimed_until is None
        with pytest.raises(Conflict, match="expired|must be claimed"):
            work.renew(s, item_id, "anna", MON + timedelta(minutes=21))
        assert _actions(s, item_id)[-2:] == ["work_item.lease_renewed", "work_item.lease_expired"]
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "work_item.lease_expired")).one()
        assert ev.actor == "system" and ev.detail["was_assignee"] == "anna"
        assert work.next_item(s, "billing", "petr", MON + timedelta(minutes=21)).id == item_id


def test_hold_pauses_internal_clock_and_resume_moves_due(ctx: Context) -> None:
    with session_scope(ctx.db_url) as s:
        item = make_item(s, ctx.rules, ctx.policies, MON, category="invoice_query")  # standard: 50 business h
        item_id, due0 = item.id, item.sla_due
        assert item.statutory_due is None and item.internal_due == due0
    with session_scope(ctx.db_url) as s:
        work.claim(s, item_id, "anna", MON + timedelta(hours=1))
        held = work.hold(s, item_id, "anna", MON + timedelta(hours=2), "asked for the invoice copy")
        assert held.state == WorkItemState.ON_HOLD and held.holds[-1][1] is None
    # on hold from Monday 11:00 until the customer answers on Tuesday 10:00: 11-18 Mon plus
    # 08-10 Tue = 9 open hours paused
    with session_scope(ctx.db_url) as s:
        back = work.resume(s, item_id, "anna", MON + timedelta(days=1, hours=1), ctx.policies)
        assert back.state == WorkItemState.CLAIMED and back.assignee == "anna"
        assert back.sla_due == add_business_time(due0, timedelta(hours=9), ctx.policies.calendar("pl-business"))
        assert _actions(s, item_id) == ["work_item.claimed", "work_item.on_hold", "work_item.resumed"]
    with session_scope(ctx.db_url) as s:
        with pytest.raises(work.InvalidRequest, match="outcome"):
            work.complete(s, item_id, "anna", MON + timedelta(days=1, hours=2), "whatever")
        done = work.complete(s, item_id, "anna", MON + timedelta(days=1, hours=2), "answered")
        assert done.state == WorkItemState.DONE and done.outcome == "answered"


def test_hold_resume_exact_pause_arithmetic(ctx: Context) -> None:
    """A 2-hour hold inside working hours pushes the internal due by exactly 2 open hours."""
    with session_scope(ctx.db_url) as s:
        item = make_item(s, ctx.rules, ctx.policies, MON, category="invoice_query")
        item_id, due0 = item.id, item.sla_due
        work.claim(s, item_id, "anna", MON)
        work.hold(s, item_id, "anna", MON + timedelta(hours=1))
        back = work.resume(s, item_id, "anna", MON + timedelta(hours=3), ctx.policies)
        cal = ctx.policies.calendar("pl-business")
        assert back.sla_due == add_business_time(due0, timedelta(hours=2), cal)


def test_transfer_reclassify_escalate(ctx: Context) -> None:
    with session_scope(ctx.db_url) as s:
        item_id = make_item(s, ctx.rules, ctx.policies, MON, category="invoice_query").id
        work.claim(s, item_id, "anna", MON)
        with pytest.raises(work.InvalidRequest, match="no queue"):
            work.transfer(s, item_id, "anna", MON, "nowhere", ctx.rules, ctx.policies)
        moved = work.transfer(s, item_id, "anna", MON, "technical", ctx.rules, ctx.policies, reason="a fault")
        assert (moved.queue, moved.state, moved.assignee) == ("technical", WorkItemState.NEW, None)
        assert moved.sla_policy == "internal:standard"
    with session_scope(ctx.db_url) as s:
        item = work.reclassify(s, item_id, "anna", MON, "complaint", ctx.rules, ctx.policies)
        assert (item.queue, item.routing_rule, item.priority) == ("complaints", "complaints", 60)
        assert item.statutory_rule == "pl-telecom-complaint" and item.statutory_due is not None
        assert item.document.category == "complaint"
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "document.reclassified")).one()
        assert ev.detail["from"] == "invoice_query" and ev.detail["to"] == "complaint"
    with session_scope(ctx.db_url) as s:
        esc = work.escalate(s, item_id, "anna", MON, ctx.policies, ctx.rules, "customer threatens the regulator")
        assert esc.queue == "escalation" and esc.priority == 110 and "escalated" in esc.flags
        assert _actions(s, item_id)[-3:] == ["work_item.reclassified", "document.reclassified",
                                             "work_item.escalated"]
        kinds = [e.kind for e in s.scalars(select(OutboxEvent).where(OutboxEvent.work_item_id == item_id))]
        assert kinds.count("item.new") >= 3


def test_dispatch_stops_statutory_clock_not_close(ctx: Context) -> None:
    with session_scope(ctx.db_url) as s:
        item = make_item(s, ctx.rules, ctx.policies, MON, category="complaint")
        item_id = item.id
        assert item.statutory_due == datetime(2026, 12, 23, 23, 59, 59, tzinfo=WAW)
        work.claim(s, item_id, "anna", MON)
        work.complete(s, item_id, "anna", MON + timedelta(hours=3))
        still = s.get(WorkItem, item_id)
        assert still.dispatched_at is None and still.statutory_due is not None  # closing did not stop it
        with pytest.raises(work.InvalidRequest, match="tracking"):
            work.dispatch(s, item_id, "anna", MON + timedelta(hours=4), ctx.policies, channel="post")
        sent = MON + timedelta(hours=3, minutes=30)
        d = work.dispatch(s, item_id, "anna", MON + timedelta(hours=4), ctx.policies, channel="post",
                          tracking_number="RR123456789PL", at=sent)
        assert d.dispatched_at == sent and d.dispatch["tracking_number"] == "RR123456789PL"
        assert d.sla_policy.startswith("internal:")  # the statutory clock no longer binds
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "work_item.dispatched")).one()
        assert ev.detail["statutory_met"] is True and ev.actor == "anna"
        with pytest.raises(Conflict, match="already dispatched"):
            work.dispatch(s, item_id, "anna", MON + timedelta(hours=5), ctx.policies, channel="email")


def test_next_across_my_queues_with_skills_and_capacity(ctx: Context) -> None:
    with session_scope(ctx.db_url) as s:
        for name in ("anna", "petr", "boss"):
            upsert_user(s, name, f"{name}-password", Role.AGENT)
    with session_scope(ctx.db_url) as s:
        billing_cs = make_item(s, ctx.rules, ctx.policies, MON, category="invoice_query", language="cs").id
        billing_pl = make_item(s, ctx.rules, ctx.policies, MON + timedelta(hours=1), category="payment").id
        legal = make_item(s, ctx.rules, ctx.policies, MON + timedelta(hours=2), category="legal").id
        complaint = make_item(s, ctx.rules, ctx.policies, MON + timedelta(hours=3), category="complaint").id
        work.set_members(s, "billing", ["anna", "petr"], "boss", ctx.rules)
        work.set_members(s, "complaints", ["anna"], "boss", ctx.rules)
        work.set_skills(s, "petr", "boss", languages=["cs"], capacity=1)
        assert work.members(s, "billing") == ["anna", "petr"]
    with session_scope(ctx.db_url) as s:
        # anna: complaints (p60) before billing (p40); never legal (not her queue)
        assert work.next_for_agent(s, "anna", MON).id == complaint
        # petr: Czech only, capacity 1
        assert work.next_for_agent(s, "petr", MON).id == billing_cs
        assert work.next_for_agent(s, "petr", MON) is None  # at capacity
        assert work.next_for_agent(s, "anna", MON).id == billing_pl
        assert work.next_for_agent(s, "anna", MON) is None
        # no membership rows: no queue (never every queue, issue 15); a membership opens that queue
        assert work.next_for_agent(s, "boss", MON) is None
        work.set_members(s, "legal", ["boss"], "anna", ctx.rules)
        assert work.next_for_agent(s, "boss", MON).id == legal


def test_next_orders_by_priority_then_binding_deadline(ctx: Context) -> None:
    with session_scope(ctx.db_url) as s:
        # same queue and priority: the earlier binding deadline first, whatever the arrival order
        late = make_item(s, ctx.rules, ctx.policies, MON, category="invoice_query").id
        soon = make_item(s, ctx.rules, ctx.policies, MON - timedelta(days=3), category="payment").id
    with session_scope(ctx.db_url) as s:
        assert [work.next_item(s, "billing", "anna", MON).id, work.next_item(s, "billing", "anna", MON).id] \
            == [soon, late]
