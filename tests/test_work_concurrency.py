"""50 agents (OS processes, as API workers would be) call next/complete on 2,000 items, against
SQLite and a real PostgreSQL: each item is claimed and completed exactly once, none is lost, the
audit chain stays intact (bench/claim.py measures the same run)."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.claim import engine_for, fresh_database, populate, run_agents
from storage.audit import verify
from storage.models import AuditEvent, OutboxEvent, WorkItem, WorkItemState

AGENTS, ITEMS, PROCS = 50, 2000, 10  # 50 agents: 10 processes of 5 agent threads (fewer forks, same contention)


def _check(url: str) -> None:
    engine = engine_for(url, 2)
    try:
        populate(engine, ITEMS)
        result = run_agents(url, AGENTS, ITEMS, procs=PROCS, sqlite_sync="NORMAL")  # exactly-once, not fsync
        assert result.errors == []
        counts = Counter(result.completed)
        assert len(counts) == ITEMS and set(counts.values()) == {1}  # each completed once by the agents
        with Session(engine) as s:
            states = dict(s.execute(select(WorkItem.state, func.count()).group_by(WorkItem.state)).all())
            assert states == {WorkItemState.DONE.value: ITEMS}
            assert set(s.scalars(select(WorkItem.version))) == {3}  # new → claimed → done, no lost update
            per_item = Counter(s.scalars(select(AuditEvent.work_item_id)
                                         .where(AuditEvent.action == "work_item.claimed")))
            assert len(per_item) == ITEMS and set(per_item.values()) == {1}  # never claimed twice
            done_by = dict(s.execute(select(WorkItem.id, WorkItem.assignee)).all())
            completed_by = dict(s.execute(select(AuditEvent.work_item_id, AuditEvent.actor)
                                          .where(AuditEvent.action == "work_item.completed")).all())
            assert done_by == completed_by  # whoever claimed it completed it
            taken = Counter(s.scalars(select(OutboxEvent.work_item_id).where(OutboxEvent.kind == "item.taken")))
            assert len(taken) == ITEMS and set(taken.values()) == {1}  # one live "taken" per claim
        with Session(engine) as s:
            report = verify(s, batch=10 * ITEMS)  # one batch: verify's yield_per fails past its first batch
        assert report.ok, report.findings[:3]  # concurrent appends kept one unbroken hash chain
        assert report.checked >= 2 * ITEMS
        assert len(set(done_by.values())) > 10  # the work really was shared
    finally:
        engine.dispose()


@pytest.mark.slow
def test_fifty_agents_sqlite() -> None:
    with fresh_database("sqlite") as url:
        _check(url)


@pytest.mark.slow
def test_fifty_agents_postgresql(postgres_url: str) -> None:
    with fresh_database("postgresql", postgres_url) as url:
        _check(url)
