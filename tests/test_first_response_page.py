"""The first-response clock where agents see it (issue 18, "First response"): on the item and in the queue list,
overdue said in words; the holder records a first answer given by phone or chat from the page (audited)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from pipeline.context import Context
from storage.db import session_scope
from storage.models import AuditEvent, WorkItem
from tests.test_agent_lease import _flash, _follow, _item, _letter, _users
from tests.test_web import sign_in
from web.app import create_app


@pytest.fixture
def web(ctx: Context) -> Iterator[TestClient]:
    _users(ctx)
    with TestClient(create_app(ctx), follow_redirects=False) as client:
        yield client


def _first_response_cell(page: str, item_id: int) -> str:
    row = re.search(rf'<tr [^>]*data-item="{item_id}">(.*?)</tr>', page, re.S)
    assert row, f"item {item_id} is not in the queue list"
    cell = re.search(r'<td class="first-response">(.*?)</td>', row.group(1), re.S)
    assert cell
    return re.sub(r"<[^>]+>", "", cell.group(1)).strip()


def test_first_response_shown_overdue_in_words_and_recorded_from_the_page(web: TestClient, ctx: Context) -> None:
    item = _letter(ctx)
    assert item.first_response_due is not None and item.first_response_at is None
    csrf = sign_in(web, "anna")
    page = web.get(f"/agent/items/{item.id}").text
    assert "first response due" in page and "First response overdue" not in page
    listed = web.get(f"/agent/queues/{item.queue}/items").text
    assert not _first_response_cell(listed, item.id).startswith("overdue")

    with session_scope(ctx.db_url) as s:  # its first-response deadline passed an hour ago
        s.execute(update(WorkItem).where(WorkItem.id == item.id)
                  .values(first_response_due=datetime.now(UTC) - timedelta(hours=1)))
    assert "First response overdue:" in web.get(f"/agent/items/{item.id}").text
    assert _first_response_cell(web.get(f"/agent/queues/{item.queue}/items").text, item.id).startswith("overdue")

    # only the holder records it: claim first; the form is then on the page
    assert 'id="first-response-form"' not in web.get(f"/agent/items/{item.id}").text
    _follow(web, web.post(f"/agent/items/{item.id}/claim", data={"csrf_token": csrf}))
    assert 'id="first-response-form"' in web.get(f"/agent/items/{item.id}").text
    page = _follow(web, web.post(f"/agent/items/{item.id}/first_response", data={"csrf_token": csrf, "how": "fax"}))
    assert _flash(page).startswith("how must be one of") and _item(ctx, item.id).first_response_at is None
    page = _follow(web, web.post(f"/agent/items/{item.id}/first_response", data={"csrf_token": csrf, "how": "phone"}))
    assert _flash(page) == "First response recorded: its clock has stopped."
    got = _item(ctx, item.id)
    assert got.first_response_at is not None and "First response given" in page
    assert 'id="first-response-form"' not in page  # given once
    assert _first_response_cell(web.get(f"/agent/queues/{item.queue}/items").text, item.id).startswith("given")
    with session_scope(ctx.db_url) as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.work_item_id == item.id,
                                                AuditEvent.action == "work_item.first_response")).one()
        assert ev.actor == "anna" and ev.detail["how"] == "phone"
