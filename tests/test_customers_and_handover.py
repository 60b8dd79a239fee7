"""The working day (issue 18), backend part: customers imported from CSV (all rows or none; CLI and API), the
customer record with letters across channels, an agent's correction of the customer link, capacity binding a
direct claim, handing an item to a named colleague, and a follow-up letter raising its case's open item."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailroom.cli import main
from pipeline.context import Context
from queues import work
from storage.db import session_scope
from storage.models import AuditEvent, Customer, Document, OutboxEvent, Role, WorkItem
from storage.users import upsert_user
from tests.queue_support import make_item
from tests.support.agents import join_every_queue
from web.app import create_app

WAW = ZoneInfo("Europe/Warsaw")
HEADER = ["id", "name", "email", "phone", "national_id", "national_id_kind", "segment", "language", "address"]


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    return path


def _count(ctx: Context) -> int:
    with session_scope(ctx.db_url) as s:
        return s.scalar(select(func.count()).select_from(Customer)) or 0


def test_cli_imports_10000_customers_and_a_file_with_bad_rows_imports_nothing(
        ctx: Context, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [[f"KL-{n:07d}", f"Klient {n}", f"klient{n}@Example.PL", f"+48 601 {n:06d}"[:16], "", "", "individual",
             "pl", f"ul. Polna {n % 90 + 1}|00-{n % 1000:03d} Warszawa"] for n in range(10_000)]
    assert main(["customers", "import", str(_csv(tmp_path / "all.csv", rows))]) == 0
    assert "10000" in capsys.readouterr().out
    assert _count(ctx) == 10_000
    with session_scope(ctx.db_url) as s:
        one = s.get(Customer, "KL-0000042")
        assert (one.email, one.address) == ("klient42@example.pl", ["ul. Polna 43", "00-042 Warszawa"])
    bad = [["KL-0000001", "Klient 1 (nowy adres)", "", "", "", "", "", "pl", "ul. Nowa 1|00-001 Warszawa"],
           ["", "bez numeru", "", "", "", "", "", "", ""],
           ["KL-X", "Zły e-mail", "nie-email", "", "", "", "", "", ""],
           ["KL-Y", "Zły PESEL", "", "", "90010112349", "", "", "", ""]]
    assert main(["customers", "import", str(_csv(tmp_path / "bad.csv", bad))]) == 1
    err = capsys.readouterr().err
    assert "row 2: id is empty" in err and "row 3: email 'nie-email'" in err and "row 4: national_id is given" in err
    with session_scope(ctx.db_url) as s:  # nothing half-imported: the good first row was not written either
        assert s.get(Customer, "KL-0000001").name == "Klient 1"
    assert _count(ctx) == 10_000


@pytest.fixture
def client(ctx: Context) -> TestClient:
    with session_scope(ctx.db_url) as s:
        for name, role in {"anna": Role.AGENT, "petr": Role.AGENT, "ola": Role.AGENT, "boss": Role.SUPERVISOR,
                           "audit": Role.AUDITOR}.items():
            upsert_user(s, name, f"{name}-password", role)
        join_every_queue(s, ctx.rules, ["anna", "petr"])  # ola works no queue
        work.set_skills(s, "anna", "boss", capacity=1)
    return TestClient(create_app(ctx))


def auth(name: str) -> tuple[str, str]:
    return (name, f"{name}-password")


def _item(ctx: Context, text: str = "Reklamacja faktury FV/2026/11/000001.", **kw: object) -> int:
    with session_scope(ctx.db_url) as s:
        return make_item(s, ctx.rules, ctx.policies, datetime(2026, 11, 23, 9, 0, tzinfo=WAW), text=text,
                         **kw).id  # type: ignore[arg-type]


def test_customer_import_record_and_link_correction_over_http(ctx: Context, client: TestClient) -> None:
    body = "\n".join([",".join(HEADER), "MR-1111111,Jan Kowalski,jan@example.pl,+48601111111,,,individual,pl,"
                      "ul. Długa 5|00-950 Warszawa"]).encode()
    assert client.post("/api/customers/import", content=body, headers={"Content-Type": "text/csv"},
                       auth=auth("anna")).status_code == 404  # supervisors import
    r = client.post("/api/customers/import", content=body, headers={"Content-Type": "text/csv"}, auth=auth("boss"))
    assert r.status_code == 200 and (r.json()["added"], r.json()["updated"]) == (1, 0), r.text
    broken = body + b"\n,no id,,,,,,,\n"
    r = client.post("/api/customers/import", content=broken, headers={"Content-Type": "text/csv"}, auth=auth("boss"))
    assert r.status_code == 422 and r.json()["errors"] == [{"row": 2, "problem": "id is empty"}]
    item_id = _item(ctx)
    with session_scope(ctx.db_url) as s:
        work.claim(s, item_id, "anna", datetime.now(UTC))
    assert client.put(f"/api/work-items/{item_id}/customer", json={"customer_id": "MR-1111111", "reason": ""},
                      auth=auth("anna")).status_code == 422  # a reason is required
    r = client.put(f"/api/work-items/{item_id}/customer", json={"customer_id": "MR-1111111",
                                                                "reason": "the letter names her phone number"},
                   auth=auth("anna"))
    assert r.status_code == 200 and [x["work_item_id"] for x in r.json()["letters"]] == [item_id], r.text
    record = client.get("/api/customers/MR-1111111", auth=auth("audit")).json()
    assert record["address"] == ["ul. Długa 5", "00-950 Warszawa"] and len(record["letters"]) == 1
    with session_scope(ctx.db_url) as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "document.customer_linked")).one()
        assert (ev.actor, ev.detail["to"], ev.detail["from"]) == ("anna", "MR-1111111", None)
        assert s.get(Document, s.get(WorkItem, item_id).document_id).customer_id == "MR-1111111"


def test_capacity_binds_a_direct_claim_and_an_item_is_handed_to_a_colleague(ctx: Context, client: TestClient) -> None:
    first, second = _item(ctx), _item(ctx, text="Druga sprawa: faktura FV/2026/11/000002 zawyżona.")
    assert client.post(f"/api/work-items/{first}/claim", auth=auth("anna")).status_code == 200
    full = client.post(f"/api/work-items/{second}/claim", auth=auth("anna"))
    assert full.status_code == 409 and "capacity" in full.json()["detail"]
    assert client.post(f"/api/work-items/{first}/assign", json={"to": "ola", "reason": "urlop"},
                       auth=auth("anna")).status_code == 422  # not in the item's queue
    r = client.post(f"/api/work-items/{first}/assign", json={"to": "petr", "reason": "urlop od jutra"},
                    auth=auth("anna"))
    assert r.status_code == 200 and (r.json()["assignee"], r.json()["state"]) == ("petr", "claimed"), r.text
    assert client.post(f"/api/work-items/{first}/assign", json={"to": "anna", "reason": "z powrotem"},
                       auth=auth("anna")).status_code == 409  # petr has it now: only he hands it on
    assert client.post(f"/api/work-items/{second}/claim", auth=auth("anna")).status_code == 200  # room again
    with session_scope(ctx.db_url) as s:
        told = s.scalars(select(OutboxEvent).where(OutboxEvent.kind == "item.assigned")).one()
        assert (told.recipient, told.work_item_id) == ("petr", first)
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "work_item.assigned")).one()
        assert ev.detail["reason"] == "urlop od jutra" and ev.detail["from"] == "anna"


def test_a_follow_up_letter_raises_the_open_item_of_its_case(ctx: Context) -> None:
    letter = "Reklamacja. Nr klienta MR-1234567. Faktura FV/2026/10/004512 jest zawyżona o 149,99 zł."
    entities = {"customer_id": ["MR-1234567"], "invoice_no": ["FV/2026/10/004512"]}
    at = datetime(2026, 11, 23, 9, 0, tzinfo=WAW)
    with session_scope(ctx.db_url) as s:
        first = make_item(s, ctx.rules, ctx.policies, at, text=letter, entities=entities)
        first_id, priority = first.id, first.priority
        fax = make_item(s, ctx.rules, ctx.policies, at + timedelta(days=2), channel="fax", text="FAX " + letter,
                        entities=entities, now=at + timedelta(days=2))
        assert fax.case_id == first.case_id
    with session_scope(ctx.db_url) as s:
        row = s.get(WorkItem, first_id)
        assert "new_letter" in row.flags and row.priority == priority + 10 and row.state == "new"


def test_internal_notes_are_for_staff_searchable_and_audited(ctx: Context, client: TestClient) -> None:
    item_id = _item(ctx)
    assert client.post(f"/api/work-items/{item_id}/notes", json={"text": "Klient dzwonił: zażalenie na fakturę."},
                       auth=auth("audit")).status_code == 404  # auditors read, never write
    r = client.post(f"/api/work-items/{item_id}/notes", json={"text": "Klient dzwonił: zażalenie na fakturę."},
                    auth=auth("anna"))
    assert r.status_code == 201, r.text
    assert client.post(f"/api/work-items/{item_id}/notes", json={"text": "   "}, auth=auth("anna")).status_code == 422
    listed = client.get(f"/api/work-items/{item_id}/notes", auth=auth("audit")).json()
    assert [(n["author"], n["text"]) for n in listed] == [("anna", "Klient dzwonił: zażalenie na fakturę.")]
    found = client.get("/api/notes/search", params={"q": "ZAZALENIE faktur"}, auth=auth("boss")).json()
    assert [n["work_item_id"] for n in found] == [item_id]  # folded: case and diacritics do not matter
    assert client.get("/api/notes/search", params={"q": "zazalenie telefon"}, auth=auth("boss")).json() == []
    assert client.get("/api/notes/search", params={"q": "zazalenie"}, auth=auth("ola")).json() == []  # not her queue
    with session_scope(ctx.db_url) as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "work_item.note_added")).one()
        assert ev.actor == "anna" and "text" not in ev.detail and ev.detail["length"] == len(listed[0]["text"])


def test_a_malformed_csv_is_a_clear_refusal(ctx: Context, client: TestClient, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A stray line break inside an unquoted field (found by the OpenAPI fuzz: it answered 500)."""
    body = b"id,name\nMR-1,Jan\rKowalski\nMR-2,Anna,extra\n"
    r = client.post("/api/customers/import", content=body, headers={"Content-Type": "text/csv"}, auth=auth("boss"))
    assert r.status_code == 422, r.text  # never a server error; each bad row named
    assert [e["row"] for e in r.json()["errors"]] == [2, 3], r.json()
    (tmp_path / "bad.csv").write_bytes(body)
    assert main(["customers", "import", str(tmp_path / "bad.csv")]) == 1
    assert "row 3: more values than the header has columns" in capsys.readouterr().err
    (tmp_path / "latin2.csv").write_bytes("id,name\nMR-3,Łukasz\n".encode("iso-8859-2"))
    assert main(["customers", "import", str(tmp_path / "latin2.csv")]) == 2
    assert "cannot be read as a UTF-8 CSV" in capsys.readouterr().err
    assert _count(ctx) == 0
