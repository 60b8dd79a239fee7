"""Supervisor reports over time (issue 19): ``GET /api/reports/{name}`` as JSON, ``.csv`` and ``.xlsx``.
Thin shell over queues.reports. Supervisors see every report; auditors all but the per-agent one (its routes
are listed apart in web/deps.py ACCESS, and the generic route refuses it to anyone but a supervisor too)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from ground import i18n
from ground.i18n import N_, NC_
from queues import reports
from storage.models import Role, User
from web.deps import CtxDep, SessionDep, require

router = APIRouter(prefix="/api/reports", tags=["reports"])
Reader = Annotated[User, require(Role.SUPERVISOR, Role.AUDITOR)]
Supervisor = Annotated[User, require(Role.SUPERVISOR)]

DEFAULT_DAYS = 28  # four weeks: what answers within a second per report at 1,000,000 items (docs/benchmarks.md)
MAX_DAYS = 732  # two years at most in one report

TITLES = {
    "compliance": N_("SLA and statutory compliance"),
    "breaches": N_("Breaches and near misses"),
    "response-times": N_("Time to first response and to dispatch"),
    "volumes": N_("Volumes by channel, language and category"),
    "backlog": N_("Backlog by age"),
    "agents": N_("Throughput and handling time per agent"),
}
COLUMNS = {  # msgctxt "report": a column or bucket of a report table
    "period": NC_("report", "Period"),
    "kind": NC_("report", "Deadline"),
    "dimension": NC_("report", "By"),
    "value": NC_("report", "Value"),
    "due": NC_("report", "Due"),
    "met": NC_("report", "Met"),
    "breached": NC_("report", "Breached"),
    "open": NC_("report", "Still open"),
    "share_met": NC_("report", "Share met"),
    "what": NC_("report", "What"),
    "item": NC_("report", "Work item"),
    "queue": NC_("report", "Queue"),
    "category": NC_("report", "Category"),
    "language": NC_("report", "Language"),
    "channel": NC_("report", "Channel"),
    "time_left": NC_("report", "Time left"),
    "measure": NC_("report", "Measure"),
    "count": NC_("report", "Count"),
    "p50": NC_("report", "Median (p50)"),
    "p90": NC_("report", "p90"),
    "p95": NC_("report", "p95"),
    "max": NC_("report", "Longest"),
    "items": NC_("report", "Items"),
    "total": NC_("report", "Total"),
    "agent": NC_("report", "Agent"),
    "completed": NC_("report", "Completed"),
    "timed": NC_("report", "With a claim time"),
    "median_handling": NC_("report", "Median handling time"),
    "p90_handling": NC_("report", "p90 handling time"),
    "bucket": NC_("report", "Duration"),
    "first_response": NC_("report", "First response"),
    "dispatch": NC_("report", "Dispatch"),
    "near_miss": NC_("report", "Near miss"),
    "sla": NC_("report", "Internal SLA"),
    "statutory": NC_("report", "Statutory"),
    "all": NC_("report", "All"),
}
BUCKETS = {  # msgctxt "report": a column or bucket of a report table
    "<1h": NC_("report", "under 1 hour"),
    "1-4h": NC_("report", "1–4 hours"),
    "4-8h": NC_("report", "4–8 hours"),
    "8-24h": NC_("report", "8–24 hours"),
    "1-2d": NC_("report", "1–2 days"),
    "2-3d": NC_("report", "2–3 days"),
    "<1d": NC_("report", "under 1 day"),
    "1-3d": NC_("report", "1–3 days"),
    "3-7d": NC_("report", "3–7 days"),
    "7-14d": NC_("report", "7–14 days"),
    "14-30d": NC_("report", "14–30 days"),
    ">30d": NC_("report", "over 30 days"),
}
DURATION_COLUMNS = frozenset({"p50", "p90", "p95", "max", "median_handling", "p90_handling"})


def label(key: str) -> str:
    """A column, bucket or code's name in the language in force."""
    text = COLUMNS.get(key) or BUCKETS.get(key)
    return i18n.pgettext("report", text) if text else key


def period_of(ctx: Any, start: date | None, end: date | None, group: str, today: date | None = None) -> reports.Period:
    """``from``/``to`` are days in the site's zone, both included; without them the last four weeks."""
    zone = ctx.settings.time_zone
    tz = ZoneInfo(zone)
    today = today or datetime.now(tz).date()
    end = end or today
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if group not in reports.GROUPS:
        raise HTTPException(422, i18n.gettext("Group by week or by month."))
    if start > end:
        raise HTTPException(422, i18n.gettext("The period ends before it starts."))
    if (end - start).days >= MAX_DAYS:
        raise HTTPException(422, i18n.gettext("The period is too long: two years at most."))
    try:
        lo = datetime(start.year, start.month, start.day, tzinfo=tz).astimezone(UTC)
        nxt = end + timedelta(days=1)
        hi = datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).astimezone(UTC)
        reports.buckets(reports.Period(lo, hi, group, zone))  # the first week may begin before year 1
    except (OverflowError, ValueError):
        raise HTTPException(422, i18n.gettext("These dates are out of range.")) from None
    return reports.Period(lo, hi, group, zone)


def report_json(report: reports.Report, period: reports.Period) -> dict[str, Any]:
    out: dict[str, Any] = {"report": report.name, "from": period.start.isoformat(), "to": period.end.isoformat(),
                           "group": period.group, "zone": period.zone, "columns": report.columns,
                           "rows": report.rows, "chart": report.chart}
    out.update(report.extra)
    return out


def _visible(name: str, user: User) -> None:
    if name not in reports.NAMES or (name in reports.PER_AGENT and user.role != Role.SUPERVISOR.value):
        raise HTTPException(404, i18n.gettext("Not found."))


def _run(name: str, session: Any, ctx: Any, start: date | None, end: date | None, group: str
         ) -> tuple[reports.Report, reports.Period]:
    period = period_of(ctx, start, end, group)
    return reports.run(name, session, period, datetime.now(UTC)), period


def _safe(value: Any) -> Any:
    """Spreadsheets run a cell that starts with = + - @ as a formula: text gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def table(report: reports.Report) -> tuple[list[str], list[list[Any]]]:
    """The report's main table with headers in the reader's language (what CSV and XLSX carry)."""
    return [label(c) for c in report.columns], [[_safe(r.get(c)) for c in report.columns] for r in report.rows]


def _language(request: Request, user: User, ctx: Any) -> str:
    return i18n.choose_language(user.language, request.headers.get("accept-language"), ctx.settings.language)


From = Annotated[date | None, Query(alias="from")]
To = Annotated[date | None, Query(alias="to")]
Group = Annotated[str, Query(pattern="^(week|month)$")]


def _csv(report: reports.Report, period: reports.Period) -> Response:
    headers, rows = table(report)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    name = f"{report.name}-{period.group}.csv"
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _xlsx(report: reports.Report, period: reports.Period) -> Response:
    from openpyxl import Workbook

    headers, rows = table(report)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(report.name[:31])
    ws.append(headers)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    name = f"{report.name}-{period.group}.xlsx"
    return Response(buf.getvalue(),
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _export(fmt: str, name: str, request: Request, user: User, session: Any, ctx: Any, start: date | None,
            end: date | None, group: str) -> Response:
    _visible(name, user)
    with i18n.use(_language(request, user, ctx), ctx.settings.time_zone):
        report, period = _run(name, session, ctx, start, end, group)
        return _csv(report, period) if fmt == "csv" else _xlsx(report, period)


# The per-agent report first: its own routes, supervisors only (ACCESS).
@router.get("/agents.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def agents_csv(request: Request, user: Supervisor, session: SessionDep, ctx: CtxDep, start: From = None,
               end: To = None, group: Group = "week") -> Response:
    return _export("csv", "agents", request, user, session, ctx, start, end, group)


@router.get("/agents.xlsx", response_class=Response)
def agents_xlsx(request: Request, user: Supervisor, session: SessionDep, ctx: CtxDep, start: From = None,
                end: To = None, group: Group = "week") -> Response:
    return _export("xlsx", "agents", request, user, session, ctx, start, end, group)


@router.get("/agents")
def agents_report(user: Supervisor, session: SessionDep, ctx: CtxDep, start: From = None, end: To = None,
                  group: Group = "week") -> dict[str, Any]:
    """Per agent: items completed in the period and the time from claim to completion (supervisors only)."""
    report, period = _run("agents", session, ctx, start, end, group)
    return report_json(report, period)


@router.get("/{name}.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def report_csv(name: str, request: Request, user: Reader, session: SessionDep, ctx: CtxDep, start: From = None,
               end: To = None, group: Group = "week") -> Response:
    """The report's table as CSV, headers in the reader's language."""
    return _export("csv", name, request, user, session, ctx, start, end, group)


@router.get("/{name}.xlsx", response_class=Response)
def report_xlsx(name: str, request: Request, user: Reader, session: SessionDep, ctx: CtxDep, start: From = None,
                end: To = None, group: Group = "week") -> Response:
    """The report's table as an Excel workbook, headers in the reader's language."""
    return _export("xlsx", name, request, user, session, ctx, start, end, group)


@router.get("/{name}")
def report(name: str, user: Reader, session: SessionDep, ctx: CtxDep, start: From = None, end: To = None,
           group: Group = "week") -> dict[str, Any]:
    """One report (compliance, breaches, response-times, volumes, backlog) for ``from``–``to`` (days in the
    site's zone, both included; default the last four weeks), grouped by ``week`` or ``month``."""
    _visible(name, user)
    report, period = _run(name, session, ctx, start, end, group)
    return report_json(report, period)
