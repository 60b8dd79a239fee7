"""One queue's open items as agents work them (issue 18): in the order *Next item* takes them — priority
first (a follow-up letter from the customer raises its item), then the binding deadline, then age — with the
flags an item carries ("new letter from the customer") and the customer it is linked to."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from ground.i18n import _
from queues.work import OPEN
from storage.models import WorkItem
from web.deps import CtxDep, CurrentUser, SessionDep, visible_queues
from web.pages import localize, render, sla_view

router = APIRouter(include_in_schema=False, dependencies=[Depends(localize)])

MAX_ITEMS = 200


@router.get("/agent/queues/{queue}/items")
def queue_items(queue: str, request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> HTMLResponse:
    """The open items of a queue the reader works (anyone else's queue is 404), most urgent first."""
    if len(queue) > 64 or queue not in set(visible_queues(session, user, [q.id for q in ctx.rules.queues])):
        raise HTTPException(404, _("Not found."))
    now = datetime.now(UTC)
    items = list(session.scalars(select(WorkItem).where(WorkItem.queue == queue, WorkItem.state.in_(list(OPEN)))
                                 .order_by(WorkItem.priority.desc(), WorkItem.sla_due.asc(), WorkItem.id.asc())
                                 .limit(MAX_ITEMS)))
    return render(request, "queue_items.html", queue=queue, items=items, now=now,
                  sla={i.id: sla_view(i, ctx.policies, now) for i in items})
