"""Outbound letters as records (issue 17): drafts from templates, four-eyes approval, the required content,
the sent original in the blob store, e-mail through the relay, letters into the daily post batch, and the
events that stop the statutory clock (``replies.yaml`` ``clock_stops``).

States: draft → (approved) → queued → sent (e-mail: the relay's 250) / posted (the batch handed over) →
delivered, bounced or returned; a draft may be cancelled. Every change is an audit event ``outbound.<state>``.

E-mail is sent outside any transaction: ``submit`` stores the message (a fixed Message-ID) and commits it as
queued; ``deliver_email`` counts the attempt and commits, talks to the relay, then commits "sent". A crash
between the relay's 250 and that commit leaves the letter queued with an attempt counted: the next delivery
sends the same bytes with the same Message-ID (receivers de-duplicate) and records ``outbound.resent``.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ground import i18n
from ground.errors import Conflict, InvalidRequest, MailroomError, NotFound
from intake.hosts import check_host
from queues import work
from queues.sla import SlaPolicies
from replies import email_out
from replies.batch import BatchLetter, build_batch
from replies.letter import Attachment, LetterContent, PostalAddress
from replies.pdf import render_letter
from replies.policy import ReplyPolicy, render_template
from storage.audit import record
from storage.blobs import BlobStore
from storage.db import session_scope
from storage.models import (
    Customer,
    Document,
    OutboundLetter,
    OutboundState,
    PostBatch,
    User,
    WorkItem,
    WorkItemState,
)
from storage.search import fold

log = logging.getLogger(__name__)

KINDS = ("reply", "acknowledgement", "request_to_complete", "extension")
DECISIONS = ("accepted", "partly_accepted", "rejected")
S = OutboundState
EDITABLE = (S.DRAFT, S.APPROVED)
# The customer asks for an answer by post or by e-mail (pl, cs, ru, en); the first named wins.
_WANTS_POST = re.compile(r"(?i)\b(pocztą|listownie|na piśmie|drogą pocztową|poštou|písemně|по почте|почтой|"
                         r"в письменном виде|by post|by mail|in writing)")
_WANTS_EMAIL = re.compile(r"(?i)(\b(e-?)?mailem\b|\bmailowo\b|drogą elektroniczną|na (mój |moj )?adres e-?mail|"
                          r"elektronicky|e-?mailem|по электронной почте|на (мою )?электронную почту|"
                          r"\b(by|via) e-?mail\b)")  # asks for it: not any mention of an e-mail address
_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(\.[\w-]+)+")


@dataclass
class Outbound:
    """What the outbound functions need: the policies, the blob store and the relay."""

    policy: ReplyPolicy
    sla: SlaPolicies
    blobs: BlobStore
    smtp_url: str = ""
    smtp_timeout: float = 30.0
    check_host: email_out.HostCheck = check_host  # the relay's address is vetted like every outbound connection


# ---------------------------------------------------------------- reading


def get_letter(session: Session, letter_id: str) -> OutboundLetter:
    letter = session.get(OutboundLetter, letter_id)
    if letter is None:
        raise NotFound(f"outbound letter {letter_id} does not exist")
    return letter


def letters_of_item(session: Session, item_id: int) -> list[OutboundLetter]:
    return list(session.scalars(select(OutboundLetter).where(OutboundLetter.work_item_id == item_id)
                                .order_by(OutboundLetter.created_at, OutboundLetter.id)))


def search_letters(session: Session, words: str, *, kind: str | None = None, channel: str | None = None,
                   since: datetime | None = None, until: datetime | None = None,
                   limit: int = 50) -> list[OutboundLetter]:
    """Letters that left (queued or later) with every word of ``words`` in their reference, subject or text
    (case and diacritics folded), newest first: the archive's view of what was sent."""
    terms = fold(words).split()
    if not terms:
        raise InvalidRequest("give at least one word to look for")
    q = select(OutboundLetter).where(OutboundLetter.state.not_in([S.DRAFT, S.APPROVED, S.CANCELLED]))
    for term in terms[:10]:
        q = q.where(OutboundLetter.folded.contains(term, autoescape=True))
    if kind:
        q = q.where(OutboundLetter.kind == kind)
    if channel:
        q = q.where(OutboundLetter.channel == channel)
    if since:
        q = q.where(OutboundLetter.created_at >= since)
    if until:
        q = q.where(OutboundLetter.created_at < until)
    return list(session.scalars(q.order_by(OutboundLetter.created_at.desc(), OutboundLetter.id).limit(limit)))


def letters_of_case(session: Session, case_id: int) -> list[OutboundLetter]:
    return list(session.scalars(select(OutboundLetter).where(OutboundLetter.case_id == case_id)
                                .order_by(OutboundLetter.created_at, OutboundLetter.id)))


def reference_of(item: WorkItem, policy: ReplyPolicy) -> str:
    return policy.format_reference(item.case_id if item.case_id is not None else item.id)


def requested_channel(text: str) -> str | None:
    """``post`` or ``email`` when the letter asks to be answered that way (the first named), else None."""
    post, mail = _WANTS_POST.search(text or ""), _WANTS_EMAIL.search(text or "")
    if post and (not mail or post.start() < mail.start()):
        return "post"
    return "email" if mail else None


# ---------------------------------------------------------------- drafts


def _customer(session: Session, doc: Document) -> Customer | None:
    return session.get(Customer, doc.customer_id) if doc.customer_id else None


def _reply_address(doc: Document) -> str | None:
    mail = (doc.envelope.meta or {}).get("email") or {}
    found = _EMAIL.search(str(mail.get("reply_to") or mail.get("from") or ""))
    return found.group(0).lower() if found else None


_MACHINES = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?)([+-].*)?@", re.IGNORECASE)


def _automatic(doc: Document) -> str | None:
    """Why an e-mail must get no automatic answer (RFC 3834), or None: it was itself sent automatically, it
    came from a mailing list or bulk mail, or from a system address."""
    mail = (doc.envelope.meta or {}).get("email") or {}
    auto = str(mail.get("auto_submitted") or "").strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto[:40]}"
    if str(mail.get("precedence") or "").strip().lower() in ("bulk", "list", "junk"):
        return f"Precedence: {mail['precedence']}"
    if str(mail.get("list_id") or "").strip():
        return "a mailing list (List-Id)"
    sender = _EMAIL.search(str(mail.get("from") or ""))
    if sender and _MACHINES.match(sender.group(0)):
        return f"a system address ({sender.group(0)[:80]})"
    return None


def _first_entity(doc: Document, name: str) -> str:
    values = (doc.entities or {}).get(name) or []
    return str(values[0]) if values else ""


def _display_name(session: Session, username: str) -> str:
    user = session.scalars(select(User).where(User.username == username)).first()
    return (user.display_name or user.username) if user is not None else username


def letter_zone(out: Outbound, language: str) -> str:
    """The time zone of the jurisdiction a letter in ``language`` belongs to (its dates are local there)."""
    return out.sla.calendar(out.sla.jurisdictions[out.sla.jurisdiction_for(language)].calendar).tz


def _local_date(value: datetime | date | None, language: str, zone: str) -> str:
    """A date as a letter writes it: long form in the letter's language (``6 stycznia 2027``), local to ``zone``."""
    if value is None:
        return ""
    day = value.astimezone(ZoneInfo(zone)).date() if isinstance(value, datetime) else value
    return babel_dates.format_date(day, format="long", locale=language)


def placeholders(session: Session, item: WorkItem, out: Outbound, language: str, fields: dict[str, Any],
                 zone: str, now: datetime) -> dict[str, Any]:
    """The values a template may use: from the letter, its case, the customer record and the reply's fields."""
    doc = item.document
    customer = _customer(session, doc)
    spec = out.policy.sender_for(item.queue)
    zone = zone or letter_zone(out, language)
    due = item.statutory_due or item.sla_due
    decision = str(fields.get("decision") or "")
    with i18n.use(language, zone):
        decision_text = {"accepted": i18n.pgettext("decision", "the complaint is accepted"),
                         "partly_accepted": i18n.pgettext("decision", "the complaint is accepted in part"),
                         "rejected": i18n.pgettext("decision", "the complaint is rejected")}.get(decision, "")
    complete_by = now + timedelta(days=out.policy.complete_within_days)
    extended_due = item.statutory_due
    rule = out.sla.statutory_rule(out.sla.jurisdiction_for(language), doc.category or "other")
    if rule is not None and rule.extended is not None:
        received = doc.envelope.received_at
        extended_due = rule.extended.end(received, out.sla.calendar(
            out.sla.jurisdictions[out.sla.jurisdiction_for(language)].calendar))
    return {
        "reference": reference_of(item, out.policy),
        "customer": {"name": customer.name if customer else "", "id": customer.id if customer else ""},
        "contract_no": _first_entity(doc, "contract_no"),
        "invoice_no": _first_entity(doc, "invoice_no"),
        "filed_on": str(fields.get("filed_on") or _local_date(doc.envelope.received_at, language, zone)),
        "due": _local_date(due, language, zone),
        "unit": str(fields.get("unit") or spec.unit),
        "decision_text": decision_text,
        "reasons": str(fields.get("reasons") or ""),
        "compensation": str(fields.get("compensation") or ""),
        "employee_name": str(fields.get("employee_name") or ""),
        "employee_position": str(fields.get("employee_position") or ""),
        "complete_by": _local_date(complete_by, language, zone),
        "extended_due": _local_date(extended_due, language, zone),
    }


def _holder_check(item: WorkItem, actor: str, system: bool) -> None:
    if system:
        return
    if item.state in (WorkItemState.CLAIMED, WorkItemState.ON_HOLD) and item.assignee not in (None, actor):
        raise Conflict(f"work item {item.id} is held by {item.assignee}; only they write its letters")


def create_draft(session: Session, item_id: int, actor: str, now: datetime, out: Outbound, *,
                 kind: str = "reply", channel: str | None = None, subject: str | None = None,
                 body: str | None = None, fields: dict[str, Any] | None = None, to_email: str | None = None,
                 address: Sequence[str] | None = None, attachments: Sequence[str] = (),
                 language: str | None = None, zone: str = "", system: bool = False) -> OutboundLetter:
    """A draft letter for a work item: from the template of its kind × category × language (placeholders
    filled), or from ``subject``/``body`` as given. The channel is the one the customer asked for, else the
    channel the letter came by (e-mail for e-mail, post otherwise)."""
    if kind not in KINDS:
        raise InvalidRequest(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    item = session.get(WorkItem, item_id)
    if item is None:
        raise NotFound(f"work item {item_id} does not exist")
    _holder_check(item, actor, system)
    doc = item.document
    language = language or (doc.language if doc.language in i18n.LANGUAGES else "en")
    if language not in i18n.LANGUAGES:
        raise InvalidRequest(f"language must be one of {', '.join(i18n.LANGUAGES)}, got {language!r}")
    to = to_email or _reply_address(doc)
    if channel is None:
        channel = requested_channel(doc.text) or ("email" if doc.envelope.channel == "email" and to else "post")
    if channel not in ("email", "post"):
        raise InvalidRequest(f"channel must be email or post, got {channel!r}")
    fields = {**({"employee_name": _display_name(session, actor)} if not system else {}), **(fields or {})}
    spec = out.policy.sender_for(item.queue)
    fields.setdefault("unit", spec.unit)
    fields.setdefault("filed_on", _local_date(doc.envelope.received_at, language, zone or letter_zone(out, language)))
    template = None
    if subject is None or body is None:
        tpl = out.policy.template(kind, doc.category or "other", language)
        filled_subject, filled_body = render_template(tpl, placeholders(session, item, out, language, fields,
                                                                        zone, now))
        subject = filled_subject if subject is None else subject
        body = filled_body if body is None else body
        template = f"{kind}.{doc.category or 'default'}.{language}"
    customer = _customer(session, doc)
    if address is None:
        address = ([customer.name, *customer.address] if customer and customer.address else [])
    mail = (doc.envelope.meta or {}).get("email") or {}
    letter = OutboundLetter(
        id=str(uuid.uuid4()), work_item_id=item.id, case_id=item.case_id, kind=kind, channel=channel,
        state=S.DRAFT, language=language, template=template, subject=subject[:300], body=body, fields=fields,
        to_email=to, address=[str(a) for a in address if str(a).strip()],
        attachments=[_attachment_ref(session, item, a) for a in attachments],
        needs_approval=kind == "reply" and out.policy.needs_approval(doc.category or "other"),
        in_reply_to=doc.envelope.message_id if doc.envelope.channel == "email" else None,
        references=[*(mail.get("references") or [])[-10:], *([doc.envelope.message_id]
                                                              if doc.envelope.message_id else [])],
        created_by=actor, created_at=now, updated_at=now)
    session.add(letter)
    session.flush()
    _event(session, letter, actor, "draft", {"template": template, "channel": channel})
    return letter


def _attachment_ref(session: Session, item: WorkItem, document_id: str) -> dict[str, str]:
    """An attachment from the case: one of its documents (its original part)."""
    doc = session.get(Document, document_id)
    if doc is None:
        raise InvalidRequest(f"document {document_id} does not exist")
    owner = doc.work_item
    if owner is None or not (owner.id == item.id or (item.case_id is not None and owner.case_id == item.case_id)):
        raise InvalidRequest(f"document {document_id} is not a letter of this case")
    return {"document_id": doc.id, "sha256": doc.part_sha256, "name": doc.part_name or f"{doc.id}.pdf"}


def update_draft(session: Session, letter_id: str, actor: str, now: datetime, out: Outbound, *,
                 expected_version: int | None = None, **changes: Any) -> OutboundLetter:
    """Change a draft (subject, body, fields, channel, to_email, address, attachments, registered). Editing an approved
    letter sends it back to draft: the approval was for the old text."""
    letter = get_letter(session, letter_id)
    if letter.state not in EDITABLE:
        raise Conflict(f"letter {letter_id} is {letter.state}; only a draft can be changed")
    if expected_version is not None and letter.version != expected_version:
        raise Conflict(f"letter {letter_id} was changed by someone else; reload and try again")
    item = session.get(WorkItem, letter.work_item_id)
    assert item is not None
    _holder_check(item, actor, False)
    allowed = {"subject", "body", "fields", "channel", "to_email", "address", "attachments", "registered"}
    follows = "fields" in changes and "body" not in changes  # an unedited text may follow the new fields
    untouched = _template_text(session, letter, item, out, letter.fields, now) if follows else None
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidRequest(f"cannot change {', '.join(sorted(unknown))}; use some of {', '.join(sorted(allowed))}")
    if changes.get("channel") not in (None, "email", "post"):
        raise InvalidRequest(f"channel must be email or post, got {changes['channel']!r}")
    for key, value in changes.items():
        if value is None:
            continue
        if key == "attachments":
            value = [_attachment_ref(session, item, a) for a in value]
        elif key == "address":
            value = [str(a) for a in value if str(a).strip()]
        elif key == "fields":
            value = {**letter.fields, **value}
        elif key == "subject":
            value = str(value)[:300]
        elif key == "registered":
            value = bool(value)
        setattr(letter, key, value)
    if untouched is not None and (letter.subject, letter.body) == untouched:  # nobody edited the text
        letter.subject, letter.body = _template_text(session, letter, item, out, letter.fields, now) or untouched
    was_approved = letter.state == S.APPROVED
    letter.state, letter.approved_by = S.DRAFT, None
    letter.version += 1
    letter.updated_at = now
    _event(session, letter, actor, "edited", {"changed": sorted(changes), "approval_withdrawn": was_approved})
    return letter


def _template_text(session: Session, letter: OutboundLetter, item: WorkItem, out: Outbound,
                   fields: dict[str, Any], now: datetime) -> tuple[str, str] | None:
    """Subject and body of the letter's template with ``fields``; None for a letter written without one."""
    if not letter.template:
        return None
    tpl = out.policy.template(letter.kind, item.document.category or "other", letter.language)
    return render_template(tpl, placeholders(session, item, out, letter.language, fields, "", now))


def approve(session: Session, letter_id: str, actor: str, now: datetime) -> OutboundLetter:
    """Four eyes: a supervisor other than its author approves a draft that needs it."""
    letter = get_letter(session, letter_id)
    if letter.state != S.DRAFT:
        raise Conflict(f"letter {letter_id} is {letter.state}; only a draft can be approved")
    if actor == letter.created_by:
        raise Conflict("the author of a letter cannot approve it: four eyes means a second person")
    letter.state, letter.approved_by, letter.updated_at = S.APPROVED, actor, now
    letter.version += 1
    _event(session, letter, actor, "approved", {})
    return letter


def cancel(session: Session, letter_id: str, actor: str, now: datetime) -> OutboundLetter:
    letter = get_letter(session, letter_id)
    if letter.state not in EDITABLE:
        raise Conflict(f"letter {letter_id} is {letter.state}; only a draft can be cancelled")
    letter.state, letter.updated_at = S.CANCELLED, now
    letter.version += 1
    _event(session, letter, actor, "cancelled", {})
    return letter


# ---------------------------------------------------------------- content and sending


def missing_elements(session: Session, letter: OutboundLetter, out: Outbound) -> list[str]:
    """The labels of the required elements the letter lacks (replies.yaml ``required``)."""
    if letter.kind != "reply":
        return []
    item = session.get(WorkItem, letter.work_item_id)
    assert item is not None
    doc = item.document
    jurisdiction = out.sla.jurisdiction_for(doc.language or "und")
    return [e.label for e in out.policy.missing(jurisdiction, doc.category or "other", letter.fields,
                                                letter.body, letter.language)]


def content_of(session: Session, letter: OutboundLetter, out: Outbound, today: date) -> LetterContent:
    item = session.get(WorkItem, letter.work_item_id)
    assert item is not None
    spec = out.policy.sender_for(item.queue)
    attachments = tuple(Attachment(a["name"], "application/octet-stream", out.blobs.get(a["sha256"]))
                        for a in letter.attachments)
    signature = tuple(str(letter.fields.get(k) or "") for k in ("employee_name", "employee_position")
                      if str(letter.fields.get(k) or "").strip())
    return LetterContent(language=letter.language, sender=spec.sender(), recipient=PostalAddress(
        tuple(letter.address)), reference=reference_of(item, out.policy), letter_date=today, place=spec.place,
        subject=letter.subject, body=letter.body, signature=signature, registered=letter.registered,
        attachments=attachments)


def preview_pdf(session: Session, letter_id: str, out: Outbound, today: date) -> bytes:
    """The letter as it would be printed (for e-mail too: what the customer would read)."""
    letter = get_letter(session, letter_id)
    return render_letter(content_of(session, letter, out, today))


def submit(session: Session, letter_id: str, actor: str, now: datetime, out: Outbound, *,
           registered: bool | None = None, system: bool = False) -> OutboundLetter:
    """Check the letter, make its original (the e-mail as it will be sent, or the PDF as it will be printed),
    store it, and queue it: an e-mail for the relay (``deliver_email``), a letter for the next post batch.
    A request to complete puts the item on hold for the customer's answer."""
    letter = get_letter(session, letter_id)
    if letter.state not in EDITABLE:
        raise Conflict(f"letter {letter_id} is {letter.state}; it was already sent or cancelled")
    if letter.needs_approval and letter.state != S.APPROVED:
        raise Conflict(f"letter {letter_id} needs a supervisor's approval before it is sent (four eyes)")
    item = session.get(WorkItem, letter.work_item_id)
    assert item is not None
    _holder_check(item, actor, system)
    missing = missing_elements(session, letter, out)
    if missing:
        raise InvalidRequest("the reply lacks what it must contain: " + "; ".join(missing))
    if not letter.body.strip():
        raise InvalidRequest("the letter has no text")
    today = now.astimezone(ZoneInfo(letter_zone(out, letter.language))).date()
    if letter.channel == "email":
        if not letter.to_email or not _EMAIL.fullmatch(letter.to_email):
            raise InvalidRequest("the e-mail address of the customer is missing or not valid; type it in")
        spec = out.policy.sender_for(item.queue)
        if not spec.email:
            raise InvalidRequest(f"replies.yaml gives no e-mail address for the sender of queue {item.queue}")
        letter.message_id = email_out.message_id_for(letter.id, out.policy.message_id_domain)
        content = content_of(session, letter, out, today)
        raw = email_out.build_message(content, to=letter.to_email, message_id=letter.message_id,
                                      in_reply_to=letter.in_reply_to, references=list(letter.references),
                                      date=now, auto=system)
        letter.sha256 = out.blobs.put(raw)
    else:
        if len(letter.address) < 2:
            raise InvalidRequest("a letter by post needs the customer's postal address (name and at least one "
                                 "address line)")
        if registered is not None:
            letter.registered = registered
        letter.sha256 = out.blobs.put(render_letter(content_of(session, letter, out, today)))
    letter.folded = fold(f"{reference_of(item, out.policy)} {letter.subject} {letter.body}")  # the archive finds it
    letter.state, letter.updated_at = S.QUEUED, now
    letter.version += 1
    _event(session, letter, actor, "queued", {"channel": letter.channel, "sha256": letter.sha256,
                                              "message_id": letter.message_id})
    if letter.kind == "request_to_complete" and item.state == WorkItemState.CLAIMED:
        work.hold(session, item.id, item.assignee or actor, now,
                  reason=f"request to complete sent; the customer has {out.policy.complete_within_days} days")
    return letter


def deliver_email(db_url: str, letter_id: str, out: Outbound, *, clock: Callable[[], datetime] | None = None,
                  after_send: Callable[[], None] | None = None) -> OutboundLetter | None:
    """Send one queued e-mail letter through the relay; the result is committed in a second transaction.
    ``after_send`` runs between the relay's answer and that commit (tests: a crash there)."""
    now = (clock or (lambda: datetime.now(UTC)))
    with session_scope(db_url) as s:
        letter = get_letter(s, letter_id)
        if letter.state != S.QUEUED or letter.channel != "email":
            return None
        letter.send_attempts += 1
        attempt = letter.send_attempts
        if attempt > 1:  # an earlier attempt may have reached the relay: the same bytes, the same Message-ID
            _event(s, letter, "system", "resent", {"attempt": attempt, "message_id": letter.message_id})
        assert letter.sha256 is not None and letter.to_email is not None
        raw, to = out.blobs.get(letter.sha256), letter.to_email
        item = s.get(WorkItem, letter.work_item_id)
        assert item is not None
        mail_from = out.policy.sender_for(item.queue).email
    try:
        accepted = email_out.send(raw, mail_from=mail_from, rcpt=[to], url=out.smtp_url, timeout=out.smtp_timeout,
                                  check_host=out.check_host)
    except email_out.RelayRefused as exc:
        with session_scope(db_url) as s:
            letter = get_letter(s, letter_id)
            letter.error = exc.reason[:500]
            _bounced(s, letter, now(), out, {"relay": exc.reason}, "system")
            return letter
    except MailroomError as exc:  # unavailable or misconfigured: stays queued, tried again by the scheduler
        with session_scope(db_url) as s:
            letter = get_letter(s, letter_id)
            letter.error = exc.reason[:500]
            _event(s, letter, "system", "send_failed", {"attempt": attempt, "error": exc.reason[:300]})
            return letter
    if after_send is not None:
        after_send()
    with session_scope(db_url) as s:
        letter = get_letter(s, letter_id)
        if letter.state != S.QUEUED:
            return letter
        letter.relay_answer, letter.error = accepted.answer[:500], None
        _dispatched(s, letter, "sent", accepted.at, now(), "system", out, {"relay": accepted.answer[:300]})
        return letter


def deliver_pending(db_url: str, out: Outbound, now: datetime, *, retry_after: timedelta = timedelta(minutes=2),
                    limit: int = 50) -> int:
    """Send queued e-mail letters (the scheduler's round); one whose last attempt is younger than
    ``retry_after`` waits (it may be in flight)."""
    if not out.smtp_url:
        return 0
    with session_scope(db_url) as s:
        ids = list(s.scalars(select(OutboundLetter.id).where(
            OutboundLetter.state == S.QUEUED, OutboundLetter.channel == "email",
            (OutboundLetter.send_attempts == 0) | (OutboundLetter.updated_at < now - retry_after))
            .order_by(OutboundLetter.updated_at).limit(limit)))
    sent = 0
    for letter_id in ids:
        letter = deliver_email(db_url, letter_id, out)
        sent += letter is not None and letter.state == S.SENT
    return sent


# ---------------------------------------------------------------- post batches


def create_batch(session: Session, actor: str, now: datetime, out: Outbound, language: str) -> PostBatch | None:
    """Gather every queued letter by post into a new batch: one PDF to print and the posting list."""
    letters = list(session.scalars(select(OutboundLetter).where(
        OutboundLetter.state == S.QUEUED, OutboundLetter.channel == "post", OutboundLetter.batch_id.is_(None))
        .order_by(OutboundLetter.created_at, OutboundLetter.id)))
    if not letters:
        return None
    items = {i.id: i for i in session.scalars(select(WorkItem).where(
        WorkItem.id.in_([letter.work_item_id for letter in letters])))}
    made = build_batch([BatchLetter(reference=reference_of(items[letter.work_item_id], out.policy),
                                    pdf=out.blobs.get(letter.sha256 or ""),
                                    recipient=PostalAddress(tuple(letter.address)), registered=letter.registered,
                                    registered_number=letter.registered_number) for letter in letters],
                       language=language, batch_date=now.date(), title=out.policy.senders["default"].name)
    batch = PostBatch(state="printed", created_by=actor, created_at=now, letters=len(letters),
                      print_sha256=out.blobs.put(made.print_pdf), list_sha256=out.blobs.put(made.posting_list_pdf))
    session.add(batch)
    session.flush()
    for letter in letters:
        letter.batch_id, letter.updated_at = batch.id, now
        letter.version += 1
        _event(session, letter, actor, "batched", {"batch_id": batch.id})
    record(session, actor, "post_batch.printed", detail={"batch_id": batch.id, "letters": len(letters)})
    return batch


def set_registered_number(session: Session, letter_id: str, number: str, actor: str, now: datetime) -> OutboundLetter:
    letter = get_letter(session, letter_id)
    number = number.strip()
    if not number or len(number) > 64:
        raise InvalidRequest("a registered number has 1 to 64 characters")
    if letter.channel != "post" or letter.state not in (S.QUEUED, S.POSTED):
        raise Conflict(f"letter {letter_id} is not a letter by post waiting for or in the post")
    letter.registered_number, letter.registered, letter.updated_at = number, True, now
    letter.version += 1
    _event(session, letter, actor, "registered_number", {"number": number})
    return letter


def hand_over(session: Session, batch_id: int, actor: str, at: datetime, now: datetime, out: Outbound,
              numbers: dict[str, str] | None = None) -> PostBatch:
    """The mailroom handed the batch to the post at ``at``: every letter is posted then, which stops the
    statutory clocks that stop at posting (PL, RU)."""
    batch = session.get(PostBatch, batch_id)
    if batch is None:
        raise NotFound(f"post batch {batch_id} does not exist")
    if batch.state == "handed_over":
        raise Conflict(f"post batch {batch_id} was handed over at {batch.handed_over_at}")
    if at > now:
        raise InvalidRequest("the hand-over time is in the future")
    letters = list(session.scalars(select(OutboundLetter).where(OutboundLetter.batch_id == batch_id)))
    strangers = sorted(set(numbers or {}) - {letter.id for letter in letters})
    if strangers:
        raise InvalidRequest(f"letters {', '.join(strangers[:5])} are not in post batch {batch_id}")
    for letter_id, number in (numbers or {}).items():
        if number.strip():
            set_registered_number(session, letter_id, number, actor, now)
    missing = [letter.id for letter in letters if letter.registered and not letter.registered_number]
    if missing:
        raise InvalidRequest(f"{len(missing)} registered letters have no registered number yet; type or scan "
                             "them in before the hand-over")
    batch.state, batch.handed_over_at, batch.handed_over_by = "handed_over", at, actor
    for letter in letters:
        if letter.state == S.QUEUED:
            _dispatched(session, letter, "posted", at, now, actor, out, {"batch_id": batch_id})
    record(session, actor, "post_batch.handed_over", detail={"batch_id": batch_id, "at": at.isoformat(),
                                                             "letters": len(letters)})
    return batch


def record_delivery(session: Session, letter_id: str, actor: str, at: datetime, now: datetime, out: Outbound, *,
                    source: str = "return receipt") -> OutboundLetter:
    """Delivery proven (the return-receipt date, the carrier's tracking): stops the clocks that need it (CZ)."""
    letter = get_letter(session, letter_id)
    if letter.state not in (S.SENT, S.POSTED):
        raise Conflict(f"letter {letter_id} is {letter.state}; only a sent or posted letter can be delivered")
    if at > now or (letter.dispatched_at is not None and at < letter.dispatched_at):
        raise InvalidRequest("the delivery date must lie between the dispatch and now")
    letter.state, letter.delivered_at, letter.updated_at = S.DELIVERED, at, now
    letter.version += 1
    _event(session, letter, actor, "delivered", {"at": at.isoformat(), "source": source})
    _stop_clock(session, letter, "delivered", at, now, actor, out)
    return letter


def record_returned(session: Session, letter_id: str, actor: str, now: datetime, out: Outbound,
                    reason: str = "") -> OutboundLetter:
    """The post brought the letter back: like a bounce, the item returns to its agent."""
    letter = get_letter(session, letter_id)
    if letter.state != S.POSTED:
        raise Conflict(f"letter {letter_id} is {letter.state}; only a posted letter can come back")
    letter.state, letter.updated_at = S.RETURNED, now
    letter.version += 1
    _event(session, letter, actor, "returned", {"reason": reason})
    _back_to_agent(session, letter, now, out, actor, "reply_returned")
    return letter


def record_bounce(session: Session, message_id: str, now: datetime, out: Outbound,
                  detail: dict[str, Any]) -> OutboundLetter | None:
    """A delivery-status report for one of our e-mails: the letter is bounced and its item returns to its agent."""
    letter = session.scalars(select(OutboundLetter).where(OutboundLetter.message_id == message_id)).first()
    if letter is None or letter.state not in (S.SENT, S.QUEUED, S.DELIVERED):
        return None
    _bounced(session, letter, now, out, detail, "system")
    return letter


def _bounced(session: Session, letter: OutboundLetter, now: datetime, out: Outbound, detail: dict[str, Any],
             actor: str) -> None:
    letter.state, letter.updated_at = S.BOUNCED, now
    letter.version += 1
    _event(session, letter, actor, "bounced", detail)
    _back_to_agent(session, letter, now, out, actor, "reply_bounced")


def _back_to_agent(session: Session, letter: OutboundLetter, now: datetime, out: Outbound, actor: str,
                   flag: str) -> None:
    """The customer did not get the letter: the clock it stopped runs again, and the item is open and
    flagged in front of the agent who wrote it."""
    item = session.get(WorkItem, letter.work_item_id)
    if item is None:
        return
    values: dict[str, object] = {"flags": sorted({*item.flags, flag})}
    if (item.dispatch or {}).get("letter_id") == letter.id:
        values.update(dispatched_at=None, dispatch={})  # the clocks run again, as not dispatched
        values.update(work.sla_values(session, item, out.sla, now, dispatched=False))
    if item.state == WorkItemState.DONE:
        values.update(state=WorkItemState.NEW, assignee=None, claimed_until=None, outcome=None)
    item = work.transition(session, item.id, (*work.OPEN, WorkItemState.DONE), actor, flag, now,
                           detail={"letter_id": letter.id}, **values)
    work.emit(session, "item.new", item, now, actor=actor, recipient=letter.created_by, reason=flag)


def _dispatched(session: Session, letter: OutboundLetter, event: str, at: datetime, now: datetime, actor: str,
                out: Outbound, detail: dict[str, Any]) -> None:
    """The letter left (``sent`` by the relay, ``posted`` with its batch): its state, the first response,
    the acknowledgement, the extension, and the statutory clock where this event stops it."""
    letter.state = S.SENT if event == "sent" else S.POSTED
    letter.dispatched_at, letter.updated_at = at, now
    letter.version += 1
    _event(session, letter, actor, letter.state, {**detail, "at": at.isoformat()})
    item = session.get(WorkItem, letter.work_item_id)
    assert item is not None
    values: dict[str, object] = {}
    if item.first_response_at is None:
        values["first_response_at"] = at
    if letter.kind == "acknowledgement" and item.acknowledged_at is None:
        values["acknowledged_at"] = at
    if letter.kind == "extension" and item.extended_at is None:
        item.extended_at = at  # the longer statutory period applies from now on
        values["extended_at"] = at
        values.update({k: v for k, v in work.sla_values(session, item, out.sla, now).items()
                       if k.startswith("statutory") or k in ("sla_due", "sla_policy", "warn_at")})
    if values:
        work.transition(session, item.id, (*work.OPEN, WorkItemState.DONE), actor, f"letter_{letter.kind}", now,
                        detail={"letter_id": letter.id, "event": event}, **values)
    _stop_clock(session, letter, event, at, now, actor, out)


def _stop_clock(session: Session, letter: OutboundLetter, event: str, at: datetime, now: datetime, actor: str,
                out: Outbound) -> None:
    if letter.kind != "reply":
        return
    item = session.get(WorkItem, letter.work_item_id)
    assert item is not None
    jurisdiction = out.sla.jurisdiction_for(item.document.language or "und")
    if out.policy.stop_event(jurisdiction, letter.channel) != event or item.dispatched_at is not None:
        return
    work.dispatch(session, item.id, actor, now, out.sla, channel=letter.channel, at=at,
                  tracking_number=letter.registered_number, letter_id=letter.id)


def _event(session: Session, letter: OutboundLetter, actor: str, what: str, detail: dict[str, Any]) -> None:
    item = session.get(WorkItem, letter.work_item_id)
    record(session, actor, f"outbound.{what}", document_id=item.document_id if item else None,
           work_item_id=letter.work_item_id,
           detail={"letter_id": letter.id, "kind": letter.kind, "channel": letter.channel, **detail})


# ---------------------------------------------------------------- acknowledgement of receipt


def _acknowledged_before(session: Session, doc: Document) -> bool:
    """Whether a letter of the same arrival that a correction replaced already had its acknowledgement."""
    return session.scalar(
        select(func.count()).select_from(OutboundLetter).join(WorkItem, WorkItem.id == OutboundLetter.work_item_id)
        .join(Document, Document.id == WorkItem.document_id)
        .where(Document.envelope_id == doc.envelope_id, Document.superseded_by.is_not(None),
               OutboundLetter.kind == "acknowledgement", OutboundLetter.state != OutboundState.CANCELLED)) > 0


def acknowledge_routed(session: Session, item: WorkItem, now: datetime, out: Outbound) -> OutboundLetter | None:
    """Right after routing: the acknowledgement the policy asks for (jurisdiction × category × channel),
    queued at once (an e-mail leaves with the next delivery, a printed one with the next post batch). Copies
    closed into an existing case get none: the case was acknowledged."""
    if item.state == WorkItemState.DONE:
        return None
    doc = item.document
    jurisdiction = out.sla.jurisdiction_for(doc.language or "und")
    how = out.policy.acknowledgement(jurisdiction, doc.category or "other", doc.envelope.channel)
    if how is None:
        return None
    if doc.derived and _acknowledged_before(session, doc):  # a mailroom correction re-made the letters
        record(session, "system", "outbound.acknowledgement_skipped", document_id=doc.id, work_item_id=item.id,
               detail={"channel": how, "why": "acknowledged before the mailroom's correction"})
        return None
    machine = _automatic(doc)
    if machine is not None and how == "email":  # RFC 3834: an automatic answer to a machine or a list loops
        record(session, "system", "outbound.acknowledgement_skipped", document_id=doc.id, work_item_id=item.id,
               detail={"channel": how, "why": machine})
        return None
    to = _reply_address(doc)
    customer = _customer(session, doc)
    address = [customer.name, *customer.address] if customer and customer.address else []
    if (how == "email" and not to) or (how == "post" and len(address) < 2):
        # the agent writes it: the item says so (its flag), and the first-response clock keeps running
        item.flags = sorted({*item.flags, "acknowledgement_due"})
        record(session, "system", "outbound.acknowledgement_skipped", document_id=doc.id, work_item_id=item.id,
               detail={"channel": how, "why": "no e-mail address" if how == "email" else "no postal address"})
        return None
    letter = create_draft(session, item.id, "system", now, out, kind="acknowledgement", channel=how,
                          to_email=to, address=address, system=True)
    return submit(session, letter.id, "system", now, out, system=True)
