"""Child processes of ``mailroom serve``: the embedded redis-server and the rq worker,
plus the scheduler loop (reconciler) that runs beside the API.

The worker (``mailroom worker``) is a small supervisor plus one long-lived *work-horse*: the supervisor
imports and loads everything once (``mailroom.cli.warm_up``) and forks the work-horse, an rq worker that
runs job after job in its own process. rq's default worker forks a fresh work-horse per job instead; every
job then started with cold caches (SQLAlchemy's compiled statements, the OCR engine's loaded models, regexes,
lazily imported modules) and paid the fork and exit of a large process — ≈ 4× the work of the job itself
for a text PDF or an e-mail. What the fork per job gave is kept:

- a work-horse that dies (SIGKILL, OOM, segfault in a C library) takes only itself down: the supervisor puts
  its job back on the queue (``pipeline.reconcile.requeue_abandoned``) and forks a new work-horse from its own
  warm memory (milliseconds, not the seconds of a fresh start); ``run_read`` counts the starts of a read, so
  a file that kills every reader ends in quarantine;
- memory stays bounded: a work-horse is replaced after ``worker_max_jobs`` jobs or once its resident memory
  passes ``worker_max_rss_mb`` (settings; ``MAILROOM_WORKER_MAX_JOBS`` / ``MAILROOM_WORKER_MAX_RSS_MB``);
- SIGTERM/SIGINT to the supervisor reach the work-horse: rq's warm shutdown (the current job is finished);
- the work-horse, and every process it forks (rq's scheduler), get SIGKILL when their parent dies, so killing
  the supervisor leaves nothing behind.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from types import FrameType

from redis import Redis
from redis.exceptions import RedisError
from rq import SimpleWorker
from rq.job import Job
from rq.queue import Queue

from ground.errors import ConfigError
from ground.settings import Settings

log = logging.getLogger(__name__)


def start_redis(settings: Settings, timeout: float = 10.0) -> subprocess.Popen[bytes]:
    """A private redis-server on a unix socket in the data directory (no TCP port)."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise ConfigError("redis-server is not installed; run `make run` (it installs it) or set "
                          "MAILROOM_REDIS_URL to an existing Redis.")
    sock = settings.redis_socket
    sock.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [exe, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700", "--dir", str(settings.data),
         "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode()[-500:] if proc.stderr else ""
            raise ConfigError(f"redis-server exited at start: {err}")
        if sock.exists():
            try:
                if Redis(unix_socket_path=str(sock)).ping():
                    return proc
            except (RedisError, OSError):
                pass
        time.sleep(0.05)
    proc.kill()
    raise ConfigError(f"redis-server did not answer on {sock} within {timeout:.0f} s")


def start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    env = dict(os.environ, MAILROOM_DATA=str(settings.data))
    if settings.redis_url:
        env["MAILROOM_REDIS_URL"] = settings.redis_url
    return subprocess.Popen([sys.executable, "-m", "mailroom.cli", "worker"], env=env)


RECYCLE = 75  # exit status of a work-horse that stopped to be replaced (jobs done, memory), not on request
PR_SET_PDEATHSIG = 1


def _rss_mb() -> float:
    """Resident memory of this process now (not the peak)."""
    try:
        pages = int(open("/proc/self/statm").read().split()[1])  # noqa: SIM115 - one read of a proc file
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _die_with_parent() -> None:
    """Ask Linux for SIGKILL when the parent dies (no orphaned work-horse after the supervisor is killed)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the reconciler still finds the orphan's jobs
        return


class PipelineWorker(SimpleWorker):
    """rq worker that runs every job in this process (the long-lived work-horse) and asks to be replaced
    after ``max_jobs`` jobs or when its resident memory passes ``max_rss_mb``."""

    def __init__(self, *args: object, max_jobs: int, max_rss_mb: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.max_jobs, self.max_rss_mb = max_jobs, max_rss_mb
        self.jobs_done = 0
        self.recycle = False

    def execute_job(self, job: Job, queue: Queue) -> None:
        super().execute_job(job, queue)
        self.jobs_done += 1
        rss = _rss_mb()
        if self.jobs_done >= self.max_jobs or rss > self.max_rss_mb:
            self.log.info("Worker %s: %d jobs done, %.0f MB resident: to be replaced", self.name, self.jobs_done, rss)
            self.recycle = True
            self._stop_requested = True  # rq's own flag: leave the work loop before the next job


def _work_horse(settings: Settings, name: str, burst: bool, parent: int) -> int:
    """Body of the forked work-horse; returns its exit status."""
    from rq.serializers import JSONSerializer

    from pipeline.jobs import worker_queues

    _die_with_parent()
    # rq's scheduler process (and what else this process forks) dies with us. Only for forks from the main
    # thread: the kernel sends the signal when the forking *thread* ends, so a child forked by a short-lived
    # thread would be killed with that thread.
    from_main = [True]
    os.register_at_fork(before=lambda: from_main.__setitem__(0, threading.current_thread() is threading.main_thread()),
                        after_in_child=lambda: from_main[0] and _die_with_parent())
    if os.getppid() != parent:  # the supervisor died before prctl took effect
        return 1
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # until rq installs its warm-shutdown handlers
    signal.signal(signal.SIGINT, signal.default_int_handler)
    queues = worker_queues(settings)
    worker = PipelineWorker(queues, name=name, connection=queues[0].connection, serializer=JSONSerializer,
                            maintenance_interval=60, max_jobs=settings.worker_max_jobs,
                            max_rss_mb=settings.worker_max_rss_mb)
    worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
    return RECYCLE if worker.recycle else 0


def _bury(settings: Settings, name: str) -> int:
    """After a work-horse died: put its started job back on the queue and mark it dead in Redis."""
    from rq import Worker
    from rq.serializers import JSONSerializer

    from pipeline.jobs import job_queue
    from pipeline.reconcile import requeue_abandoned

    queue = job_queue(settings)
    try:
        count = requeue_abandoned(queue)
        dead = Worker.find_by_key(Worker.redis_worker_namespace_prefix + name, connection=queue.connection,
                                  serializer=JSONSerializer)
        if dead is not None:
            dead.register_death()
        return count
    finally:
        queue.connection.close()


def run_worker(settings: Settings, burst: bool = False) -> int:
    """Supervise one long-lived work-horse (see the module's docstring); call after warming up."""
    parent = os.getpid()
    signals: list[int] = []
    horse = 0

    def forward(signum: int, _frame: FrameType | None) -> None:
        signals.append(signum)
        if horse:
            try:
                os.kill(horse, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    quick_deaths = 0
    while True:
        name = uuid.uuid4().hex
        born = time.monotonic()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _work_horse(settings, name, burst, parent)
            except SystemExit:  # rq's cold shutdown (a second signal): the job it ran may be unfinished
                code = 1
            except BaseException:  # noqa: BLE001 - reported, then the supervisor decides
                log.exception("work-horse %s failed", name)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        horse = pid
        if signals:  # a signal came between fork and here
            os.kill(pid, signals[-1])
        _, status = os.waitpid(pid, 0)
        horse = 0
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, RECYCLE):
            log.warning("work-horse pid %s died (exit status %s); its job goes back on the queue", pid, code)
            try:
                _bury(settings, name)
            except (RedisError, OSError) as exc:
                log.warning("could not re-enqueue the job of work-horse %s now (%s); the reconciler will", pid, exc)
        if signals:
            return 0 if code in (0, RECYCLE) else 1
        if code == 0 and burst:
            return 0
        quick_deaths = quick_deaths + 1 if code != RECYCLE and time.monotonic() - born < 5.0 else 0
        if quick_deaths:
            time.sleep(min(30.0, 0.5 * 2 ** (quick_deaths - 1)))  # a work-horse that cannot start: back off


class WorkerPool(threading.Thread):
    """``count`` rq worker processes, restarted when one dies (SIGKILL, OOM); on ``stop`` each gets
    SIGTERM, which rq treats as a warm shutdown: the current job is finished first."""

    def __init__(self, settings: Settings, count: int = 1, interval: float = 2.0) -> None:
        super().__init__(name="mailroom-workers", daemon=True)
        self.settings, self.count, self.interval = settings, max(1, count), interval
        self.procs: list[subprocess.Popen[bytes]] = [start_worker(settings) for _ in range(self.count)]
        self.restarts = 0
        self.stopped = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            for i, proc in enumerate(self.procs):
                if proc.poll() is not None and not self.stopped.is_set():
                    log.warning("worker pid %s exited with %s; starting another", proc.pid, proc.returncode)
                    self.procs[i] = start_worker(self.settings)
                    self.restarts += 1

    def stop(self, timeout: float = 60.0) -> None:
        self.stopped.set()
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %s did not finish its job within %.0f s; killed", proc.pid, timeout)
                proc.kill()
                proc.wait(timeout=10)


class Scheduler(threading.Thread):
    """Every ``interval`` seconds: re-enqueue what Redis lost (the database is the truth)."""

    def __init__(self, settings: Settings, interval: float = 15.0) -> None:
        super().__init__(name="mailroom-scheduler", daemon=True)
        self.settings, self.interval = settings, interval
        self.stopped = threading.Event()

    def run(self) -> None:
        from pipeline.context import get_context
        from pipeline.jobs import job_queue
        from pipeline.reconcile import reconcile
        from queues.sweep import run_scheduled

        while not self.stopped.wait(self.interval):
            try:
                done = reconcile(self.settings.db_url, job_queue(self.settings), datetime.now(UTC))
                if done.envelopes or done.documents:
                    log.info("reconciler re-enqueued %s envelopes, %s documents", done.envelopes, done.documents)
            except (RedisError, OSError) as exc:
                log.warning("reconciler skipped a round: %s", exc)
            ctx = get_context(self.settings)  # expired leases, SLA warnings, escalations:
            run_scheduled(ctx.db_url, ctx.policies, ctx.rules, datetime.now(UTC))

    def stop(self) -> None:
        self.stopped.set()
