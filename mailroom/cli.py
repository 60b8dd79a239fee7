"""The ``mailroom`` command: process, ocr, serve, api, worker, corpus, and the areas' sub-commands."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from pydantic import ValidationError

from ground import i18n
from ground.errors import MailroomError
from ground.logging import configure as configure_logging
from ground.settings import MAKE_SECRET, Settings, get_settings
from mailroom.commands import archive, intake, jobs, model, routing, users
from mailroom.commands import customers as customers_commands
from mailroom.commands import replies as replies_commands

if TYPE_CHECKING:
    import socket

    import uvicorn

    from pipeline.context import Context

NO_SECRET = ("mailroom: MAILROOM_SECRET_KEY is not set. It signs the session cookies of the web pages and "
             "must be a long random value kept secret and the same on every API process, e.g.\n"
             f"  {MAKE_SECRET}\n"
             "(`mailroom serve --demo` makes one for its data directory by itself.)")


def cmd_process(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from mailroom.process import default_jobs, process_files
    from pipeline.context import get_context

    failed = 0
    bar = tqdm(total=len(args.paths), unit="file", disable=not sys.stderr.isatty(), leave=False)
    for source, lines in process_files(args.paths, args.jobs or default_jobs()):
        ctx = get_context()  # made by process_files (after its OCR processes started)
        bar.update()
        for line in lines:
            failed += "error" in line
            intake.record_process_read(ctx, line)  # audited before it is shown (issue 15)
            if args.json:
                print(json.dumps(line, ensure_ascii=False), flush=True)
            elif "error" in line:
                print(f"{source}: ERROR {line['error']}", flush=True)
            else:
                print(f"{source}: {line['document_id']} {line['language']} {line['category']} "
                      f"({line['confidence']:.2f}) → {line['queue']} p{line['priority']} due {line['sla_due']}",
                      flush=True)
    bar.close()
    return 1 if failed else 0


def cmd_ocr(args: argparse.Namespace) -> int:
    from ocr import ocr_text

    try:
        text = ocr_text(Path(args.path))
        intake.record_file_read(Path(args.path), Path(args.path).read_bytes())  # audited before it is shown
        print(text)
    except MailroomError as exc:
        print(f"{args.path}: {exc.reason}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(i18n.gettext("%(path)s: cannot be read (%(why)s)") % {"path": args.path, "why": exc.strerror},
              file=sys.stderr)
        return 1
    return 0


def warm_up(ctx: Context) -> None:
    """Load what every job needs (job modules, spaCy model, language detector, rules) once in the worker's
    supervisor, so that a work-horse it forks (at start, and again after one dies) inherits it instead of
    importing it again (≈ 1 s). No database connection may cross the fork: the pool is emptied afterwards."""
    import classifiers
    import pipeline.jobs  # noqa: F401
    from storage.db import get_engine

    classifiers.classify("Szanowni Państwo, proszę o kopię faktury.")
    _ = ctx.rules, ctx.policies
    get_engine(ctx.db_url).dispose()


def cmd_worker(args: argparse.Namespace) -> int:
    import ocr  # noqa: F401 - sets Pillow's pixel limit in this worker process
    from mailroom.services import run_worker
    from pipeline.context import get_context

    ctx = get_context()
    warm_up(ctx)
    _leave(run_worker(ctx.settings, burst=args.burst))


def cmd_scheduler(args: argparse.Namespace) -> int:
    from datetime import datetime

    from mailroom.services import run_scheduler
    from pipeline.context import get_context

    since = datetime.fromisoformat(args.recover_before) if args.recover_before else None
    _leave(run_scheduler(get_context().settings, recover_before=since))


def _leave(code: int) -> NoReturn:
    """Exit now that a service process has stopped everything it started: the interpreter's own teardown of
    what a worker or the API has loaded (spaCy, OpenCV, SQLAlchemy, …) takes seconds on a busy machine, time
    a stop does not have (container runtimes SIGKILL after 10 s). Nothing is left to clean: the database
    sessions are closed, Redis and the child processes are stopped, and the logs are flushed here."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


HTTP_STOP_GRACE = 3  # seconds uvicorn waits for open requests at a stop (an event stream never ends by itself)


def _run_api(settings: Settings, port: int, *, embedded: bool, demo: bool, workers: int = 1) -> int:
    """API + scheduler; with ``embedded`` also a private redis-server and ``workers`` rq workers.

    Stopping (SIGTERM or SIGINT: to this process alone, to its process group, or to every process of the
    service): the workers are told at once and finish their jobs while uvicorn closes its connections
    (``HTTP_STOP_GRACE``); then the scheduler ends its round, the workers are waited for
    (``services.STOP_GRACE``, then they hand their jobs back), and the redis-server, which no signal to the
    service reaches (``start_redis(shielded=True)``), is stopped last."""
    from datetime import UTC, datetime

    import uvicorn

    from mailroom import services
    from mailroom.demo import DEMO_PASSWORD, DEMO_USERS, create_demo_letters, create_demo_users
    from pipeline.context import get_context
    from pipeline.jobs import enqueue_read, job_queue
    from web.app import create_app, ready_to_serve

    stop = services.StopRequest()

    web: list[int] = []  # the other web processes (settings.web_processes) ...
    go = -1  # ... and the pipe that tells them the service is ready

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)  # uvicorn's graceful shutdown ...
            stop.request()  # ... while the workers finish their jobs
            _signal_all(web, signal.SIGTERM)  # ... and the other web processes close theirs

    ctx = get_context(settings)  # migrates: before any other process uses the database
    app = create_app(ctx)
    ready_to_serve(app)  # before the fork: routes resolved and start-up objects frozen, shared by the web processes
    config = uvicorn.Config(app, host=settings.host, port=port, log_level="info",
                            timeout_graceful_shutdown=HTTP_STOP_GRACE,
                            proxy_headers=False)  # web/deps.py: MAILROOM_TRUSTED_PROXIES only
    sockets = None
    if settings.web_processes > 1:
        try:
            sockets = [config.bind_socket()]  # uvicorn says why when it cannot
        except SystemExit:
            _leave(3)
        web, go = _fork_web_processes(config, sockets, settings.web_processes - 1, ctx.db_url)
    # Before uvicorn and after it (uvicorn restores these handlers and raises the signal it caught again).
    signal.signal(signal.SIGTERM, stop.on_signal)
    signal.signal(signal.SIGINT, stop.on_signal)
    redis_proc = scheduler = None
    code = 0
    try:
        recover_before = None
        if embedded and not settings.redis_url:
            recover_before = datetime.now(UTC)  # the new redis-server is empty: jobs of before are gone
            redis_proc = services.start_redis(settings, shielded=True)
        if embedded:
            stop.pool = services.WorkerPool(settings, workers)
        scheduler = services.SchedulerProcess(settings, recover_before=recover_before)
        if demo:
            created = create_demo_users(ctx)
            queue = job_queue(settings)
            for env_id in create_demo_letters(ctx):
                enqueue_read(queue, env_id)
            if created:
                print(f"Demo users ({', '.join(created)}) have the password '{DEMO_PASSWORD}'.", flush=True)
            kept = [u for u, _, _ in DEMO_USERS if u not in created]
            if kept:
                print(f"Users that already existed ({', '.join(kept)}) keep their passwords.", flush=True)
        print(f"Mailroom on http://{settings.host}:{port}/docs  (data: {settings.data})", flush=True)
        server = Server(config)
        if web:
            with contextlib.suppress(BrokenPipeError):  # every other web process is gone: this one answers alone
                os.write(go, b"s" * len(web))  # the demo users and letters exist: every web process may answer
        server.run(sockets=sockets)
        if not server.started and not stop.requested:
            code = 3  # uvicorn could not start (it said why), as ``uvicorn.run`` exits
    finally:
        stop.request()  # from here on a signal changes nothing: the stop below runs to its end
        if go >= 0:
            os.close(go)
        _stop_web_processes(web)
        if scheduler is not None:
            scheduler.stop()
        if stop.pool is not None:
            stop.pool.stop()  # finish the jobs in hand (or hand them back after the grace)
        if redis_proc is not None:
            services.stop_redis(redis_proc, settings.redis_socket)  # last: the workers and scheduler needed it
    _leave(code)


def _fork_web_processes(config: uvicorn.Config, sockets: list[socket.socket], count: int,
                        db_url: str) -> tuple[list[int], int]:
    """``count`` more processes answering on the bound socket, forked before any thread or server starts.
    Each waits until the first process is ready (one byte on the returned pipe; its end, unwritten, means
    "stop"), then runs uvicorn alone and leaves when it is told to stop (SIGTERM/SIGINT: by the service's
    group, or by the first process at its own stop); the first process keeps the scheduler, the workers and
    the redis-server."""
    import uvicorn

    from storage.db import get_engine

    get_engine(db_url).dispose()  # no database connection crosses the fork
    ready, go = os.pipe()
    pids = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:  # a web process: until uvicorn takes the signals over, a stop is an immediate exit
            signal.signal(signal.SIGTERM, lambda *_: _leave(0))
            signal.signal(signal.SIGINT, lambda *_: _leave(0))
            os.close(go)
            if not os.read(ready, 1):
                _leave(0)  # the first process stopped before it was ready
            os.close(ready)
            code = 0
            try:
                uvicorn.Server(config).run(sockets=sockets)
            except Exception:  # it must never return into the first process's code
                logging.getLogger("mailroom.web").exception("a web process failed")
                code = 1
            _leave(code)
        pids.append(pid)
    os.close(ready)
    return pids, go


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _stop_web_processes(pids: list[int]) -> None:
    """Tell the other web processes to stop, wait for them (uvicorn's grace and a second), then kill what is
    left; each is reaped."""
    _signal_all(pids, signal.SIGTERM)
    deadline = time.monotonic() + HTTP_STOP_GRACE + 1
    left = set(pids)
    while left:
        for pid in list(left):
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    continue
            left.discard(pid)
        if left and time.monotonic() > deadline:
            _signal_all(list(left), signal.SIGKILL)
            deadline = float("inf")
        if left:
            time.sleep(0.05)


def demo_secret(settings: Settings) -> str:
    """A per-data-directory key for ``serve --demo``, created once (mode 0600) and reused."""
    path = Path(settings.data) / "demo-secret-key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def _settings_with_secret(demo: bool) -> Settings | None:
    """The settings for ``serve``/``api``: a weak key was refused by their validation, a missing one is here
    (``serve --demo`` makes one for its data directory)."""
    settings = get_settings()
    if not settings.secret_key:
        if not demo:
            print(NO_SECRET, file=sys.stderr)
            return None
        settings.secret_key = demo_secret(settings)
    return settings


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings_with_secret(args.demo)
    if settings is None:
        return 2
    return _run_api(settings, args.port or settings.port, embedded=True, demo=args.demo, workers=args.workers)


def cmd_api(args: argparse.Namespace) -> int:
    settings = _settings_with_secret(demo=False)
    if settings is None:
        return 2
    return _run_api(settings, args.port or settings.port, embedded=False, demo=False)


def cmd_corpus(args: argparse.Namespace) -> int:
    from corpus.generate import generate

    truth = generate(Path(args.out), seed=args.seed, count=args.count, holdout=args.holdout)
    print(i18n.ngettext("%(num)d file written to %(out)s", "%(num)d files written to %(out)s", len(truth))
          % {"num": len(truth), "out": args.out})
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mailroom", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    sp = sub.add_parser("process", help="run the whole pipeline inline on files")
    sp.add_argument("paths", nargs="+")
    sp.add_argument("--json", action="store_true", help="one JSON object per document per line")
    sp.add_argument("--jobs", "-j", type=int, default=0, metavar="N",
                    help="files read at once, one process each (default: every core; 1: one after another)")
    sp.set_defaults(func=cmd_process)

    sp = sub.add_parser("ocr", help="print the recognised text of a file")
    sp.add_argument("path")
    sp.set_defaults(func=cmd_ocr)

    sp = sub.add_parser("serve", help="API + worker + scheduler (+ embedded redis-server)")
    sp.add_argument("--demo", action="store_true", help="create demo users and route sample letters")
    sp.add_argument("--port", type=int, default=0)
    sp.add_argument("--workers", type=int, default=1, help="rq worker processes (restarted if one dies)")
    sp.set_defaults(func=cmd_serve)

    sp = sub.add_parser("api", help="API + scheduler only (scale-out: Redis and workers run elsewhere)")
    sp.add_argument("--port", type=int, default=0)
    sp.set_defaults(func=cmd_api)

    sp = sub.add_parser("scheduler", help="the periodic rounds: reconciler, SLA sweep, outbound e-mail, "
                                          "housekeeping (serve and api start it as a process of their own)")
    sp.add_argument("--recover-before", default="", help="ISO time Redis was started empty: re-enqueue at once "
                                                         "what was left in a stage before it")
    sp.set_defaults(func=cmd_scheduler)

    sp = sub.add_parser("worker", help="an rq worker for the pipeline jobs")
    sp.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    sp.set_defaults(func=cmd_worker)

    sp = sub.add_parser("corpus", help="generate a synthetic corpus with ground truth")
    csub = sp.add_subparsers(dest="corpus_command", required=True)
    gp = csub.add_parser("generate")
    gp.add_argument("--out", required=True)
    gp.add_argument("--seed", type=int, default=1)
    gp.add_argument("--count", type=int, default=44)
    gp.add_argument("--holdout", action="store_true", help="use the held-out sentence pools")
    gp.set_defaults(func=cmd_corpus)

    for module in (users, intake, archive, model, routing, jobs, replies_commands, customers_commands):
        module.register(sub)
    return p


def _speak() -> tuple[str, str | None]:
    """What people read from a command: in the terminal's language (LANGUAGE, LC_ALL, LANG) when we have it,
    else the site's MAILROOM_LANGUAGE; times in MAILROOM_TIME_ZONE (ground/i18n.py). A setting that does not
    validate is the command's own business to report, if it needs it."""
    try:
        settings = get_settings()
        language, zone = settings.language, settings.time_zone
    except ValidationError:
        language, zone = os.environ.get("MAILROOM_LANGUAGE", ""), None
    return i18n.cli_language(language), zone


def _output_closed() -> int:
    """The reader of our output went away (``mailroom search … | head``): stop quietly, as Unix tools do, and
    point stdout at /dev/null so that the interpreter's last flush does not fail again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 128 + signal.SIGPIPE


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()  # mailroom/logging.py: MAILROOM_LOG_FORMAT=json|text, ids and phones masked
    try:
        args = build_parser().parse_args(argv)
        with i18n.use(*_speak()):
            code = int(args.func(args))
            sys.stdout.flush()  # what is still buffered meets a closed pipe here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        return _output_closed()
    except MailroomError as exc:
        print(f"mailroom: {exc.reason}", file=sys.stderr)
        return 2
    except ValidationError as exc:  # a MAILROOM_* setting has a value it may not have
        for error in exc.errors():
            print(f"mailroom: {error['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
