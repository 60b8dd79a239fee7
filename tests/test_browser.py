"""Each role's main journey in a real browser (Debian's Chromium driven by Playwright) against a
real ``mailroom serve --demo``: the mailroom uploads a letter → the agent sees it arrive, opens it,
claims and completes it → the supervisor sees the counts change → the auditor finds it by a word
of its text and sees who did what.

With MAILROOM_SCREENSHOTS=docs/screenshots the four main pages are also saved there (README)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.servers import free_port, mailroom_serve

SCREEN = {"width": 1366, "height": 768}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("browser") / "data"
    port = free_port()
    env = dict(os.environ, MAILROOM_DATA=str(data), MAILROOM_PORT=str(port))
    env.pop("MAILROOM_SECRET_KEY", None)  # --demo makes one for its data directory
    with mailroom_serve(env, "--demo", log=data.parent / "serve.log") as base:
        assert (data / "demo-secret-key").stat().st_mode & 0o077 == 0
        yield base


def sign_in(browser, base: str, user: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=SCREEN, base_url=base)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", "demo")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, page.content()[:2000]
    page.console_errors = errors  # type: ignore[attr-defined]
    return page


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    out = os.environ.get("MAILROOM_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(out) / f"{name}.png"))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_four_roles_work_one_letter_end_to_end(server: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from corpus.generate import generate

    [rec] = generate(tmp_path, seed=23, count=1, forms=["text_pdf"])
    letter = tmp_path / rec["file"]
    text = rec["documents"][0]["text"]
    word = sorted((w for w in re.findall(r"[^\W\d_]{8,}", text)), key=len)[-1]

    # -- mailroom: drag-and-drop zone's file chooser, progress, the batch list updates live
    scanner = sign_in(browser, server, "scanner")
    assert scanner.url.endswith("/mailroom")
    scanner.set_input_files("#files", str(letter))
    scanner.wait_for_selector("#uploads li.ok", timeout=30_000)
    env_id = scanner.get_attribute("#uploads li.ok", "data-envelope")
    assert env_id
    scanner.wait_for_selector(f'#batches tr[data-envelope="{env_id}"]', timeout=15_000)
    scanner.wait_for_selector(f'#batches tr[data-envelope="{env_id}"].env-processed', timeout=400_000)
    shot(scanner, "mailroom")
    detail = httpx.get(f"{server}/api/envelopes/{env_id}", auth=("supervisor", "demo"), timeout=10).json()
    item = detail["documents"][0]["work_item"]
    queue, item_id = item["queue"], item["id"]

    # -- supervisor: the dashboard before the agent acts
    boss = sign_in(browser, server, "supervisor")
    row = f'#dashboard tr[data-queue="{queue}"]'
    done_before = int(boss.inner_text(f"{row} .done-count"))
    assert "routing.yaml: valid" in boss.inner_text("body")

    # -- agent: the queue shows the new item without a reload; open, claim, complete
    agent = sign_in(browser, server, "agent")
    assert agent.url.endswith("/agent")
    assert int(agent.inner_text(f'#agent-queues tr[data-queue="{queue}"] .new-count')) >= 1
    agent.goto(f"/agent/items/{item_id}")
    agent.wait_for_selector("img.page")
    agent.wait_for_function("() => { const i = document.querySelector('img.page'); "
                            "return i.complete && i.naturalWidth > 500; }", timeout=90_000)
    assert word in agent.inner_text("pre.ocr")
    agent.keyboard.press("c")  # shortcut: claim
    agent.wait_for_selector("#item-state.state-claimed")
    shot(agent, "agent")
    agent.select_option("select[name=outcome]", "answered")
    agent.keyboard.press("d")  # shortcut: complete
    agent.wait_for_url(re.compile(r"/agent\?"))
    assert not agent.console_errors, agent.console_errors  # type: ignore[attr-defined]

    # -- supervisor: the counts change without a reload
    boss.wait_for_function(
        "([sel, n]) => parseInt(document.querySelector(sel).textContent) > n",
        arg=[f"{row} .done-count", done_before], timeout=30_000)
    shot(boss, "supervisor")

    # -- auditor: finds it by a word of its text, opens it, sees who did what
    auditor = sign_in(browser, server, "auditor")
    auditor.fill("input[name=q]", word)
    auditor.click("form.search button[type=submit]")
    auditor.wait_for_selector("table.results")
    shot(auditor, "auditor")
    auditor.click(f'a[href="/auditor/documents/{detail["documents"][0]["id"]}"]')
    trail = auditor.inner_text("table.trail")
    assert re.search(r"scanner\s+envelope\.accepted", trail), trail
    assert re.search(r"agent\s+work_item\.claimed", trail) and re.search(r"agent\s+work_item\.completed", trail)
    with auditor.expect_download() as download:
        auditor.click("text=Download the original")
    assert Path(download.value.path()).read_bytes() == letter.read_bytes()
    for page in (scanner, boss, agent, auditor):
        assert not page.console_errors, page.console_errors  # type: ignore[attr-defined]
