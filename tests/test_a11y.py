"""Accessibility (issue #16): axe-core (npm, copied into web/static/vendor by `make install`) run by
Playwright in Debian's Chromium over every page of every role, in every language, against a real
``mailroom serve``: no serious or critical violation. Also: SLA states carry a word and an icon, not
colour alone, and the agent's letter page is photographed in each language for docs/screenshots
(with MAILROOM_SCREENSHOTS=docs/screenshots)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pages import SCREEN, Served, served, sign_in

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "web" / "static" / "vendor" / "axe.min.js"
LANGUAGES = ("en", "pl", "cs", "ru")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if not AXE.is_file():
        pytest.fail("web/static/vendor/axe.min.js is missing: `make install` copies it from node_modules (npm)")
    with served(tmp_path_factory.mktemp("a11y")) as s:
        yield s


@pytest.fixture(scope="module")
def signed_in(server: Served, browser) -> Iterator[dict]:  # type: ignore[no-untyped-def]
    """One signed-in page per role, kept for every language (a sign-in costs seconds of password hashing)."""
    pages = {user: sign_in(browser, server.base, user) for user in pages_of(server)}
    yield pages
    for page in pages.values():
        page.context.close()


def pages_of(s: Served) -> dict[str, list[str]]:
    """Every page of every role (the htmx fragments are checked inside their pages)."""
    batch, item = f"/mailroom/batches/{s.envelope_id}", f"/agent/items/{s.item_id}"
    archive = ["/auditor", f"/auditor?q={s.word}", f"/auditor?q={s.word}&date_from=2000-01-01",
               f"/auditor/documents/{s.document_id}"]
    case = [f"/cases/{case_id}"] if (case_id := _case_of(s)) else []  # a case's timeline (issue 17)
    return {
        "scan": ["/mailroom", batch, "/mailroom/post", "/profile"],
        "agent": ["/agent", item, *case, "/profile"],
        "boss": ["/supervisor", "/mailroom", batch, "/agent", item, "/supervisor/approvals", "/mailroom/post",
                 "/profile"],
        "audit": [*archive, *case, "/profile"],
        "root": ["/supervisor", "/mailroom", batch, "/agent", item, *archive, "/supervisor/approvals",
                 "/mailroom/post", *case, "/profile"],
    }


def _case_of(s: Served) -> int | None:
    """The case of the served letter's item, if it has one (read from the server's database)."""
    from storage.db import session_scope
    from storage.models import WorkItem

    if not s.item_id:
        return None
    with session_scope(f"sqlite:///{s.data / 'mailroom.db'}") as db:
        item = db.get(WorkItem, s.item_id)
        return item.case_id if item is not None else None


def serious(page) -> list[str]:  # type: ignore[no-untyped-def]
    """axe-core's serious and critical violations on the page as it is now (loaded from /static, so the
    page's Content-Security-Policy stays in force)."""
    if not page.evaluate("() => !!window.axe"):
        page.add_script_tag(url="/static/vendor/axe.min.js")
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} — " + "; ".join(n["target"][0] if isinstance(
                n["target"][0], str) else str(n["target"]) for n in v["nodes"][:5])
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    out = os.environ.get("MAILROOM_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(out) / f"{name}.png"))


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("language", LANGUAGES)
def test_no_serious_or_critical_violation_on_any_page_of_any_role(server: Served, browser, signed_in,  # type: ignore[no-untyped-def]
                                                                  language: str) -> None:
    """In English every page of every role; in the other languages (the same markup, other words: a label
    that no longer contains its visible text, a lang attribute) every page once, as the administrator who
    sees them all, and each role's own pages with its own menu."""
    found: dict[str, list[str]] = {}
    context = browser.new_context(base_url=server.base, locale=language,
                                  extra_http_headers={"Accept-Language": language})
    page = context.new_page()
    for url in ("/login", "/login?next=/agent"):
        page.goto(url)
        found[f"anonymous {url}"] = serious(page)
    page.fill("input[name=username]", "agent")
    page.fill("input[name=password]", "wrong password")
    page.click("form[action='/login'] button[type=submit]")
    found["anonymous /login (failed)"] = serious(page)
    context.close()
    for user, urls in pages_of(server).items():
        context = browser.new_context(base_url=server.base, locale=language, viewport=SCREEN,
                                      extra_http_headers={"Accept-Language": language},
                                      storage_state=signed_in[user].context.storage_state())  # its session
        page = context.new_page()
        for url in urls if language == "en" or user == "root" else urls[:1]:
            page.goto(url)  # server-rendered: complete at "load"
            assert page.evaluate("document.documentElement.lang") == language, (user, url)
            found[f"{user} {url}"] = serious(page)
        context.close()
    problems = {where: v for where, v in found.items() if v}
    assert not problems, problems


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_letter_page_in_each_language_and_its_actions(server: Served, browser) -> None:  # type: ignore[no-untyped-def]
    """The agent's letter page before and after a claim (the hold and complete forms), with its SLA state in
    words and an icon; photographed in each language."""
    item = f"/agent/items/{server.item_id}"
    for language in LANGUAGES:
        page = sign_in(browser, server.base, "agent", language)
        page.goto(item)
        page.wait_for_function("() => { const i = document.querySelector('img.page'); "
                               "return i && i.complete && i.naturalWidth > 500; }", timeout=90_000)
        clock = page.locator(".sla-clock .sla")
        assert clock.locator(".sla-icon").count() == 1 and clock.inner_text().strip()  # a word, not colour alone
        assert not serious(page), language
        shot(page, f"agent-item-{language}")
        page.context.close()
    page = sign_in(browser, server.base, "agent", "pl")
    page.goto(item)
    page.click("form[action$='/claim'] button")
    page.wait_for_selector("#item-state.state-claimed")
    assert page.locator("form[action$='/complete'] select[name=outcome]").count() == 1
    assert "Zgłoszenie jest teraz Twoje." in page.inner_text(".flash")
    assert not serious(page)
    queues = sign_in(browser, server.base, "agent", "ru")
    queues.goto("/agent")
    assert queues.locator("#agent-queues .sla .sla-icon").count() >= 1
    assert not serious(queues)
