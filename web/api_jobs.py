"""Failed pipeline jobs over HTTP (issue #9): list, show (with traceback), retry, discard.

Supervisors act; auditors may read. Redis down is a 503 (web/errors.py)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from pipeline import failed_jobs as fj
from pipeline.jobs import open_worker_queues
from storage.models import Role, User
from web.deps import CtxDep, require

router = APIRouter(tags=["jobs"])

Supervisor = Annotated[User, require(Role.SUPERVISOR)]
Overseer = Annotated[User, require(Role.SUPERVISOR, Role.AUDITOR)]
JobId = Annotated[str, Path(max_length=200)]


class FailedJobOut(BaseModel):
    job_id: str
    queue: str
    function: str | None
    args: list[Any]
    envelope_id: str | None
    document_id: str | None
    failed_at: datetime | None
    expires_at: datetime | None
    retries_left: int | None
    failures: int
    error: str | None


class FailedJobList(BaseModel):
    total: int
    items: list[FailedJobOut]


class FailedJobDetailOut(FailedJobOut):
    traceback: str | None
    created_at: datetime | None
    enqueued_at: datetime | None


class JobActionOut(BaseModel):
    job_id: str
    queue: str
    state: str  # "queued" after a retry, "discarded"


@router.get("/api/jobs/failed", response_model=FailedJobList)
def failed_list(user: Overseer, ctx: CtxDep, limit: Annotated[int, Query(ge=1, le=500)] = 100,
                offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """Jobs rq gave up on after its retries, newest failure first, on the main and the pages queue."""
    with open_worker_queues(ctx.settings, probe=True) as queues:
        total, items = fj.list_failed(queues, limit, offset)
    return {"total": total, "items": [asdict(i) for i in items]}


@router.get("/api/jobs/failed/{job_id}", response_model=FailedJobDetailOut)
def failed_show(job_id: JobId, user: Overseer, ctx: CtxDep) -> dict[str, Any]:
    with open_worker_queues(ctx.settings, probe=True) as queues:
        return asdict(fj.show(queues, job_id))


@router.post("/api/jobs/failed/{job_id}/retry", response_model=JobActionOut, status_code=202)
def failed_retry(job_id: JobId, user: Supervisor, ctx: CtxDep) -> JobActionOut:
    """Back on its queue for one more run (404 when it is not a failed job, 409 when it is queued or running)."""
    with open_worker_queues(ctx.settings, probe=True) as queues:
        job = fj.retry(queues, job_id, db_url=ctx.db_url, actor=user.username)
    return JobActionOut(job_id=job.job_id, queue=job.queue, state="queued")


@router.post("/api/jobs/failed/{job_id}/discard", response_model=JobActionOut)
def failed_discard(job_id: JobId, user: Supervisor, ctx: CtxDep) -> JobActionOut:
    """Removed for good, with its traceback (the audit event keeps what it was and why it failed)."""
    with open_worker_queues(ctx.settings, probe=True) as queues:
        job = fj.discard(queues, job_id, db_url=ctx.db_url, actor=user.username)
    return JobActionOut(job_id=job.job_id, queue=job.queue, state="discarded")
