"""The database is the record of truth: re-enqueue whatever Redis lost or never got.

Two ways a job disappears: Redis forgets it (flushed, restarted without persistence) — the
envelope or document then sits in its stage with no live job; or its worker is SIGKILLed —
the job then stays "started" in Redis. rq notices the latter only when the job's heartbeat
has expired *and* a live worker runs its maintenance (every 10 minutes); a worker on this
machine whose process is gone is recognised at once here.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler
from rq.scripts import release_lock
from rq.serializers import JSONSerializer
from sqlalchemy import select

from pipeline.jobs import RETRY, enqueue_read, enqueue_route, pages_queue
from storage.db import session_scope
from storage.models import Document, DocumentState, Envelope, EnvelopeState

log = logging.getLogger(__name__)


@dataclass
class Reconciled:
    envelopes: int = 0
    documents: int = 0
    abandoned: int = 0  # started jobs whose worker is dead, put back on the queue


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _worker_dead(queue: Queue, name: str | None, host: str) -> bool:
    """True when the job's worker is gone: its Redis key expired, or it ran here and its process is dead."""
    if not name:
        return False
    worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + name, connection=queue.connection,
                                serializer=JSONSerializer)
    if worker is None:
        return True
    return worker.hostname == host and worker.pid is not None and not _pid_alive(worker.pid)


def requeue_abandoned(queue: Queue, host: str | None = None) -> int:
    """Put back on their queue the started jobs whose worker died (SIGKILL, OOM, power loss): those of
    ``queue`` and of its pages queue (page chunks of long files), the two every worker serves."""
    host = host or socket.gethostname()
    count = 0
    for q in (queue, pages_queue(queue)):
        registry = q.started_job_registry
        for job_id in registry.get_job_ids():  # also runs rq's own cleanup of expired heartbeats
            try:
                job = Job.fetch(job_id, connection=q.connection, serializer=JSONSerializer)
            except NoSuchJobError:
                registry.remove(job_id)
                continue
            if job.get_status(refresh=False) != JobStatus.STARTED or not _worker_dead(q, job.worker_name, host):
                continue
            registry.remove_executions(job)
            q.enqueue_call(job.func_name, args=job.args, job_id=job.id, retry=RETRY, result_ttl=3600,
                           failure_ttl=7 * 86400)
            log.warning("job %s was abandoned by dead worker %s; re-enqueued", job.id, job.worker_name)
            count += 1
    return count


def release_dead_scheduler_locks(queue: Queue, host: str | None = None) -> int:
    """Free the scheduler locks of ``queue`` and its pages queue that a dead scheduler on this machine holds.

    rq's scheduler (which moves retries whose wait is over back to the queue) holds a lock per queue for 61 s
    and refreshes it every second. After a SIGKILL, a new worker finds the lock taken and tries again only
    between two waits for work, and an idle worker waits up to its dequeue timeout: retries would sit for
    minutes. A lock whose owner is a dead process here is released at once; others are left to expire."""
    host = host or socket.gethostname()
    freed = 0
    for q in (queue, pages_queue(queue)):
        key = RQScheduler.get_locking_key(q.name)
        owner = q.connection.get(key)
        if owner is None:
            continue
        token = owner.decode() if isinstance(owner, bytes) else str(owner)
        info = q.connection.hgetall(SCHEDULER_KEY_TEMPLATE % token)
        hostname, pid = info.get(b"hostname", b"").decode(), int(info.get(b"pid", b"0") or 0)
        if hostname == host and pid > 0 and not _pid_alive(pid) and release_lock(q.connection, key, token):
            log.warning("scheduler lock of queue %s held by dead scheduler %s (pid %s); released", q.name, token, pid)
            freed += 1
    return freed


def reconcile(db_url: str, queue: Queue, now: datetime, grace: timedelta = timedelta(seconds=30)) -> Reconciled:
    """Enqueue reads for envelopes and routes for documents stuck longer than ``grace``.

    An envelope read in page chunks stays "received" until its last chunk is read; its read job then only
    re-enqueues the chunks that have no live job (pipeline.jobs.read_job)."""
    cutoff = now - grace
    release_dead_scheduler_locks(queue)
    out = Reconciled(abandoned=requeue_abandoned(queue))
    with session_scope(db_url) as s:
        envs = s.scalars(select(Envelope.id).where(Envelope.state == EnvelopeState.RECEIVED,
                                                   Envelope.updated_at < cutoff)).all()
        docs = s.scalars(select(Document.id).where(Document.state == DocumentState.READ,
                                                   Document.created_at < cutoff)).all()
    for env_id in envs:
        out.envelopes += enqueue_read(queue, env_id)
    for doc_id in docs:
        out.documents += enqueue_route(queue, doc_id)
    return out
