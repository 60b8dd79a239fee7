"""Direct-database claim driver: N agents (OS processes or threads) call ``queues.work`` next/complete on their
own engines, no HTTP. ``tests/test_work_concurrency.py`` and ``tests/test_reliability_pgkill.py`` use it to
check exactly-once under contention; ``bench.claim`` measures the real path (HTTP API of ``mailroom serve``)
and reuses ``populate`` for its ``--fill rows``.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import queue
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Barrier
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, insert, text
from sqlalchemy.orm import sessionmaker

from queues import work
from storage.db import _sqlite_pragmas, migrate
from storage.models import Document, Envelope, WorkItem

QUEUES = ("billing", "complaints", "technical", "retention", "sales")
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@dataclass
class RunResult:
    db: str
    agents: int
    items: int
    seconds: float
    claim_latencies: list[float] = field(default_factory=list)  # seconds, one per successful claim
    completed: list[int] = field(default_factory=list)  # item ids, in completion order
    errors: list[str] = field(default_factory=list)

    @property
    def claims_per_s(self) -> float:
        return len(self.claim_latencies) / self.seconds if self.seconds else 0.0

    def pct_ms(self, p: float) -> float:
        if not self.claim_latencies:
            return 0.0
        xs = sorted(self.claim_latencies)
        return 1000 * xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def engine_for(url: str, agents: int, sqlite_sync: str = "FULL") -> Engine:
    """An engine with a connection per agent (the shared one has a small pool). ``sqlite_sync``:
    tests that check exactly-once, not durability, may pass NORMAL (no fsync per commit in WAL)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60}, pool_size=agents, max_overflow=5)
        event.listen(engine, "connect", _sqlite_pragmas)
        if sqlite_sync != "FULL":
            mode = {"NORMAL": "NORMAL", "OFF": "OFF"}[sqlite_sync]
            event.listen(engine, "connect", lambda c, _r: c.execute(f"PRAGMA synchronous={mode}"))
        return engine
    return create_engine(url, pool_size=agents, max_overflow=5)


def populate(engine: Engine, items: int, at: datetime = T0) -> None:
    """``items`` new work items over several queues and priorities, with real envelopes and documents,
    received at ``at`` and due 1 to 4.5 days after it (the default ``T0`` is past: their SLA has run out)."""
    envs, docs, rows = [], [], []
    run = uuid.uuid4().hex[:8]
    for i in range(items):
        env_id = f"b{run}-{i}"
        envs.append({"id": env_id, "received_at": at, "channel": "scan", "source_name": f"{i}.pdf",
                     "content_type": "application/pdf", "sha256": hashlib.sha256(env_id.encode()).hexdigest(),
                     "size": 1, "state": "processed", "attempts": 1, "meta": {}, "updated_at": at})
        docs.append({"id": f"d{env_id}", "envelope_id": env_id, "part_index": 0, "doc_index": 0, "part_name": "",
                     "part_sha256": "0" * 64, "first_page": 1, "pages": 1, "blank_pages": 0, "page_flags": [],
                     "text": "", "state": "routed", "language": "pl", "category": "complaint", "entities": {},
                     "reasons": [], "created_at": at})
        rows.append({"document_id": f"d{env_id}", "queue": QUEUES[i % len(QUEUES)], "priority": (i * 7) % 5 * 10,
                     "state": "new", "routing_rule": "bench", "sla_policy": "internal:bench",
                     "sla_due": at + timedelta(days=1, minutes=(i * 37) % 5000), "created_at": at, "updated_at": at,
                     "version": 1, "holds": [], "dispatch": {}, "sla_state": "ok", "flags": []})
    with engine.begin() as conn:
        conn.execute(insert(Envelope), envs)
        conn.execute(insert(Document), docs)
        conn.execute(insert(WorkItem), rows)


def _agent_process(url: str, names: list[str], start: Barrier, out: mp.Queue, work_ms: float,
                   sqlite_sync: str) -> None:
    """One OS process running ``names`` agents (one thread each when more than one), its own engine."""
    engine = engine_for(url, len(names), sqlite_sync)
    factory = sessionmaker(engine, expire_on_commit=False)
    lat: list[float] = []
    done: list[int] = []
    errors: list[str] = []
    guard = threading.Lock()

    def agent(name: str) -> None:
        my_lat: list[float] = []
        my_done: list[int] = []
        if work_ms:  # agents do not all ask at the same millisecond: spread the first claims out
            time.sleep(random.uniform(0, work_ms / 1000))
        try:
            while True:
                with factory() as s:
                    t = time.perf_counter()
                    with s.begin():  # the claim round trip: begin, one UPDATE ... RETURNING, outbox, audit, commit
                        c = work.claim_next(s, name, datetime.now(UTC), use_scope=False)
                    elapsed = time.perf_counter() - t
                if c is None:
                    break
                my_lat.append(elapsed)
                if work_ms:
                    time.sleep(work_ms / 1000 * random.uniform(0.5, 1.5))
                with factory() as s, s.begin():
                    work.complete(s, c.id, name, datetime.now(UTC))
                my_done.append(c.id)
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the run
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
        with guard:
            lat.extend(my_lat)
            done.extend(my_done)

    threads = [threading.Thread(target=agent, args=(n,), daemon=True) for n in names]
    warm = [engine.connect() for _ in names]  # connect before the start: only claims are timed
    for c in warm:
        c.execute(text("SELECT 1"))
        c.close()
    start.wait()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    out.put((lat, done, errors))


def run_agents(url: str, agents: int, items: int, db: str = "", *, procs: int | None = None,
               work_ms: float = 0.0, sqlite_sync: str = "FULL") -> RunResult:
    """``agents`` agents spread over ``procs`` OS processes (default: one process per agent), each
    looping "claim next (one transaction) → [work ``work_ms``] → complete (another)" until the
    queues are empty. Only the claim transaction is timed."""
    procs = max(1, min(procs or agents, agents))
    ctx = mp.get_context("fork")  # children inherit the imported modules; each opens its own engine
    start = ctx.Barrier(procs + 1)
    out: mp.Queue = ctx.Queue()
    groups = [[f"agent{n:02d}" for n in range(agents) if n % procs == p] for p in range(procs)]
    children = [ctx.Process(target=_agent_process, args=(url, g, start, out, work_ms, sqlite_sync),
                          daemon=True) for g in groups]
    for c in children:
        c.start()
    result = RunResult(db or ("sqlite" if url.startswith("sqlite") else "postgresql"), agents, items, 0.0)
    start.wait(timeout=120)
    t0 = time.perf_counter()
    for _ in children:
        try:
            lat, done, errors = out.get(timeout=600)
        except queue.Empty:
            result.errors.append("an agent process did not report within 600 s")
            break
        result.claim_latencies.extend(lat)
        result.completed.extend(done)
        result.errors.extend(errors)
    result.seconds = time.perf_counter() - t0
    for c in children:
        c.join(timeout=10)
        if c.exitcode not in (0, None):
            result.errors.append(f"agent process {c.pid} exited with {c.exitcode}")
    return result


@contextmanager
def fresh_database(kind: str, pg_server_url: str | None = None) -> Iterator[str]:
    """A new, migrated, empty database: a SQLite file, or a new database on a PostgreSQL server."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="mailroom-claim-") as d:
            url = f"sqlite:///{Path(d) / 'claim.db'}"
            migrate(url)
            yield url
        return
    assert pg_server_url is not None
    name = f"claim_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = pg_server_url.rsplit("/", 1)[0] + f"/{name}"
    migrate(url)
    yield url


def measure(url: str, agents: int, items: int, procs: int | None = None, work_ms: float = 0.0) -> RunResult:
    engine = engine_for(url, 2)
    try:
        populate(engine, items)
    finally:
        engine.dispose()
    return run_agents(url, agents, items, procs=procs, work_ms=work_ms)
