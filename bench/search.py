"""Archive search at scale: index build rate and query latency on SQLite FTS5 and PostgreSQL.

    .venv/bin/python -m bench.search [--docs 1000000] [--backend both|sqlite|postgresql]
                                     [--pg-url URL | --pg-fsync on|off] [--repeat 20] [--keep DIR] [--reuse]

``--reuse`` with ``--keep DIR`` / ``--pg-url URL`` queries an index filled by an earlier run (at least
``--docs`` documents) instead of filling it again: no build figures, same queries.

Documents are letters of realistic length: a pool of letters composed by ``corpus.letters.compose``
(all languages and categories) is recombined paragraph by paragraph, with fresh invoice numbers
and customer numbers, so generating a million takes minutes, not hours. Envelopes, documents and
work items are written with bulk INSERTs (not timed as indexing); the index rows (folded text, lemmas,
entity values; FTS5 triggers / GIN) are written next and timed: that is the build rate. A second,
smaller run through ``index_document`` (the path the pipeline uses) gives the per-document rate.
Queries go through ``storage.search.search`` exactly as the API does (first page of 20, total
count capped at 10,000, snippets). Without ``--pg-url`` a private PostgreSQL cluster is started
(Debian package) with durable settings, as a production server runs (``fsync=on``, ``synchronous_commit=on``;
``--pg-fsync off`` for the test suite's ``fsync=off``). The settings the server really runs with (read back
with SHOW, also of a ``--pg-url`` server) end the last line: ``pg_fsync=… pg_synchronous_commit=…``.

Prints, last, one line: ``bench search: key=value ...``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, text

from corpus.letters import compose
from ground.records import CATEGORIES
from storage.db import get_engine, migrate, session_scope
from storage.models import Document, Envelope, SearchEntityValue, SearchEntry, WorkItem
from storage.search import Filters, date_key, entity_rows, fold, index_document, lemma_stream, search

LANGS = ("pl", "cs", "ru", "en")
CHANNELS = ("scan", "fax", "email", "upload")
STATES = ("new", "claimed", "on_hold", "done", "done", "done")
START = datetime(2022, 1, 1, tzinfo=UTC)
SPAN_DAYS = 5 * 365
INVOICE = re.compile(r"\b([A-Z]{2})/(\d{4})/(\d{2})/\d{6}\b")
CUSTOMER = re.compile(r"\bMR[\s-]?\d{7}\b")
BATCH = 5000


class Generator:
    """Recombines composed letters: same header/closing blocks, paragraphs from letters of the same kind."""

    def __init__(self, seed: int, pool_per_kind: int = 40) -> None:
        rng = random.Random(seed)
        self.rng = random.Random(seed + 1)
        self.skeletons: dict[tuple[str, str], list[list[tuple[str, str]]]] = defaultdict(list)
        self.paras: dict[tuple[str, str], list[str]] = defaultdict(list)
        for lang in LANGS:
            for cat in CATEGORIES:
                for _ in range(pool_per_kind):
                    letter = compose(rng, lang, cat)
                    blocks = [(b.kind, "\n".join(b.lines)) for b in letter.blocks]
                    self.skeletons[(lang, cat)].append(blocks)
                    self.paras[(lang, cat)] += [t for k, t in blocks if k == "para"]
        self.kinds = sorted(self.skeletons)

    def letter(self) -> tuple[str, str, str, dict[str, list[str]]]:
        rng = self.rng
        lang, cat = rng.choice(self.kinds)
        paras = self.paras[(lang, cat)]
        out: list[str] = []
        n_para = rng.randint(3, 7)
        for kind, body in rng.choice(self.skeletons[(lang, cat)]):
            if kind == "para":
                if n_para <= 0:
                    continue
                body, n_para = rng.choice(paras), n_para - 1
            out.append(body)
        body = "\n\n".join(out)
        inv = f"{rng.randint(0, 999_999):06d}"
        body = INVOICE.sub(lambda m: f"{m.group(1)}/{m.group(2)}/{m.group(3)}/{inv}", body)
        cust = f"MR-{rng.randint(0, 9_999_999):07d}"
        body = CUSTOMER.sub(cust, body)
        entities: dict[str, list[str]] = {"customer_id": [cust]}
        invoices = sorted({m.group(0) for m in INVOICE.finditer(body)})
        if invoices:
            entities["invoice_no"] = invoices
        return lang, cat, body, entities


def fill(engine: Engine, gen: Generator, n: int, offset: int = 0) -> tuple[float, float, list[str]]:
    """Insert ``n`` documents; returns (seconds for base rows, seconds for index rows, a few invoice numbers)."""
    base_s = index_s = 0.0
    keyed = engine.dialect.name == "sqlite"  # SQLite entries are keyed by receipt time (storage.search.date_key)
    keys: set[int] = set()
    rng = random.Random(offset + 7)
    sample_invoices: list[str] = []
    for start in range(offset, offset + n, BATCH):
        envs, docs, items, entries, values = [], [], [], [], []
        for i in range(start, min(start + BATCH, offset + n)):
            lang, cat, body, entities = gen.letter()
            env_id, doc_id = str(uuid.UUID(int=i * 2 + 1)), str(uuid.UUID(int=i * 2 + 2))
            received = START + timedelta(seconds=rng.randrange(SPAN_DAYS * 86400))
            channel = rng.choice(CHANNELS)
            envs.append({"id": env_id, "received_at": received, "channel": channel, "source_name": f"letter-{i}",
                         "content_type": "application/pdf", "sha256": f"{i:064x}", "size": len(body),
                         "state": "processed", "attempts": 1, "meta": {}})
            docs.append({"id": doc_id, "envelope_id": env_id, "part_index": 0, "doc_index": 0, "part_name": "",
                         "part_sha256": f"{i:064x}", "first_page": 1, "pages": 1, "blank_pages": 0,
                         "page_flags": [], "text": body, "state": "routed", "language": lang, "category": cat,
                         "confidence": 0.9, "entities": entities, "reasons": []})
            items.append({"document_id": doc_id, "queue": cat, "priority": 3, "state": rng.choice(STATES),
                          "routing_rule": "bench", "sla_policy": "bench", "sla_due": received + timedelta(days=14)})
            if "invoice_no" in entities and len(sample_invoices) < 50 and rng.random() < 0.01:
                sample_invoices.append(entities["invoice_no"][0])
        t0 = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(insert(Envelope), envs)
            conn.execute(insert(Document), docs)
            conn.execute(insert(WorkItem), items)
        t1 = time.perf_counter()
        for e, d in zip(envs, docs, strict=True):  # what index_document computes, in bulk
            entry = {"document_id": d["id"], "envelope_id": e["id"], "received_at": e["received_at"],
                     "channel": e["channel"], "language": d["language"], "category": d["category"],
                     "folded": fold(d["text"]), "lemmas": lemma_stream(d["text"], d["language"])}
            if keyed:
                key = date_key(e["received_at"], d["id"])
                while key in keys:
                    key += 1
                keys.add(key)
                entry["id"] = key
            entries.append(entry)
            values += [{"document_id": d["id"], "name": k, "value": v} for k, v in entity_rows(d["entities"])]
        with engine.begin() as conn:
            conn.execute(insert(SearchEntry), entries)
            conn.execute(insert(SearchEntityValue), values)
        index_s += time.perf_counter() - t1
        base_s += t1 - t0
        done = min(start + BATCH, offset + n) - offset
        if done % (BATCH * 20) == 0 or done == n:
            print(f"  {done}/{n} documents ({base_s:.0f}s base rows, {index_s:.0f}s index)", flush=True)
    return base_s, index_s, sample_invoices


def per_document_rate(url: str, gen: Generator, n: int, offset: int) -> float:
    """Documents per second through ``index_document`` (ORM, one document at a time, one commit per 100)."""
    base, _, _ = fill_base_only(get_engine(url), gen, n, offset)
    ids = [str(uuid.UUID(int=i * 2 + 2)) for i in range(offset, offset + n)]
    t0 = time.perf_counter()
    for k in range(0, n, 100):
        with session_scope(url) as s:
            for doc_id in ids[k:k + 100]:
                doc = s.get(Document, doc_id)
                assert doc is not None
                index_document(s, doc)
    return n / (time.perf_counter() - t0)


def fill_base_only(engine: Engine, gen: Generator, n: int, offset: int) -> tuple[float, float, list[str]]:
    rng = random.Random(offset)
    envs, docs = [], []
    for i in range(offset, offset + n):
        lang, cat, body, entities = gen.letter()
        env_id, doc_id = str(uuid.UUID(int=i * 2 + 1)), str(uuid.UUID(int=i * 2 + 2))
        envs.append({"id": env_id, "received_at": START + timedelta(seconds=rng.randrange(SPAN_DAYS * 86400)),
                     "channel": "scan", "source_name": f"letter-{i}", "content_type": "application/pdf",
                     "sha256": f"{i:064x}", "size": len(body), "state": "processed", "attempts": 1, "meta": {}})
        docs.append({"id": doc_id, "envelope_id": env_id, "part_index": 0, "doc_index": 0, "part_name": "",
                     "part_sha256": f"{i:064x}", "first_page": 1, "pages": 1, "blank_pages": 0, "page_flags": [],
                     "text": body, "state": "routed", "language": lang, "category": cat, "confidence": 0.9,
                     "entities": entities, "reasons": []})
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(Envelope), envs)
        conn.execute(insert(Document), docs)
    return time.perf_counter() - t0, 0.0, []


def queries(invoices: list[str]) -> list[tuple[str, str, Filters, str]]:
    """(name, query, filters, sort): words, phrases, prefixes, Cyrillic, filters, entity values."""
    inv = invoices[0] if invoices else "FV/2024/01/000001"
    return [
        ("word-pl-broad", "reklamacji", Filters(), "relevance"),
        ("word-en-broadest", "customer", Filters(), "relevance"),
        ("word-nodiacritics", "korekte", Filters(), "relevance"),
        ("two-words", "umowy klienta", Filters(), "relevance"),
        ("phrase-pl", '"wypowiedzenie umowy"', Filters(), "relevance"),
        ("phrase-ru", '"прошу расторгнуть"', Filters(), "relevance"),
        ("phrase-cs", '"výpověď smlouvy"', Filters(), "relevance"),
        ("prefix", "wypow*", Filters(), "relevance"),
        ("prefix-short-date", "fak*", Filters(), "date"),
        ("word+filters", "faktura", Filters(language=["pl"], channel=["scan"], category=["complaint"],
                                            date_from=date(2024, 1, 1), date_to=date(2024, 12, 31)), "relevance"),
        ("filters-only", "", Filters(category=["complaint"], status=["new"], date_from=date(2025, 6, 1),
                                     date_to=date(2025, 6, 30)), "date"),
        ("invoice-entity", "", Filters(entity=[inv]), "date"),
        ("invoice-as-text", inv, Filters(), "relevance"),
        ("customer+word", "umowy", Filters(customer="MR-0012345"), "relevance"),
        ("street-name", "grunwaldzka", Filters(), "date"),
    ]


def measure(url: str, invoices: list[str], repeat: int) -> tuple[dict[str, list[float]], dict[str, int]]:
    times: dict[str, list[float]] = defaultdict(list)
    totals: dict[str, int] = {}
    for name, q, f, sort in queries(invoices):
        with session_scope(url) as s:
            totals[name] = search(s, q, f, sort=sort).total  # warm-up
            for _ in range(repeat):
                t0 = time.perf_counter()
                search(s, q, f, sort=sort)
                times[name].append((time.perf_counter() - t0) * 1000)
    return times, totals


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


@contextmanager
def backend_url(backend: str, stack: ExitStack, tmp: Path, pg_url: str | None, fsync: bool = True) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'bench-search.db'}"
        return
    if pg_url is None:
        from bench.support import DURABLE, FAST, durable_postgres, new_pg_database

        server = stack.enter_context(durable_postgres(DURABLE if fsync else FAST))
        pg_url = new_pg_database(server, "search")
    yield pg_url


def filled(engine: Engine) -> tuple[int, list[str]]:
    """Documents already in the index (``--reuse``) and a few of their invoice numbers."""
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM search_entries")).scalar_one()
        rows = conn.execute(text("SELECT value FROM search_entity_values WHERE name = 'invoice_no' "
                                 "AND id % 997 = 0 ORDER BY id LIMIT 50")).scalars().all()
    return n, list(rows)


def run_backend(backend: str, url: str, gen: Generator, n: int, repeat: int, reuse: bool = False) -> dict[str, Any]:
    migrate(url)
    engine = get_engine(url)
    have, invoices = filled(engine) if reuse else (0, [])
    if have >= n:
        print(f"{backend}: reusing {have} indexed documents (no build figures)", flush=True)
        n, base_s, index_s, doc_rate = have, float("nan"), float("nan"), float("nan")
    else:
        print(f"{backend}: filling {n} documents", flush=True)
        base_s, index_s, invoices = fill(engine, gen, n)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        if backend == "sqlite":
            conn.execute(text("INSERT INTO search_fts(search_fts) VALUES ('optimize')"))
            conn.execute(text("ANALYZE"))
    if backend == "postgresql":  # what autovacuum does after a bulk load: statistics and the visibility map
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    maint_s = time.perf_counter() - t0
    if have < n:
        small = min(2000, max(100, n // 100))
        doc_rate = per_document_rate(url, gen, small, offset=n)
    times, totals = measure(url, invoices, repeat)
    all_ms = [t for v in times.values() for t in v]
    print(f"{backend}: {n} docs; base rows {n / base_s:.0f} docs/s; index build {n / index_s:.0f} docs/s "
          f"(bulk, {index_s:.0f}s); optimize+analyze {maint_s:.1f}s; index_document {doc_rate:.0f} docs/s")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} after {backend} queries", flush=True)
    print(f"{'query':22} {'matches':>8} {'p50 ms':>8} {'p95 ms':>8}")
    for name in times:
        cap = "+" if totals[name] >= 10_000 else ""
        print(f"{name:22} {str(totals[name]) + cap:>8} {pct(times[name], 50):8.1f} {pct(times[name], 95):8.1f}")
    p50, p95 = pct(all_ms, 50), pct(all_ms, 95)
    print(f"{backend}: all queries p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(all_ms):.1f} ms", flush=True)
    return {"build": n / index_s, "doc_rate": doc_rate, "p50": p50, "p95": p95}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--backend", choices=["both", "sqlite", "postgresql"], default="both")
    ap.add_argument("--pg-url", help="an empty PostgreSQL database (default: start a private cluster)")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--keep", help="directory for the SQLite file (default: a temporary one, removed)")
    ap.add_argument("--pg-fsync", choices=["on", "off"], default="on",
                    help="the private cluster's fsync (on: durable, as in production; off: as the test suite)")
    ap.add_argument("--reuse", action="store_true",
                    help="query an index already filled with at least --docs documents (--keep / --pg-url)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    gen = Generator(args.seed)
    sample = [gen.letter()[2] for _ in range(2000)]
    gen = Generator(args.seed)
    print(f"letter pool composed in {time.perf_counter() - t0:.1f}s; mean letter "
          f"{statistics.mean(len(s) for s in sample):.0f} chars", flush=True)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results: dict[str, dict[str, Any]] = {}
    durability: dict[str, str] = {}
    with ExitStack() as stack:
        tmp = Path(args.keep) if args.keep else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        for backend in backends:
            with backend_url(backend, stack, tmp, args.pg_url, args.pg_fsync == "on") as url:
                if backend == "postgresql":
                    from bench.support import pg_durability

                    durability = pg_durability(url)
                    print("postgresql: " + " ".join(f"{k}={v}" for k, v in durability.items()), flush=True)
                results[backend] = run_backend(backend, url, gen, args.docs, args.repeat, args.reuse)
    parts = [f"docs={args.docs}"]
    for b, r in results.items():
        short = "sqlite" if b == "sqlite" else "pg"
        parts += [f"{short}_build_docs_per_s={r['build']:.0f}", f"{short}_index_document_per_s={r['doc_rate']:.0f}",
                  f"{short}_p50_ms={r['p50']:.1f}", f"{short}_p95_ms={r['p95']:.1f}"]
    parts.append(f"load={os.getloadavg()[0]:.1f}")  # 1-minute load average at the end (2 shared cores)
    if "postgresql" in results:
        parts += [f"pg_fsync={durability['fsync']}", f"pg_synchronous_commit={durability['synchronous_commit']}"]
    print("bench search: " + " ".join(parts))


if __name__ == "__main__":
    main()
