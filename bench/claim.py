"""Claims through the real path: N agents claim and complete work items over the HTTP API of a running
``mailroom serve``, on the embedded default (SQLite) and on a durable PostgreSQL.

    .venv/bin/python -m bench.claim [--items 1000] [--agents 50] [--engines sqlite,postgresql]
                                    [--work-ms 1000] [--procs 5] [--sse 5] [--fill pipeline|rows]
                                    [--keep DIR [--pg-log]] [--py-spy SECONDS]

Per engine, in a fresh data directory (on the local disk):

1. Items. ``--fill pipeline`` (default): body-only e-mails composed by ``corpus.letters`` (``bench.mbox``'s
   mbox: four languages, every category, no OCR) are imported with ``channels.importer.import_paths`` and
   run through ``pipeline.runner.run_inline`` before the service starts: real routed work items (documents,
   classification, routing rules, SLA clocks, cases, audit chain, search index, outbox). ``--fill rows``:
   bulk INSERTs of envelopes, documents and new items over five queues (``bench.claim_db.populate``), fast.
2. Users as an administrator makes them (``storage.users``, what ``mailroom users add`` / ``users token``
   call): ``--agents`` agents with an API token each, and a supervisor.
3. ``mailroom serve`` (API + embedded redis-server + one rq worker + scheduler), SQLite as shipped (WAL,
   ``synchronous=FULL``) or ``MAILROOM_DATABASE_URL`` to a private PostgreSQL cluster with fsync on,
   synchronous_commit on (``bench.support.durable_postgres``; the settings are read back with SHOW).
4. The supervisor puts every agent in every queue: ``PUT /api/queues/{queue}/members`` over HTTP (an agent
   with no membership works no queue).
5. Agents (``--procs`` OS processes of threads, one keep-alive connection each, ``Authorization: Bearer``)
   loop ``POST /api/next`` → work ``--work-ms`` (random 0.5–1.5×; first claims spread over one such
   interval) → ``POST /api/work-items/{id}/complete`` until ``/api/next`` answers 204. ``--sse`` agents
   also keep ``GET /api/events`` open the whole time and count the ``item.taken`` events they get.
   The claim latency is measured by the client: request sent → response read.
6. Exactly once, checked twice: by the clients (every item id claimed once, by one agent, all items) and
   in the database afterwards (every item done and assigned to its claimer, one ``work_item.claimed`` and one
   ``work_item.completed`` audit event each, the completion by the claimer).

Prints per engine a summary, and last one line: ``bench claim: items=… agents=… sqlite_claim_p50_ms=…
sqlite_claim_p99_ms=… postgresql_claim_p50_ms=… postgresql_claim_p99_ms=… exactly_once=true pg_fsync=on …``.
``--pg-log`` (with ``--keep``) keeps PostgreSQL's log as ``<keep>/postgresql-server.log``: statements of
50 ms or more, lock waits past 20 ms and checkpoints (``bench.support.PG_LOG_SETTINGS``), to see what a tail
is made of (session 12: one 69 ms COMMIT, its WAL flush, with four audited commits waiting behind it for the
audit chain's lock).
``--py-spy SECONDS`` records the serve process tree with py-spy (``py-spy`` on PATH or ``PY_SPY``) for that
long from the agents' start, into ``<keep>/<engine>-profile.txt`` (collapsed stacks; ``PY_SPY_MODE=cpu``
(default: threads on a CPU), ``gil`` (the thread holding the GIL) or ``idle`` (wall clock, waits included)).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue
import random
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path

from bench.claim_db import engine_for, fresh_database, populate, run_agents
from bench.support import (
    PG_LOG_SETTINGS,
    durable_postgres,
    filesystem_of,
    free_port,
    load_average,
    mailroom_serve,
    new_pg_database,
    pct,
    pg_durability,
    secret_key,
    session_cpu_seconds,
)

__all__ = ["engine_for", "fresh_database", "populate", "run_agents", "main", "check_exactly_once"]

AGENT_PASSWORD = "bench-agent-password"  # noqa: S105 - throw-away users of a throw-away database
SUPERVISOR = "benchsupervisor"


@dataclass
class EngineResult:
    engine: str
    items: int = 0  # work items there were to claim
    agents: int = 0
    seconds: float = 0.0
    # every request: (kind claim|complete|empty|error, agent, item id, start on the monotonic clock, latency s,
    # HTTP status)
    requests: list[tuple[str, str, int, float, float, int]] = field(default_factory=list)
    started: float = 0.0  # the agents' start on the monotonic clock
    sse_ids: dict[str, list[int]] = field(default_factory=dict)  # agent → ids of the item.taken events it got
    sse_expected: dict[str, list[int]] = field(default_factory=dict)  # agent → ids it should have got
    errors: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # exactly-once findings (client side and database)
    settings: dict[str, str] = field(default_factory=dict)
    fill_seconds: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at the start and the end of the agents
    api_cpu_s: float = 0.0  # CPU of serve's web processes (uvicorn; the first also the scheduler) while the agents ran
    serve_cpu_s: float = 0.0  # CPU of serve's whole session (also its rq worker) while the agents ran
    agents_cpu_s: float = 0.0  # CPU of the agents' processes (this bench's clients)


    @property
    def claims(self) -> list[tuple[str, int, float]]:
        """(agent, item id, latency s) of every successful claim."""
        return [(agent, item, lat) for kind, agent, item, _, lat, _ in self.requests if kind == "claim"]

    def latencies_ms(self, kind: str) -> list[float]:
        return [1000 * r[4] for r in self.requests if r[0] == kind]

    @property
    def claim_ms(self) -> list[float]:
        return self.latencies_ms("claim")

    @property
    def sse_missed(self) -> dict[str, list[int]]:
        return {a: sorted(set(self.sse_expected.get(a, [])) - set(ids)) for a, ids in self.sse_ids.items()}

    @property
    def exactly_once(self) -> bool:
        return not self.problems and not self.errors and self.items > 0


# ---------------------------------------------------------------- items and users (before serve starts)


def _fill(kind: str, data: Path, db_url: str, items: int, out: mp.Queue) -> None:
    """In a child process (the models it loads stay out of the agents' processes)."""
    from ground.settings import Settings
    from pipeline.context import get_context
    from storage.db import get_engine, migrate

    try:
        t0 = time.perf_counter()
        if kind == "rows":
            migrate(db_url)
            populate(get_engine(db_url), items, at=datetime.now(UTC))  # due in the coming days, as new mail
        else:
            from bench.mbox import build_mbox
            from channels.importer import import_paths
            from pipeline.runner import run_inline

            ctx = get_context(Settings(data=data, database_url=db_url if not db_url.startswith("sqlite") else ""))
            box = data / "bench-inbox.mbox"
            build_mbox(box, items, seed=11)
            result = import_paths(ctx, [box], lambda: datetime.now(UTC), dispatch=None)
            for env_id in result.accepted:
                run_inline(ctx, env_id)
            box.unlink()
        out.put(("ok", time.perf_counter() - t0))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def fill(kind: str, data: Path, db_url: str, items: int) -> float:
    ctx = mp.get_context("fork")
    out: mp.Queue = ctx.Queue()
    p = ctx.Process(target=_fill, args=(kind, data, db_url, items, out))
    p.start()
    status, value = out.get(timeout=3600)
    p.join(timeout=60)
    if status != "ok":
        raise RuntimeError(f"filling the work items failed: {value}")
    return float(value)


def make_users(db_url: str, agents: int) -> list[tuple[str, str]]:
    """``agents`` agents with an API token each and one supervisor; returns [(name, token)]."""
    from storage.db import get_engine, session_scope
    from storage.models import Role
    from storage.users import create_token, upsert_user

    out = []
    now = datetime.now(UTC)
    with session_scope(db_url) as s:
        upsert_user(s, SUPERVISOR, AGENT_PASSWORD, Role.SUPERVISOR)
        for n in range(agents):
            name = f"agent{n:02d}"
            upsert_user(s, name, AGENT_PASSWORD, Role.AGENT)
            s.flush()
            _, plain = create_token(s, name, "bench.claim", now)
            out.append((name, plain))
    get_engine(db_url).dispose()  # no pooled connection crosses the fork of the agents
    return out


def join_every_queue(base: str, agents: list[str]) -> tuple[int, list[str]]:
    """What a supervisor does before agents can work: every agent in every queue, over the API. Returns the
    number of new items the queues then hold and the queues."""
    import httpx

    with httpx.Client(base_url=base, auth=(SUPERVISOR, AGENT_PASSWORD), timeout=60) as c:
        r = c.get("/api/queues")
        r.raise_for_status()
        queues = [q["id"] for q in r.json()]
        for q in queues:
            r = c.put(f"/api/queues/{q}/members", json={"usernames": agents})
            r.raise_for_status()
            if sorted(r.json()) != sorted(agents):
                raise RuntimeError(f"PUT /api/queues/{q}/members kept {r.json()}")
        r = c.get("/api/queues")
        r.raise_for_status()
        new = sum(q["counts"].get("new", 0) for q in r.json())
    return new, queues


# ---------------------------------------------------------------- the agents (HTTP clients)


def _client_process(base: str, agents: list[tuple[str, str]], sse_agents: set[str], start: Barrier,
                    out: mp.Queue, work_ms: float, seed: int) -> None:
    """One OS process of agent threads (and event-stream threads). Reports to ``out``: a "done" message with
    every request (kind, agent, item, start on the monotonic clock, latency s, status) once its agents are
    through, then — 1.5 s later, so the streams could deliver the last claims — the event ids it received."""
    import httpx

    requests: list[tuple[str, str, int, float, float, int]] = []
    errors: list[str] = []
    sse: dict[str, list[int]] = {}
    guard = threading.Lock()
    ready: list[threading.Event] = []

    def stream(name: str, token: str, connected: threading.Event) -> None:
        got = sse.setdefault(name, [])
        try:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                              timeout=httpx.Timeout(30, read=None)) as c, c.stream("GET", "/api/events") as r:
                if r.status_code != 200:
                    raise RuntimeError(f"GET /api/events answered {r.status_code}")
                last_id = 0
                for line in r.iter_lines():
                    if line.startswith(": connected"):
                        connected.set()
                    elif line.startswith("id: "):
                        last_id = int(line[4:])
                    elif line == "event: item.taken":
                        got.append(last_id)
        except Exception as exc:  # noqa: BLE001 - reported
            with guard:
                errors.append(f"{name} events: {type(exc).__name__}: {exc}")
            connected.set()

    def agent(name: str, token: str, rng: random.Random) -> None:
        mine: list[tuple[str, str, int, float, float, int]] = []
        try:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as c:
                c.get("/api/health")  # the connection is open before the start: only the API is timed
                start.wait()
                if work_ms:  # agents do not all ask at the same millisecond
                    time.sleep(rng.uniform(0, work_ms / 1000))
                for attempt in range(3):  # the wait at the barrier may have outlasted the server's keep-alive
                    try:  # (uvicorn: 5 s): reconnect with an idempotent request, not with the timed claim
                        c.get("/api/health")
                        break
                    except httpx.TransportError:
                        if attempt == 2:
                            raise
                while True:
                    t = time.perf_counter()
                    r = c.post("/api/next")
                    lat = time.perf_counter() - t
                    if r.status_code == 204:
                        mine.append(("empty", name, 0, t, lat, 204))
                        break
                    if r.status_code != 200:
                        mine.append(("error", name, 0, t, lat, r.status_code))
                        raise RuntimeError(f"POST /api/next answered {r.status_code}: {r.text[:200]}")
                    item = r.json()
                    mine.append(("claim", name, int(item["id"]), t, lat, 200))
                    if item.get("assignee") != name or item.get("state") != "claimed":
                        raise RuntimeError(f"POST /api/next gave {item.get('id')} as {item.get('state')} "
                                           f"of {item.get('assignee')}")
                    if work_ms:
                        time.sleep(work_ms / 1000 * rng.uniform(0.5, 1.5))
                    t = time.perf_counter()
                    r = c.post(f"/api/work-items/{item['id']}/complete", json={"outcome": "resolved"})
                    mine.append(("complete" if r.status_code == 200 else "error", name, int(item["id"]), t,
                                 time.perf_counter() - t, r.status_code))
                    if r.status_code != 200:
                        raise RuntimeError(f"complete {item['id']} answered {r.status_code}: {r.text[:200]}")
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the run
            with guard:
                errors.append(f"{name}: {type(exc).__name__}: {exc}")
        with guard:
            requests.extend(mine)

    for name, token in agents:
        if name in sse_agents:
            ev = threading.Event()
            ready.append(ev)
            threading.Thread(target=stream, args=(name, token, ev), daemon=True).start()
    for ev in ready:
        ev.wait(timeout=60)
    threads = [threading.Thread(target=agent, args=(n, tok, random.Random(f"{seed}:{n}"))) for n, tok in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with guard:
        out.put({"kind": "done", "requests": list(requests), "errors": list(errors)})
    time.sleep(1.5)  # the streams poll every 0.2 s: let them deliver the last claims
    with guard:
        out.put({"kind": "sse", "ids": {k: list(v) for k, v in sse.items()},
                 "errors": [e for e in errors if " events: " in e]})


def run_agents_http(base: str, agents: list[tuple[str, str]], procs: int, sse: int, work_ms: float,
                    result: EngineResult, serve_pid: int | None = None, profile: tuple[float, Path] | None = None
                    ) -> None:
    procs = max(1, min(procs, len(agents)))
    groups = [[a for k, a in enumerate(agents) if k % procs == p] for p in range(procs)]
    sse_agents = {name for name, _ in agents[:sse]}  # spread: agent k is in group k % procs
    ctx = mp.get_context("fork")
    start = ctx.Barrier(len(agents) + 1)
    out: mp.Queue = ctx.Queue()
    children = [ctx.Process(target=_client_process, args=(base, g, sse_agents, start, out, work_ms, p),
                            daemon=True) for p, g in enumerate(groups)]
    for c in children:
        c.start()
    cpu0 = session_cpu_seconds(serve_pid) if serve_pid else {}
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start.wait(timeout=180)
    t0 = time.perf_counter()
    result.started = t0
    result.load = (load_average(), 0.0)
    spy = _start_py_spy(serve_pid, profile) if profile and serve_pid else None
    done = streams = 0
    while streams < len(children):
        try:
            msg = out.get(timeout=1800 if done < len(children) else 60)
        except queue.Empty:
            result.errors.append("an agent process did not report in time")
            break
        if msg["kind"] == "done":
            done += 1
            result.requests += msg["requests"]
            result.errors += msg["errors"]
            if done == len(children):
                result.seconds = time.perf_counter() - t0
                result.load = (result.load[0], load_average())
                if serve_pid:
                    cpu1 = session_cpu_seconds(serve_pid)
                    web = web_pids(serve_pid, cpu1)
                    result.api_cpu_s = sum(cpu1[p] - cpu0.get(p, 0.0) for p in web)
                    result.serve_cpu_s = sum(cpu1.values()) - sum(v for k, v in cpu0.items() if k in cpu1)
        else:
            streams += 1
            result.sse_ids.update(msg["ids"])
            result.errors += [e for e in msg["errors"] if e not in result.errors]
    for c in children:
        c.join(timeout=30)
        if c.exitcode not in (0, None):
            result.errors.append(f"agent process {c.pid} exited with {c.exitcode}")
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    result.agents_cpu_s = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
    if spy is not None:
        _stop_py_spy(spy)


def web_pids(serve_pid: int, pids: Iterable[int]) -> set[int]:
    """serve's own process and its other web processes (MAILROOM_WEB_PROCESSES: children that run serve's
    command line; the rq workers run ``worker``)."""
    found = {serve_pid}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().split(b"\0")
        except OSError:
            continue
        if ppid == serve_pid and b"serve" in cmdline:
            found.add(pid)
    return found


def _start_py_spy(pid: int, profile: tuple[float, Path]) -> subprocess.Popen[bytes] | None:
    exe = os.environ.get("PY_SPY") or shutil.which("py-spy")
    if exe is None:
        print("py-spy not found (PATH or PY_SPY): no profile", flush=True)
        return None
    seconds, path = profile
    mode = {"cpu": [], "gil": ["--gil"], "idle": ["--idle"]}[os.environ.get("PY_SPY_MODE", "cpu")]
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--subprocesses", *mode, "--format", "raw",
                             "--rate", "200", "--duration", str(int(seconds)), "--output", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop_py_spy(spy: subprocess.Popen[bytes]) -> None:
    try:
        spy.wait(timeout=600)
    except subprocess.TimeoutExpired:
        spy.terminate()
        spy.wait(timeout=30)


# ---------------------------------------------------------------- exactly once


def expected_events(db_url: str, agents: list[str]) -> dict[str, list[int]]:
    """The ``item.taken`` outbox ids each of ``agents`` should have got: every claim by someone else (all agents
    are in every queue; the streams opened before the first claim and the fill writes no ``item.taken``)."""
    from sqlalchemy import select

    from storage.db import get_engine, session_scope
    from storage.models import OutboxEvent

    with session_scope(db_url) as s:
        rows = s.execute(select(OutboxEvent.id, OutboxEvent.actor).where(OutboxEvent.kind == "item.taken")).all()
    get_engine(db_url).dispose()
    return {a: sorted(i for i, actor in rows if actor != a) for a in agents}


def check_exactly_once(db_url: str, claims: list[tuple[str, int, float]], completed: int) -> list[str]:
    """Findings (empty: exactly once) for the agents' ``claims`` [(agent, item id, latency)] and ``completed``
    count against the database: every work item claimed once by one agent and completed by it, none left."""
    from sqlalchemy import func, select

    from storage.db import get_engine, session_scope
    from storage.models import AuditEvent, WorkItem

    problems: list[str] = []
    per_item = Counter(item for _, item, _ in claims)
    twice = sorted(i for i, n in per_item.items() if n > 1)
    if twice:
        problems.append(f"{len(twice)} items claimed more than once by the agents, e.g. {twice[:5]}")
    if completed != len(claims):
        problems.append(f"{len(claims)} claims but {completed} completions")
    claimed_by = {item: agent for agent, item, _ in claims}
    with session_scope(db_url) as s:
        rows = s.execute(select(WorkItem.id, WorkItem.state, WorkItem.assignee)).all()
        claimed_events = Counter(s.scalars(select(AuditEvent.work_item_id)
                                           .where(AuditEvent.action == "work_item.claimed")))
        completed_events = dict(s.execute(select(AuditEvent.work_item_id, AuditEvent.actor)
                                          .where(AuditEvent.action == "work_item.completed")).all())
        n_completed_events = s.scalar(select(func.count()).select_from(AuditEvent)
                                      .where(AuditEvent.action == "work_item.completed")) or 0
    get_engine(db_url).dispose()
    ids = {r.id for r in rows}
    if not ids:
        problems.append("the database holds no work items")
    lost = sorted(ids - set(per_item))
    if lost:
        problems.append(f"{len(lost)} items never claimed by the agents (lost), e.g. {lost[:5]}")
    ghost = sorted(set(per_item) - ids)
    if ghost:
        problems.append(f"{len(ghost)} claimed ids are not in the database, e.g. {ghost[:5]}")
    not_done = [r.id for r in rows if r.state != "done"]
    if not_done:
        problems.append(f"{len(not_done)} items not done, e.g. {not_done[:5]}")
    wrong = [r.id for r in rows if r.id in claimed_by and r.assignee != claimed_by[r.id]]
    if wrong:
        problems.append(f"{len(wrong)} items assigned in the database to another agent than the claimer, "
                        f"e.g. {wrong[:5]}")
    multi = sorted(i for i, n in claimed_events.items() if n != 1)
    if multi or set(claimed_events) != ids:
        problems.append(f"audit: {len(multi)} items with more than one claim event, "
                        f"{len(ids - set(claimed_events))} without one")
    if n_completed_events != len(ids) or set(completed_events) != ids:
        problems.append(f"audit: {n_completed_events} completion events for {len(ids)} items")
    by_other = [i for i, actor in completed_events.items() if claimed_by.get(i) not in (None, actor)]
    if by_other:
        problems.append(f"audit: {len(by_other)} items completed by someone else than the claimer")
    return problems


# ---------------------------------------------------------------- one engine


@contextmanager
def _database(engine: str, root: Path, pg_log: bool = False) -> Iterator[tuple[str, dict[str, str]]]:
    """(database URL, durability settings); SQLite: "" (the data directory's default database)."""
    if engine == "sqlite":
        yield "", {}
        return
    log = (root / "postgresql-server.log") if pg_log else None
    # in the temporary directory: the postgres user must reach it
    with durable_postgres(extra=PG_LOG_SETTINGS if pg_log else (), keep_log=log) as server:
        settings = pg_durability(server)
        yield new_pg_database(server, "claim"), settings


def run_engine(engine: str, args: argparse.Namespace, root: Path) -> EngineResult:
    result = EngineResult(engine, agents=args.agents)
    data = root / engine
    data.mkdir(parents=True, exist_ok=True)
    with _database(engine, root, bool(args.keep and args.pg_log)) as (pg_url, settings):
        result.settings = settings
        db_url = pg_url or f"sqlite:///{data / 'mailroom.db'}"
        print(f"{engine}: filling {args.items} items ({args.fill}) …", flush=True)
        result.fill_seconds = fill(args.fill, data, db_url, args.items)
        agents = make_users(db_url, args.agents)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILROOM_")}
        env.update(MAILROOM_DATA=str(data), MAILROOM_PORT=str(free_port()), MAILROOM_SECRET_KEY=secret_key(),
                   MAILROOM_LOG_FORMAT="text")
        if pg_url:
            env["MAILROOM_DATABASE_URL"] = pg_url
        print(f"{engine}: {args.fill} fill took {result.fill_seconds:.1f} s; starting mailroom serve", flush=True)
        with mailroom_serve(env, log=data / "serve.log") as (base, proc):
            result.items, queues = join_every_queue(base, [n for n, _ in agents])
            print(f"{engine}: {result.items} new items in {len(queues)} queues; {args.agents} agents "
                  f"({args.procs} processes, {args.sse} with /api/events open), work {args.work_ms:g} ms",
                  flush=True)
            time.sleep(args.settle)  # serve's worker warms up its models: let the start-up CPU pass
            profile = (args.py_spy, root / f"{engine}-profile.txt") if args.py_spy else None
            run_agents_http(base, agents, args.procs, args.sse, args.work_ms, result, proc.pid, profile)
        result.problems = check_exactly_once(db_url, result.claims, len(result.latencies_ms("complete")))
        if result.items != len({i for _, i, _ in result.claims}) and not result.problems:
            result.problems.append(f"{result.items} items were new, {len(result.claims)} claimed")
        result.sse_expected = expected_events(db_url, list(result.sse_ids))
        if args.keep:
            with open(root / f"{engine}-requests.jsonl", "w") as f:
                for kind, agent, item, t, lat, status in sorted(result.requests, key=lambda r: r[3]):
                    f.write(json.dumps({"kind": kind, "agent": agent, "item": item, "status": status,
                                        "at_s": round(t - result.started, 4), "ms": round(1000 * lat, 2)}) + "\n")
    return result


def summary(r: EngineResult) -> str:
    ms, comp, empty = r.claim_ms, r.latencies_ms("complete"), r.latencies_ms("empty")
    missed = r.sse_missed
    sse = ", ".join(f"{n} {len(r.sse_ids[n])}/{len(r.sse_expected.get(n, []))}"
                    + (f" (missed {missed[n][:5]}{'…' if len(missed[n]) > 5 else ''}, "
                       f"{sum(1 for i in missed[n] if i < max(r.sse_ids[n], default=0))} of them below an id it got)"
                       if missed.get(n) else "")
                    for n in sorted(r.sse_ids))
    settings = " ".join(f"{k}={v}" for k, v in r.settings.items())
    return (f"{r.engine}: {len(r.claims)} claims of {r.items} items by {r.agents} agents in {r.seconds:.1f} s "
            f"({len(r.claims) / r.seconds if r.seconds else 0:.1f} claims/s); claim p50 {pct(ms, 50):.1f} ms, "
            f"p95 {pct(ms, 95):.1f}, p99 {pct(ms, 99):.1f}, max {max(ms, default=float('nan')):.1f}; "
            f"complete p50 {pct(comp, 50):.1f}, p99 {pct(comp, 99):.1f}; final 204 p50 {pct(empty, 50):.1f} ms; "
            f"item.taken events received/expected: {sse or '-'}; "
            f"CPU per request: serve's web processes {_per_request_ms(r.api_cpu_s, r)} ms, serve with worker "
            f"{_per_request_ms(r.serve_cpu_s, r)} ms, agents (clients) {_per_request_ms(r.agents_cpu_s, r)} ms; "
            f"load {r.load[0]:.1f} → {r.load[1]:.1f}; {settings or 'SQLite WAL synchronous=FULL'}; "
            + ("exactly once" if r.exactly_once else "NOT exactly once: " + "; ".join((r.errors + r.problems)[:5])))


def _per_request_ms(cpu_s: float, r: EngineResult) -> str:
    return f"{1000 * cpu_s / len(r.requests):.1f}" if r.requests else "nan"


def last_line(args: argparse.Namespace, results: list[EngineResult]) -> str:
    parts = [f"items={args.items}", f"agents={args.agents}"]
    for r in results:
        ms = r.claim_ms
        parts += [f"{r.engine}_claim_p50_ms={pct(ms, 50):.1f}", f"{r.engine}_claim_p99_ms={pct(ms, 99):.1f}"]
    parts.append(f"exactly_once={'true' if results and all(r.exactly_once for r in results) else 'false'}")
    pg = [r for r in results if r.engine == "postgresql"]
    if pg:
        parts.append(f"pg_fsync={pg[0].settings.get('fsync', '?')}")
        parts.append(f"pg_synchronous_commit={pg[0].settings.get('synchronous_commit', '?')}")
    for r in results:
        parts.append(f"{r.engine}_claim_p95_ms={pct(r.claim_ms, 95):.1f}")
        parts.append(f"{r.engine}_api_cpu_ms_per_request={_per_request_ms(r.api_cpu_s, r)}")
    sse_ok = all(not missed for r in results for missed in r.sse_missed.values())
    from ground.settings import Settings

    web = os.environ.get("MAILROOM_WEB_PROCESSES") or Settings.model_fields["web_processes"].default
    parts += [f"work_ms={args.work_ms:g}", f"fill={args.fill}", "auth=token", f"sse_streams={args.sse}",
              f"web_processes={web}",
              f"sse_complete={'true' if sse_ok else 'false'}",
              f"load={max((r.load[1] for r in results), default=load_average()):.1f}"]
    return "bench claim: " + " ".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, default=1000)
    p.add_argument("--agents", type=int, default=50)
    p.add_argument("--engines", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    p.add_argument("--work-ms", type=float, default=1000.0,
                   help="mean time an agent works an item between claim and complete (0: back to back; at most "
                        "3000: a connection idle 5 s is closed by uvicorn, and the bench does not retry a claim)")
    p.add_argument("--procs", type=int, default=5, help="agent processes (the agents are threads in them)")
    p.add_argument("--sse", type=int, default=5, help="agents that keep GET /api/events open")
    p.add_argument("--fill", choices=["pipeline", "rows"], default="pipeline")
    p.add_argument("--settle", type=float, default=5.0, help="seconds between serve's start and the agents")
    p.add_argument("--keep", help="keep data directories, serve logs and profiles here")
    p.add_argument("--pg-log", action="store_true",
                   help="with --keep: keep PostgreSQL's log with slow statements and lock waits (PG_LOG_SETTINGS)")
    p.add_argument("--py-spy", type=float, default=0.0, metavar="SECONDS",
                   help="record serve's process tree with py-spy for SECONDS from the agents' start")
    args = p.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    fs = filesystem_of(args.keep or tempfile.gettempdir())
    print(f"data on {fs}" + (" — fsync is free there: use --keep DIR on a disk" if fs == "tmpfs" else ""),
          flush=True)
    if set(engines) - {"sqlite", "postgresql"} or not engines:
        p.error("--engines takes sqlite, postgresql or both")
    results: list[EngineResult] = []
    if args.keep:
        root = Path(args.keep)
        root.mkdir(parents=True, exist_ok=True)
        for engine in engines:
            results.append(run_engine(engine, args, root))
            print(summary(results[-1]), flush=True)
    else:
        with tempfile.TemporaryDirectory(prefix="mailroom-bench-claim-") as d:
            for engine in engines:
                results.append(run_engine(engine, args, Path(d)))
                print(summary(results[-1]), flush=True)
    for r in results:
        for line in (r.errors + r.problems)[:20]:
            print(f"{r.engine}: {line}", flush=True)
    print(last_line(args, results), flush=True)
    return 0 if all(r.exactly_once for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
