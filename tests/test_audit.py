"""The audit hash chain: verify finds an edited, a deleted, a swapped and a truncated event and says where."""

from __future__ import annotations

import csv
import io
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from mailroom.cli import main
from storage.audit import export_csv, export_json, record, trail, verify
from storage.db import get_engine, migrate, session_scope
from storage.models import AuditEvent, Document, Envelope

T0 = datetime(2026, 11, 23, 10, tzinfo=UTC)


def _fresh_database(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.db'}"
    else:
        base = request.getfixturevalue("postgres_url")
        name = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        url = base.rsplit("/", 1)[0] + f"/{name}"
    migrate(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _fresh_database(request.param, request, tmp_path)


@pytest.fixture
def pg_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _fresh_database("postgresql", request, tmp_path)


def write_events(url: str, n: int) -> None:
    with session_scope(url) as s:
        for i in range(n):
            record(s, "agent" if i % 2 else "system", f"test.step{i}", document_id="d1", work_item_id=i,
                   detail={"i": i, "note": "zażalenie", "score": 0.1 * i}, at=T0 + timedelta(seconds=i))


def sql(url: str, statement: str, **params: object) -> None:
    with get_engine(url).begin() as conn:
        conn.execute(text(statement), params)


def findings(url: str) -> list[tuple[int | None, str]]:
    with session_scope(url) as s:
        return [(f.event_id, f.kind) for f in verify(s).findings]


def test_intact_chain_verifies(db_url: str) -> None:
    write_events(db_url, 6)
    with session_scope(db_url) as s:
        report = verify(s)
        events = list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert report.ok and report.checked == 6
    assert events[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))


def test_a_rolled_back_savepoint_takes_its_events_and_the_chain_stays_whole(db_url: str) -> None:
    """Events before, inside and after a savepoint that is rolled back (as when an acknowledgement of receipt
    cannot be made during routing), then a later transaction: one unbroken chain of the events that stayed."""

    class Refused(Exception):
        pass

    with session_scope(db_url) as s:
        record(s, "system", "before.one", detail={"i": 1})
        record(s, "system", "before.two", detail={"i": 2})
        with pytest.raises(Refused), s.begin_nested():
            record(s, "system", "inside.savepoint", detail={"i": 3})
            raise Refused
        record(s, "system", "after.savepoint", detail={"i": 4})
    write_events(db_url, 2)
    with session_scope(db_url) as s:
        report = verify(s)
        actions = [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["before.one", "before.two", "after.savepoint", "test.step0", "test.step1"]
    assert report.ok and report.checked == 5, report.findings


def test_edited_event_is_named(db_url: str) -> None:
    write_events(db_url, 6)
    sql(db_url, "UPDATE audit_events SET actor = 'mallory' WHERE id = 3")
    assert findings(db_url) == [(3, "altered")]


def test_edited_detail_is_named(db_url: str) -> None:
    write_events(db_url, 4)
    sql(db_url, "UPDATE audit_events SET detail = :d WHERE id = 2", d=json.dumps({"i": 1, "note": "zazalenie",
                                                                                  "score": 0.1}))
    assert findings(db_url) == [(2, "altered")]


def test_deleted_event_is_named(db_url: str) -> None:
    write_events(db_url, 6)
    sql(db_url, "DELETE FROM audit_events WHERE id = 4")
    with session_scope(db_url) as s:
        report = verify(s)
    assert [(f.event_id, f.kind) for f in report.findings] == [(5, "missing")]
    assert "between event #3 and event #5" in report.findings[0].message


def test_swapped_events_are_named(db_url: str) -> None:
    write_events(db_url, 6)
    cols = "at, actor, action, envelope_id, document_id, work_item_id, detail, prev_hash, hash"
    with get_engine(db_url).begin() as conn:
        a = conn.execute(text(f"SELECT {cols} FROM audit_events WHERE id = 3")).mappings().one()
        b = conn.execute(text(f"SELECT {cols} FROM audit_events WHERE id = 4")).mappings().one()
        sets = ", ".join(f"{c} = :{c}" for c in cols.split(", "))
        for target, row in ((3, b), (4, a)):
            conn.execute(text(f"UPDATE audit_events SET {sets} WHERE id = {target}"),
                         {k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in row.items()})
    with session_scope(db_url) as s:
        report = verify(s)
    # three links are wrong: 2→[3], [3]→[4] and [4]→5; each names the event it was really chained after
    assert [(f.event_id, f.kind) for f in report.findings] == [(3, "reordered"), (4, "reordered"), (5, "reordered")]
    assert "chained after event #4, but follows event #2" in report.findings[0].message
    assert "chained after event #2, but follows event #3" in report.findings[1].message


def test_postgresql_chains_at_commit_without_blocking_other_writers(pg_db_url: str) -> None:
    """An open transaction that has recorded an event holds no chain lock: another writer records and
    commits meanwhile, and the chain follows commit order (the open one is linked when it commits)."""
    write_events(pg_db_url, 1)
    slow = session_scope(pg_db_url)
    s1 = slow.__enter__()
    record(s1, "slow", "test.slow", work_item_id=1, at=T0)
    done = threading.Event()

    def other() -> None:
        with session_scope(pg_db_url) as s2:
            record(s2, "fast", "test.fast", work_item_id=2, at=T0)
        done.set()

    t = threading.Thread(target=other)
    t.start()
    assert done.wait(10), "a second writer waited for an uncommitted audit event"
    t.join()
    slow.__exit__(None, None, None)
    with session_scope(pg_db_url) as s:
        report = verify(s)
        order = [(e.action, e.seq) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
        ids = {e.action: e.id for e in s.scalars(select(AuditEvent))}
    assert report.ok and report.checked == 3
    assert order == [("test.step0", 1), ("test.fast", 2), ("test.slow", 3)]
    assert ids["test.slow"] < ids["test.fast"]  # inserted first, chained second


def test_event_inserted_behind_the_api_is_named(db_url: str) -> None:
    write_events(db_url, 2)
    sql(db_url, "INSERT INTO audit_events (at, actor, action, detail) VALUES (:at, 'mallory', 'test.forged', '{}')",
        at=T0)
    with session_scope(db_url) as s:
        report = verify(s)
    assert [f.kind for f in report.findings] == ["unchained"]
    assert "test.forged" in report.findings[0].message and report.checked == 3


def test_removed_newest_events_are_noticed(db_url: str) -> None:
    write_events(db_url, 5)
    sql(db_url, "DELETE FROM audit_events WHERE id >= 4")
    with session_scope(db_url) as s:
        report = verify(s)
    assert [(f.event_id, f.kind) for f in report.findings] == [(None, "truncated")]
    assert "after event #3" in report.findings[0].message


def test_concurrent_writers_keep_one_chain(db_url: str) -> None:
    write_events(db_url, 1)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for i in range(15):
                with session_scope(db_url) as s:
                    record(s, name, "test.concurrent", detail={"i": i})
                    record(s, name, "test.concurrent.second", detail={"i": i})
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with session_scope(db_url) as s:
        report = verify(s)
        hashes = list(s.scalars(select(AuditEvent.prev_hash)))
    assert report.ok and report.checked == 1 + 4 * 15 * 2
    assert len(set(hashes)) == len(hashes)  # nobody chained to the same predecessor twice


def test_export_of_a_document_trail(db_url: str) -> None:
    with session_scope(db_url) as s:
        s.add(Envelope(id="e1", received_at=T0, channel="scan", source_name="a.pdf", content_type="application/pdf",
                       sha256="a" * 64, size=1))
        s.flush()
        s.add(Document(id="d1", envelope_id="e1", part_index=0, doc_index=0, part_sha256="a" * 64, pages=1))
        record(s, "system", "envelope.received", envelope_id="e1", at=T0)
        record(s, "system", "document.read", envelope_id="e1", document_id="d1", at=T0)
        record(s, "system", "document.read", envelope_id="e1", document_id="other", at=T0)
        record(s, "auditor", "document.viewed", document_id="d1", detail={"why": "kontrola"}, at=T0)
    with session_scope(db_url) as s:
        events = trail(s, "d1")
        as_json = json.loads(export_json(events))
        as_csv = list(csv.DictReader(io.StringIO(export_csv(events))))
    assert [e["action"] for e in as_json] == ["envelope.received", "document.read", "document.viewed"]
    assert all(e["hash_ok"] for e in as_json)
    assert as_csv[2]["actor"] == "auditor" and json.loads(as_csv[2]["detail"]) == {"why": "kontrola"}
    assert as_csv[1]["hash"] == as_json[1]["hash"]


def test_cli_verify_and_export(settings: object, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.context import get_context

    url = get_context().db_url
    write_events(url, 4)
    assert main(["audit", "verify"]) == 0
    assert "4 events" in capsys.readouterr().out
    sql(url, "UPDATE audit_events SET action = 'test.hidden' WHERE id = 2")
    assert main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert "event #2" in out and "altered" in out
    assert main(["audit", "export", "d1", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("id,seq,at,actor,action")


def test_migration_chains_events_written_before_it(tmp_path: Path) -> None:
    from alembic import command

    from storage.db import alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = alembic_config(url)
    with get_engine(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(text("INSERT INTO audit_events (at, actor, action, detail) VALUES "
                          "('2026-01-01 10:00:00.000000', 'system', 'old.one', '{\"a\": 1}'), "
                          "('2026-01-02 10:00:00.000000', 'system', 'old.two', '{}')"))
    migrate(url)
    with session_scope(url) as s:
        record(s, "system", "new.one")
    with session_scope(url) as s:
        report = verify(s)
    assert report.ok and report.checked == 3


def test_verify_walks_a_trail_longer_than_one_batch(ctx) -> None:  # type: ignore[no-untyped-def]
    from storage.audit import record, verify
    from storage.db import session_scope

    with session_scope(ctx.db_url) as s:
        for i in range(45):
            record(s, "system", "test.event", detail={"i": i})
    with session_scope(ctx.db_url) as s:
        report = verify(s, batch=10)
    assert report.checked >= 45 and not report.findings
