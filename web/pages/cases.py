"""A case as one timeline (issue 17): letters in, letters out and the events of its clocks, for agents (of
the case's queues only), supervisors and auditors. Also the words the letter pages share: a letter's kind,
state and channel, and the names of the clock events, in the reader's language (template filters)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from ground import i18n
from ground.errors import NotFound
from ground.i18n import NC_, _
from replies.timeline import case_timeline
from storage.audit import record
from storage.models import Role, WorkItem
from web.api_queues import _scoped
from web.deps import CurrentUser, SessionDep
from web.pages import env, localize, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(localize)])

LETTER_STATES = {
    "draft": NC_("letter state", "draft"),
    "approved": NC_("letter state", "approved"),
    "queued": NC_("letter state", "queued"),
    "sent": NC_("letter state", "sent"),
    "posted": NC_("letter state", "posted"),
    "delivered": NC_("letter state", "delivered"),
    "bounced": NC_("letter state", "bounced"),
    "returned": NC_("letter state", "returned"),
    "cancelled": NC_("letter state", "cancelled"),
}
LETTER_KINDS = {
    "reply": NC_("letter kind", "Reply"),
    "acknowledgement": NC_("letter kind", "Acknowledgement of receipt"),
    "request_to_complete": NC_("letter kind", "Request to complete"),
    "extension": NC_("letter kind", "Extension notice"),
}
OUT_CHANNELS = {"email": NC_("letter channel", "E-mail"), "post": NC_("letter channel", "Post")}
DECISIONS = {
    "accepted": NC_("decision", "Accepted"),
    "partly_accepted": NC_("decision", "Partly accepted"),
    "rejected": NC_("decision", "Rejected"),
}
CLOCK_EVENTS = {
    "sla.started": NC_("clock", "clock started"),
    "sla.warning": NC_("clock", "deadline near"),
    "sla.breached": NC_("clock", "deadline missed"),
    "sla.statutory_breached": NC_("clock", "statutory deadline missed"),
    "sla.case_clock_moved": NC_("clock", "case deadline moved"),
    "work_item.dispatched": NC_("clock", "answer dispatched: the statutory clock stopped"),
    "work_item.on_hold": NC_("clock", "put on hold"),
    "work_item.resumed": NC_("clock", "resumed"),
    "work_item.letter_extension": NC_("clock", "deadline extended"),
    "work_item.letter_acknowledgement": NC_("clock", "receipt acknowledged"),
    "work_item.reply_bounced": NC_("clock", "reply bounced: the clock runs again"),
    "work_item.reply_returned": NC_("clock", "letter returned by the post: the clock runs again"),
}


def _named(table: dict[str, str], context: str, code: str | None) -> str:
    if not code:
        return ""
    english = table.get(code)
    return i18n.pgettext(context, english) if english else code


env.filters.update({
    "letter_state": lambda code: _named(LETTER_STATES, "letter state", code),
    "letter_kind": lambda code: _named(LETTER_KINDS, "letter kind", code),
    "letter_channel": lambda code: _named(OUT_CHANNELS, "letter channel", code),
    "decision": lambda code: _named(DECISIONS, "decision", code),
    "clock_event": lambda code: _named(CLOCK_EVENTS, "clock", code),
})


def local_day_time(day: Any, zone: str, hour: int = 12) -> datetime:
    """A date a person typed (a return receipt's) as a time: that day at ``hour`` in their zone, in UTC."""
    return datetime.combine(day, time(hour), tzinfo=ZoneInfo(zone)).astimezone(UTC)


@router.get("/cases/{case_id}")
def case_page(case_id: int, request: Request, user: CurrentUser, session: SessionDep) -> HTMLResponse:
    """The case's timeline, oldest first. An agent sees only cases whose items are all in their queues."""
    if not 0 < case_id < 2**63:
        raise HTTPException(404, _("Not found."))
    try:
        entries = case_timeline(session, case_id)
    except NotFound:
        raise HTTPException(404, _("Not found.")) from None
    items = sorted({e.work_item_id for e in entries if e.work_item_id is not None})
    if user.role == Role.AGENT.value:
        for item_id in items:
            _scoped(session, user, item_id)  # 404 as for a missing case
    rows = {i.id: i for i in session.scalars(select(WorkItem).where(WorkItem.id.in_(items)))} if items else {}
    record(session, user.username, "case.viewed", detail={"case_id": case_id})
    return render(request, "case.html", case_id=case_id, entries=entries, items=rows,
                  auditor=user.role in (Role.AUDITOR.value, Role.ADMIN.value),
                  agent=user.role in (Role.AGENT.value, Role.SUPERVISOR.value, Role.ADMIN.value))
