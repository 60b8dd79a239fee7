"""`mailroom serve --demo` as a user runs it: embedded redis-server, rq worker, API; upload a
scanned PNG over HTTP and see its work item appear in a queue."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.servers import free_port, wait_until


@pytest.mark.slow
def test_serve_demo_routes_an_uploaded_scan(corpus_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    env = dict(os.environ, MAILROOM_DATA=str(data), MAILROOM_PORT=str(port))
    server = subprocess.Popen([sys.executable, "-m", "mailroom.cli", "serve", "--demo"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            try:
                return httpx.get(f"{base}/api/health", timeout=2).json()["redis"] == "ok"
            except httpx.HTTPError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                return False

        wait_until(up, 120, "the service to answer")
        assert (data / "redis.sock").is_socket()
        manifest = json.loads((corpus_dir / "manifest.json").read_text())["files"]
        rec = next(r for r in manifest if r["form"] == "scan_png")
        scan = (corpus_dir / rec["file"]).read_bytes()
        r = httpx.post(f"{base}/api/envelopes", auth=("scanner", "demo"), data={"channel": "scan"},
                       files={"file": ("scan.png", scan, "image/png")}, timeout=30)
        assert r.status_code == 202, r.text
        env_id = r.json()["envelope_id"]

        def processed() -> dict | None:
            body = httpx.get(f"{base}/api/envelopes/{env_id}", auth=("supervisor", "demo"), timeout=5).json()
            return body if body["state"] == "processed" else None

        status = wait_until(processed, 240, "the upload to be routed by the worker")
        item = status["documents"][0]["work_item"]
        assert item["state"] == "new" and item["sla_due"]
        queues = {q["id"]: q for q in httpx.get(f"{base}/api/queues", auth=("agent", "demo")).json()}
        assert queues[item["queue"]]["counts"]["new"] >= 1
        total = sum(q["counts"]["new"] for q in queues.values())
        assert total >= 2  # demo letters were routed too
        claimed = httpx.post(f"{base}/api/queues/{item['queue']}/next", auth=("agent", "demo"))
        assert claimed.status_code == 200 and claimed.json()["assignee"] == "agent"
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert not (data / "redis.sock").exists() or not _redis_alive(data / "redis.sock")


def _redis_alive(sock: Path) -> bool:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(str(sock))
        return True
    except OSError:
        return False
    finally:
        s.close()
