"""Failed pipeline jobs (issue #9): what rq gave up on after its automatic retries (pipeline.jobs.RETRY),
shown to a supervisor, and put back on its queue or discarded by one. Shared by the CLI and the API.

rq keeps a failed job in the FailedJobRegistry of its queue for ``failure_ttl`` (7 days for the
pipeline's jobs), with its traceback in the job's results. The functions here read the registries of
the queues they are given (``pipeline.jobs.worker_queues``: the main queue and its pages queue). A
retry or discard by a person is an audit event (``job.retry`` / ``job.discard``): the event is
written, then the job is moved in Redis, then the event commits (a move that fails rolls it back).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rq import Queue
from rq.exceptions import DeserializationError, InvalidJobOperation, NoSuchJobError
from rq.job import JOB_ID_PATTERN, Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.results import Result

from ground.errors import Conflict, NotFound
from storage.audit import record
from storage.db import session_scope

ENVELOPE_JOBS = frozenset({"read_job", "read_chunk_job"})  # first argument: an envelope id
DOCUMENT_JOBS = frozenset({"route_job"})  # first argument: a document id
ID_COLUMN_LENGTH = 36  # audit_events.envelope_id / document_id
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class FailedJob:
    job_id: str
    queue: str
    function: str | None  # short name (route_job); None when the job's data is gone or unreadable
    args: list[Any]
    envelope_id: str | None  # what the job concerns, from its arguments
    document_id: str | None
    failed_at: datetime | None
    expires_at: datetime | None  # when rq forgets it (failure_ttl after the failure)
    retries_left: int | None  # automatic retries rq had left: 0 = used up; None = enqueued without retries
    failures: int  # times it ended here (rq keeps the last 10 results of a job)
    error: str | None  # last line of the traceback: exception type and message


@dataclass(frozen=True)
class FailedJobDetail(FailedJob):
    traceback: str | None
    created_at: datetime | None
    enqueued_at: datetime | None


@dataclass(frozen=True)
class QueueCounts:
    queue: str
    queued: int
    started: int
    failed: int
    scheduled: int


def _utc(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _last_line(text: str | None) -> str | None:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:MAX_ERROR_CHARS] if lines else None


def _concerns(function: str | None, args: list[Any]) -> tuple[str | None, str | None]:
    first = str(args[0]) if args else None
    if function in ENVELOPE_JOBS:
        return first, None
    if function in DOCUMENT_JOBS:
        return None, first
    return None, None


def _failed_results(job: Job) -> list[Result]:
    return [r for r in job.results() if r.type == Result.Type.FAILED]  # newest first


def _describe(job: Job | None, job_id: str, queue: str, score: float | None,
              detail: bool = False) -> FailedJob | FailedJobDetail:
    expires = datetime.fromtimestamp(score, UTC) if score is not None and score != float("inf") else None
    function: str | None = None
    args: list[Any] = []
    failed: list[Result] = []
    if job is not None:
        try:
            function = (job.func_name or "").rsplit(".", 1)[-1] or None
            args = list(job.args)
        except DeserializationError:
            function, args = None, []
        failed = _failed_results(job)
    envelope_id, document_id = _concerns(function, args)
    trace = failed[0].exc_string if failed else None
    failed_at = _utc(job.ended_at) if job is not None and job.ended_at else None
    if failed_at is None and failed:
        failed_at = failed[0].created_at
    fields: dict[str, Any] = {
        "job_id": job_id, "queue": queue, "function": function, "args": args, "envelope_id": envelope_id,
        "document_id": document_id, "failed_at": failed_at, "expires_at": expires,
        "retries_left": job.retries_left if job is not None else None, "failures": len(failed),
        "error": _last_line(trace) or (None if job is not None else "the job's data has expired"),
    }
    if not detail:
        return FailedJob(**fields)
    return FailedJobDetail(**fields, traceback=trace, created_at=_utc(job.created_at) if job else None,
                           enqueued_at=_utc(job.enqueued_at) if job else None)


def _registry(queue: Queue) -> FailedJobRegistry:
    return FailedJobRegistry(queue=queue)


def list_failed(queues: list[Queue], limit: int = 100, offset: int = 0) -> tuple[int, list[FailedJob]]:
    """Failed jobs of ``queues``, newest failure first, and how many there are in all."""
    limit, offset = max(limit, 0), max(offset, 0)
    entries: list[tuple[float, str, str]] = []
    for queue in queues:
        registry = _registry(queue)
        registry.cleanup()  # drop what outlived failure_ttl
        for raw, score in queue.connection.zrange(registry.key, 0, -1, withscores=True):
            job_id = raw.decode() if isinstance(raw, bytes) else str(raw)
            entries.append((float(score), queue.name, job_id))
    entries.sort(key=lambda e: (-e[0], e[1], e[2]))  # score = failed at + failure_ttl
    page = entries[offset:offset + limit] if offset < len(entries) else []
    jobs: dict[tuple[str, str], Job | None] = {}
    for queue in queues:  # one round trip per queue for the page's job hashes
        ids = [job_id for _, name, job_id in page if name == queue.name]
        found = Job.fetch_many(ids, connection=queue.connection, serializer=queue.serializer) if ids else []
        jobs.update({(queue.name, job_id): job for job_id, job in zip(ids, found, strict=True)})
    return len(entries), [_describe(jobs[(name, job_id)], job_id, name, score) for score, name, job_id in page]


def _find(queues: list[Queue], job_id: str) -> tuple[Queue, FailedJobRegistry, float]:
    """The queue whose failed registry holds ``job_id``; NotFound (or Conflict when it exists elsewhere)."""
    if not JOB_ID_PATTERN.fullmatch(job_id):
        raise NotFound(f"There is no failed job {job_id[:100]!r}.")
    now = time.time()
    for queue in queues:
        registry = _registry(queue)
        score = queue.connection.zscore(registry.key, job_id)
        if score is not None and score > now:
            return queue, registry, float(score)
    if queues and Job.exists(job_id, connection=queues[0].connection):
        status = Job.fetch(job_id, connection=queues[0].connection, serializer=queues[0].serializer).get_status()
        raise Conflict(f"Job {job_id} is {status}, not failed; nothing to retry or discard.")
    raise NotFound(f"There is no failed job {job_id}.")


def show(queues: list[Queue], job_id: str) -> FailedJobDetail:
    """One failed job with its whole traceback."""
    queue, _, score = _find(queues, job_id)
    job = Job.fetch_many([job_id], connection=queue.connection, serializer=queue.serializer)[0]
    described = _describe(job, job_id, queue.name, score, detail=True)
    assert isinstance(described, FailedJobDetail)
    return described


def _audit(db_url: str, actor: str, action: str, job: FailedJob, move: Any) -> None:
    """Record the event, do ``move()``, then commit: no event without the move (a failed move rolls it back)."""
    def short(value: str | None) -> str | None:
        return value if value is not None and len(value) <= ID_COLUMN_LENGTH else None

    with session_scope(db_url) as s:
        record(s, actor, action, envelope_id=short(job.envelope_id), document_id=short(job.document_id),
               detail={"job_id": job.job_id, "queue": job.queue, "function": job.function, "args": job.args,
                       "error": job.error, "envelope_id": job.envelope_id, "document_id": job.document_id})
        move()


def retry(queues: list[Queue], job_id: str, *, db_url: str, actor: str) -> FailedJob:
    """Put a failed job back on its queue (rq's ``requeue``: the worker runs it once more; a failure brings
    it back here). NotFound when no failed registry holds it, Conflict when it is queued or running."""
    queue, registry, score = _find(queues, job_id)
    job = Job.fetch_many([job_id], connection=queue.connection, serializer=queue.serializer)[0]
    if job is None:
        raise NotFound(f"The data of failed job {job_id} has expired; discard it.")
    described = _describe(job, job_id, queue.name, score)

    def move() -> None:
        try:
            registry.requeue(job)
        except (InvalidJobOperation, NoSuchJobError) as exc:  # retried or discarded meanwhile
            raise Conflict(f"Job {job_id} is no longer failed; someone else retried or discarded it.") from exc

    _audit(db_url, actor, "job.retry", described, move)
    return described


def discard(queues: list[Queue], job_id: str, *, db_url: str, actor: str) -> FailedJob:
    """Remove a failed job (and its traceback) for good. NotFound when no failed registry holds it."""
    queue, registry, score = _find(queues, job_id)
    job = Job.fetch_many([job_id], connection=queue.connection, serializer=queue.serializer)[0]
    described = _describe(job, job_id, queue.name, score)

    def move() -> None:
        if not registry.remove(job_id):
            raise Conflict(f"Job {job_id} is no longer failed; someone else retried or discarded it.")
        if job is not None:
            job.delete(remove_from_queue=False)

    _audit(db_url, actor, "job.discard", described, move)
    return described


def queue_counts(queues: list[Queue]) -> list[QueueCounts]:
    """Per queue: jobs waiting, running, failed and scheduled (retries waiting for their back-off)."""
    out = []
    for queue in queues:
        out.append(QueueCounts(
            queue=queue.name, queued=queue.count,
            started=StartedJobRegistry(queue=queue).get_job_count(cleanup=False),
            failed=_registry(queue).get_job_count(cleanup=True),
            scheduled=ScheduledJobRegistry(queue=queue).get_job_count(cleanup=False)))
    return out
