"""Server-rendered pages (Jinja2 + htmx) for mailroom staff, agents, supervisors and auditors.

Routes are thin: they call the same Python functions as the API (intake, queues.work,
storage), never the API over HTTP. Who may open what is the table in web/deps.py.
"""

from __future__ import annotations

import csv
import importlib
import io
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, StreamingResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from redis.exceptions import RedisError
from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from ground.errors import ConfigError, MailroomError
from ground.records import CATEGORIES
from queues import work
from storage.audit import record
from storage.db import session_scope
from storage.models import (
    AuditEvent,
    Document,
    Envelope,
    EnvelopeState,
    Role,
    User,
    WorkItem,
    WorkItemState,
)
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
    visible_queues,
)
from web.ui_text import t

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HOME = {Role.SCANNER.value: "/mailroom", Role.AGENT.value: "/agent", Role.SUPERVISOR.value: "/supervisor",
        Role.AUDITOR.value: "/auditor", Role.ADMIN.value: "/supervisor"}
OPEN_STATES = [s.value for s in work.OPEN]
PAGE_SIZE = 25
EXPORT_PAGE, EXPORT_MAX = 200, 10_000  # rows per search call, rows per CSV export
PAGE_IMAGE_WIDTH = 1400

env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
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
    has_events = user is not None and user.role in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN) and any(
        getattr(r, "path", "") == "/api/events" for r in request.app.routes)
    html = env.get_template(name).render(request=request, user=user, csrf=csrf_token(request),
                                         csrf_field=CSRF_FIELD, home=HOME, has_events=has_events, **values)
    return HTMLResponse(html, status_code=status_code, headers={"Content-Security-Policy": CSP,
                                                                 "Cache-Control": "no-store"})


def _optional(module: str, name: str) -> Any:
    """A function another part of Mailroom may provide (built in parallel); None when absent."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


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


# ---------------------------------------------------------------- mailroom


def _envelopes_for(session: Session, user: User, states: list[str] | None, limit: int) -> list[Envelope]:
    q = select(Envelope).order_by(Envelope.received_at.desc()).limit(limit)
    if states:
        q = q.where(Envelope.state.in_(states))
    if user.role == Role.SCANNER.value:
        q = q.where(Envelope.submitted_by == user.username)
    return list(session.scalars(q))


@router.get("/mailroom")
def mailroom_page(request: Request, user: CurrentUser, session: SessionDep) -> HTMLResponse:
    return render(request, "mailroom.html", channels=["scan", "fax", "email", "upload"],
                  batches=_envelopes_for(session, user, None, 30),
                  quarantined=_envelopes_for(session, user, [EnvelopeState.QUARANTINED, EnvelopeState.NEEDS_HUMAN],
                                             50))


@router.get("/mailroom/batches")
def mailroom_batches(request: Request, user: CurrentUser, session: SessionDep) -> HTMLResponse:
    return render(request, "_batches.html", batches=_envelopes_for(session, user, None, 30))


@router.get("/mailroom/quarantine")
def mailroom_quarantine(request: Request, user: CurrentUser, session: SessionDep) -> HTMLResponse:
    states = [EnvelopeState.QUARANTINED, EnvelopeState.NEEDS_HUMAN]
    return render(request, "_quarantine.html", quarantined=_envelopes_for(session, user, states, 50), message="")


@router.post("/mailroom/quarantine/{envelope_id}/retry")
def mailroom_retry(envelope_id: str, request: Request, user: CurrentUser, session: SessionDep,
                   ctx: CtxDep) -> HTMLResponse:
    env_ = session.get(Envelope, envelope_id)
    states = (EnvelopeState.QUARANTINED, EnvelopeState.NEEDS_HUMAN)
    if env_ is None or env_.state not in states or (
            user.role == Role.SCANNER.value and env_.submitted_by != user.username):
        raise HTTPException(404, "Not found.")
    session.commit()
    retry = _optional("pipeline.quarantine", "retry")
    if retry is not None:  # intake/quarantine.py: back to received, type sniffed again, audited
        retry(ctx, envelope_id, user.username, datetime.now(UTC))
    else:
        env_.state, env_.error, env_.attempts = EnvelopeState.RECEIVED, None, 0
        record(session, user.username, "envelope.retry", envelope_id=envelope_id)
        session.commit()
    from pipeline.jobs import enqueue_read, job_queue

    try:
        enqueue_read(job_queue(ctx.settings), envelope_id)
    except (RedisError, OSError) as exc:  # committed as received: the reconciler will enqueue it
        log.warning("could not enqueue %s now (%s); the reconciler will", envelope_id, exc)
    session.expire_all()
    return render(request, "_quarantine.html", message=t("mailroom.retried"),
                  quarantined=_envelopes_for(session, user, list(states), 50))


# ---------------------------------------------------------------- agent


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


def _my_queue_ids(session: Session, user: User, ctx: Any) -> list[str]:
    return visible_queues(session, user, [q.id for q in ctx.rules.queues])


def _agent_view(session: Session, ctx: Any, user: User) -> dict[str, Any]:
    now = datetime.now(UTC)
    mine = list(session.scalars(select(WorkItem).where(
        WorkItem.assignee == user.username, WorkItem.state.in_([WorkItemState.CLAIMED, WorkItemState.ON_HOLD]))
        .order_by(WorkItem.sla_due)))
    return {"queues": queue_rows(session, ctx, _my_queue_ids(session, user, ctx), now), "mine": mine, "now": now}


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
        raise HTTPException(404, "Not found.")
    return item


@router.post("/agent/queues/{queue}/next")
def agent_next(queue: str, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> RedirectResponse:
    if queue not in set(_my_queue_ids(session, user, ctx)):
        raise HTTPException(404, "Not found.")
    item = work.next_item(session, queue, user.username, datetime.now(UTC))
    if item is None:
        return RedirectResponse("/agent?" + urlencode({"message": t("agent.empty", queue=queue)}), status_code=303)
    return RedirectResponse(f"/agent/items/{item.id}", status_code=303)


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


def _page_numbers(doc: Document) -> list[int]:
    pages = [int(p["page"]) for p in doc.page_flags or [] if isinstance(p, dict) and "page" in p
             and "blank" not in (p.get("flags") or [])]
    return pages or list(range(doc.first_page, doc.first_page + doc.pages))


def _part_type(ctx: Any, doc: Document) -> tuple[bytes, str]:
    from ocr import sniff_type

    data = ctx.blobs.get(doc.part_sha256)
    try:
        return data, sniff_type(data, doc.part_name)
    except MailroomError:
        return data, "application/octet-stream"


def _has_images(ctx: Any, doc: Document) -> bool:
    _, ctype = _part_type(ctx, doc)
    return ctype == "application/pdf" or ctype.startswith("image/")


def render_page_png(ctx: Any, doc: Document, n: int) -> bytes:
    """The ``n``-th (1-based) page of a letter as a PNG, at most PAGE_IMAGE_WIDTH pixels wide."""
    from ocr.pages import PDFIUM_LOCK, iter_image_pages, open_pdf, render_pdf_page

    numbers = _page_numbers(doc)
    if not 1 <= n <= len(numbers):
        raise HTTPException(404, "Not found.")
    number = numbers[n - 1]
    data, ctype = _part_type(ctx, doc)
    if ctype == "application/pdf":
        with PDFIUM_LOCK:
            pdf = open_pdf(data, ctx.settings)
            try:
                image = render_pdf_page(pdf, number - 1, ctx.settings, dpi=130).image
            finally:
                pdf.close()
    elif ctype.startswith("image/"):
        page = next(iter_image_pages(data, ctx.settings, range(number - 1, number)), None)
        if page is None:
            raise HTTPException(404, "Not found.")
        image = page.image
    else:
        raise HTTPException(404, "Not found.")
    if image.width > PAGE_IMAGE_WIDTH:
        image = image.resize((PAGE_IMAGE_WIDTH, round(image.height * PAGE_IMAGE_WIDTH / image.width)))
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _earlier(session: Session, doc: Document, limit: int = 10) -> list[Document]:
    customers = (doc.entities or {}).get("customer_id") or []
    if not customers:
        return []
    text_col = cast(Document.entities, String)
    cond = or_(*[text_col.like(f'%"{c}"%') for c in customers if isinstance(c, str)])
    q = (select(Document).where(cond, Document.id != doc.id).order_by(Document.created_at.desc()).limit(limit))
    return list(session.scalars(q))


def _actions() -> list[str]:
    """Work-item transitions queues.work provides (hold/transfer/reclassify are built separately)."""
    return [n for n in ("claim", "complete", "hold", "resume", "transfer", "reclassify")
            if callable(getattr(work, n, None))]


def _apply(action: str, session: Session, ctx: Any, item_id: int, actor: str, now: datetime,
           form: dict[str, str]) -> None:
    fn = getattr(work, action)
    if action == "complete" and form.get("outcome"):
        fn(session, item_id, actor, now, outcome=form["outcome"])
    elif action == "hold":
        fn(session, item_id, actor, now, reason=form.get("reason", ""))
    elif action == "resume":
        fn(session, item_id, actor, now, ctx.policies)
    elif action == "transfer":
        fn(session, item_id, actor, now, form.get("queue", ""), ctx.rules, ctx.policies, reason=form.get("reason", ""))
    elif action == "reclassify":
        fn(session, item_id, actor, now, form.get("category", ""), ctx.rules, ctx.policies)
    else:
        fn(session, item_id, actor, now)


@router.get("/agent/items/{item_id}")
def agent_item(item_id: int, request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep,
               message: str = "") -> HTMLResponse:
    item = _visible_item(session, ctx, user, item_id)
    doc = item.document
    record(session, user.username, "document.viewed", document_id=doc.id, work_item_id=item.id,
           envelope_id=doc.envelope_id)
    now = datetime.now(UTC)
    return render(request, "item.html", item=item, doc=doc, envelope=doc.envelope, message=message,
                  text=highlight(doc.text or "", doc.entities or {}), pages=_page_numbers(doc),
                  has_images=_has_images(ctx, doc), earlier=_earlier(session, doc), actions=_actions(),
                  queues=ctx.rules.queues, categories=CATEGORIES, now=now, outcomes=getattr(work, "OUTCOMES", ()),
                  seconds_left=int((item.sla_due - now).total_seconds()))


@router.get("/agent/items/{item_id}/pages/{page}.png")
def agent_item_page(item_id: int, page: int, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> Response:
    item = _visible_item(session, ctx, user, item_id)
    png = render_page_png(ctx, item.document, page)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.post("/agent/items/{item_id}/{action}")
def agent_action(item_id: int, action: str, user: CurrentUser, session: SessionDep, ctx: CtxDep,
                 reason: Annotated[str, Form(max_length=500)] = "", outcome: Annotated[str, Form(max_length=500)] = "",
                 queue: Annotated[str, Form(max_length=64)] = "",
                 category: Annotated[str, Form(max_length=32)] = "") -> RedirectResponse:
    _visible_item(session, ctx, user, item_id)
    if action not in _actions():
        raise HTTPException(404, "Not found.")
    form = {"reason": reason, "outcome": outcome, "queue": queue, "category": category}
    _apply(action, session, ctx, item_id, user.username, datetime.now(UTC), form)
    session.commit()
    target = "/agent?" if action == "complete" else f"/agent/items/{item_id}?"
    return RedirectResponse(target + urlencode({"message": t("action.done", action=t(f"action.{action}"))}),
                            status_code=303)


# ---------------------------------------------------------------- supervisor


def _validated(path: Path, loader: Any) -> tuple[Any, str]:
    try:
        return loader(path), ""
    except ConfigError as exc:
        return None, exc.reason


@router.get("/supervisor")
def supervisor_page(request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> HTMLResponse:
    from queues.routing import load_rules
    from queues.sla import load_policies

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


# ---------------------------------------------------------------- auditor


@dataclass
class SearchFilters:
    q: str = ""
    date_from: date | None = None
    date_to: date | None = None
    channel: str = ""
    category: str = ""
    queue: str = ""
    language: str = ""
    customer: str = ""
    state: str = ""
    invoice: str = ""
    page: int = 1

    def query_string(self, **changes: Any) -> str:
        values = {k: v for k, v in {**self.__dict__, **changes}.items() if v not in ("", None)}
        return urlencode({k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items()})


def _filters(params: Any) -> SearchFilters:
    def day(value: str) -> date | None:
        try:
            return date.fromisoformat(value) if value else None
        except ValueError:
            return None

    def get(name: str, size: int) -> str:
        return str(params.get(name, "")).strip()[:size]

    page = get("page", 6)
    return SearchFilters(get("q", 200), day(get("date_from", 10)), day(get("date_to", 10)), get("channel", 10),
                         get("category", 32), get("queue", 64), get("language", 8), get("customer", 40),
                         get("state", 20), get("invoice", 40), int(page) if page.isdigit() and int(page) > 0 else 1)


def _search(session: Session, f: SearchFilters, per_page: int, page: int = 1) -> tuple[int, list[Any]]:
    """Letters matching the filters: (total, rows of (Document, Envelope, WorkItem | None, snippet)).
    Uses the archive's full-text index (storage/search.py) when present, else a simple LIKE search."""
    search = _optional("storage.search", "search")
    if search is None:
        return _like_search(session, f, per_page, page)
    from storage import search as archive

    filters = archive.Filters(
        date_from=f.date_from, date_to=f.date_to, channel=[f.channel] if f.channel else [],
        category=[f.category] if f.category else [], queue=[f.queue] if f.queue else [],
        language=[f.language] if f.language else [], status=[f.state] if f.state else [],
        customer=f.customer or None, entity=[f.invoice] if f.invoice else [])
    result = search(session, f.q, filters, "relevance" if f.q else "date", page, per_page)
    rows = []
    for hit in result.hits:
        doc = session.get(Document, hit.document_id)
        if doc is not None:
            rows.append((doc, doc.envelope, doc.work_item, Markup(hit.snippet)))  # escaped by storage.search
    return result.total, rows


def _like_search(session: Session, f: SearchFilters, per_page: int, page: int) -> tuple[int, list[Any]]:
    conds: list[Any] = []
    for word in f.q.split():
        conds.append(Document.text.ilike(f"%{_like(word)}%", escape="\\"))
    if f.date_from:
        conds.append(Envelope.received_at >= datetime.combine(f.date_from, time(), UTC))
    if f.date_to:
        conds.append(Envelope.received_at < datetime.combine(f.date_to + timedelta(days=1), time(), UTC))
    for col, value in ((Envelope.channel, f.channel), (Document.category, f.category), (WorkItem.queue, f.queue),
                       (Document.language, f.language), (WorkItem.state, f.state)):
        if value:
            conds.append(col == value)
    entities = cast(Document.entities, String)
    if f.customer:
        conds.append(entities.ilike(f"%{_like(f.customer)}%", escape="\\"))
    if f.invoice:
        conds.append(entities.ilike(f"%{_like(f.invoice)}%", escape="\\"))
    base = (select(Document, Envelope, WorkItem).join(Envelope, Document.envelope_id == Envelope.id)
            .outerjoin(WorkItem, WorkItem.document_id == Document.id).where(and_(*conds)))
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    q = base.order_by(Envelope.received_at.desc(), Document.id).offset((page - 1) * per_page).limit(per_page)
    words = f.q.split()
    return total, [(d, e, w, snippet(d.text or "", words)) for d, e, w in session.execute(q).all()]


def _like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def snippet(text: str, words: list[str], width: int = 90) -> Markup:
    """A piece of ``text`` around the first word found, escaped, the words in <mark>."""
    low = text.lower()
    hits = [low.find(w.lower()) for w in words if w and low.find(w.lower()) >= 0]
    start = max(min(hits) - width, 0) if hits else 0
    piece = text[start:start + 2 * width + 40].replace("\n", " ")
    if not words:
        return Markup(escape(piece))
    pattern = re.compile("|".join(re.escape(w) for w in words if w), re.IGNORECASE)
    out, pos = [], 0
    for m in pattern.finditer(piece):
        out += [str(escape(piece[pos:m.start()])), f"<mark>{escape(m.group(0))}</mark>"]
        pos = m.end()
    out.append(str(escape(piece[pos:])))
    return Markup(("…" if start else "") + "".join(out) + "…")


@router.get("/auditor")
def auditor_page(request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> HTMLResponse:
    f = _filters(request.query_params)
    searched = any(v not in ("", None) for k, v in f.__dict__.items() if k != "page")
    error = ""
    total, results = 0, []
    if searched:
        try:
            total, results = _search(session, f, PAGE_SIZE, f.page)
        except MailroomError as exc:  # e.g. a query of excluded words only
            error = exc.reason
        record(session, user.username, "archive.searched", detail={"query": f.query_string(page="")})
    return render(request, "auditor.html", f=f, total=total, results=results, searched=searched, error=error,
                  pages=(total + PAGE_SIZE - 1) // PAGE_SIZE, queues=ctx.rules.queues, categories=CATEGORIES,
                  channels=["scan", "fax", "email", "upload"], languages=["pl", "cs", "ru", "en"],
                  states=[s.value for s in WorkItemState])


@router.get("/auditor/export.csv")
def auditor_export(request: Request, user: CurrentUser, session: SessionDep) -> StreamingResponse:
    f = _filters(request.query_params)
    rows: list[Any] = []
    for page in range(1, EXPORT_MAX // EXPORT_PAGE + 1):
        total, found = _search(session, f, EXPORT_PAGE, page)
        rows += found
        if len(rows) >= total or not found:
            break
    record(session, user.username, "archive.exported", detail={"query": f.query_string(page=""), "rows": len(rows)})
    session.commit()
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(["document_id", "received_at", "channel", "source_name", "language", "category", "queue",
                  "state", "assignee", "sla_due", "customer_id", "invoice_no"])
    for d, e, w, _ in rows:
        ents = d.entities or {}
        out.writerow([d.id, e.received_at.isoformat(), e.channel, _csv_safe(e.source_name), d.language or "",
                      d.category or "", w.queue if w else "", w.state if w else d.state, w.assignee or "" if w else "",
                      w.sla_due.isoformat() if w else "", " ".join(ents.get("customer_id", [])),
                      " ".join(ents.get("invoice_no", []))])
    return StreamingResponse(iter([buf.getvalue()]), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="mailroom-archive.csv"'})


def _csv_safe(value: str) -> str:
    """Defuse spreadsheet formula injection in a value that came from outside."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@router.get("/auditor/documents/{document_id}")
def auditor_document(document_id: str, request: Request, user: CurrentUser, session: SessionDep) -> HTMLResponse:
    doc = session.get(Document, document_id)
    if doc is None:
        raise HTTPException(404, "Not found.")
    item = doc.work_item
    record(session, user.username, "document.viewed", document_id=doc.id, envelope_id=doc.envelope_id,
           work_item_id=item.id if item else None)
    session.flush()
    conds = [AuditEvent.document_id == doc.id, AuditEvent.envelope_id == doc.envelope_id]
    if item is not None:
        conds.append(AuditEvent.work_item_id == item.id)
    trail = list(session.scalars(select(AuditEvent).where(or_(*conds)).order_by(AuditEvent.at, AuditEvent.id)))
    return render(request, "document.html", doc=doc, envelope=doc.envelope, item=item, trail=trail,
                  text=highlight(doc.text or "", doc.entities or {}))


@router.get("/auditor/documents/{document_id}/original")
def auditor_original(document_id: str, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> Response:
    doc = session.get(Document, document_id)
    if doc is None:
        raise HTTPException(404, "Not found.")
    envelope = doc.envelope
    record(session, user.username, "original.downloaded", document_id=doc.id, envelope_id=envelope.id)
    session.commit()
    data = ctx.blobs.get(envelope.sha256)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", envelope.source_name)[-100:] or "original"
    return Response(data, media_type="application/octet-stream",  # never rendered: polyglots, SVG, HTML
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "X-Content-Type-Options": "nosniff",
                             "Content-Security-Policy": "default-src 'none'; sandbox",
                             "X-Original-Content-Type": envelope.content_type or ""})
