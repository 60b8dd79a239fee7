"""Intake over HTTP: uploading an envelope and reading it back, batch status, and the quarantine
(list, show, retry)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, HTTPException, Query, UploadFile, status
from pydantic import BaseModel
from sqlalchemy.orm import Session

from channels.receive import enqueue, receive
from ground.records import Channel
from pipeline import quarantine as q
from pipeline.context import Context
from storage.audit import record
from storage.models import Envelope, Role, User, WorkItem
from web import schemas
from web.deps import CtxDep, Identity, IdentityDep, SessionDep, require

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


def may_read(user: User, ident: Identity | None, env: Envelope) -> bool:
    """Whether ``user`` (signed in as ``ident``) may see ``env``: a station (an upload-scoped token) only what it
    uploaded itself, a scanner only what it submitted, supervisors and auditors everything."""
    if ident is not None and ident.scope == "upload":
        return env.submitted_by == user.username and (ident.station is None or env.station == ident.station)
    if user.role == Role.SCANNER.value:
        return env.submitted_by == user.username
    return True


def _readable(session: Session, user: User, ident: Identity | None, envelope_id: str) -> Envelope:
    env = session.get(Envelope, envelope_id)
    if env is None or not may_read(user, ident, env):
        raise HTTPException(404, "Not found.")
    return env


RECEIPTS = uuid.UUID("5b0e7d1c-7c4e-4f53-9d8e-6a1f1f0b5e15")  # namespace of the receipts of hidden duplicates


def _receipt(first_id: str, user: User, station: str | None) -> str:
    """What a submitter is told when its upload repeats bytes someone else sent and it may not see theirs:
    an id of its own, the same on every retry, from which the other envelope's id cannot be told (SHA-1)."""
    return str(uuid.uuid5(RECEIPTS, f"{first_id}\n{user.username}\n{station or ''}"))


def _scoped_key(key: str | None, ident: Identity | None) -> str | None:
    """An Idempotency-Key is the submitter's own (intake/accept.py scopes it to the user); stations that share a
    user each have their own keys too."""
    if key is None or ident is None or not ident.station:
        return key
    return f"station {len(ident.station)}:{ident.station}:{key}"


@router.post("/api/envelopes", status_code=status.HTTP_202_ACCEPTED, response_model=schemas.Accepted)
def upload(
    user: Scanner, ident: IdentityDep, session: SessionDep, ctx: CtxDep,
    file: Annotated[UploadFile, File(description="PDF, image, TIFF fax, .eml or .msg")],
    channel: Annotated[Channel, Form()] = Channel.UPLOAD,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    expected_letters: Annotated[int | None, Form(ge=1, le=10_000, description="letters the station counted in "
                                                 "the batch, for the batch check (issue 18)")] = None,
) -> schemas.Accepted:
    """Store the original durably, then answer 202 with the envelope id; OCR runs behind.

    A plain ``def``: FastAPI runs it in its thread pool, so storing and exploring the arrival (``receive``:
    sniffing, hashing, fsync, the bounded parse) never blocks the event loop. The same bytes sent before by
    someone whose envelopes this caller may not see are answered like a new upload, with a receipt id of the
    caller's own (the other envelope's id and state are not shown); the audit trail of the first envelope
    records the receipt (``envelope.duplicate_hidden``)."""
    limit = ctx.settings.max_upload_bytes
    data = file.file.read(limit + 1)  # the spooled file, read in this worker thread
    if len(data) > limit:
        raise HTTPException(413, f"The file is larger than {limit} bytes.")
    if not data:
        raise HTTPException(400, "The file is empty; scan or attach it again.")
    station = ident.station if ident is not None else None
    meta = {"api_token": {"id": ident.token_id, "name": ident.token_name, "station": station}} \
        if ident is not None and ident.token_id is not None else None
    got = receive(ctx, data, file.filename or "upload", datetime.now(UTC), channel=channel,
                  submitted_by=user.username, idempotency_key=_scoped_key(idempotency_key, ident),
                  dispatch=enqueue(ctx), meta=meta)
    env = session.get(Envelope, got.envelope_id)
    assert env is not None
    env_id, state, duplicate = env.id, env.state, got.duplicate
    if got.duplicate and not may_read(user, ident, env):
        env_id, state, duplicate = _receipt(env.id, user, station), "received", False
        record(session, user.username, "envelope.duplicate_hidden", envelope_id=env.id,
               detail={"receipt": env_id, "station": station})
    elif not got.duplicate:
        env.station = station
        env.expected_letters = expected_letters
        record(session, user.username, "envelope.received", envelope_id=env.id,
               detail={"station": station, "token_id": ident.token_id if ident else None,
                       "token": ident.token_name if ident else None, "via": "api",
                       **({"expected_letters": expected_letters} if expected_letters else {})})
    session.commit()
    if not got.ok:
        raise HTTPException(got.problem_status, {"reason": got.problem, "envelope_id": env_id})
    return schemas.Accepted(envelope_id=env_id, state=state, duplicate=duplicate)


@router.get("/api/envelopes/{envelope_id}", response_model=schemas.EnvelopeOut)
def envelope(envelope_id: str, user: Viewer, ident: IdentityDep, session: SessionDep) -> schemas.EnvelopeOut:
    """An envelope with its documents (their entities: customer numbers, IBANs, national ids). Audited."""
    env = _readable(session, user, ident, envelope_id)
    record(session, user.username, "envelope.viewed", envelope_id=env.id,
           detail={"documents": [d.id for d in env.documents], "via": "api"})
    docs = [
        schemas.DocumentOut(id=d.id, pages=d.pages, language=d.language, category=d.category,
                            confidence=d.confidence, segment=d.segment, entities=d.entities,
                            model_version=d.model_version or None, superseded_by=d.superseded_by,
                            work_item=_item_out(d.work_item) if d.work_item else None)
        for d in env.documents
    ]
    return schemas.EnvelopeOut(id=env.id, state=env.state, error=env.error, channel=env.channel,
                               source_name=env.source_name, received_at=env.received_at, documents=docs)


@router.get("/api/batches/{envelope_id}", response_model=BatchStatus, tags=INTAKE)
def batch(envelope_id: str, user: Viewer, ident: IdentityDep, session: SessionDep) -> dict[str, Any]:
    """Pages received, documents found and each document's state; a station sees only its own batches. Audited."""
    env = _readable(session, user, ident, envelope_id)
    status = q.batch_status(session, envelope_id)
    record(session, user.username, "envelope.batch_viewed", envelope_id=env.id, detail={"via": "api"})
    return status


@router.get("/api/quarantine", response_model=QuarantineList, tags=INTAKE)
def quarantine_list(user: Overseer, session: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 100,
                    offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    total, items = q.list_quarantined(session, limit, offset)
    return {"total": total, "items": items}


@router.get("/api/quarantine/{envelope_id}", response_model=HeldDetail, tags=INTAKE)
def quarantine_show(envelope_id: str, user: Overseer, session: SessionDep) -> dict[str, Any]:
    """A held envelope (quarantined or waiting for a person) with its reason, metadata and trail; any other
    envelope is 404 here (the archive shows those, to those who may see them). Audited."""
    env = session.get(Envelope, envelope_id)
    if env is None or env.state not in {s.value for s in q.HELD}:
        raise HTTPException(404, "Not found.")
    shown = q.show(session, envelope_id)
    record(session, user.username, "envelope.quarantine_viewed", envelope_id=env.id, detail={"via": "api"})
    return shown


@router.post("/api/quarantine/{envelope_id}/retry", response_model=RetryOut, status_code=202, tags=INTAKE)
def quarantine_retry(envelope_id: str, user: Supervisor, ctx: CtxDep) -> RetryOut:
    """Back to ``received`` and enqueued for reading again (409 when it is not in quarantine)."""
    retry_envelope(ctx, envelope_id, user.username)
    return RetryOut(envelope_id=envelope_id, state="received", enqueued=True)
