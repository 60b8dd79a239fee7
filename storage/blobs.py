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
from pathlib import Path
from typing import Protocol

from mailroom.errors import NotFound, StorageError
from mailroom.settings import Settings

_SHA = re.compile(r"^[0-9a-f]{64}$")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_key(key: str) -> str:
    if not _SHA.match(key):
        raise NotFound(f"{key!r} is not a blob key (a SHA-256 in hex)")
    return key


class BlobStore(Protocol):
    def put(self, data: bytes) -> str: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...


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
        if target.exists() and target.stat().st_size == len(data):
            return key
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
            return self.path(key).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"blob {key} is missing from {self.root}") from exc

    def exists(self, key: str) -> bool:
        return self.path(key).exists()


class MinioBlobStore:
    """Blobs as objects ``<sha256>`` in one bucket of an S3-compatible store (MinIO)."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str, secure: bool) -> None:
        from minio import Minio

        self.client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure)
        self.bucket = bucket
        try:
            if not self.client.bucket_exists(bucket):
                self.client.make_bucket(bucket)
        except Exception as exc:  # minio raises several unrelated types (S3Error, urllib3 errors)
            raise StorageError(f"The object store at {endpoint} is not reachable: {exc}") from exc

    def put(self, data: bytes) -> str:
        key = sha256_hex(data)
        try:
            self.client.put_object(self.bucket, key, io.BytesIO(data), len(data),
                                   content_type="application/octet-stream")
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
        try:
            return resp.read()
        finally:
            resp.close()
            resp.release_conn()

    def exists(self, key: str) -> bool:
        from minio.error import S3Error

        _check_key(key)
        try:
            self.client.stat_object(self.bucket, key)
        except S3Error:
            return False
        return True


def blob_store(settings: Settings) -> BlobStore:
    if settings.blob_backend == "minio":
        return MinioBlobStore(settings.minio_endpoint, settings.minio_access_key,
                              settings.minio_secret_key, settings.minio_bucket, settings.minio_secure)
    return FsBlobStore(settings.blob_dir)
