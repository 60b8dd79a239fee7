"""Load: N documents over HTTP through a running ``mailroom serve --workers W``, for W = 1 then 2.

    .venv/bin/python -m bench.load --docs 5000            # the recorded run (mostly text PDFs and e-mails)
    .venv/bin/python -m bench.load --docs 300 --scans 0.02

Each run starts a fresh service (own MAILROOM_DATA, embedded redis-server), uploads every document
with 8 concurrent clients authenticated as a scanning station (an API token; ``--auth basic`` sends user
name and password instead, an argon2 check per upload), and waits until every envelope is in a final
state. Documents are made unique (a comment after a PDF's %%EOF, a new Message-ID, bytes after a PNG's
IEND) so that none is deduplicated. Prints per run: documents in, routed, quarantined, lost, duplicated,
throughput, CPU seconds per document of the web process, the workers (supervisors, work-horses, rq
scheduler), redis-server and this bench's upload threads; and the 2-worker/1-worker ratio. Last line:
``bench load: key=value ...``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
USER, PASSWORD = "loadbench", "loadbench-password"


@dataclass
class Result:
    workers: int
    docs_in: int
    routed: int
    quarantined: int
    lost: int
    duplicated: int
    seconds: float
    cpu: dict[str, float]  # CPU seconds by process: web (API), workers (with work-horses), scheduler, redis
    client_cpu: float  # this bench's 8 upload threads (they share the cores with the service)
    upload_seconds: float = 0.0  # until the last upload was answered (the rest: the queue draining)

    @property
    def cpu_per_doc(self) -> dict[str, float]:
        return {k: v / self.docs_in for k, v in self.cpu.items()} if self.docs_in else {}

    @property
    def per_second(self) -> float:
        return self.docs_in / self.seconds if self.seconds else 0.0


def has_scanned_part(path: Path) -> bool:
    """An e-mail with an image attachment or a PDF attachment with a page without text (read by OCR)."""
    import email
    from email import policy

    import pypdfium2

    if path.suffix != ".eml":
        return False
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    for part in message.walk():
        kind = part.get_content_type()
        if kind.startswith("image/"):
            return True
        if kind == "application/pdf":
            pdf = pypdfium2.PdfDocument(part.get_payload(decode=True))
            if any(not pdf[i].get_textpage().get_text_range().strip() for i in range(len(pdf))):
                return True
    return False


def make_documents(count: int, scan_share: float, seed: int, work: Path,
                   born_digital: bool = False) -> list[tuple[str, bytes]]:
    """``count`` unique uploads built from a small generated corpus; ``born_digital``: without the e-mails that
    carry a scanned attachment (about 1 in 16 of the generated ones: each costs seconds of OCR)."""
    from corpus.generate import generate

    base = work / "corpus"
    generate(base, seed=seed, count=48, forms=["eml", "text_pdf"])
    scans_dir = work / "scans"
    if scan_share > 0:
        generate(scans_dir, seed=seed, count=4, forms=["scan_png"])
    fast = sorted(p for p in base.iterdir() if p.suffix in (".eml", ".pdf")
                  and not (born_digital and has_scanned_part(p)))
    scans = sorted(scans_dir.glob("*.png")) if scan_share > 0 else []
    rng = random.Random(seed)
    out = []
    for i in range(count):
        src = rng.choice(scans) if scans and rng.random() < scan_share else fast[i % len(fast)]
        data = src.read_bytes()
        tag = f"load-{seed}-{i}"
        if src.suffix == ".pdf":
            data += f"\n% {tag}\n".encode()
        elif src.suffix == ".eml":
            data = re.sub(rb"(?im)^Message-ID:.*$", f"Message-ID: <{tag}@bench.example>".encode(), data, count=1)
            data += f"\n{tag}\n".encode()
        else:
            data += tag.encode()
        out.append((f"{tag}{src.suffix}", data))
    return out


TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _cpu(pid: int, children: bool) -> float:
    """CPU seconds of a process (``children``: plus its children it has reaped, e.g. old work-horses)."""
    fields = _stat(pid)
    if not fields:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks / TICK


def _cmdline(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None


def _children(pid: int) -> list[tuple[int, str]]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat(int(stat.parent.name))
        if fields and int(fields[1]) == pid:
            cmd = _cmdline(int(stat.parent.name))
            if cmd is not None:
                out.append((int(stat.parent.name), cmd))
    return out


def _tree_cpu(pid: int) -> float:
    """A process and all its descendants: the live ones, and those reaped (counted in their parent)."""
    return _cpu(pid, children=True) + sum(_tree_cpu(child) for child, _ in _children(pid))


def service_cpu(server_pid: int) -> dict[str, float]:
    """CPU seconds so far of the service's processes: the web processes, its rq workers (supervisor, work-horse,
    rq scheduler and whatever they forked), its scheduler process (``mailroom scheduler``) and its redis-server."""
    cpu = {"web": _cpu(server_pid, children=False), "workers": 0.0, "scheduler": 0.0, "redis": 0.0}
    own = _cmdline(server_pid)
    for pid, cmd in _children(server_pid):
        if cmd == own:  # a web process forked by serve (MAILROOM_WEB_PROCESSES), and its parser children
            cpu["web"] += _tree_cpu(pid)
        elif "redis-server" in cmd:
            cpu["redis"] += _cpu(pid, children=False)
        elif "worker" in cmd:
            cpu["workers"] += _tree_cpu(pid)
        elif "scheduler" in cmd:
            cpu["scheduler"] += _tree_cpu(pid)
    return cpu


def _wait(predicate, timeout: float, every: float = 0.5):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(every)
    raise TimeoutError("timed out")


def run_once(docs: list[tuple[str, bytes]], workers: int, work: Path, timeout: float, auth: str = "token") -> Result:
    """One fresh service with ``workers`` rq workers; ``auth``: "token" (a scanning station's API token, as
    stations send) or "basic" (user name and password on every request: an argon2 check each time)."""
    data = work / f"data-w{workers}"
    port = _free_port()
    env = dict(os.environ, MAILROOM_DATA=str(data), MAILROOM_PORT=str(port), MAILROOM_SECRET_KEY="b" * 40,
               OMP_THREAD_LIMIT="1")
    subprocess.run([sys.executable, "-m", "mailroom.cli", "users", "add", USER, "--role", "scanner",
                    "--password", PASSWORD],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    if auth == "token":
        token = subprocess.run([sys.executable, "-m", "mailroom.cli", "users", "token", USER, "--name", "bench load"],
                               cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout.strip()
        client_auth: dict[str, object] = {"headers": {"Authorization": f"Bearer {token}"}}
    else:
        client_auth = {"auth": (USER, PASSWORD)}
    server = subprocess.Popen([sys.executable, "-m", "mailroom.cli", "serve", "--workers", str(workers)], cwd=ROOT,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            try:
                return httpx.get(f"{base}/api/health", timeout=2).json().get("redis") == "ok"
            except (httpx.HTTPError, ValueError):
                return False

        _wait(up, 120)
        time.sleep(2.0)  # let the workers finish importing
        before = service_cpu(server.pid)
        client_before = time.process_time()
        started = time.monotonic()
        accepted: list[str] = []
        with httpx.Client(timeout=60, **client_auth) as client:  # type: ignore[arg-type]
            def send(doc: tuple[str, bytes]) -> str | None:
                name, body = doc
                for _ in range(5):
                    r = client.post(f"{base}/api/envelopes", files={"file": (name, body)}, data={"channel": "upload"})
                    if r.status_code == 202:
                        return str(r.json()["envelope_id"])
                    if r.status_code != 503:
                        return None
                    time.sleep(1.0)
                return None

            with ThreadPoolExecutor(8) as pool:
                accepted = [env_id for env_id in pool.map(send, docs) if env_id]
        upload_seconds = time.monotonic() - started
        db = sqlite3.connect(f"file:{data / 'mailroom.db'}?mode=ro", uri=True, timeout=30)

        def final() -> bool:
            left = db.execute("SELECT count(*) FROM envelopes WHERE state = 'received'").fetchone()[0]
            return left == 0

        _wait(final, timeout, every=1.0)
        seconds = time.monotonic() - started
        after = service_cpu(server.pid)
        cpu = {k: after[k] - before[k] for k in after}
        client_cpu = time.process_time() - client_before
        ids = set(accepted)
        rows = dict(db.execute("SELECT id, state FROM envelopes").fetchall())
        routed = sum(1 for i in ids if rows.get(i) == "processed")
        held = sum(1 for i in ids if rows.get(i) in ("quarantined", "needs_human"))
        lost = sum(1 for i in ids if rows.get(i) not in ("processed", "quarantined", "needs_human"))
        docs_wi = db.execute("SELECT count(*) - count(DISTINCT document_id) FROM work_items").fetchone()[0]
        twice = db.execute("SELECT count(*) FROM (SELECT sha256 FROM envelopes GROUP BY sha256 "
                           "HAVING count(*) > 1)").fetchone()[0]
        unrouted = db.execute("SELECT count(*) FROM documents d LEFT JOIN work_items w ON w.document_id = d.id "
                              "WHERE w.id IS NULL AND d.envelope_id IN (SELECT id FROM envelopes "
                              "WHERE state = 'processed')").fetchone()[0]
        db.close()
        return Result(workers, len(accepted), routed, held, lost + unrouted + (len(docs) - len(accepted)),
                      docs_wi + twice, seconds, cpu, client_cpu, upload_seconds)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=5000)
    p.add_argument("--workers", default="1,2", help="worker counts to run, in order")
    p.add_argument("--scans", type=float, default=0.02, help="share of scanned pages (real tesseract OCR)")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--timeout", type=float, default=4 * 3600)
    p.add_argument("--auth", choices=["token", "basic"], default="token",
                   help="API token (default, as a scanning station) or Basic user+password on every upload")
    p.add_argument("--born-digital", action="store_true",
                   help="e-mails and text PDFs only: no scans (implies --scans 0) and no scanned attachments")
    args = p.parse_args(argv)
    if args.born_digital:
        args.scans = 0.0
    with tempfile.TemporaryDirectory(prefix="mailroom-load-") as tmp:
        work = Path(tmp)
        docs = make_documents(args.docs, args.scans, args.seed, work, args.born_digital)
        results = []
        for workers in (int(w) for w in args.workers.split(",")):
            r = run_once(docs, workers, work, args.timeout, args.auth)
            results.append(r)
            print(f"workers={r.workers}: in={r.docs_in} routed={r.routed} quarantined={r.quarantined} "
                  f"lost={r.lost} duplicated={r.duplicated} seconds={r.seconds:.1f} uploads_s={r.upload_seconds:.1f} "
                  f"docs/s={r.per_second:.2f} "
                  + " ".join(f"cpu_{k}_s_per_doc={v:.3f}" for k, v in r.cpu_per_doc.items())
                  + f" cpu_client_s_per_doc={r.client_cpu / max(1, r.docs_in):.3f} load={os.getloadavg()[0]:.1f}",
                  flush=True)
    by = {r.workers: r for r in results}
    ratio = by[2].per_second / by[1].per_second if 1 in by and 2 in by and by[1].per_second else 0.0
    lost = sum(r.lost for r in results)
    dup = sum(r.duplicated for r in results)
    parts = " ".join(f"w{r.workers}_docs_per_s={r.per_second:.2f} w{r.workers}_cpu_s_per_doc="
                     f"{sum(r.cpu_per_doc.values()):.3f}" for r in results)
    print(f"bench load: docs={args.docs} cores={os.cpu_count()} {parts} ratio_2_1={ratio:.2f} lost={lost} "
          f"duplicated={dup} born_digital={'yes' if args.born_digital else 'no'} scans={args.scans}")
    return 0 if lost == 0 and dup == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
