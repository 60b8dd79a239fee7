"""Stateful property test of the work-item lifecycle (Hypothesis ``RuleBasedStateMachine``): several
agents claim, renew, release, hold, resume, transfer, escalate, reclassify, hand over (assign), complete and
take the next item while the clock moves and the lease sweeper runs; every call is checked against a model.

Invariants after every step: each item is in exactly one (known) queue; claimed or on hold by at
most one agent, nobody else; done is final; each successful transition bumps the version by one and
a refused one changes nothing (no lost update); a hold pauses the internal SLA clock, so after the
resume the due times are never earlier than before the hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import update

from ground.errors import Conflict
from pipeline.context import Context
from queues import work
from storage.db import session_scope
from storage.models import Role, WorkItem, WorkItemState
from storage.users import upsert_user
from tests.queue_support import make_item
from tests.support.agents import join_every_queue

AGENTS = ("anna", "petr")  # two agents: every other call is by the one who does not hold the item
CATEGORIES = ("complaint", "invoice_query", "payment", "fault_report", "cancellation", "gdpr_request")
LEASE = timedelta(minutes=15)
START = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Europe/Warsaw"))  # Monday
N, C, H, D = (WorkItemState.NEW.value, WorkItemState.CLAIMED.value, WorkItemState.ON_HOLD.value,
              WorkItemState.DONE.value)


@dataclass
class Model:
    state: str
    assignee: str | None
    version: int
    claimed_until: datetime | None = None
    due_at_hold: tuple[datetime, datetime | None] | None = None  # (sla_due, internal_due) when held


def machine(ctx: Context) -> type[RuleBasedStateMachine]:
    queue_ids = [q.id for q in ctx.rules.queues]
    esc = ctx.policies.escalation.queue

    class WorkItems(RuleBasedStateMachine):
        @initialize(cats=st.lists(st.sampled_from(CATEGORIES), min_size=2, max_size=3))
        def items(self, cats: list[str]) -> None:
            self.now = START
            self.model: dict[int, Model] = {}
            with session_scope(ctx.db_url) as s:  # earlier examples' items leave the queues
                s.execute(update(WorkItem).where(WorkItem.state != D).values(state=D, assignee=None))
                for i, cat in enumerate(cats):
                    item = make_item(s, ctx.rules, ctx.policies, START - timedelta(hours=i), category=cat, link=False)
                    self.model[item.id] = Model(N, None, item.version)
            self.ids = sorted(self.model)

        # ---------------------------------------------------------------- helpers

        def call(self, ok: bool, fn: object, *args: object, **kw: object) -> WorkItem | None:
            """Run one transition in its own transaction; it must succeed exactly when the model says."""
            name = getattr(fn, "__name__", "?")
            try:
                with session_scope(ctx.db_url) as s:  # a refusal rolls the whole transaction back
                    result = fn(s, *args, **kw)  # type: ignore[operator]
            except Conflict:
                assert not ok, f"{name}{args[:2]} refused but the model allows it"
                return None
            assert ok, f"{name}{args[:2]} succeeded but the model forbids it"
            return result

        @staticmethod
        def owns(m: Model, agent: str) -> bool:
            """Nobody else has the item claimed or on hold: only its holder may act on it."""
            return m.state not in (C, H) or m.assignee == agent

        def item(self, i: int) -> int:
            return self.ids[i % len(self.ids)]

        def load(self, item_id: int) -> WorkItem:
            with session_scope(ctx.db_url) as s:
                row = s.get(WorkItem, item_id)
                assert row is not None
                s.expunge(row)
                return row

        def moved(self, item_id: int, state: str, assignee: str | None, until: datetime | None = None) -> None:
            m = self.model[item_id]
            m.state, m.assignee, m.version, m.claimed_until = state, assignee, m.version + 1, until

        # ---------------------------------------------------------------- rules

        @rule(minutes=st.integers(1, 600))
        def time_passes(self, minutes: int) -> None:
            self.now += timedelta(minutes=minutes)

        @rule(i=st.integers(0, 3), agent=st.sampled_from(AGENTS))
        def claim(self, i: int, agent: str) -> None:
            item_id = self.item(i)
            if self.call(self.model[item_id].state == N, work.claim, item_id, agent, self.now, LEASE):
                self.moved(item_id, C, agent, self.now + LEASE)

        @rule(agent=st.sampled_from(AGENTS))
        def next_item(self, agent: str) -> None:
            with session_scope(ctx.db_url) as s:
                got = work.next_for_agent(s, agent, self.now, lease=LEASE)
                got_id = got.id if got is not None else None
            new = [k for k, m in self.model.items() if m.state == N]
            if not new:
                assert got_id is None
                return
            assert got_id in new, "next handed out an item that was not new"
            rows = {k: self.load(k) for k in new}
            best = min(new, key=lambda k: (-rows[k].priority, rows[k].sla_due, k))
            assert got_id == best, "next did not take the most urgent item"
            self.moved(got_id, C, agent, self.now + LEASE)

        @rule(i=st.integers(0, 3), agent=st.sampled_from(AGENTS))
        def renew(self, i: int, agent: str) -> None:
            item_id, m = self.item(i), self.model[self.item(i)]
            ok = m.state == C and m.assignee == agent and m.claimed_until is not None and m.claimed_until >= self.now
            if self.call(ok, work.renew, item_id, agent, self.now, LEASE):
                self.moved(item_id, C, agent, self.now + LEASE)

        @rule(i=st.integers(0, 3), agent=st.sampled_from(AGENTS))
        def release(self, i: int, agent: str) -> None:
            item_id, m = self.item(i), self.model[self.item(i)]
            if self.call(m.state == C and m.assignee == agent, work.release, item_id, agent, self.now):
                self.moved(item_id, N, None)

        @rule(i=st.integers(0, 3), agent=st.sampled_from(AGENTS))
        def complete(self, i: int, agent: str) -> None:
            item_id, m = self.item(i), self.model[self.item(i)]
            if self.call(m.state == C and m.assignee == agent, work.complete, item_id, agent, self.now):
                self.moved(item_id, D, agent)

        @rule(i=st.integers(0, 3), agent=st.sampled_from(AGENTS))
        def hold(self, i: int, agent: str) -> None:
            item_id, m = self.item(i), self.model[self.item(i)]
            before = self.load(item_id)
            if self.call(m.state == C and m.assignee == agent, work.hold, item_id, agent, self.now):
                self.moved(item_id, H, agent)
                m.due_at_hold = (before.sla_due, before.internal_due)

        @rule(i=st.integers(0, 3), agent=st.sampled_from(AGENTS))
        def resume(self, i: int, agent: str) -> None:
            item_id, m = self.item(i), self.model[self.item(i)]
            ok = m.state == H and self.owns(m, agent)
            if self.call(ok, work.resume, item_id, agent, self.now, ctx.policies, LEASE):
                assert m.assignee is not None
                self.moved(item_id, C, m.assignee, self.now + LEASE)
                after = self.load(item_id)
                assert m.due_at_hold is not None
                sla_due, internal_due = m.due_at_hold
                assert after.sla_due >= sla_due, "a hold made the item due earlier"
                assert internal_due is None or (after.internal_due is not None and after.internal_due >= internal_due)

        @rule(i=st.integers(0, 3), agent=st.sampled_from(AGENTS), to=st.sampled_from(("billing", "complaints",
                                                                                     "technical", "triage")))
        def transfer(self, i: int, agent: str, to: str) -> None:
            item_id, m = self.item(i), self.model[self.item(i)]
            ok = m.state in (N, H) or (m.state == C and m.assignee == agent)
            if self.call(ok, work.transfer, item_id, agent, self.now, to, ctx.rules, ctx.policies):
                self.moved(item_id, N, None)
                assert self.load(item_id).queue == to

        @rule(i=st.integers(0, 3), agent=st.sampled_from(AGENTS), category=st.sampled_from(CATEGORIES))
        def reclassify(self, i: int, agent: str, category: str) -> None:
            item_id, m = self.item(i), self.model[self.item(i)]
            ok = m.state != D and self.owns(m, agent)
            if self.call(ok, work.reclassify, item_id, agent, self.now, category, ctx.rules, ctx.policies):
                self.moved(item_id, N, None)

        @rule(i=st.integers(0, 3), agent=st.sampled_from(AGENTS))
        def escalate(self, i: int, agent: str) -> None:
            item_id, m = self.item(i), self.model[self.item(i)]
            ok = m.state != D and self.owns(m, agent)
            if self.call(ok, work.escalate, item_id, agent, self.now, ctx.policies, ctx.rules, "test"):
                self.moved(item_id, m.state, m.assignee, m.claimed_until)  # stays with whoever has it
                row = self.load(item_id)
                assert row.queue == esc and "escalated" in row.flags

        @rule(i=st.integers(0, 3), agent=st.sampled_from(AGENTS))
        def assign(self, i: int, agent: str) -> None:
            item_id, m = self.item(i), self.model[self.item(i)]
            other = AGENTS[1 - AGENTS.index(agent)]
            ok = m.state != D and self.owns(m, agent)
            if self.call(ok, work.assign, item_id, agent, self.now, other, "colleague on leave", LEASE):
                held = m.state == H
                self.moved(item_id, H if held else C, other, None if held else self.now + LEASE)

        @rule()
        def lease_sweep(self) -> None:
            with session_scope(ctx.db_url) as s:
                returned = set(work.expire_leases(s, self.now)) & set(self.model)
            expected = {k for k, m in self.model.items()
                        if m.state == C and m.claimed_until is not None and m.claimed_until < self.now}
            assert returned == expected
            for k in expected:
                self.moved(k, N, None)

        # ---------------------------------------------------------------- invariants

        @invariant()
        def database_matches_model(self) -> None:
            if not getattr(self, "model", None):
                return
            for item_id, m in self.model.items():
                row = self.load(item_id)
                assert row.queue in queue_ids  # exactly one queue, a known one
                assert (row.state, row.version) == (m.state, m.version), f"item {item_id}: {row.state} " \
                    f"v{row.version}, model {m.state} v{m.version}"
                if m.state in (C, H):
                    assert row.assignee == m.assignee  # held by exactly that agent
                elif m.state == N:
                    assert row.assignee is None and row.claimed_until is None
                if m.state == C:
                    assert row.claimed_until == m.claimed_until

    return WorkItems


def test_work_item_state_machine(ctx: Context) -> None:
    with session_scope(ctx.db_url) as s:  # agents work only the queues they are members of: every queue here
        for agent in AGENTS:
            upsert_user(s, agent, f"{agent}-password-1", Role.AGENT)
        join_every_queue(s, ctx.rules, AGENTS)
    run_state_machine_as_test(
        machine(ctx),
        settings=settings(max_examples=60, stateful_step_count=40, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
