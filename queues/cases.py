"""Cases across channels: the same matter sent by letter, fax and e-mail is one case with one
statutory clock, started at the earliest receipt.

Design: every routed work item belongs to a case. A new document joins an existing case when,
within ``WINDOW`` of that case's first receipt and while the case's primary item is still open,
it is an e-mail replying to (In-Reply-To / References) a message of that case or one of our letters
of that case, or it quotes the case reference of our letters (replies.yaml ``reference``), or
it names the same customer number *and* the same invoice number, or its text is near-identical
(Jaccard similarity of word 3-gram shingles >= ``SIMILARITY``, same language) and it names no
other customer or invoice number than the case. The later copy
keeps its own work item (one per document, as everywhere), linked to the case and closed at once
with outcome ``duplicate_of_case``; the agent works the primary item and sees the copies through
the case. If the copy was received earlier than the case's first receipt (documents processed out
of order), the case's clock moves back and the primary item's deadlines are recomputed.
"""

from __future__ import annotations

import re
import zlib
from datetime import datetime, timedelta

import regex
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ground.errors import InvalidRequest, NotFound
from queues import work
from queues.sla import SlaPolicies
from queues.work import OPEN, emit, sla_values
from storage.audit import record
from storage.models import Case, Document, Envelope, OutboundLetter, WorkItem, WorkItemState

WINDOW = timedelta(days=60)
SIMILARITY = 0.7
MAX_CANDIDATES = 500
FOLLOW_UP_PRIORITY = 10  # a follow-up letter raises the open item of its case by this much
_WORD = regex.compile(r"\w+")


def shingles(text: str, k: int = 3, cap: int = 4000) -> list[int]:
    """Hashes of the word k-grams of ``text`` (case, punctuation and layout ignored)."""
    words = _WORD.findall(text.lower())
    if len(words) < k:
        return sorted({zlib.crc32(" ".join(words).encode())}) if words else []
    grams = {zlib.crc32(" ".join(words[i:i + k]).encode()) for i in range(len(words) - k + 1)}
    return sorted(grams)[:cap]


def similarity(a: list[int], b: list[int]) -> float:
    sa, sb = set(a), set(b)
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / len(sa | sb)


def _first(doc: Document, name: str) -> str | None:
    values = (doc.entities or {}).get(name) or []
    return str(values[0]) if values else None


def _open_primary(session: Session, case: Case) -> bool:
    if case.primary_item_id is None:
        return False
    primary = session.get(WorkItem, case.primary_item_id)
    return primary is not None and primary.state in OPEN


def _replied_case(session: Session, doc: Document, reference: re.Pattern[str] | None = None) -> tuple[Case, str] | None:
    """The open case this letter answers: by In-Reply-To, then References (newest first), matched against the
    customers' own e-mails and our letters to them (an acknowledgement, a request to complete); then by the
    case reference (``reference``, replies.yaml) in the subject or the text."""
    mail = (doc.envelope.meta or {}).get("email") or {}
    ids = [i for i in [mail.get("in_reply_to"), *reversed(mail.get("references") or [])] if i]
    for message_id in dict.fromkeys(ids):
        q = (select(Case).join(WorkItem, WorkItem.case_id == Case.id).join(Document)
             .join(Envelope, Envelope.id == Document.envelope_id)
             .where(Envelope.message_id == message_id).order_by(Case.id).limit(1))
        case = session.scalars(q).first()
        if case is None:
            ours = select(OutboundLetter.case_id).where(OutboundLetter.message_id == message_id).limit(1)
            case_id = session.scalar(ours)
            case = session.get(Case, case_id) if case_id is not None else None
        if case is not None and _open_primary(session, case):
            return case, f"reply to e-mail {message_id}"
    if reference is not None:
        for where in (str(mail.get("subject") or ""), (doc.text or "")[:20_000]):
            for match in reference.finditer(where):
                case = session.get(Case, int(match.group(1)))
                if case is not None and _open_primary(session, case):
                    return case, f"case reference {match.group(0)}"
    return None


def find_case(session: Session, doc: Document, received_at: datetime, grams: list[int],
              reference: re.Pattern[str] | None = None) -> tuple[Case, str] | None:
    """The open case this document belongs to, and why; None when it starts a new matter."""
    replied = _replied_case(session, doc, reference)
    if replied is not None:
        return replied
    since = received_at - WINDOW
    cust, inv = _first(doc, "customer_id"), _first(doc, "invoice_no")
    if cust and inv:
        for case in session.scalars(select(Case).where(Case.customer_id == cust, Case.invoice_no == inv,
                                                       Case.created_at >= since).order_by(Case.id)):
            if _open_primary(session, case):
                return case, f"same customer {cust} and invoice {inv}"
    if len(grams) >= 5:
        q = (select(Case).where(Case.created_at >= since, Case.language == doc.language)
             .order_by(Case.id.desc()).limit(MAX_CANDIDATES))
        for case in session.scalars(q):
            if (cust and case.customer_id and cust != case.customer_id) or (
                    inv and case.invoice_no and inv != case.invoice_no):
                continue  # similar wording (a template), but another customer or invoice: another matter
            score = similarity(grams, case.shingles)
            if score >= SIMILARITY and _open_primary(session, case):
                return case, f"near-identical text (similarity {score:.2f})"
    return None


def link_case(session: Session, item: WorkItem, policies: SlaPolicies, now: datetime,
              reference: re.Pattern[str] | None = None) -> Case:
    """Put a freshly routed item (flushed, same transaction) into its case; see the module doc."""
    doc = item.document
    received = doc.envelope.received_at
    grams = shingles(doc.text or "")
    found = find_case(session, doc, received, grams, reference)
    if found is None:
        case = Case(customer_id=_first(doc, "customer_id"), invoice_no=_first(doc, "invoice_no"),
                    language=doc.language, category=doc.category, shingles=grams, first_received_at=received,
                    primary_item_id=item.id, created_at=now)
        session.add(case)
        session.flush()
        item.case_id = case.id
        for k, v in sla_values(session, item, policies, now).items():
            setattr(item, k, v)
        session.flush()
        emit(session, "item.new", item, now)
        return case
    case, why = found
    item.case_id = case.id
    item.state, item.outcome = WorkItemState.DONE, "duplicate_of_case"
    item.flags = ["duplicate_of_case"]
    for k, v in sla_values(session, item, policies, now).items():
        setattr(item, k, v)
    record(session, "system", "work_item.attached_to_case", document_id=doc.id, work_item_id=item.id,
           detail={"case_id": case.id, "primary_item_id": case.primary_item_id, "why": why})
    primary = session.get(WorkItem, case.primary_item_id) if case.primary_item_id else None
    if received < case.first_received_at:
        case.first_received_at = received
        if primary is not None and primary.dispatched_at is None:
            before = primary.statutory_due
            for k, v in sla_values(session, primary, policies, now).items():
                setattr(primary, k, v)
            primary.version += 1
            record(session, "system", "sla.case_clock_moved", work_item_id=primary.id,
                   document_id=primary.document_id,
                   detail={"case_id": case.id, "first_received_at": received.isoformat(),
                           "statutory_due_before": before.isoformat() if before else None,
                           "statutory_due": primary.statutory_due.isoformat() if primary.statutory_due else None})
    session.flush()
    if primary is not None and primary.state in OPEN:  # visible on the item, and it moves up in the queue
        primary = work.transition(session, primary.id, OPEN, "system", "follow_up", now,
                                  detail={"document_id": doc.id, "work_item_id": item.id, "why": why},
                                  flags=sorted({*primary.flags, "new_letter"}),
                                  priority=primary.priority + FOLLOW_UP_PRIORITY)
    if primary is not None and primary.state == WorkItemState.ON_HOLD:
        # the customer answered (a completed complaint, the contract number asked for): the item comes back to
        # its agent at once; the statutory clock never paused and keeps the original filing date
        primary = work.resume(session, primary.id, "system", now, policies)
    if primary is not None:
        emit(session, "case.copy", primary, now, recipient=primary.assignee, copy_item_id=item.id,
             copy_document_id=doc.id, why=why)
    return case


def routed(session: Session, item: WorkItem, policies: SlaPolicies, now: datetime,
           reference: re.Pattern[str] | None = None) -> None:
    """Hook of ``pipeline.runner.run_route``: registration (the start of RU's statutory clock), case linking,
    both SLA clocks, live notification. ``reference`` finds the case reference of our letters in an answer."""
    item.registered_at = now
    link_case(session, item, policies, now, reference)


# ---------------------------------------------------------------- merge and split by hand


def _retime(session: Session, case: Case, policies: SlaPolicies, actor: str, now: datetime, action: str) -> None:
    """The case's first receipt from its letters, and the clocks of its open, undispatched items from it."""
    items = list(session.scalars(select(WorkItem).where(WorkItem.case_id == case.id)))
    received = [i.document.envelope.received_at for i in items]
    if received:
        case.first_received_at = min(received)
    session.flush()
    for item in items:
        if item.state in OPEN and item.dispatched_at is None:
            work.transition(session, item.id, OPEN, actor, action, now, detail={"case_id": case.id},
                            **sla_values(session, item, policies, now))


def merge_cases(session: Session, into_id: int, from_id: int, actor: str, now: datetime, reason: str,
                policies: SlaPolicies) -> Case:
    """Two cases are one matter: the letters of ``from_id`` join ``into_id``, whose statutory clock then runs
    from the earliest receipt of all of them; ``from_id`` is left empty. Audited with the reason."""
    if not reason.strip():
        raise InvalidRequest("say why the cases are one matter (the reason goes into the audit trail)")
    if into_id == from_id:
        raise InvalidRequest("a case cannot be merged into itself")
    into, other = session.get(Case, into_id), session.get(Case, from_id)
    if into is None or other is None:
        raise NotFound(f"case {into_id if into is None else from_id} does not exist")
    moved = list(session.scalars(select(WorkItem.id).where(WorkItem.case_id == from_id)))
    session.execute(update(WorkItem).where(WorkItem.case_id == from_id).values(case_id=into_id)
                    .execution_options(synchronize_session="fetch"))
    session.execute(update(OutboundLetter).where(OutboundLetter.case_id == from_id).values(case_id=into_id)
                    .execution_options(synchronize_session="fetch"))
    other.primary_item_id = None
    record(session, actor, "case.merged", detail={"into": into_id, "from": from_id, "work_items": moved,
                                                  "reason": reason[:500]})
    _retime(session, into, policies, actor, now, "case_merged")
    return into


def split_case(session: Session, case_id: int, item_ids: list[int], actor: str, now: datetime, reason: str,
               policies: SlaPolicies) -> Case:
    """Some letters of a case are another matter: they become a new case with its own clock from their
    earliest receipt. A letter that had been closed as a copy of the case (``duplicate_of_case``) is open
    again: it is its own matter now. Audited with the reason."""
    if not reason.strip():
        raise InvalidRequest("say why these letters are another matter (the reason goes into the audit trail)")
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} does not exist")
    items = list(session.scalars(select(WorkItem).where(WorkItem.id.in_(item_ids))))
    if not items or len(items) != len(set(item_ids)) or any(i.case_id != case_id for i in items):
        raise InvalidRequest(f"give work items of case {case_id} to split off")
    staying = session.scalar(select(func.count()).select_from(WorkItem).where(
        WorkItem.case_id == case_id, WorkItem.id.not_in(item_ids))) or 0
    if staying == 0:
        raise InvalidRequest("at least one letter must stay in the case")
    first = min(items, key=lambda i: (i.document.envelope.received_at, i.id))
    new = Case(customer_id=case.customer_id, invoice_no=case.invoice_no, language=first.document.language,
               category=first.document.category, shingles=shingles(first.document.text or ""),
               first_received_at=first.document.envelope.received_at, primary_item_id=first.id, created_at=now)
    session.add(new)
    session.flush()
    for item in items:
        reopen = item.state == WorkItemState.DONE and item.outcome == "duplicate_of_case"
        values: dict[str, object] = {"case_id": new.id}
        if reopen:
            values.update(state=WorkItemState.NEW, outcome=None,
                          flags=[f for f in item.flags if f != "duplicate_of_case"])
        work.transition(session, item.id, (*OPEN, WorkItemState.DONE), actor, "case_split", now,
                        detail={"from_case": case_id, "to_case": new.id, "reopened": reopen}, **values)
        if reopen:
            emit(session, "item.new", item, now, actor=actor)
    session.execute(update(OutboundLetter).where(OutboundLetter.work_item_id.in_(item_ids))
                    .values(case_id=new.id).execution_options(synchronize_session="fetch"))
    if case.primary_item_id in item_ids:
        case.primary_item_id = session.scalar(select(WorkItem.id).where(WorkItem.case_id == case_id)
                                              .order_by(WorkItem.id).limit(1))
    record(session, actor, "case.split", detail={"from": case_id, "to": new.id, "work_items": sorted(item_ids),
                                                 "reason": reason[:500]})
    _retime(session, case, policies, actor, now, "case_split")
    _retime(session, new, policies, actor, now, "case_split")
    return new
