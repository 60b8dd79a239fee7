"""The database is the record of truth: what Redis loses, the reconciler re-enqueues."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rq import SimpleWorker
from rq.serializers import JSONSerializer
from sqlalchemy import func, select

from ground.settings import Settings
from intake import Accepted, Arrival, accept, guess_channel
from ocr import sniff_type
from pipeline.context import Context, get_context
from pipeline.jobs import enqueue_read, job_queue
from pipeline.reconcile import reconcile
from storage.db import session_scope
from storage.models import Document, Envelope, WorkItem


def _accept_fast_files(ctx: Context, corpus_dir: Path, n: int) -> list[str]:
    manifest = json.loads((corpus_dir / "manifest.json").read_text())["files"]
    fast = [r for r in manifest if r["form"] in ("text_pdf", "eml")][:n]
    ids = []
    for rec in fast:
        data = (corpus_dir / rec["file"]).read_bytes()
        ctype = sniff_type(data, rec["file"])
        with session_scope(ctx.db_url) as s:
            res = accept(Arrival(data=data, name=rec["file"], channel=guess_channel(data, ctype), content_type=ctype,
                                 received_at=datetime.now(UTC)), s, ctx.blobs)
        assert isinstance(res, Accepted)
        ids.append(res.envelope_id)
    return ids


def _drain(ctx: Context) -> None:
    queue = job_queue(ctx.settings)
    SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer).work(burst=True)


def test_flushall_mid_stream_loses_nothing_and_doubles_nothing(redis_settings: Settings, corpus_dir: Path) -> None:
    ctx = get_context(redis_settings)
    ids = _accept_fast_files(ctx, corpus_dir, 6)
    queue = job_queue(ctx.settings)
    for env_id in ids:
        enqueue_read(queue, env_id)
    assert len(queue) == 6
    queue.connection.flushall()  # Redis loses every job
    assert len(queue) == 0
    now = datetime.now(UTC)
    assert reconcile(ctx.db_url, queue, now).envelopes == 0  # within the grace period: leave them be
    done = reconcile(ctx.db_url, queue, now + timedelta(minutes=5))
    assert done.envelopes == 6
    assert reconcile(ctx.db_url, queue, now + timedelta(minutes=5)).envelopes == 0  # already queued: not twice
    _drain(ctx)
    # run every job a second time (a retried or duplicated delivery): still one work item per document
    for env_id in ids:
        enqueue_read(queue, env_id)
    _drain(ctx)
    with session_scope(ctx.db_url) as s:
        states = set(s.scalars(select(Envelope.state).where(Envelope.id.in_(ids))))
        docs = s.scalar(select(func.count()).select_from(Document).where(Document.envelope_id.in_(ids)))
        items = s.scalar(select(func.count()).select_from(WorkItem).join(Document)
                         .where(Document.envelope_id.in_(ids)))
    assert states == {"processed"}
    assert docs == items == 6
    assert reconcile(ctx.db_url, queue, now + timedelta(hours=1)).envelopes == 0


def test_documents_stuck_before_routing_are_re_enqueued(redis_settings: Settings, corpus_dir: Path) -> None:
    from pipeline.runner import run_read

    ctx = get_context(redis_settings)
    [env_id] = _accept_fast_files(ctx, corpus_dir, 1)
    doc_ids = run_read(ctx, env_id)  # read, but the route job was lost
    queue = job_queue(ctx.settings)
    done = reconcile(ctx.db_url, queue, datetime.now(UTC) + timedelta(minutes=5))
    assert done.documents == len(doc_ids) >= 1
    _drain(ctx)
    with session_scope(ctx.db_url) as s:
        assert s.get(Envelope, env_id).state == "processed"  # type: ignore[union-attr]


def _scheduler_holding_locks(queue, pid: int, hostname: str):
    """An rq scheduler that took the locks of ``queue`` and its pages queue, recorded as process ``pid``."""
    from rq.scheduler import RQScheduler

    from pipeline.jobs import pages_queue

    scheduler = RQScheduler([queue, pages_queue(queue)], connection=queue.connection, serializer=JSONSerializer)
    assert scheduler.acquire_locks() == {queue.name, pages_queue(queue).name}
    scheduler.register_birth()
    scheduler.hostname = hostname
    scheduler.pid = pid
    scheduler.save()
    return scheduler


def test_a_dead_schedulers_locks_are_released_at_once_and_a_live_ones_are_kept(redis_settings: Settings) -> None:
    """A SIGKILLed worker's scheduler keeps its locks for 61 s, and an idle successor would claim them only
    after its wait for work: retries then sat for minutes (CI, the SIGKILL test)."""
    import socket
    import subprocess

    from rq.scheduler import RQScheduler

    from pipeline.reconcile import release_dead_scheduler_locks

    queue = job_queue(redis_settings)
    here = socket.gethostname()
    gone = subprocess.Popen(["true"])
    gone.wait()
    live = _scheduler_holding_locks(queue, os.getpid(), here)
    assert release_dead_scheduler_locks(queue) == 0  # its process is alive
    live.release_locks()
    elsewhere = _scheduler_holding_locks(queue, gone.pid, "another-host")
    assert release_dead_scheduler_locks(queue) == 0  # another machine's pid says nothing here
    elsewhere.release_locks()
    _scheduler_holding_locks(queue, gone.pid, here)
    assert release_dead_scheduler_locks(queue) == 2
    successor = RQScheduler([queue], connection=queue.connection, serializer=JSONSerializer)
    assert successor.acquire_locks() == {queue.name}
