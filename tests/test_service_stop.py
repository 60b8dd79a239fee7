"""Stopping ``mailroom serve`` as a service manager does: SIGTERM to the parent alone (systemd's KillMode=mixed,
``docker stop``), to its process group (Ctrl-C, ``kill -- -PGID``, an init that signals the group), or to every
process of the service, the redis-server included (systemd's default KillMode=control-group signals the whole
cgroup). Each way the whole process tree is gone within 10 s, nothing prints a traceback, no redis-server is
left behind, and a restart routes every envelope exactly once (mailroom/services.py, "Stopping like a
service")."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest
from rq.serializers import JSONSerializer
from sqlalchemy import select

from ground.settings import Settings
from pipeline.context import get_context
from pipeline.jobs import job_queue, pages_queue
from storage.db import session_scope
from storage.models import Envelope
from tests.hostile.engines import register
from tests.support.servers import free_port, mailroom_serve, wait_until
from tests.test_reliability_faults import ROOT, accept_files, assert_exactly_once, enqueue_all, scan_pdf

STOP_BOUND = 10.0  # seconds: what container runtimes wait after SIGTERM before SIGKILL


def _proc_table() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, state) of every process now (one pass over /proc)."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(stat.parent.name)] = (int(fields[1]), fields[0])
    return table


def _tree(root: int) -> set[int]:
    """``root`` and its live descendants (the redis-server included: its own session, still serve's child)."""
    table = _proc_table()
    found, todo = {root}, [root]
    while todo:
        parent = todo.pop()
        for pid, (ppid, state) in table.items():
            if ppid == parent and state != "Z" and pid not in found:
                found.add(pid)
                todo.append(pid)
    return found


def _alive(pids: set[int]) -> set[int]:
    table = _proc_table()
    return {pid for pid in pids if pid in table and table[pid][1] != "Z"}


def _serve_pid() -> int:
    """The ``mailroom serve`` started by this test process (tests.support.servers.mailroom_serve)."""
    for pid, (ppid, _) in _proc_table().items():
        if ppid == os.getpid():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"mailroom.cli" in cmdline and b"serve" in cmdline:
                return pid
    raise AssertionError("no mailroom serve child found")


def _redis_answers(sock: Path) -> bool:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(str(sock))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _stop(how: str, log: Path, sock: Path) -> float:
    """Signal serve (``parent``: its pid; ``group``: its process group; ``cgroup``: every process of its tree,
    as systemd does) and wait for the whole tree to end."""
    serve = _serve_pid()
    tree = _tree(serve)
    assert len(tree) >= 4, tree  # serve, redis-server, a worker and its work-horse (and rq's scheduler)
    started = time.monotonic()
    if how == "group":
        os.killpg(serve, signal.SIGTERM)
    elif how == "cgroup":  # every process at once, the redis-server in its own session too
        for pid in tree:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:  # a short-lived child that has just ended
                pass
    else:
        os.kill(serve, signal.SIGTERM)
    left: set[int] = tree
    while left and time.monotonic() - started < STOP_BOUND:
        time.sleep(0.1)
        left = _alive(tree)
    took = time.monotonic() - started
    assert not left, f"still running {took:.1f} s after SIGTERM: {left}\n{log.read_text()[-3000:]}"
    text = log.read_text()
    assert "Traceback" not in text, text[-5000:]
    assert not _redis_answers(sock)  # no redis-server left on the socket
    return took


def _started_jobs(settings: Settings) -> list[str]:
    queue = job_queue(settings)
    try:
        return [*queue.started_job_registry.get_job_ids(cleanup=False),
                *pages_queue(queue).started_job_registry.get_job_ids(cleanup=False)]
    finally:
        queue.connection.close()


def _envelopes(settings: Settings) -> list[str]:
    with session_scope(get_context(settings).db_url) as s:
        return list(s.scalars(select(Envelope.id)).all())


def _all_routed(settings: Settings) -> bool:
    with session_scope(get_context(settings).db_url) as s:
        return set(s.scalars(select(Envelope.state)).all()) == {"processed"}


def _env(settings: Settings, **more: str) -> dict[str, str]:
    return dict(os.environ, MAILROOM_DATA=str(settings.data), MAILROOM_PORT=str(free_port()),
                MAILROOM_SECRET_KEY="stop-" + "s" * 40, OMP_THREAD_LIMIT="1", **more)


@pytest.fixture
def emails(tmp_path: Path) -> list[Path]:
    from corpus.generate import generate

    generate(tmp_path / "mail", seed=53, count=4, forms=["eml"])
    return sorted((tmp_path / "mail").glob("*.eml"))


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("how", ["parent", "group", "cgroup"])
def test_demo_serve_stops_within_10_s_cleanly_and_a_restart_routes_everything(
        how: str, settings: Settings, emails: list[Path], tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with mailroom_serve(_env(settings), "--demo", log=log, timeout=300) as base:
        for path in emails:  # more letters in flight behind the demo's
            r = httpx.post(f"{base}/api/envelopes", auth=("scanner", "demo"), data={"channel": "email"},
                           files={"file": (path.name, path.read_bytes())}, timeout=30)
            assert r.status_code == 202, r.text
        wait_until(lambda: _started_jobs(settings), 120, "a job to be running")
        took = _stop(how, log, settings.redis_socket)
    ids = _envelopes(settings)
    assert len(ids) >= 8 + len(emails)
    # Every envelope routed after a restart (no --demo: no new letters), each document exactly once.
    with mailroom_serve(_env(settings), log=tmp_path / "restart.log", timeout=300):
        wait_until(lambda: _all_routed(settings), 300, "every envelope to be routed after the restart")
    assert_exactly_once(get_context(settings), ids)
    print(f"stop by SIGTERM to the {how}: {took:.1f} s")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_job_longer_than_the_stop_grace_is_handed_back_and_routed_after_a_restart(
        settings: Settings, tmp_path: Path) -> None:
    """4 pages at 3 s each (the fault-slow OCR engine) outlast serve's stop grace: the work-horse is stopped,
    its job put back on the queue, the stop still ends within 10 s; the restart reads the letter."""
    plugins = register(tmp_path / "plugins")
    slow = _env(settings, MAILROOM_OCR_ENGINE="fault-slow", MAILROOM_OCR_DPI="100",
                PYTHONPATH=f"{plugins}:{ROOT}")
    log = tmp_path / "serve.log"
    ctx = get_context(settings)
    with mailroom_serve(slow, log=log, timeout=300):
        [env_id] = accept_files(ctx, [scan_pdf(tmp_path / "long.pdf", 4)])
        enqueue_all(ctx, [env_id])
        wait_until(lambda: f"read-{env_id}" in _started_jobs(settings), 60, "the long read to start")
        time.sleep(1.0)  # well into its first page
        _stop("group", log, settings.redis_socket)
    assert "the job goes back on the queue" in log.read_text()
    with session_scope(ctx.db_url) as s:
        assert s.get(Envelope, env_id).state == "received"  # type: ignore[union-attr]
    with mailroom_serve(_env(settings, MAILROOM_OCR_ENGINE="fault-fast", PYTHONPATH=f"{plugins}:{ROOT}"),
                        log=tmp_path / "restart.log", timeout=300):
        wait_until(lambda: _all_routed(settings), 300, "the handed-back letter to be routed")
    assert_exactly_once(ctx, [env_id])


def _children_running(serve: int, word: bytes) -> set[int]:
    """serve's live children whose command line has ``word`` as an argument."""
    found = set()
    for pid, (ppid, state) in _proc_table().items():
        if ppid == serve and state != "Z":
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if word in cmdline:
                found.add(pid)
    return found


def _web_children(serve: int) -> set[int]:
    """The other web processes: serve's children that run serve's own command line (workers run ``worker``)."""
    return _children_running(serve, b"serve")


def _answers(base: str, times: int) -> bool:
    try:
        return all(httpx.get(f"{base}/api/health", timeout=5).status_code == 200 for _ in range(times))
    except httpx.TimeoutException:
        return False


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_each_web_process_answers_on_the_port_and_all_stop_with_the_service(settings: Settings,
                                                                             tmp_path: Path) -> None:
    """MAILROOM_WEB_PROCESSES=3: two more processes share the listening socket. With the first one stopped
    (SIGSTOP), and then also one of the others, requests are still answered; a stop ends all of them."""
    log = tmp_path / "serve.log"
    with mailroom_serve(_env(settings, MAILROOM_WEB_PROCESSES="3"), log=log, timeout=300) as base:
        serve = _serve_pid()
        web = _web_children(serve)
        assert len(web) == 2, web
        stopped = [serve]
        try:
            os.kill(serve, signal.SIGSTOP)
            assert _answers(base, 20)
            stopped.append(min(web))
            os.kill(stopped[-1], signal.SIGSTOP)
            assert _answers(base, 20)
            os.kill(max(web), signal.SIGSTOP)  # none left to answer: the check can fail
            stopped.append(max(web))
            assert not _answers(base, 1)
        finally:
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
        assert _answers(base, 5)
        _stop("parent", log, settings.redis_socket)


def test_a_repeated_sigterm_never_turns_into_a_cold_shutdown(redis_settings: Settings) -> None:
    """rq makes any second signal a cold shutdown (the job is abandoned mid-way). A work-horse gets SIGTERM from
    the service manager and from its supervisor, so only a second SIGINT (Ctrl-C again) may do that."""
    from datetime import UTC, datetime, timedelta

    from rq.exceptions import StopRequested

    from mailroom.services import PipelineWorker
    from pipeline.jobs import worker_queues

    queues = worker_queues(redis_settings)
    worker = PipelineWorker(queues, name="stop-test", connection=queues[0].connection, serializer=JSONSerializer,
                            max_jobs=10, max_rss_mb=10_000)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with pytest.raises(StopRequested):  # idle: rq leaves its loop at once
            worker.request_stop(signal.SIGTERM, None)
        worker._shutdown_requested_date = datetime.now(UTC) - timedelta(seconds=5)
        worker.request_force_stop(signal.SIGTERM, None)  # the copy from the supervisor: still a warm stop
        with pytest.raises(SystemExit):
            worker.request_force_stop(signal.SIGINT, None)  # Ctrl-C pressed again
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        queues[0].connection.close()


def _schedulers(serve: int) -> set[int]:
    """serve's children that run ``mailroom scheduler``."""
    return _children_running(serve, b"scheduler")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_scheduler_is_a_process_of_its_own_replaced_when_it_dies(settings: Settings, tmp_path: Path) -> None:
    """The rounds (reconciler, SLA sweep, outbound e-mail, housekeeping) run in a ``mailroom scheduler`` child, not
    in a thread of the API; killed, it is started again; it stops with the service like every other process."""
    log = tmp_path / "serve.log"
    with mailroom_serve(_env(settings), log=log, timeout=300):
        serve = _serve_pid()
        first = _schedulers(serve)
        assert len(first) == 1, first
        os.kill(min(first), signal.SIGKILL)
        wait_until(lambda: _schedulers(serve) - first, timeout=30, what="a scheduler started in place of the killed")
        assert len(_schedulers(serve)) == 1
        assert "exited with -9; starting another" in log.read_text()
        _stop("parent", log, settings.redis_socket)
