"""SLA engine with fixed clocks: warning at 80%, escalation at breach, pauses, DST, 24/7, and each
statutory rule with its start (receipt) and stop (dispatch, not close) events."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ground.errors import Conflict
from pipeline.context import Context
from queues import work
from queues.sweep import sweep_all, sweep_sla
from storage.db import session_scope
from storage.models import AuditEvent, OutboxEvent, WorkItem, WorkItemState
from tests.queue_support import make_item

WAW, PRG, MSK = ZoneInfo("Europe/Warsaw"), ZoneInfo("Europe/Prague"), ZoneInfo("Europe/Moscow")
SEC = timedelta(seconds=1)


def _sweep(ctx: Context, now: datetime):
    with session_scope(ctx.db_url) as s:
        return sweep_sla(s, now, ctx.policies, ctx.rules)


def _item(ctx: Context, item_id: int) -> WorkItem:
    with session_scope(ctx.db_url) as s:
        item = s.get(WorkItem, item_id)
        assert item is not None
        return item


def test_friday_1755_before_easter_monday_warns_then_escalates(ctx: Context) -> None:
    fri = datetime(2026, 4, 3, 17, 55, tzinfo=WAW)  # Easter Monday 6 April 2026 is a public holiday
    with session_scope(ctx.db_url) as s:
        item = make_item(s, ctx.rules, ctx.policies, fri, category="complaint")
        item_id = item.id
        # internal complaint target: 40 open hours, 08-18 Mon-Fri: 5 min on Friday, none on the
        # weekend or Easter Monday, then Tue-Thu 30 h and Friday 08:00 + 9 h 55 min
        assert item.sla_due == datetime(2026, 4, 10, 17, 55, tzinfo=WAW)
        assert item.sla_policy == "internal:complaint"
        assert item.first_response_due == datetime(2026, 4, 7, 11, 55, tzinfo=WAW)  # 4 h: Tue 11:55
        assert item.warn_at == datetime(2026, 4, 10, 9, 55, tzinfo=WAW)  # 80% of 40 h = 32 h
        assert item.statutory_due == datetime(2026, 5, 3, 23, 59, 59, tzinfo=WAW)  # 30 calendar days
        work.claim(s, item_id, "anna", fri + timedelta(days=4), lease=timedelta(days=30))
    assert _sweep(ctx, datetime(2026, 4, 10, 9, 54, tzinfo=WAW)).warned == []
    assert _sweep(ctx, datetime(2026, 4, 10, 9, 56, tzinfo=WAW)).warned == [item_id]
    assert _sweep(ctx, datetime(2026, 4, 10, 9, 57, tzinfo=WAW)).warned == []  # once
    with session_scope(ctx.db_url) as s:
        ev = s.scalars(select(OutboxEvent).where(OutboxEvent.kind == "sla.warning")).one()
        assert ev.recipient == "anna" and ev.work_item_id == item_id
    assert _sweep(ctx, datetime(2026, 4, 10, 17, 54, tzinfo=WAW)).breached == []
    assert _sweep(ctx, datetime(2026, 4, 10, 17, 56, tzinfo=WAW)).breached == [item_id]
    esc = _item(ctx, item_id)
    assert (esc.queue, esc.priority, esc.sla_state) == ("escalation", 110, "breached")
    assert esc.assignee == "anna" and "escalated" in esc.flags
    with session_scope(ctx.db_url) as s:
        acts = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.work_item_id == item_id))]
        assert "work_item.sla_warning" in acts and "work_item.sla_breached" in acts
    assert _sweep(ctx, datetime(2026, 4, 10, 18, 30, tzinfo=WAW)).breached == []  # escalated once


def test_on_hold_internal_clock_does_not_breach_statutory_does(ctx: Context) -> None:
    mon = datetime(2026, 11, 23, 9, 0, tzinfo=WAW)
    with session_scope(ctx.db_url) as s:
        item_id = make_item(s, ctx.rules, ctx.policies, mon, category="complaint").id
        work.claim(s, item_id, "anna", mon)
        work.hold(s, item_id, "anna", mon + timedelta(hours=1), "waiting for the meter photo")
    r = _sweep(ctx, datetime(2026, 12, 18, 12, 0, tzinfo=WAW))  # internal 40 h long gone, but paused
    assert r.breached == [] and _item(ctx, item_id).sla_state == "ok"
    assert r.statutory_risk == [item_id]  # past 80% of the 30 days: deemed-accepted risk
    flags = _item(ctx, item_id).flags
    assert "deemed_accepted_risk" in flags
    r = _sweep(ctx, datetime(2026, 12, 24, 0, 0, tzinfo=WAW))
    assert r.statutory_breached == [item_id]
    assert {"statutory_breached", "deemed_accepted"} <= set(_item(ctx, item_id).flags)
    # resuming: the internal due moved out by the whole hold
    with session_scope(ctx.db_url) as s:
        back = work.resume(s, item_id, "anna", datetime(2026, 12, 1, 9, 0, tzinfo=WAW), ctx.policies)
        assert back.internal_due > datetime(2026, 12, 1, 9, 0, tzinfo=WAW)


def test_dst_fall_back_on_a_24x7_queue(ctx: Context) -> None:
    sat = datetime(2026, 10, 24, 12, 0, tzinfo=WAW)  # clocks go back at 03:00 on Sunday 25 October
    with session_scope(ctx.db_url) as s:
        item = make_item(s, ctx.rules, ctx.policies, sat, category="fault_report")
        item_id = item.id
        assert item.queue == "technical" and item.sla_policy == "internal:fault-report"
        # 48 real hours on the 24x7 calendar: weekend counts, the wall clock shows 47 h later
        assert item.sla_due == datetime(2026, 10, 26, 11, 0, tzinfo=WAW)
        assert item.sla_due.utcoffset() == timedelta(hours=1)
    assert _sweep(ctx, datetime(2026, 10, 26, 10, 59, tzinfo=WAW)).breached == []
    assert _sweep(ctx, datetime(2026, 10, 26, 11, 1, tzinfo=WAW)).breached == [item_id]


def test_24x7_weekend_counts(ctx: Context) -> None:
    sat_night = datetime(2026, 11, 28, 22, 0, tzinfo=WAW)
    with session_scope(ctx.db_url) as s:
        item = make_item(s, ctx.rules, ctx.policies, sat_night, category="fault_report")
        assert item.sla_due == datetime(2026, 11, 30, 22, 0, tzinfo=WAW)
        assert item.first_response_due == datetime(2026, 11, 29, 2, 0, tzinfo=WAW)


RULES = [
    # (category, language, received, statutory rule, due)
    ("complaint", "pl", datetime(2026, 11, 23, 9, 0, tzinfo=WAW), "pl-telecom-complaint",
     datetime(2026, 12, 23, 23, 59, 59, tzinfo=WAW)),
    ("complaint", "cs", datetime(2026, 1, 31, 10, 0, tzinfo=PRG), "cz-telecom-complaint",
     datetime(2026, 2, 28, 23, 59, 59, tzinfo=PRG)),
    ("complaint", "ru", datetime(2026, 11, 27, 10, 0, tzinfo=MSK), "ru-communications-claim",
     datetime(2026, 12, 27, 23, 59, 59, tzinfo=MSK)),
    ("gdpr_request", "pl", datetime(2026, 1, 31, 10, 0, tzinfo=WAW), "gdpr-request",
     datetime(2026, 2, 28, 23, 59, 59, tzinfo=WAW)),
    ("gdpr_request", "ru", datetime(2026, 11, 23, 10, 0, tzinfo=MSK), "ru-personal-data-request",
     datetime(2026, 12, 7, 23, 59, 59, tzinfo=MSK)),  # 10 working days
]


@pytest.mark.parametrize(("category", "language", "received", "rule", "due"), RULES, ids=[r[3] for r in RULES])
def test_statutory_rule_starts_at_receipt_and_stops_at_dispatch(ctx: Context, category: str, language: str,
                                                                 received: datetime, rule: str,
                                                                 due: datetime) -> None:
    with session_scope(ctx.db_url) as s:
        closed = make_item(s, ctx.rules, ctx.policies, received, category=category, language=language,
                           text="first letter about the matter")
        sent = make_item(s, ctx.rules, ctx.policies, received, category=category, language=language,
                         text="second, unrelated matter of another customer altogether")
        assert closed.case_id != sent.case_id
        assert (closed.statutory_rule, closed.statutory_due) == (rule, due)
        ids = closed.id, sent.id
        # one is closed without a reply being dispatched, the other's reply is dispatched on the last day
        for item_id in ids:
            work.claim(s, item_id, "anna", received, lease=timedelta(days=60))
        work.complete(s, ids[0], "anna", received + timedelta(hours=1))
        work.dispatch(s, ids[1], "anna", due - timedelta(hours=1), ctx.policies, channel="email",
                      at=due - timedelta(hours=2))
    r = _sweep(ctx, due - SEC)
    assert r.statutory_breached == []
    r = _sweep(ctx, due + SEC)
    assert r.statutory_breached == [ids[0]]  # closing does not stop the clock; dispatch does
    assert "statutory_breached" in _item(ctx, ids[0]).flags
    assert ("deemed_accepted" in _item(ctx, ids[0]).flags) == (rule == "pl-telecom-complaint")
    assert _item(ctx, ids[0]).state == WorkItemState.DONE
    assert "statutory_breached" not in _item(ctx, ids[1]).flags


def test_acknowledgement_deadlines(ctx: Context) -> None:
    with session_scope(ctx.db_url) as s:
        pl = make_item(s, ctx.rules, ctx.policies, datetime(2026, 11, 23, 9, 0, tzinfo=WAW), category="complaint")
        ru = make_item(s, ctx.rules, ctx.policies, datetime(2026, 11, 27, 17, 0, tzinfo=MSK), category="complaint",
                       language="ru", text="претензия по счёту")
        # PL: internal first response (4 h) is earlier than the 14-day confirmation
        assert pl.first_response_due == datetime(2026, 11, 23, 13, 0, tzinfo=WAW)
        # RU: the internal 4 h (1 h on Friday, 3 h on Monday from 09:00) beats registration by the end of
        # the next working day (Monday 30 November 23:59:59)
        assert ru.first_response_due == datetime(2026, 11, 30, 12, 0, tzinfo=MSK)
        assert ru.statutory_due == datetime(2026, 12, 27, 23, 59, 59, tzinfo=MSK)


def test_sweep_all_expires_leases_too(ctx: Context) -> None:
    mon = datetime(2026, 11, 23, 9, 0, tzinfo=WAW)
    with session_scope(ctx.db_url) as s:
        item_id = make_item(s, ctx.rules, ctx.policies, mon, category="payment").id
        work.claim(s, item_id, "anna", mon, lease=timedelta(minutes=5))
    with session_scope(ctx.db_url) as s:
        r = sweep_all(s, mon + timedelta(minutes=6), ctx.policies, ctx.rules)
    assert r.leases_expired == [item_id] and _item(ctx, item_id).state == WorkItemState.NEW


def test_first_response_clock_warns_then_escalates_unless_an_answer_is_recorded(ctx: Context) -> None:
    """The first-response target is swept like resolution: a warning at 80 % of its time, escalation at breach;
    a first answer recorded by hand (a phone call) stops it."""
    at = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Europe/Warsaw"))  # Monday
    with session_scope(ctx.db_url) as s:
        quiet = make_item(s, ctx.rules, ctx.policies, at, category="cancellation", text="Wypowiadam umowę.")
        called = make_item(s, ctx.rules, ctx.policies, at, category="cancellation", text="Wypowiadam umowę 2.")
        due, created = quiet.first_response_due, quiet.created_at
        ids = (quiet.id, called.id)
        work.claim(s, called.id, "anna", at + timedelta(minutes=5))
        work.record_first_response(s, called.id, "anna", at + timedelta(minutes=10), how="phone")
        with pytest.raises(Conflict):
            work.record_first_response(s, called.id, "anna", at + timedelta(minutes=11), how="phone")
    assert due is not None
    before_warn = created + (due - created) * 0.75
    after_warn = created + (due - created) * 0.85
    with session_scope(ctx.db_url) as s:
        out = sweep_sla(s, before_warn, ctx.policies, ctx.rules)
        assert out.first_response_warned == [] and out.first_response_breached == []
        out = sweep_sla(s, after_warn, ctx.policies, ctx.rules)
        assert out.first_response_warned == [ids[0]]  # the one answered by phone is never warned
        out = sweep_sla(s, due + timedelta(minutes=1), ctx.policies, ctx.rules)
        assert out.first_response_breached == [ids[0]]
        row = s.get(WorkItem, ids[0])
        assert row.queue == ctx.policies.escalation.queue and "first_response_breached" in row.flags
        assert sweep_sla(s, due + timedelta(minutes=2), ctx.policies, ctx.rules).first_response_breached == []


def test_a_round_with_nothing_due_reads_no_item_on_its_own(ctx: Context) -> None:
    """The scheduler sweeps every 15 s in the web process. Items under their first-response target, and items
    already warned of their statutory deadline, are candidates every round; the round must read them in one
    query per kind of clock, not one query per item (at 1,000 open items that took 0.35 s a round and slowed
    every claim)."""
    from sqlalchemy import event

    at = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Europe/Warsaw"))  # Monday
    with session_scope(ctx.db_url) as s:
        items = [make_item(s, ctx.rules, ctx.policies, at, category="complaint", text=f"Reklamacja {n}.")
                 for n in range(30)]
        first = items[0]
        assert first.first_response_due is not None and first.statutory_warn_at is not None
        warn_fr = first.created_at + (first.first_response_due - first.created_at) * 0.85
        statutory_risk = max(i.statutory_warn_at for i in items if i.statutory_warn_at is not None) + SEC

    def statements_of_a_round(now: datetime) -> list[str]:
        seen: list[str] = []

        def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
            seen.append(statement)

        with session_scope(ctx.db_url) as s:
            engine = s.get_bind()
            event.listen(engine, "before_cursor_execute", count)
            try:
                out = sweep_all(s, now, ctx.policies, ctx.rules)
            finally:
                event.remove(engine, "before_cursor_execute", count)
        assert not (out.first_response_warned or out.first_response_breached or out.warned or out.breached
                    or out.statutory_risk or out.statutory_breached), out
        return seen

    assert len(_sweep(ctx, warn_fr).first_response_warned) == 30  # each item acted on once ...
    assert len(statements_of_a_round(warn_fr + SEC)) <= 6  # ... then a candidate with nothing to do
    done = _sweep(ctx, statutory_risk)  # past every first-response and internal target, and statutory warning
    assert len(done.first_response_breached) == 30 and len(done.statutory_risk) == 30
    assert len(statements_of_a_round(statutory_risk + SEC)) <= 6  # whatever the number of items
