"""The pages of answering the customer (issue 17) through the forms, as a browser posts them (TestClient,
session cookie and CSRF token): the reply section of the agent's item page, four-eyes approval, the mailroom's
post batch and hand-over, and a case's timeline; who may open which, and a Polish page for a Polish user."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pipeline.context import Context
from replies import service
from storage.db import session_scope
from storage.models import Customer, Document, OutboundLetter, PostBatch, Role, User, WorkItem
from storage.users import upsert_user
from tests.support.agents import join_every_queue
from tests.support.smtp_relay import relay
from tests.test_replies import COMPLAINT, _arrive, _customer, _mail
from tests.test_web import sign_in
from web.app import create_app

USERS = {"scan": Role.SCANNER, "anna": Role.AGENT, "boss": Role.SUPERVISOR, "chief": Role.SUPERVISOR,
         "audit": Role.AUDITOR, "zoe": Role.AGENT}
WAW = ZoneInfo("Europe/Warsaw")


@pytest.fixture
def web(ctx: Context) -> Iterator[TestClient]:
    with session_scope(ctx.db_url) as s:
        for name, role in USERS.items():
            upsert_user(s, name, f"{name}-password", role, name.title())
        join_every_queue(s, ctx.rules, ["anna"])  # zoe works no queue
    with TestClient(create_app(ctx), follow_redirects=False) as client:
        yield client


def _complaint(ctx: Context, category: str | None = None) -> WorkItem:
    """A Polish complaint by e-mail from a customer with a postal address, routed (and its category set)."""
    with session_scope(ctx.db_url) as s:
        known = s.get(Customer, "MR-1234567") is not None
    if not known:
        _customer(ctx)
    raw, _msgid = _mail(COMPLAINT)
    item = _arrive(ctx, raw, now=datetime.now(UTC) - timedelta(days=1))  # received yesterday
    if category:
        with session_scope(ctx.db_url) as s:
            s.get(Document, item.document_id).category = category  # type: ignore[union-attr]
    return item


def _flash(page: str) -> str:
    found = re.search(r'<p class="flash" role="status">(.*?)</p>', page, re.S)
    return found.group(1) if found else ""


def _follow(client: TestClient, r) -> str:  # type: ignore[no-untyped-def]
    assert r.status_code == 303, r.text[:2000]
    return client.get(r.headers["location"]).text


def _letters(ctx: Context, item_id: int) -> list[OutboundLetter]:
    with session_scope(ctx.db_url) as s:
        letters = service.letters_of_item(s, item_id)
        for x in letters:
            s.expunge(x)
        return letters


def _form(letter: OutboundLetter, csrf: str, **changes: object) -> dict[str, object]:
    """The draft form as the item page fills it in."""
    data: dict[str, object] = {
        "csrf_token": csrf, "version": letter.version, "channel": letter.channel, "to_email": letter.to_email or "",
        "address": "\r\n".join(letter.address), "subject": letter.subject, "body": letter.body.replace("\n", "\r\n"),
        **{k: str(letter.fields.get(k) or "") for k in ("decision", "reasons", "compensation", "compensation_due",
                                                        "employee_position")}}
    data.update(changes)
    return data


def _post_reply(web: TestClient, ctx: Context, csrf: str) -> tuple[WorkItem, str]:
    """anna claims a complaint, writes the reply from its template, switches it to post, and sends it."""
    item = _complaint(ctx)
    _follow(web, web.post(f"/agent/items/{item.id}/claim", data={"csrf_token": csrf}))
    page = _follow(web, web.post(f"/agent/items/{item.id}/letters/new", data={"csrf_token": csrf, "kind": "reply"}))
    assert "A draft is ready" in _flash(page)
    (letter,) = [x for x in _letters(ctx, item.id) if x.kind == "reply"]
    assert letter.channel == "email"  # the complaint came by e-mail
    assert f'id="letter-{letter.id}"' in page and 'value="email" checked' in page
    assert f'href="/agent/letters/{letter.id}/preview.pdf"' in page
    # sending before the required content is there: refused, each missing element named
    page = _follow(web, web.post(f"/agent/letters/{letter.id}/send", data=_form(letter, csrf, channel="post")))
    flash = _flash(page)
    assert "The reply cannot be sent yet; it lacks:" in flash and "the decision" in flash, flash
    assert "position" in flash
    (letter,) = [x for x in _letters(ctx, item.id) if x.kind == "reply"]
    assert (letter.channel, letter.state) == ("post", "draft")  # the edit was kept
    page = _follow(web, web.post(f"/agent/letters/{letter.id}/save", data=_form(
        letter, csrf, decision="accepted", employee_position="Specjalista ds. reklamacji")))
    assert "The draft is saved." in _flash(page)
    (letter,) = [x for x in _letters(ctx, item.id) if x.kind == "reply"]
    assert "reklamacja została uwzględniona" in letter.body  # the text followed the fields
    pdf = web.get(f"/agent/letters/{letter.id}/preview.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    page = _follow(web, web.post(f"/agent/letters/{letter.id}/send", data=_form(letter, csrf, registered="yes")))
    assert "The letter waits for the next post batch." in _flash(page), _flash(page)
    (letter,) = [x for x in _letters(ctx, item.id) if x.kind == "reply"]
    assert (letter.state, letter.channel, letter.registered) == ("queued", "post", True)
    return item, letter.id


def test_the_agent_writes_edits_and_sends_a_reply_by_post(web: TestClient, ctx: Context) -> None:
    csrf = sign_in(web, "anna")
    item, letter_id = _post_reply(web, ctx, csrf)
    page = web.get(f"/agent/items/{item.id}").text
    assert f'data-letter="{letter_id}"' in page and "queued" in page
    assert f'id="letter-{letter_id}"' not in page  # no longer a draft form
    if item.case_id:
        assert f'href="/cases/{item.case_id}"' in page
    # a draft can be cancelled; another agent's letter pages are not there for zoe
    page = _follow(web, web.post(f"/agent/items/{item.id}/letters/new",
                                 data={"csrf_token": csrf, "kind": "extension"}))
    ext = next(x for x in _letters(ctx, item.id) if x.kind == "extension")
    page = _follow(web, web.post(f"/agent/letters/{ext.id}/cancel", data={"csrf_token": csrf}))
    assert "The draft is cancelled." in _flash(page)
    assert next(x for x in _letters(ctx, item.id) if x.kind == "extension").state == "cancelled"
    assert web.post(f"/agent/letters/{ext.id}/save", data={}).status_code in (400, 403)  # no CSRF token
    web.post("/logout", data={"csrf_token": csrf})
    sign_in(web, "zoe")
    assert web.get(f"/agent/letters/{letter_id}/preview.pdf").status_code == 404


def test_the_mailroom_builds_the_batch_and_hands_it_over_with_the_registered_number(
        web: TestClient, ctx: Context) -> None:
    csrf = sign_in(web, "anna")
    item, letter_id = _post_reply(web, ctx, csrf)
    web.post("/logout", data={"csrf_token": csrf})
    csrf = sign_in(web, "scan")
    page = web.get("/mailroom").text
    assert 'href="/mailroom/post"' in page
    page = web.get("/mailroom/post").text
    assert '<strong id="waiting">1</strong>' in page
    page = _follow(web, web.post("/mailroom/post/batches", data={"csrf_token": csrf}))
    assert "is ready to print" in _flash(page)
    with session_scope(ctx.db_url) as s:
        batch_id = s.scalars(select(PostBatch.id)).one()
    assert '<strong id="waiting">0</strong>' in page
    for which in ("print", "posting-list"):
        pdf = web.get(f"/mailroom/post/batches/{batch_id}/{which}.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), which
        assert f'href="/mailroom/post/batches/{batch_id}/{which}.pdf"' in page
    assert f'id="num-{letter_id}"' in page and "autofocus" in page  # where the scanner starts
    # handing over without the registered number of a registered letter: refused, said on the page
    page = _follow(web, web.post(f"/mailroom/post/batches/{batch_id}/hand-over",
                                 data={"csrf_token": csrf, "letter": [letter_id], "number": [""]}))
    assert "registered letters have no registered number" in _flash(page)
    # Enter in the field keeps the number (the first button), then the hand-over at a local time
    page = _follow(web, web.post(f"/mailroom/post/batches/{batch_id}/numbers",
                                 data={"csrf_token": csrf, "letter": [letter_id], "number": ["RR 123456789 PL"]}))
    assert "Registered numbers kept." in _flash(page) and 'value="RR 123456789 PL"' in page
    at_local = (datetime.now(UTC) - timedelta(hours=2)).astimezone(WAW).replace(second=0, microsecond=0)
    page = _follow(web, web.post(f"/mailroom/post/batches/{batch_id}/hand-over", data={
        "csrf_token": csrf, "letter": [letter_id], "number": ["RR 123456789 PL"],
        "at": at_local.strftime("%Y-%m-%dT%H:%M")}))
    assert "is handed over to the post" in _flash(page), _flash(page)
    assert "handed over" in page and f'action="/mailroom/post/letters/{letter_id}/delivered"' in page
    with session_scope(ctx.db_url) as s:
        letter = s.get(OutboundLetter, letter_id)
        row = s.get(WorkItem, item.id)
        assert letter.state == "posted" and letter.registered_number == "RR 123456789 PL"
        assert letter.dispatched_at == at_local.astimezone(UTC)
        assert row.dispatched_at == at_local.astimezone(UTC)  # PL: posting stops the statutory clock
        assert s.get(PostBatch, batch_id).state == "handed_over"
    # the return receipt's date
    page = _follow(web, web.post(f"/mailroom/post/letters/{letter_id}/delivered",
                                 data={"csrf_token": csrf, "on": datetime.now(WAW).date().isoformat()}))
    assert "The delivery is recorded." in _flash(page), _flash(page)
    with session_scope(ctx.db_url) as s:
        assert s.get(OutboundLetter, letter_id).state == "delivered"


def test_a_supervisor_approves_a_four_eyes_reply_but_not_their_own(web: TestClient, ctx: Context) -> None:
    item = _complaint(ctx, category="legal")
    csrf = sign_in(web, "anna")
    _follow(web, web.post(f"/agent/items/{item.id}/claim", data={"csrf_token": csrf}))
    page = _follow(web, web.post(f"/agent/items/{item.id}/letters/new", data={"csrf_token": csrf, "kind": "reply"}))
    (letter,) = [x for x in _letters(ctx, item.id) if x.kind == "reply"]
    assert letter.needs_approval
    assert "waiting for approval" in page
    assert f'formaction="/agent/letters/{letter.id}/send"' not in page  # no Send until approved
    page = _follow(web, web.post(f"/agent/letters/{letter.id}/send", data=_form(letter, csrf)))
    assert "waits for a supervisor&#39;s approval (four eyes)" in _flash(page)
    web.post("/logout", data={"csrf_token": csrf})
    # a supervisor writes one too, and may not approve their own
    other = _complaint(ctx, category="legal")
    csrf = sign_in(web, "boss")
    _follow(web, web.post(f"/agent/items/{other.id}/letters/new", data={"csrf_token": csrf, "kind": "reply"}))
    (own,) = [x for x in _letters(ctx, other.id) if x.kind == "reply"]
    page = web.get("/supervisor/approvals").text
    assert f'data-letter="{letter.id}"' in page and f'data-letter="{own.id}"' in page
    assert letter.subject in page and '<dd class="author">anna</dd>' in page
    assert f'href="/agent/letters/{letter.id}/preview.pdf"' in page
    assert web.get(f"/agent/letters/{letter.id}/preview.pdf").headers["content-type"] == "application/pdf"
    page = _follow(web, web.post(f"/supervisor/approvals/{own.id}", data={"csrf_token": csrf}))
    assert "another supervisor must approve it" in _flash(page)
    page = _follow(web, web.post(f"/supervisor/approvals/{letter.id}", data={"csrf_token": csrf}))
    assert "Approved" in _flash(page) and f'data-letter="{letter.id}"' not in page
    with session_scope(ctx.db_url) as s:
        assert s.get(OutboundLetter, letter.id).approved_by == "boss"
        assert s.get(OutboundLetter, own.id).state == "draft"
    web.post("/logout", data={"csrf_token": csrf})
    csrf = sign_in(web, "anna")
    page = web.get(f"/agent/items/{item.id}").text
    assert f'formaction="/agent/letters/{letter.id}/send"' in page and "approved by boss" in page


def test_the_case_timeline_and_who_may_open_each_page(web: TestClient, ctx: Context) -> None:
    csrf = sign_in(web, "anna")
    item, letter_id = _post_reply(web, ctx, csrf)
    assert item.case_id is not None
    case = f"/cases/{item.case_id}"
    page = web.get(case).text
    assert 'data-kind="letter_in"' in page and 'data-kind="letter_out"' in page
    assert f'href="/api/replies/{letter_id}/preview.pdf"' in page and "/auditor/documents/" not in page
    pages = {case: {"anna", "boss", "audit"}, "/supervisor/approvals": {"boss"}, "/mailroom/post": {"scan", "boss"},
             f"/agent/items/{item.id}": {"anna", "boss"}}
    web.post("/logout", data={"csrf_token": csrf})
    for user in ("anna", "boss", "scan", "audit", "zoe"):
        csrf = sign_in(web, user)
        for url, allowed in pages.items():
            status = web.get(url).status_code
            assert status == (200 if user in allowed else 404), (user, url, status)
        if user == "audit":
            page = web.get(case).text
            with session_scope(ctx.db_url) as s:
                doc_id = s.get(WorkItem, item.id).document_id  # type: ignore[union-attr]
            assert f'href="/auditor/documents/{doc_id}"' in page
            assert f'href="/cases/{item.case_id}"' in web.get(f"/auditor/documents/{doc_id}").text
        web.post("/logout", data={"csrf_token": csrf})
    for url in pages:
        r = web.get(url)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), url
    assert web.get("/cases/999999", auth=None).status_code == 303


def test_a_polish_user_reads_the_pages_in_polish(web: TestClient, ctx: Context) -> None:
    with session_scope(ctx.db_url) as s:
        for name in ("anna", "scan", "boss"):
            s.scalars(select(User).where(User.username == name)).one().language = "pl"
    csrf = sign_in(web, "anna")
    item, _letter = _post_reply_pl(web, ctx, csrf)
    page = web.get(f"/agent/items/{item.id}").text
    assert "Rozpocznij odpowiedź" in page and "Podgląd PDF" in page and "w kolejce" in page
    assert "Start a reply" not in page
    web.post("/logout", data={"csrf_token": csrf})
    csrf = sign_in(web, "scan")
    page = web.get("/mailroom/post").text
    assert "Zbuduj dzisiejszą partię" in page and "Build today's batch" not in page
    web.post("/logout", data={"csrf_token": csrf})
    sign_in(web, "boss")
    assert "Odpowiedzi czekające na zatwierdzenie" in web.get("/supervisor/approvals").text


def _post_reply_pl(web: TestClient, ctx: Context, csrf: str) -> tuple[WorkItem, str]:
    item = _complaint(ctx)
    _follow(web, web.post(f"/agent/items/{item.id}/claim", data={"csrf_token": csrf}))
    page = _follow(web, web.post(f"/agent/items/{item.id}/letters/new", data={"csrf_token": csrf, "kind": "reply"}))
    assert "Szkic jest gotowy" in _flash(page), _flash(page)
    (letter,) = [x for x in _letters(ctx, item.id) if x.kind == "reply"]
    page = _follow(web, web.post(f"/agent/letters/{letter.id}/send", data=_form(letter, csrf, channel="post")))
    assert "Odpowiedzi nie można jeszcze wysłać; brakuje w niej:" in _flash(page), _flash(page)
    (letter,) = [x for x in _letters(ctx, item.id) if x.kind == "reply"]
    page = _follow(web, web.post(f"/agent/letters/{letter.id}/send", data=_form(
        letter, csrf, decision="accepted", employee_position="Specjalista")))
    assert "List czeka na najbliższą partię poczty." in _flash(page), _flash(page)
    return item, letter.id


def test_an_email_reply_the_relay_refuses_shows_as_bounced_on_the_item(
        web: TestClient, ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILROOM_ALLOW_PRIVATE_HOSTS", "127.0.0.1")
    item = _complaint(ctx)
    csrf = sign_in(web, "anna")
    _follow(web, web.post(f"/agent/items/{item.id}/claim", data={"csrf_token": csrf}))
    _follow(web, web.post(f"/agent/items/{item.id}/letters/new", data={"csrf_token": csrf, "kind": "reply"}))
    (letter,) = [x for x in _letters(ctx, item.id) if x.kind == "reply"]
    with relay(answer_code=550) as r:
        ctx.outbound.smtp_url = r.url
        page = _follow(web, web.post(f"/agent/letters/{letter.id}/send", data=_form(
            letter, csrf, decision="accepted", employee_position="Specjalista ds. reklamacji")))
    assert "The relay refused the e-mail" in _flash(page), _flash(page)
    assert 'role="alert"><strong>Not delivered:</strong>' in page and "bounced" in page
    with session_scope(ctx.db_url) as s:
        assert s.get(OutboundLetter, letter.id).state == "bounced"
        assert "reply_bounced" in s.get(WorkItem, item.id).flags  # type: ignore[union-attr]


def test_the_item_page_names_its_flags_in_words(web: TestClient, ctx: Context) -> None:
    """A follow-up letter or a bounced reply is said on the item, in the reader's language, not only coloured."""
    item = _complaint(ctx)
    with session_scope(ctx.db_url) as s:
        s.get(WorkItem, item.id).flags = ["new_letter", "reply_bounced"]
        s.scalars(select(User).where(User.username == "anna")).one().language = "pl"
    sign_in(web, "anna")
    page = web.get(f"/agent/items/{item.id}").text
    assert 'class="flag flag-new_letter"' in page and 'class="flag flag-reply_bounced"' in page
    assert "nowe pismo od klienta" in page and "our e-mail bounced" not in page  # in Polish
