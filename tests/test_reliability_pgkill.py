"""Database killed (RELIABILITY.md "database killed"): PostgreSQL's postmaster and every backend are
SIGKILLed three times while agents claim and complete work items, and restarted (crash recovery).
Every transition an agent saw committed exists afterwards; none is applied twice — each item's
``version`` equals 1 + its audited transitions, each item is claimed and completed once."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker

from bench.claim import fresh_database, populate
from ground.errors import Conflict
from queues import work
from storage.models import AuditEvent, WorkItem, WorkItemState
from tests.support.servers import _pg_bin, postgres_server

ITEMS, AGENTS, KILLS = 120, 4, 3


def _cluster(url: str) -> tuple[Path, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        data = Path(conn.execute(text("SHOW data_directory")).scalar_one())
        port = int(conn.execute(text("SHOW port")).scalar_one())
    engine.dispose()
    return data, port


def _kill_9(data: Path) -> tuple[int, int, bool]:
    """SIGKILL the postmaster and all its children (backends, checkpointer, WAL writer); returns the
    postmaster's pid, how many children it had, and whether all of them are gone afterwards."""
    master = int((data / "postmaster.pid").read_text().split()[0])
    children = [int(p) for p in os.listdir("/proc") if p.isdigit() and _ppid(int(p)) == master]
    for pid in [master, *children]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    def gone() -> bool:  # the postmaster reaped (a zombie still holds its pid: pg_ctl would refuse to start)
        return not Path(f"/proc/{master}").exists() and not any(_alive(pid) for pid in children)

    deadline = time.monotonic() + 10
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.05)
    return master, len(children), gone()


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _start(data: Path, port: int) -> None:
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    log = data.parent / "log2"
    done = subprocess.run([*as_postgres, str(_pg_bin() / "pg_ctl"), "-D", str(data), "-w", "-t", "120", "-l",
                           str(log), "-o", f"-p {port} -k {data.parent} -c listen_addresses=127.0.0.1 -c fsync=off "
                           "-c max_connections=200", "start"], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, (done.stdout, done.stderr, log.read_text()[-3000:] if log.exists() else "")


class Agents:
    """Agents claiming the next item and completing it; every commit that returned is an acknowledgement."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, pool_pre_ping=True, pool_size=AGENTS + 2)
        self.factory = sessionmaker(self.engine, expire_on_commit=False)
        self.acked: list[tuple[int, str, str]] = []  # (item, action, agent)
        self.in_doubt = 0  # commits whose answer was lost with the server
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def _ack(self, item: int, action: str, agent: str) -> None:
        with self.lock:
            self.acked.append((item, action, agent))

    def _mine(self, agent: str) -> list[int]:
        with self.factory() as s:
            return list(s.scalars(select(WorkItem.id).where(WorkItem.assignee == agent,
                                                            WorkItem.state == WorkItemState.CLAIMED.value)))

    def run(self, agent: str) -> None:
        pending: list[int] = []
        while not self.stop.is_set():
            try:
                pending = pending or self._mine(agent)  # after a lost answer: what the database says I hold
                if not pending:
                    with self.factory() as s:
                        item = work.next_for_agent(s, agent, datetime.now(UTC), use_scope=False)
                        if item is None:
                            return
                        s.commit()
                    self._ack(item.id, "claimed", agent)
                    pending = [item.id]
                item_id = pending[0]
                with self.factory() as s:
                    try:
                        work.complete(s, item_id, agent, datetime.now(UTC))
                        s.commit()
                    except Conflict:  # an in-doubt complete that had been applied: done by me already
                        s.rollback()
                        done = s.get(WorkItem, item_id)
                        assert done is not None and done.state == WorkItemState.DONE and done.assignee == agent
                        pending = []
                        continue
                self._ack(item_id, "completed", agent)
                pending = []
            except DBAPIError:
                with self.lock:
                    self.in_doubt += 1
                pending = []
                time.sleep(0.2)
            except Exception as exc:  # noqa: BLE001 - recorded and asserted empty by the test
                self.errors.append(f"{agent}: {type(exc).__name__}: {exc}")
                return


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_kill_9_postgresql_during_transitions_loses_and_doubles_nothing() -> None:
    with postgres_server() as server, fresh_database("postgresql", server) as url:
        data, port = _cluster(url)
        engine = create_engine(url)
        populate(engine, ITEMS)
        agents = Agents(url)
        threads = [threading.Thread(target=agents.run, args=(f"agent-{i}",)) for i in range(AGENTS)]
        for t in threads:
            t.start()
        kills: list[dict[str, object]] = []
        try:
            for k in range(KILLS):
                target = (k + 1) * ITEMS * 2 // (KILLS + 2)  # transitions acknowledged before this kill
                deadline = time.monotonic() + 120
                while len(agents.acked) < target and time.monotonic() < deadline and not agents.errors:
                    time.sleep(0.01)
                failed_before, acked_at = agents.in_doubt, len(agents.acked)
                master, children, dead = _kill_9(data)
                time.sleep(0.5)  # agents meet a dead server meanwhile
                kills.append({"target": target, "acked": acked_at, "master": master, "children": children,
                              "dead": dead, "failed_calls": agents.in_doubt - failed_before})
                _start(data, port)
        except BaseException:
            agents.stop.set()  # the agents would wait for the server for ever
            raise
        finally:
            for t in threads:
                t.join(300)
        assert not any(t.is_alive() for t in threads), "an agent is stuck"
        assert not agents.errors, agents.errors
        engine.dispose()  # its pooled connection died with the first kill
        print(f"pgkill: acked={len(agents.acked)} failed_calls={agents.in_doubt} kills={kills}")
        # Each kill landed in the middle of the work, on a live server, and the work went on after it:
        for k, kill in enumerate(kills):
            assert kill["dead"] and kill["children"], kill  # the postmaster and its backends really died
            assert kill["target"] <= kill["acked"] < 2 * ITEMS, kill  # reached its point, work still left
            assert kill["failed_calls"], kill  # agents met the dead server
            after = kills[k + 1]["acked"] if k + 1 < len(kills) else len(agents.acked)
            assert after > kill["acked"], (kill, after)  # transitions acknowledged after the restart
        assert len({kill["master"] for kill in kills}) == KILLS  # each a new postmaster (crash recovery ran)
        with sessionmaker(engine)() as s:
            states = dict(s.execute(select(WorkItem.state, func.count()).group_by(WorkItem.state)).all())
            assert states == {WorkItemState.DONE.value: ITEMS}, states
            version = dict(s.execute(select(WorkItem.id, WorkItem.version)).all())
            assignee = dict(s.execute(select(WorkItem.id, WorkItem.assignee)).all())
            events = Counter(s.execute(select(AuditEvent.work_item_id, AuditEvent.action)
                                       .where(AuditEvent.action.like("work_item.%"))).all())
        for item_id, action, agent in agents.acked:  # every acknowledged transition is there, by that agent
            assert events[(item_id, f"work_item.{action}")] == 1, (item_id, action)
            assert assignee[item_id] == agent
        for item_id, v in version.items():  # none applied twice: new → claimed → done, one event each
            assert v == 3, (item_id, v)
            assert events[(item_id, "work_item.claimed")] == 1 and events[(item_id, "work_item.completed")] == 1
        engine.dispose()
        agents.engine.dispose()
