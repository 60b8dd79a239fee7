"""The HTTP API over a real redis-server and a real rq worker (burst mode, in this process)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from ground.settings import Settings
from pipeline.context import Context, get_context
from pipeline.jobs import job_queue
from storage.blobs import sha256_hex
from storage.db import session_scope
from storage.models import Envelope, Role
from storage.users import upsert_user
from tests.support.agents import join_every_queue
from web.app import SecurityHeaders, create_app, ready_to_serve, resolve_routes

USERS = {"scan": Role.SCANNER, "anna": Role.AGENT, "petr": Role.AGENT, "boss": Role.SUPERVISOR,
         "audit": Role.AUDITOR}


@pytest.fixture
def api(redis_settings: Settings) -> Iterator[tuple[TestClient, Context]]:
    ctx = get_context(redis_settings)
    with session_scope(ctx.db_url) as s:
        for name, role in USERS.items():
            upsert_user(s, name, f"{name}-password", role)
        join_every_queue(s, ctx.rules)  # an agent without memberships works no queue
    with TestClient(create_app(ctx)) as client:
        yield client, ctx


def auth(name: str) -> tuple[str, str]:
    return (name, f"{name}-password")


def drain(ctx: Context) -> None:
    queue = job_queue(ctx.settings)
    SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer).work(burst=True)


def _letter(corpus_dir: Path, form: str) -> tuple[Path, dict]:
    manifest = json.loads((corpus_dir / "manifest.json").read_text())["files"]
    rec = next(r for r in manifest if r["form"] == form and len(r["documents"]) == 1)
    return corpus_dir / rec["file"], rec


def test_upload_is_processed_through_redis_into_a_queue(api, corpus_dir: Path) -> None:
    client, ctx = api
    path, rec = _letter(corpus_dir, "scan_png")
    data = path.read_bytes()
    r = client.post("/api/envelopes", auth=auth("scan"), files={"file": (path.name, data, "image/png")},
                    data={"channel": "scan"})
    assert r.status_code == 202, r.text
    env_id = r.json()["envelope_id"]
    with session_scope(ctx.db_url) as s:  # acknowledged ⇒ original stored and row committed
        env = s.get(Envelope, env_id)
        assert env is not None and ctx.blobs.get(env.sha256) == data and env.sha256 == sha256_hex(data)
    assert len(job_queue(ctx.settings)) == 1
    drain(ctx)
    status = client.get(f"/api/envelopes/{env_id}", auth=auth("scan")).json()
    assert status["state"] == "processed"
    [doc] = status["documents"]
    assert doc["language"] == rec["documents"][0]["language"]
    item = doc["work_item"]
    queues = {q["id"]: q for q in client.get("/api/queues", auth=auth("anna")).json()}
    assert queues[item["queue"]]["counts"]["new"] == 1
    nxt = client.post(f"/api/queues/{item['queue']}/next", auth=auth("anna"))
    assert nxt.status_code == 200 and nxt.json()["id"] == item["id"] and nxt.json()["assignee"] == "anna"
    assert client.post(f"/api/queues/{item['queue']}/next", auth=auth("petr")).status_code == 204
    assert client.post(f"/api/work-items/{item['id']}/claim", auth=auth("petr")).status_code == 409
    detail = client.get(f"/api/work-items/{item['id']}", auth=auth("anna")).json()
    assert detail["text"] and detail["category"] == doc["category"]
    done = client.post(f"/api/work-items/{item['id']}/complete", auth=auth("anna"))
    assert done.status_code == 200 and done.json()["state"] == "done"


def test_same_upload_twice_is_one_envelope(api, corpus_dir: Path) -> None:
    client, ctx = api
    path, _ = _letter(corpus_dir, "text_pdf")
    files = {"file": (path.name, path.read_bytes(), "application/pdf")}
    first = client.post("/api/envelopes", auth=auth("scan"), files=files, headers={"Idempotency-Key": "batch-1"})
    second = client.post("/api/envelopes", auth=auth("scan"), files=files, headers={"Idempotency-Key": "batch-1"})
    assert first.status_code == second.status_code == 202
    assert second.json() == {**first.json(), "duplicate": True}
    drain(ctx)
    drain(ctx)
    status = client.get(f"/api/envelopes/{first.json()['envelope_id']}", auth=auth("scan")).json()
    assert len(status["documents"]) == 1 and status["documents"][0]["work_item"] is not None


def test_unsupported_upload_is_quarantined_with_original(api) -> None:
    client, ctx = api
    payload = b"MZ\x90\x00 definitely not a letter" * 20
    r = client.post("/api/envelopes", auth=auth("scan"), files={"file": ("letter.pdf.exe", payload, "x/y")})
    assert r.status_code == 415
    body = r.json()["detail"]
    assert "send it as" in body["reason"]
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, body["envelope_id"])
        assert env is not None and env.state == "quarantined" and ctx.blobs.get(env.sha256) == payload


def test_auth_and_roles(api) -> None:
    client, _ = api
    assert client.get("/api/queues").status_code == 401
    assert client.get("/api/queues", auth=("anna", "wrong")).status_code == 401
    assert client.get("/api/queues", auth=auth("scan")).status_code == 404  # a scanner has no queues
    r = client.post("/api/envelopes", auth=auth("anna"), files={"file": ("a.txt", b"x", "text/plain")})
    assert r.status_code == 404
    assert client.get("/api/envelopes/nope", auth=auth("audit")).status_code == 404
    assert client.get("/api/health").json()["redis"] == "ok"
    schema = client.get("/openapi.json").json()
    assert "/api/envelopes" in schema["paths"] and "/api/queues/{queue}/next" in schema["paths"]
    assert client.get("/api/health").headers["x-content-type-options"] == "nosniff"


def test_security_headers_on_every_response_and_a_routes_own_kept(api) -> None:
    """Set on answers of the app, of the body gate (401 before a body is read) and of an unknown path, with
    one header each; a response that sets its own value keeps it."""
    client, _ = api
    for r in (client.get("/api/health"), client.post("/api/next", json={}), client.get("/no/such/page")):
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert r.headers["referrer-policy"] == "no-referrer", r.url
        assert r.headers.get_list("referrer-policy") == ["no-referrer"], r.url
    assert client.post("/api/next", json={}).status_code == 401

    async def own(scope: dict, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 200,  # type: ignore[operator]
                    "headers": [(b"referrer-policy", b"same-origin")]})
        await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]

    r = TestClient(SecurityHeaders(own)).get("/")  # type: ignore[arg-type]
    assert r.headers.get_list("referrer-policy") == ["same-origin"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_routes_resolved_before_serving_need_no_analysis_at_request_time(redis_settings: Settings,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """``serve`` resolves every route's dependencies before it forks its web processes: afterwards no request,
    to any router, analyses a route (FastAPI does that lazily per included router on its first request)."""
    import fastapi.routing

    app = create_app(get_context(redis_settings))
    assert resolve_routes(app) >= 150  # every API and page route of every router

    def analysed(*args: object, **kwargs: object) -> None:
        raise AssertionError("a route's dependencies were analysed while answering a request")

    monkeypatch.setattr(fastapi.routing, "get_dependant", analysed)
    client = TestClient(app)
    for path in ("/api/health", "/api/queues", "/agent", "/mailroom", "/auditor", "/admin/users", "/customers"):
        assert client.get(path, follow_redirects=False).status_code in (200, 303, 401), path
    assert client.post("/api/next", json={}).status_code == 401

    fresh = create_app(get_context(redis_settings))  # without resolve_routes, the first request analyses
    with pytest.raises(AssertionError, match="analysed"):
        TestClient(fresh).get("/agent", follow_redirects=False)


def test_ready_to_serve_resolves_the_routes_and_freezes_the_start_ups_objects(redis_settings: Settings) -> None:
    """Before serve forks its web processes: no full garbage collection walks the modules, routes and models
    again (a collection stops every thread of the process, the one holding SQLite's write lock included)."""
    import gc

    app = create_app(get_context(redis_settings))
    gc.unfreeze()
    try:
        assert ready_to_serve(app) == resolve_routes(app) >= 150
        frozen = gc.get_freeze_count()
        assert frozen > 100_000  # every object of the start-up: modules, routes, models
        assert len(gc.get_objects(generation=2)) < frozen // 10  # a full collection walks only what came after
    finally:
        gc.unfreeze()
