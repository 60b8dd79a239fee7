"""The agents' pages: their queues, the next letter, a letter with its pages, and what they do with it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from ground import i18n
from ground.errors import Conflict, MailroomError
from ground.i18n import _
from ground.records import CATEGORIES
from ocr.render import has_images, page_numbers, part_type, render_page_png
from queues import work
from replies import service
from storage.audit import record
from storage.customers import customer_for_document, earlier_correspondence
from storage.models import AuditEvent, Document, OutboundLetter, Role, User, WorkItem, WorkItemState
from web.deps import CtxDep, CurrentUser, SessionDep, visible_queues
from web.pages import highlight, localize, page_error, queue_rows, render, sla_view
from web.pages.cases import DECISIONS

router = APIRouter(include_in_schema=False, dependencies=[Depends(localize)])

# Pixels a page image drawn for the browser may have (an A3 page at 600 dpi is 70 million); larger ones are
# refused before decoding. The workers' own limit (MAILROOM_MAX_PIXELS) is for OCR, not for the API process.
PAGE_IMAGE_MAX_PIXELS = 72_000_000

# The buttons of the letter page, as people read them (the action names stay in the URLs).
ACTION_LABELS = {"claim": i18n.N_("Claim"), "complete": i18n.N_("Complete"), "hold": i18n.N_("Put on hold"),
                 "resume": i18n.N_("Resume"), "transfer": i18n.N_("Transfer"), "reclassify": i18n.N_("Reclassify"),
                 "first_response": i18n.N_("Record the first response")}
# How a first answer given outside Mailroom's letters went (queues.work.FIRST_RESPONSE_CHANNELS).
FIRST_RESPONSE_HOW = {"phone": i18n.N_("by phone"), "chat": i18n.N_("in a chat"),
                      "in_person": i18n.N_("in person"), "other": i18n.N_("another way")}
# What the page says once an action is done.
ACTION_DONE = {"claim": i18n.N_("The item is yours now."), "complete": i18n.N_("Item completed."),
               "hold": i18n.N_("Item put on hold."), "resume": i18n.N_("Item resumed."),
               "transfer": i18n.N_("Item transferred."), "reclassify": i18n.N_("Letter reclassified."),
               "first_response": i18n.N_("First response recorded: its clock has stopped.")}


def _my_queue_ids(session: Session, user: User, ctx: Any) -> list[str]:
    return visible_queues(session, user, [q.id for q in ctx.rules.queues])


def _agent_view(session: Session, ctx: Any, user: User) -> dict[str, Any]:
    now = datetime.now(UTC)
    mine = list(session.scalars(select(WorkItem).where(
        WorkItem.assignee == user.username, WorkItem.state.in_([WorkItemState.CLAIMED, WorkItemState.ON_HOLD]))
        .order_by(WorkItem.sla_due)))
    return {"queues": queue_rows(session, ctx, _my_queue_ids(session, user, ctx), now), "mine": mine, "now": now,
            "sla": {i.id: sla_view(i, ctx.policies, now) for i in mine}}


@router.get("/agent")
def agent_page(request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep,
               message: str = "") -> HTMLResponse:
    return render(request, "agent.html", message=message, **_agent_view(session, ctx, user))


@router.get("/agent/queues")
def agent_queues(request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> HTMLResponse:
    return render(request, "_agent_queues.html", **_agent_view(session, ctx, user))


def _visible_item(session: Session, ctx: Any, user: User, item_id: int) -> WorkItem:
    item = session.get(WorkItem, item_id) if 0 < item_id < 2**63 else None  # a huge id is no row, not a 500
    if item is None or item.queue not in set(_my_queue_ids(session, user, ctx)) and user.role == Role.AGENT.value:
        raise HTTPException(404, _("Not found."))
    return item


# ---------------------------------------------------------------- leases and capacity (issue 18)


def _lease(ctx: Any) -> timedelta:
    """How long a claim lasts (MAILROOM_LEASE_SECONDS; 15 minutes by default)."""
    return timedelta(seconds=ctx.settings.lease_seconds)


def _held(session: Session, username: str, but: int | None = None) -> int:
    """How many items ``username`` has claimed now (``but``: not counting that one)."""
    q = select(func.count()).select_from(WorkItem).where(WorkItem.assignee == username,
                                                         WorkItem.state == WorkItemState.CLAIMED)
    if but is not None:
        q = q.where(WorkItem.id != but)
    return session.scalar(q) or 0


def _capacity(session: Session, username: str) -> int | None:
    """An agent's capacity (claimed items at once, their skills'); None for supervisors and admins, whose direct
    claims are not bound (as the API's claim)."""
    role = session.scalar(select(User.role).where(User.username == username))
    return work.agent_scope(session, username).capacity if role == Role.AGENT.value else None


def _at_capacity(held: int) -> str:
    return i18n.ngettext("You already work %(num)d letter, as many as you may at once; complete or release one "
                         "first.", "You already work %(num)d letters, as many as you may at once; complete or "
                         "release one first.", held) % {"num": held}


class Refused(Exception):
    """An action refused with a sentence already in the reader's language (the page shows it as it is)."""


@dataclass
class LeaseNotice:
    """What the item page says about a claim the reader has lost (or never had), and whether they may claim the
    item again from there."""

    text: str
    can_claim: bool = False


def _clock(value: datetime, now: datetime) -> str:
    """A time in the reader's zone: HH:MM today, with the date otherwise."""
    local = i18n.local_time
    return i18n.format_time(value) if local(value).date() == local(now).date() else i18n.format_datetime(value,
                                                                                                         "short")


def _lost_claim(session: Session, item: WorkItem, username: str, now: datetime) -> LeaseNotice | None:
    """Whether ``username``'s claim on ``item`` ran out: still theirs but past its lease (the sweeper has not come
    yet), or returned to the queue by the sweeper (the audit trail's ``lease_expired``) with nothing done by them
    since. None when they hold it, released or completed it themselves, or it is done."""
    if item.state == WorkItemState.CLAIMED and item.assignee == username:
        if item.claimed_until is not None and item.claimed_until < now:
            return LeaseNotice(_("Your claim on this letter expired at %(time)s; claim it again to go on working "
                                 "on it.") % {"time": _clock(item.claimed_until, now)}, can_claim=True)
        return None
    if item.state not in work.OPEN:
        return None
    events = list(session.scalars(select(AuditEvent).where(
        AuditEvent.work_item_id == item.id, AuditEvent.action.like("work_item.%"))
        .order_by(AuditEvent.id.desc()).limit(200)))
    for n, event in enumerate(events):
        detail = event.detail or {}
        if event.action == "work_item.lease_expired" and detail.get("was_assignee") == username:
            until = next((e.detail["claimed_until"] for e in events[n + 1:] if (e.detail or {}).get("claimed_until")),
                         None)
            try:  # the lease's end as last granted; never after the sweeper found it over
                expired = min(datetime.fromisoformat(until), event.at) if isinstance(until, str) else event.at
            except (ValueError, TypeError):
                expired = event.at
            break
        if event.actor == username or detail.get("to") == username:
            return None  # they claimed, released or handed it over after that
    else:
        return None
    values = {"time": _clock(expired, now)}
    if item.state == WorkItemState.NEW or not item.assignee:  # still in the queue: take it again from here
        return LeaseNotice(_("Your claim on this letter expired at %(time)s; it went back to the queue.") % values,
                           can_claim=item.state == WorkItemState.NEW)
    name = session.scalar(select(User.display_name).where(User.username == item.assignee)) or item.assignee
    return LeaseNotice(_("Your claim on this letter expired at %(time)s; it went back to the queue and %(agent)s "
                         "has it now.") % {**values, "agent": name})


def _not_yours(session: Session, item: WorkItem, username: str, now: datetime) -> LeaseNotice:
    """Why the reader cannot keep (renew) ``item``: a lost claim, someone else's, or none at all."""
    lost = _lost_claim(session, item, username, now)
    if lost is not None:
        return lost
    if item.state in (WorkItemState.CLAIMED, WorkItemState.ON_HOLD) and item.assignee != username:
        name = session.scalar(select(User.display_name).where(User.username == item.assignee)) or item.assignee
        return LeaseNotice(_("%(agent)s has this letter now; only they can keep it.") % {"agent": name})
    if item.state == WorkItemState.NEW:
        return LeaseNotice(_("This letter is not claimed by you; claim it to work on it."), can_claim=True)
    return LeaseNotice(_("This letter is not claimed by you any more."))


@router.post("/agent/queues/{queue}/next")
def agent_next(queue: str, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> RedirectResponse:
    """The next item of one queue, chosen as ``POST /api/next`` chooses it: the agent's skills, and never more
    claimed items than their capacity."""
    if queue not in set(_my_queue_ids(session, user, ctx)):
        raise HTTPException(404, _("Not found."))
    item = work.next_for_agent(session, user.username, datetime.now(UTC), queues=[queue], lease=_lease(ctx))
    if item is None:
        name = i18n.queue_name(next((q.name for q in ctx.rules.queues if q.id == queue), queue))
        scope = work.agent_scope(session, user.username)
        held = _held(session, user.username)
        waiting = session.scalar(select(func.count()).select_from(WorkItem).where(
            WorkItem.queue == queue, WorkItem.state == WorkItemState.NEW)) or 0
        if held >= scope.capacity:
            message = _at_capacity(held)
        elif waiting:
            message = _("The queue %(queue)s has no new item that fits your skills.") % {"queue": name}
        else:
            message = _("The queue %(queue)s has no new item.") % {"queue": name}
        return RedirectResponse("/agent?" + urlencode({"message": message}), status_code=303)
    return RedirectResponse(f"/agent/items/{item.id}", status_code=303)


def _earlier(session: Session, doc: Document, limit: int = 10) -> list[Document]:
    """The customer's other letters: by the letter's stored link first (a person may have corrected it), then
    its identifiers (storage.customers.customer_for_document); a customer number no customer has: the letters
    that name it."""
    linked = customer_for_document(session, doc)
    if linked is not None:
        return [d for d in earlier_correspondence(session, linked, limit=limit + 1) if d.id != doc.id][:limit]
    customers = (doc.entities or {}).get("customer_id") or []
    if not customers:
        return []
    text_col = cast(Document.entities, String)
    cond = or_(*[text_col.like(f'%"{c}"%') for c in customers if isinstance(c, str)])
    q = (select(Document).where(cond, Document.id != doc.id).order_by(Document.created_at.desc()).limit(limit))
    return list(session.scalars(q))


def _pages(doc: Document) -> list[int]:
    """The numbers (in the part's file) of the letter's pages that are not blank."""
    return page_numbers(doc.page_flags, doc.first_page, doc.pages)


def _part(ctx: Any, doc: Document) -> tuple[bytes, str]:
    data = ctx.blobs.get(doc.part_sha256)
    return data, part_type(data, doc.part_name)


# ---------------------------------------------------------------- what an agent does with a letter

Fields = dict[str, str]  # the action form's fields: reason, outcome, queue, category


def _claim(session: Session, ctx: Any, item_id: int, actor: str, now: datetime, form: Fields) -> None:
    """Claim the item (bound by an agent's capacity, as the API's claim). The reader's own claim whose lease ran
    out before the sweeper came is claimed again (released and claimed); one still running is renewed."""
    item = session.get(WorkItem, item_id)
    if item is not None and item.state == WorkItemState.CLAIMED and item.assignee == actor:
        if item.claimed_until is None or item.claimed_until >= now:
            work.renew(session, item_id, actor, now, _lease(ctx))
            return
        work.release(session, item_id, actor, now)
    capacity = _capacity(session, actor)
    try:
        work.claim(session, item_id, actor, now, _lease(ctx), capacity=capacity)
    except Conflict:
        held = _held(session, actor, but=item_id)
        if capacity is not None and held >= capacity:
            raise Refused(_at_capacity(held)) from None
        raise


def _complete(session: Session, ctx: Any, item_id: int, actor: str, now: datetime, form: Fields) -> None:
    if form.get("outcome"):
        work.complete(session, item_id, actor, now, outcome=form["outcome"])
    else:
        work.complete(session, item_id, actor, now)


def _hold(session: Session, ctx: Any, item_id: int, actor: str, now: datetime, form: Fields) -> None:
    work.hold(session, item_id, actor, now, reason=form.get("reason", ""))


def _resume(session: Session, ctx: Any, item_id: int, actor: str, now: datetime, form: Fields) -> None:
    work.resume(session, item_id, actor, now, ctx.policies, _lease(ctx))


def _transfer(session: Session, ctx: Any, item_id: int, actor: str, now: datetime, form: Fields) -> None:
    work.transfer(session, item_id, actor, now, form.get("queue", ""), ctx.rules, ctx.policies,
                  reason=form.get("reason", ""))


def _reclassify(session: Session, ctx: Any, item_id: int, actor: str, now: datetime, form: Fields) -> None:
    work.reclassify(session, item_id, actor, now, form.get("category", ""), ctx.rules, ctx.policies)


def _first_response(session: Session, ctx: Any, item_id: int, actor: str, now: datetime, form: Fields) -> None:
    work.record_first_response(session, item_id, actor, now, how=form.get("how", ""), note=form.get("reason", ""))


# The actions of the letter page (item.html) and the POST /agent/items/{id}/{action} route, in page order.
ACTIONS: dict[str, Callable[[Session, Any, int, str, datetime, Fields], None]] = {
    "claim": _claim,
    "complete": _complete,
    "hold": _hold,
    "resume": _resume,
    "transfer": _transfer,
    "reclassify": _reclassify,
    "first_response": _first_response,
}


@router.get("/agent/items/{item_id}")
def agent_item(item_id: int, request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep,
               message: str = "") -> HTMLResponse:
    item = _visible_item(session, ctx, user, item_id)
    doc = item.document
    now = datetime.now(UTC)
    record(session, user.username, "document.viewed", document_id=doc.id, work_item_id=item.id,
           envelope_id=doc.envelope_id, at=now)  # ``opened``: a later view keeps the claim when this page goes
    _, ctype = _part(ctx, doc)
    lost = _lost_claim(session, item, user.username, now)
    lease = ctx.settings.lease_seconds
    return render(request, "item.html", item=item, doc=doc, envelope=doc.envelope, message=message,
                  lost=lost, held=item.state == WorkItemState.CLAIMED and item.assignee == user.username and not lost,
                  lease_seconds=lease, renew_every=max(1, lease // 3), opened=now.isoformat(),
                  text=highlight(doc.text or "", doc.entities or {}), pages=_pages(doc),
                  has_images=has_images(ctype), earlier=_earlier(session, doc), actions=list(ACTIONS),
                  queues=ctx.rules.queues, categories=CATEGORIES, now=now, outcomes=work.OUTCOMES,
                  sla=sla_view(item, ctx.policies, now), labels=ACTION_LABELS, first_response_how=FIRST_RESPONSE_HOW,
                  **_replies_view(session, ctx, item))


@router.get("/agent/items/{item_id}/pages/{page}.png")
def agent_item_page(item_id: int, page: int, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> Response:
    """The ``page``-th (1-based) page of the letter that is not blank, drawn as a PNG (ocr/render.py).

    Drawn in the API process, so within a pixel budget of its own (:data:`PAGE_IMAGE_MAX_PIXELS`, checked from
    the image's header or the PDF page's size before anything is decoded: 413 beyond it). Audited."""
    item = _visible_item(session, ctx, user, item_id)
    doc = item.document
    numbers = _pages(doc)
    if not 1 <= page <= len(numbers):
        raise HTTPException(404, _("Not found."))
    data, ctype = _part(ctx, doc)
    budget = ctx.settings.model_copy(update={"max_pixels": min(ctx.settings.max_pixels, PAGE_IMAGE_MAX_PIXELS)})
    png = render_page_png(data, ctype, numbers[page - 1], budget)
    if png is None:
        raise HTTPException(404, _("Not found."))
    record(session, user.username, "document.page_viewed", document_id=doc.id, work_item_id=item.id,
           envelope_id=doc.envelope_id, detail={"page": page})
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.post("/agent/items/{item_id}/renew")
def agent_renew(item_id: int, request: Request, user: CurrentUser, session: SessionDep,
                ctx: CtxDep) -> JSONResponse:
    """The item page keeps its reader's claim while it is open and visible (web/static/app.js): the lease runs
    for another MAILROOM_LEASE_SECONDS. Refused (409) with the reason in the reader's language and the notice
    the page shows instead (``html``: a lost claim, with the button to claim it again when it is new)."""
    _visible_item(session, ctx, user, item_id)
    now = datetime.now(UTC)
    try:
        item = work.renew(session, item_id, user.username, now, _lease(ctx))
    except MailroomError:
        session.rollback()
        item = _visible_item(session, ctx, user, item_id)
        notice = _not_yours(session, item, user.username, now)
        html = render(request, "_lease_notice.html", item=item, lost=notice).body
        return JSONResponse({"ok": False, "message": notice.text, "can_claim": notice.can_claim,
                             "html": bytes(html).decode()}, status_code=409, headers={"Cache-Control": "no-store"})
    until = item.claimed_until
    session.commit()
    return JSONResponse({"ok": True, "claimed_until": until.isoformat() if until else None,
                         "lease_seconds": ctx.settings.lease_seconds}, headers={"Cache-Control": "no-store"})


@router.post("/agent/items/{item_id}/release")
def agent_release(item_id: int, user: CurrentUser, session: SessionDep, ctx: CtxDep,
                  opened: Annotated[str, Form(max_length=64)] = "") -> Response:
    """The item page's beacon when its reader leaves it (``pagehide``: another page, the tab closed): their claim
    goes back to the queue. Nothing happens (204 all the same) when the item is not their claim, or when they
    have opened the item again since the page that sends it was drawn (``opened``: a reload, another tab)."""
    item = _visible_item(session, ctx, user, item_id)
    if item.state != WorkItemState.CLAIMED or item.assignee != user.username:
        return Response(status_code=204)
    try:
        since = datetime.fromisoformat(opened) if opened else None
    except ValueError:
        since = None
    if since is not None and since.tzinfo is not None and session.scalar(select(AuditEvent.id).where(
            AuditEvent.work_item_id == item_id, AuditEvent.actor == user.username,
            AuditEvent.action == "document.viewed", AuditEvent.at > since).limit(1)) is not None:
        return Response(status_code=204)
    try:
        work.release(session, item_id, user.username, datetime.now(UTC))
    except MailroomError:  # completed or taken meanwhile: nothing to give back
        session.rollback()
        return Response(status_code=204)
    session.commit()
    return Response(status_code=204)


@router.post("/agent/items/{item_id}/{action}")
def agent_action(item_id: int, action: str, user: CurrentUser, session: SessionDep, ctx: CtxDep,
                 reason: Annotated[str, Form(max_length=500)] = "", outcome: Annotated[str, Form(max_length=500)] = "",
                 queue: Annotated[str, Form(max_length=64)] = "",
                 category: Annotated[str, Form(max_length=32)] = "",
                 how: Annotated[str, Form(max_length=16)] = "") -> RedirectResponse:
    _visible_item(session, ctx, user, item_id)
    apply = ACTIONS.get(action)
    if apply is None:
        raise HTTPException(404, _("Not found."))
    form = {"reason": reason, "outcome": outcome, "queue": queue, "category": category, "how": how}
    now = datetime.now(UTC)
    try:
        apply(session, ctx, item_id, user.username, now, form)
    except Refused as exc:  # said in the reader's language already (capacity)
        session.rollback()
        return RedirectResponse(f"/agent/items/{item_id}?" + urlencode({"message": str(exc)}), status_code=303)
    except MailroomError as exc:  # refused (someone else's claim, a changed item): said on the page
        session.rollback()
        message = page_error(exc)
        if isinstance(exc, Conflict) and _lost_claim(session, _visible_item(session, ctx, user, item_id),
                                                     user.username, now) is not None:
            # the claim ran out: the page explains it (and offers to claim it again), not a bare refusal
            message = _("Nothing was changed: your claim on this letter had expired.")
        return RedirectResponse(f"/agent/items/{item_id}?" + urlencode({"message": message}), status_code=303)
    session.commit()
    target = "/agent?" if action == "complete" else f"/agent/items/{item_id}?"
    return RedirectResponse(target + urlencode({"message": _(ACTION_DONE[action])}), status_code=303)


# ---------------------------------------------------------------- answering the customer (issue 17)

# The kinds of letter an agent starts from the item page (acknowledgements go out by themselves).
NEW_LETTERS = {"reply": i18n.N_("Start a reply"), "request_to_complete": i18n.N_("Ask to complete"),
               "extension": i18n.N_("Extension notice")}
# Refusals of replies/service.py in fixed words, so that page_error finds them in the catalogs.
LETTER_REASONS = (
    i18n.N_("the letter has no text"),
    i18n.N_("the e-mail address of the customer is missing or not valid; type it in"),
    i18n.N_("a letter by post needs the customer's postal address (name and at least one address line)"),
)
FIELD_NAMES = ("decision", "reasons", "compensation", "compensation_due", "employee_position")


def _case_documents(session: Session, item: WorkItem) -> list[Document]:
    """The documents a letter of ``item`` may attach: its own, and those of the other items of its case."""
    if item.case_id is None:
        return [item.document]
    return list(session.scalars(select(Document).join(WorkItem, WorkItem.document_id == Document.id)
                                .where(WorkItem.case_id == item.case_id).order_by(Document.created_at)))


def _replies_view(session: Session, ctx: Any, item: WorkItem) -> dict[str, Any]:
    letters = service.letters_of_item(session, item.id)
    editable = [x for x in letters if x.state in service.EDITABLE]
    return {"letters": letters, "editable": editable, "new_letters": NEW_LETTERS, "decisions": DECISIONS,
            "missing": {x.id: service.missing_elements(session, x, ctx.outbound) for x in editable},
            "case_documents": _case_documents(session, item),
            "requested_channel": service.requested_channel(item.document.text or "")}


def _back(item_id: int, message: str, letter_id: str | None = None) -> RedirectResponse:
    anchor = f"#letter-{letter_id}" if letter_id else "#replies"
    return RedirectResponse(f"/agent/items/{item_id}?" + urlencode({"message": message}) + anchor, status_code=303)


def _letter_of(session: Session, ctx: Any, user: User, letter_id: str) -> OutboundLetter:
    letter = session.get(OutboundLetter, letter_id) if len(letter_id) <= 36 else None
    if letter is None:
        raise HTTPException(404, _("Not found."))
    _visible_item(session, ctx, user, letter.work_item_id)
    return letter


@router.post("/agent/items/{item_id}/letters/new")
def agent_new_letter(item_id: int, user: CurrentUser, session: SessionDep, ctx: CtxDep,
                     kind: Annotated[str, Form(max_length=24)] = "reply") -> RedirectResponse:
    """A draft from the template of ``kind`` (the item's category and language), channel as the service
    chooses it (what the customer asked for, else the channel the letter came by)."""
    _visible_item(session, ctx, user, item_id)
    if kind not in NEW_LETTERS:
        raise HTTPException(404, _("Not found."))
    try:
        letter = service.create_draft(session, item_id, user.username, datetime.now(UTC), ctx.outbound, kind=kind,
                                      zone=user.time_zone or ctx.settings.time_zone)
    except MailroomError as exc:
        session.rollback()
        return _back(item_id, page_error(exc))
    session.commit()
    return _back(item_id, _("A draft is ready; check it and send it."), letter.id)


@router.get("/agent/letters/{letter_id}/preview.pdf")
def agent_letter_preview(letter_id: str, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> Response:
    """The letter as it will be printed (for an e-mail: what the customer reads); a letter gone by post: the
    PDF that was printed."""
    letter = _letter_of(session, ctx, user, letter_id)
    if letter.channel == "post" and letter.sha256 and letter.state not in service.EDITABLE:
        pdf = ctx.blobs.get(letter.sha256)
    else:
        pdf = service.preview_pdf(session, letter_id, ctx.outbound, datetime.now(UTC).date())
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{letter.id}.pdf"', "Cache-Control": "no-store"})


def _changes(letter: OutboundLetter, form: dict[str, Any]) -> dict[str, Any]:
    """What the draft form changes (only that: an unchanged text keeps following the template's fields, and
    an approved letter keeps its approval when nothing was edited)."""
    changes: dict[str, Any] = {}
    if form["channel"] in ("email", "post") and form["channel"] != letter.channel:
        changes["channel"] = form["channel"]
    to = form["to_email"].strip()
    if to != (letter.to_email or ""):
        changes["to_email"] = to
    address = [line.strip() for line in form["address"].splitlines() if line.strip()][:8]
    if address != list(letter.address):
        changes["address"] = address
    for key in ("subject", "body"):
        value = form[key].replace("\r\n", "\n")
        if value != getattr(letter, key):
            changes[key] = value
    fields = {k: form[k].strip() for k in FIELD_NAMES if form[k].strip() != str(letter.fields.get(k) or "")}
    if fields:
        changes["fields"] = fields
    attached = [a.get("document_id") for a in letter.attachments]
    if sorted(form["attachments"]) != sorted(x for x in attached if x):
        changes["attachments"] = form["attachments"]
    return changes


def _send(session: Session, ctx: Any, user: User, letter: OutboundLetter, registered: bool) -> str:
    """Submit the letter; an e-mail goes to the relay at once (outside the transaction). The flash message."""
    if letter.needs_approval and letter.state != "approved":
        return _("This reply waits for a supervisor's approval (four eyes); it can be sent once approved.")
    missing = service.missing_elements(session, letter, ctx.outbound)
    if missing:
        return _("The reply cannot be sent yet; it lacks: %(missing)s") % {"missing": "; ".join(missing)}
    letter = service.submit(session, letter.id, user.username, datetime.now(UTC), ctx.outbound,
                            registered=registered if letter.channel == "post" else None)
    letter_id, channel = letter.id, letter.channel
    session.commit()
    if channel == "post":
        return _("The letter waits for the next post batch.")
    if not ctx.outbound.smtp_url:
        return _("The e-mail waits for the relay (none is configured yet).")
    service.deliver_email(ctx.db_url, letter_id, ctx.outbound)
    session.expire_all()
    sent = service.get_letter(session, letter_id)
    if sent.state == "sent":
        return _("The e-mail was sent.")
    if sent.state == "bounced":
        return _("The relay refused the e-mail: %(error)s") % {"error": sent.error or ""}
    return _("The relay could not be reached; the e-mail waits and is tried again.")


@router.post("/agent/letters/{letter_id}/{action}")
def agent_letter_action(letter_id: str, action: str, user: CurrentUser, session: SessionDep, ctx: CtxDep,
                        version: Annotated[int, Form()] = 0,
                        channel: Annotated[str, Form(max_length=8)] = "",
                        to_email: Annotated[str, Form(max_length=254)] = "",
                        address: Annotated[str, Form(max_length=2000)] = "",
                        subject: Annotated[str, Form(max_length=300)] = "",
                        body: Annotated[str, Form(max_length=50_000)] = "",
                        decision: Annotated[str, Form(max_length=20)] = "",
                        reasons: Annotated[str, Form(max_length=5000)] = "",
                        compensation: Annotated[str, Form(max_length=2000)] = "",
                        compensation_due: Annotated[str, Form(max_length=3)] = "",
                        employee_position: Annotated[str, Form(max_length=200)] = "",
                        attachments: Annotated[list[str] | None, Form()] = None,
                        registered: Annotated[str, Form(max_length=3)] = "") -> RedirectResponse:
    """``save`` the draft form, ``send`` it (saved first), or ``cancel`` the draft."""
    letter = _letter_of(session, ctx, user, letter_id)
    item_id = letter.work_item_id
    if action not in ("save", "send", "cancel"):
        raise HTTPException(404, _("Not found."))
    now = datetime.now(UTC)
    try:
        if action == "cancel":
            service.cancel(session, letter_id, user.username, now)
            session.commit()
            return _back(item_id, _("The draft is cancelled."))
        form = {"channel": channel, "to_email": to_email, "address": address, "subject": subject, "body": body,
                "decision": decision, "reasons": reasons, "compensation": compensation,
                "compensation_due": compensation_due, "employee_position": employee_position,
                "attachments": [a for a in (attachments or []) if a][:20]}
        changes = _changes(letter, form) if letter.state in service.EDITABLE else {}
        if changes:
            letter = service.update_draft(session, letter_id, user.username, now, ctx.outbound,
                                          expected_version=version or None, **changes)
            session.flush()
        if letter.state in service.EDITABLE and letter.channel == "post" and letter.registered != (registered == "yes"):
            letter = service.update_draft(session, letter_id, user.username, now, ctx.outbound,
                                          registered=registered == "yes")
            changes["registered"] = letter.registered
        if action == "save":
            session.commit()
            return _back(item_id, _("The draft is saved.") if changes else _("Nothing changed."), letter_id)
        message = _send(session, ctx, user, letter, registered == "yes")
        session.commit()  # the edits, when the send was refused
        return _back(item_id, message, letter_id)
    except MailroomError as exc:  # refused: someone changed it, no address, already sent
        session.rollback()
        return _back(item_id, page_error(exc), letter_id)
