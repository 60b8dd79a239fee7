"""The archive API: auditors and supervisors only; every search, view, export and download is audited."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pipeline.context import Context
from storage.audit import verify
from storage.db import session_scope
from storage.models import AuditEvent, Document, DocumentState, Envelope, Role, WorkItem
from storage.search import index_document
from storage.users import upsert_user
from tests.support.agents import join_every_queue
from web.app import create_app

USERS = {"scan": Role.SCANNER, "anna": Role.AGENT, "boss": Role.SUPERVISOR, "audit": Role.AUDITOR}
ORIGINAL = b"%PDF-1.4 <html><script>alert(1)</script></html>"


@pytest.fixture
def api(ctx: Context) -> Iterator[tuple[TestClient, Context, str, str]]:
    with session_scope(ctx.db_url) as s:
        for name, role in USERS.items():
            upsert_user(s, name, f"{name}-password", role)
        join_every_queue(s, ctx.rules)  # an agent without memberships works no queue
        key = ctx.blobs.put(ORIGINAL)
        env_id, doc_id = str(uuid.uuid4()), str(uuid.uuid4())
        s.add(Envelope(id=env_id, received_at=datetime(2026, 3, 2, 9, tzinfo=UTC), channel="scan",
                       source_name='../wypowiedzenie "umowy" Łódź.pdf', content_type="application/pdf",
                       sha256=key, size=len(ORIGINAL)))
        s.flush()
        doc = Document(id=doc_id, envelope_id=env_id, part_index=0, doc_index=0, part_sha256=key, pages=1,
                       text="Składam wypowiedzenie umowy. Proszę o wyłączenie usług.", state=DocumentState.ROUTED,
                       language="pl", category="cancellation",
                       entities={"customer_id": ["MR-1234567"], "invoice_no": ["=HYPERLINK(1)"]})
        s.add(doc)
        s.flush()
        s.add(WorkItem(document_id=doc_id, queue="retention", priority=3, routing_rule="r", sla_policy="p",
                       sla_due=datetime(2026, 3, 9, tzinfo=UTC)))
        index_document(s, doc)
    with TestClient(create_app(ctx)) as client:
        yield client, ctx, env_id, doc_id


def auth(name: str) -> tuple[str, str]:
    return (name, f"{name}-password")


def actions(ctx: Context, actor: str) -> list[str]:
    with session_scope(ctx.db_url) as s:
        return list(s.scalars(select(AuditEvent.action).where(AuditEvent.actor == actor).order_by(AuditEvent.id)))


def test_only_auditors_and_supervisors(api: tuple[TestClient, Context, str, str]) -> None:
    client, _, env_id, doc_id = api
    for who in ("scan", "anna"):
        assert client.get("/api/archive/search", params={"q": "umowy"}, auth=auth(who)).status_code == 404
        assert client.get(f"/api/archive/envelopes/{env_id}/original", auth=auth(who)).status_code == 404
    assert client.get("/api/archive/search").status_code == 401
    assert client.get("/api/archive/search", params={"q": "umowy"}, auth=auth("boss")).status_code == 200


def test_search_with_filters_and_snippets(api: tuple[TestClient, Context, str, str]) -> None:
    client, ctx, _, doc_id = api
    r = client.get("/api/archive/search", auth=auth("audit"),
                   params={"q": '"wypowiedzenie umowy" wylacz*', "category": ["cancellation", "complaint"],
                           "customer": "MR 1234567", "date_from": "2026-03-01", "status": "new"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 1 and body["hits"][0]["document_id"] == doc_id
    assert "<mark>wyłączenie</mark>" in body["hits"][0]["snippet"]
    assert client.get("/api/archive/search", auth=auth("audit"),
                      params={"q": "umowy", "queue": "complaints"}).json()["total"] == 0
    assert client.get("/api/archive/search", auth=auth("audit"), params={"sort": "bogus"}).status_code == 422
    assert actions(ctx, "audit") == ["archive.searched", "archive.searched"]


def test_document_view_and_trail_are_audited(api: tuple[TestClient, Context, str, str]) -> None:
    client, ctx, _, doc_id = api
    r = client.get(f"/api/archive/documents/{doc_id}", auth=auth("audit"))
    assert r.status_code == 200 and r.json()["text"].startswith("Składam")
    trail = client.get(f"/api/archive/documents/{doc_id}/trail", auth=auth("audit")).json()
    assert [e["action"] for e in trail] == ["document.viewed"] and trail[0]["hash_ok"]
    r = client.get(f"/api/archive/documents/{doc_id}/trail", params={"format": "csv"}, auth=auth("audit"))
    assert r.headers["content-type"].startswith("text/csv") and "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["action"] for row in rows] == ["document.viewed", "document.trail_exported"]
    assert client.get("/api/archive/documents/nope", auth=auth("audit")).status_code == 404
    assert actions(ctx, "audit") == ["document.viewed", "document.trail_exported", "document.trail_exported"]


def test_original_download_is_an_attachment_and_audited(api: tuple[TestClient, Context, str, str]) -> None:
    client, ctx, env_id, _ = api
    r = client.get(f"/api/archive/envelopes/{env_id}/original", auth=auth("audit"))
    assert r.status_code == 200 and r.content == ORIGINAL
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-type"] == "application/octet-stream"
    cd = r.headers["content-disposition"]
    assert cd.startswith("attachment;") and "/" not in cd.split("filename*=")[0] and ".." not in cd
    assert "filename*=UTF-8''wypowiedzenie%20%22umowy%22%20%C5%81%C3%B3d%C5%BA.pdf" in cd
    assert actions(ctx, "audit") == ["envelope.original_downloaded"]
    with session_scope(ctx.db_url) as s:
        assert verify(s).ok


def test_csv_export_and_legal_hold(api: tuple[TestClient, Context, str, str]) -> None:
    client, ctx, env_id, doc_id = api
    r = client.get("/api/archive/export.csv", params={"q": "umowy"}, auth=auth("audit"))
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["document_id"] for row in rows] == [doc_id]
    assert rows[0]["invoice_no"] == "'=HYPERLINK(1)"  # never a live formula in a spreadsheet
    # auditors read everything and change nothing: holds are set and released by supervisors, with a reason
    hold = {"hold": True, "reason": "II C 1/26"}
    assert client.post(f"/api/archive/envelopes/{env_id}/legal-hold", json=hold,
                       auth=auth("audit")).status_code in (403, 404)
    assert client.post(f"/api/archive/envelopes/{env_id}/legal-hold", json={"hold": True},
                       auth=auth("boss")).status_code == 422
    r = client.post(f"/api/archive/envelopes/{env_id}/legal-hold", json=hold, auth=auth("boss"))
    assert r.status_code == 200 and r.json()["legal_hold"] is True
    assert client.post(f"/api/archive/envelopes/{env_id}/legal-hold", json={"hold": False},
                       auth=auth("boss")).status_code == 422  # releasing needs its reason too
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, env_id)
        assert env is not None and env.legal_hold
    r = client.post(f"/api/archive/envelopes/{env_id}/legal-hold", json={"hold": False, "reason": "order lifted"},
                    auth=auth("boss"))
    assert r.status_code == 200 and r.json()["legal_hold"] is False
    assert actions(ctx, "audit") == ["archive.exported"]
    assert actions(ctx, "boss") == ["envelope.legal_hold_set", "envelope.legal_hold_released"]
