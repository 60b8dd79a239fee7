"""The security review of issue 15, one test (or a few) per finding: request bodies refused before they are
read, no parsing on the event loop, audited reads and administration, idempotency keys and duplicates per
submitter, station tokens (station, scope, expiry), throttling, Basic auth and browsers, Secure cookies
behind a TLS proxy, sign-out ending the session, /api/ready without paths, Redis with a password, and a
pixel budget for page images drawn in the API process. Each of them failed on the code before its fix."""

from __future__ import annotations

import asyncio
import base64
import getpass
import inspect
import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from ground.records import Channel
from intake import Arrival, accept
from pipeline.context import Context
from pipeline.runner import run_inline
from storage.audit import record
from storage.db import session_scope
from storage.models import ApiToken, AuditEvent, Document, Envelope, EnvelopeState, LoginFailure, Role, WorkItem
from storage.users import (
    MAX_ACCOUNT_FAILURES,
    MAX_ADDRESS_FAILURES,
    LoginThrottled,
    check_throttle,
    create_token,
    disable_user,
    record_failure,
    revoke_token,
    upsert_user,
)
from tests.hostile.make_corpus import png_bomb
from tests.support.agents import join_every_queue
from tests.support.servers import free_port
from web import api_intake
from web.app import create_app
from web.deps import SESSION_COOKIE, api_routes

ROOT = Path(__file__).resolve().parent.parent
USERS = {"scan": Role.SCANNER, "scan2": Role.SCANNER, "boss": Role.SUPERVISOR, "audit": Role.AUDITOR,
         "anna": Role.AGENT, "root": Role.ADMIN}
CLI_ACTOR = f"cli:{getpass.getuser()}"
MB = 1024 * 1024


def basic(name: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{name}-password".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def events(ctx: Context, action: str, **where: Any) -> list[AuditEvent]:
    with session_scope(ctx.db_url) as s:
        q = select(AuditEvent).where(AuditEvent.action == action)
        for name, value in where.items():
            q = q.where(getattr(AuditEvent, name) == value)
        return list(s.scalars(q.order_by(AuditEvent.id)))


@pytest.fixture
def app_ctx(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Context:
    """Users of every role; uploads are stored and committed, but not enqueued (no Redis needed here)."""
    monkeypatch.setattr(api_intake, "enqueue", lambda ctx: (lambda envelope_id: None))
    with session_scope(ctx.db_url) as s:
        for name, role in USERS.items():
            upsert_user(s, name, f"{name}-password", role)
        join_every_queue(s, ctx.rules)
    return ctx


@pytest.fixture
def client(app_ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(app_ctx), follow_redirects=False) as c:
        yield c


def upload(client: TestClient, headers: dict[str, str], data: bytes, name: str = "letter.pdf",
           key: str | None = None) -> httpx.Response:
    if key:
        headers = {**headers, "Idempotency-Key": key}
    return client.post("/api/envelopes", headers=headers, files={"file": (name, data, "application/pdf")})


def pdf(n: int) -> bytes:
    """A distinct small PDF-looking file (stored and answered 202 whatever its pages)."""
    return b"%PDF-1.4\n% letter " + str(n).encode() + b"\n" + b"x" * 100 + b"\n%%EOF\n"


# ---------------------------------------------------------------- 1. request bodies before authentication


class CountingBody:
    """A request body generated as the app asks for it; ``sent`` says how much of it the app read."""

    def __init__(self, total: int, chunk: int = 64 * 1024, prefix: bytes = b"") -> None:
        self.total, self.chunk, self.sent, self.prefix = total, chunk, 0, prefix

    async def __aiter__(self) -> AsyncIterator[bytes]:
        block = b"-" * self.chunk
        if self.prefix:
            self.sent += len(self.prefix)
            yield self.prefix
        while self.sent < self.total:
            n = min(self.chunk, self.total - self.sent)
            self.sent += n
            yield block[:n]


def asgi_post(app: Any, path: str, headers: dict[str, str], body: CountingBody) -> tuple[httpx.Response, float]:
    """POST ``body`` straight into the ASGI app (no server in between), timed by the client."""
    async def go() -> tuple[httpx.Response, float]:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            t0 = time.monotonic()
            r = await c.post(path, content=body, headers=headers)
            return r, time.monotonic() - t0

    return asyncio.run(go())


MULTIPART = {"Content-Type": "multipart/form-data; boundary=XyZ"}
FILE_PART = (b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
             b"Content-Type: application/pdf\r\n\r\n%PDF-1.4\n")  # then the file's bytes, forever


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_anonymous_50_mb_body_is_refused_without_being_read(app_ctx: Context, declared: bool) -> None:
    """The issue's acceptance: an anonymous 50 MB body is refused within a second. Measured by the client
    (bound 5 s on this shared, loaded machine; typically a few ms), and the app read none of it."""
    app = create_app(app_ctx)
    json_type = {"Content-Type": "application/json"}
    for path, ctype, prefix in (("/api/envelopes", MULTIPART, FILE_PART),  # a well-formed upload, 50 MB long
                                ("/api/work-items/1/hold", json_type, b'{"reason": "')):
        body = CountingBody(50 * MB, prefix=prefix)
        headers = {**ctype, **({"Content-Length": str(body.total)} if declared else {})}
        r, took = asgi_post(app, path, headers, body)
        assert body.sent <= 64 * 1024, f"{path}: the app read {body.sent} bytes of an anonymous body"
        assert r.status_code in (401, 413), (path, r.status_code, r.text)
        assert took < 5, took
        if r.status_code == 401:
            assert r.headers["www-authenticate"].startswith("Bearer")


def test_too_large_authenticated_upload_is_413_without_reading_it(app_ctx: Context) -> None:
    app_ctx.settings.max_upload_bytes = 2 * MB
    app = create_app(app_ctx)
    body = CountingBody(40 * MB)
    r, _ = asgi_post(app, "/api/envelopes", {**MULTIPART, **basic("scan"), "Content-Length": str(body.total)}, body)
    assert r.status_code == 413 and body.sent == 0, (r.status_code, body.sent)
    body = CountingBody(40 * MB, prefix=FILE_PART)  # chunked: counted as it streams and cut at the limit
    r, _ = asgi_post(app, "/api/envelopes", {**MULTIPART, **basic("scan")}, body)
    assert r.status_code == 413 and body.sent <= 2 * MB + 64 * 1024 + body.chunk, (r.status_code, body.sent)
    with session_scope(app_ctx.db_url) as s:
        assert s.scalar(select(Envelope.id)) is None
    body = CountingBody(1 * MB)  # a signed-in agent may not upload at all: 404 before its body is read
    r, _ = asgi_post(app, "/api/envelopes", {**MULTIPART, **basic("anna"), "Content-Length": str(body.total)}, body)
    assert r.status_code == 404 and body.sent == 0


@pytest.fixture
def server(app_ctx: Context) -> Iterator[int]:
    """The app under a real uvicorn (in a thread), as `mailroom api` runs it."""
    import uvicorn

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(app_ctx), host="127.0.0.1", port=port, log_level="warning",
                                        proxy_headers=False))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield port
    finally:
        srv.should_exit = True
        thread.join(timeout=30)


def test_anonymous_50_mb_upload_over_a_socket_is_answered_before_its_body(server: int) -> None:
    """Over TCP: the headers announce 50 MB, the client sends 64 kB and waits. The server answers 401 and
    closes; before the fix it waited for the other 49.9 MB (this client never sends them: recv timed out)."""
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock:
        t0 = time.monotonic()
        sock.sendall(b"POST /api/envelopes HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=XyZ"
                     b"\r\nContent-Length: " + str(50 * MB).encode() + b"\r\n\r\n" + FILE_PART + b"-" * 65536)
        sock.settimeout(5)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        took = time.monotonic() - t0
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b"connection: close" in answer.lower()
    assert took < 5, took  # the issue asks for < 1 s; this loaded machine gets a generous bound


# ---------------------------------------------------------------- 2. no parsing on the event loop


def test_upload_runs_in_the_thread_pool_and_the_loop_keeps_answering(app_ctx: Context,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """While an upload is being stored and explored (here: a receive() that takes 8 s), other requests on the
    same event loop are answered: a page asked for when receive() starts is there before receive() returns
    (before the fix, receive() ran on the event loop and the page came only after it)."""
    real = api_intake.receive
    started: list[float] = []
    ended: list[float] = []

    def slow_receive(*args: Any, **kwargs: Any) -> Any:
        started.append(time.monotonic())
        time.sleep(8)
        ended.append(time.monotonic())
        return real(*args, **kwargs)

    monkeypatch.setattr(api_intake, "receive", slow_receive)
    app = create_app(app_ctx)

    async def go() -> tuple[int, int, float]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as c:
            up = asyncio.create_task(c.post("/api/envelopes", headers=basic("scan"),
                                            files={"file": ("a.pdf", pdf(1), "application/pdf")}))
            while not started and not up.done():
                await asyncio.sleep(0.02)
            page = await c.get("/static/app.css")
            answered = time.monotonic()
            return (await up).status_code, page.status_code, answered

    up_status, page_status, answered = asyncio.run(go())
    assert up_status == 202 and page_status == 200
    assert answered < ended[0], (f"the page came {answered - started[0]:.1f} s after receive() started, after it "
                                 "returned: the event loop was blocked")


def test_no_async_route_calls_blocking_code() -> None:
    """Every ``async def`` endpoint in web/ is listed here with why it is safe; the rest are plain ``def``
    (FastAPI runs them in its thread pool)."""
    from web.app import ROUTERS

    safe = {"/api/events"}  # awaits run_in_threadpool for every database call
    found = {r.path for router in ROUTERS for r in api_routes(router.routes)
             if inspect.iscoroutinefunction(getattr(r, "endpoint", None))}
    assert found <= safe, f"async routes that may block the event loop: {sorted(found - safe)}"


# ---------------------------------------------------------------- 3. reads of personal data are audited


@pytest.fixture(scope="module")
def letter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from corpus.generate import generate

    out = tmp_path_factory.mktemp("letter")
    [rec] = generate(out, seed=9, count=1, forms=["text_pdf"])
    return out / rec["file"]


def routed(ctx: Context, path: Path, submitted_by: str = "scan") -> tuple[str, str, int]:
    now = datetime.now(UTC)
    with session_scope(ctx.db_url) as s:
        got = accept(Arrival(data=path.read_bytes(), name=path.name, channel=Channel.SCAN,
                             content_type="application/pdf", received_at=now, submitted_by=submitted_by), s, ctx.blobs)
    [doc_id] = run_inline(ctx, got.envelope_id)
    with session_scope(ctx.db_url) as s:
        item = s.scalars(select(WorkItem).where(WorkItem.document_id == doc_id)).one()
        return got.envelope_id, doc_id, item.id


def test_api_reads_of_personal_data_are_audited(app_ctx: Context, client: TestClient, letter: Path) -> None:
    env_id, doc_id, item_id = routed(app_ctx, letter)
    assert client.get(f"/api/envelopes/{env_id}", headers=basic("boss")).status_code == 200
    [ev] = events(app_ctx, "envelope.viewed", envelope_id=env_id)
    assert ev.actor == "boss" and ev.detail["documents"] == [doc_id]
    assert client.get(f"/api/batches/{env_id}", headers=basic("audit")).status_code == 200
    assert [e.actor for e in events(app_ctx, "envelope.batch_viewed", envelope_id=env_id)] == ["audit"]
    r = client.get(f"/agent/items/{item_id}/pages/1.png", headers=basic("anna"))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    [ev] = events(app_ctx, "document.page_viewed", document_id=doc_id)
    assert ev.actor == "anna" and ev.work_item_id == item_id and ev.detail == {"page": 1}


def test_quarantine_detail_is_for_held_envelopes_only_and_audited(app_ctx: Context, client: TestClient,
                                                                  letter: Path) -> None:
    env_id, _, _ = routed(app_ctx, letter)
    r = client.get(f"/api/quarantine/{env_id}", headers=basic("boss"))  # processed, not held
    assert r.status_code == 404 and r.json() == {"detail": "Not found."}
    assert not events(app_ctx, "envelope.quarantine_viewed")
    with session_scope(app_ctx.db_url) as s:
        s.execute(update(Envelope).where(Envelope.id == env_id).values(state=EnvelopeState.QUARANTINED,
                                                                        error="test"))
    r = client.get(f"/api/quarantine/{env_id}", headers=basic("audit"))
    assert r.status_code == 200 and r.json()["reason"] == "test"
    assert [e.actor for e in events(app_ctx, "envelope.quarantine_viewed", envelope_id=env_id)] == ["audit"]


def test_cli_reads_are_audited_as_the_os_user(app_ctx: Context, letter: Path, capsys: pytest.CaptureFixture) -> None:
    from mailroom.cli import main

    env_id, _, _ = routed(app_ctx, letter)
    capsys.readouterr()
    assert main(["process", "--json", "--jobs", "1", str(letter)]) == 0
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    viewed = events(app_ctx, "document.viewed", document_id=line["document_id"])
    assert [e.actor for e in viewed] == [CLI_ACTOR] and viewed[0].detail["command"] == "process"
    assert main(["batch", env_id]) == 0
    assert [e.actor for e in events(app_ctx, "envelope.batch_viewed", envelope_id=env_id)] == [CLI_ACTOR]
    with session_scope(app_ctx.db_url) as s:
        s.execute(update(Envelope).where(Envelope.id == env_id).values(state=EnvelopeState.QUARANTINED))
    assert main(["quarantine", "show", env_id]) == 0
    assert [e.actor for e in events(app_ctx, "envelope.quarantine_viewed", envelope_id=env_id)] == [CLI_ACTOR]
    assert main(["ocr", str(letter)]) == 0
    [ev] = events(app_ctx, "file.ocr_read")
    assert ev.actor == CLI_ACTOR and ev.detail["name"] == letter.name and len(ev.detail["sha256"]) == 64


# ---------------------------------------------------------------- 4. administration is audited


def test_user_and_token_administration_is_audited_without_secrets(app_ctx: Context) -> None:
    now = datetime.now(UTC)
    with session_scope(app_ctx.db_url) as s:
        upsert_user(s, "newbie", "first-password-1", Role.AGENT, actor="root")
        upsert_user(s, "newbie", "second-password-2", Role.SUPERVISOR, actor="root")
        token, plain = create_token(s, "newbie", "station 7", now, actor="root", station="st-7", scope="upload",
                                    expires_at=now + timedelta(days=90))
        revoke_token(s, token.id, now, actor="root")
        disable_user(s, "newbie", now, actor="root")
        hashes = [s.scalar(select(ApiToken.token_hash).where(ApiToken.id == token.id))]
    wanted = ["user.created", "user.role_changed", "user.password_set", "token.created", "token.revoked",
              "user.disabled"]
    with session_scope(app_ctx.db_url) as s:
        trail = [e for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))
                 if e.action in wanted and e.detail.get("user") == "newbie"]
    assert [e.action for e in trail] == wanted and {e.actor for e in trail} == {"root"}
    assert trail[1].detail == {"user": "newbie", "from": "agent", "to": "supervisor"}
    assert trail[3].detail["station"] == "st-7" and trail[3].detail["scope"] == "upload"
    dump = json.dumps([e.detail for e in trail])
    for secret in ("first-password-1", "second-password-2", plain, plain[4:12], *hashes, "$argon2"):
        assert secret not in dump


def test_cli_administration_names_the_os_user(app_ctx: Context, capsys: pytest.CaptureFixture) -> None:
    from mailroom.cli import main

    assert main(["users", "add", "clara", "--role", "agent", "--password", "clara-password-1"]) == 0
    assert main(["users", "token", "clara", "--station", "desk-3", "--scope", "upload", "--expires", "90d"]) == 0
    plain = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["users", "disable", "clara"]) == 0
    for action in ("user.created", "token.created", "user.disabled"):
        assert [e.actor for e in events(app_ctx, action)][-1] == CLI_ACTOR, action
    with session_scope(app_ctx.db_url) as s:
        token = s.scalars(select(ApiToken).where(ApiToken.prefix == plain[:12])).one()
        assert token.station == "desk-3" and token.scope == "upload" and token.revoked_at is not None
        assert abs(token.expires_at - (datetime.now(UTC) + timedelta(days=90))) < timedelta(minutes=5)


def test_training_a_model_is_audited(app_ctx: Context, tmp_path: Path) -> None:
    from mailroom.cli import main

    assert main(["train", "--per-pair", "2", "--epochs", "1", "--no-corrections", "--out",
                 str(tmp_path / "model")]) == 0
    [ev] = events(app_ctx, "model.trained")
    assert ev.actor == CLI_ACTOR and ev.detail["out"] == str(tmp_path / "model") and ev.detail["version"]


def test_queue_members_and_skills_are_audited(client: TestClient, app_ctx: Context) -> None:
    queue = app_ctx.rules.queues[0].id
    assert client.put(f"/api/queues/{queue}/members", headers=basic("boss"), json={"usernames": ["anna"]}) \
        .status_code == 200
    assert client.put("/api/agents/anna/skills", headers=basic("boss"), json={"languages": ["pl"]}).status_code == 200
    assert events(app_ctx, "queue.members_set")[-1].actor == "boss"
    assert events(app_ctx, "agent.skills_set")[-1].actor == "boss"


# ---------------------------------------------------------------- 5. dedupe per submitter


def test_one_submitters_idempotency_key_does_not_swallow_anothers_upload(client: TestClient,
                                                                         app_ctx: Context) -> None:
    first = upload(client, basic("scan"), pdf(1), key="batch-0001")
    assert first.status_code == 202 and not first.json()["duplicate"]
    other = upload(client, basic("scan2"), pdf(2), key="batch-0001")  # the same key, another station
    assert other.status_code == 202, other.text
    assert not other.json()["duplicate"] and other.json()["envelope_id"] != first.json()["envelope_id"]
    again = upload(client, basic("scan"), pdf(1), key="batch-0001")  # the owner's retry is still recognised
    assert again.json()["duplicate"] and again.json()["envelope_id"] == first.json()["envelope_id"]
    retry_other_bytes = upload(client, basic("scan"), pdf(3), key="batch-0001")
    assert retry_other_bytes.json()["envelope_id"] == first.json()["envelope_id"]
    with session_scope(app_ctx.db_url) as s:
        owners = sorted(s.scalars(select(Envelope.submitted_by)))
    assert owners == ["scan", "scan2"]


def test_same_bytes_from_another_submitter_do_not_reveal_the_first(client: TestClient, app_ctx: Context) -> None:
    first = upload(client, basic("scan"), pdf(10)).json()
    theirs = upload(client, basic("scan2"), pdf(10))
    assert theirs.status_code == 202
    body = theirs.json()
    assert first["envelope_id"] not in theirs.text
    assert body["duplicate"] is False and body["state"] == "received"  # looks like any new upload
    assert upload(client, basic("scan2"), pdf(10)).json() == body  # the same receipt on a retry
    assert client.get(f"/api/batches/{body['envelope_id']}", headers=basic("scan2")).status_code == 404
    assert client.get(f"/api/batches/{first['envelope_id']}", headers=basic("scan2")).status_code == 404
    hidden = events(app_ctx, "envelope.duplicate_hidden", envelope_id=first["envelope_id"])
    assert len(hidden) == 2 and {(e.actor, e.detail["receipt"]) for e in hidden} == {("scan2", body["envelope_id"])}
    own = upload(client, basic("scan"), pdf(10)).json()  # the submitter itself, and a supervisor, see it
    assert own["envelope_id"] == first["envelope_id"] and own["duplicate"]
    assert upload(client, basic("boss"), pdf(10)).json()["envelope_id"] == first["envelope_id"]


# ---------------------------------------------------------------- 6. station tokens


@dataclass
class Station:
    token: str
    token_id: int


def station_token(ctx: Context, user: str, station: str, scope: str = "upload",
                  expires: timedelta | None = timedelta(days=90)) -> Station:
    now = datetime.now(UTC)
    with session_scope(ctx.db_url) as s:
        token, plain = create_token(s, user, f"station {station}", now, actor="root", station=station, scope=scope,
                                    expires_at=now + expires if expires else None)
        return Station(plain, token.id)


def test_station_token_records_its_station_and_may_only_upload(client: TestClient, app_ctx: Context) -> None:
    a = station_token(app_ctx, "boss", "desk-a")  # upload scope limits even a supervisor's token
    b = station_token(app_ctx, "boss", "desk-b")
    r = upload(client, bearer(a.token), pdf(20))
    assert r.status_code == 202, r.text
    env_id = r.json()["envelope_id"]
    with session_scope(app_ctx.db_url) as s:
        env = s.get(Envelope, env_id)
        assert env is not None and env.station == "desk-a" and env.submitted_by == "boss"
    [ev] = events(app_ctx, "envelope.received", envelope_id=env_id)
    assert ev.detail["station"] == "desk-a" and ev.detail["token_id"] == a.token_id
    assert client.get(f"/api/batches/{env_id}", headers=bearer(a.token)).status_code == 200
    assert client.get(f"/api/batches/{env_id}", headers=bearer(b.token)).status_code == 404  # another station's
    for method, url in (("GET", f"/api/envelopes/{env_id}"), ("GET", "/api/quarantine"),
                        ("GET", "/api/archive/search?q=x"), ("GET", "/api/supervisor/queues"),
                        ("POST", f"/api/quarantine/{env_id}/retry"), ("GET", "/supervisor")):
        assert client.request(method, url, headers=bearer(a.token)).status_code in (403, 404), (method, url)
    full = station_token(app_ctx, "boss", "desk-c", scope="full")
    assert client.get("/api/quarantine", headers=bearer(full.token)).status_code == 200


def test_expired_or_revoked_station_tokens_do_not_authenticate(client: TestClient, app_ctx: Context) -> None:
    st = station_token(app_ctx, "scan", "desk-x", expires=timedelta(hours=1))
    assert upload(client, bearer(st.token), pdf(30)).status_code == 202
    with session_scope(app_ctx.db_url) as s:
        s.execute(update(ApiToken).where(ApiToken.id == st.token_id)
                  .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    r = upload(client, bearer(st.token), pdf(31))
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_idempotency_keys_of_two_stations_of_one_user_are_apart(client: TestClient, app_ctx: Context) -> None:
    a, b = station_token(app_ctx, "scan", "desk-1"), station_token(app_ctx, "scan", "desk-2")
    one = upload(client, bearer(a.token), pdf(40), key="k-1").json()
    two = upload(client, bearer(b.token), pdf(41), key="k-1").json()
    assert one["envelope_id"] != two["envelope_id"] and not two["duplicate"]


# ---------------------------------------------------------------- 7. smaller findings


def test_throttling_per_account_and_per_address(app_ctx: Context) -> None:
    now = datetime.now(UTC)
    with session_scope(app_ctx.db_url) as s:
        for i in range(MAX_ACCOUNT_FAILURES):  # one guess from each of many addresses
            record_failure(s, "boss", f"198.51.100.{i}", now)
        for i in range(MAX_ADDRESS_FAILURES):  # one address guessing many accounts
            record_failure(s, f"user-{i}", "203.0.113.9", now)
    with session_scope(app_ctx.db_url) as s:
        with pytest.raises(LoginThrottled, match="boss"):
            check_throttle(s, "boss", "192.0.2.200", now)  # an address never seen before
        with pytest.raises(LoginThrottled, match="this address"):
            check_throttle(s, "somebody-new", "203.0.113.9", now)
        check_throttle(s, "scan", "192.0.2.200", now)  # others are not affected


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(app_ctx: Context) -> None:
    wrong = {"Authorization": "Basic " + base64.b64encode(b"boss:wrong").decode()}
    with TestClient(create_app(app_ctx), client=("192.0.2.50", 5000)) as c:
        for i in range(5):  # a client that makes up a new X-Forwarded-For for every guess
            c.get("/api/quarantine", headers={**wrong, "X-Forwarded-For": f"10.9.9.{i}"})
        assert c.get("/api/quarantine", headers={**wrong, "X-Forwarded-For": "10.9.9.99"}).status_code == 429
    app_ctx.settings.trusted_proxies = ["192.0.2.60/32"]
    with TestClient(create_app(app_ctx), client=("192.0.2.60", 5000)) as c:  # behind the proxy: per client
        for i in range(5):
            assert c.get("/api/quarantine", headers={**wrong, "X-Forwarded-For": f"10.8.8.{i}"}).status_code == 401
    with session_scope(app_ctx.db_url) as s:
        ips = set(s.scalars(select(LoginFailure.ip)))
    assert {f"10.8.8.{i}" for i in range(5)} <= ips and "10.9.9.1" not in ips


def test_api_never_asks_browsers_for_basic_and_refuses_basic_from_them(client: TestClient) -> None:
    r = client.get("/api/queues")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert "basic" not in " ".join(r.headers.get_list("www-authenticate")).lower()
    assert client.get("/api/quarantine", headers=basic("boss")).status_code == 200  # a script
    browser = {"Origin": "https://evil.example", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "cross-site"}
    r = client.get("/api/quarantine", headers={**basic("boss"), **browser})
    assert r.status_code == 401 and "browser" in r.json()["detail"]
    r = client.post("/api/envelopes", headers={**basic("scan"), "Sec-Fetch-Mode": "navigate"},
                    files={"file": ("x.pdf", pdf(50), "application/pdf")})  # a cross-site form post
    assert r.status_code == 401


def _sign_in(c: TestClient, name: str) -> httpx.Response:
    page = c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = c.post("/login", data={"username": name, "password": f"{name}-password", "csrf_token": token, "next": "/"})
    assert r.status_code == 303, r.text
    return r


def _session_cookie(r: httpx.Response) -> str:
    return next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith(SESSION_COOKIE))


def _sign_in_by_hand(c: TestClient, name: str) -> str:
    """Sign in passing the form's cookie by hand (a Secure cookie is not sent back over the proxy's plain
    HTTP by the test client); returns the Set-Cookie of the session."""
    page = c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    login_cookie = page.cookies["mailroom_login"]
    c.cookies.clear()
    r = c.post("/login", data={"username": name, "password": f"{name}-password", "csrf_token": token, "next": "/"},
               headers={"Cookie": f"mailroom_login={login_cookie}"})
    assert r.status_code == 303, r.text
    return _session_cookie(r)


def test_session_cookie_is_secure_behind_a_trusted_tls_proxy(app_ctx: Context) -> None:
    tls = {"X-Forwarded-Proto": "https"}
    with TestClient(create_app(app_ctx), client=("192.0.2.70", 5000), follow_redirects=False,
                    headers=tls) as c:  # anyone may send the header: not believed
        assert "secure" not in _sign_in_by_hand(c, "boss").lower()
    app_ctx.settings.trusted_proxies = ["192.0.2.70"]
    with TestClient(create_app(app_ctx), client=("192.0.2.70", 5000), follow_redirects=False, headers=tls) as c:
        assert "secure" in _sign_in_by_hand(c, "boss").lower()  # the proxy terminates TLS and says so


def test_sign_out_ends_the_session_on_the_server(app_ctx: Context) -> None:
    with TestClient(create_app(app_ctx), follow_redirects=False) as c:
        _sign_in(c, "boss")
        kept = c.cookies[SESSION_COOKIE]  # a copy of the cookie, as a stolen one would be
        page = c.get("/supervisor")
        assert page.status_code == 200
        csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        assert c.post("/logout", data={"csrf_token": csrf}).status_code == 303
    with TestClient(create_app(app_ctx), follow_redirects=False) as c:
        c.cookies.set(SESSION_COOKIE, kept)
        assert c.get("/supervisor").status_code == 303  # to the sign-in page
        assert c.get("/api/quarantine").status_code == 401


def test_ready_does_not_show_the_data_path(client: TestClient, app_ctx: Context,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from web import ops

    monkeypatch.setattr(ops.os, "access", lambda *a, **k: False)
    r = client.get("/api/ready")
    assert r.status_code == 503 and r.json()["blobs"] == "not writable"
    assert str(app_ctx.settings.data) not in r.text and "/" not in r.json()["blobs"]


def test_redis_in_docker_compose_requires_a_password() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["redis"]["command"]
    assert "--requirepass" in command and command[command.index("--requirepass") + 1].startswith("${REDIS_PASSWORD")
    url = compose["services"]["api"]["environment"]["MAILROOM_REDIS_URL"]
    assert re.match(r"redis://:\$\{REDIS_PASSWORD[^}]*\}@redis:6379/", url), url


def _item_with_part(ctx: Context, data: bytes, name: str) -> int:
    """A work item (in a queue anna works) whose document's part is ``data``: an image attachment."""
    now = datetime.now(UTC)
    with session_scope(ctx.db_url) as s:
        got = accept(Arrival(data=data, name=name, channel=Channel.EMAIL, content_type="image/png",
                             received_at=now, submitted_by="scan"), s, ctx.blobs)
        env = s.get(Envelope, got.envelope_id)
        assert env is not None
        doc = Document(id=f"doc-{env.id[:8]}", envelope_id=env.id, part_index=0, doc_index=0, part_name=name,
                       part_sha256=env.sha256, pages=1, text="", entities={})
        s.add(doc)
        s.flush()
        item = WorkItem(document_id=doc.id, queue=ctx.rules.queues[0].id, priority=3, routing_rule="test",
                        sla_policy="test", sla_due=now + timedelta(days=3))
        s.add(item)
        s.flush()
        record(s, "system", "test.item", work_item_id=item.id)
        return item.id


@pytest.mark.parametrize("side", [40_000, 10_000], ids=["bomb-1.6-gigapixel", "100-megapixel"])
def test_page_images_have_a_pixel_budget_in_the_api_process(client: TestClient, app_ctx: Context, side: int) -> None:
    """A decompression-bomb PNG attachment (40,000², 1.6 Gpx) and an image below the workers' limit but above
    the page-image budget (10,000², 100 Mpx): refused from the header in well under a second, not decoded."""
    item_id = _item_with_part(app_ctx, png_bomb(side, real=True), f"bomb-{side}.png")
    with session_scope(app_ctx.db_url) as s:  # a token: the timing below is the page's, not a password hash's
        _, token = create_token(s, "anna", "viewer", datetime.now(UTC))
    assert client.get("/agent", headers=bearer(token)).status_code == 200  # warm: the pages' first use loads catalogs
    t0 = time.monotonic()
    r = client.get(f"/agent/items/{item_id}/pages/1.png", headers=bearer(token))
    took = time.monotonic() - t0
    assert r.status_code in (404, 413), (r.status_code, r.headers.get("content-type"))
    assert r.headers["content-type"] != "image/png"
    assert took < 5, took  # decoding 100 Mpx and drawing it took ~10 s here before the budget
    assert not events(app_ctx, "document.page_viewed")


# ---------------------------------------------------------------- migration 0013 on both databases


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of the given kind (PostgreSQL: a new database on the session's server)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    import uuid as uuid_mod

    from sqlalchemy import create_engine, text

    base = request.getfixturevalue("postgres_url")
    name = f"t_{uuid_mod.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    yield base.rsplit("/", 1)[0] + f"/{name}"


def test_migration_0013_scopes_stored_keys_on_sqlite_and_postgresql(old_database: str, tmp_path: Path) -> None:
    """`alembic upgrade heads` from a database at the auth revision (0006) holding an upload with a key: the key
    is rewritten to its scoped form (a retry by the same submitter still finds it, another's does not), and
    the new columns and tables are there."""
    from alembic import command
    from sqlalchemy import inspect as sa_inspect
    from sqlalchemy import text

    from storage.blobs import FsBlobStore
    from storage.db import alembic_config, get_engine, migrate

    url = old_database
    cfg = alembic_config(url)
    with get_engine(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006")
        conn.execute(text(
            "INSERT INTO envelopes (id, received_at, channel, source_name, content_type, sha256, size, "
            "idempotency_key, state, attempts, meta, submitted_by, updated_at) VALUES ('e-old', :t, 'scan', "
            "'old.pdf', 'application/pdf', :sha, 3, 'batch-7', 'processed', 0, '{}', 'scan', :t)"),
            {"t": "2026-01-05 09:00:00.000000", "sha": "a" * 64})
    migrate(url)
    insp = sa_inspect(get_engine(url))
    assert {"station", "scope", "expires_at"} <= {c["name"] for c in insp.get_columns("api_tokens")}
    assert "station" in {c["name"] for c in insp.get_columns("envelopes")}
    assert "web_sessions" in insp.get_table_names()
    with session_scope(url) as s:
        env = s.get(Envelope, "e-old")
        assert env is not None and env.idempotency_key == "4:scan:batch-7"
    blobs = FsBlobStore(tmp_path / "blobs")
    now = datetime.now(UTC)
    with session_scope(url) as s:
        again = accept(Arrival(data=b"%PDF-1.4 retry", name="old.pdf", channel=Channel.SCAN,
                               content_type="application/pdf", received_at=now, submitted_by="scan",
                               idempotency_key="batch-7"), s, blobs)
        other = accept(Arrival(data=b"%PDF-1.4 other", name="other.pdf", channel=Channel.SCAN,
                               content_type="application/pdf", received_at=now, submitted_by="scan2",
                               idempotency_key="batch-7"), s, blobs)
    assert getattr(again, "of", None) == "e-old"
    assert getattr(other, "envelope_id", None) not in (None, "e-old")
