"""Cases across channels: the same complaint by letter and by fax is one case, one statutory clock
from the earliest receipt; the later copy is linked and closed as a duplicate of the case."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ground.errors import InvalidRequest
from pipeline.context import Context
from queues import work
from queues.cases import shingles, similarity
from storage.db import session_scope
from storage.models import AuditEvent, Case, WorkItem, WorkItemState
from tests.queue_support import make_item

WAW = ZoneInfo("Europe/Warsaw")
LETTER = ("Reklamacja. Nr klienta MR-1234567. Nie zgadzam się z fakturą FV/2026/10/004512 na kwotę 149,99 zł: "
          "naliczono opłatę za usługę, której nie zamawiałem. Proszę o korektę faktury i zwrot nadpłaty "
          "na rachunek bankowy. Z poważaniem, Jan Kowalski")
ENT = {"customer_id": ["MR-1234567"], "invoice_no": ["FV/2026/10/004512"]}


def test_letter_and_fax_a_day_apart_are_one_case_with_the_first_clock(ctx: Context) -> None:
    letter_at = datetime(2026, 11, 23, 9, 0, tzinfo=WAW)
    with session_scope(ctx.db_url) as s:
        first = make_item(s, ctx.rules, ctx.policies, letter_at, category="complaint", text=LETTER, entities=ENT)
        fax = make_item(s, ctx.rules, ctx.policies, letter_at + timedelta(days=1), category="complaint",
                        channel="fax", text="FAX " + LETTER, entities=ENT)
        assert fax.case_id == first.case_id is not None
        assert (fax.state, fax.outcome) == (WorkItemState.DONE, "duplicate_of_case")
        assert first.state == WorkItemState.NEW
        assert fax.statutory_due == first.statutory_due == datetime(2026, 12, 23, 23, 59, 59, tzinfo=WAW)
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "work_item.attached_to_case")).one()
        assert "MR-1234567" in ev.detail["why"] and ev.detail["primary_item_id"] == first.id
        # a different invoice of the same customer is a different matter
        other = make_item(s, ctx.rules, ctx.policies, letter_at + timedelta(days=1), category="complaint",
                          text="Inna sprawa: faktura FV/2026/11/000001 jest zawyżona, proszę o wyjaśnienie.",
                          entities={"customer_id": ["MR-1234567"], "invoice_no": ["FV/2026/11/000001"]})
        assert other.case_id != first.case_id and other.state == WorkItemState.NEW
        assert s.scalar(select(Case).where(Case.id == first.case_id)).primary_item_id == first.id


def test_copy_received_earlier_moves_the_case_clock_back(ctx: Context) -> None:
    fax_at = datetime(2026, 11, 20, 16, 0, tzinfo=WAW)  # the fax came first but is processed second
    with session_scope(ctx.db_url) as s:
        letter = make_item(s, ctx.rules, ctx.policies, fax_at + timedelta(days=1), category="complaint",
                           text=LETTER, entities=ENT)
        assert letter.statutory_due == datetime(2026, 12, 21, 23, 59, 59, tzinfo=WAW)
        fax = make_item(s, ctx.rules, ctx.policies, fax_at, category="complaint", channel="fax", text=LETTER,
                        entities=ENT, now=fax_at + timedelta(days=1, hours=1))
        s.refresh(letter)
        assert fax.case_id == letter.case_id
        assert letter.statutory_due == datetime(2026, 12, 20, 23, 59, 59, tzinfo=WAW)
        assert s.get(Case, letter.case_id).first_received_at == fax_at


def test_near_identical_text_without_entities(ctx: Context) -> None:
    at = datetime(2026, 11, 23, 9, 0, tzinfo=WAW)
    text = LETTER.replace("MR-1234567", "").replace("FV/2026/10/004512", "")
    with session_scope(ctx.db_url) as s:
        a = make_item(s, ctx.rules, ctx.policies, at, category="complaint", text=text)
        b = make_item(s, ctx.rules, ctx.policies, at + timedelta(hours=5), category="complaint", channel="email",
                      text=text.replace("Z poważaniem", "Pozdrawiam"))
        c = make_item(s, ctx.rules, ctx.policies, at + timedelta(hours=6), category="complaint",
                      text="Reklamuję brak internetu od tygodnia; technik nie przyszedł na umówioną wizytę.")
        assert b.case_id == a.case_id and b.outcome == "duplicate_of_case"
        assert c.case_id != a.case_id


def test_dispatch_stops_the_clock_for_the_whole_case(ctx: Context) -> None:
    at = datetime(2026, 11, 23, 9, 0, tzinfo=WAW)
    with session_scope(ctx.db_url) as s:
        first = make_item(s, ctx.rules, ctx.policies, at, category="complaint", text=LETTER, entities=ENT)
        copy = make_item(s, ctx.rules, ctx.policies, at + timedelta(days=1), category="complaint", text=LETTER,
                         entities=ENT, channel="email")
        work.claim(s, first.id, "anna", at + timedelta(days=2))
        work.dispatch(s, first.id, "anna", at + timedelta(days=3), ctx.policies, channel="email")
        for item_id in (first.id, copy.id):
            assert s.get(WorkItem, item_id).dispatched_at == at + timedelta(days=3)


def test_shingle_similarity() -> None:
    assert similarity(shingles(LETTER), shingles(LETTER.upper())) == 1.0
    assert similarity(shingles(LETTER), shingles("zupełnie inny tekst o czymś innym niż faktura")) < 0.1


def test_an_email_reply_joins_the_case_of_the_message_it_answers(ctx: Context) -> None:
    """In-Reply-To links a customer's reply to the open case of the first e-mail, even with other words."""
    from email.message import EmailMessage

    from channels.receive import inline, receive

    first = EmailMessage()
    first["From"], first["Subject"] = "jan@example.pl", "Reklamacja faktury"
    first["Message-ID"] = "<first-123@example.pl>"
    first.set_content("Składam reklamację faktury FV/2026/10/004512 na kwotę 149,99 zł. Proszę o korektę. " * 3)
    reply = EmailMessage()
    reply["From"], reply["Subject"] = "jan@example.pl", "Re: Reklamacja faktury"
    reply["Message-ID"], reply["In-Reply-To"] = "<reply-456@example.pl>", "<first-123@example.pl>"
    reply.set_content("Dzień dobry, w załączeniu przesyłam jeszcze zdjęcie umowy, o które Państwo prosili.")
    t0 = datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Europe/Warsaw"))
    a = receive(ctx, first.as_bytes(), "first.eml", t0, dispatch=inline(ctx))
    b = receive(ctx, reply.as_bytes(), "reply.eml", t0 + timedelta(days=1), dispatch=inline(ctx))
    with session_scope(ctx.db_url) as s:
        items = {i.document.envelope_id: i for i in s.scalars(select(WorkItem))}
        primary, copy = items[a.envelope_id], items[b.envelope_id]
        assert copy.case_id == primary.case_id is not None
        assert copy.state == WorkItemState.DONE and primary.state == WorkItemState.NEW
        why = s.scalars(select(AuditEvent.detail).where(AuditEvent.action == "work_item.attached_to_case")).one()
        assert why["why"].startswith("reply to e-mail") and "first-123@example.pl" in why["why"]


def test_cases_are_merged_and_split_by_hand_with_their_clocks(ctx: Context) -> None:
    """Merge: another case's letters join, the clock runs from the earliest receipt of all. Split: letters that
    are another matter get a new case and clock; a copy closed as duplicate is open again. Both audited."""
    from queues.cases import merge_cases, split_case

    early, late = datetime(2026, 11, 20, 9, 0, tzinfo=WAW), datetime(2026, 11, 25, 9, 0, tzinfo=WAW)
    other = "Zażalenie na technika: nie przyszedł na umówioną wizytę serwisową w sprawie routera, proszę o kontakt."
    with session_scope(ctx.db_url) as s:
        a = make_item(s, ctx.rules, ctx.policies, late, category="complaint", text=LETTER, entities=ENT)
        b = make_item(s, ctx.rules, ctx.policies, early, category="complaint", text=other, now=late)
        assert a.case_id != b.case_id
        a_id, b_id, a_case, b_case = a.id, b.id, a.case_id, b.case_id
        with pytest.raises(InvalidRequest):
            merge_cases(s, a_case, b_case, "anna", late, " ", ctx.policies)
        merge_cases(s, a_case, b_case, "anna", late, "the same complaint, told twice", ctx.policies)
    with session_scope(ctx.db_url) as s:
        a, b = s.get(WorkItem, a_id), s.get(WorkItem, b_id)
        assert a.case_id == b.case_id == a_case and s.get(Case, a_case).first_received_at == early
        assert a.statutory_due == b.statutory_due == datetime(2026, 12, 20, 23, 59, 59, tzinfo=WAW)
        copy = make_item(s, ctx.rules, ctx.policies, late, category="complaint", channel="fax",
                         text="FAX " + LETTER, entities=ENT, now=late)
        assert (copy.case_id, copy.outcome) == (a_case, "duplicate_of_case")
        copy_id = copy.id
        with pytest.raises(InvalidRequest):
            split_case(s, a_case, [a_id, b_id, copy_id], "anna", late, "all of them", ctx.policies)  # none stays
        new = split_case(s, a_case, [b_id, copy_id], "anna", late, "the technician is another matter",
                         ctx.policies)
        new_id = new.id
    with session_scope(ctx.db_url) as s:
        b, copy, a = s.get(WorkItem, b_id), s.get(WorkItem, copy_id), s.get(WorkItem, a_id)
        assert b.case_id == copy.case_id == new_id != a.case_id
        assert (copy.state, copy.outcome) == (WorkItemState.NEW, None)  # its own matter: open again
        assert s.get(Case, a_case).first_received_at == late  # the remaining letter's own receipt
        assert a.statutory_due == datetime(2026, 12, 25, 23, 59, 59, tzinfo=WAW)
        assert b.statutory_due == datetime(2026, 12, 20, 23, 59, 59, tzinfo=WAW)
        actions = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.action.like("case.%")))]
        assert actions == ["case.merged", "case.split"]
