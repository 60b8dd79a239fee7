"""The gate in front of every request body: nothing is read before the caller is known and the size is allowed.

FastAPI reads (JSON) or spools to disk (multipart) a request's whole body before any dependency runs, so
before authentication and before a route can look at the size. This ASGI middleware runs first:

- the body's size is limited per route (:data:`BODY_LIMITS`, else :data:`DEFAULT_BODY_LIMIT`): a declared
  ``Content-Length`` above the limit is answered 413 at once; a chunked body is counted as it streams and cut
  at the limit (Starlette's ``RequestBodyLimitMiddleware``, 413);
- a request that carries a body to a route that is not public has its credentials checked first
  (web/deps.py :func:`~web.deps.identify`, in a worker thread): anonymous → 401 (API) or the sign-in page,
  a role the route is not for → 404, an upload-only token elsewhere → 403; all without reading one byte of
  the body, and with ``Connection: close`` so the rest of it is not waited for. The identity it found is
  handed on to the app (``request.state``), so credentials are checked once per request.

A request without a body goes on to the app unchanged: the guard (web/deps.py) decides there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException
from fastapi.exception_handlers import http_exception_handler
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from web.deps import (
    IDENTITY_KEY,
    PUBLIC,
    allowed_roles,
    api_routes,
    client_address,
    identify,
    parse_credentials,
    refusal,
    sign_in_needed,
)

DEFAULT_BODY_LIMIT = 64 * 1024  # JSON bodies and page forms: a few fields
MULTIPART_SLACK = 64 * 1024  # an upload's form around the file: boundaries, part headers, the channel field
# (method, route path) → the largest body it takes, in bytes (given the settings).
BODY_LIMITS: dict[tuple[str, str], Callable[[Any], int]] = {
    ("POST", "/api/envelopes"): lambda settings: settings.max_upload_bytes + MULTIPART_SLACK,
    ("PUT", "/api/queues/{queue}/members"): lambda settings: 256 * 1024,  # up to 1,000 user names
    ("POST", "/api/customers/import"): lambda settings: 64 * 1024 * 1024,  # a CSV of some 300,000 customers
    ("POST", "/customers/import"): lambda settings: 64 * 1024 * 1024 + MULTIPART_SLACK,  # the same, as a form
}


def _route(app: Any, scope: Scope) -> Any | None:
    """The API route this request goes to (the first whose path and method match, as the router matches), or
    None (no such route: 404 or 405 from the router, which reads no body)."""
    method = scope["method"]
    path = scope["path"]
    for route in api_routes(getattr(getattr(app, "router", None), "routes", [])):
        regex, methods = getattr(route, "path_regex", None), getattr(route, "methods", None) or set()
        if regex is not None and regex.match(path) and (method in methods or (method == "HEAD" and "GET" in methods)):
            return route
    return None


def body_limit(route: Any | None, method: str, settings: Any) -> int:
    limit = BODY_LIMITS.get((method, getattr(route, "path", "")))
    return limit(settings) if limit is not None else DEFAULT_BODY_LIMIT


def _has_body(headers: Headers) -> tuple[bool, int | None]:
    raw = headers.get("content-length")
    try:
        length = int(raw) if raw is not None else None
    except ValueError:
        length = None
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    return chunked or (length or 0) > 0, length


class RequestGate:
    """Added to the app by web/app.py ``create_app``; see the module's docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        app = scope["app"]
        ctx = app.state.ctx
        method = scope["method"]
        headers = Headers(scope=scope)
        route = _route(app, scope)
        limit = body_limit(route, method, ctx.settings)
        has_body, length = _has_body(headers)
        if length is not None and length > limit:
            await self._refuse(scope, receive, send, HTTPException(
                413, f"The request body is larger than this route takes ({limit} bytes)."))
            return
        if has_body and route is not None and allowed_roles(route, method) != PUBLIC:
            try:
                creds = parse_credentials(headers, Request(scope).cookies, ctx)
                ident = await run_in_threadpool(identify, ctx, creds, client_address(scope, ctx.settings),
                                                datetime.now(UTC))
            except Exception as exc:  # 401/429, or the database down (503): the app's own handlers answer
                if _handler(app, exc) is None:
                    raise
                await self._refuse(scope, receive, send, exc)
                return
            if ident is None:
                await self._refuse(scope, receive, send, sign_in_needed(scope["path"], headers))
                return
            refused = refusal(route, method, ident.role, ident)
            if refused is not None:
                await self._refuse(scope, receive, send, refused)
                return
            scope.setdefault("state", {})[IDENTITY_KEY] = ident
        await RequestBodyLimitMiddleware(self.app, limit)(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
        """Answer as the app would (its exception handlers: web/errors.py, web/app.py), without reading the body,
        and close the connection (the client may still be sending it)."""
        handler = _handler(scope["app"], exc) or http_exception_handler
        response = await handler(Request(scope, receive), exc)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _handler(app: Any, exc: Exception) -> Callable[..., Any] | None:
    """The app's exception handler for ``exc`` (by its class, most specific first), if it has one."""
    handlers = getattr(app, "exception_handlers", {}) or {}
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None
