"""Access findings of the security review (issue 15): queue membership and work-item ownership.

An agent with no queue memberships works no queue (it used to mean every queue); reclassify, escalate,
resume and dispatch follow the rules of claim and complete (a colleague's claimed or held item is theirs); a
dispatch time lies between the letter's receipt and now, and a dispatch never stops the clock of items of the
case outside the agent's queues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from ground.errors import Conflict
from pipeline.context import Context
from queues import live, work
from storage.db import session_scope
from storage.models import Role, WorkItem
from storage.users import create_token, upsert_user
from tests.queue_support import make_item
from web.app import create_app

MON = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _people(ctx: Context) -> None:
    with session_scope(ctx.db_url) as s:
        for name, role in (("anna", Role.AGENT), ("petr", Role.AGENT), ("boss", Role.SUPERVISOR)):
            upsert_user(s, name, f"{name}-password-123", role)
        s.flush()
        for queue in ctx.rules.queues:
            work.set_members(s, queue.id, ["anna", "petr"], "boss", ctx.rules)


def test_an_agent_removed_from_every_queue_sees_none(ctx: Context) -> None:
    _people(ctx)
    now = datetime.now(UTC)
    with session_scope(ctx.db_url) as s:
        item_id = make_item(s, ctx.rules, ctx.policies, now - timedelta(hours=1)).id
        queue = s.get(WorkItem, item_id).queue
        for q in ctx.rules.queues:
            work.set_members(s, q.id, ["petr"], "boss", ctx.rules)  # anna leaves her last queue
        token = create_token(s, "anna", "test", now)[1]
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(ctx)) as client:
        assert client.get("/api/queues", headers=headers).json() == []
        assert client.post(f"/api/queues/{queue}/next", headers=headers).status_code == 404
        assert client.post("/api/next", headers=headers).status_code == 204
        for method, suffix in (("GET", ""), ("POST", "/claim"), ("POST", "/complete")):
            r = client.request(method, f"/api/work-items/{item_id}{suffix}", headers=headers, json={})
            assert r.status_code == 404, (suffix, r.status_code)
    with session_scope(ctx.db_url) as s:
        assert work.agent_scope(s, "anna").queues == []
        assert work.next_for_agent(s, "anna", now) is None
        events = live.poll(s, "anna", live.Cursor(0), 0.0)
        assert events == []  # the live stream carries nothing of any queue
        assert s.get(WorkItem, item_id).state == "new"


@pytest.mark.parametrize("action", ["reclassify", "escalate", "resume", "dispatch"])
def test_a_colleagues_item_is_theirs(ctx: Context, action: str) -> None:
    _people(ctx)
    now = datetime.now(UTC)
    with session_scope(ctx.db_url) as s:
        item_id = make_item(s, ctx.rules, ctx.policies, now - timedelta(hours=2)).id
        work.claim(s, item_id, "anna", now)
        if action == "resume":
            work.hold(s, item_id, "anna", now, "waiting for the contract number")
    calls = {
        "reclassify": lambda s: work.reclassify(s, item_id, "petr", now, "invoice_query", ctx.rules, ctx.policies),
        "escalate": lambda s: work.escalate(s, item_id, "petr", now, ctx.policies, ctx.rules, "mine now"),
        "resume": lambda s: work.resume(s, item_id, "petr", now, ctx.policies),
        "dispatch": lambda s: work.dispatch(s, item_id, "petr", now, ctx.policies, channel="email"),
    }
    with pytest.raises(Conflict, match="by another agent"), session_scope(ctx.db_url) as s:
        calls[action](s)
    with session_scope(ctx.db_url) as s:
        item = s.get(WorkItem, item_id)
        assert item.assignee == "anna" and item.dispatched_at is None
        assert item.state == ("on_hold" if action == "resume" else "claimed")
        calls_by_owner = {"reclassify": lambda: work.reclassify(s, item_id, "anna", now, "invoice_query",
                                                                  ctx.rules, ctx.policies),
                          "escalate": lambda: work.escalate(s, item_id, "anna", now, ctx.policies, ctx.rules, "x"),
                          "resume": lambda: work.resume(s, item_id, "anna", now, ctx.policies),
                          "dispatch": lambda: work.dispatch(s, item_id, "anna", now, ctx.policies,
                                                            channel="email")}
        calls_by_owner[action]()  # the owner may


def test_a_dispatch_time_lies_between_receipt_and_now(ctx: Context) -> None:
    _people(ctx)
    received = MON
    now = MON + timedelta(days=3)
    with session_scope(ctx.db_url) as s:
        item_id = make_item(s, ctx.rules, ctx.policies, received).id
        work.claim(s, item_id, "anna", now)
    with pytest.raises(work.InvalidRequest, match="before the letter was received"), session_scope(ctx.db_url) as s:
        work.dispatch(s, item_id, "anna", now, ctx.policies, channel="email", at=received - timedelta(days=40))
    with pytest.raises(work.InvalidRequest, match="in the future"), session_scope(ctx.db_url) as s:
        work.dispatch(s, item_id, "anna", now, ctx.policies, channel="email", at=now + timedelta(minutes=5))
    with session_scope(ctx.db_url) as s:
        done = work.dispatch(s, item_id, "anna", now, ctx.policies, channel="email", at=received + timedelta(days=1))
        assert done.dispatched_at is not None


def test_a_dispatch_leaves_the_case_items_outside_the_agents_queues(ctx: Context) -> None:
    _people(ctx)
    received = MON
    now = MON + timedelta(days=2)
    with session_scope(ctx.db_url) as s:
        mine = make_item(s, ctx.rules, ctx.policies, received, category="complaint")
        other = make_item(s, ctx.rules, ctx.policies, received + timedelta(hours=1), category="legal")
        assert mine.queue != other.queue
        case = mine.case_id or 1
        mine.case_id = other.case_id = case
        mine_id, other_id, my_queue = mine.id, other.id, mine.queue
        work.claim(s, mine_id, "anna", now)
    with session_scope(ctx.db_url) as s:
        work.dispatch(s, mine_id, "anna", now, ctx.policies, channel="email", queues=[my_queue])
    with session_scope(ctx.db_url) as s:
        assert s.get(WorkItem, mine_id).dispatched_at is not None
        assert s.get(WorkItem, other_id).dispatched_at is None  # not the agent's queue: its clock runs on
