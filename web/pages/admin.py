"""The administrators' pages (issue 19, "People and stations"): users (create, role, language and time zone,
disable and enable, password reset), an agent's queues and skills, and station tokens (upload-only, named,
with an expiry; revoked with a click). The same storage and queue functions as web/api_people.py; every change
is audited there, never with a password or token in the trail. A password or token the server makes is shown
on the answer to the form that made it, once, and never put in a URL."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from ground import i18n
from ground.errors import Conflict, InvalidRequest, MailroomError
from ground.i18n import N_, _
from ground.records import CATEGORIES
from queues import work
from storage import users as people
from storage.models import AgentSkill, ApiToken, Role, User
from web.api_people import (
    AGENTS_ONLY,
    NO_QUEUE,
    NOT_SELF,
    OWNER_MAY_NOT_UPLOAD,
    agent_queues,
    may_upload,
    set_agent_queues,
    token_state,
)
from web.deps import CtxDep, CurrentUser, SessionDep
from web.pages import localize, page_error, render, time_zones

router = APIRouter(include_in_schema=False, dependencies=[Depends(localize)])

# The lower layers' refusals, in fixed words: marked here for the catalogs, so page_error shows them translated.
REASONS = (
    N_("The password must have at least 8 characters."),
    N_("The password may have at most 500 characters."),
    N_("A user name has up to 64 letters, digits, dots, dashes, underscores or @, and starts with a letter or "
       "digit."),
    N_("There is already a user with this name."),
    N_("The last active administrator can be neither disabled nor given another role; make another user an "
       "administrator first."),
    N_("The current password is wrong."),
    N_("The new password must differ from the current one."),
    N_("Choose a role from the list."),
    N_("There is no such user."),
    N_("You cannot disable your own account; another administrator can."),
    N_("A station token belongs to an active user who may upload: mailroom staff or a supervisor."),
    N_("Queues and skills are for agents."),
    N_("Choose queues from the list."),
    N_("A token's expiry must lie in the future."),
)
assert {people.TOO_SHORT, people.TOO_LONG, people.BAD_USERNAME, people.USER_EXISTS, people.LAST_ADMIN,
        people.WRONG_CURRENT, people.SAME_PASSWORD, people.BAD_ROLE, people.NO_USER, NOT_SELF, OWNER_MAY_NOT_UPLOAD,
        AGENTS_ONLY, NO_QUEUE} <= set(REASONS)



def said(exc: MailroomError) -> str:
    """A refusal as the page says it: one of the reasons above in the reader's language, else as page_error."""
    return _(exc.reason) if exc.reason in REASONS else page_error(exc)


ROLES = [r.value for r in Role]
LETTER_LANGUAGES = ("pl", "cs", "ru", "en")  # the languages letters come in (an agent's language skills)
SEGMENTS = {"business": N_("business customers"), "individual": N_("individual customers")}
TOKEN_DAYS = 90  # the expiry a new station token is offered


def _now() -> datetime:
    return datetime.now(UTC)


def _back(url: str, message: str) -> RedirectResponse:
    return RedirectResponse(url + "?" + urlencode({"message": message}), status_code=303)


def _user_url(username: str) -> str:
    return "/admin/users/" + quote(username, safe="")


def _user_or_404(session: Session, username: str) -> User:
    user = people.get_user(session, username) if len(username) <= 64 else None
    if user is None:
        raise HTTPException(404, _("Not found."))
    return user


def _choices(request: Request) -> dict[str, Any]:
    settings = request.app.state.ctx.settings
    return {"roles": ROLES, "languages": i18n.ENDONYMS, "zones": time_zones(), "site_zone": settings.time_zone}


# ---------------------------------------------------------------- users


def _users_page(request: Request, session: Session, *, message: str = "", error: str = "", form: dict | None = None,
                status_code: int = 200) -> HTMLResponse:
    return render(request, "admin_users.html", status_code, users=people.list_users(session), message=message,
                  error=error, form=form or {}, **_choices(request))


@router.get("/admin/users")
def users_page(request: Request, user: CurrentUser, session: SessionDep, message: str = "") -> HTMLResponse:
    return _users_page(request, session, message=message[:300])


@router.post("/admin/users")
def create_user(request: Request, user: CurrentUser, session: SessionDep,
                username: Annotated[str, Form(max_length=64)], role: Annotated[str, Form(max_length=20)],
                display_name: Annotated[str, Form(max_length=200)] = "",
                language: Annotated[str, Form(max_length=8)] = "", time_zone: Annotated[str, Form(max_length=64)] = "",
                password: Annotated[str, Form(max_length=people.MAX_PASSWORD_LENGTH)] = "") -> Response:
    """Create a user; a blank password is made here and shown once on the answer."""
    made = people.generate_password() if not password else ""
    try:
        people.create_user(session, username.strip(), password or made, role, display_name=display_name,
                           language=language or None, time_zone=time_zone or None, actor=user.username)
        session.commit()
    except MailroomError as exc:
        session.rollback()
        form = {"username": username, "display_name": display_name, "role": role, "language": language,
                "time_zone": time_zone}
        return _users_page(request, session, error=said(exc), form=form, status_code=exc.http_status)
    created = username.strip()
    if made:
        return _user_page(request, session, created, shown_password=made,
                          message=_("User %(user)s created.") % {"user": created})
    return _back(_user_url(created), _("User %(user)s created.") % {"user": created})


def _user_page(request: Request, session: Session, username: str, *, message: str = "", error: str = "",
               shown_password: str = "", status_code: int = 200) -> HTMLResponse:
    target = _user_or_404(session, username)
    ctx = request.app.state.ctx
    skills = session.get(AgentSkill, target.id) if target.role == Role.AGENT.value else None
    tokens = [t for t in people.list_tokens(session, target.username)]
    now = _now()
    return render(request, "admin_user.html", status_code, target=target, message=message, error=error,
                  shown_password=shown_password, queues=[(q.id, q.name) for q in ctx.rules.queues],
                  member_of=set(agent_queues(session, target) or []), skills=skills,
                  capacity=skills.capacity if skills else work.DEFAULT_CAPACITY,
                  letter_languages=LETTER_LANGUAGES, categories=CATEGORIES, segments=SEGMENTS, tokens=tokens,
                  token_states={t.id: token_state(t, now) for t in tokens}, **_choices(request))


@router.get("/admin/users/{username}")
def user_page(request: Request, username: str, user: CurrentUser, session: SessionDep,
              message: str = "") -> HTMLResponse:
    return _user_page(request, session, username, message=message[:300])


def _refused(request: Request, session: Session, username: str, exc: MailroomError) -> HTMLResponse:
    session.rollback()
    return _user_page(request, session, username, error=said(exc), status_code=exc.http_status)


@router.post("/admin/users/{username}")
def save_user(request: Request, username: str, user: CurrentUser, session: SessionDep,
              role: Annotated[str, Form(max_length=20)], display_name: Annotated[str, Form(max_length=200)] = "",
              language: Annotated[str, Form(max_length=8)] = "",
              time_zone: Annotated[str, Form(max_length=64)] = "") -> Response:
    """Role, display name, language and time zone (blank: the browser's language, the site's zone)."""
    _user_or_404(session, username)
    try:
        people.update_user(session, username, actor=user.username, role=role, display_name=display_name,
                           language=language or None, time_zone=time_zone or None)
        session.commit()
    except MailroomError as exc:
        return _refused(request, session, username, exc)
    return _back(_user_url(username), _("Saved."))


@router.post("/admin/users/{username}/active")
def set_active(request: Request, username: str, user: CurrentUser, session: SessionDep,
               active: Annotated[int, Form(ge=0, le=1)]) -> Response:
    """Disable (sessions end at once, tokens are revoked) or enable again. Nobody disables themselves, and the
    last active administrator stays."""
    target = _user_or_404(session, username)
    try:
        if not active and target.id == user.id:
            raise Conflict(NOT_SELF)
        people.set_active(session, username, bool(active), _now(), actor=user.username)
        session.commit()
    except MailroomError as exc:
        return _refused(request, session, username, exc)
    done = (_("%(user)s can sign in again. Tokens revoked when the account was disabled stay revoked.") if active
            else _("%(user)s is disabled: their sessions have ended and their tokens are revoked."))
    done %= {"user": username}
    return _back(_user_url(username), done)


@router.post("/admin/users/{username}/password")
def reset_password(request: Request, username: str, user: CurrentUser, session: SessionDep,
                   how: Annotated[str, Form(pattern="^(generate|set)$")],
                   password: Annotated[str, Form(max_length=people.MAX_PASSWORD_LENGTH)] = "",
                   password2: Annotated[str, Form(max_length=people.MAX_PASSWORD_LENGTH)] = "") -> Response:
    """Set a new password (typed twice) or have one made and shown once; the user's sessions end."""
    target = _user_or_404(session, username)
    if target.id == user.id:
        return _user_page(request, session, username, status_code=409,
                          error=_("Change your own password on your profile page."))
    if how == "set" and password != password2:
        return _user_page(request, session, username, status_code=422,
                          error=_("The two new passwords differ; type the same one twice."))
    made = people.generate_password() if how == "generate" else ""
    try:
        people.reset_password(session, username, made or password, _now(), actor=user.username,
                              generated=bool(made))
        session.commit()
    except MailroomError as exc:
        return _refused(request, session, username, exc)
    done = _("The password of %(user)s is changed; their sessions have ended.") % {"user": username}
    if made:
        return _user_page(request, session, username, shown_password=made, message=done)
    return _back(_user_url(username), done)


@router.post("/admin/users/{username}/work")
def save_work(request: Request, username: str, user: CurrentUser, session: SessionDep, ctx: CtxDep,
              capacity: Annotated[int, Form(ge=1, le=1000)],
              queues: Annotated[list[str], Form(max_length=200)] = [],  # noqa: B006 - FastAPI copies defaults
              languages: Annotated[list[str], Form(max_length=20)] = [],  # noqa: B006
              categories: Annotated[list[str], Form(max_length=50)] = [],  # noqa: B006
              segments: Annotated[list[str], Form(max_length=5)] = []) -> Response:  # noqa: B006
    """An agent's queues (queues.work.set_members for each queue that changes) and skills (set_skills, when
    they change): both audited as ``queue.members_set`` and ``agent.skills_set``."""
    target = _user_or_404(session, username)
    try:
        if target.role != Role.AGENT.value:
            raise InvalidRequest(AGENTS_ONLY)
        if set(languages) - set(LETTER_LANGUAGES) or set(segments) - set(SEGMENTS):
            raise InvalidRequest(NO_QUEUE)
        set_agent_queues(session, username, queues, user.username, ctx.rules)
        now = session.get(AgentSkill, target.id)
        before = (list(now.languages), list(now.categories), list(now.segments), now.capacity) if now else (
            [], [], [], work.DEFAULT_CAPACITY)
        wanted = ([x for x in LETTER_LANGUAGES if x in languages], [c for c in CATEGORIES if c in categories],
                  [s for s in SEGMENTS if s in segments], capacity)
        if before != wanted:
            work.set_skills(session, username, user.username, languages=wanted[0], categories=wanted[1],
                            segments=wanted[2], capacity=capacity)
        session.commit()
    except MailroomError as exc:
        return _refused(request, session, username, exc)
    return _back(_user_url(username), _("Queues and skills of %(user)s saved.") % {"user": username})


# ---------------------------------------------------------------- station tokens


def _tokens_view(session: Session) -> dict[str, Any]:
    tokens = people.list_tokens(session)
    now = _now()
    return {"tokens": tokens, "token_states": {t.id: token_state(t, now) for t in tokens}}


def _tokens_page(request: Request, session: Session, *, message: str = "", error: str = "", created: Any = None,
                 plain: str = "", form: dict | None = None, status_code: int = 200) -> HTMLResponse:
    owners = sorted((u for u in people.list_users(session) if may_upload(u)),  # mailroom staff first
                    key=lambda u: (u.role != Role.SCANNER.value, u.username))
    local = request.state.local
    default_expiry = (_now().astimezone(ZoneInfo(local.zone)) + timedelta(days=TOKEN_DAYS)).date()
    return render(request, "admin_tokens.html", status_code, message=message, error=error, created=created,
                  plain=plain, owners=owners, form=form or {"expires_on": default_expiry}, **_tokens_view(session))


@router.get("/admin/tokens")
def tokens_page(request: Request, user: CurrentUser, session: SessionDep, message: str = "") -> HTMLResponse:
    return _tokens_page(request, session, message=message[:300])


def _end_of(day: date, zone: str) -> datetime:
    """The end of ``day`` in ``zone`` (the next midnight there), in UTC: a token is valid through its day."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


@router.post("/admin/tokens")
def create_token(request: Request, user: CurrentUser, session: SessionDep,
                 name: Annotated[str, Form(min_length=1, max_length=100)], owner: Annotated[str, Form(max_length=64)],
                 expires_on: Annotated[str, Form(max_length=20)],
                 station: Annotated[str, Form(max_length=100)] = "") -> Response:
    """A station token (upload-only) valid through ``expires_on`` in the admin's time zone; its value is on
    this answer only."""
    form = {"name": name, "owner": owner, "station": station, "expires_on": i18n.parse_date_input(expires_on)}
    day = form["expires_on"]
    if day is None:
        return _tokens_page(request, session, status_code=422, form=form,
                            error=_("Write the expiry date as %(hint)s.") % {"hint": i18n.date_hint()})
    target = people.get_user(session, owner)
    try:
        if target is None or not may_upload(target):
            raise InvalidRequest(OWNER_MAY_NOT_UPLOAD)
        token, plain = people.create_token(session, target.username, name.strip(), _now(), actor=user.username,
                                           station=(station or name).strip(), scope="upload",
                                           expires_at=_end_of(day, request.state.local.zone))
        session.commit()
    except MailroomError as exc:
        session.rollback()
        return _tokens_page(request, session, status_code=exc.http_status, form=form, error=said(exc))
    return _tokens_page(request, session, created=token, plain=plain,
                        message=_("Token %(name)s created.") % {"name": token.name})


@router.post("/admin/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: int, user: CurrentUser, session: SessionDep,
                 back: Annotated[str, Form(max_length=10)] = "") -> Response:
    """Revoke a token at once; htmx swaps the table, a plain form comes back to the page."""
    token = session.get(ApiToken, token_id) if 0 < token_id < 2**63 else None
    if token is None:
        raise HTTPException(404, _("Not found."))
    people.revoke_token(session, token_id, _now(), actor=user.username)
    session.commit()
    message = _("Token %(name)s revoked: it no longer authenticates.") % {"name": token.name}
    if request.headers.get("hx-request"):
        return render(request, "admin_tokens_table.html", swap_message=message, **_tokens_view(session))
    return _back(_user_url(token.user.username) if back == "user" else "/admin/tokens", message)
