"""Outbound letters API (issue 17): drafts for a work item (from a template or text), edits, four-eyes
approval, sending (e-mail through the relay at once; a letter by post into the next batch), the PDF preview
and the sent original, delivery and return, the daily post batch and its hand-over, the case timeline.
Thin shells over replies/."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from ground.errors import NotFound
from queues import cases
from replies import service
from replies.timeline import Entry, case_timeline
from storage.models import Case, OutboundLetter, PostBatch, Role, User, WorkItem
from web.api_queues import Agent, _all_in_scope, _scoped
from web.deps import CtxDep, SessionDep, require

router = APIRouter()

Mailroom = Annotated[User, require(Role.SCANNER, Role.SUPERVISOR)]
Reader = Annotated[User, require(Role.AGENT, Role.SUPERVISOR, Role.AUDITOR)]
PostReader = Annotated[User, require(Role.SCANNER, Role.SUPERVISOR, Role.AUDITOR)]
Supervisor = Annotated[User, require(Role.SUPERVISOR)]
Archive = Annotated[User, require(Role.SUPERVISOR, Role.AUDITOR)]


class DraftIn(BaseModel):
    kind: Literal["reply", "acknowledgement", "request_to_complete", "extension"] = "reply"
    channel: Literal["email", "post"] | None = Field(default=None, description="default: what the customer asked "
                                                     "for, else e-mail for an e-mail, post otherwise")
    subject: str | None = Field(default=None, max_length=300, description="default: from the template")
    body: str | None = Field(default=None, max_length=50_000, description="default: from the template")
    fields: dict[str, str] = Field(default_factory=dict, description="decision (accepted | partly_accepted | "
                                   "rejected), reasons, compensation, compensation_due (yes), employee_name, "
                                   "employee_position, unit, filed_on")
    to_email: str | None = Field(default=None, max_length=254)
    address: list[str] | None = Field(default=None, max_length=8)
    attachments: list[str] = Field(default_factory=list, max_length=20, description="document ids of the case")
    language: Literal["pl", "cs", "ru", "en"] | None = None


class DraftChange(BaseModel):
    subject: str | None = Field(default=None, max_length=300)
    body: str | None = Field(default=None, max_length=50_000)
    fields: dict[str, str] | None = None
    channel: Literal["email", "post"] | None = None
    to_email: str | None = Field(default=None, max_length=254)
    address: list[str] | None = Field(default=None, max_length=8)
    attachments: list[str] | None = Field(default=None, max_length=20)
    version: int | None = Field(default=None, description="the version you edited (409 when it changed)")


class SendIn(BaseModel):
    registered: bool | None = Field(default=None, description="post: registered mail (a registered number follows)")


class DeliveredIn(BaseModel):
    at: datetime = Field(description="the delivery date, with its UTC offset (return receipt, tracking)")
    source: str = Field(default="return receipt", max_length=100)


class ReturnedIn(BaseModel):
    reason: str = Field(default="", max_length=500)


class HandOverIn(BaseModel):
    at: datetime | None = Field(default=None, description="when the batch was handed to the post (default: now)")
    numbers: dict[str, str] = Field(default_factory=dict, description="letter id → registered number")


class LetterOut(BaseModel):
    id: str
    work_item_id: int
    case_id: int | None
    kind: str
    channel: str
    state: str
    language: str
    subject: str
    body: str
    fields: dict[str, Any]
    to_email: str | None
    address: list[str]
    attachments: list[dict[str, str]]
    needs_approval: bool
    approved_by: str | None
    message_id: str | None
    in_reply_to: str | None
    registered: bool
    registered_number: str | None
    batch_id: int | None
    created_by: str
    created_at: datetime
    dispatched_at: datetime | None
    delivered_at: datetime | None
    send_attempts: int
    error: str | None
    version: int
    missing: list[str] = Field(default_factory=list, description="required elements the reply still lacks")


class BatchOut(BaseModel):
    id: int
    state: str
    letters: int
    created_by: str
    created_at: datetime
    handed_over_at: datetime | None
    handed_over_by: str | None


def _now() -> datetime:
    return datetime.now(UTC)


def _out(session: Session, letter: OutboundLetter, ctx: CtxDep) -> LetterOut:
    missing = service.missing_elements(session, letter, ctx.outbound) if letter.state in service.EDITABLE else []
    return LetterOut.model_validate({c: getattr(letter, c) for c in LetterOut.model_fields if c != "missing"}
                                    | {"missing": missing})


def _letter_scoped(session: Session, user: User, letter_id: str) -> OutboundLetter:
    letter = session.get(OutboundLetter, letter_id)
    if letter is None:
        raise HTTPException(404, "Not found.")
    if user.role == Role.AGENT.value:
        _scoped(session, user, letter.work_item_id)
    return letter


def _aware(at: datetime | None) -> None:
    if at is not None and at.tzinfo is None:
        raise HTTPException(422, "Give the time with its UTC offset, e.g. 2026-11-23T10:00:00+01:00.")


@router.post("/api/work-items/{item_id}/replies", response_model=LetterOut, status_code=201)
def create_reply(item_id: int, body: DraftIn, user: Agent, session: SessionDep, ctx: CtxDep) -> LetterOut:
    """A draft letter for the work item: the template of its kind, category and language with the placeholders
    filled from the letter, the case and the customer record, or the text given."""
    _scoped(session, user, item_id)
    letter = service.create_draft(session, item_id, user.username, _now(), ctx.outbound, kind=body.kind,
                                  channel=body.channel, subject=body.subject, body=body.body, fields=body.fields,
                                  to_email=body.to_email, address=body.address, attachments=body.attachments,
                                  language=body.language)  # dates local to the letter's jurisdiction
    session.commit()
    return _out(session, letter, ctx)


@router.get("/api/work-items/{item_id}/replies", response_model=list[LetterOut])
def list_replies(item_id: int, user: Reader, session: SessionDep, ctx: CtxDep) -> list[LetterOut]:
    """The work item's letters out, oldest first, with their states."""
    if session.get(WorkItem, item_id) is None:
        raise HTTPException(404, "Not found.")
    if user.role == Role.AGENT.value:
        _scoped(session, user, item_id)
    return [_out(session, letter, ctx) for letter in service.letters_of_item(session, item_id)]


@router.get("/api/replies/{letter_id}", response_model=LetterOut)
def get_reply(letter_id: str, user: Reader, session: SessionDep, ctx: CtxDep) -> LetterOut:
    return _out(session, _letter_scoped(session, user, letter_id), ctx)


@router.patch("/api/replies/{letter_id}", response_model=LetterOut)
def change_reply(letter_id: str, body: DraftChange, user: Agent, session: SessionDep, ctx: CtxDep) -> LetterOut:
    """Edit a draft; editing an approved letter withdraws the approval."""
    _letter_scoped(session, user, letter_id)
    changes = body.model_dump(exclude={"version"}, exclude_none=True)
    letter = service.update_draft(session, letter_id, user.username, _now(), ctx.outbound,
                                  expected_version=body.version, **changes)
    session.commit()
    return _out(session, letter, ctx)


@router.post("/api/replies/{letter_id}/approve", response_model=LetterOut)
def approve_reply(letter_id: str, user: Supervisor, session: SessionDep, ctx: CtxDep) -> LetterOut:
    """Four eyes: a supervisor other than the author approves the draft."""
    letter = service.approve(session, letter_id, user.username, _now())
    session.commit()
    return _out(session, letter, ctx)


@router.post("/api/replies/{letter_id}/cancel", response_model=LetterOut)
def cancel_reply(letter_id: str, user: Agent, session: SessionDep, ctx: CtxDep) -> LetterOut:
    _letter_scoped(session, user, letter_id)
    letter = service.cancel(session, letter_id, user.username, _now())
    session.commit()
    return _out(session, letter, ctx)


@router.post("/api/replies/{letter_id}/send", response_model=LetterOut)
def send_reply(letter_id: str, body: SendIn, user: Agent, session: SessionDep, ctx: CtxDep) -> LetterOut:
    """Send: refused (422) when a required element is missing, naming it. An e-mail goes to the relay at
    once (state ``sent`` with the relay's time, or ``queued`` when the relay is unreachable: tried again);
    a letter by post waits for the next post batch (``queued``)."""
    _letter_scoped(session, user, letter_id)
    letter = service.submit(session, letter_id, user.username, _now(), ctx.outbound, registered=body.registered)
    channel = letter.channel
    session.commit()
    if channel == "email" and ctx.settings.smtp_url:
        service.deliver_email(ctx.db_url, letter_id, ctx.outbound)
        session.expire_all()
    return _out(session, service.get_letter(session, letter_id), ctx)


@router.get("/api/replies/{letter_id}/preview.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def preview_reply(letter_id: str, user: Reader, session: SessionDep, ctx: CtxDep) -> Response:
    """The letter as it will be printed (or as the e-mail's text reads), rendered now."""
    letter = _letter_scoped(session, user, letter_id)
    if letter.channel == "post" and letter.sha256 and letter.state not in service.EDITABLE:
        pdf = ctx.blobs.get(letter.sha256)  # what was printed, not a new rendering
    else:
        pdf = service.preview_pdf(session, letter_id, ctx.outbound, _now().date())
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{letter_id}.pdf"'})


@router.get("/api/replies/{letter_id}/original", response_class=Response,
            responses={200: {"content": {"message/rfc822": {}, "application/pdf": {}}}})
def reply_original(letter_id: str, user: Reader, session: SessionDep, ctx: CtxDep) -> Response:
    """The sent original: the raw MIME of an e-mail, or the PDF as printed."""
    letter = _letter_scoped(session, user, letter_id)
    if not letter.sha256:
        raise HTTPException(404, "This letter has not been sent; there is no original yet.")
    email = letter.channel == "email"
    return Response(ctx.blobs.get(letter.sha256), media_type="message/rfc822" if email else "application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{letter_id}.{"eml" if email else "pdf"}"'})


@router.post("/api/replies/{letter_id}/delivered", response_model=LetterOut)
def reply_delivered(letter_id: str, body: DeliveredIn, user: Mailroom, session: SessionDep,
                    ctx: CtxDep) -> LetterOut:
    """The mailroom enters the return-receipt date (or the carrier's delivery): stops the clocks that count
    delivery (CZ)."""
    _aware(body.at)
    letter = service.record_delivery(session, letter_id, user.username, body.at, _now(), ctx.outbound,
                                     source=body.source)
    session.commit()
    return _out(session, letter, ctx)


@router.post("/api/replies/{letter_id}/returned", response_model=LetterOut)
def reply_returned(letter_id: str, body: ReturnedIn, user: Mailroom, session: SessionDep,
                   ctx: CtxDep) -> LetterOut:
    letter = service.record_returned(session, letter_id, user.username, _now(), ctx.outbound, body.reason)
    session.commit()
    return _out(session, letter, ctx)


def _batch_out(batch: PostBatch) -> BatchOut:
    return BatchOut.model_validate({c: getattr(batch, c) for c in BatchOut.model_fields})


@router.get("/api/post-batches", response_model=list[BatchOut])
def list_batches(user: PostReader, session: SessionDep) -> list[BatchOut]:
    """Post batches, newest first (the last 100)."""
    return [_batch_out(b) for b in session.scalars(select(PostBatch).order_by(PostBatch.id.desc()).limit(100))]


@router.post("/api/post-batches", response_model=BatchOut, status_code=201,
             responses={204: {"description": "no letter waits for the post"}})
def create_post_batch(user: Mailroom, session: SessionDep, ctx: CtxDep) -> Any:
    """Gather every letter waiting for the post into a batch: one PDF to print and the posting list."""
    batch = service.create_batch(session, user.username, _now(), ctx.outbound,
                                 user.language or ctx.settings.language)
    if batch is None:
        return Response(status_code=204)
    session.commit()
    return _batch_out(batch)


@router.get("/api/post-batches/{batch_id}/letters", response_model=list[LetterOut])
def batch_letters(batch_id: int, user: PostReader,
                  session: SessionDep, ctx: CtxDep) -> list[LetterOut]:
    if session.get(PostBatch, batch_id) is None:
        raise HTTPException(404, "Not found.")
    letters = session.scalars(select(OutboundLetter).where(OutboundLetter.batch_id == batch_id)
                              .order_by(OutboundLetter.created_at, OutboundLetter.id))
    return [_out(session, letter, ctx) for letter in letters]


@router.get("/api/post-batches/{batch_id}/{which}.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def batch_pdf(batch_id: int, which: Literal["print", "posting-list"],
              user: PostReader, session: SessionDep,
              ctx: CtxDep) -> Response:
    """``print``: every letter of the batch, duplex-ready; ``posting-list``: the list of registered letters."""
    batch = session.get(PostBatch, batch_id)
    if batch is None:
        raise HTTPException(404, "Not found.")
    sha = batch.print_sha256 if which == "print" else batch.list_sha256
    if not sha:
        raise NotFound(f"post batch {batch_id} has no {which} PDF")
    return Response(ctx.blobs.get(sha), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="batch-{batch_id}-{which}.pdf"'})


@router.post("/api/post-batches/{batch_id}/hand-over", response_model=BatchOut)
def hand_over_batch(batch_id: int, body: HandOverIn, user: Mailroom, session: SessionDep,
                    ctx: CtxDep) -> BatchOut:
    """The batch was handed to the post: its time is every letter's dispatch (the statutory clocks that stop at
    posting stop then). Registered numbers may be given here (typed or scanned)."""
    _aware(body.at)
    now = _now()
    batch = service.hand_over(session, batch_id, user.username, body.at or now, now, ctx.outbound, body.numbers)
    session.commit()
    return _batch_out(batch)


class MergeIn(BaseModel):
    from_case_id: int = Field(description="the case whose letters join this one")
    reason: str = Field(min_length=1, max_length=500)


class SplitIn(BaseModel):
    work_item_ids: list[int] = Field(min_length=1, max_length=200, description="letters that are another matter")
    reason: str = Field(min_length=1, max_length=500)


class CaseOut(BaseModel):
    id: int
    first_received_at: datetime
    primary_item_id: int | None
    work_item_ids: list[int]


def _case_out(session: Session, case_id: int) -> CaseOut:
    case = session.get(Case, case_id)
    assert case is not None
    ids = list(session.scalars(select(WorkItem.id).where(WorkItem.case_id == case_id).order_by(WorkItem.id)))
    return CaseOut(id=case.id, first_received_at=case.first_received_at, primary_item_id=case.primary_item_id,
                   work_item_ids=ids)


def _case_scoped(session: Session, user: User, case_id: int) -> None:
    """404 unless the case exists and (for an agent) every letter of it is in their queues."""
    if session.get(Case, case_id) is None:
        raise HTTPException(404, "Not found.")
    _all_in_scope(session, user, session.scalars(select(WorkItem.id).where(WorkItem.case_id == case_id)))


@router.post("/api/cases/{case_id}/merge", response_model=CaseOut)
def merge_case(case_id: int, body: MergeIn, user: Agent, session: SessionDep, ctx: CtxDep) -> CaseOut:
    """The letters of another case are the same matter: they join this case, whose statutory clock runs from the
    earliest receipt of all of them. Audited with the reason."""
    _case_scoped(session, user, case_id)
    _case_scoped(session, user, body.from_case_id)
    cases.merge_cases(session, case_id, body.from_case_id, user.username, _now(), body.reason, ctx.policies)
    session.commit()
    return _case_out(session, case_id)


@router.post("/api/cases/{case_id}/split", response_model=CaseOut, status_code=201)
def split_case(case_id: int, body: SplitIn, user: Agent, session: SessionDep, ctx: CtxDep) -> CaseOut:
    """These letters are another matter: a new case with its own clock (the answer is the new case)."""
    _case_scoped(session, user, case_id)
    new = cases.split_case(session, case_id, body.work_item_ids, user.username, _now(), body.reason, ctx.policies)
    session.commit()
    return _case_out(session, new.id)


@router.get("/api/archive/letters", response_model=list[LetterOut])
def archive_letters(user: Archive, session: SessionDep, ctx: CtxDep,
                    q: Annotated[str, Query(min_length=1, max_length=200)],
                    kind: Literal["reply", "acknowledgement", "request_to_complete", "extension"] | None = None,
                    channel: Literal["email", "post"] | None = None,
                    since: Annotated[datetime | None, Query(alias="from")] = None,
                    until: Annotated[datetime | None, Query(alias="to")] = None) -> list[LetterOut]:
    """The archive of letters sent: every word of ``q`` in the case reference, subject or text (case and
    diacritics do not matter), newest first, at most 50; each with its original (``/api/replies/{id}/original``)
    and its case (``/api/cases/{case_id}/timeline``)."""
    _aware(since)
    _aware(until)
    found = service.search_letters(session, q, kind=kind, channel=channel, since=since, until=until)
    return [_out(session, letter, ctx) for letter in found]


@router.get("/api/cases/{case_id}/timeline", response_model=list[Entry])
def timeline(case_id: int, user: Reader, session: SessionDep) -> list[Entry]:
    """Letters in, letters out and clock events of a case, in time order."""
    entries = case_timeline(session, case_id)
    _all_in_scope(session, user, {e.work_item_id for e in entries if e.work_item_id is not None})
    return entries
