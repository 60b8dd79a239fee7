"""Intake over HTTP: uploading an envelope and reading it back, batch status, and the quarantine
(list, show, retry)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, HTTPException, Query, UploadFile, status
from pydantic import BaseModel

from channels.receive import enqueue, receive
from ground.records import Channel
from pipeline import quarantine as q
from pipeline.context import Context
from storage.models import Envelope, Role, User, WorkItem
from web import schemas
from web.deps import CtxDep, SessionDep, require

router = APIRouter()
INTAKE = ["intake"]  # the OpenAPI tag of batches and quarantine (uploads and envelopes have none)

Scanner = Annotated[User, require(Role.SCANNER, Role.SUPERVISOR)]
Supervisor = Annotated[User, require(Role.SUPERVISOR)]
Overseer = Annotated[User, require(Role.SUPERVISOR, Role.AUDITOR)]
Viewer = Annotated[User, require(Role.SCANNER, Role.SUPERVISOR, Role.AUDITOR)]


class WorkItemRef(BaseModel):
    id: int
    queue: str
    state: str
    sla_due: datetime


class BatchDocument(BaseModel):
    id: str
    part: str
    first_page: int
    pages: int
    blank_pages: int
    state: str
    category: str | None
    language: str | None
    work_item: WorkItemRef | None


class ChunkProgress(BaseModel):
    chunks: int
    chunks_done: int
    pages_read: int
    pages_total: int


class BatchStatus(BaseModel):
    envelope_id: str
    state: str
    reason: str | None
    channel: str
    source_name: str
    submitted_by: str | None
    received_at: datetime
    pages_received: int | None
    documents_found: int
    documents: list[BatchDocument]
    reading: ChunkProgress | None = None  # while a long file is read in page chunks


class HeldEnvelope(BaseModel):
    id: str
    state: str
    reason: str | None
    channel: str
    source_name: str
    content_type: str
    size: int
    received_at: datetime
    attempts: int


class QuarantineList(BaseModel):
    total: int
    items: list[HeldEnvelope]


class AuditEntry(BaseModel):
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]


class HeldDetail(HeldEnvelope):
    sha256: str
    meta: dict[str, Any]
    events: list[AuditEntry]


class RetryOut(BaseModel):
    envelope_id: str
    state: str
    enqueued: bool


def retry_envelope(ctx: Context, envelope_id: str, actor: str) -> None:
    """Send a held envelope for reading again: back to ``received`` (type sniffed again, audited; Conflict
    when it is not held), then enqueued. The one retry of the API and the mailroom page."""
    q.retry(ctx, envelope_id, actor, datetime.now(UTC))
    enqueue(ctx)(envelope_id)


def _item_out(item: WorkItem) -> schemas.WorkItemOut:
    return schemas.WorkItemOut.model_validate(item, from_attributes=True)


@router.post("/api/envelopes", status_code=status.HTTP_202_ACCEPTED, response_model=schemas.Accepted)
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


@router.get("/api/envelopes/{envelope_id}", response_model=schemas.EnvelopeOut)
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


@router.get("/api/batches/{envelope_id}", response_model=BatchStatus, tags=INTAKE)
def batch(envelope_id: str, user: Viewer, session: SessionDep) -> dict[str, Any]:
    """Pages received, documents found and each document's state; a station sees only its own batches."""
    env = session.get(Envelope, envelope_id)
    if env is None or (user.role == Role.SCANNER and env.submitted_by != user.username):
        raise HTTPException(404, "Not found.")
    return q.batch_status(session, envelope_id)


@router.get("/api/quarantine", response_model=QuarantineList, tags=INTAKE)
def quarantine_list(user: Overseer, session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 100,
                    offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    total, items = q.list_quarantined(session, limit, offset)
    return {"total": total, "items": items}


@router.get("/api/quarantine/{envelope_id}", response_model=HeldDetail, tags=INTAKE)
def quarantine_show(envelope_id: str, user: Overseer, session: SessionDep) -> dict[str, Any]:
    return q.show(session, envelope_id)


@router.post("/api/quarantine/{envelope_id}/retry", response_model=RetryOut, status_code=202, tags=INTAKE)
def quarantine_retry(envelope_id: str, user: Supervisor, ctx: CtxDep) -> RetryOut:
    """Back to ``received`` and enqueued for reading again (409 when it is not in quarantine)."""
    retry_envelope(ctx, envelope_id, user.username)
    return RetryOut(envelope_id=envelope_id, state="received", enqueued=True)
