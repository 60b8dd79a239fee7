"""The HTTP boundary for infrastructure failures: a database or blob store that is down is a 503
with a sentence a person understands, never a 500 with a traceback (and never a 2xx)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, OperationalError

from ground.errors import StorageError

log = logging.getLogger(__name__)

DB_DOWN = ("The database is not reachable right now; nothing was stored or changed. "
           "Retry in a minute (with the same Idempotency-Key for uploads).")
REDIS_DOWN = "The job queue is not reachable right now; retry in a minute."
RETRY_AFTER = {"Retry-After": "30"}


def _unavailable(detail: str, code: str) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=503, headers=RETRY_AFTER)


def install(app: FastAPI) -> None:
    """Register the handlers (called once from web/app.py ``create_app``)."""

    @app.exception_handler(StorageError)
    async def storage_error(_: Request, exc: StorageError) -> JSONResponse:
        log.error("storage unavailable: %s", exc.reason)
        return _unavailable(exc.reason, exc.code)

    @app.exception_handler(DBAPIError)
    async def database_down(_: Request, exc: DBAPIError) -> JSONResponse:
        if isinstance(exc, OperationalError) or exc.connection_invalidated:  # down, or gone mid-statement
            log.error("database unavailable: %s", str(exc.orig)[:300] if exc.orig else exc)
            return _unavailable(DB_DOWN, "database_unavailable")
        log.error("database error: %s", exc, exc_info=exc)
        return JSONResponse({"detail": "Internal error; it has been logged.", "code": "internal"}, status_code=500)

    @app.exception_handler(RedisError)
    async def redis_down(_: Request, exc: RedisError) -> JSONResponse:
        log.error("redis unavailable: %s", exc)
        return _unavailable(REDIS_DOWN, "redis_unavailable")

    @app.exception_handler(OverflowError)
    async def out_of_range(_: Request, exc: OverflowError) -> JSONResponse:
        # an id or page number beyond what the database can hold names nothing that exists
        return JSONResponse({"detail": "A number in the request is out of range.", "code": "out_of_range"},
                            status_code=422)
