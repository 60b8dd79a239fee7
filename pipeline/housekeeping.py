"""Scheduled housekeeping, once a day from ``MAILROOM_HOUSEKEEPING_AT`` (local time in the site's zone), run by
the scheduler beside the API (mailroom/services.py): retention — a dry-run report first (audited as
``retention.dry_run`` with what would go), then the run and its summary (``retention.summary``) — and pruning of
delivered live events older than ``MAILROOM_OUTBOX_KEEP_DAYS``, web sessions that ended or expired, and sign-in
failures past the throttling window. One process of many runs it: the day's row in ``housekeeping_runs`` is the
claim (a second process inserting the same day loses)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ground.errors import MailroomError
from pipeline.context import Context
from storage.audit import record
from storage.db import session_scope
from storage.models import HousekeepingRun, LoginFailure, OutboxEvent, WebSession
from storage.retention import load_policy, run_retention
from storage.users import FAILURE_WINDOW

log = logging.getLogger(__name__)


def due(ctx: Context, now: datetime) -> str | None:
    """Today's local date (the run's key) when the configured time has passed and today has not run; else None."""
    at = ctx.settings.housekeeping_at
    if not at:
        return None
    local = now.astimezone(ZoneInfo(ctx.settings.time_zone))
    if local.strftime("%H:%M") < at:
        return None
    day = local.date().isoformat()
    with session_scope(ctx.db_url) as s:
        return None if s.get(HousekeepingRun, day) is not None else day


def run_housekeeping(ctx: Context, now: datetime, *, day: str | None = None) -> dict[str, Any] | None:
    """Claim the day and do the housekeeping; None when another process has the day."""
    day = day or now.astimezone(ZoneInfo(ctx.settings.time_zone)).date().isoformat()
    try:
        with session_scope(ctx.db_url) as s:
            s.add(HousekeepingRun(day=day, started_at=now, summary={}))
    except IntegrityError:
        return None
    try:
        return _housekeeping(ctx, now, day)
    except (SQLAlchemyError, MailroomError):
        with session_scope(ctx.db_url) as s:  # the day is free again: the next round tries once more
            s.execute(delete(HousekeepingRun).where(HousekeepingRun.day == day,
                                                    HousekeepingRun.finished_at.is_(None)))
        raise


def _housekeeping(ctx: Context, now: datetime, day: str) -> dict[str, Any]:
    policy = load_policy(ctx.settings.retention_policy)
    summary: dict[str, Any] = {"day": day}
    with session_scope(ctx.db_url) as s:
        preview = run_retention(s, ctx.blobs, policy, now=now, dry_run=True, actor="system")
        record(s, "system", "retention.dry_run", detail={
            "day": day, "would_purge": [d.envelope_id for d in preview.purged][:500],
            "held": len(preview.held), "open_items": len(preview.open_items)})
    with session_scope(ctx.db_url) as s:
        done = run_retention(s, ctx.blobs, policy, now=now, actor="system")
        summary["retention"] = {"purged": len(done.purged), "held": len(done.held),
                                "open_items": len(done.open_items), "errors": done.errors[:20]}
        record(s, "system", "retention.summary", detail={"day": day, **summary["retention"]})
    with session_scope(ctx.db_url) as s:
        summary["outbox_pruned"] = s.execute(delete(OutboxEvent).where(
            OutboxEvent.at < now - timedelta(days=ctx.settings.outbox_keep_days))).rowcount
        summary["sessions_pruned"] = s.execute(delete(WebSession).where(
            or_(WebSession.expires_at < now, WebSession.ended_at.is_not(None)))).rowcount
        summary["sign_in_failures_pruned"] = s.execute(delete(LoginFailure).where(
            LoginFailure.at < now - FAILURE_WINDOW)).rowcount
        run = s.get(HousekeepingRun, day)
        assert run is not None
        run.finished_at, run.summary = now, summary
        record(s, "system", "housekeeping.done", detail=summary)
    log.info("housekeeping %s: %s", day, summary)
    return summary


def last_runs(ctx: Context, limit: int = 10) -> list[HousekeepingRun]:
    with session_scope(ctx.db_url) as s:
        runs = list(s.scalars(select(HousekeepingRun).order_by(HousekeepingRun.day.desc()).limit(limit)))
        for r in runs:
            s.expunge(r)
        return runs
