"""Bad input of every kind ends in quarantine with its reason while the rq worker goes on; quarantine
list/show/retry and batch status over the CLI and HTTP; a scanned batch split at separator sheets."""

from __future__ import annotations

import io
import json
import random
import struct
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from reportlab.pdfgen import canvas
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from channels.receive import enqueue, inline, receive
from corpus import render
from corpus.letters import compose
from ground.errors import MailroomError
from ground.settings import Settings
from mailroom.cli import main
from pipeline.context import Context, get_context
from pipeline.jobs import job_queue
from pipeline.runner import quarantine
from storage.db import session_scope
from storage.models import Envelope, EnvelopeState, Role
from storage.users import upsert_user
from tests.support.agents import join_every_queue
from web.app import create_app

NOW = datetime(2026, 10, 12, 9, 0, tzinfo=UTC)


def _text_pdf(seed: int, pages: int = 1, lang: str = "pl") -> bytes:
    letter = compose(random.Random(seed), lang, "complaint")
    return render.text_pdf(render.layout(letter.blocks, "sans", 11.0, pages=pages), letter.subject,
                           letter.sender_name)


def _encrypted_pdf() -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, encrypt="secret")
    c.drawString(72, 720, "Reklamacja faktury FV/2026/10/004512")
    c.showPage()
    c.save()
    return buf.getvalue()


def _pdf_pages(pages: int) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    for n in range(pages):
        c.drawString(72, 720, f"Strona {n + 1}: reklamacja faktury FV/2026/10/004512, proszę o korektę.")
        c.showPage()
    c.save()
    return buf.getvalue()


def _png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG whose header claims 900 megapixels."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 4096))
            + chunk(b"IEND", b""))


BAD = {  # name → (bytes, words the reason must hold, state)
    "encrypted.pdf": (_encrypted_pdf, "password-protected", EnvelopeState.NEEDS_HUMAN),
    "corrupt.pdf": (lambda: b"%PDF-1.7\n1 0 obj <</Type /Catalog /Pages 2 0 R>>\n" + b"\x00garbage" * 50,
                    "damaged", EnvelopeState.QUARANTINED),
    "letter.pdf": (lambda: b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8, "not a PDF, image",
                   EnvelopeState.QUARANTINED),  # unsupported: sniffed by content, not by extension
    "empty.png": (lambda: b"", "0 bytes", EnvelopeState.QUARANTINED),
    "bomb.png": (_png_bomb, "pixels", EnvelopeState.QUARANTINED),
    "long.pdf": (lambda: _pdf_pages(4), "more than the limit of 3", EnvelopeState.QUARANTINED),
}


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILROOM_MAX_PAGES", "3")  # set before the settings fixture reads the environment


def drain(ctx: Context) -> None:
    queue = job_queue(ctx.settings)
    SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer).work(burst=True)


def _state(ctx: Context, env_id: str) -> tuple[str, str | None, int]:
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, env_id)
        assert env is not None
        return env.state, env.error, len(env.documents)


@pytest.mark.slow
def test_every_bad_input_is_quarantined_with_its_reason_and_the_worker_goes_on(
        small_limits: None, redis_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = get_context(redis_settings)
    assert ctx.settings.max_pages == 3
    ids = {name: receive(ctx, make(), name, NOW, channel=None, dispatch=enqueue(ctx)).envelope_id
           for name, (make, _, _) in BAD.items()}
    good = receive(ctx, _text_pdf(8), "good.pdf", NOW, dispatch=enqueue(ctx)).envelope_id
    assert len(job_queue(ctx.settings)) == 5  # empty and unsupported were quarantined at intake already
    drain(ctx)
    for name, (_, words, state) in BAD.items():
        got_state, reason, docs = _state(ctx, ids[name])
        assert (got_state, docs) == (state, 0), name
        assert reason and words in reason, (name, reason)
    assert _state(ctx, good)[0] == EnvelopeState.PROCESSED  # the item after the bad ones was processed
    capsys.readouterr()
    assert main(["quarantine", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["total"] == 6 and {i["id"] for i in listed["items"]} == set(ids.values())
    assert main(["quarantine", "show", ids["encrypted.pdf"]]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["state"] == "needs_human" and "envelope.needs_human" in [e["action"] for e in shown["events"]]


@pytest.fixture
def api(redis_settings: Settings) -> Iterator[tuple[TestClient, Context]]:
    ctx = get_context(redis_settings)
    with session_scope(ctx.db_url) as s:
        for name, role in {"scan": Role.SCANNER, "scan2": Role.SCANNER, "boss": Role.SUPERVISOR,
                           "anna": Role.AGENT, "audit": Role.AUDITOR}.items():
            upsert_user(s, name, f"{name}-password", role)
        join_every_queue(s, ctx.rules)  # an agent without memberships works no queue
    with TestClient(create_app(ctx)) as client:
        yield client, ctx


def auth(name: str) -> tuple[str, str]:
    return (name, f"{name}-password")


@pytest.mark.slow
def test_quarantine_and_retry_over_http_and_cli(api: tuple[TestClient, Context],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    client, ctx = api
    first = receive(ctx, _text_pdf(21), "a.pdf", NOW, submitted_by="scan").envelope_id
    second = receive(ctx, _text_pdf(22), "b.pdf", NOW, submitted_by="scan").envelope_id
    crash = "Reading failed 3 times (OSError: disk unplugged); the original is kept, re-run it after fixing the cause."
    for env_id in (first, second):
        quarantine(ctx, env_id, MailroomError(crash))
    assert client.get("/api/quarantine", auth=auth("anna")).status_code == 404  # agents do not see it
    listed = client.get("/api/quarantine", auth=auth("audit")).json()
    assert listed["total"] == 2 and listed["items"][0]["reason"] == crash
    shown = client.get(f"/api/quarantine/{first}", auth=auth("audit")).json()
    assert shown["sha256"] and [e["action"] for e in shown["events"]] == ["envelope.accepted", "envelope.quarantined"]
    assert client.post(f"/api/quarantine/{first}/retry", auth=auth("audit")).status_code == 404  # read-only role
    r = client.post(f"/api/quarantine/{first}/retry", auth=auth("boss"))
    assert r.status_code == 202 and r.json()["enqueued"]
    assert len(job_queue(ctx.settings)) == 1
    drain(ctx)
    status = client.get(f"/api/batches/{first}", auth=auth("scan")).json()
    assert status["state"] == "processed" and status["documents_found"] == 1 and status["pages_received"] == 1
    assert status["documents"][0]["work_item"]["state"] == "new"
    assert client.get(f"/api/batches/{first}", auth=auth("scan2")).status_code == 404  # another station's batch
    again = client.post(f"/api/quarantine/{first}/retry", auth=auth("boss"))
    assert again.status_code == 409 and "not in quarantine" in again.json()["detail"]
    assert main(["quarantine", "retry", second]) == 0  # inline
    assert "routed to queues, documents: 1" in capsys.readouterr().out  # the state in words (ground/i18n.py)
    assert client.get("/api/quarantine", auth=auth("boss")).json()["total"] == 0


@pytest.mark.slow
def test_batch_of_four_letters_with_separators_and_blank_backs_yields_four_documents(
        ctx: Context, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(4)
    plan = [("pl", "complaint", 2, True), ("cs", "payment", 1, True), ("ru", "cancellation", 1, False),
            ("en", "fault_report", 2, False)]  # (language, category, pages, blank back after page 1)
    images, expected = [], []
    for n, (lang, category, pages, duplex) in enumerate(plan):
        if n:
            images.append(render.separator_page(rng))
        letter = compose(rng, lang, category)
        lay = render.layout(letter.blocks, "sans", 12.0, pages=pages)
        assert len(lay.pages) == pages
        expected.append((len(images) + 1, pages))
        for k, page in enumerate(lay.pages):
            images.append(render.scan_effects(render.rasterize(page, lay, 300), rng))
            if duplex and k == 0:
                images.append(render.blank_page(rng))
    pdf = render.image_pdf(images, datetime(2026, 10, 12, 9, 0))
    got = receive(ctx, pdf, "batch-0001.pdf", NOW, dispatch=inline(ctx))
    assert main(["batch", got.envelope_id, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["pages_received"] == len(images) == 11
    assert status["documents_found"] == 4
    assert [(d["first_page"], d["pages"]) for d in status["documents"]] == expected
    assert sum(d["pages"] for d in status["documents"]) == 11 - 3 - 2  # separators and blank backs dropped
    assert all(d["state"] == "routed" and d["work_item"] for d in status["documents"])
    assert status["state"] == "processed"
    assert main(["batch", got.envelope_id]) == 0
    assert "documents found: 4" in capsys.readouterr().out
