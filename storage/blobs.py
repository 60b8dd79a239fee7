"""Content-addressed blob store: originals are kept under their SHA-256, written durably.

``put`` returns only after the bytes are on stable storage (file and directory fsynced,
or acknowledged by the object store), so intake may say "accepted" right after it.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ground.errors import Disposition, NotFound, StorageError
from ground.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

_SHA = re.compile(r"^[0-9a-f]{64}$")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_key(key: str) -> str:
    if not _SHA.match(key):
        raise NotFound(f"{key!r} is not a blob key (a SHA-256 in hex)")
    return key


class BlobCorrupted(StorageError):
    """The stored bytes no longer hash to their key (bit rot, a tampered object): a person must act."""

    code = "blob_corrupt"
    disposition = Disposition.NEEDS_HUMAN


def _verified(key: str, data: bytes, where: str) -> bytes:
    actual = sha256_hex(data)
    if actual != key:
        raise BlobCorrupted(f"blob {key} is corrupted: {where} hashes to {actual}; restore it from a backup")
    return data


class BlobStore(Protocol):
    def put(self, data: bytes) -> str: ...

    def get(self, key: str) -> bytes:
        """The bytes, verified against their SHA-256 key (``BlobCorrupted`` if they differ)."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def keys(self) -> Iterator[str]: ...


class FsBlobStore:
    """Blobs as files ``<root>/ab/cd/<sha256>``; keys are never derived from file names."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        _check_key(key)
        return self.root / key[:2] / key[2:4] / key

    def put(self, data: bytes) -> str:
        key = sha256_hex(data)
        target = self.path(key)
        if target.exists() and target.stat().st_size == len(data) and sha256_hex(target.read_bytes()) == key:
            return key  # already stored intact; a rotten copy is rewritten below
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise StorageError(f"Could not store the original in {self.root}: {exc.strerror}; "
                               "check free disk space and permissions, then retry.") from exc
        return key

    def get(self, key: str) -> bytes:
        try:
            data = self.path(key).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"blob {key} is missing from {self.root}") from exc
        return _verified(key, data, f"file {self.path(key)}")

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def delete(self, key: str) -> None:
        try:
            self.path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"Could not delete blob {key} from {self.root}: {exc.strerror}") from exc

    def keys(self) -> Iterator[str]:
        for path in sorted(self.root.glob("??/??/*")):
            if _SHA.match(path.name) and path.parent.name == path.name[2:4]:
                yield path.name


class MinioBlobStore:
    """Blobs as objects ``<sha256>`` in one bucket of an S3-compatible store (MinIO).

    The bucket is created when missing; ``sse`` ("s3" or "kms:<key-id>") is sent with every
    upload so the server encrypts at rest; every read is re-hashed against its key.
    """

    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str, secure: bool,
                 sse: str = "") -> None:
        from minio import Minio

        self.endpoint = endpoint
        self.client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure)
        self.bucket = bucket
        self.sse = _sse(sse)
        try:
            if not self.client.bucket_exists(bucket):
                self.client.make_bucket(bucket)
        except Exception as exc:  # minio raises several unrelated types (S3Error, urllib3 errors)
            raise StorageError(f"The object store at {endpoint} is not reachable: {exc}") from exc

    @classmethod
    def from_settings(cls, settings: Settings) -> MinioBlobStore:
        if not settings.minio_endpoint:
            raise StorageError("MAILROOM_MINIO_ENDPOINT is not set; give the MinIO/S3 endpoint (host:port).")
        return cls(settings.minio_endpoint, settings.minio_access_key, settings.minio_secret_key,
                   settings.minio_bucket, settings.minio_secure, settings.minio_sse)

    def put(self, data: bytes) -> str:
        key = sha256_hex(data)
        try:
            self.client.put_object(self.bucket, key, io.BytesIO(data), len(data),
                                   content_type="application/octet-stream", sse=self.sse)
        except Exception as exc:  # see __init__
            raise StorageError(f"The object store refused the original: {exc}; retry later.") from exc
        return key

    def get(self, key: str) -> bytes:
        from minio.error import S3Error

        _check_key(key)
        try:
            resp = self.client.get_object(self.bucket, key)
        except S3Error as exc:
            raise NotFound(f"blob {key} is missing from bucket {self.bucket}") from exc
        except Exception as exc:  # connection errors
            raise StorageError(f"The object store at {self.endpoint} is not reachable: {exc}") from exc
        try:
            data = resp.read()
        finally:
            resp.close()
            resp.release_conn()
        return _verified(key, data, f"object s3://{self.bucket}/{key}")

    def exists(self, key: str) -> bool:
        from minio.error import S3Error

        _check_key(key)
        try:
            self.client.stat_object(self.bucket, key)
        except S3Error:
            return False
        return True

    def stat(self, key: str) -> Any:
        return self.client.stat_object(self.bucket, _check_key(key))

    def delete(self, key: str) -> None:
        try:
            self.client.remove_object(self.bucket, _check_key(key))
        except Exception as exc:  # see __init__
            raise StorageError(f"Could not delete s3://{self.bucket}/{key}: {exc}") from exc

    def keys(self) -> Iterator[str]:
        for obj in self.client.list_objects(self.bucket, recursive=True):
            if obj.object_name and _SHA.match(obj.object_name):
                yield obj.object_name


def _sse(value: str) -> Any:
    from minio.sse import SseKMS, SseS3

    value = value.strip()
    if not value:
        return None
    if value.lower() in ("s3", "aes256", "sse-s3"):
        return SseS3()
    if value.lower().startswith("kms:"):
        return SseKMS(value[4:], {})
    raise StorageError(f"MAILROOM_MINIO_SSE={value!r} is not understood: use '', 's3' or 'kms:<key-id>'.")


def blob_store(settings: Settings) -> BlobStore:
    if settings.blob_backend == "minio":
        return MinioBlobStore.from_settings(settings)
    return FsBlobStore(settings.blob_dir)


@dataclass
class MigrateReport:
    copied: int = 0
    already: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def migrate_blobs(source: BlobStore, target: BlobStore) -> MigrateReport:
    """Copy every blob of ``source`` to ``target``, then read it back and compare hashes."""
    report = MigrateReport()
    for key in source.keys():
        try:
            data = source.get(key)  # verified: a corrupted source blob is not copied
            present = target.exists(key)
            if not present:
                target.put(data)
            target.get(key)  # verified read-back
        except (StorageError, NotFound) as exc:
            report.failed.append((key, exc.reason))
            continue
        if present:
            report.already += 1
        else:
            report.copied += 1
    return report


@dataclass
class ScrubReport:
    checked: int = 0
    corrupted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def scrub(session: Session, store: BlobStore) -> ScrubReport:
    """Re-hash every original the database refers to (envelopes and their parts, unless purged)."""
    from sqlalchemy import select

    from storage.models import Document, Envelope

    refs: dict[str, str] = {}
    for env_id, sha, name in session.execute(
            select(Envelope.id, Envelope.sha256, Envelope.source_name).where(Envelope.purged_at.is_(None))):
        refs.setdefault(sha, f"envelope {env_id} ({name})")
    for doc_id, sha, name in session.execute(
            select(Document.id, Document.part_sha256, Document.part_name).join(Envelope)
            .where(Envelope.purged_at.is_(None))):
        refs.setdefault(sha, f"document {doc_id} part ({name})")
    report = ScrubReport()
    for key in sorted(refs):
        report.checked += 1
        try:
            store.get(key)
        except BlobCorrupted as exc:
            report.corrupted.append(f"CORRUPTED {refs[key]}: {exc.reason}")
        except NotFound:
            report.missing.append(f"MISSING {refs[key]}: blob {key} is not in the store")
    return report
