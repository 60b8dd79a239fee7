"""Mailroom corrections and the batch check (issue 18): re-split a routed batch, turn, reorder and drop pages,
read a page again; the original never changes, the replaced letters' items are closed visibly and the new letters
routed; an agent's work is never reopened nor taken away; who may do it; the expected letter count."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pikepdf
import pypdfium2 as pdfium
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select

from channels.receive import receive
from ground.errors import Conflict, InvalidRequest
from ground.records import Channel
from pipeline import corrections as c
from pipeline.context import Context
from pipeline.quarantine import batch_status
from pipeline.runner import run_inline
from queues import work
from storage.db import session_scope
from storage.models import AuditEvent, Document, Envelope, Role, WorkItem, WorkItemState
from storage.users import create_token, upsert_user

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
# Two letters with no separator sheet between them: a complaint of two pages, then a cancellation.
LETTERS = [
    ["Dear Sirs,", "I file a complaint about invoice FV/2026/10/004512.", "The amount charged is wrong.",
     "Customer number MR-1234567."],
    ["Page two of the complaint.", "Please correct the invoice and refund", "the overpayment. Yours, John Smith"],
    ["Dear Sirs,", "I hereby cancel my contract UM/2025/0042", "with effect from the end of the month.",
     "Please confirm the termination. Anna Nowak"],
]


def scan_pdf(path: Path, pages: list[list[str]] = LETTERS) -> Path:
    """An image-only PDF (a scan, no text layer): every page is OCRed."""
    font = ImageFont.truetype(FONT, 30)
    images = []
    for lines in pages:
        img = Image.new("L", (1240, 1754), 255)
        draw = ImageDraw.Draw(img)
        for n, line in enumerate(lines):
            draw.text((100, 150 + 60 * n), line, fill=0, font=font)
        images.append(img)
    images[0].save(path, "PDF", save_all=True, append_images=images[1:], resolution=150)
    return path


def arrive(ctx: Context, path: Path, by: str = "scan") -> str:
    """Received as the upload does it (stored, page count noted), then read and routed inline."""
    got = receive(ctx, path.read_bytes(), path.name, datetime.now(UTC), channel=Channel.SCAN, submitted_by=by)
    assert got.ok and not got.duplicate
    run_inline(ctx, got.envelope_id)
    return got.envelope_id


@pytest.fixture(scope="module")
def scan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scan_pdf(tmp_path_factory.mktemp("scan") / "two-letters.pdf")


@pytest.fixture
def batch(ctx: Context, scan_file: Path) -> str:
    env_id = arrive(ctx, scan_file)
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, env_id)
        assert env is not None and env.state == "processed"
        assert len(env.documents) == 1  # the separator was missed: one letter of three pages
    return env_id


def _current(ctx: Context, env_id: str) -> list[Document]:
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, env_id)
        assert env is not None
        docs = c.current_documents(env)
        for d in docs:
            _ = d.work_item  # loaded before the session ends
        return docs


def _events(ctx: Context, env_id: str, action: str) -> list[AuditEvent]:
    with session_scope(ctx.db_url) as s:
        docs = [d.id for d in s.scalars(select(Document).where(Document.envelope_id == env_id))]
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action,
                                                       (AuditEvent.envelope_id == env_id)
                                                       | AuditEvent.document_id.in_(docs))
                              .order_by(AuditEvent.id)))


def _pdf_pages(data: bytes) -> list[int]:
    """The /Rotate of each page of a PDF."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return [int(page.obj.get("/Rotate", 0)) for page in pdf.pages]


# ---------------------------------------------------------------- the draft layout (pure)


def test_layout_text_round_trips() -> None:
    text = "1,2|3r90x,4r270|5"
    layout = c.parse_layout(text)
    assert layout.letters[1] == (c.PageRef(3, 90, True), c.PageRef(4, 270, False))
    assert c.format_layout(layout) == text
    with pytest.raises(InvalidRequest, match="cannot be read; reload"):
        c.parse_layout("1,2|three")


def test_edits_split_join_move_turn_drop_restore() -> None:
    one = c.parse_layout("1,2,3,4")
    split = c.edit(one, "split", 3)
    assert c.format_layout(split) == "1,2|3,4"
    assert c.edit(split, "split", 3) == split  # already the first page of its letter
    assert c.format_layout(c.edit(split, "join", 3)) == "1,2,3,4"
    assert c.format_layout(c.edit(split, "earlier", 3)) == "1,2,3|4"  # across the edge: to the letter before
    assert c.format_layout(c.edit(split, "later", 2)) == "1|2,3,4"
    assert c.format_layout(c.edit(split, "later", 3)) == "1,2|4,3"
    assert c.format_layout(c.edit(split, "earlier", 1)) == "1,2|3,4"  # nothing before the first page
    assert c.format_layout(c.edit(c.edit(split, "right", 4), "right", 4)) == "1,2|3,4r180"
    assert c.format_layout(c.edit(split, "left", 1)) == "1r270,2|3,4"
    assert c.format_layout(c.edit(c.edit(split, "drop", 3), "drop", 4)) == "1,2"  # an emptied letter goes
    assert c.format_layout(c.edit(c.parse_layout("1,2"), "restore", 4)) == "1,2|4"
    assert c.format_layout(c.edit(split, "reread", 2)) == "1,2x|3,4"
    assert c.edit(c.edit(split, "reread", 2), "reread", 2) == split


@pytest.mark.parametrize(("layout", "message"), [
    ("", "at least one letter"),
    ("1,2||3", "Letter 2 has no page; remove the split point"),
    ("1,9", "no page 9 in this batch \\(it has 3 pages\\)"),
    ("1,2|2,3", "Page 2 is in the correction twice"),
    ("1r45,2", "turns by 0, 90, 180 or 270"),
])
def test_a_bad_layout_is_refused_with_what_to_do(layout: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        c.validate(c.parse_layout(layout), 3)


def test_every_refusal_is_in_the_words_the_catalogs_hold() -> None:
    from web.pages.corrections import REASONS

    assert REASONS == c.REASONS  # gettext reads web/, so the page's copy must be the same words


# ---------------------------------------------------------------- corrections on a routed batch


def test_resplit_where_the_separator_was_missed(ctx: Context, batch: str, scan_file: Path) -> None:
    original = scan_file.read_bytes()
    [before] = _current(ctx, batch)
    assert before.work_item is not None and before.work_item.state == WorkItemState.NEW
    got = c.correct(ctx, batch, c.parse_layout("1,2|3"), "scan", seen_version=0)

    assert got.version == 1 and got.superseded == [before.id] and len(got.created) == 2 and got.kept == []
    first, second = _current(ctx, batch)
    assert [d.id for d in (first, second)] == got.created
    assert "complaint" in first.text and "Page two of the complaint" in first.text and "cancel" not in first.text
    assert "cancel my contract" in second.text and "complaint" not in second.text
    assert first.text.index("invoice FV/2026") < first.text.index("Page two")  # the pages in their order
    assert (first.pages, second.pages) == (2, 1)
    assert [p["page"] for p in first.derived["pages"]] == [1, 2] and second.derived["pages"][0]["page"] == 3
    # two new work items, routed as the pipeline routes (classified, queued, timed)
    for d in (first, second):
        assert d.work_item is not None and d.work_item.state == WorkItemState.NEW and d.category
    assert (first.category, second.category) == ("complaint", "cancellation")
    # the derived letters are PDFs of exactly their pages
    assert _pdf_pages(ctx.blobs.get(first.part_sha256)) == [0, 0]
    assert _pdf_pages(ctx.blobs.get(second.part_sha256)) == [0]

    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, batch)
        old = s.get(Document, before.id)
        assert env is not None and old is not None and old.work_item is not None
        # the original is untouched: the same bytes under the same key, and the old letter kept as it was
        assert hashlib.sha256(ctx.blobs.get(env.sha256)).hexdigest() == env.sha256
        assert ctx.blobs.get(env.sha256) == original
        assert old.superseded_by is not None and old.text == before.text
        # the replaced letter's item is closed visibly, its clocks handed to the new letters
        assert old.work_item.state == WorkItemState.DONE and old.work_item.outcome == c.SUPERSEDED
        assert old.work_item.statutory_due is None and c.SUPERSEDED in old.work_item.flags
        assert env.corrections == 1 and env.state == "processed"
        status = batch_status(s, batch)
        assert status["documents_found"] == 2 and {d["id"] for d in status["documents"]} == set(got.created)

    [corrected] = _events(ctx, batch, "envelope.corrected")
    assert corrected.actor == "scan" and corrected.detail["layout"] == "1,2|3"
    assert corrected.detail["before"] == "1,2,3" and corrected.detail["superseded"] == [before.id]
    [superseded] = _events(ctx, batch, "document.superseded")
    assert superseded.document_id == before.id and superseded.detail["by"] == got.created
    assert [e.work_item_id for e in _events(ctx, batch, "work_item.superseded")] == [before.work_item.id]
    assert len(_events(ctx, batch, "document.derived")) == 2
    assert len(_events(ctx, batch, "work_item.routed")) == 3  # the first routing, then the two new letters


def test_reorder_and_drop_pages(ctx: Context, batch: str) -> None:
    got = c.correct(ctx, batch, c.parse_layout("2,1"), "scan", seen_version=0)
    [doc] = _current(ctx, batch)
    assert doc.id == got.created[0]
    assert doc.text.index("Page two of the complaint") < doc.text.index("I file a complaint")
    assert "cancel" not in doc.text and doc.pages == 2
    assert [p["page"] for p in doc.derived["pages"]] == [2, 1]
    [event] = _events(ctx, batch, "envelope.corrected")
    assert event.detail["dropped"] == [3]
    assert got.work_items[doc.id] is not None


def test_rotation_is_applied_to_the_page_read_again(ctx: Context, batch: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Image.Image] = []
    extract = c.ocr.extract

    def spy(data: bytes, content_type: str, **kw):  # type: ignore[no-untyped-def]
        seen.append(Image.open(io.BytesIO(data)).convert("L"))
        return extract(data, content_type, **kw)

    monkeypatch.setattr(c.ocr, "extract", spy)
    c.correct(ctx, batch, c.parse_layout("1,2|3r90"), "scan", seen_version=0)
    [image] = seen  # only the turned page is read again; the others keep their text
    ink = np.asarray(image) < 128
    height, width = ink.shape
    assert width > height  # a portrait page turned by 90 degrees
    # the lines ran across the top of the page: turned clockwise, they run down its right edge
    assert ink[:, 3 * width // 4:].sum() > 5 * ink[:, :3 * width // 4].sum()
    _, second = _current(ctx, batch)
    assert "cancel my contract" in second.text
    assert second.derived["pages"] == [{"page": 3, "rotate": 90, "method": "ocr", "flags": ["reread"]}]
    assert _pdf_pages(ctx.blobs.get(second.part_sha256)) == [90]  # the derived version shows it turned
    [reread] = _events(ctx, batch, "document.page_reread")
    assert reread.detail["page"] == 3 and reread.detail["rotate"] == 90


def test_one_page_read_again_keeps_the_other_letters(ctx: Context, batch: str) -> None:
    first = c.correct(ctx, batch, c.parse_layout("1,2|3"), "scan", seen_version=0)
    again = c.reread(ctx, batch, 3, "scan", seen_version=1)
    assert again.kept == [first.created[0]] and again.superseded == [first.created[1]]
    kept, made = _current(ctx, batch)
    assert kept.id == first.created[0] and kept.work_item is not None and kept.work_item.state == WorkItemState.NEW
    assert made.id == again.created[0] and "reread" in made.derived["pages"][0]["flags"]
    assert "cancel my contract" in made.text


def test_two_letters_joined_into_one(ctx: Context, batch: str) -> None:
    split = c.correct(ctx, batch, c.parse_layout("1,2|3"), "scan", seen_version=0)
    joined = c.correct(ctx, batch, c.parse_layout("1,2,3"), "scan", seen_version=1)
    assert sorted(joined.superseded) == sorted(split.created) and len(joined.created) == 1
    [doc] = _current(ctx, batch)
    assert "complaint" in doc.text and "cancel my contract" in doc.text and doc.pages == 3
    with session_scope(ctx.db_url) as s:
        outcomes = [s.scalars(select(WorkItem.outcome).where(WorkItem.document_id == d)).one()
                    for d in split.created]
    assert outcomes == [c.SUPERSEDED, c.SUPERSEDED]


def test_a_fax_is_re_split_from_its_tiff_pages(ctx: Context, tmp_path: Path) -> None:
    """An image part (a TIFF fax): each new letter's derived version is a PDF of its pages drawn and turned."""
    pdf = scan_pdf(tmp_path / "fax.pdf", [LETTERS[0], LETTERS[2]])
    frames = []
    doc = pdfium.PdfDocument(pdf.read_bytes())
    for i in range(len(doc)):
        frames.append(doc[i].render(scale=200 / 72).to_pil().convert("1"))
    doc.close()
    fax = tmp_path / "fax.tiff"
    frames[0].save(fax, "TIFF", save_all=True, append_images=frames[1:], compression="group4", dpi=(200, 200))
    env_id = arrive(ctx, fax)
    assert len(_current(ctx, env_id)) == 1
    got = c.correct(ctx, env_id, c.parse_layout("1|2r180"), "scan", seen_version=0)
    first, second = _current(ctx, env_id)
    assert [first.id, second.id] == got.created
    assert "complaint" in first.text and "cancel my contract" in second.text
    assert _pdf_pages(ctx.blobs.get(first.part_sha256)) == [0] and _pdf_pages(ctx.blobs.get(second.part_sha256)) == [0]
    turned = pdfium.PdfDocument(ctx.blobs.get(second.part_sha256))
    ink = np.asarray(turned[0].render(scale=0.5).to_pil().convert("L")) < 128
    turned.close()
    height = ink.shape[0]
    assert ink[height // 2:].sum() > 5 * ink[: height // 2].sum()  # turned upside down: the text is at the bottom


def test_a_letter_an_agent_completed_is_not_reopened(ctx: Context, batch: str) -> None:
    [doc] = _current(ctx, batch)
    assert doc.work_item is not None
    now = datetime.now(UTC)
    with session_scope(ctx.db_url) as s:
        work.claim(s, doc.work_item.id, "anna", now)
    with session_scope(ctx.db_url) as s:
        work.complete(s, doc.work_item.id, "anna", now)
    with pytest.raises(Conflict, match=r"Letter 1 \(work item \d+\) was already completed by anna; a completed "
                                       "item is not reopened"):
        c.correct(ctx, batch, c.parse_layout("1,2|3"), "scan", seen_version=0)
    [still] = _current(ctx, batch)
    assert still.id == doc.id and still.work_item is not None and still.work_item.outcome == "resolved"
    assert not _events(ctx, batch, "envelope.corrected")


def test_a_letter_being_worked_is_not_taken_away(ctx: Context, batch: str) -> None:
    [doc] = _current(ctx, batch)
    assert doc.work_item is not None
    with session_scope(ctx.db_url) as s:
        work.claim(s, doc.work_item.id, "anna", datetime.now(UTC))
    with pytest.raises(Conflict, match="is claimed by anna; ask them to release it, then correct the batch"):
        c.correct(ctx, batch, c.parse_layout("1|2,3"), "scan", seen_version=0)
    with session_scope(ctx.db_url) as s:
        item = s.get(WorkItem, doc.work_item.id)
        assert item is not None and item.state == WorkItemState.CLAIMED and item.assignee == "anna"


def test_a_correction_of_an_old_version_is_refused(ctx: Context, batch: str) -> None:
    c.correct(ctx, batch, c.parse_layout("1,2|3"), "scan", seen_version=0)
    with pytest.raises(Conflict, match=r"corrected meanwhile \(version 1, you saw 0\); reload the page"):
        c.correct(ctx, batch, c.parse_layout("1|2|3"), "scan", seen_version=0)
    with pytest.raises(InvalidRequest, match="Nothing changes"):
        c.correct(ctx, batch, c.parse_layout("1,2|3"), "scan", seen_version=1)
    assert len(_current(ctx, batch)) == 2


def test_an_email_is_not_re_split(ctx: Context) -> None:
    raw = (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: Complaint\r\nMessage-ID: <c1@example.com>\r\n"
           b"Date: Mon, 7 Dec 2026 08:00:00 +0000\r\n\r\nI file a complaint about invoice FV/2026/10/004512.\r\n")
    got = receive(ctx, raw, "mail.eml", datetime.now(UTC), channel=Channel.EMAIL, submitted_by="scan")
    run_inline(ctx, got.envelope_id)
    with pytest.raises(Conflict, match="An e-mail is one letter"):
        c.correct(ctx, got.envelope_id, c.parse_layout("1"), "scan", seen_version=0)


# ---------------------------------------------------------------- the batch check


def test_the_batch_check_compares_the_expected_count(ctx: Context, batch: str) -> None:
    with session_scope(ctx.db_url) as s:
        check = c.batch_check(s, batch)
        assert (check.pages_scanned, check.letters_found, check.letters_expected) == (3, 1, None)
        assert not check.differs
        check = c.set_expected(s, batch, 2, "scan")
        assert check.differs and check.letters_expected == 2
    c.correct(ctx, batch, c.parse_layout("1,2|3"), "scan", seen_version=0)
    with session_scope(ctx.db_url) as s:
        check = c.batch_check(s, batch)
        assert (check.letters_found, check.pages_in_letters, check.differs) == (2, 3, False)
    [event] = _events(ctx, batch, "envelope.expected_letters")
    assert event.detail == {"from": None, "to": 2, "letters_found": 1}
    assert c.parse_expected("") is None and c.parse_expected("4") == 4
    for bad in ("0", "-1", "two", "100001"):
        with pytest.raises(InvalidRequest, match="whole number from 1 to"):
            c.parse_expected(bad)


# ---------------------------------------------------------------- over HTTP: who may, the page, the upload


@pytest.fixture
def web(ctx: Context, batch: str) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    from web.app import create_app

    now = datetime.now(UTC)
    headers = {}
    with session_scope(ctx.db_url) as s:
        for name, role in (("scan", Role.SCANNER), ("scan2", Role.SCANNER), ("agent", Role.AGENT),
                           ("boss", Role.SUPERVISOR), ("audit", Role.AUDITOR)):
            upsert_user(s, name, "password-123", role)
            headers[name] = {"Authorization": f"Bearer {create_token(s, name, 'test', now)[1]}"}
    with TestClient(create_app(ctx), follow_redirects=False) as client:
        yield client, headers


def test_who_may_see_and_correct_a_batch(ctx: Context, batch: str, web) -> None:  # type: ignore[no-untyped-def]
    client, h = web
    layout = f"/api/batches/{batch}/layout"
    body = {"version": 0, "letters": [[{"page": 1}, {"page": 2}], [{"page": 3}]]}
    assert client.get(layout, headers=h["scan"]).json()["layout"] == "1,2,3"
    assert client.get(layout, headers=h["audit"]).status_code == 200  # auditors read
    for who in ("scan2", "agent"):  # another station's batch, an agent: as if it did not exist
        assert client.get(layout, headers=h[who]).status_code == 404
    for who in ("scan2", "agent", "audit"):
        r = client.post(f"/api/batches/{batch}/corrections", json=body, headers=h[who])
        assert r.status_code == 404, (who, r.status_code)
    assert client.get(f"/mailroom/batches/{batch}/correct", headers=h["scan2"]).status_code == 404
    assert not _events(ctx, batch, "envelope.corrected")
    r = client.post(f"/api/batches/{batch}/corrections", json=body, headers=h["boss"])
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["version"] == 1 and len(out["created"]) == 2 and all(out["work_items"].values())
    assert out["check"]["letters_found"] == 2
    stale = client.post(f"/api/batches/{batch}/corrections", json=body, headers=h["scan"])
    assert stale.status_code == 409 and "reload" in stale.json()["detail"]
    assert client.post(f"/api/batches/{batch}/pages/3/reread", json={"version": 1},
                       headers=h["audit"]).status_code == 404
    r = client.post(f"/api/batches/{batch}/pages/3/reread", json={"version": 1, "rotate": 180}, headers=h["scan"])
    assert r.status_code == 200, r.text
    assert r.json()["kept"] == [out["created"][0]] and r.json()["superseded"] == [out["created"][1]]
    assert client.get(layout, headers=h["scan"]).json()["layout"] == "1,2|3r180"
    r = client.post(f"/mailroom/batches/{batch}/pages/3/reread", data={"version": "2"}, headers=h["scan"])
    assert r.status_code == 303 and "read%20again" in r.headers["location"].replace("+", "%20")
    assert len(_events(ctx, batch, "document.page_reread")) == 2
    r = client.put(f"/api/batches/{batch}/expected-letters", json={"expected_letters": 3}, headers=h["scan"])  # found 2
    assert r.status_code == 200 and r.json()["differs"] is True
    assert client.put(f"/api/batches/{batch}/expected-letters", json={"expected_letters": 0},
                      headers=h["scan"]).status_code == 422


def test_the_page_re_splits_and_shows_the_check(ctx: Context, batch: str, web) -> None:  # type: ignore[no-untyped-def]
    client, h = web
    page = client.get(f"/mailroom/batches/{batch}/correct", headers=h["scan"])
    assert page.status_code == 200 and 'value="split 3"' in page.text and "Apply the correction" in page.text
    r = client.get(f"/mailroom/batches/{batch}/correct", params={"layout": "1,2,3", "do": "split 3"},
                   headers=h["scan"])
    assert r.status_code == 303 and r.headers["location"].endswith("?layout=1%2C2%7C3#p3")
    draft = client.get(r.headers["location"].split("#")[0], headers=h["scan"])
    assert "After the correction: 2 letters." in draft.text and "made anew when applied" in draft.text
    img = client.get(f"/mailroom/batches/{batch}/pages/3.png", headers=h["scan"])
    assert img.status_code == 200 and img.content.startswith(b"\x89PNG")
    assert client.get(f"/mailroom/batches/{batch}/pages/9.png", headers=h["scan"]).status_code == 404
    done = client.post(f"/mailroom/batches/{batch}/correct", data={"layout": "1,2|3", "version": "0"},
                       headers=h["scan"])
    assert done.status_code == 303 and done.headers["location"].startswith(f"/mailroom/batches/{batch}?message=")
    assert len(_current(ctx, batch)) == 2
    # the envelope's API lists the replaced letter too, naming the correction that replaced it
    listed = client.get(f"/api/envelopes/{batch}", headers=h["scan"]).json()["documents"]
    assert sorted(d["superseded_by"] is not None for d in listed) == [False, False, True]
    again = client.post(f"/mailroom/batches/{batch}/correct", data={"layout": "1|2|3", "version": "0"},
                        headers=h["scan"])  # the page of an old version: sent back with the reason
    assert again.status_code == 303 and "reload" in client.get(again.headers["location"], headers=h["scan"]).text
    r = client.post(f"/mailroom/batches/{batch}/expected", data={"expected_letters": "3"},
                    headers={**h["scan"], "HX-Request": "true"})
    assert r.status_code == 200 and 'id="check-warning"' in r.text and "counted 3 letters, but 2 were found" in r.text
    batch_page = client.get(f"/mailroom/batches/{batch}", headers=h["scan"]).text
    assert 'id="check-warning"' in batch_page and "1 letter replaced by a correction" in batch_page
    listing = client.get("/mailroom/batches", headers=h["scan"]).text
    assert "3 expected" in listing and "2 letters" in listing
    # the agent's letter page draws the new letter's pages from its derived version
    first, _second = _current(ctx, batch)
    assert first.work_item is not None
    drawn = client.get(f"/agent/items/{first.work_item.id}/pages/2.png", headers=h["boss"])
    assert drawn.status_code == 200 and drawn.content.startswith(b"\x89PNG")


def test_the_upload_takes_the_expected_count(ctx: Context, web, scan_file: Path) -> None:  # type: ignore[no-untyped-def]
    client, h = web
    data = scan_pdf(scan_file.parent / "other.pdf", [LETTERS[2], LETTERS[0]]).read_bytes()
    r = client.post("/api/envelopes", headers=h["scan"], data={"channel": "scan", "expected_letters": "2"},
                    files={"file": ("other.pdf", data, "application/pdf")})
    assert r.status_code == 202, r.text
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, r.json()["envelope_id"])
        assert env is not None and env.expected_letters == 2
    bad = client.post("/api/envelopes", headers=h["scan"], data={"channel": "scan", "expected_letters": "0"},
                      files={"file": ("third.pdf", data + b"\n", "application/pdf")})
    assert bad.status_code == 422


def test_a_corrected_letter_is_not_acknowledged_twice(ctx: Context, tmp_path: Path) -> None:
    """The complaint was acknowledged when it was first routed; with its pages put in order it is the same letter."""
    from storage.models import Customer, OutboundLetter

    with session_scope(ctx.db_url) as s:
        s.add(Customer(id="MR-1234567", name="John Smith", language="en", address=["1 High Street", "London"]))
    env_id = arrive(ctx, scan_pdf(tmp_path / "complaint.pdf", [LETTERS[1], LETTERS[0]]))  # page two came first

    def acknowledgements() -> list[bool]:
        """Per acknowledgement of the arrival: whether its letter is one a correction replaced."""
        with session_scope(ctx.db_url) as s:
            return [superseded is not None for superseded in s.scalars(
                select(Document.superseded_by).join(WorkItem, WorkItem.document_id == Document.id)
                .join(OutboundLetter, OutboundLetter.work_item_id == WorkItem.id)
                .where(Document.envelope_id == env_id, OutboundLetter.kind == "acknowledgement"))]

    assert acknowledgements() == [False]  # a complaint by post: a printed acknowledgement is queued
    got = c.correct(ctx, env_id, c.parse_layout("2,1"), "scan", seen_version=0)
    assert len(got.created) == 1 and len(got.superseded) == 1
    assert acknowledgements() == [True]  # still the one, now on the replaced letter
    skipped = [e.detail["why"] for e in _events(ctx, env_id, "outbound.acknowledgement_skipped")]
    assert skipped == ["acknowledged before the mailroom's correction"]
