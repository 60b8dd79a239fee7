"""Claim throughput and latency: N agent threads call next/complete until the queues are empty.

    .venv/bin/python -m bench.claim [--agents 50] [--items 2000] [--db sqlite|postgresql|both]

SQLite runs on a file in a temporary directory (WAL, synchronous=FULL, as shipped); PostgreSQL on a
throw-away server started like the test suite does. The last line is
``bench claim: sqlite_claims_per_s=... sqlite_p50_ms=... sqlite_p99_ms=... postgresql_...``.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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


def engine_for(url: str, agents: int) -> Engine:
    """An engine with a connection per agent (the shared one has a small pool)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60}, pool_size=agents, max_overflow=5)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_size=agents, max_overflow=5)


def populate(engine: Engine, items: int) -> None:
    """``items`` new work items over several queues and priorities, with real envelopes and documents."""
    envs, docs, rows = [], [], []
    run = uuid.uuid4().hex[:8]
    for i in range(items):
        env_id = f"b{run}-{i}"
        envs.append({"id": env_id, "received_at": T0, "channel": "scan", "source_name": f"{i}.pdf",
                     "content_type": "application/pdf", "sha256": hashlib.sha256(env_id.encode()).hexdigest(),
                     "size": 1, "state": "processed", "attempts": 1, "meta": {}, "updated_at": T0})
        docs.append({"id": f"d{env_id}", "envelope_id": env_id, "part_index": 0, "doc_index": 0, "part_name": "",
                     "part_sha256": "0" * 64, "first_page": 1, "pages": 1, "blank_pages": 0, "page_flags": [],
                     "text": "", "state": "routed", "language": "pl", "category": "complaint", "entities": {},
                     "reasons": [], "created_at": T0})
        rows.append({"document_id": f"d{env_id}", "queue": QUEUES[i % len(QUEUES)], "priority": (i * 7) % 5 * 10,
                     "state": "new", "routing_rule": "bench", "sla_policy": "internal:bench",
                     "sla_due": T0 + timedelta(minutes=(i * 37) % 5000), "created_at": T0, "updated_at": T0,
                     "version": 1, "holds": [], "dispatch": {}, "sla_state": "ok", "flags": []})
    with engine.begin() as conn:
        conn.execute(insert(Envelope), envs)
        conn.execute(insert(Document), docs)
        conn.execute(insert(WorkItem), rows)


def run_agents(engine: Engine, agents: int, items: int, db: str = "") -> RunResult:
    """Each agent: claim the next item (one transaction), complete it (another), until none is left."""
    factory = sessionmaker(engine, expire_on_commit=False)
    result = RunResult(db or engine.dialect.name, agents, items, 0.0)
    lock = threading.Lock()
    start = threading.Barrier(agents + 1)

    def agent(n: int) -> None:
        name = f"agent{n:02d}"
        lat: list[float] = []
        done: list[int] = []
        start.wait()
        try:
            while True:
                t = time.perf_counter()
                with factory() as s, s.begin():
                    item = work.next_for_agent(s, name, datetime.now(UTC), use_scope=False)
                    item_id = item.id if item is not None else None
                if item_id is None:
                    break
                lat.append(time.perf_counter() - t)
                with factory() as s, s.begin():
                    work.complete(s, item_id, name, datetime.now(UTC))
                done.append(item_id)
        except Exception as exc:  # noqa: BLE001 - reported by the caller, which fails the run
            with lock:
                result.errors.append(f"{name}: {type(exc).__name__}: {exc}")
        with lock:
            result.claim_latencies.extend(lat)
            result.completed.extend(done)

    threads = [threading.Thread(target=agent, args=(n,), daemon=True) for n in range(agents)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join(timeout=600)
    result.seconds = time.perf_counter() - t0
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


def measure(url: str, agents: int, items: int) -> RunResult:
    engine = engine_for(url, agents)
    try:
        populate(engine, items)
        return run_agents(engine, agents, items, "sqlite" if url.startswith("sqlite") else "postgresql")
    finally:
        engine.dispose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--agents", type=int, default=50)
    p.add_argument("--items", type=int, default=2000)
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = p.parse_args()
    results: list[RunResult] = []
    if args.db in ("sqlite", "both"):
        with fresh_database("sqlite") as url:
            results.append(measure(url, args.agents, args.items))
    if args.db in ("postgresql", "both"):
        from tests.support.servers import postgres_server

        with postgres_server() as server, fresh_database("postgresql", server) as url:
            results.append(measure(url, args.agents, args.items))
    parts = []
    for r in results:
        ok = len(r.completed) == r.items and len(set(r.completed)) == r.items and not r.errors
        print(f"{r.db}: {r.agents} agents, {r.items} items, {len(r.completed)} completed "
              f"({len(set(r.completed))} distinct) in {r.seconds:.1f} s; claims/s {r.claims_per_s:.0f}; "
              f"claim latency p50 {r.pct_ms(50):.1f} ms, p99 {r.pct_ms(99):.1f} ms, mean "
              f"{1000 * statistics.fmean(r.claim_latencies or [0]):.1f} ms; "
              f"{'OK' if ok else 'FAILED: ' + '; '.join(r.errors[:3])}", flush=True)
        parts += [f"{r.db}_claims_per_s={r.claims_per_s:.0f}", f"{r.db}_p50_ms={r.pct_ms(50):.1f}",
                  f"{r.db}_p99_ms={r.pct_ms(99):.1f}", f"{r.db}_exactly_once={ok}"]
    print(f"bench claim: agents={args.agents} items={args.items} " + " ".join(parts))


if __name__ == "__main__":
    main()
