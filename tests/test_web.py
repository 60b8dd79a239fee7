"""Sign-in, sessions, CSRF, API tokens, throttling and the pages, over a real SQLite database,
a real blob store and the real pipeline (text-layer PDFs, so no OCR wait)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from ground.records import Channel
from intake import Arrival, accept
from mailroom.cli import main
from pipeline.context import Context
from pipeline.runner import run_inline
from queues.work import set_members
from storage.db import session_scope
from storage.models import ApiToken, AuditEvent, Envelope, LoginFailure, Role, User, WorkItem
from storage.users import (
    MAX_FAILURES,
    authenticate,
    create_token,
    disable_user,
    hash_password,
    revoke_token,
    upsert_user,
    user_for_token,
)
from tests.support.agents import join_every_queue
from web.app import create_app
from web.deps import SESSION_COOKIE

USERS = {"scan": Role.SCANNER, "anna": Role.AGENT, "boss": Role.SUPERVISOR, "audit": Role.AUDITOR,
         "root": Role.ADMIN}


@pytest.fixture(scope="module")
def letters(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    from corpus.generate import generate

    out = tmp_path_factory.mktemp("letters")
    truth = generate(out, seed=5, count=3, forms=["text_pdf"])
    return out, truth


@pytest.fixture
def web(ctx: Context) -> Iterator[TestClient]:
    with session_scope(ctx.db_url) as s:
        for name, role in USERS.items():
            upsert_user(s, name, f"{name}-password", role, name.title())
        join_every_queue(s, ctx.rules)  # an agent without memberships works no queue
    with TestClient(create_app(ctx), follow_redirects=False) as client:
        yield client


def sign_in(client: TestClient, name: str, password: str | None = None) -> str:
    """Sign in through the form like a browser; returns the session's CSRF token."""
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = client.post("/login", data={"username": name, "password": password or f"{name}-password",
                                    "csrf_token": token, "next": "/"})
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"])
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def routed_letter(ctx: Context, letters: tuple[Path, list[dict]], index: int = 0,
                  name: str | None = None) -> tuple[WorkItem, dict]:
    out, truth = letters
    rec = truth[index]
    data = (out / rec["file"]).read_bytes()
    with session_scope(ctx.db_url) as s:
        res = accept(Arrival(data=data, name=name or rec["file"], channel=Channel.UPLOAD,
                             content_type="application/pdf", received_at=datetime.now(UTC), submitted_by="scan"),
                     s, ctx.blobs)
    [doc_id] = run_inline(ctx, res.envelope_id)
    with session_scope(ctx.db_url) as s:
        item = s.scalars(select(WorkItem).where(WorkItem.document_id == doc_id)).one()
    return item, rec["documents"][0]


# ---------------------------------------------------------------- passwords, tokens, throttling


def test_argon2_hashes_and_scrypt_is_rehashed_on_sign_in(ctx: Context) -> None:
    import base64
    import hashlib

    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(b"old-secret", salt=salt, n=2**14, r=8, p=1, dklen=32)
    legacy = f"scrypt${2**14}$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    assert hash_password("x").startswith("$argon2id$")
    with session_scope(ctx.db_url) as s:
        s.add(User(username="old", display_name="Old", role="agent", password_hash=legacy))
    with session_scope(ctx.db_url) as s:
        assert authenticate(s, "old", "wrong") is None
        assert authenticate(s, "old", "old-secret") is not None
    with session_scope(ctx.db_url) as s:
        user = s.scalars(select(User).where(User.username == "old")).one()
        assert user.password_hash.startswith("$argon2id$")
        assert authenticate(s, "old", "old-secret") is not None


def test_api_tokens_are_stored_hashed_and_stop_when_revoked_or_disabled(web: TestClient, ctx: Context) -> None:
    now = datetime.now(UTC)
    with session_scope(ctx.db_url) as s:
        _, plain = create_token(s, "scan", "station 1", now)
    with session_scope(ctx.db_url) as s:
        stored = s.scalars(select(ApiToken)).one()
        assert plain not in stored.token_hash and stored.prefix == plain[:12]
    bearer = {"Authorization": f"Bearer {plain}"}
    r = web.post("/api/envelopes", headers=bearer, files={"file": ("a.txt", b"\x00\x01garbage", "text/plain")})
    assert r.status_code in (202, 415, 422), r.text  # authenticated: the upload itself was judged
    assert web.get("/api/queues", headers=bearer).status_code == 404  # a scanner does not see queues
    assert web.get("/api/queues", headers={"Authorization": "Bearer mrt_nope"}).status_code == 401
    with session_scope(ctx.db_url) as s:
        disable_user(s, "scan", now)
    assert web.post("/api/envelopes", headers=bearer, files={"file": ("b.pdf", b"%PDF-1.4", "application/pdf")}
                    ).status_code == 401
    assert web.get("/api/health", auth=("scan", "scan-password")).status_code == 401


def test_sign_in_is_throttled_per_user_and_address(web: TestClient, ctx: Context) -> None:
    for _ in range(MAX_FAILURES):
        assert web.get("/api/queues", auth=("anna", "wrong")).status_code == 401
    assert web.get("/api/queues", auth=("anna", "anna-password")).status_code == 429
    page = web.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = web.post("/login", data={"username": "anna", "password": "anna-password", "csrf_token": token})
    assert r.status_code == 429 and "Too many failed sign-ins" in r.text
    assert web.get("/api/queues", auth=("boss", "boss-password")).status_code == 200  # other users unaffected
    with session_scope(ctx.db_url) as s:
        assert len(s.scalars(select(LoginFailure).where(LoginFailure.username == "anna")).all()) == MAX_FAILURES


# ---------------------------------------------------------------- sessions and CSRF


def test_sign_in_sets_a_hardened_session_and_pages_carry_csp(web: TestClient) -> None:
    assert web.get("/agent").status_code == 303  # anonymous: to the sign-in page
    assert web.get("/agent").headers["location"].startswith("/login?next=/agent")
    page = web.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    bad = web.post("/login", data={"username": "anna", "password": "nope", "csrf_token": token})
    assert bad.status_code == 401 and "Wrong user name or password" in bad.text
    assert web.post("/login", data={"username": "anna", "password": "anna-password",
                                    "csrf_token": "forged"}).status_code == 400
    page = web.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = web.post("/login", data={"username": "anna", "password": "anna-password", "csrf_token": token,
                                 "next": "//evil.example/"})
    assert r.status_code == 303 and r.headers["location"] == "/agent"  # never an open redirect
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    agent = web.get("/agent")
    assert agent.status_code == 200
    csp = agent.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert web.get("/auditor").status_code == 404  # an agent does not see the archive


def test_session_writes_need_the_csrf_token(web: TestClient, letters) -> None:  # type: ignore[no-untyped-def]
    out, truth = letters
    csrf = sign_in(web, "scan")
    data = (out / truth[0]["file"]).read_bytes()
    files = {"file": ("letter.pdf", data, "application/pdf")}
    assert web.post("/api/envelopes", files=files).status_code == 403
    assert web.post("/api/envelopes", files=files, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    r = web.post("/api/envelopes", files=files, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 202, r.text
    assert web.post("/logout").status_code == 403  # a form post without its token
    assert web.post("/logout", data={"csrf_token": csrf}).status_code == 303
    assert web.get("/mailroom").status_code == 303  # signed out


def test_disabling_a_user_ends_its_sessions(web: TestClient, ctx: Context) -> None:
    sign_in(web, "boss")
    assert web.get("/supervisor").status_code == 200
    with session_scope(ctx.db_url) as s:
        disable_user(s, "boss", datetime.now(UTC))
    assert web.get("/supervisor").status_code == 303


# ---------------------------------------------------------------- pages


def test_mailroom_page_lists_uploads_escaped_and_retries_quarantine(web: TestClient, ctx: Context,
                                                                    letters) -> None:  # type: ignore[no-untyped-def]
    routed_letter(ctx, letters, 0, name='<script>alert("x")</script>.pdf')
    csrf = sign_in(web, "scan")
    r = web.post("/api/envelopes", files={"file": ("empty.pdf", b"%PDF-1.4\n%%EOF", "application/pdf")},
                 headers={"X-CSRF-Token": csrf})
    assert r.status_code == 202
    env_id = r.json()["envelope_id"]
    run_inline(ctx, env_id)  # a PDF without pages: quarantined with a reason
    page = web.get("/mailroom")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;.pdf" in page.text
    quarantine = web.get("/mailroom/quarantine").text
    assert env_id in quarantine and "ask the sender" in quarantine
    r = web.post(f"/mailroom/quarantine/{env_id}/retry", headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert r.status_code == 200 and "Sent for processing again" in r.text
    with session_scope(ctx.db_url) as s:
        assert s.get(Envelope, env_id).state == "received"  # type: ignore[union-attr]
        events = s.scalars(select(AuditEvent.action).where(AuditEvent.envelope_id == env_id)).all()
        assert "envelope.retry" in events


def test_agent_works_an_item_from_the_page(web: TestClient, ctx: Context, letters) -> None:  # type: ignore[no-untyped-def]
    item, truth = routed_letter(ctx, letters, 1)
    csrf = sign_in(web, "anna")
    queues = web.get("/agent/queues").text
    assert f'data-queue="{item.queue}"' in queues
    r = web.post(f"/agent/queues/{item.queue}/next", data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == f"/agent/items/{item.id}"
    page = web.get(r.headers["location"])
    assert page.status_code == 200
    customer = truth["entities"].get("customer_id", [None])[0]
    if customer:
        assert re.search(r'<mark class="ent ent-customer_id"[^>]*>MR[\s-]?' + customer[3:], page.text)
    assert 'data-seconds-left="' in page.text
    png = web.get(f"/agent/items/{item.id}/pages/1.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).width > 500
    assert web.get(f"/agent/items/{item.id}/pages/9.png").status_code == 404
    done = web.post(f"/agent/items/{item.id}/complete", data={"csrf_token": csrf, "outcome": "answered"})
    assert done.status_code == 303
    with session_scope(ctx.db_url) as s:
        assert s.get(WorkItem, item.id).state == "done"  # type: ignore[union-attr]


def test_an_agent_sees_only_the_items_of_its_queues(web: TestClient, ctx: Context,
                                                   letters) -> None:  # type: ignore[no-untyped-def]
    item, _ = routed_letter(ctx, letters, 2)
    other = "sales" if item.queue != "sales" else "billing"
    with session_scope(ctx.db_url) as s:
        upsert_user(s, "narrow", "narrow-password", Role.AGENT, "Narrow")
        set_members(s, other, ["narrow"], "boss", ctx.rules)
    csrf = sign_in(web, "narrow")
    assert web.get(f"/agent/items/{item.id}").status_code == 404
    assert web.get(f"/agent/items/{item.id}/pages/1.png").status_code == 404
    assert web.post(f"/agent/queues/{item.queue}/next", data={"csrf_token": csrf}).status_code == 404
    assert f'data-queue="{item.queue}"' not in web.get("/agent/queues").text


def test_supervisor_sees_counts_and_the_validation_of_the_rules(web: TestClient, ctx: Context, tmp_path: Path,
                                                                letters) -> None:  # type: ignore[no-untyped-def]
    item, _ = routed_letter(ctx, letters, 0)
    sign_in(web, "boss")
    page = web.get("/supervisor")
    assert page.status_code == 200 and "routing.yaml: valid" in page.text
    row = re.search(rf'data-queue="{item.queue}">.*?class="num depth">(\d+)<', page.text, re.S)
    assert row and int(row.group(1)) >= 1
    _ = ctx.rules  # loaded at start; now the file on disk gets broken by an edit
    broken = tmp_path / "routing.yaml"
    broken.write_text(ctx.settings.routing_rules.read_text().replace("default_queue: triage", "default_queue: 7x"))
    broken.write_text(broken.read_text() + "\nbogus_key: 1\n")
    ctx.settings.routing_rules = broken
    page = web.get("/supervisor")
    assert "routing.yaml: INVALID" in page.text and "bogus_key" in page.text


def test_auditor_finds_a_letter_exports_it_and_sees_the_trail(web: TestClient, ctx: Context,
                                                             letters) -> None:  # type: ignore[no-untyped-def]
    item, truth = routed_letter(ctx, letters, 0)
    words = [w for w in re.findall(r"\w{7,}", truth["text"]) if not w.isdigit()]
    word = words[len(words) // 2]
    sign_in(web, "audit")
    page = web.get("/auditor", params={"q": word})
    assert page.status_code == 200 and f"/auditor/documents/{item.document_id}" in page.text
    assert f"<mark>{word}</mark>".lower() in page.text.lower()
    assert "0 letters" in web.get("/auditor", params={"q": word, "channel": "fax"}).text
    export = web.get("/auditor/export.csv", params={"q": word})
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [r["Document"] for r in rows] == [item.document_id]  # headers in the reader's language (tests/test_i18n.py)
    doc = web.get(f"/auditor/documents/{item.document_id}")
    assert doc.status_code == 200 and "work_item.routed" in doc.text and "document.read" in doc.text
    original = web.get(f"/auditor/documents/{item.document_id}/original")
    assert original.status_code == 200 and original.content.startswith(b"%PDF")
    assert web.post("/api/work-items/1/complete").status_code == 403  # no CSRF token: refused before roles
    with session_scope(ctx.db_url) as s:
        mine = s.scalars(select(AuditEvent.action).where(AuditEvent.actor == "audit")).all()
    assert {"archive.searched", "archive.exported", "document.viewed", "original.downloaded"} <= set(mine)


def test_every_ui_string_of_the_templates_goes_through_the_catalogs() -> None:
    """No template shows a bare English sentence: text between tags is a gettext call (tests/test_i18n.py
    checks that every msgid is translated in every language)."""
    bare: list[str] = []
    for path in (Path(__file__).parent.parent / "web" / "templates").glob("*.html"):
        text = re.sub(r"{[{%#].*?[}%#]}", "", path.read_text(), flags=re.S)  # drop template code
        text = re.sub(r"<(script|style)\b.*?</\1>", "", text, flags=re.S)
        bare += [f"{path.name}: {w}" for w in re.findall(r">\s*([A-Za-z][A-Za-z ,.']{3,})\s*<", text)]
    assert not bare, bare


# ---------------------------------------------------------------- CLI


def test_users_command_and_secret_key_refusal(ctx: Context, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["users", "add", "eve", "--role", "agent", "--password", "long-enough-1", "--name", "Eve E."]) == 0
    assert main(["users", "token", "eve", "--name", "integration"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("mrt_")
    assert main(["users", "list", "--tokens"]) == 0
    listing = capsys.readouterr().out
    assert "eve\tagent\tactive\tEve E." in listing and token not in listing
    assert main(["users", "disable", "eve"]) == 0
    with session_scope(ctx.db_url) as s:
        assert authenticate(s, "eve", "long-enough-1") is None
    monkeypatch.delenv("MAILROOM_SECRET_KEY", raising=False)
    assert main(["api", "--port", "1"]) == 2
    assert "MAILROOM_SECRET_KEY is not set" in capsys.readouterr().err


def test_migration_0006_on_postgresql(postgres_url: str) -> None:
    from sqlalchemy import inspect

    from storage.db import get_engine, migrate

    migrate(postgres_url)
    insp = inspect(get_engine(postgres_url))
    assert {"api_tokens", "login_failures"} <= set(insp.get_table_names())
    assert "active" in {c["name"] for c in insp.get_columns("users")}
    with session_scope(postgres_url) as s:
        user = upsert_user(s, "pg-user", "pg-password", Role.AUDITOR)
        assert user.active is True
        token, plain = create_token(s, "pg-user", "t", datetime.now(UTC))
        token_id = token.id
    # the token created on PostgreSQL signs its user in there; only its hash is stored
    with session_scope(postgres_url) as s:
        user = user_for_token(s, plain, datetime.now(UTC))
        assert user is not None and user.username == "pg-user"
        assert user_for_token(s, plain[:-1] + ("A" if plain[-1] != "A" else "B"), datetime.now(UTC)) is None
        stored = s.get(ApiToken, token_id)
        assert stored is not None and stored.last_used_at is not None
        assert plain not in (stored.token_hash, stored.prefix) and stored.token_hash != plain
        revoke_token(s, token_id, datetime.now(UTC))
    with session_scope(postgres_url) as s:
        assert user_for_token(s, plain, datetime.now(UTC)) is None
