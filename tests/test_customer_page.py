"""The customer record (issue 18), pages and API: who sees which customer (someone else's is 404), the history
across channels (letters in and out, in time order, with links), the look-up and the CSV import as a form, and
the holder's corrections on the letter page — an entity value (audited, kept as training data, the search and
the customer link follow) and the customer link (the stored link comes first, then the identifiers)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pipeline.context import Context
from queues import work
from storage.customers import customer_for_document, link_customer
from storage.db import session_scope
from storage.models import (
    AuditEvent,
    Customer,
    Document,
    EntityCorrection,
    OutboundLetter,
    Role,
    TrainingExample,
    WorkItem,
)
from storage.users import upsert_user
from tests.queue_support import make_item
from web.app import create_app

WAW = ZoneInfo("Europe/Warsaw")
DAY = datetime(2026, 11, 23, 9, 0, tzinfo=WAW)
HEADER = ["id", "name", "email", "phone", "national_id", "national_id_kind", "segment", "language", "address"]
COMPLAINT = "Reklamacja faktury FV/2026/11/000001. Nr klienta MR-1111111. Proszę o korektę 149,99 zł."


@pytest.fixture
def client(ctx: Context) -> TestClient:
    """anna works every queue, petr only billing, ola none; boss supervises, audit audits, scan scans."""
    with session_scope(ctx.db_url) as s:
        for name, role in {"anna": Role.AGENT, "petr": Role.AGENT, "ola": Role.AGENT, "boss": Role.SUPERVISOR,
                           "audit": Role.AUDITOR, "scan": Role.SCANNER}.items():
            upsert_user(s, name, f"{name}-password", role)
        for queue in ctx.rules.queues:
            work.set_members(s, queue.id, ["anna", "petr"] if queue.id == "billing" else ["anna"], "test",
                             ctx.rules)
        s.add(Customer(id="MR-1111111", name="Jan Kowalski", email="jan@example.pl", phone="+48601111111",
                       national_id="90010112349", national_id_kind="pesel", language="pl",
                       address=["ul. Długa 5", "00-950 Warszawa"]))
        s.add(Customer(id="MR-2222222", name="Anna Zielińska", email="anna.z@example.pl", language="pl"))
    return TestClient(create_app(ctx), follow_redirects=False)


def auth(name: str) -> tuple[str, str]:
    return (name, f"{name}-password")


def _item(ctx: Context, received: datetime = DAY, *, customer: str | None = "MR-1111111", text: str = COMPLAINT,
          category: str = "complaint", channel: str = "scan", entities: dict | None = None) -> int:
    with session_scope(ctx.db_url) as s:
        item = make_item(s, ctx.rules, ctx.policies, received, text=text, category=category, channel=channel,
                         entities=entities if entities is not None else {"invoice_no": ["FV/2026/11/000001"]})
        item.document.customer_id = customer
        item.document.part_sha256 = ctx.blobs.put(text.encode())  # the letter page shows the stored part
        item.document.part_name = "letter.txt"
        return item.id


def _rows(html: str) -> list[tuple[str, str | None]]:
    """The history table's rows: (direction, work item id) in page order."""
    return [(d, i or None) for d, i in re.findall(r'<tr class="entry entry-\w+" data-direction="(\w+)"'
                                                  r'(?: data-item="(\d+)")?', html)]


def test_who_sees_which_customer(ctx: Context, client: TestClient) -> None:
    complaint = _item(ctx)  # the complaints queue: anna's, not petr's
    invoice = _item(ctx, DAY + timedelta(days=1), category="invoice_query", text="Pytanie o fakturę FV/2026/11/9.")
    with session_scope(ctx.db_url) as s:
        assert (s.get(WorkItem, complaint).queue, s.get(WorkItem, invoice).queue) == ("complaints", "billing")
    for name in ("anna", "boss", "audit"):
        page = client.get("/customers/MR-1111111", auth=auth(name))
        assert page.status_code == 200, (name, page.text[:300])
        assert "Jan Kowalski" in page.text and "ul. Długa 5" in page.text and "jan@example.pl" in page.text
        assert {i for _d, i in _rows(page.text)} == {str(complaint), str(invoice)}
    petr = client.get("/customers/MR-1111111", auth=auth("petr"))  # only the letter of his queue
    assert petr.status_code == 200 and _rows(petr.text) == [("in", str(invoice))]
    assert client.get("/customers/MR-9999999", auth=auth("boss")).status_code == 404
    for name in ("ola", "scan"):  # a customer with no letter in her queues, a role that never sees customers
        got = client.get("/customers/MR-1111111", auth=auth(name))
        assert got.status_code == 404 and "Kowalski" not in got.text and "MR-1111111" not in got.text
    assert client.get("/customers/MR-2222222", auth=auth("anna")).status_code == 404  # no letter of hers at all
    assert client.get("/customers/MR-2222222", auth=auth("boss")).status_code == 200
    # the API follows the same rule
    assert client.get("/api/customers/MR-1111111", auth=auth("ola")).status_code == 404
    assert client.get("/api/customers/MR-1111111/history", auth=auth("ola")).status_code == 404
    assert [e["work_item_id"] for e in client.get("/api/customers/MR-1111111/history",
                                                  auth=auth("petr")).json()] == [invoice]
    assert client.get("/api/customers", params={"q": "Kowal"}, auth=auth("anna")).status_code == 404
    with session_scope(ctx.db_url) as s:  # a read of personal data is audited
        viewed = s.scalars(select(AuditEvent).where(AuditEvent.action == "customer.viewed")).all()
        assert {e.actor for e in viewed} >= {"anna", "boss", "audit", "petr"}


def test_history_has_letters_in_and_out_in_time_order_with_links(ctx: Context, client: TestClient) -> None:
    scan = _item(ctx, DAY, channel="scan")
    email = _item(ctx, DAY + timedelta(days=3), channel="email", category="invoice_query",
                  text="Pytanie o fakturę FV/2026/11/000077 z listopada.", entities={"invoice_no": ["FV/2026/11/77"]})
    fax = _item(ctx, DAY + timedelta(days=1), channel="fax", text="Inna sprawa: brak internetu od tygodnia.",
                category="fault_report", entities={})
    other = _item(ctx, DAY + timedelta(days=2), customer="MR-2222222", text="Zupełnie inny klient i sprawa.",
                  entities={})
    with session_scope(ctx.db_url) as s:
        case_id = s.get(WorkItem, scan).case_id
        s.add(OutboundLetter(id="letter-sent", work_item_id=scan, case_id=case_id, kind="reply", channel="post",
                             state="posted", language="pl", subject="Odpowiedź na reklamację", created_by="anna",
                             created_at=DAY + timedelta(days=1, hours=1),
                             dispatched_at=DAY + timedelta(days=2, hours=1)))
        s.add(OutboundLetter(id="letter-cancelled", work_item_id=scan, case_id=case_id, kind="reply",
                             channel="email", state="cancelled", language="pl", subject="Porzucony szkic",
                             created_by="anna", created_at=DAY + timedelta(days=1)))
    page = client.get("/customers/MR-1111111", auth=auth("boss"))
    assert page.status_code == 200
    # oldest first: scan (day 0), fax (day 1), our letter posted (day 2), e-mail (day 3); not the other customer's
    assert _rows(page.text) == [("in", str(scan)), ("in", str(fax)), ("out", str(scan)), ("in", str(email))]
    assert f'data-item="{other}"' not in page.text and "Porzucony szkic" not in page.text
    assert f'href="/agent/items/{scan}"' in page.text and f'href="/cases/{case_id}"' in page.text
    assert 'href="/api/replies/letter-sent/preview.pdf"' in page.text and "Odpowiedź na reklamację" in page.text
    history = client.get("/api/customers/MR-1111111/history", auth=auth("audit")).json()
    assert [(e["direction"], e["channel"], e["work_item_id"]) for e in history] == [
        ("in", "scan", scan), ("in", "fax", fax), ("out", "post", scan), ("in", "email", email)]
    assert [(e["category"], e["queue"], e["state"]) for e in history][:2] == [
        ("complaint", "complaints", "new"), ("fault_report", "technical", "new")]
    assert history[2]["kind"] == "reply" and history[2]["state"] == "posted"
    audit_page = client.get("/customers/MR-1111111", auth=auth("audit")).text  # auditors open the letters
    with session_scope(ctx.db_url) as s:
        doc_id = s.get(WorkItem, scan).document_id
    assert f'href="/auditor/documents/{doc_id}"' in audit_page and "/agent/items/" not in audit_page
    # the item page and the case page lead to the customer
    with session_scope(ctx.db_url) as s:
        work.claim(s, scan, "anna", datetime.now(UTC))
    item_page = client.get(f"/agent/items/{scan}", auth=auth("anna")).text
    assert 'href="/customers/MR-1111111"' in item_page
    assert 'href="/customers/MR-1111111"' in client.get(f"/cases/{case_id}", auth=auth("audit")).text


def test_look_up_and_import_as_a_form(ctx: Context, client: TestClient) -> None:
    found = client.get("/customers", params={"q": "mr 1111111"}, auth=auth("audit"))
    assert found.status_code == 200 and 'data-customer="MR-1111111"' in found.text
    assert 'data-customer="MR-2222222"' not in found.text
    by_name = client.get("/customers", params={"q": "zielińska"}, auth=auth("boss")).text
    assert 'data-customer="MR-2222222"' in by_name and 'data-customer="MR-1111111"' not in by_name
    assert 'action="/customers/import"' not in found.text  # auditors change nothing
    assert client.post("/customers/import", files={"file": ("c.csv", b"id,name\nX,Y\n", "text/csv")},
                       auth=auth("audit")).status_code == 404

    def upload(rows: list[list[str]]) -> object:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(HEADER)
        w.writerows(rows)
        return client.post("/customers/import", files={"file": ("klienci.csv", buf.getvalue().encode(), "text/csv")},
                           auth=auth("boss"))

    bad = upload([["KL-1", "Klient 1", "", "", "", "", "", "pl", ""], ["", "bez numeru", "", "", "", "", "", "", ""],
                  ["KL-3", "Zły e-mail", "nie-email", "", "", "", "", "", ""]])
    assert bad.status_code == 422  # type: ignore[attr-defined]
    assert re.findall(r'<tr><td class="num">(\d+)</td>', bad.text) == ["2", "3"]  # type: ignore[attr-defined]
    with session_scope(ctx.db_url) as s:
        assert s.get(Customer, "KL-1") is None  # nothing half-imported
    good = upload([["KL-1", "Klient 1", "k1@example.pl", "", "", "", "", "pl", "ul. Polna 1|00-001 Warszawa"],
                   ["MR-2222222", "Anna Zielińska-Nowak", "", "", "", "", "", "pl", ""]])
    assert good.status_code == 200  # type: ignore[attr-defined]
    assert 'data-added="1" data-updated="1"' in good.text  # type: ignore[attr-defined]
    with session_scope(ctx.db_url) as s:
        assert s.get(Customer, "KL-1").address == ["ul. Polna 1", "00-001 Warszawa"]
        assert s.get(Customer, "MR-2222222").name == "Anna Zielińska-Nowak"
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "customers.imported")).one()
        assert (ev.actor, ev.detail["added"], ev.detail["updated"]) == ("boss", 1, 1)


def _correct(client: TestClient, item_id: int, who: str, **form: str):  # type: ignore[no-untyped-def]
    """The letter page's correction form, in Polish (dates as dd.mm.rrrr)."""
    return client.post(f"/agent/items/{item_id}/entities/correct", data=form, auth=auth(who),
                       headers={"Accept-Language": "pl"})


def test_the_holder_corrects_entities_audited_and_kept_as_training_data(ctx: Context, client: TestClient) -> None:
    item_id = _item(ctx, entities={"invoice_no": ["FV/2026/11/00000l"], "amount": ["14.99 PLN"],
                                   "pesel": ["90010112340"]})
    assert _correct(client, item_id, "anna", entity="invoice_no", old="FV/2026/11/00000l",
                    new="FV/2026/11/000001").status_code == 303
    with session_scope(ctx.db_url) as s:  # not claimed by her: nothing changed
        assert s.get(WorkItem, item_id).document.entities["invoice_no"] == ["FV/2026/11/00000l"]
        work.claim(s, item_id, "anna", datetime.now(UTC))
    assert _correct(client, item_id, "petr", entity="invoice_no", old="FV/2026/11/00000l",
                    new="X").status_code == 404  # not his queue
    refused = client.post(f"/api/work-items/{item_id}/entities", auth=auth("boss"),
                          json={"entity": "invoice_no", "old": "FV/2026/11/00000l", "new": "FV/2026/11/000001"})
    assert refused.status_code == 409  # a supervisor who does not hold it either
    r = _correct(client, item_id, "anna", entity="invoice_no", old="FV/2026/11/00000l", new="fv/2026/11/000001",
                 reason="l read as 1")
    assert r.status_code == 303 and "message=" in r.headers["location"]
    assert _correct(client, item_id, "anna", entity="amount", old="14.99 PLN", new="149,99 zł").status_code == 303
    assert _correct(client, item_id, "anna", entity="date", old="", new="12.03.2026").status_code == 303  # missed
    assert _correct(client, item_id, "anna", entity="pesel", old="90010112340", new="90010112349").status_code == 303
    api = client.post(f"/api/work-items/{item_id}/entities", auth=auth("anna"),
                      json={"entity": "amount", "old": "149.99 PLN", "new": "not an amount"})
    assert api.status_code == 422
    stale = client.post(f"/api/work-items/{item_id}/entities", auth=auth("anna"),
                        json={"entity": "invoice_no", "old": "FV/2026/11/00000l", "new": "FV/1"})
    assert stale.status_code == 409  # the value was corrected already
    with session_scope(ctx.db_url) as s:
        doc = s.get(WorkItem, item_id).document
        assert doc.entities["invoice_no"] == ["FV/2026/11/000001"] and doc.entities["amount"] == ["149.99 PLN"]
        assert doc.entities["date"] == ["2026-03-12"] and doc.entities["pesel"] == ["90010112349"]
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "document.entity_corrected")
                           .order_by(AuditEvent.id)).all()
        assert [(e.actor, e.detail["entity"], e.detail["from"], e.detail["to"]) for e in events][:3] == [
            ("anna", "invoice_no", "FV/2026/11/00000l", "FV/2026/11/000001"),
            ("anna", "amount", "14.99 PLN", "149.99 PLN"), ("anna", "date", None, "2026-03-12")]
        assert events[0].detail["reason"] == "l read as 1" and events[0].work_item_id == item_id
        pesel = events[3].detail
        assert pesel["entity"] == "pesel" and "90010112349" not in str(pesel) and "90010112340" not in str(pesel)
        assert all("Reklamacja" not in str(e.detail) for e in events)  # never the letter's text
        rows = s.scalars(select(EntityCorrection).order_by(EntityCorrection.id)).all()  # the training data
        assert [(r.name, r.old_value, r.new_value, r.actor, r.document_id) for r in rows] == [
            ("invoice_no", "FV/2026/11/00000l", "FV/2026/11/000001", "anna", doc.id),
            ("amount", "14.99 PLN", "149.99 PLN", "anna", doc.id), ("date", None, "2026-03-12", "anna", doc.id),
            ("pesel", "90010112340", "90010112349", "anna", doc.id)]
    # the archive finds the letter by the corrected value, no longer by the misread one
    found = client.get("/api/archive/search", params={"entity": "invoice_no=FV/2026/11/000001"}, auth=auth("boss"))
    assert [h["document_id"] for h in found.json()["hits"]] == [doc.id], found.text
    gone = client.get("/api/archive/search", params={"entity": "invoice_no=FV/2026/11/00000l"}, auth=auth("boss"))
    assert gone.json()["hits"] == []
    # the category is corrected by reclassifying, which feeds the category model's training data
    assert client.post(f"/agent/items/{item_id}/reclassify", data={"category": "invoice_query"},
                       auth=auth("anna")).status_code == 303
    with session_scope(ctx.db_url) as s:
        example = s.scalars(select(TrainingExample)).one()
        assert (example.document_id, example.category, example.actor) == (doc.id, "invoice_query", "anna")


def test_the_stored_link_comes_first_then_the_identifiers(ctx: Context, client: TestClient) -> None:
    misread = _item(ctx, customer=None, entities={"customer_id": ["MR-1111117"]})  # no such customer
    earlier = _item(ctx, DAY - timedelta(days=5), customer="MR-2222222", text="Wcześniejszy list Anny.",
                    entities={})
    with session_scope(ctx.db_url) as s:
        doc = s.get(WorkItem, misread).document
        assert customer_for_document(s, doc) is None
        work.claim(s, misread, "anna", datetime.now(UTC))
    # correcting the misread customer number links the letter by its identifiers
    assert _correct(client, misread, "anna", entity="customer_id", old="MR-1111117",
                    new="MR 1111111").status_code == 303
    with session_scope(ctx.db_url) as s:
        doc = s.get(WorkItem, misread).document
        assert (doc.entities["customer_id"], doc.customer_id) == (["MR-1111111"], "MR-1111111")
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "document.customer_linked")).one()
        assert (ev.detail["from"], ev.detail["to"], ev.detail["by"]) == (None, "MR-1111111", "entity_correction")
    assert ("in", str(misread)) in _rows(client.get("/customers/MR-1111111", auth=auth("boss")).text)
    # a person links it to another customer from the letter page (a reason is required)
    r = client.post(f"/agent/items/{misread}/customer/link", data={"customer_id": "MR-2222222", "reason": ""},
                    auth=auth("anna"))
    assert r.status_code == 303
    with session_scope(ctx.db_url) as s:
        assert s.get(WorkItem, misread).document.customer_id == "MR-1111111"
    assert client.post(f"/agent/items/{misread}/customer/link", data={"customer_id": "mr-2222222",
                                                                      "reason": "Pani Zielińska pisze za męża"},
                       auth=auth("anna")).status_code == 303
    with session_scope(ctx.db_url) as s:
        doc = s.get(WorkItem, misread).document
        assert doc.customer_id == "MR-2222222"
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "document.customer_linked")
                       .order_by(AuditEvent.id.desc())).first()
        assert (ev.actor, ev.detail["from"], ev.detail["to"], ev.detail["by"]) == (
            "anna", "MR-1111111", "MR-2222222", "person")
        # the stored link wins over the customer number the letter names
        assert customer_for_document(s, doc) == "MR-2222222"
        assert link_customer(s, doc.entities, stored="MR-2222222") == "MR-2222222"
        assert link_customer(s, doc.entities) == "MR-1111111"
        assert link_customer(s, doc.entities, stored="MR-0000000") == "MR-1111111"  # a stale link: identifiers
    # a later correction of the number does not undo the person's choice
    assert _correct(client, misread, "anna", entity="customer_id", old="MR-1111111",
                    new="MR-1111112").status_code == 303
    with session_scope(ctx.db_url) as s:
        assert s.get(WorkItem, misread).document.customer_id == "MR-2222222"
    # the letter page shows the customer's other letters by the stored link, not by the number on the letter
    page = client.get(f"/agent/items/{misread}", auth=auth("anna")).text
    assert 'href="/customers/MR-2222222"' in page
    assert "Wcześniejszy" not in page  # the text is not shown there, but the earlier letter's entry is
    listed = re.search(r'<ul class="earlier">(.*?)</ul>', page, re.S)
    assert listed is not None and listed.group(1).count("<li>") == 1  # the earlier letter, not this one
    visible = client.get("/customers/MR-2222222", auth=auth("anna"))
    assert visible.status_code == 200 and {i for _d, i in _rows(visible.text)} == {str(misread), str(earlier)}
    assert ("in", str(misread)) not in _rows(client.get("/customers/MR-1111111", auth=auth("boss")).text)
    with session_scope(ctx.db_url) as s:  # a customer that does not exist is refused, nothing changes
        before = s.get(WorkItem, misread).document.customer_id
    r = client.post(f"/agent/items/{misread}/customer/link", data={"customer_id": "MR-7777777", "reason": "x"},
                    auth=auth("anna"))
    assert r.status_code == 303 and "MR-7777777" in r.headers["location"]
    with session_scope(ctx.db_url) as s:
        assert s.get(WorkItem, misread).document.customer_id == before
        assert s.get(Document, s.get(WorkItem, earlier).document_id).customer_id == "MR-2222222"


def test_corrected_values_go_when_retention_purges_the_letter(ctx: Context, client: TestClient) -> None:
    from storage.retention import load_policy, run_retention

    purged, kept = (_item(ctx, DAY, entities={"pesel": ["90010112340"]}),
                    _item(ctx, DAY + timedelta(days=3650), entities={"pesel": ["90010112340"]}))
    with session_scope(ctx.db_url) as s:
        for item_id in (purged, kept):
            work.claim(s, item_id, "anna", datetime.now(UTC))
    for item_id in (purged, kept):
        assert _correct(client, item_id, "anna", entity="pesel", old="90010112340",
                        new="90010112349").status_code == 303
    with session_scope(ctx.db_url) as s:
        for item_id in (purged, kept):
            work.complete(s, item_id, "anna", datetime.now(UTC))
        docs = {i: s.get(WorkItem, i).document_id for i in (purged, kept)}
    with session_scope(ctx.db_url) as s:
        report = run_retention(s, ctx.blobs, load_policy(), now=DAY + timedelta(days=365 * 8))
    assert len(report.purged) == 1
    with session_scope(ctx.db_url) as s:
        left = {r.document_id for r in s.scalars(select(EntityCorrection))}
        assert left == {docs[kept]}  # the purged letter's corrected PESEL is gone with its entities
