"""Who is asking and what they may do: one place for authentication and role checks.

Credentials, in order: ``Authorization: Bearer mrt_…`` (an API token of a scanning station or an
integration; expired or revoked tokens do not authenticate; an upload-scoped token may only upload and
read its own batches), ``Authorization: Basic`` (kept for scripts; throttled like the sign-in form, and
refused when the request comes from a browser — it carries ``Origin`` or ``Sec-Fetch-*`` — because a
browser caches Basic credentials and sends them along with cross-site requests; the API never asks for
Basic: its 401 says ``WWW-Authenticate: Bearer``), then the signed session cookie of the pages
(HttpOnly, SameSite=Lax, Secure over HTTPS or behind a trusted TLS proxy; the session is also kept in
the database so that signing out ends it; any non-GET request carrying it must also carry the session's
CSRF token as the ``csrf_token`` form field or the ``X-CSRF-Token`` header).

A request with a body is checked by web/gate.py before the body is read: its size against the route's
limit and its credentials and role against this table (:func:`identify`, :func:`refusal`).

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
import ipaddress
import logging
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.routing import APIRoute
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session, object_session
from starlette.datastructures import Headers

from pipeline.context import Context
from queues.work import agent_scope
from storage.db import session_scope
from storage.models import Role, User
from storage.users import (
    LoginThrottled,
    authenticate,
    check_throttle,
    clear_failures,
    end_web_session,
    record_failure,
    start_web_session,
    token_for,
    web_session_valid,
)

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
    ("POST", "/api/work-items/{item_id}/assign"): AGENTS,
    ("POST", "/api/work-items/{item_id}/first-response"): AGENTS,
    ("PUT", "/api/work-items/{item_id}/customer"): AGENTS,
    ("POST", "/api/work-items/{item_id}/notes"): AGENTS,
    ("GET", "/api/work-items/{item_id}/notes"): _r(A, V, AU),
    ("GET", "/api/notes/search"): _r(A, V, AU),
    # customers (web/api_customers.py)
    ("GET", "/api/customers/{customer_id}"): _r(A, V, AU),
    ("POST", "/api/customers/import"): SUPERVISORS,
    # outbound letters, post batches, case timeline (web/api_replies.py)
    ("POST", "/api/work-items/{item_id}/replies"): AGENTS,
    ("GET", "/api/work-items/{item_id}/replies"): _r(A, V, AU),
    ("GET", "/api/replies/{letter_id}"): _r(A, V, AU),
    ("PATCH", "/api/replies/{letter_id}"): AGENTS,
    ("POST", "/api/replies/{letter_id}/approve"): SUPERVISORS,
    ("POST", "/api/replies/{letter_id}/cancel"): AGENTS,
    ("POST", "/api/replies/{letter_id}/send"): AGENTS,
    ("GET", "/api/replies/{letter_id}/preview.pdf"): _r(A, V, AU),
    ("GET", "/api/replies/{letter_id}/original"): _r(A, V, AU),
    ("POST", "/api/replies/{letter_id}/delivered"): MAILROOM,
    ("POST", "/api/replies/{letter_id}/returned"): MAILROOM,
    ("GET", "/api/post-batches"): _r(S, V, AU),
    ("POST", "/api/post-batches"): MAILROOM,
    ("GET", "/api/post-batches/{batch_id}/letters"): _r(S, V, AU),
    ("GET", "/api/post-batches/{batch_id}/{which}.pdf"): _r(S, V, AU),
    ("POST", "/api/post-batches/{batch_id}/hand-over"): MAILROOM,
    ("GET", "/api/cases/{case_id}/timeline"): _r(A, V, AU),
    ("GET", "/api/archive/letters"): _r(V, AU),
    ("POST", "/api/cases/{case_id}/merge"): AGENTS,
    ("POST", "/api/cases/{case_id}/split"): AGENTS,
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
    ("GET", "/profile"): SIGNED_IN,  # everyone's own language and time zone (issue #16)
    ("POST", "/profile"): SIGNED_IN,
    ("GET", "/mailroom"): MAILROOM,
    ("GET", "/mailroom/batches"): MAILROOM,
    ("GET", "/mailroom/batches/{envelope_id}"): MAILROOM,  # a station: its own batches only
    ("GET", "/mailroom/quarantine"): MAILROOM,
    ("POST", "/mailroom/quarantine/{envelope_id}/retry"): MAILROOM,
    # mailroom corrections and the batch check (issue 18, web/api_corrections.py, web/pages/corrections.py):
    # a station its own batches only; auditors read a batch's layout
    ("GET", "/api/batches/{envelope_id}/layout"): READERS,
    ("POST", "/api/batches/{envelope_id}/corrections"): MAILROOM,
    ("POST", "/api/batches/{envelope_id}/pages/{page}/reread"): MAILROOM,
    ("PUT", "/api/batches/{envelope_id}/expected-letters"): MAILROOM,
    ("GET", "/mailroom/batches/{envelope_id}/correct"): MAILROOM,
    ("POST", "/mailroom/batches/{envelope_id}/correct"): MAILROOM,
    ("GET", "/mailroom/batches/{envelope_id}/pages/{page}.png"): MAILROOM,
    ("POST", "/mailroom/batches/{envelope_id}/pages/{page}/reread"): MAILROOM,
    ("POST", "/mailroom/batches/{envelope_id}/expected"): MAILROOM,
    ("GET", "/agent"): AGENTS,
    ("GET", "/agent/queues"): AGENTS,
    ("POST", "/agent/queues/{queue}/next"): AGENTS,
    ("GET", "/agent/items/{item_id}"): AGENTS,
    ("GET", "/agent/items/{item_id}/pages/{page}.png"): AGENTS,
    ("POST", "/agent/items/{item_id}/renew"): AGENTS,  # the open item page keeps its claim (issue 18)
    ("POST", "/agent/items/{item_id}/release"): AGENTS,  # the item page's beacon when its reader leaves it
    ("POST", "/agent/items/{item_id}/{action}"): AGENTS,
    ("GET", "/supervisor"): SUPERVISORS,
    ("GET", "/supervisor/queues"): SUPERVISORS,
    ("GET", "/auditor"): AUDITORS,
    ("GET", "/auditor/export.csv"): AUDITORS,
    ("GET", "/auditor/documents/{document_id}"): AUDITORS,
    ("GET", "/auditor/documents/{document_id}/original"): AUDITORS,
    # answering the customer (issue 17): the reply on the item page, four eyes, the daily post, a case's timeline
    ("POST", "/agent/items/{item_id}/letters/new"): AGENTS,
    ("GET", "/agent/letters/{letter_id}/preview.pdf"): AGENTS,
    ("POST", "/agent/letters/{letter_id}/{action}"): AGENTS,  # save, send, cancel
    ("GET", "/supervisor/approvals"): SUPERVISORS,
    ("POST", "/supervisor/approvals/{letter_id}"): SUPERVISORS,
    ("GET", "/mailroom/post"): MAILROOM,
    ("POST", "/mailroom/post/batches"): MAILROOM,
    ("GET", "/mailroom/post/batches/{batch_id}/{which}.pdf"): MAILROOM,
    ("POST", "/mailroom/post/batches/{batch_id}/{action}"): MAILROOM,  # numbers, hand-over
    ("POST", "/mailroom/post/letters/{letter_id}/{action}"): MAILROOM,  # delivered, returned
    ("GET", "/cases/{case_id}"): _r(A, V, AU),
    # reports over time (issue 19, web/api_reports.py, web/pages/reports.py): the per-agent one supervisors only
    ("GET", "/api/reports/agents"): SUPERVISORS,
    ("GET", "/api/reports/agents.csv"): SUPERVISORS,
    ("GET", "/api/reports/agents.xlsx"): SUPERVISORS,
    ("GET", "/api/reports/{name}"): _r(V, AU),
    ("GET", "/api/reports/{name}.csv"): _r(V, AU),
    ("GET", "/api/reports/{name}.xlsx"): _r(V, AU),
    ("GET", "/supervisor/reports"): SUPERVISORS,
    ("GET", "/supervisor/agents"): SUPERVISORS,
    ("GET", "/auditor/reports"): AUDITORS,
    # configuration in the browser (issue 19, web/api_config.py, web/pages/config.py): supervisors edit routing,
    # admins also the SLA policies (the handlers refuse a supervisor's SLA edit); auditors read the history
    ("GET", "/api/config/{kind}"): _r(V, AU),
    ("GET", "/api/config/{kind}/export"): _r(V, AU),
    ("GET", "/api/config/{kind}/versions"): _r(V, AU),
    ("GET", "/api/config/{kind}/versions/{version_id}"): _r(V, AU),
    ("POST", "/api/config/{kind}/check"): SUPERVISORS,
    ("PUT", "/api/config/{kind}"): SUPERVISORS,
    ("POST", "/api/config/{kind}/versions/{version_id}/rollback"): SUPERVISORS,
    ("GET", "/config/{kind}"): _r(V, AU),
    ("GET", "/config/{kind}/versions/{version_id}"): _r(V, AU),
    ("POST", "/config/{kind}/check"): SUPERVISORS,
    ("POST", "/config/{kind}"): SUPERVISORS,
    ("POST", "/config/{kind}/versions/{version_id}/rollback"): SUPERVISORS,
    # the category model's lifecycle (issue 19, web/api_models.py, web/pages/models.py): admins act, others read
    ("GET", "/api/models"): _r(V, AU),
    ("POST", "/api/models/train"): _r(),
    ("POST", "/api/models/{model_id}/promote"): _r(),
    ("POST", "/api/models/rollback"): _r(),
    ("GET", "/admin/models"): _r(V, AU),
    ("POST", "/admin/models/train"): _r(),
    ("POST", "/admin/models/{model_id}/promote"): _r(),
    ("POST", "/admin/models/rollback"): _r(),
    # customers (issue 18, web/api_customers.py, web/api_entities.py, web/pages/customers.py): supervisors and
    # auditors look customers up; agents see a customer with a letter in their queues; the holder corrects
    ("GET", "/api/customers"): _r(V, AU),
    ("GET", "/api/customers/{customer_id}/history"): _r(A, V, AU),
    ("POST", "/api/work-items/{item_id}/entities"): AGENTS,
    ("GET", "/customers"): _r(V, AU),
    ("POST", "/customers/import"): SUPERVISORS,
    ("GET", "/customers/{customer_id}"): _r(A, V, AU),
    ("POST", "/agent/items/{item_id}/entities/correct"): AGENTS,
    ("POST", "/agent/items/{item_id}/customer/link"): AGENTS,
    ("GET", "/agent/queues/{queue}/items"): AGENTS,
    # people and stations (issue 19, web/api_people.py, web/pages/admin.py): administrators only; everyone changes
    # their own password on the profile page
    ("GET", "/api/users"): _r(AD),
    ("POST", "/api/users"): _r(AD),
    ("GET", "/api/users/{username}"): _r(AD),
    ("PATCH", "/api/users/{username}"): _r(AD),
    ("POST", "/api/users/{username}/password"): _r(AD),
    ("PUT", "/api/users/{username}/queues"): _r(AD),
    ("GET", "/api/tokens"): _r(AD),
    ("POST", "/api/tokens"): _r(AD),
    ("POST", "/api/tokens/{token_id}/revoke"): _r(AD),
    ("GET", "/admin/users"): _r(AD),
    ("POST", "/admin/users"): _r(AD),
    ("GET", "/admin/users/{username}"): _r(AD),
    ("POST", "/admin/users/{username}"): _r(AD),
    ("POST", "/admin/users/{username}/active"): _r(AD),
    ("POST", "/admin/users/{username}/password"): _r(AD),
    ("POST", "/admin/users/{username}/work"): _r(AD),
    ("GET", "/admin/tokens"): _r(AD),
    ("POST", "/admin/tokens"): _r(AD),
    ("POST", "/admin/tokens/{token_id}/revoke"): _r(AD),
    ("POST", "/profile/password"): SIGNED_IN,
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


async def get_ctx(request: Request) -> Context:
    """``async``, like every dependency here that does no I/O: FastAPI runs a plain ``def`` dependency in its
    thread pool, and the hops (about 40 a request) cost ~2 ms of CPU an upload."""
    return request.app.state.ctx


CtxDep = Annotated[Context, Depends(get_ctx)]


def get_session(ctx: CtxDep) -> Iterator[Session]:
    with session_scope(ctx.db_url) as s:
        yield s


# scope="function": the session commits (or rolls back) when the handler returns, before the response is sent.
# FastAPI's default ("request") runs a yield dependency's exit after the response: an agent could be told
# 200 for a claim whose COMMIT had not run yet (or then failed), and its next request could miss it (#20).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

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
                        secure=is_https(request.scope, request.app.state.ctx.settings))


def start_session(request: Request, response: Response, ctx: Context, user: User) -> str:
    """Sign ``user`` in on ``response``; returns the new session's CSRF token. The session is also kept in the
    database (``web_sessions``), so signing out ends it for every copy of the cookie."""
    csrf = secrets.token_urlsafe(24)
    now, lifetime, ip = datetime.now(UTC), timedelta(seconds=SESSION_MAX_AGE), client_ip(request)
    db = object_session(user)  # the request's session (committed before the response), which may hold SQLite's
    if db is not None:  # write lock already: a second transaction would wait for it
        sid = start_web_session(db, user, now, lifetime, ip)
    else:
        with session_scope(ctx.db_url) as s:
            sid = start_web_session(s, user, now, lifetime, ip)
    value = _serializer(ctx, "session").dumps({"uid": user.id, "pw": _password_mark(user), "csrf": csrf,
                                               "sid": sid})
    _set_cookie(request, response, SESSION_COOKIE, value, SESSION_MAX_AGE)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return csrf


def end_session(response: Response, request: Request | None = None) -> None:
    """Drop the cookie and, given the request, end its session in the database (a kept copy stops working)."""
    ident = getattr(request.state, "identity", None) if request is not None else None
    if request is not None and ident is not None and ident.session_id:
        user = getattr(request.state, "user", None)
        db = object_session(user) if user is not None else None  # the request's own transaction (see above)
        if db is not None:
            end_web_session(db, ident.session_id, datetime.now(UTC))
        else:
            with session_scope(request.app.state.ctx.db_url) as s:
                end_web_session(s, ident.session_id, datetime.now(UTC))
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


# ---------------------------------------------------------------- the client behind trusted proxies


def _trusted(address: str, settings: Any) -> bool:
    networks = getattr(settings, "trusted_proxies", None) or []
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)


def client_address(scope: Any, settings: Any) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy (MAILROOM_TRUSTED_PROXIES); then the
    nearest address in X-Forwarded-For that is not a trusted proxy. Without that setting forwarded headers are
    never believed (anyone can send them)."""
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    if not _trusted(peer, settings):
        return peer
    hops = [h.strip() for h in ",".join(Headers(scope=scope).getlist("x-forwarded-for")).split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a hop that is no address: believe nothing further
        if not _trusted(hop, settings):
            return hop
    return hops[0] if hops else peer


def is_https(scope: Any, settings: Any) -> bool:
    """Whether the client talks HTTPS to us: directly, or to a trusted proxy that says so (X-Forwarded-Proto)."""
    if scope.get("scheme") == "https":
        return True
    client = scope.get("client")
    if not client or not _trusted(str(client[0]), settings):
        return False
    proto = Headers(scope=scope).get("x-forwarded-proto", "")
    return proto.split(",")[-1].strip().lower() == "https"


def client_ip(request: Request) -> str:
    return client_address(request.scope, request.app.state.ctx.settings)


# ---------------------------------------------------------------- credentials → identity → user


@dataclass
class Credentials:
    kind: str = "none"  # none | bearer | basic | session
    username: str = ""
    secret: str = ""  # password or token
    session: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Identity:
    """Who a request is, once its credentials were checked: the user, how they signed in, and for an API token
    its station and scope."""

    user_id: int
    username: str
    role: str
    kind: str  # bearer | basic | session
    token_id: int | None = None
    token_name: str | None = None
    station: str | None = None
    scope: str = "full"  # full | upload (API tokens only)
    csrf: str = ""
    session_id: str | None = None


IDENTITY_KEY = "mailroom_identity"  # request.state: the identity web/gate.py established before the body
# Headers only browsers send. Basic credentials with one of them are refused: browsers must not use Basic (it is
# cached and sent along with any cross-site request, bypassing CSRF); they sign in with the form.
BROWSER_SIGNALS = ("origin", "sec-fetch-mode", "sec-fetch-site", "sec-fetch-dest")
# What an upload-scoped API token (a scanning station) may call; anything else is 403.
UPLOAD_SCOPE: frozenset[tuple[str, str]] = frozenset({("POST", "/api/envelopes"),
                                                      ("GET", "/api/batches/{envelope_id}")})


def _unauthorized(detail: str) -> HTTPException:
    # Bearer, never Basic: a Basic challenge makes a browser ask for and then cache the password (CSRF).
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": 'Bearer realm="mailroom"'})


def parse_credentials(headers: Headers, cookies: dict[str, str], ctx: Context) -> Credentials:
    """What the request carries, checked for form only (no database, no body)."""
    header = headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return Credentials("bearer", secret=value.strip())
        if scheme.lower() == "basic":
            if any(h in headers for h in BROWSER_SIGNALS):
                raise _unauthorized("Basic credentials are for scripts and scanning stations, not browsers: "
                                    "sign in on the sign-in page, or send an API token (Bearer).")
            try:
                username, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                sep = ""
            if not sep:
                raise _unauthorized("Malformed Basic credentials.")
            return Credentials("basic", username=username, secret=password)
        raise _unauthorized("Unsupported Authorization scheme; use Bearer (an API token).")
    raw = cookies.get(SESSION_COOKIE)
    if not raw:
        return Credentials()
    try:
        data = _serializer(ctx, "session").loads(raw, max_age=SESSION_MAX_AGE)
    except BadSignature:
        return Credentials()
    if not isinstance(data, dict):
        return Credentials()
    return Credentials("session", session=data)


async def credentials(request: Request, ctx: CtxDep) -> Credentials:
    """Parse what the request carries; for a cookie session check the CSRF token of a write."""
    creds = parse_credentials(request.headers, request.cookies, ctx)
    if creds.kind == "session" and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER)
        ctype = request.headers.get("content-type", "")
        if sent is None and ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
        if not sent or not hmac.compare_digest(str(creds.session.get("csrf", "")), sent):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                "The form is out of date (missing or wrong CSRF token); reload the page and retry.")
    return creds


CredentialsDep = Annotated[Credentials, Depends(credentials)]


def identify(ctx: Context, creds: Credentials, ip: str, now: datetime) -> Identity | None:
    """Check credentials against the database (blocking: call it from a worker thread). None: anonymous (no
    credentials, or a session that has ended); 401/429 for wrong or throttled credentials."""
    if creds.kind == "bearer":
        # no transaction: one lookup (and last_used_at once a minute)
        with session_scope(ctx.db_url, autocommit=True) as s:
            token = token_for(s, creds.secret, now)
            if token is None:
                raise _unauthorized("Unknown, revoked or expired API token.")
            user = token.user
            return Identity(user.id, user.username, user.role, "bearer", token.id, token.name, token.station,
                            token.scope or "full")
    if creds.kind == "basic":
        with session_scope(ctx.db_url) as s:  # its own transaction: failures stay recorded after a 401
            try:
                check_throttle(s, creds.username, ip, now)
            except LoginThrottled as exc:
                raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, exc.reason) from exc
        with session_scope(ctx.db_url) as s:
            user = authenticate(s, creds.username, creds.secret)  # a rehashed password is committed here
            found = None if user is None else Identity(user.id, user.username, user.role, "basic")
        with session_scope(ctx.db_url) as s:
            if found is None:
                record_failure(s, creds.username, ip, now)
            else:
                clear_failures(s, creds.username, ip)
        if found is None:
            raise _unauthorized("Wrong user name or password.")
        return found
    if creds.kind == "session":
        uid, sid = creds.session.get("uid"), creds.session.get("sid")
        if not isinstance(uid, int) or not isinstance(sid, str):
            return None
        with session_scope(ctx.db_url, autocommit=True) as s:  # lookups only
            user = s.get(User, uid)
            if (user is None or not user.active or creds.session.get("pw") != _password_mark(user)
                    or not web_session_valid(s, sid, uid, now)):
                return None
            return Identity(user.id, user.username, user.role, "session", csrf=str(creds.session.get("csrf", "")),
                            session_id=sid)
    return None


def optional_user(request: Request, session: SessionDep, ctx: CtxDep, creds: CredentialsDep) -> User | None:
    """The signed-in user, None when the request carries no credentials; 401 for wrong ones."""
    ident = getattr(request.state, IDENTITY_KEY, None)  # checked already by web/gate.py (a request with a body)
    if ident is None:
        ident = identify(ctx, creds, client_ip(request), datetime.now(UTC))
    user = session.get(User, ident.user_id) if ident is not None else None
    if user is not None and not user.active:
        user = None
    request.state.user = user
    request.state.identity = ident if user is not None else None
    if user is not None and ident is not None and ident.kind == "session":
        request.state.csrf = ident.csrf
    return user


OptionalUser = Annotated[User | None, Depends(optional_user)]


async def current_identity(request: Request, user: OptionalUser) -> Identity | None:
    """How the signed-in user signed in (an API token's station and scope), None when anonymous."""
    return getattr(request.state, "identity", None)


IdentityDep = Annotated[Identity | None, Depends(current_identity)]


def sign_in_needed(path: str, headers: Headers) -> HTTPException:
    if path.startswith("/api/") or path == "/metrics":
        return _unauthorized("Sign in: an API token (Bearer), Basic credentials (scripts only) or a session cookie.")
    target = "/login?next=" + quote(path, safe="/")
    if headers.get("hx-request"):  # htmx: a full-page redirect instead of swapping the form in
        return HTTPException(status.HTTP_401_UNAUTHORIZED, "Sign in again.", headers={"HX-Redirect": target})
    return HTTPException(status.HTTP_303_SEE_OTHER, "Sign in first.", headers={"Location": target})


def _sign_in_needed(request: Request) -> HTTPException:
    return sign_in_needed(request.url.path, request.headers)


async def current_user(request: Request, user: OptionalUser) -> User:
    if user is None:
        raise _sign_in_needed(request)
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def refusal(route: Any, method: str, role: str | None, ident: Identity | None) -> HTTPException | None:
    """Why ``route`` is refused to this caller (None: allowed). The one decision of :func:`guard` and of the
    gate that runs before a request's body is read (web/gate.py)."""
    policy = allowed_roles(route, method)
    if not may(role, policy):
        return None if role is None else HTTPException(status.HTTP_404_NOT_FOUND, "Not found.")
    method = "GET" if method == "HEAD" else method
    if ident is not None and ident.scope == "upload" and policy != PUBLIC and (method, route.path) not in UPLOAD_SCOPE:
        return HTTPException(status.HTTP_403_FORBIDDEN,
                             "This API token may only upload envelopes and read its own batches.")
    return None


async def guard(request: Request, user: OptionalUser) -> None:
    """App-wide: enforce :data:`ACCESS` (and an API token's scope) for the matched route before its handler runs."""
    route = request.scope.get("route")
    if getattr(route, "path", None) is None or getattr(route, "dependant", None) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found.")  # unknown route shape: fail closed
    role = user.role if user else None
    if user is None and not may(None, allowed_roles(route, request.method)):
        raise _sign_in_needed(request)
    refused = refusal(route, request.method, role, getattr(request.state, "identity", None))
    if refused is not None:
        raise refused


def require(*roles: Role):  # type: ignore[no-untyped-def]
    """A route parameter type's dependency: the user, if their role is one of ``roles`` (or admin)."""
    allowed = frozenset({r.value for r in roles} | {Role.ADMIN.value})

    async def check(user: CurrentUser) -> User:
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
