"""Who is asking and what they may do: one place for authentication and role checks.

Credentials, in order: ``Authorization: Bearer mrt_…`` (an API token of a scanning station or an
integration), ``Authorization: Basic`` (kept for API compatibility; throttled like the sign-in form),
then the signed session cookie of the pages (HttpOnly, SameSite=Lax; any non-GET request carrying it
must also carry the session's CSRF token as the ``csrf_token`` form field or the ``X-CSRF-Token``
header).

Who may use which route is the table :data:`ACCESS` (method, path template) → roles; the
app-wide dependency :func:`guard` enforces it for every route. A route missing from the table
falls back to the roles its own ``require(...)`` declares, and to admins only when it declares
none (fail closed). A signed-in user whose role may not use a route gets 404, as if it did not
exist; an anonymous one gets 401 (API) or is sent to the sign-in page (pages).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.routing import APIRoute
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from pipeline.context import Context
from queues.work import agent_scope
from storage.db import session_scope
from storage.models import Role, User
from storage.users import LoginThrottled, authenticate, check_throttle, clear_failures, record_failure, user_for_token

log = logging.getLogger(__name__)

SESSION_COOKIE = "mailroom_session"
LOGIN_COOKIE = "mailroom_login"  # binds the sign-in form's CSRF token before there is a session
SESSION_MAX_AGE = 12 * 3600  # seconds; a working day and a bit
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# ---------------------------------------------------------------- the access table

PUBLIC = "public"  # anyone, signed in or not
SIGNED_IN = "signed_in"  # any active user
S, A, V, AU, AD = Role.SCANNER.value, Role.AGENT.value, Role.SUPERVISOR.value, Role.AUDITOR.value, Role.ADMIN.value

Roles = frozenset[str]


def _r(*roles: str) -> Roles:
    return frozenset(roles)


MAILROOM = _r(S, V)  # mailroom staff upload and see quarantine, not the archive
AGENTS = _r(A, V)  # agents work their queues; supervisors may step in
SUPERVISORS = _r(V)
AUDITORS = _r(AU)  # read everything, change nothing
READERS = _r(S, V, AU)

ACCESS: dict[tuple[str, str], Roles | str] = {
    # core API: probes (web/ops.py), envelopes (web/api_intake.py), work items (web/api_queues.py)
    ("GET", "/api/health"): PUBLIC,
    ("GET", "/api/ready"): PUBLIC,
    ("POST", "/api/envelopes"): MAILROOM,
    ("GET", "/api/envelopes/{envelope_id}"): READERS,
    ("GET", "/api/queues"): AGENTS,
    ("POST", "/api/queues/{queue}/next"): AGENTS,
    ("GET", "/api/work-items/{item_id}"): AGENTS,
    ("POST", "/api/work-items/{item_id}/claim"): AGENTS,
    ("POST", "/api/work-items/{item_id}/complete"): AGENTS,
    # intake: batches and quarantine (web/api_intake.py)
    ("GET", "/api/batches/{envelope_id}"): READERS,
    ("GET", "/api/quarantine"): _r(V, AU),
    ("GET", "/api/quarantine/{envelope_id}"): _r(V, AU),
    ("POST", "/api/quarantine/{envelope_id}/retry"): SUPERVISORS,
    # queues: lifecycle, membership, figures, live events (web/api_queues.py)
    ("POST", "/api/next"): AGENTS,
    ("POST", "/api/work-items/{item_id}/renew"): AGENTS,
    ("POST", "/api/work-items/{item_id}/release"): AGENTS,
    ("POST", "/api/work-items/{item_id}/hold"): AGENTS,
    ("POST", "/api/work-items/{item_id}/resume"): AGENTS,
    ("POST", "/api/work-items/{item_id}/transfer"): AGENTS,
    ("POST", "/api/work-items/{item_id}/reclassify"): AGENTS,
    ("POST", "/api/work-items/{item_id}/escalate"): AGENTS,
    ("POST", "/api/work-items/{item_id}/dispatch"): AGENTS,
    ("GET", "/api/queues/{queue}/members"): SUPERVISORS,
    ("PUT", "/api/queues/{queue}/members"): SUPERVISORS,
    ("PUT", "/api/agents/{username}/skills"): SUPERVISORS,
    ("GET", "/api/supervisor/queues"): SUPERVISORS,
    ("GET", "/metrics"): SUPERVISORS,
    ("GET", "/api/events"): AGENTS,
    # archive: search, documents, originals, legal hold (web/api_archive.py)
    ("GET", "/api/archive/search"): _r(V, AU),
    ("GET", "/api/archive/export.csv"): _r(V, AU),
    ("GET", "/api/archive/documents/{document_id}"): _r(V, AU),
    ("GET", "/api/archive/documents/{document_id}/trail"): _r(V, AU),
    ("GET", "/api/archive/envelopes/{envelope_id}/original"): _r(V, AU),
    ("POST", "/api/archive/envelopes/{envelope_id}/legal-hold"): SUPERVISORS,  # auditors read, never change
    # failed pipeline jobs (web/api_jobs.py)
    ("GET", "/api/jobs/failed"): _r(V, AU),
    ("GET", "/api/jobs/failed/{job_id}"): _r(V, AU),
    ("POST", "/api/jobs/failed/{job_id}/retry"): SUPERVISORS,
    ("POST", "/api/jobs/failed/{job_id}/discard"): SUPERVISORS,
    # pages (web/pages/: static files and sign-in in __init__.py, then mailroom, agent, supervisor, archive)
    ("GET", "/static/{path:path}"): PUBLIC,
    ("GET", "/"): SIGNED_IN,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): SIGNED_IN,
    ("GET", "/mailroom"): MAILROOM,
    ("GET", "/mailroom/batches"): MAILROOM,
    ("GET", "/mailroom/quarantine"): MAILROOM,
    ("POST", "/mailroom/quarantine/{envelope_id}/retry"): MAILROOM,
    ("GET", "/agent"): AGENTS,
    ("GET", "/agent/queues"): AGENTS,
    ("POST", "/agent/queues/{queue}/next"): AGENTS,
    ("GET", "/agent/items/{item_id}"): AGENTS,
    ("GET", "/agent/items/{item_id}/pages/{page}.png"): AGENTS,
    ("POST", "/agent/items/{item_id}/{action}"): AGENTS,
    ("GET", "/supervisor"): SUPERVISORS,
    ("GET", "/supervisor/queues"): SUPERVISORS,
    ("GET", "/auditor"): AUDITORS,
    ("GET", "/auditor/export.csv"): AUDITORS,
    ("GET", "/auditor/documents/{document_id}"): AUDITORS,
    ("GET", "/auditor/documents/{document_id}/original"): AUDITORS,
}


def may(user_role: str | None, allowed: Roles | str) -> bool:
    """Whether a user of ``user_role`` (None: anonymous) may use a route allowed to ``allowed``."""
    if allowed == PUBLIC:
        return True
    if user_role is None:
        return False
    return allowed == SIGNED_IN or user_role == AD or user_role in allowed


def api_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every API route of an app, also those inside included routers (FastAPI resolves those lazily)."""
    for r in routes:
        if hasattr(r, "effective_candidates"):
            yield from api_routes(r.effective_candidates())
        elif isinstance(r, APIRoute) or (hasattr(r, "dependant") and hasattr(r, "methods")):
            yield r


def _declared_roles(route: Any) -> Roles | None:
    """The roles a route's own ``require(...)`` dependencies declare (intersection), if any."""
    found: list[Roles] = []
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        roles = getattr(dep.call, "mailroom_roles", None)
        if roles is not None:
            found.append(roles)
        stack.extend(dep.dependencies)
    if not found:
        return None
    out = found[0]
    for roles in found[1:]:
        out &= roles
    return out


def allowed_roles(route: Any, method: str) -> Roles | str:
    """The policy of one route and method: the table, else its ``require(...)``, else admins only."""
    method = "GET" if method == "HEAD" else method
    policy = ACCESS.get((method, route.path))
    if policy is not None:
        return policy
    return _declared_roles(route) or _r(AD)


# ---------------------------------------------------------------- context and database session


def get_ctx(request: Request) -> Context:
    return request.app.state.ctx


CtxDep = Annotated[Context, Depends(get_ctx)]


def get_session(ctx: CtxDep) -> Iterator[Session]:
    with session_scope(ctx.db_url) as s:
        yield s


SessionDep = Annotated[Session, Depends(get_session)]

# ---------------------------------------------------------------- signed cookies

_ephemeral_secret = secrets.token_urlsafe(32)
_warned: set[str] = set()


def _secret(ctx: Context) -> str:
    """MAILROOM_SECRET_KEY; ``mailroom serve``/``api`` refuse to start without it (see web/commands.py).
    An app built directly (tests, embedding) without one signs with a per-process random key."""
    if ctx.settings.secret_key:
        return ctx.settings.secret_key
    if ctx.db_url not in _warned:
        _warned.add(ctx.db_url)
        log.warning("MAILROOM_SECRET_KEY is not set: session cookies are signed with a per-process key")
    return _ephemeral_secret


def _serializer(ctx: Context, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_secret(ctx), salt=salt)


def _password_mark(user: User) -> str:
    """Changes when the password (or its hash) changes, which ends the user's sessions."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https")


def start_session(request: Request, response: Response, ctx: Context, user: User) -> str:
    """Sign ``user`` in on ``response``; returns the new session's CSRF token."""
    csrf = secrets.token_urlsafe(24)
    value = _serializer(ctx, "session").dumps({"uid": user.id, "pw": _password_mark(user), "csrf": csrf})
    _set_cookie(request, response, SESSION_COOKIE, value, SESSION_MAX_AGE)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return csrf


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def set_login_token(request: Request, response: Response, ctx: Context, token: str) -> None:
    """Bind the sign-in form's CSRF ``token`` to a short-lived signed cookie."""
    _set_cookie(request, response, LOGIN_COOKIE, _serializer(ctx, "login").dumps(token), 3600)


def check_login_form_token(request: Request, ctx: Context, submitted: str) -> bool:
    raw = request.cookies.get(LOGIN_COOKIE, "")
    try:
        expected = _serializer(ctx, "login").loads(raw, max_age=3600)
    except BadSignature:
        return False
    return isinstance(expected, str) and hmac.compare_digest(expected, submitted)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# ---------------------------------------------------------------- credentials → user


@dataclass
class Credentials:
    kind: str = "none"  # none | bearer | basic | session
    username: str = ""
    secret: str = ""  # password or token
    session: dict[str, Any] = field(default_factory=dict)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": 'Basic realm="mailroom"'})


async def credentials(request: Request, ctx: CtxDep) -> Credentials:
    """Parse what the request carries; for a cookie session check the CSRF token of a write."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return Credentials("bearer", secret=value.strip())
        if scheme.lower() == "basic":
            try:
                username, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                sep = ""
            if not sep:
                raise _unauthorized("Malformed Basic credentials.")
            return Credentials("basic", username=username, secret=password)
        raise _unauthorized("Unsupported Authorization scheme; use Bearer or Basic.")
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return Credentials()
    try:
        data = _serializer(ctx, "session").loads(raw, max_age=SESSION_MAX_AGE)
    except BadSignature:
        return Credentials()
    if not isinstance(data, dict):
        return Credentials()
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER)
        ctype = request.headers.get("content-type", "")
        if sent is None and ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
        if not sent or not hmac.compare_digest(str(data.get("csrf", "")), sent):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                "The form is out of date (missing or wrong CSRF token); reload the page and retry.")
    return Credentials("session", session=data)


CredentialsDep = Annotated[Credentials, Depends(credentials)]


def optional_user(request: Request, session: SessionDep, ctx: CtxDep, creds: CredentialsDep) -> User | None:
    """The signed-in user, None when the request carries no credentials; 401 for wrong ones."""
    now = datetime.now(UTC)
    user: User | None = None
    if creds.kind == "bearer":
        user = user_for_token(session, creds.secret, now)
        if user is None:
            raise _unauthorized("Unknown or revoked API token.")
        if session.dirty:  # last_used_at: commit now, or SQLite's write lock is held while the handler writes
            session.commit()  # in its own transactions (concurrent uploads then waited out busy_timeout)
    elif creds.kind == "basic":
        ip = client_ip(request)
        with session_scope(ctx.db_url) as s:  # its own transaction: failures stay recorded after a 401
            try:
                check_throttle(s, creds.username, ip, now)
            except LoginThrottled as exc:
                raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, exc.reason) from exc
        user = authenticate(session, creds.username, creds.secret)
        with session_scope(ctx.db_url) as s:
            if user is None:
                record_failure(s, creds.username, ip, now)
            else:
                clear_failures(s, creds.username, ip)
        if user is None:
            raise _unauthorized("Wrong user name or password.")
    elif creds.kind == "session":
        uid = creds.session.get("uid")
        candidate = session.get(User, uid) if isinstance(uid, int) else None
        if candidate is not None and candidate.active and creds.session.get("pw") == _password_mark(candidate):
            user = candidate
            request.state.csrf = str(creds.session.get("csrf", ""))
    request.state.user = user
    return user


OptionalUser = Annotated[User | None, Depends(optional_user)]


def _sign_in_needed(request: Request) -> HTTPException:
    if request.url.path.startswith("/api/") or request.url.path == "/metrics":
        return _unauthorized("Sign in: Basic credentials, an API token or a session cookie.")
    target = "/login?next=" + quote(request.url.path, safe="/")
    if request.headers.get("hx-request"):  # htmx: a full-page redirect instead of swapping the form in
        return HTTPException(status.HTTP_401_UNAUTHORIZED, "Sign in again.", headers={"HX-Redirect": target})
    return HTTPException(status.HTTP_303_SEE_OTHER, "Sign in first.", headers={"Location": target})


def current_user(request: Request, user: OptionalUser) -> User:
    if user is None:
        raise _sign_in_needed(request)
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def guard(request: Request, user: OptionalUser) -> None:
    """App-wide: enforce :data:`ACCESS` for the matched route before its handler runs."""
    route = request.scope.get("route")
    if getattr(route, "path", None) is None or getattr(route, "dependant", None) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found.")  # unknown route shape: fail closed
    policy = allowed_roles(route, request.method)
    if may(user.role if user else None, policy):
        return
    if user is None:
        raise _sign_in_needed(request)
    raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found.")


def require(*roles: Role):  # type: ignore[no-untyped-def]
    """A route parameter type's dependency: the user, if their role is one of ``roles`` (or admin)."""
    allowed = frozenset({r.value for r in roles} | {Role.ADMIN.value})

    def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found.")
        return user

    check.mailroom_roles = allowed  # type: ignore[attr-defined]
    return Depends(check)


def csrf_token(request: Request) -> str:
    return str(getattr(request.state, "csrf", ""))


def visible_queues(session: Session, user: User, all_queues: list[str]) -> list[str]:
    """The queues whose items ``user`` may see: an agent's member queues (none: none), all for others."""
    if user.role != Role.AGENT.value:
        return list(all_queues)
    member = agent_scope(session, user.username).queues or []
    return [q for q in all_queues if q in set(member)] + sorted(set(member) - set(all_queues))
