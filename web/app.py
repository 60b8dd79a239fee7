"""The HTTP API and the pages: one FastAPI app over the routers of web/ (it defines no routes itself)."""

from __future__ import annotations

import gc

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ground.errors import MailroomError
from pipeline.context import Context
from web import (
    api_archive,
    api_config,
    api_corrections,
    api_customers,
    api_entities,
    api_intake,
    api_jobs,
    api_models,
    api_notes,
    api_people,
    api_queues,
    api_replies,
    api_reports,
    ops,
    pages,
    schemas,
)
from web.deps import api_routes, guard
from web.errors import install as install_error_handlers
from web.gate import RequestGate
from web.pages import (
    admin,
    agent,
    archive,
    cases,
    config,
    corrections,
    customers,
    mailroom,
    models,
    queue_items,
    reports,
    supervisor,
)

# Every route of the app, in matching order: the API (OpenAPI), then the pages (not in the schema).
ROUTERS = (
    ops.router,  # /api/health, /api/ready
    api_intake.router,  # /api/envelopes, /api/batches, /api/quarantine
    api_corrections.router,  # /api/batches/{id}/layout, corrections, re-read, expected letters (issue 18)
    api_queues.router,
    api_replies.router,  # /api/work-items/{id}/replies, /api/replies, /api/post-batches, /api/cases/{id}/timeline
    api_customers.router,  # /api/customers, the customer link of a work item
    api_entities.router,  # an agent's correction of an entity value read on a letter
    api_notes.router,  # internal notes on work items
    api_people.router,  # /api/users, /api/tokens: people and station tokens, admins (issue 19)
    api_archive.router,
    api_jobs.router,
    api_reports.router,  # /api/reports/{name}[.csv|.xlsx]: supervisors; auditors all but per agent
    api_config.router,  # /api/config/{routing|sla}: versions, check and dry run, save, rollback (issue 19)
    api_models.router,  # /api/models: trained category models, evaluation, promotion, rollback (issue 19)
    pages.router,  # static files, sign-in
    mailroom.router,
    corrections.router,  # /mailroom/batches/{id}/correct, page images, expected letters (issue 18)
    agent.router,
    supervisor.router,
    archive.router,  # /auditor
    cases.router,  # /cases/{id}: a case's timeline
    reports.router,  # /supervisor/reports, /auditor/reports (issue 19)
    config.router,  # /config/{routing|sla}: edit, dry run, history, rollback (issue 19)
    models.router,  # /admin/models: train, compare, promote, roll back the category model (issue 19)
    customers.router,  # /customers, /customers/{id}, corrections on the letter page (issue 18)
    queue_items.router,  # /agent/queues/{queue}/items: a queue's open items in the order they are taken
    admin.router,  # /admin/users, /admin/tokens: people and station tokens (issue 19)
)


class SecurityHeaders:
    """``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer`` on every response that does not
    set its own. Plain ASGI: Starlette's ``@app.middleware("http")`` ran each request through a task group and
    memory streams, which it does not need (web CPU per API request fell by 0.5–1.5 ms without them)."""

    HEADERS = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"))

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.HEADERS:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(ctx: Context) -> FastAPI:
    errors = {status: {"model": schemas.ErrorOut} for status in (400, 401, 404, 409, 413, 415, 422, 429, 503)}
    app = FastAPI(title="Mailroom", version="0.1.0", responses=errors,
                  dependencies=[Depends(guard)],  # web/deps.py ACCESS
                  description="Document intake and correspondence processing for customer care.")
    app.state.ctx = ctx
    install_error_handlers(app)  # 503 when the database/blob store is down
    app.add_middleware(RequestGate)  # size limit and credentials before a body is read (web/gate.py)

    @app.exception_handler(MailroomError)
    async def mailroom_error(_: Request, exc: MailroomError) -> JSONResponse:
        return JSONResponse({"detail": exc.reason, "code": exc.code}, status_code=exc.http_status)

    app.add_middleware(SecurityHeaders)

    for router in ROUTERS:
        app.include_router(router)
    return app


def resolve_routes(app: FastAPI) -> int:
    """Build now what FastAPI builds for each included router on its first request (every route's dependency
    analysis: ≈ 0.7 s for this app), so that ``serve`` pays it once before it forks its web processes, not
    on the first requests each of them answers. Returns the number of API routes."""
    return sum(1 for _ in api_routes(app.router.routes))


def ready_to_serve(app: FastAPI) -> int:
    """What a web process does once before it answers (and before ``serve`` forks the others): the routes are
    resolved, and every object made so far is moved out of the garbage collector's reach (``gc.freeze``).

    A full collection walks every object the process holds (300,000 after start-up: about 0.1 s, more on a
    busy machine) and stops every thread of the process meanwhile; on SQLite a thread stopped so while it holds
    the database's write lock holds up every writer of every process. Frozen, the start-up's objects (modules,
    routes, models) are never walked again, and the forked processes keep sharing their pages. Returns the
    number of API routes."""
    routes = resolve_routes(app)
    gc.collect()  # what is garbage now is not frozen
    gc.freeze()
    return routes
