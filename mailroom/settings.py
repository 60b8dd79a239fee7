"""The one settings object. Every value comes from an env var ``MAILROOM_<NAME>``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MAILROOM_", extra="ignore")

    data: Path = Field(default_factory=lambda: Path(user_data_dir("mailroom")))
    database_url: str = ""  # empty: SQLite (WAL) at <data>/mailroom.db
    redis_url: str = ""  # empty: the embedded redis-server on <data>/redis.sock
    blob_backend: str = "fs"  # "fs" | "minio"
    minio_endpoint: str = ""
    minio_access_key: str = ""
    minio_secret_key: str = ""
    minio_bucket: str = "mailroom"
    minio_secure: bool = True
    minio_sse: str = ""  # server-side encryption: "" (bucket default) | "s3" (SSE-S3) | "kms:<key-id>" (SSE-KMS)
    routing_rules: Path = CONFIG_DIR / "routing.yaml"
    sla_policies: Path = CONFIG_DIR / "sla.yaml"
    ocr_languages: str = "pol+ces+rus+eng"
    ocr_dpi: int = 300
    ocr_page_timeout: float = 120.0
    ocr_engine: str = "auto"  # "auto" (tesserocr if installed, else the tesseract CLI) | "tesseract" | "tesserocr"
    # A PDF or TIFF with more pages than this is read as chunks of this many pages, each a job any rq worker
    # can take (0: read every file in one job). `mailroom process` reads inline and ignores it.
    ocr_chunk_pages: int = 10
    ocr_workers: int = 1  # processes per file for multi-page OCR; keep 1 when several rq workers share the cores
    worker_max_jobs: int = 2000  # a worker's long-lived work-horse is replaced after this many jobs ...
    worker_max_rss_mb: int = 1024  # ... or once its resident memory passes this (mailroom/services.py)
    max_pages: int = 500
    max_pixels: int = 200_000_000
    max_upload_bytes: int = 200 * 1024 * 1024
    separator_payload: str = "MAILROOM:SEPARATOR"  # QR payload of a batch separator sheet
    timezone: str = "Europe/Warsaw"
    queue_name: str = "mailroom"
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str | None = None  # signs session cookies; no default: `serve`/`api` refuse to start without

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data / 'mailroom.db'}"

    @property
    def blob_dir(self) -> Path:
        return self.data / "blobs"

    @property
    def quarantine_dir(self) -> Path:
        return self.data / "quarantine"

    @property
    def redis_socket(self) -> Path:
        return self.data / "redis.sock"


@lru_cache
def get_settings() -> Settings:
    return Settings()
