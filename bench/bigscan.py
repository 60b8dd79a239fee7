"""Long scans and the letters behind them: page chunks (``MAILROOM_OCR_CHUNK_PAGES``) against one job per file.

    .venv/bin/python -m bench.bigscan                      # 2 scans of 100 pages, 20 e-mails, 2 workers, chunks of 10
    .venv/bin/python -m bench.bigscan --pages 500 --scans 1

For each mode (chunks of ``--chunk`` pages, then 0 = one job per file) a fresh data directory, an embedded
redis-server and ``--workers`` real ``mailroom worker`` processes; the scans (image-only PDFs of 300 dpi
letter pages, so every page is OCRed) are enqueued first and the e-mails one second later, as letters that
arrive while the scans are read. Times come from the audit trail (``envelope.processed``). Prints per mode
the seconds until every scan is routed and the e-mails' latency (enqueue to routed, p50 and max); last line
``bench bigscan: ...`` with the ratios.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    chunk: int
    scan_seconds: float  # first enqueue until the last scan is routed
    letter_latency: list[float]  # per e-mail: enqueue until routed
    documents: int  # documents made from the scans


def scan_pdf(pages: int, seed: int) -> bytes:
    """An image-only PDF of ``pages`` letter pages (six distinct ones, repeated)."""
    from corpus import render
    from corpus.letters import compose
    from corpus.pools import LANGUAGES
    from ground.records import CATEGORIES

    rng = random.Random(seed)
    distinct = []
    for i in range(6):
        letter = compose(rng, LANGUAGES[i % len(LANGUAGES)], CATEGORIES[i % len(CATEGORIES)])
        lay = render.layout(letter.blocks, "sans", 11.0)
        distinct.append(render.scan_effects(render.rasterize(lay.pages[0], lay, 300), rng, strength=0.6))
    images = [distinct[i % len(distinct)] for i in range(pages)]
    return render.image_pdf(images, datetime(2026, 11, 2, 9, 0))


def letters(count: int, seed: int, work: Path) -> list[bytes]:
    from corpus.generate import generate

    out = work / "letters"
    generate(out, seed=seed, count=count, forms=["eml"])
    return [p.read_bytes() for p in sorted(out.glob("*.eml"))][:count]


def run(mode_chunk: int, scans: list[bytes], mails: list[bytes], workers: int, work: Path) -> Run:
    from sqlalchemy import select

    from ground.records import Channel
    from ground.settings import Settings
    from intake import Accepted, Arrival, accept
    from mailroom.services import start_redis
    from pipeline.context import get_context
    from pipeline.jobs import enqueue_read, job_queue
    from storage.db import session_scope
    from storage.models import AuditEvent, Document

    data = work / f"chunk{mode_chunk}"
    settings = Settings(data=data, ocr_chunk_pages=mode_chunk)
    ctx = get_context(settings)
    redis = start_redis(settings)
    env = dict(os.environ, MAILROOM_DATA=str(data), MAILROOM_OCR_CHUNK_PAGES=str(mode_chunk), OMP_THREAD_LIMIT="1")
    procs = [subprocess.Popen([sys.executable, "-m", "mailroom.cli", "worker"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
             for _ in range(workers)]
    try:
        def take(blob: bytes, name: str, ctype: str, channel: Channel) -> str:
            with session_scope(ctx.db_url) as s:
                res = accept(Arrival(data=blob, name=name, channel=channel, content_type=ctype,
                                     received_at=datetime.now(UTC)), s, ctx.blobs)
            assert isinstance(res, Accepted), name
            return res.envelope_id

        scan_ids = [take(blob, f"scan{n}.pdf", "application/pdf", Channel.SCAN) for n, blob in enumerate(scans)]
        mail_ids = [take(blob, f"mail{n}.eml", "message/rfc822", Channel.EMAIL) for n, blob in enumerate(mails)]
        time.sleep(8.0)  # the workers start (imports, models) before the clock starts
        queue = job_queue(settings)
        started = datetime.now(UTC)
        for env_id in scan_ids:
            enqueue_read(queue, env_id)
        time.sleep(1.0)
        sent = {}
        for env_id in mail_ids:
            sent[env_id] = datetime.now(UTC)
            enqueue_read(queue, env_id)
        wanted = set(scan_ids) | set(mail_ids)
        done: dict[str, datetime] = {}
        deadline = time.monotonic() + 3600
        while len(done) < len(wanted) and time.monotonic() < deadline:
            time.sleep(0.5)
            with session_scope(ctx.db_url) as s:
                done = dict(s.execute(select(AuditEvent.envelope_id, AuditEvent.at).where(
                    AuditEvent.action == "envelope.processed", AuditEvent.envelope_id.in_(wanted))).all())
        if len(done) < len(wanted):
            raise SystemExit(f"chunk={mode_chunk}: {len(wanted) - len(done)} envelopes not routed within an hour")
        with session_scope(ctx.db_url) as s:
            docs = len(s.scalars(select(Document.id).where(Document.envelope_id.in_(scan_ids))).all())
        return Run(chunk=mode_chunk, scan_seconds=(max(done[i] for i in scan_ids) - started).total_seconds(),
                   letter_latency=[(done[i] - sent[i]).total_seconds() for i in mail_ids], documents=docs)
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, 9)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)
        redis.terminate()
        redis.wait(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=100, help="pages per scan")
    ap.add_argument("--scans", type=int, default=2)
    ap.add_argument("--letters", type=int, default=20, help="e-mails enqueued one second after the scans")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=10, help="pages per chunk in the chunked run")
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-bigscan-") as tmp:
        work = Path(tmp)
        scans = [scan_pdf(args.pages, args.seed + n) for n in range(args.scans)]
        mails = letters(args.letters, args.seed, work)
        runs = [run(mode, scans, mails, args.workers, work) for mode in (args.chunk, 0)]
    for r in runs:
        what = f"chunks of {r.chunk} pages" if r.chunk else "one job per file"
        print(f"{what}: scans routed after {r.scan_seconds:.1f} s ({r.documents} documents); e-mails routed "
              f"{statistics.median(r.letter_latency):.1f} s (median) / {max(r.letter_latency):.1f} s (max) "
              "after they were enqueued")
    chunked, whole = runs
    load = os.getloadavg()[0]
    print(f"bench bigscan: pages={args.pages} scans={args.scans} letters={args.letters} workers={args.workers} "
          f"chunk={args.chunk} chunked_scan_s={chunked.scan_seconds:.1f} whole_scan_s={whole.scan_seconds:.1f} "
          f"scan_ratio={whole.scan_seconds / chunked.scan_seconds:.2f} "
          f"chunked_letter_p50_s={statistics.median(chunked.letter_latency):.1f} "
          f"chunked_letter_max_s={max(chunked.letter_latency):.1f} "
          f"whole_letter_p50_s={statistics.median(whole.letter_latency):.1f} "
          f"whole_letter_max_s={max(whole.letter_latency):.1f} load={load:.1f}")


if __name__ == "__main__":
    main()
