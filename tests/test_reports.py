"""Supervisor reports over time (issue 19): each report's figures on a small hand-built set whose answers are
known, weeks and months in the site's zone, CSV and XLSX exports, who may see what, the live per-agent
figures, and the reports page in a real browser (chart drawn, table there, CSV downloads).

With MAILROOM_SCREENSHOTS=docs/screenshots the reports page is saved there (reports-*.png)."""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.context import Context
from queues import reports
from storage.audit import record
from storage.db import session_scope
from storage.models import Document, DocumentState, Envelope, Role, WorkItem
from storage.users import upsert_user
from tests.support.servers import served
from web.app import create_app

USERS = {"boss": Role.SUPERVISOR, "audi": Role.AUDITOR, "anna": Role.AGENT, "petr": Role.AGENT}
ZONE = "Europe/Warsaw"
Q = {"from": "2026-11-02", "to": "2026-11-29"}  # four Warsaw weeks: Nov 2, 9, 16, 23


def t(day: int, hour: int = 10, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def _item(s, n: int, created: datetime, *, queue: str = "complaints", category: str = "complaint",  # type: ignore[no-untyped-def]
          language: str = "pl", channel: str = "email", sla_due: datetime, statutory_due: datetime | None = None,
          dispatched: datetime | None = None, first_response: datetime | None = None, state: str = "done",
          updated: datetime | None = None, sla_state: str = "ok", assignee: str | None = None) -> None:
    env_id = f"rep-env-{n}"
    s.add(Envelope(id=env_id, channel=channel, source_name=f"{n}.pdf", content_type="application/pdf",
                   sha256=hashlib.sha256(env_id.encode()).hexdigest(), size=1, received_at=created))
    s.add(Document(id=f"rep-doc-{n}", envelope_id=env_id, part_index=0, doc_index=0, part_sha256="0" * 64, pages=1,
                   text="x", state=DocumentState.ROUTED, language=language, category=category))
    s.flush()
    s.add(WorkItem(id=n, document_id=f"rep-doc-{n}", queue=queue, priority=5, routing_rule="r", sla_policy="p",
                   sla_due=sla_due, statutory_due=statutory_due, dispatched_at=dispatched,
                   first_response_at=first_response, state=state, created_at=created,
                   updated_at=updated or dispatched or created, sla_state=sla_state, assignee=assignee))


def build(ctx: Context | str) -> None:
    with session_scope(ctx if isinstance(ctx, str) else ctx.db_url) as s:
        for name, role in USERS.items():
            upsert_user(s, name, f"{name}-password", role, name.title())
        # 1: internal met with half the time left, statutory met; first answer after 2 h, dispatched after 24 h
        _item(s, 1, t(3), sla_due=t(5), statutory_due=t(20), dispatched=t(4), first_response=t(3, 12))
        # 2: met with 1 h of 48 left (a near miss); first answer after 4 h, dispatched after 47 h
        _item(s, 2, t(3), sla_due=t(5), dispatched=t(5, 9), first_response=t(3, 14), channel="scan")
        # 3: both deadlines breached: dispatched a day late; first answer after 8 h, dispatched after 72 h
        _item(s, 3, t(10), queue="billing", category="invoice_query", language="cs", channel="fax", sla_due=t(12),
              statutory_due=t(12), dispatched=t(13), first_response=t(10, 18))
        # 4: still new, past its deadline: breached
        _item(s, 4, t(10), sla_due=t(12), state="new", sla_state="breached")
        # 5: claimed by anna, due after the period; 22 hours old at the backlog's moment
        _item(s, 5, t(24, 12), sla_due=t(20, month=12), state="claimed", assignee="anna")
        # 6: Sunday 23:30 UTC is Monday 00:30 in Warsaw: the week of Nov 9; due then too, met
        _item(s, 6, t(8, 23, 30), sla_due=t(8, 23, 30) + timedelta(days=1), dispatched=t(9, 12), language="en")
        # 7: on hold with petr since October: the oldest of the backlog, outside the period otherwise
        _item(s, 7, t(1, month=10), sla_due=t(5, month=10), state="on_hold", assignee="petr")
        s.flush()
        for actor, item, claimed, completed in (("anna", 1, t(3, 11), t(4)), ("anna", 2, t(4, 9), t(5, 9)),
                                                ("petr", 3, t(12), t(13))):
            record(s, actor, "work_item.claimed", work_item_id=item, at=claimed)
            record(s, actor, "work_item.completed", work_item_id=item, at=completed)
        record(s, "anna", "work_item.claimed", work_item_id=5, at=t(24, 13))


@pytest.fixture
def web(ctx: Context) -> Iterator[TestClient]:
    build(ctx)
    with TestClient(create_app(ctx), follow_redirects=False) as client:
        yield client


def period(group: str = "week") -> reports.Period:
    return reports.Period(t(1, 23), t(29, 23), group, ZONE)  # Nov 2 00:00 – Nov 30 00:00 Warsaw


def auth(name: str) -> tuple[str, str]:
    return (name, f"{name}-password")


def get(web: TestClient, path: str, who: str = "boss", **params: str):  # type: ignore[no-untyped-def]
    return web.get(path, params={**Q, **params}, auth=auth(who))


# ---------------------------------------------------------------- periods in the site's zone


def test_weeks_and_months_begin_in_the_site_zone() -> None:
    sunday_night = datetime(2026, 11, 8, 23, 30, tzinfo=UTC)  # Monday 00:30 in Warsaw
    assert reports.bucket_label(reports.bucket_start(sunday_night, "week", ZONE), "week") == "2026-11-09"
    assert reports.bucket_label(reports.bucket_start(sunday_night, "week", "UTC"), "week") == "2026-11-02"
    new_year = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert reports.bucket_label(reports.bucket_start(new_year, "month", ZONE), "month") == "2027-01"
    edges = reports.buckets(period())
    assert [e[0] for e in edges] == ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"]
    assert edges[1][1] == datetime(2026, 11, 8, 23, tzinfo=UTC)
    assert [e[0] for e in reports.buckets(period("month"))] == ["2026-11"]


def test_percentiles_are_nearest_rank() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    assert [reports.percentile(values, p) for p in (50, 90, 95)] == [5.0, 9.0, 10.0]
    assert reports.percentile([], 50) is None
    assert reports.histogram([10, 3600, 7200, 40 * 86400], reports.DURATION_BUCKETS)["1-4h"] == 2


# ---------------------------------------------------------------- each report's figures


def test_compliance_counts_met_breached_and_open(web: TestClient) -> None:
    r = get(web, "/api/reports/compliance")
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]

    def row(period: str, kind: str, dim: str = "all", value: str = "") -> dict:
        key = (period, kind, dim, value)
        return next(x for x in rows if (x["period"], x["kind"], x["dimension"], x["value"]) == key)

    total = row("total", "sla")
    assert (total["due"], total["met"], total["breached"], total["open"]) == (5, 3, 2, 0)
    assert total["share_met"] == 0.6
    assert (row("2026-11-02", "sla")["met"], row("2026-11-09", "sla")["breached"]) == (2, 2)
    assert row("2026-11-09", "sla")["met"] == 1  # item 6: Sunday night UTC is Monday's week in Warsaw
    stat = row("total", "statutory")
    assert (stat["due"], stat["met"], stat["breached"]) == (2, 1, 1)
    assert row("total", "sla", "channel", "fax")["breached"] == 1
    assert row("total", "sla", "category", "invoice_query")["share_met"] == 0.0
    assert row("total", "sla", "language", "en")["met"] == 1
    assert row("total", "sla", "queue", "billing")["due"] == 1


def test_breaches_and_near_misses_name_their_items(web: TestClient) -> None:
    body = get(web, "/api/reports/breaches").json()
    got = sorted((x["what"], x["item"], x["kind"]) for x in body["rows"])
    assert got == [("breached", 3, "sla"), ("breached", 3, "statutory"), ("breached", 4, "sla"),
                   ("near_miss", 2, "sla")]
    assert body["totals"] == {"breached": 3, "near_miss": 1}


def test_response_times_are_distributions(web: TestClient) -> None:
    rows = {x["measure"]: x for x in get(web, "/api/reports/response-times").json()["rows"]}
    first = rows["first_response"]
    assert first["count"] == 3
    assert (first["p50"], first["p90"], first["p95"], first["max"]) == (4 * 3600, 8 * 3600, 8 * 3600, 8 * 3600)
    dispatch = rows["dispatch"]
    assert dispatch["count"] == 4  # items 1, 2, 3 and 6 (12 h 30 min)
    assert dispatch["p50"] == 24 * 3600 and dispatch["max"] == 72 * 3600
    hist = {h["bucket"]: h for h in get(web, "/api/reports/response-times").json()["histogram"]}
    assert (hist["1-4h"]["first_response"], hist["4-8h"]["first_response"], hist["8-24h"]["first_response"]) == (
        1, 1, 1)


def test_volumes_per_week_by_channel_language_category(web: TestClient) -> None:
    rows = get(web, "/api/reports/volumes").json()["rows"]
    totals = {x["period"]: x["items"] for x in rows if x["dimension"] == "all"}
    assert totals == {"2026-11-02": 2, "2026-11-09": 3, "2026-11-16": 0, "2026-11-23": 1}
    by = {(x["period"], x["dimension"], x["value"]): x["items"] for x in rows}
    assert by[("2026-11-02", "channel", "scan")] == 1
    assert by[("2026-11-09", "language", "en")] == 1
    assert by[("2026-11-09", "category", "invoice_query")] == 1
    month = get(web, "/api/reports/volumes", group="month").json()["rows"]
    assert [x["items"] for x in month if x["dimension"] == "all"] == [6]


def test_backlog_by_age(ctx: Context) -> None:
    build(ctx)
    with session_scope(ctx.db_url) as s:
        rep = reports.backlog(s, t(25, 10))
    everything = rep.rows[0]
    assert everything["queue"] == ""
    assert (everything["<1d"], everything["14-30d"], everything[">30d"], everything["total"]) == (1, 1, 1, 3)
    assert everything["1-3d"] == everything["3-7d"] == everything["7-14d"] == 0


def test_per_agent_throughput_and_handling_time(web: TestClient) -> None:
    rows = {x["agent"]: x for x in get(web, "/api/reports/agents").json()["rows"]}
    assert rows["anna"]["completed"] == 2 and rows["petr"]["completed"] == 1
    assert rows["anna"]["median_handling"] == 23 * 3600  # 23 h and 24 h: the lower by nearest rank
    assert rows["petr"]["median_handling"] == 24 * 3600


def test_live_agent_figures(ctx: Context) -> None:
    build(ctx)
    with session_scope(ctx.db_url) as s:
        figures = {f.agent: f for f in reports.agent_figures(s, t(24, 15), ZONE)}
    assert figures["anna"].claimed == 1 and figures["anna"].oldest_claim_seconds == 2 * 3600
    assert figures["petr"].on_hold == 1 and figures["petr"].claimed == 0
    with session_scope(ctx.db_url) as s:
        done = {f.agent: f.done_today for f in reports.agent_figures(s, t(4, 12), ZONE)}
    assert done["anna"] == 1


def test_the_same_figures_on_postgresql(postgres_url: str) -> None:
    import uuid

    from sqlalchemy import create_engine, text

    from storage.db import migrate

    name = f"reports_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    migrate(url)
    build(url)
    now = t(25, 10)
    with session_scope(url) as s:
        comp = reports.compliance(s, period(), now)
        total = next(r for r in comp.rows if (r["period"], r["kind"], r["dimension"]) == ("total", "sla", "all"))
        assert (total["due"], total["met"], total["breached"]) == (5, 3, 2)
        week = next(r for r in comp.rows if (r["period"], r["kind"], r["dimension"]) == ("2026-11-09", "sla", "all"))
        assert week["met"] == 1
        br = reports.breaches(s, period(), now)
        assert br.extra["totals"] == {"breached": 3, "near_miss": 1}
        assert {r["item"] for r in br.rows if r["what"] == "near_miss"} == {2}
        rt = {r["measure"]: r for r in reports.response_times(s, period()).rows}
        assert rt["first_response"]["p50"] == 4 * 3600 and rt["dispatch"]["max"] == 72 * 3600
        vol = reports.volumes(s, period())
        assert [r["items"] for r in vol.rows if r["dimension"] == "all"] == [2, 3, 0, 1]
        assert reports.backlog(s, now).rows[0]["total"] == 3
        ag = {r["agent"]: r for r in reports.agents(s, period()).rows}
        assert ag["anna"]["median_handling"] == 23 * 3600
        assert {f.agent for f in reports.agent_figures(s, t(24, 15), ZONE)} == {"anna", "petr"}


# ---------------------------------------------------------------- exports and access


def test_csv_and_xlsx_exports_hold_the_table(web: TestClient) -> None:
    from openpyxl import load_workbook

    r = get(web, "/api/reports/volumes.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(r.text)))
    assert table[0] == ["Period", "By", "Value", "Items"]
    assert ["2026-11-09", "all", "", "3"] in table
    pl = web.get("/api/reports/volumes.csv", params=Q, auth=auth("boss"), headers={"Accept-Language": "pl"})
    assert pl.text.splitlines()[0] != "Period,By,Value,Items"  # translated headers
    x = get(web, "/api/reports/compliance.xlsx")
    assert x.status_code == 200
    ws = load_workbook(io.BytesIO(x.content)).active
    values = list(ws.values)
    assert values[0][:3] == ("Period", "Deadline", "By")
    assert any(v[0] == "total" and v[1] == "sla" and v[2] == "all" and v[5] == 3 for v in values[1:])
    a = get(web, "/api/reports/agents.xlsx")
    assert a.status_code == 200 and list(load_workbook(io.BytesIO(a.content)).active.values)[1][0] == "anna"


def test_auditors_see_all_but_the_per_agent_report_and_agents_none(web: TestClient) -> None:
    for name in ("compliance", "breaches", "response-times", "volumes", "backlog"):
        assert get(web, f"/api/reports/{name}", "audi").status_code == 200
        assert get(web, f"/api/reports/{name}.csv", "audi").status_code == 200
    for path in ("/api/reports/agents", "/api/reports/agents.csv", "/api/reports/agents.xlsx"):
        assert get(web, path, "audi").status_code == 404
        assert get(web, path, "boss").status_code == 200
    for path in ("/api/reports/compliance", "/api/reports/backlog.csv", "/api/reports/agents",
                 "/api/reports/volumes.xlsx"):
        assert get(web, path, "anna").status_code == 404
    assert get(web, "/api/reports/nonsense", "boss").status_code == 404
    assert get(web, "/api/reports/volumes", "boss", group="year").status_code == 422


def test_pages_for_supervisors_and_auditors(web: TestClient) -> None:
    from tests.test_web import sign_in

    sign_in(web, "boss")
    page = web.get("/supervisor/reports", params=Q)
    assert page.status_code == 200
    assert 'id="report-agents"' in page.text and 'type="application/json"' in page.text
    assert "/api/reports/volumes.csv?" in page.text
    dash = web.get("/supervisor")
    assert 'data-agent="anna"' in dash.text
    web.cookies.clear()
    sign_in(web, "audi")
    page = web.get("/auditor/reports", params=Q)
    assert page.status_code == 200 and 'id="report-volumes"' in page.text
    assert 'id="report-agents"' not in page.text
    assert web.get("/supervisor/reports").status_code == 404


# ---------------------------------------------------------------- in a real browser


@pytest.fixture
def live(ctx: Context) -> Iterator[str]:
    build(ctx)
    with served(create_app(ctx)) as base:
        yield base


def test_reports_page_in_a_browser(live: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=live, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/login")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "boss-password")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto("/supervisor/reports?from=2026-11-02&to=2026-11-29&group=week")
    page.wait_for_selector("#chart-volumes[data-drawn='1']", timeout=15000)
    drawn = page.evaluate("""() => { const c = document.getElementById('chart-volumes');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return [c.width, c.height, n]; }""")
    assert drawn[0] > 0 and drawn[1] > 0 and drawn[2] > 500, drawn
    out = os.environ.get("MAILROOM_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(out) / "reports-supervisor.png"))  # the top: the form and compliance
    assert page.locator("#report-volumes table").first.is_visible()
    assert page.locator("#report-compliance table tbody tr").count() >= 8
    with page.expect_download() as info:
        page.click("#report-volumes a[href*='volumes.csv']")
    saved = tmp_path / "volumes.csv"
    info.value.save_as(saved)
    assert saved.read_text(encoding="utf-8").splitlines()[0] == "Period,By,Value,Items"
    if out:
        page.locator("#report-response-times").screenshot(path=str(Path(out) / "reports-response-times.png"))
        page.goto("/supervisor")
        page.wait_for_load_state("networkidle")
        page.locator("#agent-figures").screenshot(path=str(Path(out) / "reports-live-agents.png"))
    assert not errors, errors
    context.close()
