"""Answering the customer (issue 17), end to end through intake and the pipeline, against a real SMTP relay
(aiosmtpd): acknowledgements by policy, replies from templates with the required content, four eyes, the
fixed Message-ID and a crash between the relay's 250 and the commit, post batches and hand-over, the clock
stop per jurisdiction, bounces, extensions, registration, and the customer's answer joining the case."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from zoneinfo import ZoneInfo

import pdfplumber
import pytest
from sqlalchemy import select

from channels.receive import receive
from ground.errors import Conflict, InvalidRequest
from pipeline.context import Context
from pipeline.runner import run_inline
from queues import work
from replies import service
from storage.db import session_scope
from storage.models import AuditEvent, Customer, Document, OutboundLetter, WorkItem, WorkItemState
from tests.queue_support import make_item
from tests.support.smtp_relay import relay

WAW = ZoneInfo("Europe/Warsaw")
ACCEPTED = {"decision": "accepted", "employee_position": "Specjalista ds. reklamacji"}  # a complete PL answer
COMPLAINT = ("Dzień dobry,\n\nskładam reklamację faktury FV/2026/11/004512 za usługi telekomunikacyjne. "
             "Nr klienta MR-1234567. Naliczono opłatę za usługę, której nie zamawiałem. Proszę o korektę faktury "
             "i zwrot nadpłaty.\n\nZ poważaniem\nJan Kowalski")


@pytest.fixture
def private_relay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILROOM_ALLOW_PRIVATE_HOSTS", "127.0.0.1")


def _mail(body: str, *, subject: str = "Reklamacja", msgid: str | None = None, in_reply_to: str | None = None,
          sender: str = "jan.kowalski@example.pl", when: datetime | None = None) -> tuple[bytes, str]:
    msg = EmailMessage()
    msg["From"] = f"Jan Kowalski <{sender}>"
    msg["To"] = "reklamacje@telewave.example"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when or datetime.now(UTC))
    msg["Message-ID"] = msgid or make_msgid(domain="example.pl")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    return msg.as_bytes(), str(msg["Message-ID"])


def _arrive(ctx: Context, raw: bytes, name: str = "mail.eml", now: datetime | None = None) -> WorkItem:
    got = receive(ctx, raw, name, now or datetime.now(UTC))
    (doc_id,) = run_inline(ctx, got.envelope_id)
    with session_scope(ctx.db_url) as s:
        item = s.scalars(select(WorkItem).where(WorkItem.document_id == doc_id)).one()
        s.expunge(item)
        return item


def _customer(ctx: Context) -> None:
    with session_scope(ctx.db_url) as s:
        s.add(Customer(id="MR-1234567", name="Jan Kowalski", email="jan.kowalski@example.pl", language="pl",
                       address=["ul. Długa 5 m. 3", "00-950 Warszawa"]))


def _claim(ctx: Context, item_id: int, agent: str = "anna") -> None:
    with session_scope(ctx.db_url) as s:
        work.claim(s, item_id, agent, datetime.now(UTC))


def _queued_reply(ctx: Context) -> tuple[WorkItem, str]:
    """A Polish complaint by e-mail, claimed by anna, with a complete answer queued for the relay."""
    raw, _ = _mail(COMPLAINT)
    item = _arrive(ctx, raw)
    _claim(ctx, item.id)
    now = datetime.now(UTC)
    with session_scope(ctx.db_url) as s:
        letter = service.create_draft(s, item.id, "anna", now, ctx.outbound, fields=ACCEPTED)
        service.submit(s, letter.id, "anna", now, ctx.outbound)
        return item, letter.id


def _parsed(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def _header(msg: EmailMessage, name: str) -> str:
    return str(msg[name] or "").strip()  # the parser keeps the space after the colon of some headers


def test_email_complaint_is_acknowledged_then_answered_and_the_clock_stops_at_the_relay(
        ctx: Context, private_relay: None) -> None:
    _customer(ctx)
    raw, customer_msgid = _mail(COMPLAINT)
    item = _arrive(ctx, raw)
    with session_scope(ctx.db_url) as s:
        doc = s.get(Document, item.document_id)
        assert (doc.language, doc.category) == ("pl", "complaint"), (doc.language, doc.category)
        (ack,) = service.letters_of_item(s, item.id)
        assert (ack.kind, ack.channel, ack.state) == ("acknowledgement", "email", "queued")
    with relay() as r:
        ctx.outbound.smtp_url = r.url
        assert service.deliver_pending(ctx.db_url, ctx.outbound, datetime.now(UTC)) == 1
        (got,) = r.messages
    msg = _parsed(got.raw)
    reference = ctx.reply_policy.format_reference(item.case_id)
    assert _header(msg, "In-Reply-To") == customer_msgid and customer_msgid in _header(msg, "References")
    assert msg["Content-Language"] == "pl" and reference in str(msg["Subject"])
    assert got.rcpt_tos == ("jan.kowalski@example.pl",)
    text = msg.get_body(("plain",)).get_content()
    with session_scope(ctx.db_url) as s:
        row = s.get(WorkItem, item.id)
        due_local = row.statutory_due.astimezone(WAW)
        month = {12: "grudnia", 1: "stycznia"}[due_local.month]  # the genitive, as a Polish date is written
        assert f"{due_local.day} {month} {due_local.year}" in text, text
        assert row.acknowledged_at is not None and row.first_response_at == row.acknowledged_at
        assert row.dispatched_at is None  # an acknowledgement is not the answer: the statutory clock runs on
    # the agent answers: the template is filled, sending is refused until the required content is there
    _claim(ctx, item.id)
    now = datetime.now(UTC)
    with session_scope(ctx.db_url) as s:
        draft = service.create_draft(s, item.id, "anna", now, ctx.outbound)
        assert (draft.channel, draft.kind, draft.language) == ("email", "reply", "pl")
        assert "FV/2026/11/004512" in draft.body and reference in draft.subject
        letter_id = draft.id
    with session_scope(ctx.db_url) as s, pytest.raises(InvalidRequest) as refused:
        service.submit(s, letter_id, "anna", now, ctx.outbound)
    assert "the decision" in refused.value.reason and "position" in refused.value.reason
    with session_scope(ctx.db_url) as s:
        service.update_draft(s, letter_id, "anna", now, ctx.outbound, fields={
            "decision": "rejected", "reasons": "Usługa została zamówiona 3 listopada przez serwis klienta.",
            "employee_position": "Specjalista ds. reklamacji"})
    with session_scope(ctx.db_url) as s:
        letter = service.get_letter(s, letter_id)  # nobody had edited the text: it followed the fields
        assert "Uzasadnienie: Usługa została zamówiona 3 listopada" in letter.body
        assert "Decyzja: reklamacja nie została uwzględniona." in letter.body  # in the letter's language
        cut = letter.body.replace("Uzasadnienie: Usługa została zamówiona 3 listopada przez serwis klienta.", "")
        service.update_draft(s, letter_id, "anna", now, ctx.outbound, body=cut)
    with session_scope(ctx.db_url) as s, pytest.raises(InvalidRequest) as refused:
        service.submit(s, letter_id, "anna", now, ctx.outbound)
    assert "the reasons for rejecting it" in refused.value.reason  # the reasons left the text
    with session_scope(ctx.db_url) as s:
        service.update_draft(s, letter_id, "anna", now, ctx.outbound, body=cut + "\n\nUzasadnienie: usługa "
                             "została zamówiona 3 listopada przez serwis klienta.")
        assert service.missing_elements(s, service.get_letter(s, letter_id), ctx.outbound) == []
        service.submit(s, letter_id, "anna", now, ctx.outbound)
    with relay() as r:
        ctx.outbound.smtp_url = r.url
        sent = service.deliver_email(ctx.db_url, letter_id, ctx.outbound)
        (got,) = r.messages
    assert sent is not None and sent.state == "sent"
    reply = _parsed(got.raw)
    assert _header(reply, "Message-ID") == sent.message_id and _header(reply, "In-Reply-To") == customer_msgid
    assert "Specjalista ds. reklamacji" in reply.get_body(("plain",)).get_content()
    with session_scope(ctx.db_url) as s:
        row = s.get(WorkItem, item.id)
        letter = service.get_letter(s, letter_id)
        assert row.dispatched_at == letter.dispatched_at  # PL: the clock stops at the relay's acceptance
        assert row.dispatch["letter_id"] == letter_id and row.dispatch["channel"] == "email"
        work.complete(s, item.id, "anna", datetime.now(UTC) + timedelta(minutes=5))
    with session_scope(ctx.db_url) as s:
        assert s.get(WorkItem, item.id).dispatched_at == letter.dispatched_at  # Complete does not move it


def test_a_crash_between_the_relays_answer_and_the_commit_resends_the_same_message(
        ctx: Context, private_relay: None) -> None:
    item, letter_id = _queued_reply(ctx)

    class Crash(Exception):
        pass

    def crash() -> None:
        raise Crash

    with relay() as r:
        ctx.outbound.smtp_url = r.url
        with pytest.raises(Crash):
            service.deliver_email(ctx.db_url, letter_id, ctx.outbound, after_send=crash)
        with session_scope(ctx.db_url) as s:
            assert service.get_letter(s, letter_id).state == "queued"  # the 250 was never committed
            assert s.get(WorkItem, item.id).dispatched_at is None
        again = service.deliver_email(ctx.db_url, letter_id, ctx.outbound)
        assert again is not None and again.state == "sent"
        assert service.deliver_email(ctx.db_url, letter_id, ctx.outbound) is None  # sent: never a third time
        first, second = (_parsed(m.raw) for m in r.messages)
    assert len(r.messages) == 2 and _header(first, "Message-ID") == _header(second, "Message-ID") == again.message_id
    with session_scope(ctx.db_url) as s:
        resent = s.scalars(select(AuditEvent).where(AuditEvent.action == "outbound.resent")).all()
        assert [e.detail["attempt"] for e in resent] == [2]


def test_relay_down_keeps_the_letter_queued_and_a_refusal_bounces_it_back_to_the_agent(
        ctx: Context, private_relay: None) -> None:
    item, letter_id = _queued_reply(ctx)
    with relay(answer_code=451) as r:
        ctx.outbound.smtp_url = r.url
        busy = service.deliver_email(ctx.db_url, letter_id, ctx.outbound)
    assert busy is not None and busy.state == "queued" and "451" in (busy.error or "")
    with relay(answer_code=550) as r:
        ctx.outbound.smtp_url = r.url
        refused = service.deliver_email(ctx.db_url, letter_id, ctx.outbound)
    assert refused is not None and refused.state == "bounced"
    with session_scope(ctx.db_url) as s:
        row = s.get(WorkItem, item.id)
        assert "reply_bounced" in row.flags and row.dispatched_at is None


def test_letter_by_post_is_printed_in_the_batch_and_the_hand_over_stops_the_clock(ctx: Context) -> None:
    _customer(ctx)
    at = datetime(2026, 11, 23, 9, 0, tzinfo=WAW)
    with session_scope(ctx.db_url) as s:
        item = make_item(s, ctx.rules, ctx.policies, at, category="complaint", channel="paper",
                         text=COMPLAINT + "\nProszę o odpowiedź listownie.",
                         entities={"customer_id": ["MR-1234567"], "invoice_no": ["FV/2026/11/004512"]})
        item.document.customer_id = "MR-1234567"
        item_id = item.id
    _claim(ctx, item_id)
    now = datetime.now(UTC)
    with session_scope(ctx.db_url) as s:
        letter = service.create_draft(s, item_id, "anna", now, ctx.outbound, fields={
            "decision": "accepted", "employee_position": "Specjalista ds. reklamacji",
            "compensation_due": "no"})
        assert letter.channel == "post"  # the customer asked for a letter
        assert letter.address == ["Jan Kowalski", "ul. Długa 5 m. 3", "00-950 Warszawa"]
        service.submit(s, letter.id, "anna", now, ctx.outbound, registered=True)
        letter_id = letter.id
        pdf = ctx.blobs.get(service.get_letter(s, letter_id).sha256)
    with pdfplumber.open(__import__("io").BytesIO(pdf)) as doc:
        text = doc.pages[0].extract_text()
    assert "ul. Długa 5 m. 3" in text and ctx.reply_policy.format_reference(item.case_id) in text
    with session_scope(ctx.db_url) as s:
        batch = service.create_batch(s, "mailroom", now, ctx.outbound, "pl")
        assert batch is not None and batch.letters == 1
        batch_id = batch.id
        assert service.create_batch(s, "mailroom", now, ctx.outbound, "pl") is None  # nothing else waits
    handed = now - timedelta(minutes=30)
    with session_scope(ctx.db_url) as s, pytest.raises(InvalidRequest, match="registered number"):
        service.hand_over(s, batch_id, "mailroom", handed, now, ctx.outbound)
    with session_scope(ctx.db_url) as s:
        service.hand_over(s, batch_id, "mailroom", handed, now, ctx.outbound, {letter_id: "RR123456789PL"})
    with session_scope(ctx.db_url) as s:
        letter = service.get_letter(s, letter_id)
        assert (letter.state, letter.registered_number) == ("posted", "RR123456789PL")
        row = s.get(WorkItem, item_id)
        assert row.dispatched_at == handed and row.dispatch["tracking_number"] == "RR123456789PL"
        with pytest.raises(Conflict):
            service.hand_over(s, batch_id, "mailroom", now, now, ctx.outbound)


def test_czech_letter_stops_the_clock_only_on_proven_delivery(ctx: Context) -> None:
    at = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Europe/Prague"))
    with session_scope(ctx.db_url) as s:
        item = make_item(s, ctx.rules, ctx.policies, at, category="complaint", language="cs", channel="paper",
                         text="Reklamace faktury. Odpovězte prosím poštou.")
        item_id = item.id
    _claim(ctx, item_id)
    now = datetime.now(UTC)
    with session_scope(ctx.db_url) as s:
        letter = service.create_draft(s, item_id, "anna", now, ctx.outbound,
                                      address=["Petr Novák", "Dlouhá 12", "110 00 Praha 1"])
        assert letter.language == "cs" and "Vyřízení reklamace" in letter.subject
        service.submit(s, letter.id, "anna", now, ctx.outbound)
        letter_id = letter.id
        batch = service.create_batch(s, "mailroom", now, ctx.outbound, "cs")
        service.hand_over(s, batch.id, "mailroom", now - timedelta(hours=2), now, ctx.outbound)
    with session_scope(ctx.db_url) as s:
        assert s.get(WorkItem, item_id).dispatched_at is None  # posted is not enough in CZ
        delivered = now - timedelta(minutes=10)
        with pytest.raises(InvalidRequest):
            service.record_delivery(s, letter_id, "mailroom", now + timedelta(days=1), now, ctx.outbound)
        service.record_delivery(s, letter_id, "mailroom", delivered, now, ctx.outbound)
    with session_scope(ctx.db_url) as s:
        assert s.get(WorkItem, item_id).dispatched_at == delivered


def test_four_eyes_reply_waits_for_a_second_person(ctx: Context) -> None:
    at = datetime(2026, 11, 23, 9, 0, tzinfo=WAW)
    with session_scope(ctx.db_url) as s:
        item = make_item(s, ctx.rules, ctx.policies, at, category="legal", channel="email",
                         text="Wezwanie przedsądowe do zapłaty.")
        item_id = item.id
    _claim(ctx, item_id)
    now = datetime.now(UTC)
    with session_scope(ctx.db_url) as s:
        letter = service.create_draft(s, item_id, "anna", now, ctx.outbound, channel="post",
                                      address=["Kancelaria X", "ul. Sądowa 1", "00-001 Warszawa"])
        assert letter.needs_approval
        letter_id = letter.id
        with pytest.raises(Conflict, match="approval"):
            service.submit(s, letter_id, "anna", now, ctx.outbound)
        with pytest.raises(Conflict, match="four eyes"):
            service.approve(s, letter_id, "anna", now)
        service.approve(s, letter_id, "szef", now)
        service.update_draft(s, letter_id, "anna", now, ctx.outbound, body=letter.body + "\nPS.")
        assert service.get_letter(s, letter_id).state == "draft"  # the approval was for the old text
        with pytest.raises(Conflict, match="approval"):
            service.submit(s, letter_id, "anna", now, ctx.outbound)
        service.approve(s, letter_id, "szef", now)
        assert service.submit(s, letter_id, "anna", now, ctx.outbound).state == "queued"


def test_extension_notice_moves_the_statutory_deadline_to_the_extended_period(ctx: Context) -> None:
    at = datetime(2026, 11, 23, 9, 0, tzinfo=WAW)
    with session_scope(ctx.db_url) as s:
        item = make_item(s, ctx.rules, ctx.policies, at, category="gdpr_request", channel="paper",
                         text="Żądanie dostępu do danych osobowych (art. 15 RODO).")
        item_id, before = item.id, item.statutory_due
    assert before.astimezone(WAW).date() == datetime(2026, 12, 23).date()  # one month
    _claim(ctx, item_id)
    now = datetime.now(UTC)
    with session_scope(ctx.db_url) as s:
        letter = service.create_draft(s, item_id, "anna", now, ctx.outbound, kind="extension",
                                      address=["Jan Kowalski", "ul. Długa 5", "00-950 Warszawa"])
        assert "23 lutego 2027" in letter.body, letter.body  # three months from receipt, in Polish
        service.submit(s, letter.id, "anna", now, ctx.outbound)
        batch = service.create_batch(s, "mailroom", now, ctx.outbound, "pl")
        service.hand_over(s, batch.id, "mailroom", now, now, ctx.outbound)
    with session_scope(ctx.db_url) as s:
        row = s.get(WorkItem, item_id)
        assert row.extended_at == now and row.dispatched_at is None
        assert row.statutory_due.astimezone(WAW).date() == datetime(2027, 2, 23).date()


def test_a_paper_complaint_without_a_known_address_is_flagged_for_a_written_acknowledgement(ctx: Context) -> None:
    at = datetime(2026, 11, 23, 9, 0, tzinfo=WAW)
    with session_scope(ctx.db_url) as s:
        item = make_item(s, ctx.rules, ctx.policies, at, category="complaint", channel="paper", text=COMPLAINT)
        assert service.acknowledge_routed(s, item, at, ctx.outbound) is None  # nobody to write to yet
        assert "acknowledgement_due" in item.flags and service.letters_of_item(s, item.id) == []
    _customer(ctx)
    with session_scope(ctx.db_url) as s:
        known = make_item(s, ctx.rules, ctx.policies, at, category="complaint", channel="paper",
                          text="Reklamacja usługi internetu: od tygodnia brak połączenia, proszę o obniżkę abonamentu.")
        known.document.customer_id = "MR-1234567"
        ack = service.acknowledge_routed(s, known, at, ctx.outbound)
        assert ack is not None and (ack.channel, ack.state) == ("post", "queued")  # the next post batch
        assert ack.address == ["Jan Kowalski", "ul. Długa 5 m. 3", "00-950 Warszawa"]
        assert "acknowledgement_due" not in known.flags


@pytest.mark.parametrize("header, sender", [("Auto-Submitted: auto-replied", "jan.kowalski@example.pl"),
                                            ("Precedence: bulk", "jan.kowalski@example.pl"),
                                            ("List-Id: <klienci.example.pl>", "jan.kowalski@example.pl"),
                                            ("X-Nothing: 1", "noreply@example.pl")])
def test_no_automatic_acknowledgement_to_machines_or_lists(ctx: Context, header: str, sender: str) -> None:
    """RFC 3834: an out-of-office answer, bulk mail, a list or a system address gets no acknowledgement (a mail
    loop otherwise); the same complaint from a person does (the positive control)."""
    raw, _ = _mail(COMPLAINT, sender=sender)
    item = _arrive(ctx, raw.replace(b"Subject:", header.encode() + b"\nSubject:", 1))
    person, _ = _mail("Reklamacja: od tygodnia nie działa internet, technik nie przyszedł na wizytę. "
                      "Proszę o obniżenie abonamentu za ten okres.", sender="anna.nowak@example.pl")
    control = _arrive(ctx, person, "person.eml")
    with session_scope(ctx.db_url) as s:
        assert service.letters_of_item(s, item.id) == []
        skipped = s.scalars(select(AuditEvent).where(AuditEvent.action == "outbound.acknowledgement_skipped")).one()
        assert skipped.work_item_id == item.id
        assert control.case_id != item.case_id  # another matter: it gets its own acknowledgement
        assert [x.kind for x in service.letters_of_item(s, control.id)] == ["acknowledgement"]


def test_russian_clock_counts_from_registration(ctx: Context) -> None:
    at = datetime(2026, 11, 20, 17, 0, tzinfo=ZoneInfo("Europe/Moscow"))  # Friday evening
    registered = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Moscow"))  # routed on Monday
    with session_scope(ctx.db_url) as s:
        item = make_item(s, ctx.rules, ctx.policies, at, category="complaint", language="ru", channel="paper",
                         text="Претензия по счёту.", now=registered)
        assert item.registered_at == registered
        due = item.statutory_due.astimezone(ZoneInfo("Europe/Moscow"))
    assert due.date() == datetime(2026, 12, 23).date()  # 30 days from the registration, not from receipt


def test_the_customers_answer_to_our_letter_joins_the_case(ctx: Context, private_relay: None) -> None:
    raw, _ = _mail(COMPLAINT)
    item = _arrive(ctx, raw)
    with session_scope(ctx.db_url) as s:
        (ack,) = service.letters_of_item(s, item.id)
        ack_msgid = ack.message_id
    answer, _ = _mail("Dziękuję, przesyłam brakujący numer umowy: 12/2026.", subject="Re: potwierdzenie",
                      in_reply_to=ack_msgid)
    follow = _arrive(ctx, answer, "answer.eml")
    assert follow.case_id == item.case_id and follow.state == WorkItemState.DONE
    ref = ctx.reply_policy.format_reference(item.case_id)
    by_reference, _ = _mail(f"W nawiązaniu do sprawy {ref} przesyłam skan umowy.", subject=f"Sprawa {ref}",
                            sender="inny@example.com")
    third = _arrive(ctx, by_reference, "ref.eml")
    assert third.case_id == item.case_id
    with session_scope(ctx.db_url) as s:
        why = [e.detail["why"] for e in s.scalars(select(AuditEvent).where(
            AuditEvent.action == "work_item.attached_to_case").order_by(AuditEvent.id))]
    assert why[0] == f"reply to e-mail {ack_msgid}" and why[1] == f"case reference {ref}"


def test_bounce_of_our_reply_reopens_the_item_for_its_agent(ctx: Context, private_relay: None) -> None:
    item, letter_id = _queued_reply(ctx)
    with relay() as r:
        ctx.outbound.smtp_url = r.url
        sent = service.deliver_email(ctx.db_url, letter_id, ctx.outbound)
    with session_scope(ctx.db_url) as s:
        work.complete(s, item.id, "anna", datetime.now(UTC))
    dsn = _dsn(sent.message_id, "jan.kowalski@example.pl")
    got = receive(ctx, dsn, "bounce.eml", datetime.now(UTC))
    run_inline(ctx, got.envelope_id)
    with session_scope(ctx.db_url) as s:
        letter = s.get(OutboundLetter, letter_id)
        row = s.get(WorkItem, item.id)
        assert letter.state == "bounced"
        assert row.state == WorkItemState.NEW and "reply_bounced" in row.flags and row.dispatched_at is None


def _dsn(original_msgid: str, recipient: str) -> bytes:
    """A delivery-status report as Postfix writes one (RFC 3464)."""
    boundary = "B0UND"
    return (f"From: MAILER-DAEMON@relay.example (Mail Delivery System)\r\nTo: reklamacje@telewave.example\r\n"
            f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@relay.example>\r\n"
            f"Date: {format_datetime(datetime.now(UTC))}\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/report; report-type=delivery-status; boundary=\"{boundary}\"\r\n\r\n"
            f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message "
            f"could not be delivered.\r\n\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
            f"Reporting-MTA: dns; relay.example\r\n\r\nFinal-Recipient: rfc822; {recipient}\r\nAction: failed\r\n"
            f"Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
            f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: reklamacje@telewave.example\r\n"
            f"To: {recipient}\r\nSubject: Odpowiedz\r\nMessage-ID: {original_msgid}\r\n\r\n--{boundary}--\r\n"
            ).encode()


def test_request_to_complete_holds_the_item_until_the_customers_answer_brings_it_back(
        ctx: Context, private_relay: None) -> None:
    raw, _ = _mail(COMPLAINT)
    item = _arrive(ctx, raw)
    _claim(ctx, item.id)
    now = datetime.now(UTC)
    with session_scope(ctx.db_url) as s:
        before = s.get(WorkItem, item.id).statutory_due
        letter = service.create_draft(s, item.id, "anna", now, ctx.outbound, kind="request_to_complete")
        assert ctx.reply_policy.format_reference(item.case_id) in letter.body
        service.submit(s, letter.id, "anna", now, ctx.outbound)
        assert s.get(WorkItem, item.id).state == WorkItemState.ON_HOLD  # waiting for the customer
        request_msgid = service.get_letter(s, letter.id).message_id
    with relay() as r:
        ctx.outbound.smtp_url = r.url
        service.deliver_pending(ctx.db_url, ctx.outbound, datetime.now(UTC))
        assert {_header(_parsed(m.raw), "Message-ID") for m in r.messages} >= {request_msgid}
    answer, _ = _mail("Uzupełniam reklamację: numer umowy 12/2026, okres rozliczeniowy listopad.",
                      subject="Re: uzupełnienie", in_reply_to=request_msgid)
    _arrive(ctx, answer, "answer.eml")
    with session_scope(ctx.db_url) as s:
        row = s.get(WorkItem, item.id)
        assert (row.state, row.assignee) == (WorkItemState.CLAIMED, "anna")  # back with its agent
        assert row.statutory_due == before  # the original filing date still counts


@pytest.mark.parametrize("text, wanted", [
    ("Proszę o odpowiedź listownie.", "post"),
    ("Kontakt: e-mail jan@x.pl. Proszę o odpowiedź.", None),  # an address given is not a request
    ("Proszę o odpowiedź mailem.", "email"),
    ("Odpovězte prosím poštou na mou adresu.", "post"),
    ("Odpovězte prosím elektronicky.", "email"),
    ("Ответ прошу направить по почте.", "post"),
    ("Ответ прошу прислать по электронной почте.", "email"),
    ("E-mail: jan@x.pl. Please answer in writing, by post.", "post"),
])
def test_the_channel_a_letter_asks_for(text: str, wanted: str | None) -> None:
    assert service.requested_channel(text) == wanted
