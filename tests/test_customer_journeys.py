"""The customer record (issue 18) in a real browser (Debian's Chromium driven by Playwright) against a real
``mailroom serve`` and its worker: a supervisor imports 10,000 customers from a CSV file through the page and
finds one of them; a customer's follow-up fax (a G4 TIFF quoting the case reference of our acknowledgement)
joins the open item of its case, which is marked "new letter from the customer" and moves up in the queue
list, and the case page shows both letters."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw, ImageFont

from storage.db import session_scope
from storage.models import Customer, WorkItem
from tests.support.pages import PASSWORD, Served, served, sign_in, wait_routed
from tests.test_a11y import serious

HEADER = ["id", "name", "email", "phone", "national_id", "national_id_kind", "segment", "language", "address"]
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("customers"), routed_letter=False) as s:
        yield s


def customers_csv(path: Path, count: int) -> Path:
    """``count`` customers in the import format (tests/test_customers_and_handover.py's)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HEADER)
    for n in range(count):
        w.writerow([f"KL-{n:07d}", f"Klient Testowy {n}", f"klient{n}@example.pl", f"+48601{n:06d}", "", "",
                    "business" if n % 7 == 0 else "individual", "pl",
                    f"ul. Polna {n % 90 + 1}|00-{n % 1000:03d} Warszawa"])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def fax_tiff(lines: list[str]) -> bytes:
    """A one-page fax as a fax machine stores it: bilevel, 204×196 dpi, CCITT G4."""
    img = Image.new("1", (1728, 2200), 1)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 34)
    for i, line in enumerate(lines):
        draw.text((120, 160 + i * 64), line, fill=0, font=font)
    buf = io.BytesIO()
    img.save(buf, "TIFF", compression="group4", dpi=(204, 196))
    return buf.getvalue()


def _eml(subject: str, body: str, sender: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "reklamacje@telewave.example"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain="example.pl")
    msg.set_content(body)
    return msg.as_bytes()


def _send(s: Served, name: str, data: bytes, channel: str, ctype: str) -> dict:
    r = httpx.post(f"{s.base}/api/envelopes", auth=("scan", PASSWORD), timeout=60, data={"channel": channel},
                   files={"file": (name, data, ctype)})
    assert r.status_code == 202, r.text
    doc = wait_routed(s.base, r.json()["envelope_id"], timeout=240)["documents"][0]
    item = httpx.get(f"{s.base}/api/work-items/{doc['work_item']['id']}", auth=("boss", PASSWORD),
                     timeout=10).json()
    with session_scope(f"sqlite:///{s.data / 'mailroom.db'}") as db:  # the case is not in the API's answer
        row = db.get(WorkItem, item["id"])
        assert row is not None
        item.update(case_id=row.case_id, outcome=row.outcome, flags=list(row.flags))
    return item


def _order(page, queue: str) -> list[int]:  # type: ignore[no-untyped-def]
    """The items of the queue list, top to bottom, as the agent sees it."""
    page.goto("/agent")
    page.click(f"tr[data-queue='{queue}'] th a")
    page.wait_for_selector("table.queue-items")
    return [int(x) for x in page.locator("table.queue-items tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.item)")]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_customer_import_of_10000_rows(server: Served, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    file = customers_csv(tmp_path / "klienci.csv", 10_000)
    boss = sign_in(browser, server.base, "boss", "en")
    boss.click("nav a[href='/customers']")
    boss.wait_for_selector("form.customer-import")
    boss.set_input_files("#customer-file", str(file))
    boss.click("#import-customers")
    boss.wait_for_selector("#import-result", timeout=240_000)
    result = boss.locator("#import-result")
    assert result.locator(".counts").get_attribute("data-added") == "10000", result.inner_text()
    assert result.locator(".counts").get_attribute("data-updated") == "0"
    assert "10,000 customers added" in result.inner_text()
    assert not serious(boss)
    with session_scope(f"sqlite:///{server.data / 'mailroom.db'}") as db:
        assert db.get(Customer, "KL-0004242").address == ["ul. Polna 13", "00-242 Warszawa"]  # type: ignore[union-attr]
    # a row with a problem: nothing is imported, the row is named
    bad = tmp_path / "bad.csv"
    bad.write_text(",".join(HEADER) + "\nKL-0000001,Nowa nazwa,,,,,,pl,\n,bez numeru,,,,,,,\n", encoding="utf-8")
    boss.set_input_files("#customer-file", str(bad))
    boss.click("#import-customers")
    boss.wait_for_selector("table.import-errors")
    assert boss.locator("table.import-errors tbody tr").count() == 1
    assert "id is empty" in boss.inner_text("table.import-errors")
    # find one imported customer and open the customer page
    boss.fill("#customer-q", "KL-0004242")
    boss.click("form.customer-search button[type=submit]")
    boss.wait_for_selector("table.customers-found")
    boss.click("table.customers-found a[href='/customers/KL-0004242']")
    boss.wait_for_selector("#customer-number")
    assert boss.inner_text("#customer-number") == "KL-0004242"
    assert "Klient Testowy 4242" in boss.inner_text("h1")
    assert "ul. Polna 13" in boss.inner_text("dl.contact") and "klient4242@example.pl" in boss.inner_text("dl.contact")
    assert boss.locator("table.history").count() == 0 and not serious(boss)  # no letters yet
    assert "Klient Testowy 1" == db_name(server, "KL-0000001")  # the refused file changed nothing
    boss.context.close()


def db_name(server: Served, customer_id: str) -> str:
    with session_scope(f"sqlite:///{server.data / 'mailroom.db'}") as db:
        return db.get(Customer, customer_id).name  # type: ignore[union-attr]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_follow_up_fax_joins_the_open_item_and_raises_it_in_the_queue(server: Served, browser) -> None:  # type: ignore[no-untyped-def]
    with session_scope(f"sqlite:///{server.data / 'mailroom.db'}") as db:
        db.add(Customer(id="MR-2345678", name="Anna Nowak", email="anna.nowak@example.pl", language="pl",
                        address=["ul. Długa 5 m. 3", "00-950 Warszawa"]))
        db.add(Customer(id="MR-3456789", name="Piotr Zieliński", email="p.zielinski@example.pl", language="pl"))
    # another customer's complaint arrives first: it is ahead in the queue (same priority, earlier deadline)
    other = _send(server, "other.eml", _eml(
        "Reklamacja usługi roamingu",
        "Dzień dobry,\n\nreklamuję naliczenie opłat za roaming w październiku na fakturze FV/2026/10/000777. "
        "Nr klienta MR-3456789. Nie byłem wtedy za granicą. Proszę o korektę faktury.\n\nZ poważaniem\n"
        "Piotr Zieliński", "Piotr Zieliński <p.zielinski@example.pl>"), "email", "message/rfc822")
    first = _send(server, "first.eml", _eml(
        "Reklamacja faktury FV/2026/11/004512",
        "Dzień dobry,\n\nskładam reklamację faktury FV/2026/11/004512 za usługi telekomunikacyjne. Nr klienta "
        "MR-2345678. Naliczono opłatę za usługę, której nie zamawiałam. Proszę o korektę faktury i zwrot "
        "nadpłaty.\n\nZ poważaniem\nAnna Nowak", "Anna Nowak <anna.nowak@example.pl>"), "email", "message/rfc822")
    queue, case_id = first["queue"], first["case_id"]
    assert other["queue"] == queue and case_id is not None and other["case_id"] != case_id
    agent = sign_in(browser, server.base, "agent", "en")
    before = _order(agent, queue)
    assert before.index(other["id"]) < before.index(first["id"])
    assert not serious(agent)
    # the agent opens the letter and claims it
    agent.goto(f"/agent/items/{first['id']}")
    agent.click("form[action$='/claim'] button")
    agent.wait_for_selector("#item-state.state-claimed")
    assert agent.locator("ul.flags li.flag-new_letter").count() == 0
    agent.click("details#corrections summary")  # the holder's corrections: entity values, the customer link
    assert agent.locator("form.correct-entity[data-entity='invoice_no']").count() == 1
    assert agent.locator("#link-customer-id").input_value() == "MR-2345678"
    assert not serious(agent)
    # the customer's follow-up fax quotes the case reference of our acknowledgement
    reference = f"MRC-{case_id:06d}"
    fax = _send(server, "followup.tif", fax_tiff([
        "FAKS", "Do: Telewave, dział reklamacji", "Od: Anna Nowak, nr klienta MR-2345678",
        f"Dotyczy sprawy {reference}", "Reklamacja faktury FV/2026/11/004512", "",
        "Dzień dobry,", "w uzupełnieniu reklamacji przesyłam kopię faktury", "z zaznaczoną błędną opłatą.",
        "Proszę o szybkie rozpatrzenie sprawy.", "", "Z poważaniem", "Anna Nowak"]), "fax", "image/tiff")
    assert (fax["case_id"], fax["state"], fax["outcome"]) == (case_id, "done", "duplicate_of_case"), fax
    # in the browser: the item is marked and is higher in the queue list than before
    after = _order(agent, queue)
    assert after.index(first["id"]) < after.index(other["id"]), (before, after)
    assert after.index(first["id"]) < before.index(first["id"])
    row = agent.locator(f"table.queue-items tr[data-item='{first['id']}']")
    assert "new letter from the customer" in row.inner_text()
    agent.goto(f"/agent/items/{first['id']}")
    assert "new letter from the customer" in agent.inner_text("ul.flags")
    assert agent.locator("#item-customer a[href='/customers/MR-2345678']").count() == 1
    # the case page shows both letters, the e-mail and the fax
    agent.click("#item-case")
    agent.wait_for_selector("table.timeline")
    letters = agent.locator("tr.entry-letter_in")
    assert letters.count() == 2
    channels = sorted(re.sub(r"\s+", " ", letters.nth(i).locator("td").nth(2).inner_text()).strip()
                      for i in range(2))
    assert channels == ["E-mail", "Fax"], channels
    assert agent.locator(f"tr.entry-letter_in a[href='/agent/items/{fax['id']}']").count() == 1
    assert not serious(agent)
    # and the customer page lists both letters in time order, linked to the case
    agent.click("p.case-customers a[href='/customers/MR-2345678']")
    agent.wait_for_selector("table.history")
    items = [int(x) for x in agent.locator("table.history tr.entry-in").evaluate_all(
        "rows => rows.map(r => r.dataset.item)")]
    assert items == [first["id"], fax["id"]]
    assert not serious(agent)
    agent.context.close()
