"""Child processes of ``mailroom serve``: the embedded redis-server and the rq worker,
plus the scheduler loop (reconciler) that runs beside the API."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import RedisError

from mailroom.errors import ConfigError
from mailroom.settings import Settings

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
        from pipeline.jobs import job_queue
        from pipeline.reconcile import reconcile

        while not self.stopped.wait(self.interval):
            try:
                done = reconcile(self.settings.db_url, job_queue(self.settings), datetime.now(UTC))
                if done.envelopes or done.documents:
                    log.info("reconciler re-enqueued %s envelopes, %s documents", done.envelopes, done.documents)
            except (RedisError, OSError) as exc:
                log.warning("reconciler skipped a round: %s", exc)
            from queues.sweep import run_scheduled

            run_scheduled(self.settings, datetime.now(UTC))  # expired leases, SLA warnings, escalations

    def stop(self) -> None:
        self.stopped.set()
