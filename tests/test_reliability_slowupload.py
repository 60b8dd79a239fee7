"""Slow upload (RELIABILITY.md "multipart limits": slow upload): 30 raw sockets trickle multipart
upload bodies into a real ``mailroom api`` (uvicorn) a few bytes at a time, slowloris-style, while
``/api/health`` keeps answering in under a second; the trickling connections are still served
(a finished slow upload is accepted) and nothing is stored from an unfinished one."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from ground.settings import Settings
from mailroom.services import start_redis
from storage.db import migrate, session_scope
from storage.models import Envelope, Role
from storage.users import upsert_user
from tests.hostile.make_corpus import text_pdf
from tests.support.servers import free_port

SLOW, SECONDS = 30, 8
AUTH = base64.b64encode(b"station:station-password-1").decode()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[str, int, Path]]:
    data = tmp_path / "data"
    data.mkdir()
    url = f"sqlite:///{data / 'mailroom.db'}"
    migrate(url)
    with session_scope(url) as s:
        upsert_user(s, "station", "station-password-1", Role.SCANNER)
    redis = start_redis(Settings(data=data))  # health and the upload's enqueue talk to it
    port = free_port()
    env = dict(os.environ, MAILROOM_DATA=str(data), MAILROOM_PORT=str(port),
               MAILROOM_SECRET_KEY="slow-upload-test-" + "9fK2qLm7xR4tVw8zA3bN6cD1eH5jP0sU")
    log = open(tmp_path / "api.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "mailroom.cli", "api"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, (tmp_path / "api.log").read_text()[-2000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "mailroom api did not answer"
        time.sleep(0.3)
    try:
        yield "127.0.0.1", port, data
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        redis.terminate()
        redis.wait(timeout=10)


def _request(body: bytes) -> bytes:
    return (b"POST /api/envelopes HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + AUTH.encode() +
            b"\r\nContent-Type: multipart/form-data; boundary=SLOW\r\nContent-Length: " + str(len(body)).encode() +
            b"\r\n\r\n")


def _multipart(name: str, data: bytes) -> bytes:
    return (b"--SLOW\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name.encode() +
            b"\"\r\nContent-Type: application/pdf\r\n\r\n" + data + b"\r\n--SLOW--\r\n")


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_slow_uploads_do_not_starve_health(api) -> None:  # type: ignore[no-untyped-def]
    host, port, data = api
    pdfs = [text_pdf(f"Reklamacja numer {i}, faktura FV/2026/10/00451{i % 10}.") for i in range(SLOW)]
    bodies = [_multipart(f"slow-{i}.pdf", pdf) for i, pdf in enumerate(pdfs)]
    socks = []
    for body in bodies:
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(_request(body))
        socks.append(s)
    sent = [0] * SLOW
    latencies: list[float] = []
    started = time.monotonic()
    with httpx.Client(timeout=5) as client:
        while time.monotonic() - started < SECONDS:
            for i, s in enumerate(socks):  # a few bytes each, never the whole body
                chunk = bodies[i][sent[i]:sent[i] + 7]
                if sent[i] + len(chunk) < len(bodies[i]) - 1:
                    s.sendall(chunk)
                    sent[i] += len(chunk)
            t0 = time.monotonic()
            r = client.get(f"http://{host}:{port}/api/health")
            latencies.append(time.monotonic() - t0)
            assert r.status_code == 200 and r.json()["redis"] == "ok"
            time.sleep(0.25)
    assert len(latencies) >= 10 and max(latencies) < 1.0, latencies
    print(f"slow upload: {len(latencies)} health calls, max {max(latencies) * 1000:.0f} ms")
    # the slow clients are still being served: one finishes its body and is answered
    socks[0].sendall(bodies[0][sent[0]:])
    socks[0].settimeout(30)
    answer = socks[0].recv(4096)
    assert answer.startswith(b"HTTP/1.1 202"), answer[:300]
    for s in socks:
        s.close()
    with session_scope(f"sqlite:///{data / 'mailroom.db'}") as db:  # only the finished upload became an envelope
        assert db.scalar(select(func.count()).select_from(Envelope)) == 1
