"""The supervisors' pages: every queue's figures, and the routing rules and SLA policies as loaded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from ground.errors import ConfigError
from queues.routing import load_rules
from queues.sla import load_policies
from storage.models import Role, User
from web.deps import CtxDep, CurrentUser, SessionDep
from web.pages import localize, queue_rows, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(localize)])


def _validated(path: Path, loader: Callable[[Path], Any]) -> tuple[Any, str]:
    """The file as ``loader`` reads it now, or None and the reason it is refused (the page shows both)."""
    try:
        return loader(path), ""
    except ConfigError as exc:
        return None, exc.reason


@router.get("/supervisor")
def supervisor_page(request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> HTMLResponse:
    rules, rules_error = _validated(ctx.settings.routing_rules, load_rules)
    policies, policies_error = _validated(ctx.settings.sla_policies, load_policies)
    agents = list(session.scalars(select(User).where(User.role == Role.AGENT.value).order_by(User.username)))
    return render(request, "supervisor.html", queues=queue_rows(session, ctx, None, datetime.now(UTC)),
                  rules=rules or ctx.rules, rules_error=rules_error, rules_file=ctx.settings.routing_rules.name,
                  policies=policies or ctx.policies, policies_error=policies_error,
                  policies_file=ctx.settings.sla_policies.name, agents=agents)


@router.get("/supervisor/queues")
def supervisor_queues(request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> HTMLResponse:
    return render(request, "_supervisor_queues.html", queues=queue_rows(session, ctx, None, datetime.now(UTC)))
