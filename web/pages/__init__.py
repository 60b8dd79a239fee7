"""Server-rendered pages (Jinja2 + htmx): what every role's pages share, and signing in and out.

One module per role holds that role's pages: web/pages/mailroom.py (mailroom staff), agent.py,
supervisor.py and archive.py (auditors); each exposes ``router``, included by web/app.py. Routes
are thin: they call the same Python functions as the API (intake, queues.work, storage), never the
API over HTTP. Who may open what is the table in web/deps.py.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from queues import work
from storage.audit import record
from storage.db import session_scope
from storage.models import Role, WorkItem, WorkItemState
from storage.users import LoginThrottled, authenticate, check_throttle, clear_failures, record_failure
from web.deps import (
    CSRF_FIELD,
    CtxDep,
    CurrentUser,
    SessionDep,
    check_login_form_token,
    client_ip,
    csrf_token,
    end_session,
    set_login_token,
    start_session,
)
from web.ui_text import t

router = APIRouter(include_in_schema=False)

WEB = Path(__file__).resolve().parent.parent
STATIC = WEB / "static"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HOME = {Role.SCANNER.value: "/mailroom", Role.AGENT.value: "/agent", Role.SUPERVISOR.value: "/supervisor",
        Role.AUDITOR.value: "/auditor", Role.ADMIN.value: "/supervisor"}
OPEN_STATES = [s.value for s in work.OPEN]

env = Environment(loader=FileSystemLoader(WEB / "templates"), autoescape=select_autoescape(default=True),
                  trim_blocks=True, lstrip_blocks=True)
env.globals["t"] = t


def _fmt_dt(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(UTC).strftime(fmt) + " UTC" if value else ""


def _age(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return ""
    seconds = int(((now or datetime.now(UTC)) - value).total_seconds())
    if seconds < 3600:
        return f"{max(seconds, 0) // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


env.filters["dt"] = _fmt_dt
env.filters["age"] = _age


def render(request: Request, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    user = getattr(request.state, "user", None)
    has_events = user is not None and user.role in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)  # /api/events
    html = env.get_template(name).render(request=request, user=user, csrf=csrf_token(request),
                                         csrf_field=CSRF_FIELD, home=HOME, has_events=has_events, **values)
    return HTMLResponse(html, status_code=status_code, headers={"Content-Security-Policy": CSP,
                                                                 "Cache-Control": "no-store"})


# ---------------------------------------------------------------- queue figures (agent and supervisor pages)


@dataclass
class QueueRow:
    id: str
    name: str
    counts: dict[str, int]
    at_risk: int
    breached: int
    oldest: datetime | None
    done_last_hour: int = 0

    @property
    def depth(self) -> int:
        return sum(self.counts.get(s, 0) for s in OPEN_STATES)

    @property
    def colour(self) -> str:
        return "breached" if self.breached else "risk" if self.at_risk else "ok"


def queue_rows(session: Session, ctx: Any, queue_ids: list[str] | None, now: datetime) -> list[QueueRow]:
    counts = work.queue_counts(session)
    names = {q.id: q.name for q in ctx.rules.queues}
    ids = list(names) + sorted(set(counts) - set(names))
    if queue_ids is not None:
        ids = [q for q in ids if q in set(queue_ids)]
    open_ = WorkItem.state.in_(OPEN_STATES)
    risk = dict(session.execute(select(WorkItem.queue, func.count()).where(
        open_, WorkItem.warn_at <= now, WorkItem.sla_due > now).group_by(WorkItem.queue)).all())
    breached = dict(session.execute(select(WorkItem.queue, func.count()).where(
        open_, WorkItem.sla_due <= now).group_by(WorkItem.queue)).all())
    oldest = dict(session.execute(select(WorkItem.queue, func.min(WorkItem.created_at)).where(open_)
                                  .group_by(WorkItem.queue)).all())
    done = dict(session.execute(select(WorkItem.queue, func.count()).where(
        WorkItem.state == WorkItemState.DONE, WorkItem.updated_at > now - timedelta(hours=1))
        .group_by(WorkItem.queue)).all())
    empty = {s.value: 0 for s in WorkItemState}
    return [QueueRow(q, names.get(q, q), counts.get(q, empty), risk.get(q, 0), breached.get(q, 0),
                     oldest.get(q), done.get(q, 0)) for q in ids]


# ---------------------------------------------------------------- a letter's text (agent and auditor pages)


_SEPARATORS = r"[\s\-./()]*"


def _entity_pattern(name: str, value: str) -> str | None:
    """A loose pattern finding how ``value`` (normalised) was written in the text."""
    if name == "amount":
        number = value.split(" ")[0]
        whole, _, cents = number.partition(".")
        groups = re.sub(r"(\d)(?=(\d{3})+$)", lambda m: m.group(1) + "[\\s.,\u00a0]?", whole)
        return groups + (rf"[.,]{cents}" if cents and cents != "00" else rf"(?:[.,]{cents})?")
    if name == "date":
        return None
    if name == "phone":
        digits = re.sub(r"\D", "", value)[-9:]
        return _SEPARATORS.join(digits) if len(digits) >= 7 else None
    chars = [re.escape(c) for c in value if c.isalnum() or c in "@"]
    if name == "email":
        return re.escape(value)
    return _SEPARATORS.join(chars) if len(chars) >= 4 else None


def highlight(text: str, entities: dict[str, Any]) -> Markup:
    """The recognised text, escaped, with entity values wrapped in <mark>."""
    spans: list[tuple[int, int, str]] = []
    for name, values in (entities or {}).items():
        for value in values if isinstance(values, list) else [values]:
            pattern = _entity_pattern(name, str(value))
            if pattern is None:
                continue
            for m in re.finditer(pattern, text, re.IGNORECASE):
                spans.append((m.start(), m.end(), name))
    spans.sort()
    out: list[str] = []
    pos = 0
    for start, end, name in spans:
        if start < pos or end == start:
            continue
        out.append(str(escape(text[pos:start])))
        out.append(f'<mark class="ent ent-{escape(name)}" title="{escape(name)}">{escape(text[start:end])}</mark>')
        pos = end
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))


# ---------------------------------------------------------------- static files and sign-in


@router.get("/static/{path:path}")
def static(path: str) -> FileResponse:
    target = (STATIC / path).resolve()
    if not target.is_file() or STATIC not in target.parents:
        raise HTTPException(404, "Not found.")
    return FileResponse(target, headers={"Cache-Control": "public, max-age=3600"})


@router.get("/")
def home(user: CurrentUser) -> RedirectResponse:
    return RedirectResponse(HOME.get(user.role, "/login"), status_code=303)


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


def _login_response(request: Request, ctx: Any, status_code: int = 200, **values: Any) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", status_code, login_token=token, **values)
    set_login_token(request, response, ctx, token)
    return response


@router.get("/login")
def login_page(request: Request, ctx: CtxDep, next: str = "/", message: str = "") -> HTMLResponse:
    return _login_response(request, ctx, next=_safe_next(next), message=message[:200], error="")


@router.post("/login")
def login(request: Request, ctx: CtxDep, session: SessionDep,
          username: Annotated[str, Form(max_length=64)], password: Annotated[str, Form(max_length=500)],
          csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
          next: Annotated[str, Form(max_length=500)] = "/") -> Response:
    now = datetime.now(UTC)
    ip = client_ip(request)

    def again(error: str, status_code: int) -> Response:
        return _login_response(request, ctx, status_code, next=_safe_next(next), message="", error=error)

    if not check_login_form_token(request, ctx, csrf_token):
        return again(t("login.expired"), 400)
    with session_scope(ctx.db_url) as s:
        try:
            check_throttle(s, username, ip, now)
        except LoginThrottled as exc:
            return again(exc.reason, 429)
    user = authenticate(session, username, password)
    with session_scope(ctx.db_url) as s:  # own transaction: kept whatever this request does next
        if user is None:
            record_failure(s, username, ip, now)
        else:
            clear_failures(s, username, ip)
    if user is None:
        return again(t("login.failed"), 401)
    record(session, user.username, "user.signed_in", detail={"ip": ip})
    session.flush()
    target = _safe_next(next)
    if target == "/":
        target = HOME.get(user.role, "/")
    response = RedirectResponse(target, status_code=303)
    start_session(request, response, ctx, user)
    return response


@router.post("/logout")
def logout(user: CurrentUser, session: SessionDep) -> RedirectResponse:
    record(session, user.username, "user.signed_out")
    response = RedirectResponse("/login?" + urlencode({"message": t("login.signed_out")}), status_code=303)
    end_session(response)
    return response
