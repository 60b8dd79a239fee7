"""rq shell around the runner. Jobs carry ids only, serialised as JSON (never pickle)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache

from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry as RedisRetry
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus, get_current_job
from rq.serializers import JSONSerializer

from ground.settings import Settings, get_settings
from pipeline import chunks
from pipeline.chunks import Chunk
from pipeline.context import Context, get_context
from pipeline.runner import assemble, run_chunk, run_read, run_route

log = logging.getLogger(__name__)

LIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}
RETRY = Retry(max=3, interval=[2, 10, 30])


def redis_connection(settings: Settings, *, probe: bool = False) -> Redis:
    """A connection to the job Redis. ``probe``: for a person or a load balancer waiting on the answer (health,
    readiness, the failed-jobs pages): no retries and a 2 s timeout, so Redis being down is said at once
    instead of after redis-py's default retries with back-off (about 4.5 s)."""
    quick: dict[str, object] = {"retry": RedisRetry(NoBackoff(), 0), "socket_connect_timeout": 2.0,
                                "socket_timeout": 2.0} if probe else {}
    return _client(settings.redis_url, str(settings.redis_socket), **quick)


def _client(url: str, socket_path: str, **options: object) -> Redis:
    """A client of the configured Redis: ``url``, else the embedded redis-server's socket."""
    if url:
        return Redis.from_url(url, **options)  # type: ignore[arg-type]
    return Redis(unix_socket_path=socket_path, **options)  # type: ignore[arg-type]


_shared_redis = lru_cache(maxsize=8)(_client)


def shared_redis(settings: Settings) -> Redis:
    """One client (a thread-safe connection pool) per process and Redis, for calls on every request: a new
    client per upload paid a connect, redis-py's CLIENT SETINFO handshake and a package-metadata lookup.
    redis-py resets the pool in a forked child. Never ``close()`` it: other threads may be using it."""
    return _shared_redis(settings.redis_url, str(settings.redis_socket))


def job_queue(settings: Settings | None = None, connection: Redis | None = None) -> Queue:
    settings = settings or get_settings()
    return Queue(settings.queue_name, connection=connection or redis_connection(settings),
                 serializer=JSONSerializer, default_timeout=900)


def pages_queue(queue: Queue) -> Queue:
    """The queue of page chunks of long files (pipeline.chunks) next to ``queue``: workers serve it only when
    ``queue`` is empty, so a 500-page scan does not hold up the letters that arrive while it is read."""
    return Queue(f"{queue.name}-pages", connection=queue.connection, serializer=JSONSerializer,
                 default_timeout=900)


def worker_queues(settings: Settings | None = None) -> list[Queue]:
    """What a worker serves, in order of precedence."""
    queue = job_queue(settings)
    return [queue, pages_queue(queue)]


@contextmanager
def open_worker_queues(settings: Settings | None = None, *, probe: bool = False) -> Iterator[list[Queue]]:
    """``worker_queues`` on one Redis connection that is closed afterwards (a request, a CLI command)."""
    settings = settings or get_settings()
    queue = job_queue(settings, redis_connection(settings, probe=probe))
    queues = [queue, pages_queue(queue)]
    try:
        yield queues
    finally:
        queues[0].connection.close()


def _enqueue_once(queue: Queue, func: str, args: tuple[str | int, ...], job_id: str) -> bool:
    """Enqueue unless a live job with this id exists; False when one does."""
    try:
        job = Job.fetch(job_id, connection=queue.connection, serializer=JSONSerializer)
        if job.get_status(refresh=False) in LIVE:
            return False
    except NoSuchJobError:
        pass
    queue.enqueue_call(func, args=args, job_id=job_id, retry=RETRY, result_ttl=3600, failure_ttl=7 * 86400)
    return True


def enqueue_read(queue: Queue, envelope_id: str) -> bool:
    return _enqueue_once(queue, "pipeline.jobs.read_job", (envelope_id,), f"read-{envelope_id}")


def enqueue_route(queue: Queue, document_id: str) -> bool:
    return _enqueue_once(queue, "pipeline.jobs.route_job", (document_id,), f"route-{document_id}")


def enqueue_chunk(queue: Queue, envelope_id: str, chunk: Chunk) -> bool:
    """A page chunk goes on the pages queue next to ``queue``."""
    return _enqueue_once(pages_queue(queue), "pipeline.jobs.read_chunk_job",
                         (envelope_id, chunk.part_index, chunk.first_page),
                         f"read-{envelope_id}-{chunk.part_index}-{chunk.first_page}")


def _queue(settings: Settings) -> Queue:
    job = get_current_job()  # its worker's connection: no new Redis connection per job
    return job_queue(settings, connection=job.connection if job is not None else None)


def read_job(envelope_id: str) -> list[str]:
    ctx = get_context()
    ids = run_read(ctx, envelope_id, chunk_pages=ctx.settings.ocr_chunk_pages)
    queue = _queue(ctx.settings)
    if not ids:  # read in page chunks? (again, when the reconciler found it unfinished)
        left = chunks.pending(ctx, envelope_id)
        if left == []:  # every chunk read, but the documents were not made (the last job died)
            ids = assemble(ctx, envelope_id)
        for chunk in left or []:
            enqueue_chunk(queue, envelope_id, chunk)
    route_here(ctx, queue, ids)
    return ids


def route_here(ctx: Context, queue: Queue, ids: list[str]) -> None:
    """Route the documents this job just read, in this job: a route job of its own cost an enqueue, a
    dequeue, rq's job set-up and a database round to load the document again (a third of a born-digital
    letter's CPU in the worker). Nothing is lost if this process dies: a read job re-run finds the documents
    and routes the ones without a work item (``run_route`` is idempotent), and the reconciler re-enqueues a
    document left unrouted. A document whose routing raises gets a route job of its own, with rq's retries
    and a place on the failed-jobs page under its own name."""
    for doc_id in ids:
        try:
            run_route(ctx, doc_id)
        except Exception as exc:  # any failure: the route job retries it as before (no exception type is lost)
            log.warning("routing %s in its read job failed (%s: %s); a route job retries it",
                        doc_id, type(exc).__name__, exc)
            enqueue_route(queue, doc_id)


def read_chunk_job(envelope_id: str, part_index: int, first_page: int) -> list[str]:
    ctx = get_context()
    ids = run_chunk(ctx, envelope_id, part_index, first_page)
    if ids:
        queue = _queue(ctx.settings)
        for doc_id in ids:
            enqueue_route(queue, doc_id)
    return ids


def route_job(document_id: str) -> int | None:
    return run_route(get_context(), document_id)


TRAINING_TIMEOUT = 3600  # seconds: a full training (60 letters per language and category) takes a few minutes


def enqueue_training(queue: Queue, actor: str, seed: int, per_pair: int, epochs: int) -> str:
    """A training of a candidate category model, run by a worker; returns the job id."""
    job = queue.enqueue_call("pipeline.jobs.train_job", args=(actor, seed, per_pair, epochs),
                             timeout=TRAINING_TIMEOUT, result_ttl=86400, failure_ttl=7 * 86400)
    return str(job.id)


def train_job(actor: str, seed: int, per_pair: int, epochs: int) -> int:
    from pipeline import models

    ctx = get_context()
    return models.train(ctx, actor, datetime.now(UTC), seed=seed, per_pair=per_pair, epochs=epochs,
                        calibration_per_pair=min(25, per_pair)).id
