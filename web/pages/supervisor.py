"""The supervisors' pages: every queue's figures, and the routing rules and SLA policies as loaded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from ground.errors import ConfigError, MailroomError
from ground.i18n import _
from queues.reports import agent_figures
from queues.routing import load_rules
from queues.sla import load_policies
from replies import service
from storage import config_store
from storage.models import OutboundLetter, OutboundState, Role, User, WorkItem
from web.deps import CtxDep, CurrentUser, SessionDep
from web.pages import localize, page_error, queue_rows, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(localize)])


def _validated(path: Path, loader: Callable[[Path], Any]) -> tuple[Any, str]:
    """The file as ``loader`` reads it now, or None and the reason it is refused (the page shows both)."""
    try:
        return loader(path), ""
    except ConfigError as exc:
        return None, exc.reason


@router.get("/supervisor")
def supervisor_page(request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> HTMLResponse:
    # a version saved in the browser is in force and was validated when saved; until there is one, the file is
    rules_version, policies_version = config_store.current(session, "routing"), config_store.current(session, "sla")
    rules, rules_error = (ctx.rules, "") if rules_version else _validated(ctx.settings.routing_rules, load_rules)
    policies, policies_error = ((ctx.policies, "") if policies_version
                                else _validated(ctx.settings.sla_policies, load_policies))
    agents = list(session.scalars(select(User).where(User.role == Role.AGENT.value).order_by(User.username)))
    return render(request, "supervisor.html", queues=queue_rows(session, ctx, None, datetime.now(UTC)),
                  rules=rules or ctx.rules, rules_error=rules_error, rules_file=ctx.settings.routing_rules.name,
                  policies=policies or ctx.policies, policies_error=policies_error,
                  policies_file=ctx.settings.sla_policies.name, agents=agents,
                  rules_version=rules_version, policies_version=policies_version,
                  agent_figures=agent_figures(session, datetime.now(UTC), ctx.settings.time_zone))


@router.get("/supervisor/queues")
def supervisor_queues(request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> HTMLResponse:
    return render(request, "_supervisor_queues.html", queues=queue_rows(session, ctx, None, datetime.now(UTC)))


# ---------------------------------------------------------------- four eyes (issue 17)


@router.get("/supervisor/approvals")
def supervisor_approvals(request: Request, user: CurrentUser, session: SessionDep, message: str = "") -> HTMLResponse:
    """Replies that wait for a second person's approval (replies.yaml ``approval``), oldest first."""
    drafts = list(session.scalars(select(OutboundLetter).where(
        OutboundLetter.needs_approval.is_(True), OutboundLetter.state == OutboundState.DRAFT)
        .order_by(OutboundLetter.created_at, OutboundLetter.id)))
    items = {i.id: i for i in session.scalars(select(WorkItem).where(
        WorkItem.id.in_([d.work_item_id for d in drafts])))} if drafts else {}
    return render(request, "approvals.html", drafts=drafts, items=items, message=message[:300])


@router.post("/supervisor/approvals/{letter_id}")
def supervisor_approve(letter_id: str, user: CurrentUser, session: SessionDep) -> RedirectResponse:
    letter = session.get(OutboundLetter, letter_id) if len(letter_id) <= 36 else None
    if letter is None:
        raise HTTPException(404, _("Not found."))
    if letter.created_by == user.username:
        message = _("You wrote this letter: another supervisor must approve it (four eyes).")
    else:
        try:
            service.approve(session, letter_id, user.username, datetime.now(UTC))
            session.commit()
            message = _("Approved: the agent can send the reply now.")
        except MailroomError as exc:
            session.rollback()
            message = page_error(exc)
    return RedirectResponse("/supervisor/approvals?" + urlencode({"message": message}), status_code=303)
