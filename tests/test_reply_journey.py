"""Answering the customer (issue 17) in a real browser (Debian's Chromium driven by Playwright) against a real
``mailroom serve`` and a real SMTP relay (aiosmtpd): an agent writes a templated reply to a Polish complaint,
previews it and sends it by e-mail (threaded under the customer's message); another reply goes by post, the
mailroom builds the day's batch, types the registered number and hands it over; a supervisor approves a reply
that needs four eyes; an auditor reads the case's timeline with the letters in and out."""

from __future__ import annotations

import email
import email.policy
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import httpx
import pytest

from storage.db import session_scope
from storage.models import Customer, WorkItem
from tests.support.pages import PASSWORD, Served, served, sign_in, wait_routed
from tests.support.smtp_relay import Relay, relay
from tests.test_a11y import serious, shot

COMPLAINTS = {
    "mail": ("Reklamacja faktury FV/2026/11/004512",
             "Dzień dobry,\n\nskładam reklamację faktury FV/2026/11/004512 za usługi telekomunikacyjne. Nr klienta "
             "MR-1234567. Naliczono opłatę za usługę, której nie zamawiałem. Proszę o korektę faktury i zwrot "
             "nadpłaty.\n\nZ poważaniem\nJan Kowalski"),
    "post": ("Reklamacja usługi roamingu",
             "Dzień dobry,\n\nreklamuję naliczenie opłat za roaming w październiku na fakturze FV/2026/10/000777. "
             "Nr klienta MR-1234567. Nie byłem wtedy za granicą. Odpowiedź proszę przesłać pocztą na mój adres."
             "\n\nZ poważaniem\nJan Kowalski"),
    "legal": ("Wezwanie przedsądowe",
              "Dzień dobry,\n\nreklamuję brak internetu przez dwa tygodnie i wzywam do zapłaty odszkodowania. "
              "Umowa UM/2025/0042, nr klienta MR-1234567. W razie braku odpowiedzi sprawa trafi do sądu."
              "\n\nZ poważaniem\nJan Kowalski"),
}


def _eml(subject: str, body: str) -> tuple[bytes, str]:
    msg = EmailMessage()
    msg["From"] = "Jan Kowalski <jan.kowalski@example.pl>"
    msg["To"] = "reklamacje@telewave.example"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain="example.pl")
    msg.set_content(body)
    return msg.as_bytes(), str(msg["Message-ID"])


@pytest.fixture(scope="module")
def smtp() -> Iterator[Relay]:
    with relay() as r:
        yield r


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, smtp: Relay) -> Iterator[Served]:
    saved = {k: os.environ.get(k) for k in ("MAILROOM_SMTP_URL", "MAILROOM_ALLOW_PRIVATE_HOSTS")}
    os.environ.update(MAILROOM_SMTP_URL=smtp.url, MAILROOM_ALLOW_PRIVATE_HOSTS="127.0.0.1")
    try:
        with served(tmp_path_factory.mktemp("replies"), routed_letter=False) as s:
            yield s
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _arrived(s: Served) -> dict[str, tuple[int, int | None, str, str]]:
    """The three complaints by e-mail, routed: name → (item id, case id, document id, customer's Message-ID)."""
    with session_scope(f"sqlite:///{s.data / 'mailroom.db'}") as db:
        db.add(Customer(id="MR-1234567", name="Jan Kowalski", email="jan.kowalski@example.pl", language="pl",
                        address=["ul. Długa 5 m. 3", "00-950 Warszawa"]))
    sent: dict[str, tuple[str, str]] = {}
    for name, (subject, body) in COMPLAINTS.items():
        raw, msgid = _eml(subject, body)
        r = httpx.post(f"{s.base}/api/envelopes", auth=("scan", PASSWORD), timeout=60, data={"channel": "email"},
                       files={"file": (f"{name}.eml", raw, "message/rfc822")})
        assert r.status_code == 202, r.text
        sent[name] = (r.json()["envelope_id"], msgid)
    out = {}
    for name, (envelope_id, msgid) in sent.items():
        doc = wait_routed(s.base, envelope_id, timeout=120)["documents"][0]
        item = httpx.get(f"{s.base}/api/work-items/{doc['work_item']['id']}", auth=("boss", PASSWORD),
                         timeout=10).json()
        out[name] = (item["id"], item.get("case_id"), doc["id"], msgid)
    return out


def _flash(page) -> str:  # type: ignore[no-untyped-def]
    return page.inner_text("p.flash[role=status]")


def _write_reply(page, item_id: int, *, registered: bool = False) -> str:  # type: ignore[no-untyped-def]
    """On the item page (Polish): claim, start a reply from the template, fill in the decision and position,
    save. Returns the letter's id."""
    page.goto(f"/agent/items/{item_id}")
    if page.locator("form[action$='/claim'] button").count():
        page.click("form[action$='/claim'] button")
        page.wait_for_selector("#item-state.state-claimed")
    page.click("button[data-new-letter=reply]")
    page.wait_for_selector("form.draft")
    assert "Szkic jest gotowy" in _flash(page)
    form = page.locator("form.draft").first
    letter_id = form.get_attribute("id").removeprefix("letter-")  # type: ignore[union-attr]
    if form.locator("select[name=decision]").count():
        form.locator("select[name=decision]").select_option("accepted")
        form.locator("input[name=employee_position]").fill("Specjalista ds. reklamacji")
    if registered:
        form.locator("input[name=registered]").check()
    form.locator("button[name=do][value=save]").click()
    page.wait_for_selector("p.flash")
    assert "Szkic został zapisany." in _flash(page), _flash(page)
    return letter_id


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_reply_by_email_and_by_post_four_eyes_and_the_case_timeline(server: Served, smtp: Relay,  # type: ignore[no-untyped-def]
                                                                    browser) -> None:
    items = _arrived(server)
    mail_item, _case, mail_doc, customer_msgid = items["mail"]

    # -- the agent answers the e-mail complaint by e-mail: template, required content, preview, send
    agent = sign_in(browser, server.base, "agent", "pl")
    letter_id = _write_reply(agent, mail_item)
    form = agent.locator(f"#letter-{letter_id}")
    assert form.locator("input[name=channel][value=email]").is_checked()
    assert "Odpowiedź na reklamację" in form.locator("input[name=subject]").input_value()
    assert not serious(agent)  # the draft form: labels, legends, no colour-only state
    shot(agent, "reply-draft")
    preview = agent.request.get(f"/agent/letters/{letter_id}/preview.pdf")
    assert preview.status == 200 and preview.headers["content-type"] == "application/pdf"
    assert preview.body().startswith(b"%PDF")
    form.locator("button[data-send]").click()
    agent.wait_for_selector("p.flash")
    assert "E-mail został wysłany." in _flash(agent), _flash(agent)
    assert "wysłany" in agent.inner_text(f"tr[data-letter='{letter_id}']")
    replies = [email.message_from_bytes(m.raw, policy=email.policy.default) for m in smtp.messages]
    (reply,) = [m for m in replies if "Odpowiedź na reklamację" in str(m["Subject"])]
    assert str(reply["In-Reply-To"]).strip() == customer_msgid
    assert "reklamacja została uwzględniona" in reply.get_body(("plain",)).get_content()

    # -- a reply by post (the customer asked for it): registered, into the day's batch
    post_item = items["post"][0]
    post_letter = _write_reply(agent, post_item, registered=True)
    form = agent.locator(f"#letter-{post_letter}")
    assert form.locator("input[name=channel][value=post]").is_checked()
    form.locator("button[data-send]").click()
    agent.wait_for_selector("p.flash")
    assert "List czeka na najbliższą partię poczty." in _flash(agent), _flash(agent)

    # -- the mailroom: build the batch, scan the registered number (Enter), hand it over
    scan = sign_in(browser, server.base, "scan", "pl")
    scan.click("a[href='/mailroom/post']")
    assert scan.inner_text("#waiting") == "1"
    scan.click("#build-batch")
    scan.wait_for_selector("section.batch")
    assert "gotowa do druku" in _flash(scan)
    batch = scan.locator("section.batch").first
    pdf = scan.request.get(batch.locator("a[href$='/print.pdf']").get_attribute("href"))  # type: ignore[arg-type]
    assert pdf.headers["content-type"] == "application/pdf"
    assert "polecony" in batch.locator(f"tr[data-letter='{post_letter}']").inner_text()  # registered mail
    number = scan.locator(f"#num-{post_letter}")
    assert number.evaluate("el => el === document.activeElement")  # autofocus: a scanner types at once
    assert not serious(scan)
    shot(scan, "post-batch")
    number.type("RR123456785PL")
    number.press("Enter")
    scan.wait_for_selector("p.flash")
    assert "Numery nadawcze zapisane." in _flash(scan)
    assert scan.locator(f"#num-{post_letter}").input_value() == "RR123456785PL"
    scan.locator("section.batch").first.locator("button[data-hand-over]").click()
    scan.wait_for_selector("section.batch-handed_over")
    assert "została nadana w placówce pocztowej" in _flash(scan), _flash(scan)
    assert "RR123456785PL" in scan.inner_text("section.batch-handed_over")
    assert not serious(scan)

    # -- four eyes: the agent's reply to a legal complaint (reclassified if need be) waits for a supervisor
    legal_item = items["legal"][0]
    agent.goto(f"/agent/items/{legal_item}")
    if agent.locator("form[action$='/claim'] button").count():
        agent.click("form[action$='/claim'] button")
        agent.wait_for_selector("#item-state.state-claimed")
    if agent.locator("#to-category option[value=legal]").count():  # not read as legal: the agent corrects it
        agent.select_option("#to-category", "legal")
        agent.click("form[action$='/reclassify'] button")
        agent.wait_for_selector("p.flash")
    legal_letter = _write_reply(agent, legal_item)
    assert "czeka na zatwierdzenie" in agent.inner_text(f"#letter-{legal_letter}")
    assert agent.locator(f"#letter-{legal_letter} button[data-send]").count() == 0
    boss = sign_in(browser, server.base, "boss", "pl")
    boss.goto("/supervisor")
    boss.click("a[href='/supervisor/approvals']")
    card = boss.locator(f"section[data-letter='{legal_letter}']")
    assert not serious(boss)
    assert "agent" in card.inner_text()
    card.locator("button[type=submit]").click()
    boss.wait_for_selector("p.flash")
    assert "Zatwierdzono" in _flash(boss)
    agent.goto(f"/agent/items/{legal_item}")
    assert agent.locator(f"#letter-{legal_letter} button[data-send]").count() == 1

    # -- the auditor: the case's timeline from the letter's page, letters in and out
    with session_scope(f"sqlite:///{server.data / 'mailroom.db'}") as db:
        case_id = db.get(WorkItem, mail_item).case_id  # type: ignore[union-attr]
    assert case_id is not None
    audit = sign_in(browser, server.base, "audit", "pl")
    audit.goto(f"/auditor/documents/{mail_doc}")
    audit.click(f"a[href='/cases/{case_id}']")
    audit.wait_for_selector("table.timeline")
    assert audit.locator("tr.entry-letter_in").count() >= 1
    assert not serious(audit)
    shot(audit, "case-timeline")
    outgoing = audit.inner_text("table.timeline")
    assert "Odpowiedź" in outgoing and "Potwierdzenie otrzymania" in outgoing  # the reply and the acknowledgement
    assert audit.locator(f"a[href='/auditor/documents/{mail_doc}']").count() == 1
    for page in (agent, scan, boss, audit):
        page.context.close()
