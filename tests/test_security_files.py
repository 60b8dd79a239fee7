"""File serving (RELIABILITY.md "file serving"): a JPEG/HTML polyglot, an SVG with script, an HTML
file and an e-mail with a text/html attachment, uploaded and run through the pipeline, come back
from every download route as ``Content-Disposition: attachment`` + ``nosniff`` with a type no browser
renders (never text/html or image/svg+xml); the page-image route only ever answers PNG it drew."""

from __future__ import annotations

import io
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from pipeline.context import Context
from pipeline.runner import run_inline
from storage.db import session_scope
from storage.models import Document, Envelope, Role, WorkItem
from storage.users import upsert_user
from tests.hostile.make_corpus import fixtures
from web.app import create_app

AUTH = {"scan": ("scan", "scan-password-1"), "boss": ("boss", "boss-password-1"), "audit": ("audit", "audit-pw-1")}
RENDERABLE = ("text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "application/xml",
              "application/javascript", "text/javascript")


def _html_attachment_mail() -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "jan@example.pl", "bok@example.com", "Reklamacja"
    msg.set_content("Dzień dobry, w załączniku reklamacja faktury FV/2026/10/004512. Nr klienta MR-1234567.")
    msg.add_attachment(b"<html><body><script>alert(document.cookie)</script>Reklamacja</body></html>",
                       maintype="text", subtype="html", filename="reklamacja.html")
    return msg.as_bytes()


UPLOADS = {
    "polyglot.jpg": fixtures()["polyglot.jpg"][0](),
    "svg-script.svg": fixtures()["svg-script.svg"][0](),
    "page.html": b"<!DOCTYPE html><html><body><script>alert(1)</script>Reklamacja</body></html>",
    "html-attachment.eml": _html_attachment_mail(),
}
# read as an image: its pages are drawn as PNG; the others are read as text and have no page image
DRAWN_PAGES = {"polyglot.jpg"}


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    with session_scope(ctx.db_url) as s:
        upsert_user(s, "scan", AUTH["scan"][1], Role.SCANNER)
        upsert_user(s, "boss", AUTH["boss"][1], Role.SUPERVISOR)
        upsert_user(s, "audit", AUTH["audit"][1], Role.AUDITOR)
    with TestClient(create_app(ctx), raise_server_exceptions=False) as c:
        yield c


def _check_download(r, name: str) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code == 200, (name, r.status_code, r.text[:200])
    assert r.headers["content-disposition"].startswith("attachment;"), (name, r.headers)
    assert r.headers["x-content-type-options"] == "nosniff", name
    ctype = r.headers["content-type"].split(";")[0].strip().lower()
    assert ctype not in RENDERABLE and ctype == "application/octet-stream", (name, ctype)
    assert "sandbox" in r.headers["content-security-policy"], name
    assert r.content == UPLOADS[name]  # the original, byte for byte


@pytest.mark.timeout(300)
def test_hostile_files_are_always_downloads_and_page_images_are_png(client: TestClient, ctx: Context) -> None:
    envelopes: dict[str, str] = {}
    for name, data in UPLOADS.items():
        r = client.post("/api/envelopes", auth=AUTH["scan"], files={"file": (name, data, "application/octet-stream")})
        assert r.status_code in (202, 415, 422), (name, r.status_code, r.text)
        env_id = r.json().get("envelope_id") or r.json()["detail"]["envelope_id"]
        envelopes[name] = env_id
        if r.status_code == 202:
            run_inline(ctx, env_id)
    checked = pages_checked = 0
    for name, env_id in envelopes.items():
        _check_download(client.get(f"/api/archive/envelopes/{env_id}/original", auth=AUTH["audit"]), name)
        with session_scope(ctx.db_url) as s:
            env = s.get(Envelope, env_id)
            assert env is not None
            docs = list(s.scalars(select(Document).where(Document.envelope_id == env_id)))
            items = [s.scalars(select(WorkItem).where(WorkItem.document_id == d.id)).first() for d in docs]
        for doc, item in zip(docs, items, strict=True):
            _check_download(client.get(f"/auditor/documents/{doc.id}/original", auth=AUTH["audit"]), name)
            if item is not None:
                page = client.get(f"/agent/items/{item.id}/pages/1.png", auth=AUTH["boss"])
                shown = client.get(f"/agent/items/{item.id}", auth=AUTH["boss"])
                assert shown.status_code == 200, (name, shown.status_code)
                if name in DRAWN_PAGES:  # a page image it read: served as a PNG Mailroom drew, never a 404
                    assert page.status_code == 200, (name, page.status_code, page.text[:200])
                    assert page.headers["content-type"] == "image/png" and page.content[:8] == b"\x89PNG\r\n\x1a\n"
                    assert page.headers["x-content-type-options"] == "nosniff", name
                    assert b"<script" not in page.content and b"<svg" not in page.content
                    Image.open(io.BytesIO(page.content)).verify()  # a whole PNG
                    assert f"/agent/items/{item.id}/pages/1.png" in shown.text  # and the item page shows it
                    pages_checked += 1
                else:  # read as text: there is no page image, and the item page links none
                    assert page.status_code == 404, (name, page.status_code)
                    assert f"/agent/items/{item.id}/pages/" not in shown.text, name
            checked += 1
    assert checked >= 3  # polyglot, SVG and e-mail became documents; the HTML file is kept as an original
    assert pages_checked >= 1  # the polyglot's page was drawn and served


def test_svg_is_never_served_as_an_image(client: TestClient, ctx: Context) -> None:
    """An SVG is not an image Mailroom reads: it is not rendered to a page, and its original is a download."""
    r = client.post("/api/envelopes", auth=AUTH["scan"],
                    files={"file": ("x.svg", UPLOADS["svg-script.svg"], "image/svg+xml")})
    assert r.status_code in (202, 415, 422)
    with session_scope(ctx.db_url) as s:
        env = s.scalars(select(Envelope)).one()
        assert env.content_type != "image/svg+xml" or env.state in ("quarantined", "needs_human"), env.content_type
