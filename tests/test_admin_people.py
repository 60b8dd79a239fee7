"""People and stations (issue 19): administrators manage users (create, role, language, time zone, disable and
enable, password reset), station tokens (upload-only, named, with an expiry, revoked) and an agent's queues and
skills, on the pages and through the API; everyone changes their own password on the profile page. Every change
is audited without a password or token in the trail; other roles get 404; the last active administrator cannot
lock themselves out. Through the forms as a browser sends them (TestClient), the API, and once in Chromium."""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from pipeline.context import Context
from queues import work
from storage.db import session_scope
from storage.models import AgentSkill, ApiToken, AuditEvent, LoginFailure, Role, User
from storage.users import create_token, get_user, upsert_user
from tests.support.servers import served
from tests.test_a11y import serious
from tests.test_web import sign_in
from web import api_intake
from web.app import create_app
from web.deps import SESSION_COOKIE

USERS = {"root": Role.ADMIN, "boss": Role.SUPERVISOR, "scan": Role.SCANNER, "anna": Role.AGENT,
         "audit": Role.AUDITOR}


@pytest.fixture
def web(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """Users of every role (password ``<name>-password``); uploads are stored, not enqueued (no Redis here)."""
    monkeypatch.setattr(api_intake, "enqueue", lambda ctx: (lambda envelope_id: None))
    with session_scope(ctx.db_url) as s:
        for name, role in USERS.items():
            upsert_user(s, name, f"{name}-password", role, name.title())
    with TestClient(create_app(ctx), follow_redirects=False) as client:
        yield client


@pytest.fixture
def other(web: TestClient) -> Iterator[TestClient]:
    """A second browser on the same app."""
    with TestClient(web.app, follow_redirects=False) as client:
        yield client


def basic(name: str, password: str | None = None) -> dict[str, str]:
    raw = f"{name}:{password or name + '-password'}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_of(ctx: Context, name: str, scope: str = "full") -> str:
    with session_scope(ctx.db_url) as s:
        return create_token(s, name, "test", datetime.now(UTC), actor="test-setup", scope=scope)[1]


def events(ctx: Context, action: str) -> list[AuditEvent]:
    with session_scope(ctx.db_url) as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def trail_dump(ctx: Context) -> str:
    """Every audit event's actor, action and details, as one text to look for secrets in."""
    with session_scope(ctx.db_url) as s:
        return json.dumps([[e.actor, e.action, e.detail] for e in s.scalars(select(AuditEvent))], ensure_ascii=False)


def user(ctx: Context, name: str) -> User:
    with session_scope(ctx.db_url) as s:
        u = get_user(s, name)
        assert u is not None
        s.expunge(u)
        return u


def flash(page: str) -> str:
    m = re.search(r'<p class="flash" role="status">(.*?)</p>', page, re.S)
    return html.unescape(m.group(1).strip()) if m else ""


def error(page: str) -> str:
    m = re.search(r'<p class="error" role="alert">(.*?)</p>', page, re.S)
    return html.unescape(m.group(1).strip()) if m else ""


def follow(client: TestClient, r: httpx.Response) -> str:
    assert r.status_code == 303, (r.status_code, r.text[:500])
    return client.get(r.headers["location"]).text


def can_sign_in(ctx: Context, name: str, password: str) -> bool:
    """A fresh browser signing in with the form (its own app, so no throttling or cookies carry over)."""
    with TestClient(create_app(ctx), follow_redirects=False) as c:
        page = c.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        r = c.post("/login", data={"username": name, "password": password, "csrf_token": token, "next": "/"})
        return r.status_code == 303


def pdf(n: int) -> bytes:
    return b"%PDF-1.4\n% letter " + str(n).encode() + b"\n" + b"x" * 100 + b"\n%%EOF\n"


def upload(client: TestClient, headers: dict[str, str], n: int) -> httpx.Response:
    return client.post("/api/envelopes", headers=headers, files={"file": (f"l{n}.pdf", pdf(n), "application/pdf")})


# ---------------------------------------------------------------- users on the pages


def test_admin_creates_users_on_the_page_audited_without_the_password(web: TestClient, ctx: Context) -> None:
    root = sign_in(web, "root")
    page = web.get("/admin/users").text
    assert 'href="/admin/users"' in page and 'aria-current="page"' in page  # in the menu, for admins
    r = web.post("/admin/users", data={"csrf_token": root, "username": "eva", "display_name": "Eva Nováková",
                                       "role": "agent", "language": "cs", "time_zone": "Europe/Prague",
                                       "password": "eva-first-pass"})
    assert r.headers["location"].startswith("/admin/users/eva?")
    assert flash(follow(web, r)) == "User eva created."
    eva = user(ctx, "eva")
    assert (eva.role, eva.display_name, eva.language, eva.time_zone, eva.active) == (
        "agent", "Eva Nováková", "cs", "Europe/Prague", True)
    assert can_sign_in(ctx, "eva", "eva-first-pass")

    # no password given: one is made and shown on this answer only, never in a URL
    r = web.post("/admin/users", data={"csrf_token": root, "username": "petr", "role": "scanner", "password": ""})
    assert r.status_code == 200
    made = re.search(r'<code id="shown-password">([^<]+)</code>', r.text).group(1)  # type: ignore[union-attr]
    assert len(made) >= 16 and can_sign_in(ctx, "petr", made)
    assert made not in web.get("/admin/users/petr").text

    # refused: a taken name, a short password, a name with a colon (HTTP Basic) — said on the page, nothing stored
    r = web.post("/admin/users", data={"csrf_token": root, "username": "eva", "role": "agent", "password": "x" * 9})
    assert r.status_code == 409 and error(r.text) == "There is already a user with this name."
    r = web.post("/admin/users", data={"csrf_token": root, "username": "karel", "role": "agent", "password": "short"})
    assert r.status_code == 422 and error(r.text) == "The password must have at least 8 characters."
    r = web.post("/admin/users", data={"csrf_token": root, "username": "a:b", "role": "agent", "password": "x" * 9})
    assert r.status_code == 422 and "user name" in error(r.text)
    with session_scope(ctx.db_url) as s:
        assert get_user(s, "karel") is None and get_user(s, "a:b") is None

    created = events(ctx, "user.created")
    assert [(e.actor, e.detail["user"], e.detail["role"]) for e in created[-2:]] == [
        ("root", "eva", "agent"), ("root", "petr", "scanner")]
    dump = trail_dump(ctx)
    for secret in ("eva-first-pass", made, "$argon2"):
        assert secret not in dump


def test_admin_changes_role_display_name_language_and_zone(web: TestClient, ctx: Context) -> None:
    root = sign_in(web, "root")
    r = web.post("/admin/users/anna", data={"csrf_token": root, "role": "supervisor", "display_name": "Anna K.",
                                            "language": "pl", "time_zone": "Europe/Warsaw"})
    assert flash(follow(web, r)) == "Saved."
    anna = user(ctx, "anna")
    assert (anna.role, anna.display_name, anna.language, anna.time_zone) == (
        "supervisor", "Anna K.", "pl", "Europe/Warsaw")
    [changed] = events(ctx, "user.role_changed")
    assert changed.actor == "root" and changed.detail == {"user": "anna", "from": "agent", "to": "supervisor"}
    prefs = events(ctx, "user.preferences_set")[-1]
    assert prefs.actor == "root" and prefs.detail == {"user": "anna", "display_name": "Anna K.", "language": "pl",
                                                      "time_zone": "Europe/Warsaw"}
    # her pages follow at once: Polish, and the supervisor's dashboard is hers now
    with TestClient(web.app, follow_redirects=False) as c:
        sign_in(c, "anna")
        assert '<html lang="pl">' in c.get("/supervisor").text
    # an unknown zone is refused, nothing changes
    r = web.post("/admin/users/anna", data={"csrf_token": root, "role": "agent", "time_zone": "Mars/Olympus"})
    assert r.status_code == 422 and error(r.text) == "Choose a language and a time zone from the lists."
    assert user(ctx, "anna").role == "supervisor"


def test_a_disabled_user_cannot_sign_in_or_use_tokens_until_enabled(web: TestClient, other: TestClient,
                                                                    ctx: Context) -> None:
    token = token_of(ctx, "scan")
    assert upload(web, bearer(token), 1).status_code == 202
    sign_in(other, "scan")
    assert other.get("/mailroom").status_code == 200
    root = sign_in(web, "root")

    r = web.post("/admin/users/scan/active", data={"csrf_token": root, "active": "0"})
    assert flash(follow(web, r)) == "scan is disabled: their sessions have ended and their tokens are revoked."
    assert other.get("/mailroom").headers["location"].startswith("/login")  # the open session has ended
    assert not can_sign_in(ctx, "scan", "scan-password")
    assert web.get("/api/batches/x", headers=basic("scan")).status_code == 401
    r = upload(web, bearer(token), 2)
    assert r.status_code == 401
    [disabled] = events(ctx, "user.disabled")
    assert disabled.actor == "root" and disabled.detail["user"] == "scan" and disabled.detail["tokens_revoked"]
    assert "disabled" in web.get("/admin/users").text

    r = web.post("/admin/users/scan/active", data={"csrf_token": root, "active": "1"})
    assert flash(follow(web, r)).startswith("scan can sign in again.")
    assert can_sign_in(ctx, "scan", "scan-password")
    assert upload(web, bearer(token), 3).status_code == 401  # a token revoked on disabling stays revoked
    assert [e.actor for e in events(ctx, "user.enabled")] == ["root"]


def test_admin_resets_a_password_made_or_typed_and_the_users_sessions_end(web: TestClient, other: TestClient,
                                                                         ctx: Context) -> None:
    sign_in(other, "anna")
    root = sign_in(web, "root")
    r = web.post("/admin/users/anna/password", data={"csrf_token": root, "how": "generate"})
    assert r.status_code == 200 and flash(r.text) == "The password of anna is changed; their sessions have ended."
    made = re.search(r'<code id="shown-password">([^<]+)</code>', r.text).group(1)  # type: ignore[union-attr]
    assert other.get("/agent").status_code == 303  # her session ended
    assert not can_sign_in(ctx, "anna", "anna-password") and can_sign_in(ctx, "anna", made)

    # typed twice; a mismatch or a short one is refused with the reason, and nothing changes
    r = web.post("/admin/users/anna/password", data={"csrf_token": root, "how": "set", "password": "new-pass-123",
                                                     "password2": "new-pass-124"})
    assert r.status_code == 422 and error(r.text) == "The two new passwords differ; type the same one twice."
    r = web.post("/admin/users/anna/password", data={"csrf_token": root, "how": "set", "password": "short",
                                                     "password2": "short"})
    assert r.status_code == 422 and error(r.text) == "The password must have at least 8 characters."
    assert can_sign_in(ctx, "anna", made)
    r = web.post("/admin/users/anna/password", data={"csrf_token": root, "how": "set", "password": "new-pass-123",
                                                     "password2": "new-pass-123"})
    assert flash(follow(web, r)) == "The password of anna is changed; their sessions have ended."
    assert can_sign_in(ctx, "anna", "new-pass-123") and not can_sign_in(ctx, "anna", made)

    resets = events(ctx, "user.password_set")[-2:]
    assert [(e.actor, e.detail["user"], e.detail["generated"]) for e in resets] == [
        ("root", "anna", True), ("root", "anna", False)]
    assert resets[0].detail["sessions_ended"] == 1
    dump = trail_dump(ctx)
    assert made not in dump and "new-pass-123" not in dump
    # their own password is changed on the profile page, not here
    r = web.post("/admin/users/root/password", data={"csrf_token": root, "how": "generate"})
    assert r.status_code == 409 and can_sign_in(ctx, "root", "root-password")


def test_the_last_active_admin_cannot_lock_themselves_out(web: TestClient, ctx: Context) -> None:
    root = sign_in(web, "root")
    r = web.post("/admin/users/root/active", data={"csrf_token": root, "active": "0"})
    assert r.status_code == 409
    assert error(r.text) == "You cannot disable your own account; another administrator can."
    r = web.post("/admin/users/root", data={"csrf_token": root, "role": "supervisor"})
    assert r.status_code == 409 and error(r.text).startswith("The last active administrator can be neither")
    admin_token = token_of(ctx, "root")
    r = web.patch("/api/users/root", headers=bearer(admin_token), json={"role": "agent"})
    assert r.status_code == 409 and r.json()["detail"].startswith("The last active administrator")
    assert web.patch("/api/users/root", headers=bearer(admin_token), json={"active": False}).status_code == 409
    assert (user(ctx, "root").role, user(ctx, "root").active) == ("admin", True)
    assert events(ctx, "user.role_changed") == [] and events(ctx, "user.disabled") == []

    # with a second administrator, the first may step down; then the second is the last one
    r = web.post("/api/users", headers=bearer(admin_token), json={"username": "root2", "role": "admin",
                                                                  "password": "root2-password"})
    assert r.status_code == 201 and r.json()["password"] is None
    r = web.post("/admin/users/root", data={"csrf_token": root, "role": "supervisor"})
    assert r.status_code == 303 and user(ctx, "root").role == "supervisor"
    assert web.get("/admin/users").status_code == 404  # no admin any more
    token2 = token_of(ctx, "root2")
    r = web.patch("/api/users/root2", headers=bearer(token2), json={"role": "supervisor"})
    assert r.status_code == 409 and user(ctx, "root2").role == "admin"


# ---------------------------------------------------------------- the user's own password


def test_own_password_change_ends_other_sessions_and_the_old_password_no_longer_works(
        web: TestClient, other: TestClient, ctx: Context) -> None:
    anna = sign_in(web, "anna")
    sign_in(other, "anna")
    kept = web.cookies[SESSION_COOKIE]  # a copy of this browser's cookie, as a stolen one would be
    assert web.get("/api/queues", headers=basic("anna")).status_code == 200  # the old password is in the cache
    page = web.get("/profile").text
    assert 'action="/profile/password"' in page

    r = web.post("/profile/password", data={"csrf_token": anna, "current": "wrong-one", "new": "anna-new-pass",
                                            "new_again": "anna-new-pass"})
    assert r.status_code == 422 and error(r.text) == "The current password is wrong."
    with session_scope(ctx.db_url) as s:  # counted like a failed sign-in (throttled the same way)
        assert s.scalar(select(LoginFailure).where(LoginFailure.username == "anna")) is not None
    r = web.post("/profile/password", data={"csrf_token": anna, "current": "anna-password", "new": "anna-new-pass",
                                            "new_again": "anna-new-pazz"})
    assert r.status_code == 422 and error(r.text) == "The two new passwords differ; type the same one twice."
    r = web.post("/profile/password", data={"csrf_token": anna, "current": "anna-password", "new": "anna",
                                            "new_again": "anna"})
    assert r.status_code == 422 and error(r.text) == "The password must have at least 8 characters."
    r = web.post("/profile/password", data={"current": "anna-password", "new": "anna-new-pass",
                                            "new_again": "anna-new-pass"})
    assert r.status_code == 403  # no CSRF token
    assert can_sign_in(ctx, "anna", "anna-password")

    r = web.post("/profile/password", data={"csrf_token": anna, "current": "anna-password", "new": "anna-new-pass",
                                            "new_again": "anna-new-pass"})
    assert flash(follow(web, r)) == "Your password is changed; you were signed out everywhere else."
    assert web.get("/agent").status_code == 200  # this browser stays signed in (a new session)
    assert other.get("/agent").status_code == 303  # the other one is signed out
    with TestClient(web.app, follow_redirects=False) as c:
        c.cookies.set(SESSION_COOKIE, kept)
        assert c.get("/agent").status_code == 303  # and so is a copy of this browser's old cookie
    assert web.get("/api/queues", headers=basic("anna")).status_code == 401  # the verified cache never says yes
    assert web.get("/api/queues", headers=basic("anna", "anna-new-pass")).status_code == 200
    assert not can_sign_in(ctx, "anna", "anna-password") and can_sign_in(ctx, "anna", "anna-new-pass")

    [changed] = events(ctx, "user.password_changed")
    # the two browsers and the sign-in that checked the refusals changed nothing
    assert changed.actor == "anna" and changed.detail == {"user": "anna", "sessions_ended": 3}
    dump = trail_dump(ctx)
    assert "anna-new-pass" not in dump and "wrong-one" not in dump and '"anna-password"' not in dump


# ---------------------------------------------------------------- station tokens


def test_a_station_token_is_shown_once_uploads_only_and_is_revoked(web: TestClient, ctx: Context) -> None:
    root = sign_in(web, "root")
    page = web.get("/admin/tokens").text
    owners = re.findall(r'<option value="([^"]+)"', page.split('name="owner"')[1].split("</select>")[0])
    assert sorted(owners) == ["boss", "root", "scan"]  # the users who may upload; never an agent or auditor
    until = date.today() + timedelta(days=30)
    r = web.post("/admin/tokens", data={"csrf_token": root, "name": "Desk 4", "owner": "scan", "station": "desk-4",
                                        "expires_on": until.isoformat()})
    assert r.status_code == 200 and flash(r.text) == "Token Desk 4 created."
    plain = re.search(r'<code id="shown-token">([^<]+)</code>', r.text).group(1)  # type: ignore[union-attr]
    assert plain.startswith("mrt_")
    listing = web.get("/admin/tokens").text
    assert plain not in listing and plain[:12] in listing  # shown once; afterwards only its first characters
    with session_scope(ctx.db_url) as s:
        token = s.scalars(select(ApiToken).where(ApiToken.name == "Desk 4")).one()
        assert token.scope == "upload" and token.station == "desk-4" and token.user.username == "scan"
        assert plain not in (token.token_hash, token.prefix + "x") and len(token.token_hash) == 64
        expires = token.expires_at.replace(tzinfo=UTC)
        token_id = token.id
    # valid through its day in the admin's zone (the site's: Europe/Warsaw), then no more
    assert datetime.combine(until, datetime.min.time(), UTC) < expires <= datetime.combine(
        until + timedelta(days=1), datetime.min.time(), UTC)

    r = upload(web, bearer(plain), 10)
    assert r.status_code == 202
    assert web.get("/api/post-batches", headers=bearer(plain)).status_code == 403  # upload only (scan may read it)
    assert web.get("/api/users", headers=bearer(plain)).status_code == 404  # and nothing of an admin's
    row = re.search(rf'<tr data-token="{token_id}".*?</tr>', web.get("/admin/tokens").text, re.S).group(0)  # type: ignore[union-attr]
    assert "Desk 4" in row and "scan" in row and "desk-4" in row and "upload only" in row and "valid" in row
    assert "not yet" not in row  # its last use is shown

    # revoked with htmx: the table comes back with the token revoked, and it no longer authenticates
    r = web.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": root}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and r.text.lstrip().startswith('<div id="tokens">')
    assert "Token Desk 4 revoked: it no longer authenticates." in r.text
    row = re.search(rf'<tr data-token="{token_id}".*?</tr>', r.text, re.S).group(0)  # type: ignore[union-attr]
    assert "revoked" in row and "/revoke" not in row
    r = upload(web, bearer(plain), 11)
    assert r.status_code == 401

    # an agent may not own a station token; a date in the past is refused
    r = web.post("/admin/tokens", data={"csrf_token": root, "name": "x", "owner": "anna",
                                        "expires_on": until.isoformat()})
    assert r.status_code == 422 and error(r.text).startswith("A station token belongs to an active user who may")
    r = web.post("/admin/tokens", data={"csrf_token": root, "name": "x", "owner": "scan",
                                        "expires_on": (date.today() - timedelta(days=2)).isoformat()})
    assert r.status_code == 422 and error(r.text) == "A token's expiry must lie in the future."

    [made] = events(ctx, "token.created")
    assert made.actor == "root" and made.detail["scope"] == "upload" and made.detail["station"] == "desk-4"
    [revoked] = events(ctx, "token.revoked")
    assert revoked.actor == "root" and revoked.detail["token_id"] == token_id
    assert plain not in trail_dump(ctx) and plain[4:12] not in trail_dump(ctx)


def test_an_expired_station_token_is_refused(web: TestClient, ctx: Context) -> None:
    admin = bearer(token_of(ctx, "root"))
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    r = web.post("/api/tokens", headers=admin, json={"name": "night scanner", "owner": "scan", "expires_at": soon})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["scope"] == "upload" and body["station"] == "night scanner" and body["state"] == "valid"
    assert upload(web, bearer(body["token"]), 20).status_code == 202
    with session_scope(ctx.db_url) as s:
        s.execute(update(ApiToken).where(ApiToken.id == body["id"])
                  .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    r = upload(web, bearer(body["token"]), 21)
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    [listed] = [t for t in web.get("/api/tokens", headers=admin).json() if t["id"] == body["id"]]
    assert listed["state"] == "expired" and listed["last_used_at"] is not None and "token" not in listed
    assert "expired" in re.search(rf'<tr data-token="{body["id"]}".*?</tr>',  # type: ignore[union-attr]
                                  _admin_page(web, "/admin/tokens"), re.S).group(0)
    # an expiry in the past, or without its offset, is refused
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert web.post("/api/tokens", headers=admin, json={"name": "x", "owner": "scan", "expires_at": past}) \
        .status_code == 422
    assert web.post("/api/tokens", headers=admin, json={"name": "x", "owner": "scan",
                                                        "expires_at": "2099-01-01T00:00:00"}).status_code == 422


def _admin_page(client: TestClient, url: str) -> str:
    with TestClient(client.app, follow_redirects=False) as c:
        sign_in(c, "root")
        return c.get(url).text


# ---------------------------------------------------------------- an agent's queues and skills


def test_an_agents_queues_and_skills_are_set_on_the_page_and_audited(web: TestClient, ctx: Context) -> None:
    first, second, *_rest = [q.id for q in ctx.rules.queues]
    root = sign_in(web, "root")
    page = web.get("/admin/users/anna").text
    assert f'name="queues" value="{first}"' in page and 'name="capacity"' in page
    data = {"csrf_token": root, "queues": [first, second], "languages": ["pl", "cs"], "categories": ["complaint"],
            "segments": ["business"], "capacity": "3"}
    r = web.post("/admin/users/anna/work", data=data)
    assert flash(follow(web, r)) == "Queues and skills of anna saved."
    with session_scope(ctx.db_url) as s:
        assert work.agent_scope(s, "anna").queues == sorted([first, second])
        skill = s.get(AgentSkill, get_user(s, "anna").id)  # type: ignore[union-attr]
        assert (skill.languages, skill.categories, skill.segments, skill.capacity) == (  # type: ignore[union-attr]
            ["pl", "cs"], ["complaint"], ["business"], 3)
    assert {q["id"] for q in web.get("/api/queues", headers=basic("anna")).json()} == {first, second}
    members = events(ctx, "queue.members_set")
    assert sorted(e.detail["queue"] for e in members) == sorted([first, second])
    assert all(e.actor == "root" and e.detail["members"] == ["anna"] for e in members)
    [skills] = events(ctx, "agent.skills_set")
    assert skills.actor == "root" and skills.detail["capacity"] == 3
    page = web.get("/admin/users/anna").text
    assert f'value="{first}" checked' in page and 'value="pl" checked' in page

    # the same form again changes nothing and records nothing; dropping a queue records that queue only
    follow(web, web.post("/admin/users/anna/work", data=data))
    assert len(events(ctx, "queue.members_set")) == 2 and len(events(ctx, "agent.skills_set")) == 1
    follow(web, web.post("/admin/users/anna/work", data={**data, "queues": [second]}))
    assert [e.detail["queue"] for e in events(ctx, "queue.members_set")][2:] == [first]
    with session_scope(ctx.db_url) as s:
        assert work.agent_scope(s, "anna").queues == [second]
    # queues and skills are for agents only
    r = web.post("/admin/users/boss/work", data=data)
    assert r.status_code == 422 and error(r.text) == "Queues and skills are for agents."


# ---------------------------------------------------------------- the API


def test_the_people_api_for_admins(web: TestClient, ctx: Context) -> None:
    admin = bearer(token_of(ctx, "root"))
    names = [u["username"] for u in web.get("/api/users", headers=admin).json()]
    assert names == sorted(USERS)
    r = web.post("/api/users", headers=admin, json={"username": "olga", "role": "agent", "display_name": "Olga",
                                                    "language": "ru", "time_zone": "Europe/Moscow"})
    assert r.status_code == 201, r.text
    made = r.json()["password"]
    assert made and r.json()["queues"] == [] and r.json()["skills"]["capacity"] == work.DEFAULT_CAPACITY
    assert web.get("/api/queues", headers=basic("olga", made)).status_code == 200
    assert web.get("/api/users/olga", headers=admin).json()["language"] == "ru"

    queue = ctx.rules.queues[0].id
    assert web.put("/api/users/olga/queues", headers=admin, json={"queues": [queue]}).json() == [queue]
    assert web.put("/api/users/olga/queues", headers=admin, json={"queues": ["nope"]}).status_code == 422
    assert web.get("/api/users/olga", headers=admin).json()["queues"] == [queue]

    r = web.patch("/api/users/olga", headers=admin, json={"role": "scanner", "time_zone": ""})
    assert r.status_code == 200 and (r.json()["role"], r.json()["time_zone"]) == ("scanner", None)
    r = web.post("/api/users/olga/password", headers=admin, json={"password": "olga-typed-pw"})
    assert r.status_code == 200 and r.json()["password"] is None
    assert web.get("/api/batches/x", headers=basic("olga", made)).status_code == 401
    r = web.post("/api/users/olga/password", headers=admin, json={})
    again = r.json()["password"]
    assert again and web.get("/api/quarantine", headers=basic("olga", again)).status_code in (403, 404)
    r = web.patch("/api/users/olga", headers=admin, json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    assert web.get("/api/batches/x", headers=basic("olga", again)).status_code == 401
    assert web.get("/api/users/nobody", headers=admin).status_code == 404

    soon = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    created = web.post("/api/tokens", headers=admin, json={"name": "desk 9", "owner": "scan", "expires_at": soon})
    tid = created.json()["id"]
    r = web.post(f"/api/tokens/{tid}/revoke", headers=admin)
    assert r.status_code == 200 and r.json()["state"] == "revoked" and r.json()["revoked_at"]
    assert web.post("/api/tokens/999999/revoke", headers=admin).status_code == 404
    dump = trail_dump(ctx)
    for secret in (made, again, "olga-typed-pw", created.json()["token"]):
        assert secret not in dump


def test_only_admins_reach_people_and_stations(web: TestClient, ctx: Context) -> None:
    reads = ["/api/users", "/api/users/anna", "/api/tokens", "/admin/users", "/admin/users/anna", "/admin/tokens"]
    writes: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/api/users", {"json": {"username": "mallory", "role": "admin", "password": "mallory-pass"}}),
        ("PATCH", "/api/users/root", {"json": {"active": False}}),
        ("POST", "/api/users/root/password", {"json": {"password": "taken-over-1"}}),
        ("POST", "/api/tokens", {"json": {"name": "x", "owner": "scan",
                                          "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}}),
        ("POST", "/admin/users", {"data": {"username": "mallory", "role": "admin", "password": "mallory-pass"}}),
        ("POST", "/admin/users/root/active", {"data": {"active": "0"}}),
    ]
    for name in ("boss", "scan", "anna", "audit"):
        headers = bearer(token_of(ctx, name))
        for url in reads:
            assert web.get(url, headers=headers).status_code == 404, (name, url)
        for method, url, body in writes:
            assert web.request(method, url, headers=headers, **body).status_code == 404, (name, method, url)
    for url in reads:
        r = web.get(url)
        assert r.status_code == 401 if url.startswith("/api/") else r.headers["location"].startswith("/login")
    upload_only = bearer(token_of(ctx, "root", scope="upload"))  # even an admin's station token
    assert web.get("/api/users", headers=upload_only).status_code == 403
    assert (user(ctx, "root").active, get_user_none(ctx, "mallory")) == (True, True)
    assert can_sign_in(ctx, "root", "root-password")
    # the menu offers the pages to admins only; everyone has the password form on their profile
    for name in ("boss", "anna"):
        with TestClient(web.app, follow_redirects=False) as c:
            sign_in(c, name)
            page = c.get("/profile").text
            assert 'href="/admin/users"' not in page and 'action="/profile/password"' in page


def get_user_none(ctx: Context, name: str) -> bool:
    with session_scope(ctx.db_url) as s:
        return get_user(s, name) is None


# ---------------------------------------------------------------- in a browser


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_in_a_browser_an_admin_adds_an_agent_to_a_queue_who_then_sees_it(ctx: Context, browser: Any) -> None:
    with session_scope(ctx.db_url) as s:
        upsert_user(s, "root", "root-password", Role.ADMIN, "Root")
    queue = ctx.rules.queues[0]
    with served(create_app(ctx)) as base:
        admin = _browser(browser, base, "root", "root-password")
        admin.click("nav a[href='/admin/users']")
        admin.fill("input[name=username]", "zofia")
        admin.fill("input[name=display_name]", "Zofia Nowak")
        admin.select_option("form[action='/admin/users'] select[name=role]", "agent")
        admin.fill("form[action='/admin/users'] input[name=password]", "zofia-secret-1")
        with admin.expect_navigation():
            admin.click("form[action='/admin/users'] button[type=submit]")
        assert admin.inner_text(".flash") == "User zofia created."
        admin.check(f"input[name=queues][value='{queue.id}']")
        with admin.expect_navigation():
            admin.click("form[action='/admin/users/zofia/work'] button[type=submit]")
        assert admin.inner_text(".flash") == "Queues and skills of zofia saved."
        assert admin.is_checked(f"input[name=queues][value='{queue.id}']")
        for url in ("/admin/users", "/admin/users/zofia", "/admin/tokens", "/profile"):  # axe-core, as test_a11y
            admin.goto(url)
            assert serious(admin) == [], url
        assert admin.errors == []

        agent = _browser(browser, base, "zofia", "zofia-secret-1")
        assert agent.url.endswith("/agent")
        rows = agent.locator("table.queues tbody tr")
        assert rows.count() == 1 and agent.get_attribute("table.queues tbody tr", "data-queue") == queue.id
        assert agent.locator("nav a[href='/admin/users']").count() == 0
        assert agent.errors == []
        admin.context.close()
        agent.context.close()


def _browser(browser: Any, base: str, name: str, password: str) -> Any:
    context = browser.new_context(base_url=base, locale="en", extra_http_headers={"Accept-Language": "en"})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto("/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")
    assert "/login" not in page.url
    page.errors = errors
    return page
