"""Supervisor reports over time (issue 19): SLA and statutory compliance, breaches and near misses, time to
first response and to dispatch, volumes, backlog age, per-agent throughput; and the live per-agent figures
of the dashboard.

Plain functions over a Session (SQLite and PostgreSQL alike). A period is ``[start, end)`` in UTC; weeks
(Monday first) and months are cut in the site's time zone, so the bucket edges are computed here as UTC
instants and the database groups by them (``CASE``), which keeps the work inside the indexed range scan.
Every report returns a :class:`Report`: rows of plain values (the table is the source of truth; the page
draws its chart from the same rows), with column keys the web layer names in the reader's language.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, String, and_, case, cast, func, or_, select, text
from sqlalchemy.orm import Session, aliased

from storage.models import AuditEvent, Document, Envelope, WorkItem, WorkItemState

GROUPS = ("week", "month")
NAMES = ("compliance", "breaches", "response-times", "volumes", "backlog", "agents")
PER_AGENT = frozenset({"agents"})  # supervisors only: auditors never see who did how much
DIMENSIONS = ("all", "queue", "category", "language", "channel")
BREACH_LIMIT = 200
NEAR_MISS_SHARE = 0.10  # met with less than 10 % of the allowed time left
PERCENTILES = (50, 90, 95)
OPEN_STATES = (WorkItemState.NEW.value, WorkItemState.CLAIMED.value, WorkItemState.ON_HOLD.value)
DUPLICATE = "duplicate_of_case"  # copies attached to a case: the case's primary item is the one that counts

H = 3600.0
D = 24 * H
# Histogram of durations (seconds): (upper bound, key); the last bucket is open.
DURATION_BUCKETS: tuple[tuple[float, str], ...] = (
    (1 * H, "<1h"), (4 * H, "1-4h"), (8 * H, "4-8h"), (1 * D, "8-24h"), (2 * D, "1-2d"), (3 * D, "2-3d"),
    (7 * D, "3-7d"), (14 * D, "7-14d"), (30 * D, "14-30d"), (math.inf, ">30d"))
AGE_BUCKETS: tuple[tuple[float, str], ...] = (
    (1 * D, "<1d"), (3 * D, "1-3d"), (7 * D, "3-7d"), (14 * D, "7-14d"), (30 * D, "14-30d"), (math.inf, ">30d"))


@dataclass
class Period:
    start: datetime  # aware, inclusive
    end: datetime  # aware, exclusive
    group: str  # week | month
    zone: str  # the site's time zone: where weeks and months begin

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"group must be one of {', '.join(GROUPS)}")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period needs aware datetimes")
        if self.end <= self.start:
            raise ValueError("the period ends before it starts")


@dataclass
class Report:
    name: str
    columns: list[str]  # keys of each row, in table order
    rows: list[dict[str, Any]]
    chart: dict[str, Any] = field(default_factory=dict)  # what the page draws: kind, label key, series keys
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- periods in the site's zone


def bucket_start(moment: datetime, group: str, zone: str) -> date:
    """The local date on which ``moment``'s week (Monday) or month begins in ``zone``."""
    local = moment.astimezone(ZoneInfo(zone)).date()
    if group == "week":
        return local - timedelta(days=local.weekday())
    return local.replace(day=1)


def bucket_label(first: date, group: str) -> str:
    return first.isoformat() if group == "week" else first.strftime("%Y-%m")


def _next(first: date, group: str) -> date:
    if group == "week":
        return first + timedelta(days=7)
    return date(first.year + (first.month == 12), first.month % 12 + 1, 1)


def buckets(period: Period) -> list[tuple[str, datetime, datetime]]:
    """The weeks or months that meet the period: (label, start, end) with UTC edges clipped to the period."""
    tz = ZoneInfo(period.zone)
    first = bucket_start(period.start, period.group, period.zone)
    out = []
    while True:
        nxt = _next(first, period.group)
        lo = datetime(first.year, first.month, first.day, tzinfo=tz).astimezone(UTC)
        hi = datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).astimezone(UTC)
        if lo >= period.end:
            break
        out.append((bucket_label(first, period.group), max(lo, period.start.astimezone(UTC)),
                    min(hi, period.end.astimezone(UTC))))
        first = nxt
    return out


def _bucket_expr(column: Any, edges: Sequence[tuple[str, datetime, datetime]]) -> Any:
    """SQL: the index of the bucket a timestamp falls in (rows are already limited to the period)."""
    whens = [(column < hi, i) for i, (_, _, hi) in enumerate(edges[:-1])]
    return case(*whens, else_=len(edges) - 1) if whens else case((column.is_not(None), 0), else_=0)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# ---------------------------------------------------------------- statistics


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None when there are none)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return float(sorted_values[rank - 1])


def histogram(values: Iterable[float], bounds: Sequence[tuple[float, str]]) -> dict[str, int]:
    out = {key: 0 for _, key in bounds}
    for v in values:
        for hi, key in bounds:
            if v < hi:
                out[key] += 1
                break
    return out


def _share(met: int, decided: int) -> float | None:
    return round(met / decided, 4) if decided else None


# ---------------------------------------------------------------- compliance, breaches, near misses


_W, _D, _E = WorkItem, Document, Envelope
_ALL = ["1", "2"]  # GROUP BY the first output columns by position: a CASE with parameters is not repeated


def _seconds(session: Session, column: Any) -> Any:
    """SQL: a timestamp as seconds (for differences): julianday on SQLite, the epoch on PostgreSQL."""
    if session.get_bind().dialect.name == "sqlite":
        return func.julianday(column) * 86400.0
    return cast(func.extract("epoch", column), Float)


def _deadline(session: Session, kind: str, now: datetime) -> tuple[Any, Any, Any, Any]:
    """SQL for one kind of deadline: (due, when it ended, met | breached | open, share of the time left).

    Internal (``sla``): ended by the dispatched reply or the completion; breached when the sweep marked it
    (``sla_state``), when it ended late, or when still open past its due time. Statutory: only a dispatch
    stops the clock (``dispatched_at <= statutory_due``); the sweep's ``statutory_breached`` flag counts."""
    if kind == "sla":
        due = _W.sla_due
        ended = func.coalesce(_W.dispatched_at, case((_W.state == WorkItemState.DONE.value, _W.updated_at)))
        marked = _W.sla_state == "breached"
    else:
        due = _W.statutory_due
        ended = _W.dispatched_at
        marked = cast(_W.flags, String).like('%"statutory_breached"%')
    breached = or_(marked, and_(ended.is_(None), due <= now), ended > due)
    verdict = case((breached, "breached"), (ended.is_(None), "open"), else_="met")
    begun = func.coalesce(_W.registered_at, _W.created_at)
    allowed = _seconds(session, due) - _seconds(session, begun)
    left = case((allowed > 0, (_seconds(session, due) - _seconds(session, ended)) / allowed))
    return due, ended, verdict, left


def compliance(session: Session, period: Period, now: datetime) -> Report:
    """Internal SLA and statutory deadlines falling in the period, per week/month and per queue, category,
    language and channel: due, met, breached, still open, share met (of those decided)."""
    edges = buckets(period)
    counts: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    slot = {"met": 1, "breached": 2, "open": 3}
    for kind in ("sla", "statutory"):
        due, _, verdict, _ = _deadline(session, kind, now)
        q = (select(_bucket_expr(due, edges), verdict, _W.queue, _D.category, _D.language, _E.channel, func.count())
             .select_from(_W).join(_D, _D.id == _W.document_id).join(_E, _E.id == _D.envelope_id)
             .where(due >= period.start, due < period.end, _W.outcome.is_distinct_from(DUPLICATE))
             .group_by(*(text(c) for c in _ALL), _W.queue, _D.category, _D.language, _E.channel))
        for i, v, queue, category, language, channel, n in session.execute(q):
            label = edges[i][0]
            for dim, value in (("all", ""), ("queue", queue), ("category", category or ""),
                               ("language", language or ""), ("channel", channel or "")):
                for p in (label, ""):  # "" = the whole period
                    c = counts[(p, kind, dim, value)]
                    c[0] += n
                    c[slot[v]] += n
    order = {lab: i for i, (lab, _, _) in enumerate(edges)}
    rows = []
    for (p, kind, dim, value), (due_n, met, breached, still) in sorted(
            counts.items(), key=lambda kv: (kv[0][0] == "", order.get(kv[0][0], -1), kv[0][1],
                                            DIMENSIONS.index(kv[0][2]), kv[0][3])):
        rows.append({"period": p or "total", "kind": kind, "dimension": dim, "value": value, "due": due_n,
                     "met": met, "breached": breached, "open": still, "share_met": _share(met, met + breached)})
    return Report("compliance", ["period", "kind", "dimension", "value", "due", "met", "breached", "open",
                                 "share_met"], rows,
                  chart={"type": "line", "x": "period", "filter": {"dimension": "all"}, "split": "kind",
                         "y": "share_met", "labels": [lab for lab, _, _ in edges]})


def breaches(session: Session, period: Period, now: datetime, limit: int = BREACH_LIMIT) -> Report:
    """Deadlines in the period that were breached, and near misses (met with < 10 % of the time left),
    with their item ids, earliest first (at most ``limit`` of each)."""
    edges = buckets(period)
    totals = {"breached": 0, "near_miss": 0}
    per_bucket: dict[tuple[str, str], int] = defaultdict(int)
    found: dict[str, list[dict[str, Any]]] = {"breached": [], "near_miss": []}
    for kind in ("sla", "statutory"):
        due, ended, verdict, left = _deadline(session, kind, now)
        what = case((verdict == "breached", "breached"),
                    (and_(verdict == "met", left < NEAR_MISS_SHARE), "near_miss"))
        where = (due >= period.start, due < period.end, _W.outcome.is_distinct_from(DUPLICATE))
        q = select(_bucket_expr(due, edges), what, func.count()).where(*where).group_by(*(text(c) for c in _ALL))
        for i, w, n in session.execute(q):
            if w is not None:
                totals[w] += n
                per_bucket[(edges[i][0], w)] += n
        for w in found:
            q = (select(_W.id, _W.queue, _D.category, _D.language, _E.channel, due, left)
                 .select_from(_W).join(_D, _D.id == _W.document_id).join(_E, _E.id == _D.envelope_id)
                 .where(*where, what == w).order_by(due, _W.id).limit(limit))
            for item, queue, category, language, channel, when, share in session.execute(q):
                found[w].append({"what": w, "item": item, "kind": kind, "queue": queue, "category": category or "",
                                 "language": language or "", "channel": channel or "",
                                 "due": _aware(when).isoformat(),  # type: ignore[union-attr]
                                 "time_left": None if share is None else round(float(share), 4)})
    rows = []
    for w in ("breached", "near_miss"):
        found[w].sort(key=lambda r: (r["due"], r["item"], r["kind"]))
        rows.extend(found[w][:limit])
    return Report("breaches", ["what", "item", "kind", "queue", "category", "language", "channel", "due",
                               "time_left"], rows,
                  chart={"type": "bar", "labels": [lab for lab, _, _ in edges],
                         "series": {w: [per_bucket[(lab, w)] for lab, _, _ in edges] for w in totals}},
                  extra={"totals": totals, "limit": limit})


# ---------------------------------------------------------------- time to first response and to dispatch


def response_times(session: Session, period: Period) -> Report:
    """Items created in the period: how long to the first letter out and to the dispatched reply
    (count, p50, p90, p95, max in seconds, and a histogram)."""
    created = _seconds(session, _W.created_at)
    q = (select(_seconds(session, _W.first_response_at) - created, _seconds(session, _W.dispatched_at) - created)
         .where(_W.created_at >= period.start, _W.created_at < period.end,
                or_(_W.first_response_at.is_not(None), _W.dispatched_at.is_not(None)),
                _W.outcome.is_distinct_from(DUPLICATE)))
    first: list[float] = []
    dispatch: list[float] = []
    for responded, dispatched in session.execute(q):
        if responded is not None:
            first.append(max(0.0, round(float(responded), 3)))
        if dispatched is not None:
            dispatch.append(max(0.0, round(float(dispatched), 3)))
    rows = []
    hist = {}
    for measure, values in (("first_response", first), ("dispatch", dispatch)):
        values.sort()
        row: dict[str, Any] = {"measure": measure, "count": len(values)}
        for p in PERCENTILES:
            row[f"p{p}"] = percentile(values, p)
        row["max"] = values[-1] if values else None
        rows.append(row)
        hist[measure] = histogram(values, DURATION_BUCKETS)
    hist_rows = [{"bucket": key, "first_response": hist["first_response"][key], "dispatch": hist["dispatch"][key]}
                 for _, key in DURATION_BUCKETS]
    return Report("response-times", ["measure", "count", "p50", "p90", "p95", "max"], rows,
                  chart={"type": "bar", "labels": [k for _, k in DURATION_BUCKETS],
                         "series": {m: [hist[m][k] for _, k in DURATION_BUCKETS] for m in hist}},
                  extra={"histogram": hist_rows, "histogram_columns": ["bucket", "first_response", "dispatch"]})


# ---------------------------------------------------------------- volumes


def volumes(session: Session, period: Period) -> Report:
    """Work items created per week/month by channel, language and category (grouped in the database)."""
    edges = buckets(period)
    q = (select(_bucket_expr(_W.created_at, edges), _E.channel, _D.language, _D.category, func.count())
         .select_from(_W).join(_D, _D.id == _W.document_id).join(_E, _E.id == _D.envelope_id)
         .where(_W.created_at >= period.start, _W.created_at < period.end)
         .group_by(text("1"), _E.channel, _D.language, _D.category))
    counts: dict[tuple[int, str, str], int] = defaultdict(int)
    totals: dict[int, int] = defaultdict(int)
    for i, channel, language, category, n in session.execute(q):
        totals[i] += n
        for dim, value in (("channel", channel), ("language", language), ("category", category)):
            counts[(i, dim, value or "")] += n
    rows = []
    for i, (label, _, _) in enumerate(edges):
        rows.append({"period": label, "dimension": "all", "value": "", "items": totals.get(i, 0)})
        for dim in ("channel", "language", "category"):
            for (j, d, value), n in sorted(counts.items()):
                if j == i and d == dim:
                    rows.append({"period": label, "dimension": dim, "value": value, "items": n})
    channels = sorted({v for (_, d, v) in counts if d == "channel"})
    return Report("volumes", ["period", "dimension", "value", "items"], rows,
                  chart={"type": "bar", "stacked": True, "labels": [lab for lab, _, _ in edges],
                         "series": {c: [counts.get((i, "channel", c), 0) for i in range(len(edges))]
                                    for c in channels}})


# ---------------------------------------------------------------- backlog age


def backlog(session: Session, now: datetime) -> Report:
    """Open items (new, claimed, on hold) by age at ``now``, per queue and in all."""
    whens = []
    for i, (hi, _) in enumerate(AGE_BUCKETS[:-1]):
        whens.append((_W.created_at > now - timedelta(seconds=hi), i))
    b = case(*whens, else_=len(AGE_BUCKETS) - 1)
    q = select(_W.queue, b, func.count()).where(_W.state.in_(OPEN_STATES)).group_by(*(text(c) for c in _ALL))
    counts: dict[tuple[str, int], int] = defaultdict(int)
    for queue, i, n in session.execute(q):
        counts[(queue, i)] += n
        counts[("", i)] += n
    rows = []
    for queue in ["", *sorted({q for q, _ in counts if q})]:
        row: dict[str, Any] = {"queue": queue}
        for i, (_, key) in enumerate(AGE_BUCKETS):
            row[key] = counts.get((queue, i), 0)
        row["total"] = sum(counts.get((queue, i), 0) for i in range(len(AGE_BUCKETS)))
        rows.append(row)
    keys = [k for _, k in AGE_BUCKETS]
    return Report("backlog", ["queue", *keys, "total"], rows,
                  chart={"type": "bar", "labels": keys, "series": {"open": [rows[0][k] for k in keys]}},
                  extra={"at": now.isoformat()})


# ---------------------------------------------------------------- per agent (supervisors only)


CLAIMED, COMPLETED = "work_item.claimed", "work_item.completed"


def agents(session: Session, period: Period) -> Report:
    """Per agent: items completed in the period and the time from claim to completion (median, p90),
    from the audit trail (the last claim of the item by the same agent before the completion)."""
    done, claim = aliased(AuditEvent), aliased(AuditEvent)
    last_claim = func.max(claim.at)
    q = (select(done.actor, done.id, _seconds(session, func.max(done.at)) - _seconds(session, last_claim))
         .select_from(done)
         .outerjoin(claim, and_(claim.work_item_id == done.work_item_id, claim.action == CLAIMED,
                                claim.actor == done.actor, claim.at <= done.at))
         .where(done.action == COMPLETED, done.at >= period.start, done.at < period.end)
         .group_by(done.id, done.actor))
    per: dict[str, list[float]] = defaultdict(list)
    count: dict[str, int] = defaultdict(int)
    for actor, _, took in session.execute(q):
        count[actor] += 1
        if took is not None:
            per[actor].append(max(0.0, round(float(took), 3)))
    rows = []
    for actor in sorted(count):
        values = sorted(per[actor])
        rows.append({"agent": actor, "completed": count[actor], "timed": len(values),
                     "median_handling": percentile(values, 50), "p90_handling": percentile(values, 90)})
    return Report("agents", ["agent", "completed", "timed", "median_handling", "p90_handling"], rows,
                  chart={"type": "bar", "labels": [r["agent"] for r in rows],
                         "series": {"completed": [r["completed"] for r in rows]}})


def run(name: str, session: Session, period: Period, now: datetime) -> Report:
    if name == "compliance":
        return compliance(session, period, now)
    if name == "breaches":
        return breaches(session, period, now)
    if name == "response-times":
        return response_times(session, period)
    if name == "volumes":
        return volumes(session, period)
    if name == "backlog":
        return backlog(session, now)
    if name == "agents":
        return agents(session, period)
    raise KeyError(name)


# ---------------------------------------------------------------- live per-agent figures (the dashboard)


@dataclass
class AgentFigures:
    agent: str
    claimed: int  # claimed now
    done_today: int  # completed since midnight in the site's zone
    on_hold: int
    oldest_claim_seconds: float  # how long the agent's oldest current claim has been held (0 when none)


def agent_figures(session: Session, now: datetime, zone: str) -> list[AgentFigures]:
    local = now.astimezone(ZoneInfo(zone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    claimed = dict(session.execute(select(_W.assignee, func.count()).where(
        _W.state == WorkItemState.CLAIMED.value, _W.assignee.is_not(None)).group_by(_W.assignee)).all())
    held = dict(session.execute(select(_W.assignee, func.count()).where(
        _W.state == WorkItemState.ON_HOLD.value, _W.assignee.is_not(None)).group_by(_W.assignee)).all())
    done = dict(session.execute(select(AuditEvent.actor, func.count()).where(
        AuditEvent.action == COMPLETED, AuditEvent.at >= midnight, AuditEvent.at <= now)
        .group_by(AuditEvent.actor)).all())
    oldest: dict[str, float] = {}
    ids = {i: a for i, a in session.execute(select(_W.id, _W.assignee).where(
        _W.state == WorkItemState.CLAIMED.value, _W.assignee.is_not(None)))}
    if ids:
        q = (select(AuditEvent.work_item_id, func.max(AuditEvent.at))
             .where(AuditEvent.action == CLAIMED, AuditEvent.work_item_id.in_(list(ids)))
             .group_by(AuditEvent.work_item_id))
        for item, at in session.execute(q):
            age = max(0.0, (now - _aware(at)).total_seconds())  # type: ignore[operator]
            agent = ids[item]
            oldest[agent] = max(oldest.get(agent, 0.0), age)
    names = sorted(set(claimed) | set(held) | set(done))
    return [AgentFigures(a, int(claimed.get(a, 0)), int(done.get(a, 0)), int(held.get(a, 0)), oldest.get(a, 0.0))
            for a in names]
