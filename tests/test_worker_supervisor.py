"""``mailroom worker`` = a supervisor and one long-lived work-horse (mailroom/services.py): jobs run one after
another in the same warm process; the work-horse is replaced after its job quota; killing the supervisor
leaves no work-horse (nor rq scheduler) behind; every item still ends routed exactly once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from rq.job import Job
from rq.serializers import JSONSerializer

from ground.settings import Settings
from pipeline.context import get_context
from pipeline.jobs import job_queue
from tests.test_reliability_faults import (
    ROOT,
    WorkerProc,
    accept_files,
    assert_exactly_once,
    enqueue_all,
    states,
    wait_for,
)


@pytest.fixture
def eight_files(tmp_path: Path) -> list[Path]:
    from corpus.generate import generate

    generate(tmp_path / "eight", seed=41, count=8, forms=["eml", "text_pdf"])
    return sorted(p for p in (tmp_path / "eight").iterdir() if p.suffix in (".eml", ".pdf"))


def _descendants(pid: int) -> set[int]:
    """Live processes below ``pid`` (one pass over /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


@contextmanager
def worker_with_horse(settings: Settings, log: Path) -> Iterator[tuple[WorkerProc, int, set[int]]]:
    """A started ``mailroom worker``: (its handle, the supervisor's pid, its work-horse and descendants)."""
    worker = WorkerProc(settings, log)
    worker.start()
    try:
        assert worker.proc is not None
        supervisor = worker.proc.pid
        horses = wait_for(lambda: _descendants(supervisor), 60, "the work-horse")
        assert isinstance(horses, set)
        yield worker, supervisor, horses
    finally:
        worker.stop()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _workers_of(queue_conn: object, job_ids: list[str]) -> list[str]:
    return [Job.fetch(j, connection=queue_conn, serializer=JSONSerializer).worker_name or ""  # type: ignore[arg-type]
            for j in job_ids]


@pytest.mark.slow
def test_jobs_run_in_one_warm_work_horse_which_is_replaced_after_its_quota(
        redis_settings: Settings, eight_files: list[Path]) -> None:
    ctx = get_context(redis_settings)
    ids = accept_files(ctx, eight_files)
    enqueue_all(ctx, ids)
    env = dict(os.environ, MAILROOM_DATA=str(redis_settings.data), OMP_THREAD_LIMIT="1",
               MAILROOM_WORKER_MAX_JOBS="5")
    done = subprocess.run([sys.executable, "-m", "mailroom.cli", "worker", "--burst"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert_exactly_once(ctx, ids)
    jobs = len(ids)  # a read job per envelope, which also routes its documents (pipeline.jobs.route_here)
    horses = re.findall(r"Worker (\w+): started with PID (\d+)", done.stderr)
    assert len(horses) == -(-jobs // 5)  # 5 jobs per work-horse, then a fresh one
    assert len({pid for _, pid in horses}) == len(horses)
    assert done.stderr.count("to be replaced") == jobs // 5
    queue = job_queue(ctx.settings)
    ran_by = _workers_of(queue.connection, [f"read-{i}" for i in ids])
    assert set(ran_by) <= {name for name, _ in horses}
    assert max(ran_by.count(name) for name in set(ran_by)) >= 3  # a run of jobs in one process, no fork per job


@pytest.mark.slow
def test_killing_the_supervisor_takes_its_work_horse_along_and_nothing_is_lost(
        redis_settings: Settings, eight_files: list[Path], tmp_path: Path) -> None:
    ctx = get_context(redis_settings)
    with worker_with_horse(redis_settings, tmp_path / "worker.log") as (worker, supervisor, horses):
        assert worker.proc is not None
        os.kill(supervisor, signal.SIGKILL)  # the supervisor alone, not its process group
        worker.proc.wait(timeout=30)
        wait_for(lambda: not any(_alive(p) for p in horses), 10, "the work-horse and rq scheduler to die")
        # the items are routed by the next worker
        ids = accept_files(ctx, eight_files)
        enqueue_all(ctx, ids)
        worker.start()
        wait_for(lambda: set(states(ctx, ids).values()) == {"processed"}, 180, "the items to be routed")
        assert_exactly_once(ctx, ids)


@pytest.mark.slow
def test_sigterm_to_the_supervisor_stops_an_idle_worker_quickly(redis_settings: Settings, tmp_path: Path) -> None:
    with worker_with_horse(redis_settings, tmp_path / "worker.log") as (worker, _, horses):
        assert worker.proc is not None
        time.sleep(1.0)  # the work-horse is waiting for a job
        started = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)
        assert worker.proc.wait(timeout=30) == 0
        assert time.monotonic() - started < 15
        assert not any(_alive(p) for p in horses)


@pytest.mark.slow
def test_sigterm_to_serve_stops_its_workers_and_redis(tmp_path: Path) -> None:
    """docker stop / systemd send SIGTERM: nothing the service started may keep running."""
    from tests.support.servers import free_port

    env = dict(os.environ, MAILROOM_DATA=str(tmp_path / "data"), MAILROOM_PORT=str(free_port()),
               MAILROOM_SECRET_KEY="s" * 40, OMP_THREAD_LIMIT="1")
    server = subprocess.Popen([sys.executable, "-m", "mailroom.cli", "serve", "--workers", "1"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    started: set[int] = set()
    try:
        # redis-server, a supervisor, its work-horse and the work-horse's rq scheduler
        found = wait_for(lambda: len(_descendants(server.pid)) >= 4 and _descendants(server.pid), 120,
                         "the service's processes")
        assert isinstance(found, set)
        started = found
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        wait_for(lambda: not any(_alive(p) for p in started), 15, "every process of the service to stop")
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        for pid in started:  # what a failure left behind
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
