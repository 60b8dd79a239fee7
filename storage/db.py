"""Engine, sessions and migrations. SQLite runs in WAL mode; any SQLAlchemy URL works."""

from __future__ import annotations

import fcntl
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")  # an acknowledged intake survives power loss
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


# ---------------------------------------------------------------- the SQLite writers' queue
_LOCK_KEY = "mailroom_write_lock"
_FD_KEY = "mailroom_write_lock_fd"
_HELD_BY_SESSION = "mailroom_write_lock_info"  # session.info: the connection info whose lock its commit releases
_engine_locks: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def _release(info: dict[str, Any]) -> None:
    held = info.pop(_LOCK_KEY, None)
    if held is None:
        return
    if isinstance(held, int):
        fcntl.flock(held, fcntl.LOCK_UN)
    else:
        held.release()


def _close_fd(info: dict[str, Any]) -> None:
    _release(info)
    fd = info.pop(_FD_KEY, None)
    if fd is not None:
        os.close(fd)


def _lock_path(engine: Engine) -> str | None:
    db = engine.url.database
    return None if not db or db == ":memory:" or db.startswith("file:") else f"{db}-writer.lock"


def _writer_lock(engine: Engine) -> threading.Lock:
    """The in-process queue of writers of an in-memory database (file databases use a lock file,
    see ``begin_write``). Released when the transaction ends (commit, rollback, or checkin)."""
    with _locks_guard:
        lock = _engine_locks.get(engine)
        if lock is None:
            lock = _engine_locks[engine] = threading.Lock()
            # not at the Connection's "commit" event: it fires before the COMMIT runs, and the next writer's
            # BEGIN IMMEDIATE would then find the database still locked and sleep in SQLite's busy handler
            event.listen(engine, "rollback", lambda conn: _release(conn.info))
            event.listen(engine.pool, "checkin", lambda _dbapi, rec: _release(rec.info))
            event.listen(engine.pool, "close", lambda _dbapi, rec: _close_fd(rec.info))
        return lock


def begin_write(session: Session) -> None:
    """SQLite: take the write lock before reading (``BEGIN IMMEDIATE``), so the pick and the claim
    are one serialised step; other databases lock the picked row instead (SKIP LOCKED).

    Writers first queue on an exclusive ``flock`` of ``<db>-writer.lock`` (one open file per
    connection, so threads and processes alike): the kernel wakes a waiter as soon as the holder has
    committed, whereas SQLite's busy handler polls with growing sleeps and lets some writers starve for
    seconds under 50 contending agents. The lock is released after the session's COMMIT has run, at
    rollback and at checkin, and by the kernel if the process dies.
    """
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        return
    raw = conn.connection.driver_connection
    if raw is None or raw.in_transaction:
        return
    lock = _writer_lock(conn.engine)
    info = conn.info
    if _LOCK_KEY not in info:
        path = _lock_path(conn.engine)
        if path is None:
            if lock.acquire(timeout=60):
                info[_LOCK_KEY] = lock
        else:
            fd = info.get(_FD_KEY)
            if fd is None:
                fd = info[_FD_KEY] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            info[_LOCK_KEY] = fd
    try:
        raw.execute("BEGIN IMMEDIATE")
    except BaseException:
        _release(info)
        raise
    session.info[_HELD_BY_SESSION] = info


@event.listens_for(Session, "after_commit")
def _release_after_commit(session: Session) -> None:
    """The writers' queue moves on once the COMMIT has run (the pool's checkin releases it otherwise)."""
    info = session.info.pop(_HELD_BY_SESSION, None)
    if info is not None:
        _release(info)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    """A rollback released the lock already (the engine's ``rollback`` event); the connection may then serve
    another session that takes it again, which a later commit of this session must not release."""
    session.info.pop(_HELD_BY_SESSION, None)


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the schema to the newest revision of every branch (idempotent)."""
    engine = get_engine(url)
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


@lru_cache(maxsize=8)
def _factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


@lru_cache(maxsize=8)
def _autocommit_factory(url: str) -> sessionmaker[Session]:
    engine = get_engine(url)
    if engine.dialect.name == "postgresql":  # the same pool; psycopg's autocommit is set on checkout, reset on return
        engine = engine.execution_options(isolation_level="AUTOCOMMIT")  # type: ignore[assignment]
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(url: str, *, autocommit: bool = False) -> Iterator[Session]:
    """A session that commits on success and rolls back on any exception.

    ``autocommit``: for reads and at most one small write that needs no transaction around it (who is asking,
    on every request). On PostgreSQL each statement then commits by itself: no BEGIN and no COMMIT, two round
    trips fewer. SQLite: no difference."""
    session = (_autocommit_factory if autocommit else _factory)(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
