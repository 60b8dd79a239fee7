"""The HTTP API: thin routes over intake, storage and queues."""

from __future__ import annotations

import importlib
import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, File, Form, Header, HTTPException, Request, UploadFile, status
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from sqlalchemy import text

from channels.receive import enqueue, receive
from ground.errors import MailroomError
from ground.records import Channel
from pipeline.context import Context
from pipeline.jobs import job_queue
from storage.models import Envelope, Role, User, WorkItem
from web import schemas
from web.deps import CtxDep, SessionDep, guard, require

log = logging.getLogger(__name__)

# Routers contributed by other parts (queues, archive, pages): modules exposing ``router``.
ROUTERS: list[str] = ["web.pages", "web.api_intake", "web.api_queues", "web.api_archive", "web.ops",
                     "web.api_jobs"]

Scanner = Annotated[User, require(Role.SCANNER, Role.SUPERVISOR)]
Viewer = Annotated[User, require(Role.SCANNER, Role.SUPERVISOR, Role.AUDITOR)]
Agent = Annotated[User, require(Role.AGENT, Role.SUPERVISOR)]


def _item_out(item: WorkItem) -> schemas.WorkItemOut:
    return schemas.WorkItemOut.model_validate(item, from_attributes=True)


def create_app(ctx: Context) -> FastAPI:
    errors = {status: {"model": schemas.ErrorOut} for status in (400, 401, 404, 409, 413, 415, 422, 429, 503)}
    app = FastAPI(title="Mailroom", version="0.1.0", responses=errors,
                  dependencies=[Depends(guard)],  # web/deps.py ACCESS
                  description="Document intake and correspondence processing for customer care.")
    app.state.ctx = ctx
    importlib.import_module("web.errors").install(app)  # 503 when the database/blob store is down

    @app.exception_handler(MailroomError)
    async def mailroom_error(_: Request, exc: MailroomError) -> JSONResponse:
        return JSONResponse({"detail": exc.reason, "code": exc.code}, status_code=exc.http_status)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.get("/api/health", response_model=schemas.Health)
    def health(session: SessionDep, ctx: CtxDep) -> schemas.Health:
        session.execute(text("SELECT 1"))
        try:
            job_queue(ctx.settings).connection.ping()
            redis_state = "ok"
        except (RedisError, OSError):
            redis_state = "unavailable"
        return schemas.Health(status="ok", database="ok", redis=redis_state)

    @app.post("/api/envelopes", status_code=status.HTTP_202_ACCEPTED, response_model=schemas.Accepted)
    async def upload(
        user: Scanner, session: SessionDep, ctx: CtxDep,
        file: Annotated[UploadFile, File(description="PDF, image, TIFF fax, .eml or .msg")],
        channel: Annotated[Channel, Form()] = Channel.UPLOAD,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> schemas.Accepted:
        """Store the original durably, then answer 202 with the envelope id; OCR runs behind."""
        data = await file.read(ctx.settings.max_upload_bytes + 1)
        if len(data) > ctx.settings.max_upload_bytes:
            raise HTTPException(413, f"The file is larger than {ctx.settings.max_upload_bytes} bytes.")
        if not data:
            raise HTTPException(400, "The file is empty; scan or attach it again.")
        got = receive(ctx, data, file.filename or "upload", datetime.now(UTC), channel=channel,
                      submitted_by=user.username, idempotency_key=idempotency_key, dispatch=enqueue(ctx))
        env_id = got.envelope_id
        if not got.ok:
            raise HTTPException(got.problem_status, {"reason": got.problem, "envelope_id": env_id})
        env = session.get(Envelope, env_id)
        assert env is not None
        return schemas.Accepted(envelope_id=env_id, state=env.state, duplicate=got.duplicate)

    @app.get("/api/envelopes/{envelope_id}", response_model=schemas.EnvelopeOut)
    def envelope(envelope_id: str, user: Viewer, session: SessionDep) -> schemas.EnvelopeOut:
        env = session.get(Envelope, envelope_id)
        if env is None or (user.role == Role.SCANNER and env.submitted_by != user.username):
            raise HTTPException(404, "Not found.")
        docs = [
            schemas.DocumentOut(id=d.id, pages=d.pages, language=d.language, category=d.category,
                                confidence=d.confidence, segment=d.segment, entities=d.entities,
                                work_item=_item_out(d.work_item) if d.work_item else None)
            for d in env.documents
        ]
        return schemas.EnvelopeOut(id=env.id, state=env.state, error=env.error, channel=env.channel,
                                   source_name=env.source_name, received_at=env.received_at, documents=docs)

    for module in ROUTERS:
        app.include_router(importlib.import_module(module).router)
    return app
