"""The one settings object. Every value comes from an env var ``MAILROOM_<NAME>``."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated

from platformdirs import user_data_dir
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIN_SECRET_LENGTH = 32
# Values people paste from examples and framework defaults: a key anyone can guess signs anyone's cookie.
KNOWN_SECRETS = frozenset({
    "changeme", "change-me", "change_me", "changeit", "secret", "secretkey", "secret-key", "secret_key", "password",
    "mailroom", "default", "test", "dev", "development", "insecure", "notsecret", "your-secret-key",
    "your_secret_key", "yoursecretkey", "replace-me", "replaceme", "please-change-me", "supersecret",
    "super-secret-key", "django-insecure", "mysecretkey", "my-secret-key", "xxx", "12345678", "0123456789",
})
MAKE_SECRET = "export MAILROOM_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"


def secret_problem(key: str) -> str | None:
    """Why ``key`` may not sign cookies (a known example/default value, or too short), or None."""
    plain = key.strip().lower()
    if plain in KNOWN_SECRETS or any(plain.startswith(k) and len(set(plain[len(k):])) <= 2 for k in KNOWN_SECRETS
                                     if len(k) >= 6):
        return "is a well-known default or example value"
    if len(key) < MIN_SECRET_LENGTH:
        return f"is {len(key)} characters long; use at least {MIN_SECRET_LENGTH}"
    return None


# The shipped defaults are package data (they travel in the wheel); MAILROOM_* paths override them.
CONFIG_DIR = Path(str(resources.files("ground") / "config"))


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
    entities: Path = CONFIG_DIR / "entities.yaml"  # labels and shapes of customer, contract and invoice numbers
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
    # E-mail images smaller than this (width x height) are decoration (logos, icons, tracking pixels): not read.
    min_attachment_image_pixels: int = 160_000
    # Parsing what arrived (MIME, .msg, TNEF, page counts) runs in a child process with these bounds.
    parse_timeout: float = 20.0  # seconds; 0: parse in the calling process, unbounded
    parse_memory_mb: int = 1024
    # Payloads of a batch separator sheet's QR code or Code 128 / Code 39 barcode: a JSON list or comma-separated.
    separator_payloads: Annotated[list[str], NoDecode] = ["MAILROOM-SEPARATOR", "PATCHT"]
    # Pages: the site's language and time zone; a user's own choice (profile page, `users add`) wins, and
    # without one the browser's Accept-Language picks the language (ground/i18n.py).
    language: str = "en"  # en | pl | cs | ru
    # MAILROOM_TIME_ZONE (MAILROOM_TIMEZONE, its earlier name, still works): times shown in pages and by
    # `mailroom process`; the API keeps ISO 8601 with offsets.
    time_zone: str = Field(default="Europe/Warsaw", validation_alias=AliasChoices(
        "time_zone", "MAILROOM_TIME_ZONE", "timezone", "MAILROOM_TIMEZONE"))
    # Outbound letters (replies/): the SMTP relay replies and acknowledgements are sent through, as
    # smtp://[user:password@]host[:port] (STARTTLS when offered; smtp+starttls:// requires it) or
    # smtps://… (TLS from the start). Empty: e-mailed replies wait in state "queued" until one is configured.
    smtp_url: str = ""
    smtp_timeout: float = 30.0
    replies: Path = CONFIG_DIR / "replies.yaml"  # senders per queue, templates, required content, acknowledgements
    # Seconds a claim on a work item lasts (renewed while the agent's item page is open and visible; a lapsed one
    # goes back to the queue at the next sweep). Used by the pages and the API's claim, renew and next item.
    lease_seconds: int = Field(default=900, ge=1)
    # Scheduled housekeeping (pipeline/housekeeping.py), once a day from this local time (HH:MM in the site time
    # zone; empty: never): retention (a dry-run report first, then the run and its summary, both audited), and
    # pruning of delivered live events older than `outbox_keep_days`, ended web sessions and old sign-in failures.
    housekeeping_at: str = "02:30"
    # Routing rules and SLA policies saved in the browser are versions in the database; every process looks for
    # a newer version at most this often (seconds) and uses it from then on, without a restart.
    config_reload_seconds: float = Field(default=2.0, ge=0)
    retention_policy: Path = CONFIG_DIR / "retention.yaml"
    outbox_keep_days: int = Field(default=7, ge=1)
    queue_name: str = "mailroom"
    host: str = "127.0.0.1"
    port: int = 8000
    # Processes answering HTTP on the one port (`serve` and `api`): a Python process uses one core at most, and
    # every agent's request is Python work. They share the listening socket; the kernel spreads connections.
    web_processes: int = Field(default=2, ge=1, le=64)
    secret_key: str | None = None  # signs session cookies; no default: `serve`/`api` refuse to start without
    # Reverse proxies (addresses or CIDR networks, comma-separated or a JSON list) whose X-Forwarded-For and
    # X-Forwarded-Proto are believed: the client address for sign-in throttling and audit, and https for the
    # Secure flag of cookies. Empty (the default): forwarded headers are ignored, the peer address is the client.
    trusted_proxies: Annotated[list[str], NoDecode] = []

    @field_validator("housekeeping_at")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        text = value.strip()
        if text and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", text):
            raise ValueError(f"MAILROOM_HOUSEKEEPING_AT must be a local time HH:MM (e.g. 02:30) or empty: {value!r}")
        return text

    @field_validator("separator_payloads", mode="before")
    @classmethod
    def _payload_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else [p for p in text.split(",")]
        if isinstance(value, list | tuple):
            payloads = [str(p).strip() for p in value if str(p).strip()]
            if not payloads:
                raise ValueError("MAILROOM_SEPARATOR_PAYLOADS is empty; give at least one separator payload")
            return payloads
        return value

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        code = value.strip().lower().replace("_", "-").split("-")[0]
        if code not in ("en", "pl", "cs", "ru"):
            raise ValueError(f"MAILROOM_LANGUAGE is {value!r}; use one of en, pl, cs, ru")
        return code

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"MAILROOM_TIME_ZONE is {value!r}, which is no time zone; use an IANA name such as "
                             "Europe/Warsaw") from None
        return value

    @property
    def timezone(self) -> str:
        """The earlier name of :attr:`time_zone`."""
        return self.time_zone

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_networks(cls, value: object) -> object:
        import ipaddress

        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else [p for p in text.split(",")]
        if isinstance(value, list | tuple):
            out = []
            for item in (str(p).strip() for p in value):
                if not item:
                    continue
                try:
                    out.append(str(ipaddress.ip_network(item, strict=False)))
                except ValueError:
                    raise ValueError(f"MAILROOM_TRUSTED_PROXIES: {item!r} is no IP address or network "
                                     "(e.g. 10.0.0.5 or 10.0.0.0/24)") from None
            return out
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret_is_strong(cls, key: str | None) -> str | None:
        problem = None if key is None else secret_problem(key)
        if problem is not None:
            raise ValueError(f"MAILROOM_SECRET_KEY {problem}: anyone who guesses it can forge a signed-in "
                             f"session. Set a long random value, e.g.\n  {MAKE_SECRET}")
        return key

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
