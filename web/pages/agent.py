"""The agents' pages: their queues, the next letter, a letter with its pages, and what they do with it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session

from ground import i18n
from ground.errors import MailroomError
from ground.i18n import _
from ground.records import CATEGORIES
from ocr.render import has_images, page_numbers, part_type, render_page_png
from queues import work
from storage.audit import record
from replies import service
from storage.models import Document, OutboundLetter, Role, User, WorkItem, WorkItemState
from web.deps import CtxDep, CurrentUser, SessionDep, visible_queues
from web.pages import highlight, localize, page_error, queue_rows, render, sla_view
from web.pages.cases import DECISIONS

router = APIRouter(include_in_schema=False, dependencies=[Depends(localize)])

# Pixels a page image drawn for the browser may have (an A3 page at 600 dpi is 70 million); larger ones are
# refused before decoding. The workers' own limit (MAILROOM_MAX_PIXELS) is for OCR, not for the API process.
PAGE_IMAGE_MAX_PIXELS = 72_000_000

# The buttons of the letter page, as people read them (the action names stay in the URLs).
ACTION_LABELS = {"claim": i18n.N_("Claim"), "complete": i18n.N_("Complete"), "hold": i18n.N_("Put on hold"),
                 "resume": i18n.N_("Resume"), "transfer": i18n.N_("Transfer"), "reclassify": i18n.N_("Reclassify")}
# What the page says once an action is done.
ACTION_DONE = {"claim": i18n.N_("The item is yours now."), "complete": i18n.N_("Item completed."),
               "hold": i18n.N_("Item put on hold."), "resume": i18n.N_("Item resumed."),
               "transfer": i18n.N_("Item transferred."), "reclassify": i18n.N_("Letter reclassified.")}


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


@router.post("/agent/queues/{queue}/next")
def agent_next(queue: str, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> RedirectResponse:
    if queue not in set(_my_queue_ids(session, user, ctx)):
        raise HTTPException(404, _("Not found."))
    item = work.next_item(session, queue, user.username, datetime.now(UTC))
    if item is None:
        name = next((q.name for q in ctx.rules.queues if q.id == queue), queue)
        message = _("The queue %(queue)s has no new item.") % {"queue": i18n.queue_name(name)}
        return RedirectResponse("/agent?" + urlencode({"message": message}), status_code=303)
    return RedirectResponse(f"/agent/items/{item.id}", status_code=303)


def _earlier(session: Session, doc: Document, limit: int = 10) -> list[Document]:
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
    work.claim(session, item_id, actor, now)


def _complete(session: Session, ctx: Any, item_id: int, actor: str, now: datetime, form: Fields) -> None:
    if form.get("outcome"):
        work.complete(session, item_id, actor, now, outcome=form["outcome"])
    else:
        work.complete(session, item_id, actor, now)


def _hold(session: Session, ctx: Any, item_id: int, actor: str, now: datetime, form: Fields) -> None:
    work.hold(session, item_id, actor, now, reason=form.get("reason", ""))


def _resume(session: Session, ctx: Any, item_id: int, actor: str, now: datetime, form: Fields) -> None:
    work.resume(session, item_id, actor, now, ctx.policies)


def _transfer(session: Session, ctx: Any, item_id: int, actor: str, now: datetime, form: Fields) -> None:
    work.transfer(session, item_id, actor, now, form.get("queue", ""), ctx.rules, ctx.policies,
                  reason=form.get("reason", ""))


def _reclassify(session: Session, ctx: Any, item_id: int, actor: str, now: datetime, form: Fields) -> None:
    work.reclassify(session, item_id, actor, now, form.get("category", ""), ctx.rules, ctx.policies)


# The actions of the letter page (item.html) and the POST /agent/items/{id}/{action} route, in page order.
ACTIONS: dict[str, Callable[[Session, Any, int, str, datetime, Fields], None]] = {
    "claim": _claim,
    "complete": _complete,
    "hold": _hold,
    "resume": _resume,
    "transfer": _transfer,
    "reclassify": _reclassify,
}


@router.get("/agent/items/{item_id}")
def agent_item(item_id: int, request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep,
               message: str = "") -> HTMLResponse:
    item = _visible_item(session, ctx, user, item_id)
    doc = item.document
    record(session, user.username, "document.viewed", document_id=doc.id, work_item_id=item.id,
           envelope_id=doc.envelope_id)
    now = datetime.now(UTC)
    _, ctype = _part(ctx, doc)
    return render(request, "item.html", item=item, doc=doc, envelope=doc.envelope, message=message,
                  text=highlight(doc.text or "", doc.entities or {}), pages=_pages(doc),
                  has_images=has_images(ctype), earlier=_earlier(session, doc), actions=list(ACTIONS),
                  queues=ctx.rules.queues, categories=CATEGORIES, now=now, outcomes=work.OUTCOMES,
                  sla=sla_view(item, ctx.policies, now), labels=ACTION_LABELS,
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


@router.post("/agent/items/{item_id}/{action}")
def agent_action(item_id: int, action: str, user: CurrentUser, session: SessionDep, ctx: CtxDep,
                 reason: Annotated[str, Form(max_length=500)] = "", outcome: Annotated[str, Form(max_length=500)] = "",
                 queue: Annotated[str, Form(max_length=64)] = "",
                 category: Annotated[str, Form(max_length=32)] = "") -> RedirectResponse:
    _visible_item(session, ctx, user, item_id)
    apply = ACTIONS.get(action)
    if apply is None:
        raise HTTPException(404, _("Not found."))
    form = {"reason": reason, "outcome": outcome, "queue": queue, "category": category}
    try:
        apply(session, ctx, item_id, user.username, datetime.now(UTC), form)
    except MailroomError as exc:  # refused (someone else's claim, a changed item): said on the page
        session.rollback()
        return RedirectResponse(f"/agent/items/{item_id}?" + urlencode({"message": page_error(exc)}),
                                status_code=303)
    session.commit()
    target = "/agent?" if action == "complete" else f"/agent/items/{item_id}?"
    return RedirectResponse(target + urlencode({"message": _(ACTION_DONE[action])}), status_code=303)
