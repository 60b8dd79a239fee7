"""Reports over time (issue 19): one page for supervisors (``/supervisor/reports``) and auditors
(``/auditor/reports``, without the per-agent report), and the live per-agent figures of the dashboard.

Each report is a data table (the source of truth, readable without the chart) beside a chart that
web/static/reports.js draws with Chart.js from the JSON the page embeds (``<script type="application/json">``:
data, never executed; the CSP allows only our own script files)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_date
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from ground import i18n
from queues import reports
from storage.models import Role
from web.api_reports import TITLES, label, period_of
from web.deps import CtxDep, CurrentUser, SessionDep
from web.pages import localize, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(localize)])


def _duration(seconds: float | None) -> str:
    return "" if seconds is None else i18n.format_hours(int(seconds))


def _share(value: float | None) -> str:
    return "" if value is None else i18n.format_decimal(value * 100, 1) + " %"


def _value(dimension: str, value: str, queue_names: dict[str, str]) -> str:
    if dimension == "category":
        return i18n.category_name(value) or value
    if dimension == "channel":
        return i18n.channel_name(value) or value
    if dimension == "language":
        return i18n.language_name(value) if value else ""
    if dimension == "queue":
        return i18n.queue_name(queue_names.get(value, value))
    return label("all") if dimension == "all" else value


def _period_label(key: str, group: str) -> str:
    if key == "total":
        return label("total")
    if group == "week":
        return i18n.gettext("week of %(day)s") % {"day": i18n.format_date(date.fromisoformat(key))}
    year, month = (int(x) for x in key.split("-"))
    return format_date(date(year, month, 1), "LLLL y", locale=i18n.current().locale)


def _table(caption: str, keys: list[str], rows: list[list[str]], numeric: set[str]) -> dict[str, Any]:
    return {"caption": caption, "headers": [label(k) for k in keys], "rows": rows,
            "numeric": [k in numeric for k in keys]}


def _view(name: str, rep: reports.Report, period: reports.Period, names: dict[str, str]) -> dict[str, Any]:
    """What the page shows of one report: tables of display strings and the chart's data."""
    plabel = [_period_label(x, period.group) for x in rep.chart.get("labels", [])] \
        if name in ("compliance", "breaches", "volumes") else []
    tables: list[dict[str, Any]] = []
    chart: dict[str, Any] = {"type": rep.chart.get("type", "bar"), "stacked": bool(rep.chart.get("stacked"))}
    num = {"due", "met", "breached", "open", "share_met", "count", "items", "completed", "timed", "total"}
    if name == "compliance":
        allrows = [r for r in rep.rows if r["dimension"] == "all"]
        keys = ["period", "kind", "due", "met", "breached", "open", "share_met"]
        tables.append(_table(i18n.gettext("Per period, all items"), keys, [
            [_period_label(r["period"], period.group), label(r["kind"]), str(r["due"]), str(r["met"]),
             str(r["breached"]), str(r["open"]), _share(r["share_met"])] for r in allrows], num))
        dims = [r for r in rep.rows if r["period"] == "total" and r["dimension"] != "all"]
        keys = ["dimension", "value", "kind", "due", "met", "breached", "open", "share_met"]
        tables.append(_table(i18n.gettext("The whole period by queue, category, language and channel"), keys, [
            [label(r["dimension"]), _value(r["dimension"], r["value"], names), label(r["kind"]), str(r["due"]),
             str(r["met"]), str(r["breached"]), str(r["open"]), _share(r["share_met"])] for r in dims], num))
        series = {}
        for kind in ("sla", "statutory"):
            by = {r["period"]: r["share_met"] for r in allrows if r["kind"] == kind}
            series[label(kind)] = [None if by.get(x) is None else round(by[x] * 100, 1)
                                   for x in rep.chart["labels"]]
        chart.update(labels=plabel, series=series, unit="%")
    elif name == "breaches":
        keys = ["what", "item", "kind", "queue", "category", "channel", "due", "time_left"]
        limit = rep.extra["limit"]
        caption = i18n.ngettext("Items (at most %(num)d of each)", "Items (at most %(num)d of each)", limit)
        tables.append(_table(caption % {"num": limit}, keys, [
            [label(r["what"]), str(r["item"]), label(r["kind"]), _value("queue", r["queue"], names),
             _value("category", r["category"], names), _value("channel", r["channel"], names),
             i18n.format_datetime(datetime.fromisoformat(r["due"]), "short"),
             _share(r["time_left"])] for r in rep.rows], {"item", "time_left"}))
        chart.update(labels=plabel, series={label(k): v for k, v in rep.chart["series"].items()})
    elif name == "response-times":
        keys = ["measure", "count", "p50", "p90", "p95", "max"]
        tables.append(_table(i18n.gettext("Distribution"), keys, [
            [label(r["measure"]), str(r["count"]), _duration(r["p50"]), _duration(r["p90"]), _duration(r["p95"]),
             _duration(r["max"])] for r in rep.rows], num | {"p50", "p90", "p95", "max"}))
        hkeys = rep.extra["histogram_columns"]
        tables.append(_table(i18n.gettext("Histogram"), hkeys, [
            [label(h["bucket"]), str(h["first_response"]), str(h["dispatch"])] for h in rep.extra["histogram"]],
            {"first_response", "dispatch"}))
        chart.update(labels=[label(k) for k in rep.chart["labels"]],
                     series={label(k): v for k, v in rep.chart["series"].items()})
    elif name == "volumes":
        channels = list(rep.chart["series"])
        per = {(r["period"], r["value"]): r["items"] for r in rep.rows if r["dimension"] == "channel"}
        tot = {r["period"]: r["items"] for r in rep.rows if r["dimension"] == "all"}
        headers = ["period", "total"]
        t = _table(i18n.gettext("Items per period and channel"), headers, [
            [_period_label(p, period.group), str(tot.get(p, 0)), *[str(per.get((p, c), 0)) for c in channels]]
            for p in rep.chart["labels"]], num)
        t["headers"] += [_value("channel", c, names) for c in channels]
        t["numeric"] += [True] * len(channels)
        tables.append(t)
        for dim in ("language", "category"):
            sums: dict[str, int] = {}
            for r in rep.rows:
                if r["dimension"] == dim:
                    sums[r["value"]] = sums.get(r["value"], 0) + r["items"]
            caption = i18n.gettext("The whole period by language") if dim == "language" else i18n.gettext(
                "The whole period by category")
            tables.append(_table(caption, ["value", "items"],
                                 [[_value(dim, k, names), str(v)] for k, v in sorted(sums.items())], num))
        chart.update(labels=plabel, series={_value("channel", k, names): v for k, v in rep.chart["series"].items()})
    elif name == "backlog":
        keys = rep.columns
        tables.append(_table(i18n.gettext("Open items by age"), keys, [
            [_value("queue", r["queue"], names) if r["queue"] else label("all"), *[str(r[k]) for k in keys[1:]]]
            for r in rep.rows], set(keys[1:])))
        chart.update(labels=[label(k) for k in rep.chart["labels"]],
                     series={i18n.gettext("Open items"): rep.chart["series"]["open"]})
    elif name == "agents":
        keys = rep.columns
        tables.append(_table(i18n.gettext("Per agent"), keys, [
            [r["agent"], str(r["completed"]), str(r["timed"]), _duration(r["median_handling"]),
             _duration(r["p90_handling"])] for r in rep.rows], num | {"median_handling", "p90_handling"}))
        chart.update(labels=rep.chart["labels"], series={label("completed"): rep.chart["series"]["completed"]})
    return {"name": name, "title": i18n.gettext(TITLES[name]), "tables": tables,
            "chart": json.dumps(chart, ensure_ascii=False).replace("</", "<\\/")}


def _page(request: Request, user: Any, session: Any, ctx: Any, start: str, end: str, group: str,
          base: str) -> HTMLResponse:
    errors = []
    s = i18n.parse_date_input(start) if start else None
    e = i18n.parse_date_input(end) if end else None
    if (start and s is None) or (end and e is None):
        errors.append(i18n.gettext("Write the dates as %(hint)s.") % {"hint": i18n.date_hint()})
    if group not in reports.GROUPS:
        group = "week"
    try:
        period = period_of(ctx, s, e, group)
    except Exception as exc:  # noqa: BLE001 - the form says what is wrong and shows the default period
        errors.append(str(getattr(exc, "detail", exc)))
        period = period_of(ctx, None, None, group)
    names = [n for n in reports.NAMES if n not in reports.PER_AGENT or user.role == Role.SUPERVISOR.value]
    now = datetime.now(UTC)
    queue_names = {q.id: q.name for q in ctx.rules.queues}
    views = [_view(n, reports.run(n, session, period, now), period, queue_names) for n in names]
    tz = ZoneInfo(period.zone)
    shown_from = period.start.astimezone(tz).date()
    shown_to = (period.end.astimezone(tz) - timedelta(days=1)).date()
    query = urlencode({"from": shown_from.isoformat(), "to": shown_to.isoformat(), "group": period.group})
    return render(request, "reports.html", views=views, errors=errors, group=period.group, zone=period.zone,
                  shown_from=shown_from, shown_to=shown_to, query=query, base=base)


@router.get("/supervisor/reports")
def supervisor_reports(request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep, start: str = "",
                       end: str = "", group: str = "week") -> HTMLResponse:
    return _page(request, user, session, ctx, request.query_params.get("from", start),
                 request.query_params.get("to", end), group, "/supervisor/reports")


@router.get("/auditor/reports")
def auditor_reports(request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep, start: str = "",
                    end: str = "", group: str = "week") -> HTMLResponse:
    return _page(request, user, session, ctx, request.query_params.get("from", start),
                 request.query_params.get("to", end), group, "/auditor/reports")


@router.get("/supervisor/agents")
def supervisor_agents(request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> HTMLResponse:
    """The live per-agent figures of the dashboard (refreshed by htmx)."""
    return render(request, "_supervisor_agents.html",
                  agent_figures=reports.agent_figures(session, datetime.now(UTC), ctx.settings.time_zone))
