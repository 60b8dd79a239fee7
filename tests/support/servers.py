"""Real servers for tests, started by the project's own code (see TEST-SERVERS notes)."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed; `make test` installs the Debian package postgresql")
    return Path(found[-1]).parent


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on a private port; yields a SQLAlchemy URL."""
    bindir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="mailroom-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data, log = root / "data", root / "log"

    def run(*cmd: str) -> None:
        subprocess.run([*as_postgres, *cmd], check=True, capture_output=True, timeout=120)

    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "mailroom", "-E", "UTF8",
        "--locale=C.UTF-8")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(log), "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", "start")
    try:
        yield f"postgresql+psycopg://mailroom@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def mailroom_serve(env: dict[str, str], *args: str, log: Path, timeout: float = 120) -> Iterator[str]:
    """``mailroom serve ARGS`` with ``env`` (``MAILROOM_PORT`` set), in its own process group; yields its base
    URL once ``/api/health`` reports Redis up. On exit: SIGINT (a graceful stop), then SIGKILL to whatever
    is left of the group, so no redis-server or worker outlives a failed test."""
    import httpx

    base = f"http://127.0.0.1:{env['MAILROOM_PORT']}"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "mailroom.cli", "serve", *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)

        def up() -> bool:
            assert proc.poll() is None, f"mailroom serve exited:\n{log.read_text()[-3000:]}"
            try:
                return httpx.get(f"{base}/api/health", timeout=2).json()["redis"] == "ok"
            except httpx.HTTPError:
                return False

        try:
            wait_until(up, timeout, "mailroom serve to answer")
            yield base
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # the whole group is gone already
            proc.wait(timeout=30)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.5):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` every ``interval`` s until it returns something truthy (returned), or fail naming ``what``."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def served(app: object) -> Iterator[str]:
    """An ASGI app on a real uvicorn server in a thread of this process; yields its base URL."""
    import threading
    import time

    import uvicorn

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",  # type: ignore[arg-type]
                                        timeout_graceful_shutdown=2))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        t.join(timeout=10)
        assert not t.is_alive(), "uvicorn did not stop"


@contextmanager
def mailroom_api(data: Path, users: dict[str, tuple[str, str]], log: Path,
                 **env_extra: str) -> Iterator[tuple[str, int]]:
    """A real ``mailroom api`` (uvicorn, its own process) on ``data`` with the embedded redis-server it
    reports on, and ``users`` ({name: (password, role)}) made first; yields its base URL and pid once
    ``/api/health`` answers 200. Stopped (SIGINT, then SIGKILL) on exit, with its redis-server."""
    import time

    import httpx

    from ground.settings import Settings
    from mailroom.services import start_redis
    from storage.db import migrate, session_scope
    from storage.models import Role
    from storage.users import upsert_user

    data.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{data / 'mailroom.db'}"
    migrate(url)
    with session_scope(url) as s:
        for name, (password, role) in users.items():
            upsert_user(s, name, password, Role(role))
    redis = start_redis(Settings(data=data))
    port = free_port()
    env = dict(os.environ, MAILROOM_DATA=str(data), MAILROOM_PORT=str(port),
               MAILROOM_SECRET_KEY="api-test-" + "9fK2qLm7xR4tVw8zA3bN6cD1eH5jP0sU", **env_extra)
    env.pop("MAILROOM_DATABASE_URL", None)
    base = f"http://127.0.0.1:{port}"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "mailroom.cli", "api"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, f"mailroom api exited:\n{log.read_text()[-3000:]}"
            try:
                if httpx.get(f"{base}/api/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"mailroom api did not answer:\n{log.read_text()[-3000:]}"
            time.sleep(0.3)
        yield base, proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)
        redis.terminate()
        redis.wait(timeout=10)
