"""A real ``mailroom serve`` with one user of every role and a routed letter (plus a quarantined file), for
the browser tests of the pages' accessibility and keyboard use (tests/test_a11y.py, tests/test_keyboard.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from ground.settings import CONFIG_DIR
from queues.routing import load_rules
from storage.db import migrate, session_scope
from storage.models import Role
from storage.users import upsert_user
from tests.support.agents import join_every_queue
from tests.support.servers import free_port, mailroom_serve, wait_until

PASSWORD = "pages-test-password-1"
USERS = {"scan": Role.SCANNER, "agent": Role.AGENT, "boss": Role.SUPERVISOR, "audit": Role.AUDITOR,
         "root": Role.ADMIN}
SCREEN = {"width": 1366, "height": 768}


@dataclass
class Served:
    base: str
    data: Path
    envelope_id: str = ""
    item_id: int = 0
    document_id: str = ""
    word: str = ""  # a word of the letter's text, for the archive search
    letter: Path | None = None


def upload(base: str, path: Path, user: str = "scan") -> str:
    r = httpx.post(f"{base}/api/envelopes", auth=(user, PASSWORD), timeout=60,
                   files={"file": (path.name, path.read_bytes(), "application/octet-stream")})
    assert r.status_code == 202, r.text
    return r.json()["envelope_id"]


def wait_routed(base: str, envelope_id: str, timeout: float = 300) -> dict:
    def routed() -> dict | None:
        got = httpx.get(f"{base}/api/envelopes/{envelope_id}", auth=("boss", PASSWORD), timeout=10).json()
        assert got["state"] not in ("quarantined", "needs_human"), got
        return got if got["state"] == "processed" and all(d["work_item"] for d in got["documents"]) else None

    return wait_until(routed, timeout, "the letter to be routed")


@contextmanager
def served(root: Path, *, routed_letter: bool = True, args: tuple[str, ...] = ()) -> Iterator[Served]:
    """``mailroom serve`` on a fresh data directory: users of every role (the agent in every queue), and with
    ``routed_letter`` a generated text PDF letter routed to a queue and a damaged file in quarantine; ``args`` go to
    ``mailroom serve`` (``--workers 2``)."""
    import re

    from corpus.generate import generate

    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{data / 'mailroom.db'}"
    migrate(db_url)
    with session_scope(db_url) as s:
        for name, role in USERS.items():
            upsert_user(s, name, PASSWORD, role, name.title())
        join_every_queue(s, load_rules(CONFIG_DIR / "routing.yaml"))
    env = dict(os.environ, MAILROOM_DATA=str(data), MAILROOM_PORT=str(free_port()),
               MAILROOM_SECRET_KEY="pages-browser-test-key-0123456789abcdefghij")
    env.pop("MAILROOM_DATABASE_URL", None)
    with mailroom_serve(env, *args, log=root / "serve.log") as base:
        out = Served(base, data)
        letters = root / "letters"
        [rec] = generate(letters, seed=23, count=1, forms=["text_pdf"])
        out.letter = letters / rec["file"]
        words = sorted(re.findall(r"[^\W\d_]{8,}", rec["documents"][0]["text"]), key=len)
        out.word = words[-1]
        if routed_letter:
            out.envelope_id = upload(base, out.letter)
            detail = wait_routed(base, out.envelope_id)
            doc = detail["documents"][0]
            out.item_id, out.document_id = doc["work_item"]["id"], doc["id"]
            bad = httpx.post(f"{base}/api/envelopes", auth=("scan", PASSWORD), timeout=30,
                             files={"file": ("damaged.pdf", b"%PDF-1.4 not really", "application/pdf")})
            assert bad.status_code < 500, bad.text
        yield out


def sign_in(browser, base: str, user: str, language: str = "en"):  # type: ignore[no-untyped-def]
    """A page signed in as ``user`` through the form, the browser asking for ``language``."""
    context = browser.new_context(viewport=SCREEN, base_url=base, locale=language,
                                  extra_http_headers={"Accept-Language": language})
    page = context.new_page()
    page.goto("/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, page.content()[:2000]
    return page
