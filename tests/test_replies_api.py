"""Outbound letters through the HTTP API (web/api_replies.py) and the CLI (``mailroom replies``/``post``): roles and
queue scope, the refusal that names a missing element, e-mail to a real relay, the post batch's PDFs and the
hand-over that stops the clock, and the case timeline with letters in and out."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pdfplumber
import pytest
from fastapi.testclient import TestClient

from mailroom.cli import main
from pipeline.context import Context
from queues import work
from storage.db import session_scope
from storage.models import Role, WorkItem
from storage.users import upsert_user
from tests.queue_support import make_item
from tests.support.agents import join_every_queue
from tests.support.smtp_relay import relay
from web.app import create_app

WAW = ZoneInfo("Europe/Warsaw")
USERS = {"anna": Role.AGENT, "petr": Role.AGENT, "boss": Role.SUPERVISOR, "scan": Role.SCANNER,
         "audit": Role.AUDITOR}
LETTER = "Reklamacja faktury FV/2026/11/000777. Naliczono opłatę za roaming. Proszę o odpowiedź listownie."


def auth(name: str) -> tuple[str, str]:
    return (name, f"{name}-password")


@pytest.fixture
def client(ctx: Context) -> TestClient:
    with session_scope(ctx.db_url) as s:
        for name, role in USERS.items():
            upsert_user(s, name, f"{name}-password", role)
        join_every_queue(s, ctx.rules, ["anna"])
    return TestClient(create_app(ctx))


def _item(ctx: Context, channel: str = "paper", category: str = "complaint") -> int:
    with session_scope(ctx.db_url) as s:
        item = make_item(s, ctx.rules, ctx.policies, datetime(2026, 11, 23, 9, 0, tzinfo=WAW), category=category,
                         channel=channel, text=LETTER, entities={"invoice_no": ["FV/2026/11/000777"]})
        item_id = item.id
        work.claim(s, item_id, "anna", datetime.now(UTC))
    return item_id


def test_reply_by_post_over_http_from_draft_to_hand_over(ctx: Context, client: TestClient) -> None:
    item_id = _item(ctx)
    c = client
    assert c.post(f"/api/work-items/{item_id}/replies", json={}, auth=auth("petr")).status_code == 404  # not his
    assert c.post(f"/api/work-items/{item_id}/replies", json={}, auth=auth("audit")).status_code == 404  # reads only
    r = c.post(f"/api/work-items/{item_id}/replies", json={"address": ["Jan Kowalski", "ul. Długa 5",
                                                                      "00-950 Warszawa"]}, auth=auth("anna"))
    assert r.status_code == 201, r.text
    letter = r.json()
    assert letter["channel"] == "post" and letter["state"] == "draft"  # the customer asked for a letter
    assert "the decision (accepted or rejected, in whole or in part)" in letter["missing"]
    refused = c.post(f"/api/replies/{letter['id']}/send", json={}, auth=auth("anna"))
    assert refused.status_code == 422 and "the decision" in refused.json()["detail"], refused.text
    stale = c.patch(f"/api/replies/{letter['id']}", json={"fields": {"decision": "accepted"}, "version": 0},
                    auth=auth("anna"))
    assert stale.status_code == 409
    r = c.patch(f"/api/replies/{letter['id']}", json={"fields": {"decision": "accepted", "employee_position":
                                                                 "Specjalista"}, "version": letter["version"]},
                auth=auth("anna"))
    assert r.status_code == 200 and r.json()["missing"] == [], r.json()["missing"]
    preview = c.get(f"/api/replies/{letter['id']}/preview.pdf", auth=auth("anna"))
    assert preview.headers["content-type"] == "application/pdf"
    with pdfplumber.open(io.BytesIO(preview.content)) as pdf:
        assert "reklamacja została uwzględniona" in pdf.pages[0].extract_text()
    sent = c.post(f"/api/replies/{letter['id']}/send", json={"registered": True}, auth=auth("anna")).json()
    assert (sent["state"], sent["registered"]) == ("queued", True)
    assert c.post("/api/post-batches", auth=auth("anna")).status_code == 404  # agents do not run the post
    batch = c.post("/api/post-batches", auth=auth("scan"))
    assert batch.status_code == 201, batch.text
    batch_id = batch.json()["id"]
    assert c.post("/api/post-batches", auth=auth("scan")).status_code == 204  # nothing else waits
    printed = c.get(f"/api/post-batches/{batch_id}/print.pdf", auth=auth("scan"))
    listing = c.get(f"/api/post-batches/{batch_id}/posting-list.pdf", auth=auth("scan"))
    with pdfplumber.open(io.BytesIO(printed.content)) as pdf:
        assert len(pdf.pages) % 2 == 0 and "Jan Kowalski" in pdf.pages[0].extract_text()  # duplex: even
    with pdfplumber.open(io.BytesIO(listing.content)) as pdf:
        assert "ul. Długa 5" in "".join(p.extract_text() for p in pdf.pages)
    handed = (datetime.now(UTC) - timedelta(minutes=20)).replace(microsecond=0)
    r = c.post(f"/api/post-batches/{batch_id}/hand-over", json={"at": handed.isoformat(),
                                                                "numbers": {letter["id"]: "RR000111222PL"}},
               auth=auth("scan"))
    assert r.status_code == 200 and r.json()["state"] == "handed_over", r.text
    with session_scope(ctx.db_url) as s:
        assert s.get(WorkItem, item_id).dispatched_at == handed
        case_id = s.get(WorkItem, item_id).case_id
    timeline = c.get(f"/api/cases/{case_id}/timeline", auth=auth("audit")).json()
    kinds = [(e["kind"], e["what"]) for e in timeline]
    assert kinds[0] == ("letter_in", "paper") and ("letter_out", "reply") in kinds
    assert ("clock", "work_item.dispatched") in kinds
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)
    assert c.get(f"/api/cases/{case_id}/timeline", auth=auth("petr")).status_code == 404  # not his queues
    reference = ctx.reply_policy.format_reference(case_id)
    found = c.get("/api/archive/letters", params={"q": f"{reference.lower()} UWZGLEDNIONA"}, auth=auth("audit"))
    assert [x["id"] for x in found.json()] == [letter["id"]], found.text  # folded: case and diacritics
    assert c.get("/api/archive/letters", params={"q": "odrzucona"}, auth=auth("audit")).json() == []
    assert c.get("/api/archive/letters", params={"q": reference}, auth=auth("anna")).status_code == 404


def test_email_reply_over_http_reaches_the_relay(ctx: Context, client: TestClient,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILROOM_ALLOW_PRIVATE_HOSTS", "127.0.0.1")
    item_id = _item(ctx, channel="email")
    with relay() as r:
        ctx.settings.smtp_url = ctx.outbound.smtp_url = r.url
        letter = client.post(f"/api/work-items/{item_id}/replies", json={
            "channel": "email", "to_email": "jan@example.pl",
            "fields": {"decision": "accepted", "employee_position": "Specjalista"}}, auth=auth("anna")).json()
        sent = client.post(f"/api/replies/{letter['id']}/send", json={}, auth=auth("anna")).json()
        assert sent["state"] == "sent", sent
        (got,) = r.messages
    assert got.rcpt_tos == ("jan@example.pl",) and sent["message_id"].encode() in got.raw
    listed = client.get(f"/api/work-items/{item_id}/replies", auth=auth("audit")).json()
    assert [(x["id"], x["state"]) for x in listed] == [(letter["id"], "sent")]
    original = client.get(f"/api/replies/{letter['id']}/original", auth=auth("audit"))
    assert original.headers["content-type"].startswith("message/rfc822") and original.content == got.raw


def test_four_eyes_over_http(ctx: Context, client: TestClient) -> None:
    item_id = _item(ctx, category="legal")
    letter = client.post(f"/api/work-items/{item_id}/replies", json={
        "channel": "post", "address": ["Kancelaria", "ul. Sądowa 1", "00-001 Warszawa"]}, auth=auth("anna")).json()
    assert letter["needs_approval"]
    assert client.post(f"/api/replies/{letter['id']}/send", json={}, auth=auth("anna")).status_code == 409
    assert client.post(f"/api/replies/{letter['id']}/approve", auth=auth("anna")).status_code == 404  # not a role
    approved = client.post(f"/api/replies/{letter['id']}/approve", auth=auth("boss")).json()
    assert (approved["state"], approved["approved_by"]) == ("approved", "boss")
    assert client.post(f"/api/replies/{letter['id']}/send", json={}, auth=auth("anna")).json()["state"] == "queued"


def test_cli_drafts_sends_batches_and_hands_over(ctx: Context, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    item_id = _item(ctx)
    assert main(["replies", "draft", str(item_id), "--as", "anna", "--address", "Jan Kowalski", "--address",
                 "ul. Długa 5", "--field", "decision=accepted", "--field", "employee_position=Specjalista",
                 "--json"]) == 0
    letter = json.loads(capsys.readouterr().out)
    assert letter["state"] == "draft" and letter["channel"] == "post"
    assert main(["replies", "send", letter["id"], "--as", "petr"]) == 2  # anna holds the item
    assert "held by anna" in capsys.readouterr().err
    assert main(["replies", "send", letter["id"], "--as", "anna", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "queued"
    assert main(["post", "batch", "--out", str(tmp_path)]) == 0
    assert "1" in capsys.readouterr().out
    (printed,) = tmp_path.glob("batch-*-print.pdf")
    batch_id = int(printed.name.split("-")[1])
    assert main(["post", "hand-over", str(batch_id), "--at", "2026-12-01T10:00"]) == 2  # no offset
    assert "UTC offset" in capsys.readouterr().err
    at = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    assert main(["post", "hand-over", str(batch_id), "--at", at.isoformat()]) == 0
    with session_scope(ctx.db_url) as s:
        assert s.get(WorkItem, item_id).dispatched_at == at
