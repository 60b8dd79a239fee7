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

Stopping like a service. systemd (KillMode=control-group), container runtimes and a terminal's Ctrl-C signal
every process of the service at once, and the parent forwards its own copy as well, so each process may get
its stop signal two or three times, in any order:

- SIGTERM is a warm stop however often it comes (the supervisor forwards the first one only; the work-horse
  never turns a repeated SIGTERM into rq's cold shutdown). A second Ctrl-C (SIGINT) is still a cold shutdown;
- the embedded redis-server runs in its own session (process group) with SIGTERM and SIGINT blocked, so no
  signal to the service (its process group, or systemd's whole cgroup) stops it: ``serve`` stops it itself
  (SHUTDOWN), last, after the workers and the scheduler, and nothing logs a connection-error traceback on the
  way out. It is SIGKILLed if ``serve`` dies (no orphaned redis-server);
- ``serve`` gives its workers ``STOP_GRACE`` seconds to finish the job they run; then each hands its job back
  (``HAND_BACK``: the supervisor kills its work-horse and puts the job back on the queue while Redis is still
  up), so a stop ends within 10 s, the time container runtimes wait before SIGKILL. A stand-alone
  ``mailroom worker`` has no such deadline: it finishes its job (give its container a longer stop timeout);
- jobs still waiting in the embedded (memory-only) Redis are lost with it, never the letters: the next
  ``serve`` re-enqueues at start whatever was in flight before it started (``Scheduler``, ``recover_before``).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from redis import Redis
from redis.exceptions import RedisError
from rq import SimpleWorker
from rq.job import Job
from rq.queue import Queue
from sqlalchemy.exc import SQLAlchemyError

from ground.errors import ConfigError, MailroomError
from ground.settings import Settings

log = logging.getLogger(__name__)


PR_SET_PDEATHSIG = 1
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


def _child_setup(death_signal: int, block: frozenset[int] = frozenset()) -> Callable[[], None]:
    """A ``preexec_fn``: block the signals ``block`` (a blocked signal stays blocked across exec), and ask
    Linux to send ``death_signal`` to the child when this thread ends — only from the main thread, whose end
    is the process's (the kernel signals when the forking *thread* ends). prctl is looked up here, so the
    child runs no more than two calls between fork and exec."""
    prctl = None
    if threading.current_thread() is threading.main_thread():
        try:
            prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):  # not Linux
            prctl = None

    def setup() -> None:
        if block:
            signal.pthread_sigmask(signal.SIG_BLOCK, block)
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, death_signal, 0, 0, 0)

    return setup


def start_redis(settings: Settings, timeout: float = 10.0, *, shielded: bool = False) -> subprocess.Popen[bytes]:
    """A private redis-server on a unix socket in the data directory (no TCP port), in its own session (a
    terminal's Ctrl-C or a signal to the caller's process group does not reach it); it never outlives the
    caller (SIGTERM, or SIGKILL when ``shielded``, when the caller dies).

    ``shielded`` (``serve``): SIGTERM and SIGINT stay blocked in it, so not even a signal to every process of
    the service (systemd's default KillMode=control-group signals the whole cgroup) stops it before the
    workers that use it; ``stop_redis`` stops it, last, with the SHUTDOWN command. It keeps nothing on disk,
    so a SIGKILL loses nothing a SHUTDOWN would have kept."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise ConfigError("redis-server is not installed; run `make run` (it installs it) or set "
                          "MAILROOM_REDIS_URL to an existing Redis.")
    sock = settings.redis_socket
    sock.unlink(missing_ok=True)
    setup = (_child_setup(signal.SIGKILL, STOP_SIGNALS) if shielded else _child_setup(signal.SIGTERM))
    proc = subprocess.Popen(
        [exe, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700", "--dir", str(settings.data),
         "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, preexec_fn=setup,
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
    proc.wait()
    raise ConfigError(f"redis-server did not answer on {sock} within {timeout:.0f} s")


def stop_redis(proc: subprocess.Popen[bytes], sock: Path, timeout: float = 5.0) -> None:
    """Stop a redis-server of ``start_redis``: the SHUTDOWN command (a shielded one ignores SIGTERM; it removes
    its socket); SIGKILL if its socket does not answer or it has not exited within ``timeout`` (it keeps
    nothing on disk, so nothing is lost that way)."""
    if proc.poll() is None:
        try:
            with socket.socket(socket.AF_UNIX) as conn:  # not redis-py: it retries a closed connection
                conn.settimeout(timeout)
                conn.connect(str(sock))
                conn.sendall(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
                conn.recv(64)  # nothing (it closed the connection on its way out) or an error
        except OSError as exc:
            log.warning("redis-server pid %s does not answer on %s (%s); killed", proc.pid, sock, exc)
            proc.kill()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log.warning("redis-server pid %s did not stop within %.0f s; killed", proc.pid, timeout)
        proc.kill()
        proc.wait()


def start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    """``mailroom worker`` as a child: in the caller's process group; SIGTERM (a warm stop) if the caller dies."""
    return subprocess.Popen([sys.executable, "-m", "mailroom.cli", "worker"], env=_child_env(settings),
                            preexec_fn=_child_setup(signal.SIGTERM))


def _child_env(settings: Settings) -> dict[str, str]:
    """The environment of a ``mailroom`` child process: the caller's, with its data directory and Redis."""
    env = dict(os.environ, MAILROOM_DATA=str(settings.data))
    if settings.redis_url:
        env["MAILROOM_REDIS_URL"] = settings.redis_url
    return env


RECYCLE = 75  # exit status of a work-horse that stopped to be replaced (jobs done, memory), not on request
HAND_BACK = signal.SIGUSR1  # to a supervisor: stop now, putting the running job back on the queue
STOP_GRACE = 6.0  # seconds serve's workers have to finish their job after a stop signal before handing it back


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

    def request_force_stop(self, signum: int, frame: FrameType | None) -> None:
        """rq turns any second signal into a cold shutdown (the job is abandoned mid-way). SIGTERM comes
        repeatedly by design: from systemd or a container runtime to every process, and from the supervisor
        forwarding its own. Only a second SIGINT (Ctrl-C pressed again) is a cold shutdown."""
        if signum == signal.SIGTERM:
            self.log.debug("Worker %s: SIGTERM again; still stopping after the current job", self.name)
            return
        super().request_force_stop(signum, frame)


def _work_horse(settings: Settings, name: str, burst: bool, parent: int) -> int:
    """Body of the forked work-horse; returns its exit status."""
    from rq.serializers import JSONSerializer

    from pipeline.jobs import worker_queues
    from pipeline.reconcile import release_dead_scheduler_locks

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
    signal.signal(HAND_BACK, signal.SIG_DFL)  # the supervisor's, not ours
    queues = worker_queues(settings)
    release_dead_scheduler_locks(queues[0])  # a killed predecessor's: retries are not held up for minutes
    # worker_ttl 90: an idle worker waits at most 75 s for work before its maintenance (rq's default, 405 s,
    # would leave the scheduler unclaimed that long when its holder died)
    worker = PipelineWorker(queues, name=name, connection=queues[0].connection, serializer=JSONSerializer,
                            worker_ttl=90, maintenance_interval=60, max_jobs=settings.worker_max_jobs,
                            max_rss_mb=settings.worker_max_rss_mb)
    worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
    return RECYCLE if worker.recycle else 0


def _bury(settings: Settings, name: str) -> int:
    """After a work-horse died: put its started job back on the queue and mark it dead in Redis."""
    from rq import Worker
    from rq.serializers import JSONSerializer

    from pipeline.jobs import job_queue
    from pipeline.reconcile import release_dead_scheduler_locks, requeue_abandoned

    queue = job_queue(settings)
    try:
        release_dead_scheduler_locks(queue)
        count = requeue_abandoned(queue)
        dead = Worker.find_by_key(Worker.redis_worker_namespace_prefix + name, connection=queue.connection,
                                  serializer=JSONSerializer)
        if dead is not None:
            dead.register_death()
        return count
    finally:
        queue.connection.close()


def run_worker(settings: Settings, burst: bool = False) -> int:
    """Supervise one long-lived work-horse (see the module's docstring); call after warming up.

    SIGTERM or SIGINT: the work-horse finishes its job and stops (rq's warm shutdown), then so does this; the
    first stop signal is forwarded as SIGTERM, later ones are not (they are copies: the whole service was
    signalled). ``HAND_BACK``: stop now, the work-horse is killed and its job put back on the queue."""
    parent = os.getpid()
    stops: list[int] = []  # stop signals received
    handed_back = False
    horse = 0

    def tell(pid: int, signum: int) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stops.append(signum)
        if len(stops) == 1 and horse:
            tell(horse, signal.SIGTERM)

    def hand_back(signum: int, _frame: FrameType | None) -> None:
        nonlocal handed_back
        stops.append(signum)
        handed_back = True
        if horse:
            tell(horse, signal.SIGKILL)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(HAND_BACK, hand_back)
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
            except SystemExit:  # rq's cold shutdown (a second Ctrl-C): the job it ran may be unfinished
                code = 1
            except BaseException:  # noqa: BLE001 - reported, then the supervisor decides
                log.exception("work-horse %s failed", name)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        horse = pid
        if handed_back:  # a signal came between fork and here
            tell(pid, signal.SIGKILL)
        elif stops:
            tell(pid, signal.SIGTERM)
        _, status = os.waitpid(pid, 0)
        horse = 0
        code = os.waitstatus_to_exitcode(status)
        clean = code in (0, RECYCLE)  # for a stop: its job finished, or was handed back
        if not clean:
            if handed_back:
                log.warning("work-horse pid %s stopped before its job ended (stop deadline); the job goes back "
                            "on the queue", pid)
            elif stops and code == -signal.SIGTERM:  # stopped before rq took over its signals: no job yet
                log.info("work-horse pid %s stopped before it took a job", pid)
            else:
                log.warning("work-horse pid %s died (exit status %s); its job goes back on the queue", pid, code)
            try:
                _bury(settings, name)
                clean = handed_back or (bool(stops) and code == -signal.SIGTERM)
            except (RedisError, OSError) as exc:
                log.warning("could not re-enqueue the job of work-horse %s now (%s); the reconciler will", pid, exc)
        if stops:
            return 0 if clean else 1
        if code == 0 and burst:
            return 0
        quick_deaths = quick_deaths + 1 if code != RECYCLE and time.monotonic() - born < 5.0 else 0
        if quick_deaths:
            time.sleep(min(30.0, 0.5 * 2 ** (quick_deaths - 1)))  # a work-horse that cannot start: back off


class WorkerPool(threading.Thread):
    """``count`` rq worker processes, restarted when one dies (SIGKILL, OOM). ``begin_stop`` asks each for a
    warm stop (SIGTERM: the current job is finished first) and ends the restarts; ``stop`` waits for them,
    and asks those still busy after the grace to hand their job back."""

    def __init__(self, settings: Settings, count: int = 1, interval: float = 2.0) -> None:
        super().__init__(name="mailroom-workers", daemon=True)
        self.settings, self.count, self.interval = settings, max(1, count), interval
        self._lock = threading.RLock()  # re-entrant: begin_stop runs in a signal handler of the main thread
        self.stopping: float | None = None  # time.monotonic() of the first stop request
        self._told: set[int] = set()  # pids already sent their SIGTERM
        self.procs: list[subprocess.Popen[bytes]] = [start_worker(settings) for _ in range(self.count)]
        self.restarts = 0
        self.stopped = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            with self._lock:
                if self.stopping is not None:
                    return  # a worker that exits now was told to: not replaced
                for i, proc in enumerate(self.procs):
                    if proc.poll() is not None:
                        log.warning("worker pid %s exited with %s; starting another", proc.pid, proc.returncode)
                        self.procs[i] = start_worker(self.settings)
                        self.restarts += 1

    def begin_stop(self) -> None:
        """No more restarts; SIGTERM (once) to every worker. Safe in a signal handler and to call again."""
        with self._lock:
            if self.stopping is None:
                self.stopping = time.monotonic()
            for proc in self.procs:
                if proc.pid not in self._told and proc.poll() is None:
                    self._told.add(proc.pid)
                    try:
                        proc.send_signal(signal.SIGTERM)
                    except ProcessLookupError:
                        pass

    def stop(self, grace: float = STOP_GRACE, timeout: float = 5.0) -> None:
        """Stop every worker: ``grace`` seconds (from the first stop request) to finish the current job, then
        ``HAND_BACK`` (the job goes back on the queue) and ``timeout`` more seconds before SIGKILL."""
        self.begin_stop()
        self.stopped.set()
        assert self.stopping is not None
        with self._lock:
            procs = list(self.procs)
        if not self._wait(procs, self.stopping + grace):
            busy = [p for p in procs if p.poll() is None]
            log.info("%d worker(s) still busy after %.0f s; their jobs go back on the queue", len(busy), grace)
            for proc in busy:
                try:
                    proc.send_signal(HAND_BACK)
                except ProcessLookupError:
                    pass
            if not self._wait(procs, time.monotonic() + timeout):
                for proc in procs:
                    if proc.poll() is None:
                        log.warning("worker pid %s did not stop; killed (the reconciler re-enqueues its job)",
                                    proc.pid)
                        proc.kill()
                        proc.wait(timeout=10)
        self.join(timeout=self.interval + 1)

    @staticmethod
    def _wait(procs: list[subprocess.Popen[bytes]], deadline: float) -> bool:
        """Wait until every process has exited (True) or ``deadline`` (time.monotonic()) has passed (False)."""
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                return False
        return True


class StopRequest:
    """The stop requests of ``serve`` and ``api`` (SIGTERM, SIGINT): the first one stops the workers' restarts
    and tells each worker to finish its job; later ones (the same stop, signalled to every process) change
    nothing."""

    def __init__(self) -> None:
        self.requested = False
        self.pool: WorkerPool | None = None

    def request(self) -> bool:
        """True for the first request."""
        first = not self.requested
        self.requested = True
        if self.pool is not None:
            self.pool.begin_stop()
        return first

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        """Signal handler outside uvicorn: the first signal leaves the start-up (the caller's ``finally``
        stops what was started); during the stop, a signal is ignored."""
        if self.request():
            raise SystemExit(0)


def start_scheduler(settings: Settings, recover_before: datetime | None = None) -> subprocess.Popen[bytes]:
    """``mailroom scheduler`` as a child: in the caller's process group; SIGTERM if the caller dies."""
    since = ["--recover-before", recover_before.isoformat()] if recover_before is not None else []
    return subprocess.Popen([sys.executable, "-m", "mailroom.cli", "scheduler", *since], env=_child_env(settings),
                            preexec_fn=_child_setup(signal.SIGTERM))


class SchedulerProcess(threading.Thread):
    """The :class:`Scheduler`'s rounds in a process of their own, started again if it dies (SIGKILL, OOM).

    Not a thread of the API: a round is Python work for as long as the items it reads take, and in the API's
    process it competed for the interpreter lock with the request threads. On SQLite a request thread that
    waits for that lock while it holds the database's write lock holds up every other writer: a 0.3 s sweep
    and the day's housekeeping held up every claim for half a second or more (``bench.claim``)."""

    def __init__(self, settings: Settings, recover_before: datetime | None = None, interval: float = 2.0) -> None:
        super().__init__(name="mailroom-scheduler-watch", daemon=True)
        self.settings, self.interval = settings, interval
        self.proc = start_scheduler(settings, recover_before)
        self.restarts = 0
        self.stopped = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            code = self.proc.poll()
            if code is None or code == 0:  # running, or stopped on request (a signal to the service's group)
                continue
            log.warning("scheduler pid %s exited with %s; starting another", self.proc.pid, code)
            self.proc = start_scheduler(self.settings)  # it re-enqueues what is stuck after the usual grace
            self.restarts += 1

    def stop(self, timeout: float = STOP_GRACE) -> None:
        """No further round; wait for the one under way (it may use Redis, which is stopped after this)."""
        self.stopped.set()
        if self.is_alive():
            self.join(timeout=self.interval + 1)
        proc = self.proc
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning("scheduler pid %s did not stop; killed", proc.pid)
            proc.kill()
            proc.wait()


def run_scheduler(settings: Settings, recover_before: datetime | None = None) -> int:
    """``mailroom scheduler``: the rounds in a thread until SIGTERM or SIGINT, which the main thread waits for
    (not a handler: setting the thread's event from a handler can deadlock on the event's own lock); the round
    under way is finished first. Exits 1 if the rounds' thread ended by itself (the watcher starts another)."""
    stops = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)  # before the thread starts: it inherits the mask
    scheduler = Scheduler(settings, recover_before=recover_before)
    scheduler.start()
    while signal.sigtimedwait(stops, 1.0) is None:
        if not scheduler.is_alive():
            log.error("the scheduler's rounds ended unexpectedly")
            return 1
    scheduler.stop(timeout=STOP_GRACE - 1)
    return 0


class Scheduler(threading.Thread):
    """Every ``interval`` seconds: re-enqueue what Redis lost (the database is the truth), expire leases,
    sweep the SLA clocks.

    ``recover_before``: Redis was started empty at that moment (the embedded redis-server), so an envelope or a
    document left in its stage since before then has no job anywhere: the first round, at once, re-enqueues
    those without the usual grace (a restart picks up what the last stop left in the queue)."""

    def __init__(self, settings: Settings, interval: float = 15.0, recover_before: datetime | None = None) -> None:
        super().__init__(name="mailroom-scheduler", daemon=True)
        self.settings, self.interval, self.recover_before = settings, interval, recover_before
        self.stopped = threading.Event()

    def run(self) -> None:
        from pipeline.context import get_context
        from pipeline.housekeeping import due, run_housekeeping
        from queues.sweep import run_scheduled
        from replies.service import deliver_pending

        if self.recover_before is not None:
            self._reconcile(self.recover_before, timedelta(0))
        while not self.stopped.wait(self.interval):
            self._reconcile(datetime.now(UTC), timedelta(seconds=30))
            if self.stopped.is_set():
                break
            ctx = get_context(self.settings)  # expired leases, SLA warnings, escalations:
            run_scheduled(ctx.db_url, ctx.policies, ctx.rules, datetime.now(UTC))
            try:  # e-mailed letters still queued (the relay was down, or a crash before the commit)
                deliver_pending(ctx.db_url, ctx.outbound, datetime.now(UTC))
            except (SQLAlchemyError, MailroomError) as exc:
                log.warning("outbound delivery skipped a round: %s", exc)
            try:  # once a day: retention (dry run, run, summary) and pruning (pipeline/housekeeping.py)
                day = due(ctx, datetime.now(UTC))
                if day is not None:
                    run_housekeeping(ctx, datetime.now(UTC), day=day)
            except (SQLAlchemyError, MailroomError) as exc:
                log.warning("housekeeping failed; it is tried again next round: %s", exc)

    def _reconcile(self, now: datetime, grace: timedelta) -> None:
        from pipeline.jobs import job_queue
        from pipeline.reconcile import reconcile

        queue = job_queue(self.settings)
        try:
            done = reconcile(self.settings.db_url, queue, now, grace)
            if done.envelopes or done.documents:
                log.info("reconciler re-enqueued %s envelopes, %s documents", done.envelopes, done.documents)
        except (RedisError, OSError) as exc:
            log.warning("reconciler skipped a round: %s", exc)
        finally:
            queue.connection.close()

    def stop(self, timeout: float = 3.0) -> None:
        """No further round; wait for the one under way (it may use Redis, which is stopped after this)."""
        self.stopped.set()
        if self.is_alive():
            self.join(timeout=timeout)
