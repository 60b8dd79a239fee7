from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ground.errors import Conflict, NotFound
from pipeline.context import Context
from queues import work
from storage.db import session_scope
from storage.models import Document, Envelope, WorkItem, WorkItemState

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _item(ctx: Context, n: int, queue: str, priority: int, due_in_h: int) -> int:
    with session_scope(ctx.db_url) as s:
        s.add(Envelope(id=f"e{n}", channel="scan", source_name="x", content_type="image/png", sha256=f"{n:064d}",
                       size=1))
        s.add(Document(id=f"d{n}", envelope_id=f"e{n}", part_index=0, doc_index=0, part_sha256="0" * 64, pages=1))
        item = WorkItem(document_id=f"d{n}", queue=queue, priority=priority, routing_rule="r", sla_policy="p",
                        sla_due=NOW + timedelta(hours=due_in_h))
        s.add(item)
        s.flush()
        return item.id


def test_next_item_orders_by_priority_then_deadline(ctx: Context) -> None:
    late = _item(ctx, 1, "billing", 10, 48)
    soon = _item(ctx, 2, "billing", 10, 2)
    urgent = _item(ctx, 3, "billing", 90, 100)
    _item(ctx, 4, "legal", 99, 1)
    order = []
    with session_scope(ctx.db_url) as s:
        while (item := work.next_item(s, "billing", "anna", NOW)) is not None:
            order.append(item.id)
            assert item.state == WorkItemState.CLAIMED and item.assignee == "anna"
    assert order == [urgent, soon, late]


def test_claim_is_compare_and_set(ctx: Context) -> None:
    item_id = _item(ctx, 5, "billing", 10, 5)
    with session_scope(ctx.db_url) as s:
        work.claim(s, item_id, "anna", NOW)
    with session_scope(ctx.db_url) as s, pytest.raises(Conflict, match="claimed"):
        work.claim(s, item_id, "petr", NOW)
    with session_scope(ctx.db_url) as s, pytest.raises(Conflict, match="another agent"):
        work.complete(s, item_id, "petr", NOW)
    with session_scope(ctx.db_url) as s:
        done = work.complete(s, item_id, "anna", NOW)
        assert done.state == WorkItemState.DONE and done.version == 3
    with session_scope(ctx.db_url) as s, pytest.raises(Conflict):
        work.claim(s, item_id, "anna", NOW)  # done is final
    with session_scope(ctx.db_url) as s, pytest.raises(NotFound):
        work.claim(s, 999, "anna", NOW)


def test_stale_version_loses(ctx: Context) -> None:
    item_id = _item(ctx, 6, "billing", 10, 5)
    with session_scope(ctx.db_url) as s1, session_scope(ctx.db_url) as s2:
        stale = s2.get(WorkItem, item_id)
        assert stale is not None and stale.version == 1
        work.claim(s1, item_id, "anna", NOW)
        s1.commit()
        with pytest.raises(Conflict):
            work.transition(s2, item_id, (WorkItemState.NEW,), "petr", "claimed", NOW,
                             state=WorkItemState.CLAIMED, assignee="petr")


def test_queue_counts(ctx: Context) -> None:
    a = _item(ctx, 7, "billing", 10, 5)
    _item(ctx, 8, "billing", 10, 5)
    _item(ctx, 9, "legal", 10, 5)
    with session_scope(ctx.db_url) as s:
        work.claim(s, a, "anna", NOW)
    with session_scope(ctx.db_url) as s:
        counts = work.queue_counts(s)
    assert counts["billing"]["new"] == 1 and counts["billing"]["claimed"] == 1
    assert counts["legal"]["new"] == 1 and counts["legal"]["done"] == 0
