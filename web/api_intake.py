"""Intake over HTTP: batch status, and the quarantine (list, show, retry)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from channels.receive import enqueue
from pipeline import quarantine as q
from storage.models import Envelope, Role, User
from web.deps import CtxDep, SessionDep, require

router = APIRouter(tags=["intake"])

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


@router.get("/api/batches/{envelope_id}", response_model=BatchStatus)
def batch(envelope_id: str, user: Viewer, session: SessionDep) -> dict[str, Any]:
    """Pages received, documents found and each document's state; a station sees only its own batches."""
    env = session.get(Envelope, envelope_id)
    if env is None or (user.role == Role.SCANNER and env.submitted_by != user.username):
        raise HTTPException(404, "Not found.")
    return q.batch_status(session, envelope_id)


@router.get("/api/quarantine", response_model=QuarantineList)
def quarantine_list(user: Overseer, session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 100,
                    offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    total, items = q.list_quarantined(session, limit, offset)
    return {"total": total, "items": items}


@router.get("/api/quarantine/{envelope_id}", response_model=HeldDetail)
def quarantine_show(envelope_id: str, user: Overseer, session: SessionDep) -> dict[str, Any]:
    return q.show(session, envelope_id)


@router.post("/api/quarantine/{envelope_id}/retry", response_model=RetryOut, status_code=202)
def quarantine_retry(envelope_id: str, user: Supervisor, ctx: CtxDep) -> RetryOut:
    """Back to ``received`` and enqueued for reading again (409 when it is not in quarantine)."""
    q.retry(ctx, envelope_id, user.username, datetime.now(UTC))
    enqueue(ctx)(envelope_id)
    return RetryOut(envelope_id=envelope_id, state="received", enqueued=True)
