"""Stored XSS rendered in a real browser (RELIABILITY.md "stored XSS"): script payloads in the subject,
the sender's name, the HTML body, the file name, the recognised text, entity names and values, notes
(hold reasons in the audit trail) and queue names go through a real ``mailroom serve`` (upload →
worker → routing) and every page of every role renders them as text.

The pages are opened twice in Debian's Chromium: once with the Content-Security-Policy bypassed
(``bypass_csp``), so that an unescaped payload would really run and raise a dialog — CSP must not
hide an escaping bug — and once normally, checking the CSP header on every page."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage

import httpx
import pytest
from sqlalchemy import select

from ground.settings import CONFIG_DIR
from queues.routing import load_rules
from storage.db import migrate, session_scope
from storage.models import Document, Role
from storage.users import upsert_user
from tests.support.agents import join_every_queue
from tests.support.servers import free_port, mailroom_serve, wait_until

PASSWORD = "xss-test-password-1"
USERS = {"scan": Role.SCANNER, "agent": Role.AGENT, "boss": Role.SUPERVISOR, "audit": Role.AUDITOR}


def payload(tag: str) -> str:
    """A payload that raises a dialog naming where it came from, if it is ever parsed as HTML."""
    return f"\"'><img src=x onerror=alert('{tag}')><script>alert('{tag}')</script><svg onload=alert('{tag}')>"


SUBJECT, SENDER, BODY, FILENAME = payload("subject"), payload("sender"), payload("body"), payload("filename")
ENTITY_KEY, ENTITY_VALUE, NOTE, QUEUE = payload("entkey"), payload("entval"), payload("note"), payload("queue")
QNAME = payload("qfile")[1:]  # multipart clients send '"' in a file name as %22
FILENAME = FILENAME[1:]
WORD = "Zażalenieunikalne"  # found by the auditor's search, next to the payload in the text


@dataclass
class Seeded:
    base: str
    item_id: int
    document_id: str


def _letter() -> bytes:
    msg = EmailMessage()
    msg["From"] = "SENDERNAME <klient@example.pl>"  # replaced below by an RFC 2047 word the parser keeps whole
    msg["To"] = "bok@example.com"
    msg["Subject"] = SUBJECT
    msg["Message-ID"] = "<xss-browser-1@example.pl>"
    text = (f"Dzień dobry, {WORD}: składam reklamację faktury FV/2026/10/004512, Nr klienta MR-1234567. "
            f"Kwota 149,99 zł została pobrana dwukrotnie. {BODY} Proszę o zwrot. Z poważaniem, Jan Kowalski\n\n"
            + "Opłata za usługę roamingową naliczona w październiku nie powinna się pojawić na fakturze, "
            "ponieważ usługa była wyłączona od początku umowy, co potwierdził konsultant infolinii. " * 3)
    msg.set_content(text)
    msg.add_alternative(f"<html><body><p>{text}</p><script>alert('htmlpart')</script>"
                        f"<img src=x onerror=alert('htmlimg')></body></html>", subtype="html")
    msg.add_attachment(b"Reklamacja " + BODY.encode() + b" " + WORD.encode(), maintype="text", subtype="plain",
                       filename=FILENAME + ".txt")
    sender = "=?utf-8?b?" + base64.b64encode(SENDER.encode()).decode() + "?="
    return msg.as_bytes().replace(b"SENDERNAME", sender.encode())


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    root = tmp_path_factory.mktemp("xss")
    data = root / "data"
    data.mkdir()
    rules = root / "routing.yaml"  # every queue's display name is a payload
    src = (CONFIG_DIR / "routing.yaml").read_text()
    rules.write_text(re.sub(r"(?m)^    name: .*$", lambda m: "    name: " + json.dumps(QUEUE), src))
    db_url = f"sqlite:///{data / 'mailroom.db'}"
    migrate(db_url)
    with session_scope(db_url) as s:
        for name, role in USERS.items():
            upsert_user(s, name, PASSWORD, role, payload(f"display-{name}"))
        join_every_queue(s, load_rules(rules))  # an agent without memberships works no queue
    port = free_port()
    env = dict(os.environ, MAILROOM_DATA=str(data), MAILROOM_PORT=str(port), MAILROOM_ROUTING_RULES=str(rules),
               MAILROOM_SECRET_KEY="x7Rk2-browser-xss-test-key-0123456789abcdef")
    with mailroom_serve(env, log=root / "serve.log") as base:
        scan, boss = ("scan", PASSWORD), ("boss", PASSWORD)
        r = httpx.post(f"{base}/api/envelopes", auth=scan, timeout=30,
                       files={"file": (FILENAME + ".eml", _letter(), "message/rfc822")})
        assert r.status_code == 202, r.text
        env_id = r.json()["envelope_id"]
        bad = httpx.post(f"{base}/api/envelopes", auth=scan, timeout=30,
                         files={"file": (QNAME + ".pdf", b"\x00\x01 not a pdf at all", "application/pdf")})
        assert bad.status_code >= 400  # quarantined, listed by name on the mailroom page

        def routed() -> dict | None:
            got = httpx.get(f"{base}/api/envelopes/{env_id}", auth=scan, timeout=10).json()
            assert got["state"] not in ("quarantined", "needs_human"), got
            done = got["state"] == "processed" and all(d["work_item"] for d in got["documents"])
            return got if done else None

        detail = wait_until(routed, 240, "the letter to be routed")
        with session_scope(db_url) as s:
            texts = {d["id"]: s.get(Document, d["id"]).text for d in detail["documents"]}  # type: ignore[union-attr]
        [doc] = [d for d in detail["documents"] if WORD + ":" in texts[d["id"]]]
        item_id = doc["work_item"]["id"]
        # entities as the extractor stores them, plus a payload as a name and as a value
        with session_scope(db_url) as s:
            row = s.scalars(select(Document).where(Document.id == doc["id"])).one()
            row.entities = {**(row.entities or {}), ENTITY_KEY: [ENTITY_VALUE], "customer_id": ["MR-1234567"]}
        # a note: the hold reason lands in the audit trail the auditor reads
        for step, body in (("claim", None), ("hold", {"reason": NOTE}), ("resume", None)):
            r = httpx.post(f"{base}/api/work-items/{item_id}/{step}", auth=boss, json=body, timeout=10)
            assert r.status_code == 200, (step, r.text)
        yield Seeded(base, item_id, doc["id"])


def _pages(s: Seeded) -> dict[str, list[tuple[str, list[str]]]]:
    """Per user: (page, payloads whose text must be visible on it)."""
    item, doc = f"/agent/items/{s.item_id}", f"/auditor/documents/{s.document_id}"
    return {
        "scan": [("/mailroom", [FILENAME, QNAME]), ("/mailroom/batches", [FILENAME]),
                 ("/mailroom/quarantine", [QNAME])],
        "agent": [("/agent", [QUEUE]), ("/agent/queues", [QUEUE]), (item, [FILENAME, BODY, ENTITY_KEY, ENTITY_VALUE])],
        "boss": [("/supervisor", [QUEUE]), ("/supervisor/queues", [QUEUE]), (item, [FILENAME, BODY, SUBJECT, SENDER]),
                 ("/mailroom", [FILENAME])],
        "audit": [(f"/auditor?q={WORD}", [QUEUE]), (doc, [FILENAME, BODY, NOTE, SUBJECT])],
    }


def _sign_in(browser, base: str, user: str, bypass_csp: bool):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=base, bypass_csp=bypass_csp)
    page = context.new_page()
    dialogs: list[str] = []

    def on_dialog(d) -> None:  # type: ignore[no-untyped-def]
        dialogs.append(f"{d.type}: {d.message}")
        d.dismiss()

    page.on("dialog", on_dialog)
    page.goto("/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, page.content()[:1000]
    return context, page, dialogs


DOM_CHECK = """() => ({
  inlineScripts: [...document.querySelectorAll('script:not([src])')].map(s => s.textContent.slice(0, 80)),
  handlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes].filter(a => /^on/i.test(a.name))
             .map(a => e.tagName + ' ' + a.name)),
  injected: document.querySelectorAll('img[src="x"], svg[onload]').length,
})"""


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_every_page_renders_the_payloads_inert(seeded: Seeded, browser) -> None:  # type: ignore[no-untyped-def]
    visited = 0
    for user, pages in _pages(seeded).items():
        context, page, dialogs = _sign_in(browser, seeded.base, user, bypass_csp=True)
        try:
            for url, visible in pages:
                response = page.goto(url)
                assert response is not None and response.status == 200, (user, url)
                page.wait_for_load_state("networkidle")
                page.wait_for_timeout(300)  # an onerror of a broken image fires after load
                text = page.inner_text("body")
                missing = [p[-40:] for p in visible if p not in text]
                assert not missing, (user, url, missing)  # shown as text, quote marks and angle brackets kept
                found = page.evaluate(DOM_CHECK)
                assert found == {"inlineScripts": [], "handlers": [], "injected": 0}, (user, url, found)
                visited += 1
            assert dialogs == [], (user, dialogs)
        finally:
            context.close()
    assert visited == sum(len(p) for p in _pages(seeded).values())


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_every_page_carries_a_content_security_policy(seeded: Seeded, browser) -> None:  # type: ignore[no-untyped-def]
    for user, pages in _pages(seeded).items():
        context, page, dialogs = _sign_in(browser, seeded.base, user, bypass_csp=False)
        try:
            for url, _ in pages:
                response = page.goto(url)
                assert response is not None and response.status == 200
                csp = response.headers.get("content-security-policy", "")
                assert "script-src 'self'" in csp and "object-src 'none'" in csp and "unsafe-inline" not in csp, url
                assert response.headers.get("x-content-type-options") == "nosniff", url
            assert dialogs == []
        finally:
            context.close()
