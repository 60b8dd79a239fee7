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

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ground import i18n
from ground.errors import MailroomError
from ground.i18n import _
from queues import work
from queues.calendar import BusinessCalendar, business_time_between
from queues.sla import SlaPolicies
from storage.audit import record
from storage.db import session_scope
from storage.models import Role, User, WorkItem, WorkItemState
from storage.users import (
    FAILURE_WINDOW,
    MAX_PASSWORD_LENGTH,
    WRONG_CURRENT,
    LoginThrottled,
    PasswordRefused,
    authenticate,
    change_own_password,
    check_throttle,
    clear_failures,
    record_failure,
)
from web.deps import (
    CSRF_FIELD,
    CtxDep,
    CurrentUser,
    OptionalUser,
    SessionDep,
    check_login_form_token,
    client_ip,
    csrf_token,
    end_session,
    set_login_token,
    start_session,
)


def request_local(request: Request, user: User | None) -> i18n.Local:
    """The language and time zone of this request's pages: the user's own, else the browser's language and
    the site's zone, else the site's language (MAILROOM_LANGUAGE, MAILROOM_TIME_ZONE)."""
    settings = request.app.state.ctx.settings
    language = i18n.choose_language(getattr(user, "language", None), request.headers.get("accept-language"),
                                    settings.language)
    zone = getattr(user, "time_zone", None)
    return i18n.Local(language, zone if i18n.valid_zone(zone) else settings.time_zone)


async def localize(request: Request, user: OptionalUser) -> None:
    """Every page route's dependency: what the handler says (flash messages, errors) is in the user's
    language. It runs in the request's own task, so the handler (in a worker thread) inherits it."""
    local = request_local(request, user)
    request.state.local = local
    i18n.set_default(local.language, local.zone)


router = APIRouter(include_in_schema=False, dependencies=[Depends(localize)])

WEB = Path(__file__).resolve().parent.parent
STATIC = WEB / "static"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HOME = {Role.SCANNER.value: "/mailroom", Role.AGENT.value: "/agent", Role.SUPERVISOR.value: "/supervisor",
        Role.AUDITOR.value: "/auditor", Role.ADMIN.value: "/supervisor"}
OPEN_STATES = [s.value for s in work.OPEN]

env = Environment(loader=FileSystemLoader(WEB / "templates"), autoescape=select_autoescape(default=True),
                  trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.i18n"])
# {% trans %}, _() and ngettext() in templates: the catalogs of ground/locale in the language in force.
env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext,  # type: ignore[attr-defined]
                              npgettext=i18n.npgettext)


def _age(value: datetime | None, now: datetime | None = None) -> str:
    return "" if value is None else i18n.format_age((now or datetime.now(UTC)) - value)


def _time(value: datetime | None) -> Markup:
    """A time in the reader's zone and language, machine-readable too (``<time datetime=…>``)."""
    if value is None:
        return Markup("")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        value.astimezone(UTC).isoformat(), i18n.zone_abbreviation(value), i18n.format_datetime(value, "short"))


@pass_context
def _queue_label(context: Any, queue_id: str | None) -> str:
    """A queue's name (by its id) in the reader's language."""
    names = context.get("queue_names") or {}
    return i18n.queue_name(names.get(queue_id, queue_id)) if queue_id else ""


def _period(period: Any) -> str:
    """A statutory period (queues.sla.Period) as people say it: ``30 dni kalendarzowych``, ``1 месяц``."""
    n, unit = int(period.n), period.unit
    if unit == "working":
        return i18n.ngettext("%(num)d working day", "%(num)d working days", n) % {"num": n}
    if unit == "month":
        return i18n.ngettext("%(num)d month", "%(num)d months", n) % {"num": n}
    return i18n.ngettext("%(num)d calendar day", "%(num)d calendar days", n) % {"num": n}


env.globals["date_hint"] = i18n.date_hint
env.globals["hours_format"] = lambda: i18n.gettext(i18n.HOURS_FORMAT)  # the SLA clock's script fills it in
env.filters.update({
    "queue_label": _queue_label,
    "hours": i18n.format_hours,
    "period": _period,
    "date_input": i18n.format_date_input,
    "reason": lambda text: i18n.gettext(text) if text else "",  # a lower layer's reason: plain text, escaped
    "dt": lambda value: i18n.format_datetime(value, "short"),
    "dts": lambda value: i18n.format_datetime(value, "medium"),
    "time": _time,
    "day": i18n.format_date,
    "age": _age,
    "number": i18n.format_decimal,
    "category": i18n.category_name,
    "flag": i18n.flag_name,
    "envelope_state": i18n.envelope_state_name,
    "document_state": i18n.document_state_name,
    "item_state": i18n.item_state_name,
    "sla_state": i18n.sla_state_name,
    "channel": i18n.channel_name,
    "role": i18n.role_name,
    "outcome": i18n.outcome_name,
    "entity": i18n.entity_name,
    "queue_name": i18n.queue_name,
    "language": i18n.language_name,
    "audit_action": i18n.audit_action_name,
})


def render(request: Request, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    user = getattr(request.state, "user", None)
    local = getattr(request.state, "local", None) or request_local(request, user)
    has_events = user is not None and user.role in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)  # /api/events
    with i18n.use(local.language, local.zone):
        html = env.get_template(name).render(request=request, user=user, csrf=csrf_token(request),
                                             csrf_field=CSRF_FIELD, home=HOME, has_events=has_events,
                                             lang=local.language, queue_names=_queue_names(request), **values)
    return HTMLResponse(html, status_code=status_code, headers={
        "Content-Security-Policy": CSP, "Cache-Control": "no-store", "Content-Language": local.language,
        "Vary": "Accept-Language, Cookie"})


def _queue_names(request: Request) -> dict[str, str]:
    try:
        return {q.id: q.name for q in request.app.state.ctx.rules.queues}
    except Exception:  # noqa: BLE001 - a broken routing.yaml must not take the pages down with it
        return {}


def page_error(exc: MailroomError) -> str:
    """What a page says about a refused action: the reason in the reader's language where the catalogs know
    it (fixed sentences, and the kinds of refusal by their code), else as the lower layer gave it."""
    if isinstance(exc, LoginThrottled):
        minutes = int(FAILURE_WINDOW.total_seconds() // 60)
        return i18n.ngettext("Too many failed sign-ins from this address; wait %(num)d minute or ask an "
                             "administrator.", "Too many failed sign-ins from this address; wait %(num)d minutes "
                             "or ask an administrator.", minutes) % {"num": minutes}
    translated = _(exc.reason)
    if translated != exc.reason:
        return translated
    if exc.code == "conflict":
        return _("Someone else has just changed this item; the page shows it as it is now.")
    if exc.code == "not_found":
        return _("Not found.")
    return exc.reason


# ---------------------------------------------------------------- SLA clocks as the reader sees them


@dataclass
class SlaView:
    """The binding deadline of an item for a page: its state (with a word, never colour alone), the working
    time left on the calendar the clock counts on, and whether that calendar is open now."""

    state: str  # ok | risk | breached
    seconds_left: int  # working seconds on the clock's calendar
    open_seconds: int  # seconds until the calendar closes (0: closed now; the clock stands still)
    calendar: str

    @property
    def left(self) -> str:
        return i18n.format_hours(self.seconds_left)


def clock_calendar(item: WorkItem, policies: SlaPolicies) -> BusinessCalendar:
    """The calendar the item's binding clock counts on: an internal target's (or its jurisdiction's) business
    calendar; a statutory deadline runs in calendar days, every hour counting."""
    language = (item.document.language if item.document else None) or "und"
    jurisdiction = policies.jurisdictions[policies.jurisdiction_for(language)]
    local_cal = policies.calendar(jurisdiction.calendar)
    kind, _sep, name = (item.sla_policy or "").partition(":")
    if kind == "internal":
        target = next((t for t in policies.internal if t.name == name), None)
        if target is not None and target.calendar:
            return policies.calendar(target.calendar)
        return local_cal
    return BusinessCalendar.always_open(local_cal.tz)


def sla_view(item: WorkItem, policies: SlaPolicies, now: datetime) -> SlaView:
    state = ("breached" if item.sla_due <= now else
             "risk" if item.warn_at is not None and item.warn_at <= now else "ok")
    try:
        cal = clock_calendar(item, policies)
    except (KeyError, ValueError):
        cal = BusinessCalendar.always_open()
    start = now
    if item.state == WorkItemState.ON_HOLD.value and item.holds and item.holds[-1][1] is None:
        start = min(now, datetime.fromisoformat(item.holds[-1][0]))  # on hold: the clock stopped then
    left = business_time_between(start, item.sla_due, cal)
    open_now = 0
    if item.state != WorkItemState.ON_HOLD.value and left > timedelta(0):
        day = now.astimezone(cal.zone).date()
        for d in (day - timedelta(days=1), day):
            for a, b in cal.open_intervals(d):
                if a <= now < b:
                    open_now = int((b - now).total_seconds())
    return SlaView(state, int(left.total_seconds()), open_now, cal.name or cal.tz)


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
        raise HTTPException(404, _("Not found."))
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
        return again(_("The sign-in form was out of date; please try again."), 400)
    with session_scope(ctx.db_url) as s:
        try:
            check_throttle(s, username, ip, now)
        except LoginThrottled as exc:
            return again(page_error(exc), 429)
    user = authenticate(session, username, password)
    with session_scope(ctx.db_url) as s:  # own transaction: kept whatever this request does next
        if user is None:
            record_failure(s, username, ip, now)
        else:
            clear_failures(s, username, ip)
    if user is None:
        return again(_("Wrong user name or password."), 401)
    record(session, user.username, "user.signed_in", detail={"ip": ip})
    session.flush()
    target = _safe_next(next)
    if target == "/":
        target = HOME.get(user.role, "/")
    response = RedirectResponse(target, status_code=303)
    start_session(request, response, ctx, user)
    return response


@router.post("/logout")
def logout(request: Request, user: CurrentUser, session: SessionDep) -> RedirectResponse:
    record(session, user.username, "user.signed_out")
    response = RedirectResponse("/login?" + urlencode({"message": _("You have signed out.")}), status_code=303)
    end_session(response, request)  # ended in the database too: a copy of the cookie no longer signs in
    return response


# ---------------------------------------------------------------- the user's own language and time zone


def time_zones() -> list[str]:
    """The zones a person may choose: the IANA regions' cities (no legacy aliases such as ``Poland``)."""
    from zoneinfo import available_timezones

    regions = ("Africa/", "America/", "Asia/", "Atlantic/", "Australia/", "Europe/", "Indian/", "Pacific/")
    return ["UTC", *sorted(z for z in available_timezones() if z.startswith(regions))]


def _profile(request: Request, user: User, message: str = "", error: str = "", status_code: int = 200,
             password_error: str = "") -> HTMLResponse:
    settings = request.app.state.ctx.settings
    return render(request, "profile.html", status_code, message=message, error=error, password_error=password_error,
                  languages=i18n.ENDONYMS,
                  zones=time_zones(), site_zone=settings.time_zone,
                  browser_language=i18n.negotiate(request.headers.get("accept-language")),
                  site_language=settings.language)


@router.get("/profile")
def profile_page(request: Request, user: CurrentUser, message: str = "") -> HTMLResponse:
    return _profile(request, user, message=message[:200])


@router.post("/profile")
def profile_save(request: Request, user: CurrentUser, session: SessionDep,
                 language: Annotated[str, Form(max_length=8)] = "",
                 time_zone: Annotated[str, Form(max_length=64)] = "") -> Response:
    if (language and language not in i18n.LANGUAGES) or (time_zone and time_zone not in set(time_zones())):
        return _profile(request, user, error=_("Choose a language and a time zone from the lists."), status_code=422)
    user.language, user.time_zone = language or None, time_zone or None
    record(session, user.username, "user.preferences_set", detail={"language": language, "time_zone": time_zone})
    session.flush()
    with i18n.use(i18n.choose_language(user.language, request.headers.get("accept-language"),
                                       request.app.state.ctx.settings.language)):
        saved = _("Your settings are saved.")
    return RedirectResponse("/profile?" + urlencode({"message": saved}), status_code=303)


@router.post("/profile/password")
def profile_password(request: Request, ctx: CtxDep, user: CurrentUser, session: SessionDep,
                     current: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)],
                     new: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)],
                     new_again: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)]) -> Response:
    """The user's own password (issue 19): the current one (a wrong one counts as a failed sign-in, and the
    sign-in throttle applies), then the new one twice. Every session of the user ends, here too; this browser
    is signed in again with a new session, so the user stays where they are."""
    now, ip = datetime.now(UTC), client_ip(request)
    with session_scope(ctx.db_url) as s:
        try:
            check_throttle(s, user.username, ip, now)
        except LoginThrottled as exc:
            return _profile(request, user, password_error=page_error(exc), status_code=429)
    if new != new_again:
        return _profile(request, user, password_error=_("The two new passwords differ; type the same one twice."),
                        status_code=422)
    try:
        change_own_password(session, user, current, new, now)
    except PasswordRefused as exc:
        session.rollback()
        if exc.reason == WRONG_CURRENT:
            with session_scope(ctx.db_url) as s:  # own transaction: kept whatever this request does next
                record_failure(s, user.username, ip, now)
        return _profile(request, user, password_error=page_error(exc), status_code=422)
    message = _("Your password is changed; you were signed out everywhere else.")
    response = RedirectResponse("/profile?" + urlencode({"message": message}), status_code=303)
    start_session(request, response, ctx, user)  # the old cookie names an ended session with the old password
    return response
