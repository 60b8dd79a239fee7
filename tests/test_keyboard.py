"""Keyboard only (issue #16), in Debian's Chromium against a real ``mailroom serve``: the agent signs in,
takes the next item, reads the letter and completes it; the mailroom uploads a file and checks its batch —
with Tab, Enter, Space and arrow keys alone, and the focus visible at every stop."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.support.pages import PASSWORD, SCREEN, Served, served

FOCUS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el), label = el.labels && el.labels[0];
  const ring = (s) => s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
  return {tag: el.tagName.toLowerCase(), id: el.id, text: (el.innerText || el.value || '').trim().slice(0, 200),
          name: el.getAttribute('name'), type: el.type || '', action: el.form ? el.form.action : '',
          href: el.getAttribute('href') || '',
          visible: ring(style) || !!(label && ring(getComputedStyle(label)))};
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("keyboard")) as s:
        yield s


def tab_to(page, wanted, what: str, limit: int = 80, back: bool = False) -> dict:  # type: ignore[no-untyped-def]
    """Press Tab (Shift+Tab) until the focused element satisfies ``wanted``; every stop shows its focus."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        focus = page.evaluate(FOCUS)
        if focus is None:
            continue
        assert focus["visible"], f"focus not visible on {focus}"
        if wanted(focus):
            return focus
    raise AssertionError(f"Tab never reached {what}")


def keyboard_sign_in(browser, base: str, user: str, language: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=SCREEN, base_url=base, locale=language,
                                  extra_http_headers={"Accept-Language": language})
    page = context.new_page()
    page.goto("/login")
    assert page.evaluate(FOCUS)["name"] == "username"  # the form starts where typing starts
    page.keyboard.type(user)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation(url=lambda url: "/login" not in url, timeout=60_000):
        page.keyboard.press("Enter")
    return page


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_agent_takes_reads_and_completes_the_next_item_by_keyboard(server: Served, browser) -> None:  # type: ignore[no-untyped-def]
    page = keyboard_sign_in(browser, server.base, "agent", "pl")
    assert page.url.endswith("/agent")
    # the skip link comes first and leads past the menu
    first = tab_to(page, lambda f: True, "the first stop")
    assert first["href"] == "#main"
    tab_to(page, lambda f: f["tag"] == "button" and f["text"] == "Następny list", "Next item")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith(f"/agent/items/{server.item_id}")
    assert page.inner_text("#item-state") == "w realizacji"  # the next item is hers: claimed on the way
    # read: the recognised text is a stop of its own, and the arrow keys scroll it
    tab_to(page, lambda f: f["id"] == "text", "the recognised text")
    assert server.word in page.inner_text("#text")
    page.keyboard.press("ArrowDown")
    # complete: choose the outcome with the arrow keys, then the button
    tab_to(page, lambda f: f["name"] == "outcome", "the outcome", back=True)
    page.keyboard.press("ArrowDown")  # resolved → answered
    assert page.evaluate("document.activeElement.value") == "answered"
    tab_to(page, lambda f: f["text"] == "Zakończ", "Complete")  # right after the outcome
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert re.search(r"/agent\?", page.url)
    assert page.inner_text(".flash") == "Zgłoszenie zakończone."
    page.context.close()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_mailroom_uploads_and_checks_its_batch_by_keyboard(server: Served, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from corpus.generate import generate

    [rec] = generate(tmp_path, seed=31, count=1, forms=["text_pdf"])
    letter = tmp_path / rec["file"]
    page = keyboard_sign_in(browser, server.base, "scan", "cs")
    assert page.url.endswith("/mailroom")
    tab_to(page, lambda f: f["id"] == "files", "the file chooser")
    for attempt in range(3):  # once in a loaded full run Chromium let a Space on the focused input pass: press again
        try:
            with page.expect_file_chooser(timeout=10_000) as chooser:
                page.keyboard.press("Space")
            break
        except PlaywrightTimeout:
            assert attempt < 2, "Space on the focused file input never opened the file chooser"
            assert page.evaluate("document.activeElement.id") == "files"
    chooser.value.set_files(str(letter))
    page.wait_for_selector("#uploads li.ok a", timeout=60_000)
    assert "přijato" in page.inner_text("#uploads li.ok")
    # the new entry offers its batch; Tab reaches the link and Enter opens it
    tab_to(page, lambda f: f["tag"] == "a" and "/mailroom/batches/" in f["href"], "the batch")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/mailroom/batches/" in page.url
    page.wait_for_selector("#batch-state.state-processed", timeout=300_000)  # it refreshes itself while read
    assert page.inner_text("#letters-found") == "1"
    assert page.inner_text("#batch-state") == "předáno do front"
    assert page.evaluate("document.documentElement.lang") == "cs"
    page.context.close()
