"""The claim of an open item page (issue 18, "Leases" and "Next item"): the page renews its reader's lease, gives
it back when they leave (a beacon), says clearly when it ran out (never a bare 409) and offers to claim it again;
the page's Next item and direct claim respect the agent's capacity. Through the forms and routes as a browser uses
them (TestClient), then in Debian's Chromium with a lease of a few seconds."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from ground import i18n
from pipeline.context import Context
from queues import work
from storage.db import session_scope
from storage.models import Role, WorkItem, WorkItemState
from storage.users import upsert_user
from tests.support.agents import join_every_queue
from tests.support.servers import served, wait_until
from tests.test_replies import _arrive, _mail
from tests.test_web import sign_in
from web.app import create_app

USERS = {"anna": Role.AGENT, "zoe": Role.AGENT, "boss": Role.SUPERVISOR}
ZONE = "Europe/Warsaw"


def _users(ctx: Context) -> None:
    with session_scope(ctx.db_url) as s:
        for name, role in USERS.items():
            upsert_user(s, name, f"{name}-password", role, name.title())
        join_every_queue(s, ctx.rules, ["anna", "zoe"])


@pytest.fixture
def web(ctx: Context) -> Iterator[TestClient]:
    _users(ctx)
    with TestClient(create_app(ctx), follow_redirects=False) as client:
        yield client


@pytest.fixture
def other(ctx: Context, web: TestClient) -> Iterator[TestClient]:
    """A second browser (zoe's), on the same app."""
    with TestClient(web.app, follow_redirects=False) as client:
        yield client


_n = iter(range(1, 10_000))


def _letter(ctx: Context) -> WorkItem:
    """A new complaint by e-mail from a customer of its own (no case shared with the other letters)."""
    n = next(_n)
    raw, _msgid = _mail(f"Dzień dobry,\n\nskładam reklamację faktury FV/2026/11/{n:06d}: naliczono opłatę za "
                        f"usługę, której nie zamawiałem. Proszę o korektę.\n\nZ poważaniem\nKlient {n}",
                        sender=f"klient{n}@example.pl")
    return _arrive(ctx, raw)


def _item(ctx: Context, item_id: int) -> WorkItem:
    with session_scope(ctx.db_url) as s:
        item = s.get(WorkItem, item_id)
        assert item is not None
        s.expunge(item)
        return item


def _set_until(ctx: Context, item_id: int, until: datetime) -> None:
    with session_scope(ctx.db_url) as s:
        s.execute(update(WorkItem).where(WorkItem.id == item_id).values(claimed_until=until))


def _claimed_earlier(ctx: Context, item_id: int, agent: str, expired_ago: timedelta) -> datetime:
    """``agent`` claimed the item a lease ago and a bit (nobody renewed it): its lease ended ``expired_ago``."""
    until = datetime.now(UTC) - expired_ago
    with session_scope(ctx.db_url) as s:
        work.claim(s, item_id, agent, until - work.LEASE)
    return until


def _sweep(ctx: Context, now: datetime | None = None) -> list[int]:
    with session_scope(ctx.db_url) as s:
        return work.expire_leases(s, now or datetime.now(UTC))


def _flash(page: str) -> str:
    found = re.search(r'<p class="flash" role="status">(.*?)</p>', page, re.S)
    return found.group(1) if found else ""


def _notice(page: str) -> str:
    found = re.search(r'<div class="card lease-lost" role="alert" id="lease-lost">\s*<p class="error">(.*?)</p>',
                      page, re.S)
    return found.group(1) if found else ""


def _follow(client: TestClient, r: Any) -> str:
    assert r.status_code == 303, r.text[:2000]
    page = client.get(r.headers["location"])
    assert page.status_code == 200, page.text[:2000]
    return page.text


def _claim(client: TestClient, csrf: str, item_id: int) -> str:
    return _follow(client, client.post(f"/agent/items/{item_id}/claim", data={"csrf_token": csrf}))


def _hhmm(value: datetime, language: str = "en") -> str:
    with i18n.use(language, ZONE):
        return i18n.format_time(value)


# ---------------------------------------------------------------- renewing


def test_the_holder_renews_the_lease_and_nobody_else_may(web: TestClient, other: TestClient, ctx: Context) -> None:
    anna, zoe = sign_in(web, "anna"), sign_in(other, "zoe")
    item = _letter(ctx)
    page = _claim(web, anna, item.id)
    assert _flash(page) == "The item is yours now."
    # the page renders what its script needs: held, the lease and a third of it, the routes
    assert 'data-held="1"' in page and 'data-lease-seconds="900"' in page and 'data-renew-every="300"' in page
    assert f'data-renew-url="/agent/items/{item.id}/renew"' in page
    assert f'data-release-url="/agent/items/{item.id}/release"' in page
    _set_until(ctx, item.id, datetime.now(UTC) + timedelta(seconds=60))  # 14 minutes have gone by

    r = web.post(f"/agent/items/{item.id}/renew", headers={"X-CSRF-Token": anna})
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True and r.json()["lease_seconds"] == 900
    until = _item(ctx, item.id).claimed_until
    assert until is not None and until > datetime.now(UTC) + timedelta(seconds=890)
    assert datetime.fromisoformat(r.json()["claimed_until"]) == until
    # without the session's CSRF token: refused before anything happens
    assert web.post(f"/agent/items/{item.id}/renew").status_code == 403

    # zoe may not keep anna's claim: a clear answer, not a 500, and nothing changes
    assert 'data-held="0"' in other.get(f"/agent/items/{item.id}").text
    r = other.post(f"/agent/items/{item.id}/renew", headers={"X-CSRF-Token": zoe})
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["ok"] is False and body["message"] == "Anna has this letter now; only they can keep it."
    assert body["can_claim"] is False and "claim-again" not in body["html"] and body["message"] in body["html"]
    after = _item(ctx, item.id)
    assert (after.state, after.assignee, after.claimed_until) == (WorkItemState.CLAIMED, "anna", until)


def test_a_renewal_after_the_sweeper_says_the_claim_expired_and_offers_it_again(web: TestClient,
                                                                                ctx: Context) -> None:
    anna = sign_in(web, "anna")
    item = _letter(ctx)
    until = _claimed_earlier(ctx, item.id, "anna", timedelta(seconds=5))
    # the lease ran out but the sweeper has not come yet: the page says so and may claim it again
    page = web.get(f"/agent/items/{item.id}").text
    assert _notice(page) == (f"Your claim on this letter expired at {_hhmm(until)}; claim it again to go on "
                             "working on it.")
    assert 'data-held="0"' in page and 'id="claim-again"' in page
    assert _sweep(ctx) == [item.id]
    r = web.post(f"/agent/items/{item.id}/renew", headers={"X-CSRF-Token": anna})
    assert r.status_code == 409
    body = r.json()
    assert body["message"] == f"Your claim on this letter expired at {_hhmm(until)}; it went back to the queue."
    assert body["can_claim"] is True
    assert 'id="claim-again"' in body["html"] and f'action="/agent/items/{item.id}/claim"' in body["html"]
    assert f'name="csrf_token" value="{anna}"' in body["html"]


# ---------------------------------------------------------------- leaving: the beacon


def test_the_beacon_gives_back_the_viewers_claim_only(web: TestClient, other: TestClient, ctx: Context) -> None:
    anna, zoe = sign_in(web, "anna"), sign_in(other, "zoe")
    item = _letter(ctx)
    page = _claim(web, anna, item.id)
    opened = re.search(r'data-opened="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    beacon = {"csrf_token": (None, anna), "opened": (None, opened)}  # sendBeacon's FormData: multipart
    # no CSRF token: refused, the claim stays
    r = web.post(f"/agent/items/{item.id}/release", files={"opened": (None, opened)})
    assert r.status_code == 403
    assert _item(ctx, item.id).assignee == "anna"
    # someone else's beacon (zoe had the page open too): nothing happens to anna's claim
    r = other.post(f"/agent/items/{item.id}/release", files={"csrf_token": (None, zoe), "opened": (None, opened)})
    assert r.status_code == 204
    assert (_item(ctx, item.id).state, _item(ctx, item.id).assignee) == (WorkItemState.CLAIMED, "anna")
    # a reload: the page is drawn again before the old one sends its beacon, which then keeps the claim
    reloaded = web.get(f"/agent/items/{item.id}").text
    assert web.post(f"/agent/items/{item.id}/release", files=beacon).status_code == 204
    assert _item(ctx, item.id).assignee == "anna"
    # leaving the newest page gives the item back to its queue
    newest = re.search(r'data-opened="([^"]+)"', reloaded).group(1)  # type: ignore[union-attr]
    r = web.post(f"/agent/items/{item.id}/release", files={"csrf_token": (None, anna), "opened": (None, newest)})
    assert r.status_code == 204
    after = _item(ctx, item.id)
    assert (after.state, after.assignee, after.claimed_until) == (WorkItemState.NEW, None, None)
    # and a beacon for an item nobody holds (or a completed one) does nothing
    assert web.post(f"/agent/items/{item.id}/release", files=beacon).status_code == 204
    assert _item(ctx, item.id).state == WorkItemState.NEW
    # the one she left on purpose is no lost claim: no notice
    assert _notice(web.get(f"/agent/items/{item.id}").text) == ""


# ---------------------------------------------------------------- an action on an expired claim


def test_complete_on_an_expired_claim_explains_it_and_offers_to_claim_again(web: TestClient, other: TestClient,
                                                                           ctx: Context) -> None:
    anna, zoe = sign_in(web, "anna"), sign_in(other, "zoe")
    item = _letter(ctx)
    until = _claimed_earlier(ctx, item.id, "anna", timedelta(minutes=3))
    assert _sweep(ctx) == [item.id]

    r = web.post(f"/agent/items/{item.id}/complete", data={"csrf_token": anna, "outcome": "resolved"})
    assert r.status_code == 303 and r.headers["location"].startswith(f"/agent/items/{item.id}?")
    page = _follow(web, r)
    assert _flash(page) == "Nothing was changed: your claim on this letter had expired."
    assert _notice(page) == f"Your claim on this letter expired at {_hhmm(until)}; it went back to the queue."
    assert 'id="claim-again"' in page and "409" not in _flash(page)
    assert _item(ctx, item.id).state == WorkItemState.NEW

    # in Polish, the same (her browser asks for Polish)
    page = web.get(f"/agent/items/{item.id}", headers={"Accept-Language": "pl"}).text
    assert _notice(page) == (f"Twoje przyjęcie tego listu wygasło o {_hhmm(until, 'pl')}; list wrócił do "
                             "kolejki.")
    assert "Przyjmij ponownie" in page

    # someone else took it meanwhile: said with their name, and no button
    _claim(other, zoe, item.id)
    r = web.post(f"/agent/items/{item.id}/hold", data={"csrf_token": anna, "reason": "x"})
    page = _follow(web, r)
    assert _flash(page) == "Nothing was changed: your claim on this letter had expired."
    assert _notice(page) == (f"Your claim on this letter expired at {_hhmm(until)}; it went back to the queue and "
                             "Zoe has it now.")
    assert 'id="claim-again"' not in page
    # zoe's own page knows nothing of it
    assert _notice(other.get(f"/agent/items/{item.id}").text) == ""


def test_claim_again_after_the_sweeper_and_before_it(web: TestClient, ctx: Context) -> None:
    anna = sign_in(web, "anna")
    item = _letter(ctx)
    _claim(web, anna, item.id)
    _set_until(ctx, item.id, datetime.now(UTC) - timedelta(minutes=1))
    # before the sweeper: claiming again gives a fresh lease
    page = _claim(web, anna, item.id)
    assert _flash(page) == "The item is yours now." and _notice(page) == "" and 'data-held="1"' in page
    fresh = _item(ctx, item.id)
    assert fresh.assignee == "anna" and fresh.claimed_until > datetime.now(UTC) + timedelta(minutes=14)  # type: ignore[operator]
    # after the sweeper
    _set_until(ctx, item.id, datetime.now(UTC) - timedelta(minutes=1))
    assert _sweep(ctx) == [item.id]
    page = _claim(web, anna, item.id)
    assert _flash(page) == "The item is yours now." and _notice(page) == ""
    assert (_item(ctx, item.id).state, _item(ctx, item.id).assignee) == (WorkItemState.CLAIMED, "anna")
    r = web.post(f"/agent/items/{item.id}/complete", data={"csrf_token": anna, "outcome": "resolved"})
    assert r.status_code == 303 and r.headers["location"].startswith("/agent?")
    assert _item(ctx, item.id).state == WorkItemState.DONE


# ---------------------------------------------------------------- capacity on the page's Next item and claim


def test_next_item_and_claim_on_the_page_respect_capacity(web: TestClient, ctx: Context) -> None:
    anna = sign_in(web, "anna")
    first, second = _letter(ctx), _letter(ctx)
    assert first.queue == second.queue
    with session_scope(ctx.db_url) as s:
        work.set_skills(s, "anna", "boss", capacity=1)
    page = _follow(web, web.post(f"/agent/queues/{first.queue}/next", data={"csrf_token": anna}))
    assert 'data-held="1"' in page
    held = [i for i in (first.id, second.id) if _item(ctx, i).assignee == "anna"]
    assert len(held) == 1
    waiting = second.id if held == [first.id] else first.id
    # at capacity: Next item says so (translated), and takes nothing
    page = _follow(web, web.post(f"/agent/queues/{first.queue}/next", data={"csrf_token": anna}))
    assert _flash(page) == "You already work 1 letter, as many as you may at once; complete or release one first."
    assert _item(ctx, waiting).state == WorkItemState.NEW
    r = web.post(f"/agent/queues/{first.queue}/next", data={"csrf_token": anna}, headers={"Accept-Language": "pl"})
    page = web.get(r.headers["location"], headers={"Accept-Language": "pl"}).text
    assert _flash(page) == ("Masz już w pracy 1 list, tyle, ile możesz mieć naraz; najpierw zakończ albo zwolnij "
                            "któryś.")
    # a direct claim on the page is bound too
    page = _follow(web, web.post(f"/agent/items/{waiting}/claim", data={"csrf_token": anna}))
    assert _flash(page) == "You already work 1 letter, as many as you may at once; complete or release one first."
    assert _item(ctx, waiting).state == WorkItemState.NEW
    # with room again (the first one completed) the next item is hers
    _follow(web, web.post(f"/agent/items/{held[0]}/complete", data={"csrf_token": anna, "outcome": "resolved"}))
    page = _follow(web, web.post(f"/agent/queues/{first.queue}/next", data={"csrf_token": anna}))
    assert _item(ctx, waiting).assignee == "anna"


def test_next_item_on_the_page_follows_the_agents_skills(web: TestClient, ctx: Context) -> None:
    anna = sign_in(web, "anna")
    item = _letter(ctx)  # a Polish letter
    with session_scope(ctx.db_url) as s:
        work.set_skills(s, "anna", "boss", languages=["cs"])
    page = _follow(web, web.post(f"/agent/queues/{item.queue}/next", data={"csrf_token": anna}))
    assert _flash(page).startswith("The queue ") and _flash(page).endswith(" has no new item that fits your skills.")
    assert _item(ctx, item.id).state == WorkItemState.NEW


def test_the_api_claims_with_the_configured_lease(ctx: Context) -> None:
    ctx.settings.lease_seconds = 120
    _users(ctx)
    item = _letter(ctx)
    with TestClient(create_app(ctx)) as api:
        r = api.post(f"/api/work-items/{item.id}/claim", auth=("anna", "anna-password"))
        assert r.status_code == 200, r.text
        until = _item(ctx, item.id).claimed_until
        assert until is not None and until < datetime.now(UTC) + timedelta(seconds=125)
        r = api.post(f"/api/work-items/{item.id}/renew", auth=("anna", "anna-password"))
        assert r.status_code == 200 and datetime.fromisoformat(r.json()["claimed_until"]) < (
            datetime.now(UTC) + timedelta(seconds=125))
        second = _letter(ctx)
        r = api.post("/api/next", auth=("anna", "anna-password"))
        assert r.status_code == 200 and r.json()["id"] == second.id
        assert datetime.fromisoformat(r.json()["claimed_until"]) < datetime.now(UTC) + timedelta(seconds=125)


# ---------------------------------------------------------------- in a browser, with a lease of 4 seconds

LEASE = 4


@pytest.fixture
def live(ctx: Context) -> Iterator[tuple[str, Context]]:
    ctx.settings.lease_seconds = LEASE  # renewed every second (a third of it, rounded down)
    _users(ctx)
    with served(create_app(ctx)) as base:
        yield base, ctx


def _browser_sign_in(browser: Any, base: str, user: str) -> Any:
    context = browser.new_context(base_url=base, locale="en", extra_http_headers={"Accept-Language": "en"})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto("/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", f"{user}-password")
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state("load")
    assert "/login" not in page.url
    page.errors = errors
    return page


def _wait(what: str, check: Any, timeout: float = 8.0) -> Any:
    return wait_until(check, timeout, what, interval=0.1)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_in_a_browser_the_open_page_keeps_its_claim_and_says_when_it_is_lost(live: tuple[str, Context],
                                                                            browser: Any) -> None:
    base, ctx = live
    kept, lost, left, reloaded = _letter(ctx), _letter(ctx), _letter(ctx), _letter(ctx)
    page = _browser_sign_in(browser, base, "anna")

    # 1. open and visible past several lease lengths: renewed, the sweeper never takes it, Complete succeeds
    page.goto(f"/agent/items/{kept.id}")
    page.click(f"form[action='/agent/items/{kept.id}/claim'] button")
    page.wait_for_selector("#lease[data-held='1']", state="attached")
    assert page.evaluate("document.visibilityState") == "visible"
    start = time.monotonic()
    while time.monotonic() - start < 3 * LEASE:
        assert kept.id not in _sweep(ctx)
        time.sleep(0.3)
    item = _item(ctx, kept.id)
    assert (item.state, item.assignee) == (WorkItemState.CLAIMED, "anna")
    with page.expect_navigation():
        page.click(f"form[action='/agent/items/{kept.id}/complete'] button")
    assert page.inner_text(".flash") == "Item completed."
    assert _item(ctx, kept.id).state == WorkItemState.DONE

    # 2. renewals blocked: the lease runs out, the sweeper gives it back, Complete explains and offers it again
    page.goto(f"/agent/items/{lost.id}")
    page.click(f"form[action='/agent/items/{lost.id}/claim'] button")
    page.wait_for_selector("#lease[data-held='1']", state="attached")
    page.route("**/agent/items/*/renew", lambda route: route.abort())
    _wait("the lease to run out", lambda: lost.id in _sweep(ctx), timeout=3 * LEASE)
    with page.expect_navigation():
        page.click(f"form[action='/agent/items/{lost.id}/complete'] button")
    assert page.inner_text(".flash") == "Nothing was changed: your claim on this letter had expired."
    notice = page.inner_text("#lease-lost")
    assert notice.startswith("Your claim on this letter expired at ") and "it went back to the queue." in notice
    with page.expect_navigation():
        page.click("#claim-again")
    assert page.inner_text(".flash") == "The item is yours now."
    assert (_item(ctx, lost.id).state, _item(ctx, lost.id).assignee) == (WorkItemState.CLAIMED, "anna")
    # a renewal refused while the page stays open: the notice appears in place, no reload, no error
    _wait("the lease to run out again", lambda: lost.id in _sweep(ctx), timeout=3 * LEASE)
    page.unroute("**/agent/items/*/renew")
    page.wait_for_selector("#lease-lost #claim-again", timeout=5_000)
    assert "it went back to the queue." in page.inner_text("#lease-lost")

    # 3. a reload keeps the claim; leaving the page gives it back
    page.goto(f"/agent/items/{reloaded.id}")
    page.click(f"form[action='/agent/items/{reloaded.id}/claim'] button")
    page.wait_for_selector("#lease[data-held='1']", state="attached")
    page.reload()
    page.wait_for_selector("#lease[data-held='1']", state="attached")
    time.sleep(0.5)
    assert (_item(ctx, reloaded.id).state, _item(ctx, reloaded.id).assignee) == (WorkItemState.CLAIMED, "anna")
    page.goto(f"/agent/items/{left.id}")  # away from it: given back
    _wait("the beacon to give the item back", lambda: _item(ctx, reloaded.id).state == WorkItemState.NEW)
    page.click(f"form[action='/agent/items/{left.id}/claim'] button")
    page.wait_for_selector("#lease[data-held='1']", state="attached")
    page.goto("/agent")
    _wait("the beacon to give the item back", lambda: _item(ctx, left.id).state == WorkItemState.NEW)
    assert _item(ctx, left.id).assignee is None and _item(ctx, reloaded.id).assignee is None

    # 4. a hidden tab does not renew; shown again, it renews at once
    page.goto(f"/agent/items/{left.id}")
    page.click(f"form[action='/agent/items/{left.id}/claim'] button")
    page.wait_for_selector("#lease[data-held='1']", state="attached")
    renewals: list[float] = []
    page.on("request", lambda r: renewals.append(time.monotonic()) if r.url.endswith("/renew") else None)
    page.evaluate("""() => { window.__shown = 'hidden';
        Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => window.__shown});
        document.dispatchEvent(new Event('visibilitychange')); }""")
    time.sleep(2.5)
    assert renewals == []
    shown = datetime.now(UTC)
    at_once = page.evaluate("""() => { let n = 0; const f = window.fetch;
        window.fetch = function (url, init) { n += String(url).endsWith('/renew'); return f.call(this, url, init); };
        window.__shown = 'visible'; document.dispatchEvent(new Event('visibilitychange'));
        window.fetch = f; return n; }""")
    assert at_once == 1  # at once, in the event's own turn, not at the timer's next
    _wait("the renewed lease", lambda: _item(ctx, left.id).claimed_until > shown + timedelta(seconds=LEASE - 0.5))
    assert page.errors == []  # no script error on the way (the refused renewals are no error of the page)
    page.context.close()
