"""Issue 19's journey for configuration in the browser, in Debian's Chromium against a real ``mailroom serve`` with
two workers: an admin adds a routing rule, the dry run shows the letter it would move, the rule is saved, and
letters uploaded a few seconds later are routed by it with no restart; then the admin rolls back to the file and
the next letter is routed as before."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from tests.support.pages import PASSWORD, Served, served, sign_in, upload, wait_routed
from tests.test_a11y import serious, shot

RELOAD = 2.0  # MAILROOM_CONFIG_RELOAD_SECONDS as shipped: every process looks for a new version this often


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("config"), args=("--workers", "2")) as s:
        yield s


def _letter_naming(out: Path, word: str, seed: int) -> Path:
    """A generated customer letter (another customer, another matter) sent by e-mail, naming ``word``."""
    from corpus.generate import generate

    [rec] = generate(out / f"gen{seed}", seed=seed, count=1, forms=["text_pdf"])
    msg = EmailMessage()
    msg["From"] = f"customer{seed}@example.pl"
    msg["To"] = "office@telewave.example"
    msg["Subject"] = f"Letter {seed}"
    msg.set_content(f"{rec['documents'][0]['text']}\n\nRef. {word}\n")
    path = out / f"letter{seed}.eml"
    path.write_bytes(msg.as_bytes())
    return path


def _item(base: str, envelope_id: str) -> dict:
    doc = wait_routed(base, envelope_id, timeout=180)["documents"][0]
    return httpx.get(f"{base}/api/work-items/{doc['work_item']['id']}", auth=("boss", PASSWORD), timeout=10).json()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_admin_edits_a_rule_dry_runs_saves_and_rolls_back_while_two_workers_run(  # type: ignore[no-untyped-def]
        server: Served, browser, tmp_path: Path) -> None:
    base = server.base
    before = httpx.get(f"{base}/api/work-items/{server.item_id}", auth=("boss", PASSWORD), timeout=10).json()
    target = "sales" if before["queue"] != "sales" else "retention"
    rule = "journey-word"
    page = sign_in(browser, base, "root")
    page.goto("/config/routing")
    text = page.input_value("#config-text")
    assert "\nrules:\n" in text
    page.fill("#config-text", text.replace(
        "\nrules:\n", f"\nrules:\n  - name: {rule}\n    when:\n      text_matches: {server.word}\n"
                      f"    queue: {target}\n    priority: 90\n", 1))
    page.fill("#config-comment", "letters naming the word go to " + target)

    # the dry run: the letter already routed would move; nothing saved yet
    page.click("#config-check")
    page.wait_for_selector("#dry-run")
    assert "Nothing has been saved yet." in page.inner_text("#check-summary")
    row = page.locator(f"#dry-run-changes tr[data-item='{server.item_id}']")
    assert row.count() == 1
    assert row.locator(".queue-after").inner_text() != row.locator(".queue-before").inner_text()
    assert page.locator("#config-history").count() == 0  # no version yet
    assert not serious(page)
    page.locator("#dry-run").scroll_into_view_if_needed()
    shot(page, "config-dry-run")

    # saved: a new version, in force in every process within seconds, no restart
    page.click("#config-save")
    page.wait_for_selector("p.flash")
    assert "Saved as version" in page.inner_text("p.flash")
    assert page.locator("#config-history tr.version:not(.seed)").count() == 1
    page.goto(page.locator("#config-history tr.version:not(.seed) a").first.get_attribute("href") or "")
    assert f"+  - name: {rule}" in page.inner_text("#version-diff") and not serious(page)
    page.goto("/config/routing")
    time.sleep(RELOAD + 1)
    sent = [upload(base, _letter_naming(tmp_path, server.word, seed)) for seed in (301, 302, 303, 304)]
    items = [_item(base, envelope_id) for envelope_id in sent]
    assert [(i["queue"], i["routing_rule"]) for i in items] == [(target, rule)] * 4, items

    # rollback to the file: the next letter naming the word is routed as before the edit
    with page.expect_navigation():
        page.click("#config-history tr[data-version='0'] button.rollback")
    assert "The file is in force again" in page.inner_text("p.flash")
    assert page.locator("#config-history tr.version:not(.seed)").count() == 2
    time.sleep(RELOAD + 1)
    after = _item(base, upload(base, _letter_naming(tmp_path, server.word, 305)))
    assert after["routing_rule"] != rule
    audit = httpx.get(f"{base}/api/config/routing/versions", auth=("audit", PASSWORD), timeout=10).json()
    assert [(v["author"], v["restored_from"]) for v in audit] == [("root", 0), ("root", None)]
