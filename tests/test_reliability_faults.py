"""Fault injection with real processes and real signals: SIGKILLed workers and work-horses, a
restarted redis-server, a hanging OCR engine. The database is the record of truth; with the
reconciler every accepted item ends routed exactly once and its original stays intact."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import func, select

from ground.settings import Settings
from intake import Accepted, Arrival, accept, guess_channel
from mailroom.services import start_redis
from ocr import sniff_type
from pipeline.context import Context, get_context
from pipeline.jobs import enqueue_read, job_queue
from pipeline.reconcile import reconcile
from storage.db import session_scope
from storage.models import AuditEvent, Document, Envelope, WorkItem
from tests.hostile.engines import register

ROOT = Path(__file__).resolve().parent.parent
FINAL = {"processed", "quarantined", "needs_human"}


# ---------------------------------------------------------------- helpers


def scan_pdf(path: Path, pages: int, dpi: int = 100) -> Path:
    """An image-only PDF (a scan) with ``pages`` inked pages: no text layer, so every page is OCRed."""
    font = ImageFont.load_default(size=28)
    images = []
    for n in range(1, pages + 1):
        img = Image.new("L", (827, 1169), 255)
        draw = ImageDraw.Draw(img)
        for line in range(18):
            draw.text((60, 80 + 52 * line), f"Page {n} line {line}: complaint about invoice {n * 100 + line}",
                      fill=0, font=font)
        images.append(img)
    images[0].save(path, "PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return path


def accept_files(ctx: Context, paths: list[Path]) -> list[str]:
    ids = []
    for path in paths:
        data = path.read_bytes()
        ctype = sniff_type(data, path.name)
        with session_scope(ctx.db_url) as s:
            res = accept(Arrival(data=data, name=path.name, channel=guess_channel(data, ctype), content_type=ctype,
                                 received_at=datetime.now(UTC)), s, ctx.blobs)
        assert isinstance(res, Accepted), path
        ids.append(res.envelope_id)
    return ids


def enqueue_all(ctx: Context, ids: list[str]) -> None:
    queue = job_queue(ctx.settings)
    for env_id in ids:
        enqueue_read(queue, env_id)


class WorkerProc:
    """``mailroom worker`` in its own process group (so SIGKILL takes the work-horse too)."""

    def __init__(self, settings: Settings, log: Path, **env: str) -> None:
        self.env = dict(os.environ, MAILROOM_DATA=str(settings.data), OMP_THREAD_LIMIT="1", **env)
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "mailroom.cli", "worker"], env=self.env, cwd=ROOT,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.starts += 1

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.alive():
            self.kill()

    def pause(self) -> None:
        """SIGSTOP the worker and its work-horse, so a fault can be injected between two jobs' steps."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGCONT)


@pytest.fixture
def worker_factory(tmp_path: Path) -> Iterator[Callable[..., WorkerProc]]:
    made: list[WorkerProc] = []

    def make(settings: Settings, **env: str) -> WorkerProc:
        w = WorkerProc(settings, tmp_path / f"worker{len(made)}.log", **env)
        made.append(w)
        return w

    yield make
    for w in made:
        w.stop()


def wait_for(predicate: Callable[[], object], timeout: float, what: str, every: float = 0.5) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def states(ctx: Context, ids: list[str]) -> dict[str, str]:
    with session_scope(ctx.db_url) as s:
        return dict(s.execute(select(Envelope.id, Envelope.state).where(Envelope.id.in_(ids))).all())  # type: ignore[arg-type]


def assert_exactly_once(ctx: Context, ids: list[str]) -> tuple[int, int]:
    """Every envelope final and processed; one work item per document; originals hash to their key."""
    with session_scope(ctx.db_url) as s:
        envs = s.scalars(select(Envelope).where(Envelope.id.in_(ids))).all()
        stuck = {e.id: (e.state, e.error) for e in envs if e.state != "processed"}
        assert not stuck and len(envs) == len(ids), stuck
        docs = s.scalar(select(func.count()).select_from(Document).where(Document.envelope_id.in_(ids)))
        items = s.scalar(select(func.count()).select_from(WorkItem).join(Document)
                         .where(Document.envelope_id.in_(ids)))
        distinct = s.scalar(select(func.count(func.distinct(WorkItem.document_id))).join(Document)
                            .where(Document.envelope_id.in_(ids)))
        routed_events = s.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "work_item.routed", AuditEvent.envelope_id.in_(ids)))
        for env in envs:
            ctx.blobs.get(env.sha256)  # raises BlobCorrupted unless the bytes hash to the key
    assert docs == items == distinct == routed_events, (docs, items, distinct, routed_events)
    assert docs >= len(ids)
    return docs, items


def drive(ctx: Context, ids: list[str], worker: WorkerProc, timeout: float) -> None:
    """Supervise like ``mailroom serve``: restart a dead worker, run the reconciler, until all are final."""
    queue = job_queue(ctx.settings)

    def done() -> bool:
        if not worker.alive():
            worker.start()
        reconcile(ctx.db_url, queue, datetime.now(UTC) + timedelta(minutes=5))
        return set(states(ctx, ids).values()) <= FINAL

    try:
        wait_for(done, timeout, "every envelope to reach a final state", every=2.0)
    except AssertionError:  # say what is stuck, and where its job is, before failing
        stuck = {k: v for k, v in states(ctx, ids).items() if v not in FINAL}
        for env_id in stuck:
            try:
                job = Job.fetch(f"read-{env_id}", connection=queue.connection, serializer=JSONSerializer)
                print(env_id, stuck[env_id], job.get_status(), job.worker_name, (job.exc_info or "")[-2000:])
            except NoSuchJobError:
                print(env_id, stuck[env_id], "no read job in Redis")
        print("scheduled:", queue.scheduled_job_registry.get_job_ids(), "failed:",
              queue.failed_job_registry.get_job_ids(), "started:", queue.started_job_registry.get_job_ids())
        print(worker.log.read_text(errors="replace")[-20000:])
        raise


@pytest.fixture(scope="module")
def fast_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """40 text PDFs and e-mails (a few e-mails carry a scanned PDF attachment)."""
    from corpus.generate import generate

    out = tmp_path_factory.mktemp("fast")
    generate(out, seed=909, count=FAST_ITEMS, forms=["eml", "text_pdf"])
    return sorted(p for p in out.iterdir() if p.suffix in (".eml", ".pdf"))


# ---------------------------------------------------------------- tests

# The spec's 100 items / 10 kills: 94 text PDFs and e-mails (some with scanned attachments) + 6 two-page scans.
FAST_ITEMS, SCANS, KILLS = 94, 6, 10


def _process_group(pgid: int) -> dict[int, str]:
    """The live (not zombie) processes of process group ``pgid``: {pid: command name}."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        if int(rest[2]) == pgid and rest[0] != "Z":
            found[int(entry)] = comm
    return found


def _reading(fault_dir: Path) -> list[int]:
    """The pids in which the witness OCR engine (tests/hostile/engines.py ``Witness``) is reading a page now."""
    return [int(p.name.split(".")[0]) for p in fault_dir.glob("*.reading")]


def running_job(queue: Queue, worker: WorkerProc) -> str | None:
    """The job that an rq worker of *this* start of ``worker`` (a process of its process group) runs now, as rq
    records it. Not the started-job registry: that keeps the jobs of killed workers as "started"."""
    if worker.proc is None:
        return None
    pids = _process_group(worker.proc.pid)
    for w in Worker.all(connection=queue.connection, serializer=JSONSerializer):
        if w.pid in pids and (job_id := w.get_current_job_id()):
            return job_id
    return None


@pytest.mark.slow
@pytest.mark.timeout(1800)  # 100 items, 10 kills: ≈ 2 min on a quiet machine, 12 min with a load of 10
def test_sigkill_whole_worker_repeatedly_every_item_routed_exactly_once(
        redis_settings: Settings, fast_files: list[Path], tmp_path: Path, worker_factory) -> None:
    ctx = get_context(redis_settings)
    scans = [scan_pdf(tmp_path / f"scan{i}.pdf", 2) for i in range(SCANS)]
    ids = accept_files(ctx, [*scans, *fast_files])  # the scans first, so kills land during OCR too
    assert len(ids) == FAST_ITEMS + SCANS
    scan_reads = {f"read-{env_id}" for env_id in ids[:SCANS]}
    enqueue_all(ctx, ids)
    queue = job_queue(ctx.settings)
    # the real OCR engine, leaving <pid>.reading in fault_dir while it reads a page (tests/hostile/engines.py)
    fault_dir = tmp_path / "fault"
    fault_dir.mkdir()
    worker = worker_factory(redis_settings, MAILROOM_OCR_ENGINE="witness", MAILROOM_FAULT_DIR=str(fault_dir),
                            PYTHONPATH=f"{register(tmp_path / 'plugins')}:{ROOT}")
    rng = random.Random(7)
    kills: list[tuple[str | None, bool]] = []  # per kill: the job this start of the worker ran, OCR running
    for _ in range(KILLS):
        worker.start()
        try:  # a job started by this start of the worker (not a dead entry left by the previous kill)
            started = wait_for(lambda: running_job(queue, worker), 120, "a job to start", 0.05)
        except AssertionError:
            break  # nothing left to run
        assert worker.proc is not None
        if started in scan_reads:  # aim at the OCR: once the engine reads a page, at a random moment of it
            try:
                wait_for(lambda group=worker.proc.pid: set(_reading(fault_dir)) & set(_process_group(group)), 60,
                         "the OCR of the scan to begin", 0.05)
            except AssertionError:
                pass  # the kill below then finds no page being read, and the assertion after the loop counts it
            time.sleep(rng.uniform(0.0, 1.5))
        else:
            time.sleep(rng.uniform(0.0, 2.0))
        pids = _process_group(worker.proc.pid)
        job = running_job(queue, worker)
        reading = bool(set(_reading(fault_dir)) & set(pids))
        worker.kill()
        assert not worker.alive()
        wait_for(lambda group=worker.proc.pid: not _process_group(group), 10, "the whole process group to die", 0.05)
        kills.append((job, reading))
    print(f"kills (job, OCR reading a page): {kills}")
    assert len(kills) == KILLS, kills
    assert sum(1 for job, _ in kills if job) >= 3, kills  # the kills really hit jobs this worker was running
    # ... and at least one a running OCR read: a scan's read job, the engine in the middle of a page
    assert any(job in scan_reads and reading for job, reading in kills), kills
    drive(ctx, ids, worker, timeout=600)
    docs, items = assert_exactly_once(ctx, ids)
    assert worker.alive()
    # jobs run again (a duplicated delivery) change nothing
    enqueue_all(ctx, ids)
    wait_for(lambda: len(queue) == 0 and not queue.started_job_registry.get_job_ids(), 120, "the re-run")
    assert assert_exactly_once(ctx, ids) == (docs, items)


@pytest.mark.slow
def test_killed_work_horse_job_is_retried_and_pages_are_not_duplicated(
        redis_settings: Settings, tmp_path: Path, worker_factory) -> None:
    ctx = get_context(redis_settings)
    plugins = register(tmp_path / "plugins")
    fault_dir = tmp_path / "fault"
    fault_dir.mkdir()
    [env_id] = accept_files(ctx, [scan_pdf(tmp_path / "six.pdf", 6)])
    worker = worker_factory(redis_settings, MAILROOM_OCR_ENGINE="fault-kill-page4", MAILROOM_OCR_DPI="100",
                            MAILROOM_FAULT_DIR=str(fault_dir), PYTHONPATH=f"{plugins}:{ROOT}")
    worker.start()
    enqueue_all(ctx, [env_id])
    wait_for(lambda: states(ctx, [env_id])[env_id] in FINAL, 180, "the retried job to finish")
    assert (fault_dir / "killed-once").exists()  # the work-horse really died on page 4
    assert worker.alive()  # only the work-horse died; the worker retried the job
    assert_exactly_once(ctx, [env_id])
    with session_scope(ctx.db_url) as s:
        [doc] = s.scalars(select(Document).where(Document.envelope_id == env_id)).all()
        env = s.get(Envelope, env_id)
        assert env is not None and env.attempts == 2
        assert doc.pages == 6 and [f["page"] for f in doc.page_flags] == [1, 2, 3, 4, 5, 6]
        assert doc.text.count("(page ") == 6 and "(page 7)" not in doc.text


@pytest.mark.slow
def test_ocr_engine_hanging_on_page_2_leaves_it_flagged_and_routes_the_document(
        redis_settings: Settings, tmp_path: Path, fast_files: list[Path], worker_factory) -> None:
    ctx = get_context(redis_settings)
    plugins = register(tmp_path / "plugins")
    [env_id] = accept_files(ctx, [scan_pdf(tmp_path / "three.pdf", 3)])
    worker = worker_factory(redis_settings, MAILROOM_OCR_ENGINE="fault-hang-page2", MAILROOM_OCR_DPI="100",
                            MAILROOM_OCR_PAGE_TIMEOUT="2", PYTHONPATH=f"{plugins}:{ROOT}")
    worker.start()
    started = time.monotonic()
    enqueue_all(ctx, [env_id])
    wait_for(lambda: states(ctx, [env_id])[env_id] in FINAL, 120, "the document with a hung page")
    assert time.monotonic() - started < 90
    assert_exactly_once(ctx, [env_id])
    with session_scope(ctx.db_url) as s:
        [doc] = s.scalars(select(Document).where(Document.envelope_id == env_id)).all()
        flags = {f["page"]: f["flags"] for f in doc.page_flags}
        assert "ocr-timeout" in flags[2] and "ocr-timeout" not in flags[1] and "ocr-timeout" not in flags[3]
        assert doc.work_item is not None
    # the worker is alive and takes the next job
    pid = worker.proc.pid if worker.proc else 0
    [next_id] = accept_files(ctx, fast_files[:1])
    enqueue_all(ctx, [next_id])
    wait_for(lambda: states(ctx, [next_id])[next_id] == "processed", 120, "the next job")
    assert worker.alive() and worker.proc is not None and worker.proc.pid == pid


@pytest.mark.slow
def test_redis_restarted_mid_batch_nothing_lost_nothing_doubled(
        redis_settings: Settings, fast_files: list[Path], worker_factory) -> None:
    """The embedded redis-server keeps nothing on disk: a restart loses every queued job."""
    ctx = get_context(redis_settings)
    ids = accept_files(ctx, fast_files)
    enqueue_all(ctx, ids)
    worker = worker_factory(redis_settings)
    worker.start()
    wait_for(lambda: list(states(ctx, ids).values()).count("processed") >= 3, 600, "a few items to be routed",
             every=0.05)  # a guard only: on a loaded machine the worker's start alone takes tens of seconds
    # Freeze the worker mid-batch (a long-lived work-horse routes an e-mail in a fraction of a second, so
    # without this the batch could finish before the fault), then SIGKILL redis-server (no shutdown save)
    # and start an empty one on the same socket.
    worker.pause()
    os.kill(int(job_queue(ctx.settings).connection.info("server")["process_id"]), signal.SIGKILL)
    time.sleep(1.0)
    fresh = start_redis(redis_settings)
    try:
        queue = job_queue(ctx.settings)
        assert len(queue) == 0  # everything queued is gone
        assert set(states(ctx, ids).values()) != {"processed"}  # the loss really mattered
        worker.resume()
        drive(ctx, ids, worker, timeout=600)
        assert_exactly_once(ctx, ids)
    finally:
        worker.stop()
        fresh.terminate()
        fresh.wait(timeout=10)
