"""The supervisor reports (issue 19) at scale: how long each report takes through the HTTP API the supervisors
call, over a year of work items, on the embedded default (SQLite) and on a durable PostgreSQL.

    .venv/bin/python -m bench.reports [--items 1000000] [--runs 7] [--engines sqlite,postgresql]
                                      [--days 30] [--keep DIR]

Per engine, in a fresh data directory (on the local disk unless ``--keep`` says where):

1. The schema by the migrations (``get_context``: every index of 0016_report_indexes included).
2. ``--items`` work items with their envelope and document, bulk INSERTs (executemany in transactions of
   20,000 rows), spread over the 12 months before now (fewer at weekends): four languages, every category,
   four channels, six queues, in time order with random uuid ids as intake makes them; older items mostly
   done (first response, dispatch, internal and statutory deadlines met or breached as the times fall), the
   last weeks a mix of new, claimed, on hold and done.
   Every done item has its ``work_item.claimed`` and ``work_item.completed`` audit events (40 agents); on
   PostgreSQL the audit chain trigger is disabled during the fill (a chain over bulk rows is not what is
   measured) and enabled again. SQLite as shipped (WAL, ``synchronous=FULL``, no ANALYZE); PostgreSQL with
   fsync on (``bench.support.durable_postgres``, read back with SHOW), ANALYZE after the fill as autovacuum
   would do.
3. Each report (compliance, breaches, response-times, volumes, backlog, agents) through the FastAPI app
   in-process (Starlette's TestClient: the same routing, access check and JSON encoding as ``mailroom
   serve``, without the socket), as a supervisor with an API token, over the last ``--days`` days grouped by
   week, ``--runs`` times after one warm-up; and the month-grouped year once per report.

Prints per engine a table, and last one line: ``bench reports: items=… days=… sqlite_<report>_p95_ms=… …
postgresql_<report>_p95_ms=… pg_fsync=on``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text

from bench.support import durable_postgres, new_pg_database, pg_durability
from queues.reports import NAMES

LANGUAGES = (("pl", 50), ("cs", 20), ("ru", 15), ("en", 15))
CHANNELS = (("email", 45), ("scan", 30), ("upload", 15), ("fax", 10))
CATEGORIES = (("complaint", 25), ("invoice_query", 25), ("payment", 15), ("contract_change", 15),
              ("termination", 10), ("other", 10))
QUEUES = ("complaints", "billing", "payments", "contracts", "retention", "general")
AGENTS = [f"agent{i:02d}" for i in range(40)]
CHUNK = 20_000
H, D = 3600.0, 86400.0


def _pick(pairs: tuple[tuple[str, int], ...]) -> list[str]:
    return [v for v, w in pairs for _ in range(w)]


def _rows(n: int, end: datetime, seed: int = 19) -> Iterator[tuple[dict, dict, dict, list[dict]]]:
    """(envelope, document, work item, audit events) for item ``i``, reproducibly."""
    rnd = random.Random(seed)
    langs, chans, cats = _pick(LANGUAGES), _pick(CHANNELS), _pick(CATEGORIES)
    start = end - timedelta(days=365)
    span = (end - start).total_seconds()
    times = []
    while len(times) < n:  # fewer letters at weekends
        created = start + timedelta(seconds=rnd.random() * span)
        if created.weekday() < 5 or rnd.random() < 0.3:
            times.append(created)
    times.sort()  # rows arrive in time order, as in service: ids and table pages follow created_at
    for i, created in enumerate(times, 1):
        age = (end - created).total_seconds()
        cat = rnd.choice(cats)
        queue = QUEUES[min(len(QUEUES) - 1, [c for c, _ in CATEGORIES].index(cat))]
        sla_due = created + timedelta(days=5)
        statutory_due = created + timedelta(days=30) if cat == "complaint" else None
        responded = created + timedelta(seconds=min(rnd.lognormvariate(math.log(6 * H), 1.0), 20 * D))
        dispatched = created + timedelta(seconds=min(rnd.lognormvariate(math.log(2.5 * D), 0.6), 45 * D))
        done_p = 0.97 if age > 30 * D else max(0.0, min(0.9, age / (30 * D)))
        r = rnd.random()
        state = "done" if r < done_p else rnd.choice(("new", "new", "claimed", "on_hold"))
        if state == "done" and dispatched > end:
            dispatched = end - timedelta(seconds=rnd.random() * min(age, H))
        if state != "done":
            dispatched = None  # type: ignore[assignment]
            if responded > end:
                responded = None  # type: ignore[assignment]
        if responded is not None and dispatched is not None and responded > dispatched:
            responded = dispatched
        agent = rnd.choice(AGENTS) if state in ("done", "claimed", "on_hold") else None
        breached = (dispatched or end) > sla_due
        flags = ["statutory_breached"] if statutory_due and (dispatched or end) > statutory_due else []
        env_id = str(uuid.UUID(int=rnd.getrandbits(128), version=4))  # random ids, like intake's uuid4
        events = []
        if state == "done":
            handling = min(rnd.lognormvariate(math.log(40 * 60), 0.8), 3 * D)
            claimed = max(created, dispatched - timedelta(seconds=handling))
            events = [{"at": claimed, "actor": agent, "action": "work_item.claimed", "work_item_id": i, "detail": {}},
                      {"at": dispatched, "actor": agent, "action": "work_item.completed", "work_item_id": i,
                       "detail": {}}]
        yield (
            {"id": env_id, "received_at": created, "channel": rnd.choice(chans), "source_name": f"{i}.pdf",
             "content_type": "application/pdf", "sha256": f"{i:064x}", "size": 1000, "state": "processed",
             "attempts": 1, "meta": {}, "updated_at": created, "legal_hold": False},
            {"id": env_id, "envelope_id": env_id, "part_index": 0, "doc_index": 0, "part_name": "",
             "part_sha256": "0" * 64, "first_page": 1, "pages": 1, "blank_pages": 0, "page_flags": [], "text": "",
             "state": "routed", "language": rnd.choice(langs), "category": cat, "entities": {}, "reasons": [],
             "created_at": created},
            {"id": i, "document_id": env_id, "queue": queue, "priority": 5, "state": state, "assignee": agent,
             "routing_rule": "bench", "sla_policy": "bench", "sla_due": sla_due,
             "first_response_due": created + timedelta(days=1), "warn_at": sla_due - timedelta(days=1),
             "created_at": created, "updated_at": dispatched or created, "version": 1,
             "outcome": "resolved" if state == "done" else None, "holds": [], "statutory_due": statutory_due,
             "dispatched_at": dispatched, "dispatch": {}, "sla_state": "breached" if breached else "ok",
             "flags": flags, "first_response_at": responded, "registered_at": created},
            events)


def fill(url: str, items: int, end: datetime) -> float:
    from storage.models import AuditEvent, Document, Envelope, WorkItem

    t0 = time.monotonic()
    engine = create_engine(url)
    pg = url.startswith("postgresql")
    try:
        if pg:
            with engine.begin() as conn:
                conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        batch: tuple[list, list, list, list] = ([], [], [], [])

        def flush() -> None:
            with engine.begin() as conn:
                for table, rows in zip((Envelope, Document, WorkItem, AuditEvent), batch, strict=True):
                    if rows:
                        conn.execute(insert(table), rows)
            for rows in batch:
                rows.clear()

        for n, (e, d, w, a) in enumerate(_rows(items, end), 1):
            batch[0].append(e)
            batch[1].append(d)
            batch[2].append(w)
            batch[3].extend(a)
            if len(batch[0]) >= CHUNK:
                flush()
                if n % 200_000 == 0:
                    print(f"  {n} items in {time.monotonic() - t0:.0f} s", flush=True)
        flush()
        if pg:
            with engine.begin() as conn:
                conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
                conn.execute(text("SELECT setval(pg_get_serial_sequence('work_items', 'id'), "
                                  "(SELECT max(id) FROM work_items))"))
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()
    return time.monotonic() - t0


def measure(ctx: Any, runs: int, days: int, now: datetime) -> dict[str, list[float]]:
    from fastapi.testclient import TestClient

    from storage.db import session_scope
    from storage.models import Role
    from storage.users import create_token, upsert_user
    from web.app import create_app

    with session_scope(ctx.db_url) as s:
        upsert_user(s, "boss", "boss-bench-password", Role.SUPERVISOR, "Boss")
        s.flush()
        _, token = create_token(s, "boss", "bench", now)
    headers = {"Authorization": f"Bearer {token}"}
    today = now.date()
    week = {"from": (today - timedelta(days=days - 1)).isoformat(), "to": today.isoformat(), "group": "week"}
    year = {"from": (today - timedelta(days=364)).isoformat(), "to": today.isoformat(), "group": "month"}
    out: dict[str, list[float]] = {}
    with TestClient(create_app(ctx)) as client:
        for name in NAMES:
            times = []
            for run in range(runs + 1):
                t0 = time.perf_counter()
                r = client.get(f"/api/reports/{name}", params=week, headers=headers)
                took = (time.perf_counter() - t0) * 1000
                assert r.status_code == 200, r.text[:500]
                if run:
                    times.append(took)
            out[name] = times
            t0 = time.perf_counter()
            r = client.get(f"/api/reports/{name}", params=year, headers=headers)
            out[f"{name}@year"] = [(time.perf_counter() - t0) * 1000]
            assert r.status_code == 200, r.text[:500]
            rows = len(r.json()["rows"])
            print(f"  {name}: {days} d by week p50 {pct(times, 50):.0f} ms, p95 {pct(times, 95):.0f} ms; "
                  f"365 d by month {out[f'{name}@year'][0]:.0f} ms ({rows} rows)", flush=True)
    return out


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(1, math.ceil(p / 100 * len(s))) - 1] if s else float("nan")


@contextmanager
def _database(engine: str) -> Iterator[tuple[str, dict[str, str]]]:
    if engine == "sqlite":
        yield "", {}
        return
    with durable_postgres() as server:
        settings = pg_durability(server)
        yield new_pg_database(server, "reports"), settings


def run_engine(engine: str, args: argparse.Namespace, root: Path, now: datetime) -> tuple[dict, dict]:
    from ground.settings import get_settings
    from pipeline.context import get_context

    data = root / engine / "data"
    marker = root / engine / "filled.json"
    reuse = engine == "sqlite" and marker.exists() and json.loads(marker.read_text())["items"] == args.items
    if reuse:  # --keep DIR of an earlier run: the same SQLite database, filled relative to the same moment
        now = datetime.fromisoformat(json.loads(marker.read_text())["now"])
    else:
        shutil.rmtree(root / engine, ignore_errors=True)
        data.mkdir(parents=True)
    with _database(engine) as (url, durability):
        os.environ["MAILROOM_DATA"] = str(data)
        if url:
            os.environ["MAILROOM_DATABASE_URL"] = url
        else:
            os.environ.pop("MAILROOM_DATABASE_URL", None)
        get_settings.cache_clear()
        ctx = get_context(get_settings())
        if reuse:
            print(f"{engine}: reusing the {args.items} items filled before in {data}", flush=True)
        else:
            print(f"{engine}: filling {args.items} items …", flush=True)
            took = fill(ctx.db_url, args.items, now)
            print(f"{engine}: fill took {took:.0f} s {json.dumps(durability) if durability else ''}", flush=True)
            marker.write_text(json.dumps({"items": args.items, "now": now.isoformat()}))
        times = measure(ctx, args.runs, args.days, now)
        return times, durability


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--days", type=int, default=30, help="the period of the timed runs, ending today")
    p.add_argument("--engines", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    p.add_argument("--keep", type=Path, help="put the data here and leave it (default: a temporary directory); "
                   "a SQLite database filled there before with as many items is reused")
    args = p.parse_args(argv)
    engines = [e for e in args.engines.split(",") if e]
    if set(engines) - {"sqlite", "postgresql"} or not engines:
        p.error("--engines takes sqlite, postgresql or both")
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    root = args.keep or Path(tempfile.mkdtemp(prefix="mailroom-bench-reports-", dir="/var/tmp"))
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    parts = [f"items={args.items}", f"days={args.days}", f"runs={args.runs}"]
    try:
        results = {}
        pg_fsync = ""
        for engine in engines:
            results[engine], durability = run_engine(engine, args, root, now)
            pg_fsync = durability.get("fsync", pg_fsync)
        for engine in engines:
            for name in NAMES:
                parts.append(f"{engine}_{name.replace('-', '_')}_p95_ms={pct(results[engine][name], 95):.0f}")
        for engine in engines:
            for name in NAMES:
                parts.append(f"{engine}_{name.replace('-', '_')}_year_ms={results[engine][name + '@year'][0]:.0f}")
        if pg_fsync:
            parts.append(f"pg_fsync={pg_fsync}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print("bench reports: " + " ".join(parts), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
