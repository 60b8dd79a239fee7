"""Retention deletes originals and text only after the period, never under legal hold, and says so."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from ground.errors import ConfigError, Conflict, InvalidRequest
from mailroom.cli import main
from pipeline.context import Context
from pipeline.housekeeping import due, run_housekeeping
from storage.audit import verify
from storage.db import session_scope
from storage.models import AuditEvent, Document, Envelope, HousekeepingRun, OutboxEvent, SearchEntry, WorkItem
from storage.retention import load_policy, run_retention, set_legal_hold
from storage.search import index_document, search

NOW = datetime(2030, 6, 1, 12, tzinfo=UTC)
POLICY_YAML = """
default: 6y
quarantined: 1y
categories:
  other: 2y
  legal: 10y
"""


@pytest.fixture
def policy_path(tmp_path: Path) -> Path:
    p = tmp_path / "retention.yaml"
    p.write_text(POLICY_YAML)
    return p


def add(ctx: Context, received: datetime, categories: list[str], *, part: bytes | None = None,
        item_state: str = "done", hold: bool = False) -> tuple[str, list[str]]:
    env_data = f"envelope {uuid.uuid4()}".encode()
    key = ctx.blobs.put(env_data)
    env_id, docs = str(uuid.uuid4()), []
    with session_scope(ctx.db_url) as s:
        s.add(Envelope(id=env_id, received_at=received, channel="email", source_name=f"{categories}.eml",
                       content_type="message/rfc822", sha256=key, size=len(env_data), legal_hold=hold))
        s.flush()
        for i, cat in enumerate(categories):
            part_key = ctx.blobs.put(part if part is not None else f"part {env_id} {i}".encode())
            doc = Document(id=str(uuid.uuid4()), envelope_id=env_id, part_index=i, doc_index=0,
                           part_sha256=part_key, pages=1, text=f"Reklamacja nr {i} zażalenie", category=cat,
                           entities={"customer_id": ["MR-1234567"]})
            s.add(doc)
            s.flush()
            s.add(WorkItem(document_id=doc.id, queue="q", priority=3, state=item_state, routing_rule="r",
                           sla_policy="p", sla_due=received))
            index_document(s, doc)
            docs.append(doc.id)
    return env_id, docs


def test_policy_file_is_validated(tmp_path: Path) -> None:
    policy = load_policy()  # the shipped config/retention.yaml
    assert policy.period("legal").text == "10y" and policy.period(None).text == policy.default.text
    bad = tmp_path / "bad.yaml"
    bad.write_text("default: 6y\ncategories:\n  complaints: 2y\n")
    with pytest.raises(ConfigError, match="complaints"):
        load_policy(bad)
    bad.write_text("default: six years\n")
    with pytest.raises(ConfigError, match="6y, 18m or 90d"):
        load_policy(bad)


def test_retention_purges_only_what_is_due_and_not_held(ctx: Context, policy_path: Path) -> None:
    policy = load_policy(policy_path)
    old_other, old_docs = add(ctx, datetime(2028, 5, 1, tzinfo=UTC), ["other"])  # 2y: due 2030-05-01
    young_other, _ = add(ctx, datetime(2028, 7, 1, tzinfo=UTC), ["other"])  # due 2030-07-01: not yet
    mixed, _ = add(ctx, datetime(2027, 1, 1, tzinfo=UTC), ["other", "legal"])  # longest (10y) wins
    held, _ = add(ctx, datetime(2020, 1, 1, tzinfo=UTC), ["complaint"], hold=True)
    open_, _ = add(ctx, datetime(2020, 1, 1, tzinfo=UTC), ["complaint"], item_state="claimed")

    with session_scope(ctx.db_url) as s:
        dry = run_retention(s, ctx.blobs, policy, now=NOW, dry_run=True)
    assert [d.envelope_id for d in dry.purged] == [old_other]
    assert [d.envelope_id for d in dry.held] == [held] and [d.envelope_id for d in dry.open_items] == [open_]
    assert "would purge 1" in dry.render() and "nothing changed" in dry.render()
    with session_scope(ctx.db_url) as s:  # the dry run changed nothing
        assert s.get(Envelope, old_other).purged_at is None  # type: ignore[union-attr]
        assert not s.scalars(select(AuditEvent).where(AuditEvent.action == "envelope.purged")).all()
    assert all(ctx.blobs.exists(k) for k in dry.purged[0].blobs)

    with session_scope(ctx.db_url) as s:
        report = run_retention(s, ctx.blobs, policy, now=NOW, actor="cli:ops")
    assert [d.envelope_id for d in report.purged] == [old_other] and not report.errors
    assert len(report.purged[0].blobs) == 2 and not any(ctx.blobs.exists(k) for k in report.purged[0].blobs)
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, old_other)
        assert env is not None and env.purged_at == NOW
        doc = s.get(Document, old_docs[0])
        assert doc is not None and doc.text == "" and doc.entities == {} and doc.category == "other"
        assert s.scalars(select(SearchEntry).where(SearchEntry.document_id == old_docs[0])).first() is None
        assert old_docs[0] not in [h.document_id for h in search(s, "zazalenie").hits]
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "envelope.purged")).one()
        assert event.actor == "cli:ops" and event.envelope_id == old_other and event.detail["period"] == "2y"
        assert sorted(event.detail["blobs_deleted"]) == sorted(report.purged[0].blobs)
        for kept in (young_other, mixed, held, open_):
            e = s.get(Envelope, kept)
            assert e is not None and e.purged_at is None and ctx.blobs.exists(e.sha256)
        assert verify(s).ok

    with session_scope(ctx.db_url) as s:  # a second run has nothing left to do
        assert not run_retention(s, ctx.blobs, policy, now=NOW).purged


def test_a_blob_shared_with_a_kept_envelope_survives(ctx: Context, policy_path: Path) -> None:
    policy = load_policy(policy_path)
    same_attachment = b"%PDF-1.7 the same invoice attached twice"
    old, _ = add(ctx, datetime(2027, 1, 1, tzinfo=UTC), ["other"], part=same_attachment)
    add(ctx, datetime(2020, 1, 1, tzinfo=UTC), ["complaint"], part=same_attachment, hold=True)
    with session_scope(ctx.db_url) as s:
        report = run_retention(s, ctx.blobs, policy, now=NOW)
    [d] = report.purged
    assert d.envelope_id == old and len(d.shared) == 1 and len(d.blobs) == 1
    assert ctx.blobs.get(d.shared[0]) == same_attachment


def test_legal_hold_set_and_release_are_audited(ctx: Context, policy_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    env_id, _ = add(ctx, datetime(2020, 1, 1, tzinfo=UTC), ["other"])
    assert main(["retention", "hold", env_id, "--reason", "court case II C 123/26"]) == 0
    with session_scope(ctx.db_url) as s:
        assert not run_retention(s, ctx.blobs, load_policy(policy_path), now=NOW).purged
    with pytest.raises(SystemExit):  # releasing needs its reason too
        main(["retention", "release", env_id])
    with session_scope(ctx.db_url) as s, pytest.raises(InvalidRequest, match="reason for releasing"):
        set_legal_hold(s, env_id, False, actor="boss", reason="  ")
    assert main(["retention", "release", env_id, "--reason", "order of 2026-12-01 lifts the hold"]) == 0
    assert main(["retention", "run", "--dry-run", "--config", str(policy_path)]) == 0
    assert f"would purge: envelope {env_id}" in capsys.readouterr().out
    assert main(["retention", "run", "--config", str(policy_path)]) == 0  # the real "now": long past 2022
    with session_scope(ctx.db_url) as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.envelope_id == env_id)
                                                   .order_by(AuditEvent.id))]
        assert actions == ["envelope.legal_hold_set", "envelope.legal_hold_released", "envelope.purged"]
        with pytest.raises(Conflict):
            set_legal_hold(s, env_id, True, actor="boss", reason="too late")


def test_scheduled_housekeeping_runs_once_a_day_after_its_time(ctx: Context, policy_path: Path) -> None:
    """From MAILROOM_HOUSEKEEPING_AT (local time): a dry-run report, then retention and its summary, both audited;
    old live events pruned; once per day however many processes ask."""
    ctx.settings.retention_policy = policy_path
    ctx.settings.housekeeping_at = "02:30"
    old, _ = add(ctx, NOW - timedelta(days=3 * 365), ["other"])  # past its 2 years
    kept, _ = add(ctx, NOW - timedelta(days=30), ["other"])
    with session_scope(ctx.db_url) as s:
        s.add_all([OutboxEvent(at=NOW - timedelta(days=8), kind="item.new"),
                   OutboxEvent(at=NOW - timedelta(hours=1), kind="item.new")])
    warsaw = ZoneInfo("Europe/Warsaw")
    assert due(ctx, datetime(2030, 6, 1, 2, 29, tzinfo=warsaw)) is None  # not yet
    at = datetime(2030, 6, 1, 2, 31, tzinfo=warsaw)
    assert due(ctx, at) == "2030-06-01"
    summary = run_housekeeping(ctx, at)
    assert summary is not None and summary["retention"]["purged"] == 1 and summary["outbox_pruned"] == 1
    assert run_housekeeping(ctx, at + timedelta(minutes=1)) is None  # the day is taken
    assert due(ctx, at + timedelta(hours=3)) is None
    with session_scope(ctx.db_url) as s:
        assert s.get(Envelope, old).purged_at is not None and s.get(Envelope, kept).purged_at is None
        steps = ["retention.dry_run", "envelope.purged", "retention.summary", "housekeeping.done"]
        actions = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.action.in_(steps))
                                               .order_by(AuditEvent.id))]
        assert actions == steps
        dry = s.scalars(select(AuditEvent).where(AuditEvent.action == "retention.dry_run")).one()
        assert dry.detail["would_purge"] == [old]
        assert s.get(HousekeepingRun, "2030-06-01").finished_at is not None
        assert s.scalar(select(func.count()).select_from(OutboxEvent)) == 1
