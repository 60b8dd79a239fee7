"""The SQLite writers' queue (storage.db.begin_write): the next writer is let in only once the COMMIT has run."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy import event, text

from storage.db import begin_write, get_engine, session_scope


def _free(lock_file: Path) -> bool:
    """Whether another writer could take the queue's lock now (a non-blocking try from a fresh open file)."""
    fd = os.open(lock_file, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops a lock taken here
    return True


def test_the_queue_is_held_through_the_commit_and_released_after_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mailroom.db'}"
    lock_file = Path(f"{tmp_path / 'mailroom.db'}-writer.lock")
    seen_at_commit: list[bool] = []
    engine = get_engine(url)

    def at_commit(conn) -> None:  # type: ignore[no-untyped-def]
        seen_at_commit.append(_free(lock_file))  # the Connection's "commit" event: before the COMMIT runs

    with session_scope(url) as s:
        begin_write(s)
        s.execute(text("CREATE TABLE scratch (x INTEGER)"))
        s.execute(text("INSERT INTO scratch VALUES (1)"))
        assert not _free(lock_file)
        event.listen(engine, "commit", at_commit)
        try:
            s.commit()
        finally:
            event.remove(engine, "commit", at_commit)
        assert _free(lock_file)  # released once committed, before the session is closed
    assert seen_at_commit == [False]  # a writer let in here would find SQLite still locked and sleep


def test_a_rolled_back_session_never_releases_a_lock_taken_later_on_its_connection(tmp_path: Path) -> None:
    """Session A takes the lock and rolls back; its connection goes to session B, which takes the lock; a later
    commit of A (another transaction) must leave B's lock alone."""
    url = f"sqlite:///{tmp_path / 'mailroom.db'}"
    lock_file = Path(f"{tmp_path / 'mailroom.db'}-writer.lock")
    with session_scope(url) as s:
        s.execute(text("CREATE TABLE scratch (x INTEGER)"))
    get_engine(url).dispose()
    with session_scope(url) as a:
        begin_write(a)
        a.rollback()  # A's connection goes back to the pool
        with session_scope(url) as b:
            begin_write(b)  # the same (only pooled) connection
            b.execute(text("INSERT INTO scratch VALUES (2)"))
            a.commit()  # A commits a transaction of its own (it took no lock)
            assert not _free(lock_file)  # B still holds the queue
        assert _free(lock_file)
