"""50 agent threads call next/complete on 2,000 items, against SQLite and a real PostgreSQL:
each item is claimed and completed exactly once, none is lost (bench/claim.py measures the same)."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.claim import engine_for, fresh_database, populate, run_agents
from storage.models import AuditEvent, WorkItem, WorkItemState

AGENTS, ITEMS = 50, 2000


def _check(url: str) -> None:
    engine = engine_for(url, AGENTS)
    try:
        populate(engine, ITEMS)
        result = run_agents(engine, AGENTS, ITEMS)
        assert result.errors == []
        counts = Counter(result.completed)
        assert len(counts) == ITEMS and set(counts.values()) == {1}  # each completed once by the threads
        with Session(engine) as s:
            states = dict(s.execute(select(WorkItem.state, func.count()).group_by(WorkItem.state)).all())
            assert states == {WorkItemState.DONE.value: ITEMS}
            per_item = Counter(s.scalars(select(AuditEvent.work_item_id)
                                         .where(AuditEvent.action == "work_item.claimed")))
            assert len(per_item) == ITEMS and set(per_item.values()) == {1}  # never claimed twice
            done_by = dict(s.execute(select(WorkItem.id, WorkItem.assignee)).all())
            completed_by = dict(s.execute(select(AuditEvent.work_item_id, AuditEvent.actor)
                                          .where(AuditEvent.action == "work_item.completed")).all())
            assert done_by == completed_by  # whoever claimed it completed it
        assert len({a for a in done_by.values()}) > 10  # the work really was shared
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
