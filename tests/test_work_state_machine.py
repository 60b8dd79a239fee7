"""Stateful property test of the work-item lifecycle (Hypothesis ``RuleBasedStateMachine``): several
agents claim, renew, release, hold, resume, transfer, escalate, reclassify, hand over (assign), complete and
take the next item while the clock moves and the lease sweeper runs; the customer's follow-up letters arrive
(joining the open item of their case, or resuming it when it is on hold, or starting a new case when the
case's item is done) and supervisors merge and split cases. Every call is checked against a model.

Invariants after every step: each item is in exactly one (known) queue; claimed or on hold by at
most one agent, nobody else; done is final; each successful transition bumps the version by one and
a refused one changes nothing (no lost update); a hold pauses the internal SLA clock, so after the
resume the due times are never earlier than before the hold; each item is in the case the model says, and
each case's primary item is the one the model says.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import update

from ground.errors import Conflict, InvalidRequest
from pipeline.context import Context
from queues import cases, work
from storage.db import session_scope
from storage.models import Case, Role, WorkItem, WorkItemState
from storage.users import upsert_user
from tests.queue_support import make_item
from tests.support.agents import join_every_queue

AGENTS = ("anna", "petr")  # two agents: every other call is by the one who does not hold the item
CATEGORIES = ("complaint", "invoice_query", "payment", "fault_report", "cancellation", "gdpr_request")
LEASE = timedelta(minutes=15)
START = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Europe/Warsaw"))  # Monday
N, C, H, D = (WorkItemState.NEW.value, WorkItemState.CLAIMED.value, WorkItemState.ON_HOLD.value,
              WorkItemState.DONE.value)


_keys = itertools.count(1)  # customer and invoice numbers unique across examples (one database for all)


@dataclass
class Model:
    state: str
    assignee: str | None
    version: int
    claimed_until: datetime | None = None
    due_at_hold: tuple[datetime, datetime | None] | None = None  # (sla_due, internal_due) when held
    case: int | None = None
    received: datetime = START
    copy: bool = False  # closed as a copy of its case's open item (duplicate_of_case)


@dataclass
class CaseModel:
    key: tuple[str, str]  # (customer number, invoice number): what a follow-up letter is matched by
    primary: int | None


def machine(ctx: Context) -> type[RuleBasedStateMachine]:
    queue_ids = [q.id for q in ctx.rules.queues]
    esc = ctx.policies.escalation.queue

    class WorkItems(RuleBasedStateMachine):
        @initialize(cats=st.lists(st.sampled_from(CATEGORIES), min_size=2, max_size=3))
        def items(self, cats: list[str]) -> None:
            self.now = START
            self.model: dict[int, Model] = {}
            self.cases: dict[int, CaseModel] = {}
            self.keys: list[tuple[str, str]] = []
            with session_scope(ctx.db_url) as s:  # earlier examples' items leave the queues
                s.execute(update(WorkItem).where(WorkItem.state != D).values(state=D, assignee=None))
                for i, cat in enumerate(cats):  # each its own case: its own customer and invoice
                    n = next(_keys)
                    key = (f"SM-{n:07d}", f"SM/{n}")
                    received = START - timedelta(hours=i)
                    item = make_item(s, ctx.rules, ctx.policies, received, category=cat,
                                     entities={"customer_id": [key[0]], "invoice_no": [key[1]]})
                    assert item.case_id is not None and item.case_id not in self.cases
                    self.model[item.id] = Model(N, None, item.version, case=item.case_id, received=received)
                    self.cases[item.case_id] = CaseModel(key, item.id)
                    self.keys.append(key)
            self.ids = sorted(self.model)

        # ---------------------------------------------------------------- helpers

        def call(self, ok: bool, fn: object, *args: object, refusal: type[Exception] = Conflict,
                 **kw: object) -> object:
            """Run one transition in its own transaction; it must succeed exactly when the model says."""
            name = getattr(fn, "__name__", "?")
            try:
                with session_scope(ctx.db_url) as s:  # a refusal rolls the whole transaction back
                    result = fn(s, *args, **kw)  # type: ignore[operator]
                    if isinstance(result, Case):
                        result = result.id
            except refusal:
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

        def touched(self, item_id: int) -> None:
            """A transition that keeps state and holder (new clocks, a flag, a priority)."""
            m = self.model[item_id]
            self.moved(item_id, m.state, m.assignee, m.claimed_until)

        def retimed(self, case_id: int) -> None:
            """Merge and split re-time every open item of the case (none is dispatched here)."""
            for k, m in self.model.items():
                if m.case == case_id and m.state != D:
                    self.touched(k)

        def case_id(self, c: int) -> int:
            ids = sorted(self.cases)
            return ids[c % len(ids)]

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

        @rule(k=st.integers(0, 2))
        def follow_up(self, k: int) -> None:
            """The customer writes again about the same invoice: the letter joins the first case of that
            customer and invoice whose item is open (which is flagged and raised, or resumed when on hold);
            when there is none it starts a case of its own."""
            self.letter_about(self.keys[k % len(self.keys)])

        @precondition(lambda self: any(self.model[c.primary].state == H for c in self.cases.values()
                                       if c.primary is not None))
        @rule(k=st.integers(0, 5))
        def answer_to_hold(self, k: int) -> None:
            """The customer sends what the agent asked for while the item is on hold."""
            held = [c.key for c in self.cases.values() if c.primary is not None and self.model[c.primary].state == H]
            self.letter_about(held[k % len(held)])

        def letter_about(self, key: tuple[str, str]) -> None:
            target = next((c for c in sorted(self.cases) if self.cases[c].key == key
                           and self.cases[c].primary is not None
                           and self.model[self.cases[c].primary].state != D), None)
            primary = self.cases[target].primary if target is not None else None
            before = self.load(primary) if primary is not None else None
            with session_scope(ctx.db_url) as s:
                item = make_item(s, ctx.rules, ctx.policies, self.now, now=self.now, text="follow up",
                                 entities={"customer_id": [key[0]], "invoice_no": [key[1]]})
                new_id, new_case, state, version = item.id, item.case_id, item.state, item.version
            assert new_case is not None
            self.ids.append(new_id)
            if target is None:
                assert state == N and new_case not in self.cases, "a letter with no open case did not start one"
                self.model[new_id] = Model(N, None, version, case=new_case, received=self.now)
                self.cases[new_case] = CaseModel(key, new_id)
                return
            assert (new_case, state) == (target, D), "the follow-up did not join the open item's case"
            self.model[new_id] = Model(D, None, version, case=new_case, received=self.now, copy=True)
            assert primary is not None and before is not None
            m = self.model[primary]
            held = m.state == H
            self.touched(primary)  # flagged "new letter" and raised in the queue
            after = self.load(primary)
            assert "new_letter" in after.flags and after.priority == before.priority + cases.FOLLOW_UP_PRIORITY
            if held:  # the customer's answer: back to its agent, the paused time added to the due times
                self.moved(primary, C, m.assignee, self.now + work.LEASE)
                assert m.due_at_hold is not None
                assert after.sla_due >= m.due_at_hold[0], "a hold made the item due earlier"

        @rule(a=st.integers(0, 5), b=st.integers(0, 5))
        def merge(self, a: int, b: int) -> None:
            into, other = self.case_id(a), self.case_id(b)
            if self.call(into != other, cases.merge_cases, into, other, "sup", self.now, "one matter",
                         ctx.policies, refusal=InvalidRequest) is None:
                return
            for m in self.model.values():
                if m.case == other:
                    m.case = into
            self.cases[other].primary = None
            self.retimed(into)

        @rule(c=st.integers(0, 5), mask=st.integers(0, 31))
        def split(self, c: int, mask: int) -> None:
            case_id = self.case_id(c)
            members = sorted(k for k, m in self.model.items() if m.case == case_id)
            chosen = [k for j, k in enumerate(members) if mask >> j & 1]
            ok = 0 < len(chosen) < len(members)
            new = self.call(ok, cases.split_case, case_id, chosen, "sup", self.now, "another matter",
                            ctx.policies, refusal=InvalidRequest)
            if new is None:
                return
            assert isinstance(new, int) and new not in self.cases
            for k in chosen:
                m = self.model[k]
                self.touched(k)
                m.case = new
                if m.copy:  # a copy of the case's letter is its own matter now: open again
                    m.state, m.assignee, m.claimed_until, m.copy = N, None, None, False
            first = min(chosen, key=lambda k: (self.model[k].received, k))
            self.cases[new] = CaseModel(self.cases[case_id].key, first)
            if self.cases[case_id].primary in chosen:
                self.cases[case_id].primary = min(k for k in members if k not in chosen)
            self.retimed(case_id)
            self.retimed(new)

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
                assert row.case_id == m.case, f"item {item_id} in case {row.case_id}, model {m.case}"
            with session_scope(ctx.db_url) as s:
                for case_id, c in self.cases.items():
                    got = s.get(Case, case_id)
                    assert got is not None and got.primary_item_id == c.primary, f"case {case_id}'s primary"

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
