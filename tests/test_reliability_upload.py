"""Acknowledge only after commit: with the database or the blob store down, an upload gets 503
with a clear message, never a 2xx, and nothing half-written remains; a retry with the same
Idempotency-Key then yields exactly one item."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from ground.settings import Settings, get_settings
from pipeline.context import Context, get_context
from storage.blobs import sha256_hex
from storage.db import get_engine, session_scope
from storage.models import Envelope, Role
from storage.users import upsert_user
from web.app import create_app

PDF = b"%PDF-1.4\n% not really a letter, only bytes to store\n"


def _client(ctx: Context) -> TestClient:
    with session_scope(ctx.db_url) as s:
        upsert_user(s, "scan", "scan-password", Role.SCANNER)
    return TestClient(create_app(ctx), raise_server_exceptions=False)


def _upload(client: TestClient, data: bytes, key: str | None = None, name: str = "letter.pdf"):  # type: ignore[no-untyped-def]
    headers = {"Idempotency-Key": key} if key else {}
    return client.post("/api/envelopes", auth=("scan", "scan-password"), headers=headers,
                       files={"file": (name, data, "application/pdf")}, data={"channel": "upload"})


def _envelopes(ctx: Context) -> int:
    with session_scope(ctx.db_url) as s:
        return int(s.scalar(select(func.count()).select_from(Envelope)) or 0)


@pytest.fixture
def pg_ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Context, str]]:
    """A private PostgreSQL (so that this test may kill it) and a context on it."""
    from tests.support.servers import postgres_server

    with postgres_server() as url:
        monkeypatch.setenv("MAILROOM_DATA", str(tmp_path / "data"))
        monkeypatch.setenv("MAILROOM_DATABASE_URL", url)
        get_settings.cache_clear()
        yield get_context(get_settings()), url
        get_settings.cache_clear()


@pytest.mark.slow
def test_database_dies_between_blob_write_and_commit(pg_ctx: tuple[Context, str]) -> None:
    ctx, url = pg_ctx
    client = _client(ctx)
    engine = get_engine(url)
    with engine.begin() as conn:  # the server drops the connection inside the envelope INSERT
        conn.execute(text("CREATE FUNCTION die() RETURNS trigger AS $$ BEGIN "
                          "PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$ LANGUAGE plpgsql"))
        conn.execute(text("CREATE TRIGGER die BEFORE INSERT ON envelopes FOR EACH ROW EXECUTE FUNCTION die()"))
    data = PDF + b"one"
    r = _upload(client, data, key="retry-me-1")
    assert r.status_code == 503, r.text
    assert "database is not reachable" in r.json()["detail"] and r.headers["retry-after"]
    engine.dispose()
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER die ON envelopes"))
    assert _envelopes(ctx) == 0  # nothing acknowledged, nothing committed (the blob alone is an orphan)
    r = _upload(client, data, key="retry-me-1")
    assert r.status_code == 202, r.text
    again = _upload(client, data, key="retry-me-1")
    assert again.status_code == 202 and again.json()["duplicate"] is True
    assert again.json()["envelope_id"] == r.json()["envelope_id"]
    assert _envelopes(ctx) == 1
    assert ctx.blobs.get(sha256_hex(data)) == data


@pytest.mark.slow
def test_database_stopped_upload_and_health_answer_503(pg_ctx: tuple[Context, str]) -> None:
    ctx, url = pg_ctx
    client = _client(ctx)
    assert _upload(client, PDF + b"before").status_code == 202
    with get_engine(url).connect() as conn:
        datadir = conn.execute(text("SHOW data_directory")).scalar_one()
    pg_ctl = next(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    runas = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*runas, str(pg_ctl), "-D", datadir, "-m", "fast", "-w", "stop"], check=True, capture_output=True)
    data = PDF + b"during"
    r = _upload(client, data)
    assert r.status_code == 503, r.text
    assert r.json()["code"] == "database_unavailable"
    assert not ctx.blobs.exists(sha256_hex(data))  # refused before anything was stored
    h = client.get("/api/health")
    assert h.status_code == 503


@pytest.fixture
def tiny_blob_disk(settings: Settings) -> Iterator[Context]:
    """The blob store on a 256 kB tmpfs (root only); the database stays on the normal disk."""
    ctx = get_context(settings)
    blob_dir = settings.blob_dir
    blob_dir.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(blob_dir)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield ctx
    finally:
        subprocess.run(["umount", "-l", str(blob_dir)], check=False)


def test_blob_store_disk_full_is_a_clear_refusal_and_loses_nothing(tiny_blob_disk: Context) -> None:
    ctx = tiny_blob_disk
    client = _client(ctx)
    small = PDF + b"small" * 100
    first = _upload(client, small)
    assert first.status_code == 202, first.text
    big = PDF + os.urandom(400_000)
    r = _upload(client, big, name="big.pdf")
    assert r.status_code == 503, r.text
    assert "free disk space" in r.json()["detail"]
    assert _envelopes(ctx) == 1
    assert not ctx.blobs.exists(sha256_hex(big))
    assert not list(ctx.settings.blob_dir.rglob(".incoming-*"))  # no partial file left behind
    assert ctx.blobs.get(sha256_hex(small)) == small  # the acknowledged one is intact
    assert _upload(client, PDF + b"after").status_code == 202  # and the space is usable again


@pytest.fixture
def small_limit_ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILROOM_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("MAILROOM_MAX_UPLOAD_BYTES", "1000000")
    get_settings.cache_clear()
    yield get_context(get_settings())
    get_settings.cache_clear()


def test_multipart_limits_answer_quickly_and_store_nothing(small_limit_ctx: Context) -> None:
    import time

    ctx = small_limit_ctx
    client = _client(ctx)
    body = b"".join(b"--X\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\n\r\n" % i for i in range(10_000))
    body += b"--X--\r\n"
    started = time.monotonic()
    r = client.post("/api/envelopes", auth=("scan", "scan-password"), content=body,
                    headers={"Content-Type": "multipart/form-data; boundary=X"})
    assert r.status_code in (400, 413, 422), r.text
    assert time.monotonic() - started < 10
    big = PDF + b"0" * 2_000_000
    r = _upload(client, big)
    assert r.status_code == 413, r.text
    assert _envelopes(ctx) == 0 and not ctx.blobs.exists(sha256_hex(big))
    assert client.get("/api/health").status_code == 200
