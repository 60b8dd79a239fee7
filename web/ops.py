"""Probes for a load balancer or orchestrator: health (the process is up) and readiness (the database,
Redis and the blob store all answer).

``/api/health`` says the process is up; ``/api/ready`` says it can take work. Both are PUBLIC in
web/deps.py ACCESS, to be probed without signing in.
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from pipeline.jobs import redis_connection
from storage.db import session_scope
from web import schemas
from web.deps import CtxDep, SessionDep

log = logging.getLogger(__name__)
router = APIRouter()
MIN_FREE_BYTES = 256 * 1024 * 1024  # below this a file blob store stops taking uploads soon


class Ready(BaseModel):
    status: str  # "ready" | "unavailable"
    database: str
    redis: str
    blobs: str


def _blob_state(blobs: Any) -> str:
    root = getattr(blobs, "root", None)
    if root is not None:
        target = root if root.exists() else root.parent
        if not os.access(target, os.W_OK):
            log.warning("blob store not writable: %s", target)
            return "not writable"  # the path is for the logs, never for an anonymous probe
        free = shutil.disk_usage(target).free
        return "ok" if free >= MIN_FREE_BYTES else f"low disk: {free // (1024 * 1024)} MB free"
    client, bucket = getattr(blobs, "client", None), getattr(blobs, "bucket", None)
    if client is not None and bucket:
        return "ok" if client.bucket_exists(bucket) else "bucket missing"
    return "ok"


@router.get("/api/health", response_model=schemas.Health)
def health(session: SessionDep, ctx: CtxDep) -> schemas.Health:
    session.execute(text("SELECT 1"))
    try:
        with redis_connection(ctx.settings, probe=True) as redis:
            redis.ping()
        redis_state = "ok"
    except (RedisError, OSError):
        redis_state = "unavailable"
    return schemas.Health(status="ok", database="ok", redis=redis_state)


@router.get("/api/ready", response_model=Ready, responses={503: {"model": Ready}}, tags=["operations"])
def ready(ctx: CtxDep) -> Any:
    """Public: says what is not ready, never where (no paths, bucket names or error texts)."""
    checks: dict[str, str] = {}
    try:
        with session_scope(ctx.db_url) as s:
            s.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    try:
        with redis_connection(ctx.settings, probe=True) as redis:
            redis.ping()
        checks["redis"] = "ok"
    except (RedisError, OSError) as exc:
        checks["redis"] = f"unavailable: {type(exc).__name__}"
    try:
        checks["blobs"] = _blob_state(ctx.blobs)
    except Exception as exc:  # noqa: BLE001 - any failure of the object store client means "not ready"
        checks["blobs"] = f"unavailable: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    body = Ready(status="ready" if ok else "unavailable", **checks)
    return body if ok else JSONResponse(body.model_dump(), status_code=503)
