"""Shared bench helpers: a durable private PostgreSQL cluster, a running ``mailroom serve``, percentiles.

The test suite's ``tests.support.servers.postgres_server`` runs with ``fsync=off`` (fast tests, nothing to
keep); a bench that reports latencies a production server would see must not. ``durable_postgres`` starts a
throw-away cluster with PostgreSQL's durable defaults stated explicitly (``fsync=on``,
``synchronous_commit=on``, ``full_page_writes=on``) on the local disk, and ``pg_durability`` reads back what
the server really runs with, so a bench prints the settings it measured, not the ones it asked for.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
FAST = {"fsync": "off", "synchronous_commit": "on", "full_page_writes": "on"}  # as the test suite runs it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile ``p`` (0–100) of ``values``; nan when there are none."""
    if not values:
        return float("nan")
    xs = sorted(values)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def load_average() -> float:
    return os.getloadavg()[0]


def session_cpu_seconds(sid: int) -> dict[int, float]:
    """CPU seconds (user + system, with reaped children's) of every process in session ``sid``, by pid
    (``mailroom serve`` runs in its own session: the API process, its rq workers; not its redis-server)."""
    out: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                raw = f.read()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()  # after "pid (comm) "
        if int(fields[3]) == sid:  # field 6 of stat: session id
            out[int(stat.split("/")[2])] = sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
    return out


def filesystem_of(path: str | Path) -> str:
    """The file system type holding ``path`` (from /proc/mounts; "?" elsewhere): a bench of fsynced commits
    on a tmpfs measures nothing of the disk."""
    target = os.path.realpath(path)
    best, kind = "", "?"
    try:
        with open("/proc/mounts") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 2 and (target == fields[1] or target.startswith(fields[1].rstrip("/") + "/")) \
                        and len(fields[1]) >= len(best):
                    best, kind = fields[1], fields[2]
    except OSError:
        pass
    return kind


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed; `make test` installs the Debian package postgresql")
    return Path(found[-1]).parent


@contextmanager
def durable_postgres(settings: dict[str, str] | None = None, *, base_dir: str | None = None,
                     extra: Sequence[str] = (), keep_log: Path | None = None) -> Iterator[str]:
    """A throw-away PostgreSQL cluster on a private port and the local disk; yields a SQLAlchemy URL of its
    ``postgres`` database. ``settings``: server settings (default :data:`DURABLE`); ``extra``: more
    ``name=value`` settings (e.g. ``shared_buffers=1GB``); ``keep_log``: the server's log is copied there.
    Stopped (``-m fast``) and removed on exit."""
    bindir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="mailroom-bench-pg-", dir=base_dir))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data, log = root / "data", root / "log"
    opts = {**(settings or DURABLE), "max_connections": "300"}
    conf = " ".join(f"-c {k}={v}" for k, v in opts.items()) + "".join(f" -c {e}" for e in extra)

    def run(*cmd: str) -> None:
        subprocess.run([*as_postgres, *cmd], check=True, capture_output=True, timeout=180)

    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "mailroom", "-E", "UTF8",
        "--locale=C.UTF-8")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(log), "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 {conf}", "start")
    try:
        yield f"postgresql+psycopg://mailroom@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True, timeout=120)
        if keep_log is not None and log.exists():
            shutil.copyfile(log, keep_log)
        shutil.rmtree(root, ignore_errors=True)


def new_pg_database(server_url: str, prefix: str = "bench") -> str:
    """A new, empty database on the server of ``server_url``; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def pg_durability(url: str) -> dict[str, str]:
    """What the server at ``url`` really runs with: fsync, synchronous_commit, full_page_writes, wal_sync_method."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {k: str(conn.execute(text(f"SHOW {k}")).scalar_one())
                    for k in ("fsync", "synchronous_commit", "full_page_writes", "wal_sync_method")}
    finally:
        engine.dispose()


def secret_key() -> str:
    return "bench-" + secrets.token_urlsafe(32)


@contextmanager
def mailroom_serve(env: dict[str, str], *args: str, log: Path, timeout: float = 180
                   ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``mailroom serve ARGS`` with ``env`` (``MAILROOM_PORT`` set) in its own process group; yields its base
    URL and process once ``/api/health`` reports Redis up. On exit SIGINT (a graceful stop), then SIGKILL to
    whatever is left of its group."""
    import httpx

    base = f"http://127.0.0.1:{env['MAILROOM_PORT']}"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "mailroom.cli", "serve", *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mailroom serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/api/health", timeout=5).json().get("redis") == "ok":
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mailroom serve did not answer in {timeout:.0f} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=45)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of its group
        except ProcessLookupError:
            pass
        if proc.poll() is None:
            proc.wait(timeout=30)


# What the server's log records with ``--pg-log`` (bench.claim): every statement of 50 ms or more, every lock
# wait past 20 ms (deadlock_timeout is lowered for that: the deadlock check runs sooner, a little more work
# per wait) and the checkpoints, with the time to the millisecond and the backend's pid.
PG_LOG_SETTINGS = ("log_min_duration_statement=50", "log_lock_waits=on", "deadlock_timeout=20ms",
                   "log_checkpoints=on", "log_line_prefix='%m [%p] '")
