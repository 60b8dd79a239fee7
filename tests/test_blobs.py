"""Blob stores against real endpoints: the MinIO backend talks HTTP to moto's S3 server on loopback
(no MinIO server is installable here), the filesystem store to a temporary directory."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ground.errors import Disposition, NotFound, StorageError
from mailroom.cli import main
from pipeline.context import Context
from storage.blobs import BlobCorrupted, FsBlobStore, MinioBlobStore, migrate_blobs, scrub, sha256_hex
from storage.db import session_scope
from storage.models import Document, Envelope
from tests.support.servers import free_port


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop()


def store(endpoint: str, sse: str = "", bucket: str | None = None) -> MinioBlobStore:
    return MinioBlobStore(endpoint, "test-key", "test-secret", bucket or f"b-{uuid.uuid4().hex[:10]}",
                          secure=False, sse=sse)


def test_minio_roundtrip_creates_bucket_and_is_content_addressed(s3_endpoint: str) -> None:
    bucket = f"mailroom-{uuid.uuid4().hex[:8]}"
    s = store(s3_endpoint, bucket=bucket)
    assert s.client.bucket_exists(bucket)
    data = "Reklamacja faktury FV/2026/10/004512 — zażółć gęślą jaźń".encode()
    key = s.put(data)
    assert key == sha256_hex(data)
    assert s.get(key) == data and s.exists(key)
    assert list(s.keys()) == [key]
    store(s3_endpoint, bucket=bucket)  # an existing bucket is fine
    s.delete(key)
    assert not s.exists(key)
    with pytest.raises(NotFound):
        s.get(key)
    with pytest.raises(NotFound):
        s.get("../etc/passwd")


def test_minio_detects_a_corrupted_object_and_names_it(s3_endpoint: str) -> None:
    s = store(s3_endpoint)
    key = s.put(b"original letter bytes")
    s.client.put_object(s.bucket, key, io.BytesIO(b"original letter bytez"), 21)  # bit rot behind our back
    with pytest.raises(BlobCorrupted) as err:
        s.get(key)
    assert key in err.value.reason and s.bucket in err.value.reason
    assert err.value.disposition == Disposition.NEEDS_HUMAN


def test_minio_server_side_encryption_is_requested(s3_endpoint: str) -> None:
    s = store(s3_endpoint, sse="s3")
    key = s.put(b"encrypted at rest")
    assert s.stat(key).metadata.get("x-amz-server-side-encryption") == "AES256"
    plain = store(s3_endpoint)
    assert "x-amz-server-side-encryption" not in plain.stat(plain.put(b"plain")).metadata
    with pytest.raises(StorageError, match="MAILROOM_MINIO_SSE"):
        store(s3_endpoint, sse="rot13")


def test_unreachable_object_store_is_a_clear_error() -> None:
    with pytest.raises(StorageError, match="not reachable"):
        MinioBlobStore(f"127.0.0.1:{free_port()}", "k", "s", "b", secure=False)


def test_fs_store_detects_bit_rot(tmp_path: Path) -> None:
    fs = FsBlobStore(tmp_path / "blobs")
    key = fs.put(b"%PDF-1.7 letter")
    path = fs.path(key)
    raw = bytearray(path.read_bytes())
    raw[3] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(BlobCorrupted, match=key):
        fs.get(key)


def test_migrate_copies_fs_to_s3_and_verifies(tmp_path: Path, s3_endpoint: str) -> None:
    fs = FsBlobStore(tmp_path / "blobs")
    keys = [fs.put(f"letter {i}".encode()) for i in range(5)]
    bad = fs.put(b"will rot")
    fs.path(bad).write_bytes(b"has rotted")
    target = store(s3_endpoint, sse="s3")
    report = migrate_blobs(fs, target)
    assert report.copied == 5 and [k for k, _ in report.failed] == [bad]
    assert sorted(target.keys()) == sorted(keys)
    assert all(target.get(k) == fs.get(k) for k in keys)
    again = migrate_blobs(fs, target)
    assert again.copied == 0 and again.already == 5


def test_cli_migrate_and_scrub(ctx: Context, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import UTC, datetime

    fs = ctx.blobs
    assert isinstance(fs, FsBlobStore)
    good, rotten = fs.put(b"%PDF good letter"), fs.put(b"%PDF letter that will rot")
    with session_scope(ctx.db_url) as s:
        for key, name in ((good, "good.pdf"), (rotten, "rotten.pdf")):
            env_id = str(uuid.uuid4())
            s.add(Envelope(id=env_id, received_at=datetime(2026, 1, 1, tzinfo=UTC), channel="scan",
                           source_name=name, content_type="application/pdf", sha256=key, size=1))
            s.flush()
            s.add(Document(id=str(uuid.uuid4()), envelope_id=env_id, part_index=0, doc_index=0, part_sha256=key,
                           pages=1, part_name=name))
    assert main(["blobs", "scrub"]) == 0
    assert "2 originals re-hashed: 0 corrupted" in capsys.readouterr().out

    path = fs.path(rotten)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0x40  # flip one bit of one byte
    path.write_bytes(bytes(raw))
    assert main(["blobs", "scrub"]) == 1
    out = capsys.readouterr().out
    assert "1 corrupted" in out and rotten in out and "rotten.pdf" in out and good not in out

    bucket = f"mig-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(ctx.settings, "minio_endpoint", s3_endpoint)
    monkeypatch.setattr(ctx.settings, "minio_secure", False)
    monkeypatch.setattr(ctx.settings, "minio_bucket", bucket)
    monkeypatch.setattr(ctx.settings, "minio_access_key", "k")
    monkeypatch.setattr(ctx.settings, "minio_secret_key", "s")
    assert main(["blobs", "migrate"]) == 1  # the rotten original is not copied, and said so
    out = capsys.readouterr().out
    assert "1 copied" in out and f"FAILED {rotten}" in out
    with session_scope(ctx.db_url) as s:
        report = scrub(s, MinioBlobStore.from_settings(ctx.settings))
    assert report.checked == 2 and len(report.missing) == 1 and rotten in report.missing[0]


def test_fs_store_put_repairs_a_rotten_copy(tmp_path: Path) -> None:
    store = FsBlobStore(tmp_path / "blobs")
    key = store.put(b"original letter bytes")
    path = store.path(key)
    path.write_bytes(b"original letter bytez")  # same size, one byte rotted
    assert store.put(b"original letter bytes") == key
    assert store.get(key) == b"original letter bytes"
