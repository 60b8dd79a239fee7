"""Re-splitting a batch whose separator was missed (issue 18), in a real browser (Debian's Chromium driven by
Playwright) against a real ``mailroom serve``: the mailroom uploads a scan of two letters with no separator
sheet between them, saying the batch holds two letters; the workers read it as one letter and the batch check
warns; the mailroom user opens the batch, starts a new letter at the right page, applies the correction; the
batch has two letters, each routed as a new work item, and the one letter it replaced is closed visibly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from storage.db import session_scope
from storage.models import Document, WorkItem
from tests.support.pages import PASSWORD, Served, served, sign_in, wait_routed
from tests.test_a11y import shot
from tests.test_corrections import scan_pdf


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("corrections"), routed_letter=False) as s:
        yield s


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_re_splitting_a_batch_whose_separator_was_missed(server: Served, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    scan = scan_pdf(tmp_path / "batch-without-separator.pdf")
    page = sign_in(browser, server.base, "scan")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    # the station uploads the scan from the mailroom page and says how many letters it counted
    page.goto("/mailroom")
    page.fill("#expected", "2")
    page.select_option("#channel", "scan")
    page.set_input_files("#files", str(scan))
    link = page.locator("#uploads li.ok a")
    link.wait_for(timeout=60_000)
    envelope_id = link.get_attribute("href").rsplit("/", 1)[-1]  # type: ignore[union-attr]
    detail = wait_routed(server.base, envelope_id, timeout=300)
    assert len(detail["documents"]) == 1  # the missed separator: one letter of three pages
    [before] = detail["documents"]

    # the mailroom list and the batch page warn: two letters counted, one found
    page.goto("/mailroom")
    row = page.locator(f"tr[data-envelope='{envelope_id}']")
    row.locator(".check-differs").wait_for()
    row.locator("a").click()
    page.wait_for_selector("#check-warning")
    assert "counted 2 letters, but 1 were found" in page.inner_text("#check-warning")

    # the correction page: the three pages of the one letter; a new letter starts at page 3
    page.click("#correct-link")
    page.wait_for_selector("li.page#p3")
    assert page.locator("section.letter").count() == 1
    assert "cancel my contract" in page.inner_text("li.page#p3 .snippet")
    page.click("li.page#p3 button[value='split 3']")
    page.wait_for_selector("section.letter[data-letter='2'] li.page#p3")
    assert "After the correction: 2 letters." in page.inner_text("#draft-summary")
    assert page.locator("section.letter[data-letter='1'] li.page").count() == 2
    assert page.is_enabled("#apply")
    shot(page, "corrections")
    page.click("#apply")
    page.wait_for_selector("p.flash[role=status]")
    assert "2 new letters were made and routed" in page.inner_text("p.flash[role=status]")
    assert page.inner_text("#check-found").strip() == "2"
    assert page.locator("#check-ok").count() == 1 and page.locator("#check-warning").count() == 0
    assert page.locator("#superseded").count() == 1
    shot(page, "corrected-batch")
    assert not errors, errors  # no script error, nothing refused by the Content-Security-Policy

    # two letters, each with its own new work item in a queue; the old letter's item closed as superseded
    after = httpx.get(f"{server.base}/api/batches/{envelope_id}", auth=("boss", PASSWORD), timeout=10).json()
    assert after["documents_found"] == 2
    items = [d["work_item"] for d in after["documents"]]
    assert all(i and i["state"] == "new" for i in items)
    assert before["work_item"]["id"] not in {i["id"] for i in items}
    categories = sorted(d["category"] for d in after["documents"])
    assert categories == ["cancellation", "complaint"]
    with session_scope(f"sqlite:///{server.data / 'mailroom.db'}") as db:
        old = db.get(WorkItem, before["work_item"]["id"])
        assert old is not None and old.state == "done" and old.outcome == "superseded_by_correction"
        replaced = db.get(Document, before["id"])
        assert replaced is not None and replaced.superseded_by is not None
