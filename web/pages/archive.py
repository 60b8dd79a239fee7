"""The auditors' pages: the archive search (storage/search.py, as the API), its CSV export, a document
with its audit trail, and the original file as a download."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse
from markupsafe import Markup
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ground import i18n
from ground.errors import MailroomError
from ground.i18n import NC_, _
from ground.records import CATEGORIES
from storage.audit import record
from storage.models import AuditEvent, Document, WorkItemState
from storage.search import Filters, search
from web.deps import CtxDep, CurrentUser, SessionDep
from web.pages import highlight, localize, page_error, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(localize)])

PAGE_SIZE = 25
EXPORT_PAGE, EXPORT_MAX = 200, 10_000  # rows per search call, rows per CSV export


@dataclass
class SearchFilters:
    q: str = ""
    date_from: date | None = None
    date_to: date | None = None
    channel: str = ""
    category: str = ""
    queue: str = ""
    language: str = ""
    customer: str = ""
    state: str = ""
    invoice: str = ""
    page: int = 1

    def query_string(self, **changes: Any) -> str:
        values = {k: v for k, v in {**self.__dict__, **changes}.items() if v not in ("", None)}
        return urlencode({k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items()})


def _filters(params: Any) -> SearchFilters:
    def day(value: str) -> date | None:  # ISO (links, bookmarks) or as the reader's language writes it
        return i18n.parse_date_input(value) if value else None

    def get(name: str, size: int) -> str:
        return str(params.get(name, "")).strip()[:size]

    page = get("page", 6)
    return SearchFilters(get("q", 200), day(get("date_from", 20)), day(get("date_to", 20)), get("channel", 10),
                         get("category", 32), get("queue", 64), get("language", 8), get("customer", 40),
                         get("state", 20), get("invoice", 40), int(page) if page.isdigit() and int(page) > 0 else 1)


def _search(session: Session, f: SearchFilters, per_page: int, page: int = 1) -> tuple[int, list[Any]]:
    """Letters matching the filters, from the archive's full-text index (storage/search.py):
    (total, rows of (Document, Envelope, WorkItem | None, snippet))."""
    filters = Filters(
        date_from=f.date_from, date_to=f.date_to, channel=[f.channel] if f.channel else [],
        category=[f.category] if f.category else [], queue=[f.queue] if f.queue else [],
        language=[f.language] if f.language else [], status=[f.state] if f.state else [],
        customer=f.customer or None, entity=[f.invoice] if f.invoice else [])
    result = search(session, f.q, filters, "relevance" if f.q else "date", page, per_page)
    rows = []
    for hit in result.hits:
        doc = session.get(Document, hit.document_id)
        if doc is not None:
            rows.append((doc, doc.envelope, doc.work_item, Markup(hit.snippet)))  # escaped by storage.search
    return result.total, rows


@router.get("/auditor")
def auditor_page(request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> HTMLResponse:
    f = _filters(request.query_params)
    searched = any(v not in ("", None) for k, v in f.__dict__.items() if k != "page")
    error = ""
    total, results = 0, []
    if searched:
        try:
            total, results = _search(session, f, PAGE_SIZE, f.page)
        except MailroomError as exc:  # e.g. a query of excluded words only
            error = page_error(exc)
        record(session, user.username, "archive.searched", detail={"query": f.query_string(page="")})
    return render(request, "auditor.html", f=f, total=total, results=results, searched=searched, error=error,
                  pages=(total + PAGE_SIZE - 1) // PAGE_SIZE, queues=ctx.rules.queues, categories=CATEGORIES,
                  channels=["scan", "fax", "email", "upload"], languages=["pl", "cs", "ru", "en"],
                  states=[s.value for s in WorkItemState])


@router.get("/auditor/export.csv")
def auditor_export(request: Request, user: CurrentUser, session: SessionDep) -> StreamingResponse:
    f = _filters(request.query_params)
    rows: list[Any] = []
    for page in range(1, EXPORT_MAX // EXPORT_PAGE + 1):
        total, found = _search(session, f, EXPORT_PAGE, page)
        rows += found
        if len(rows) >= total or not found:
            break
    record(session, user.username, "archive.exported", detail={"query": f.query_string(page=""), "rows": len(rows)})
    session.commit()
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(csv_header())
    for d, e, w, _snippet in rows:
        ents = d.entities or {}
        out.writerow([d.id, e.received_at.isoformat(), e.channel, _csv_safe(e.source_name), d.language or "",
                      d.category or "", w.queue if w else "", w.state if w else d.state, w.assignee or "" if w else "",
                      w.sla_due.isoformat() if w else "", " ".join(ents.get("customer_id", [])),
                      " ".join(ents.get("invoice_no", []))])
    return StreamingResponse(iter([buf.getvalue()]), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="mailroom-archive.csv"'})


# The export's columns: headers in the reader's language, values as stored (ISO 8601 times with their offset,
# codes of channels, categories and states), so a spreadsheet or a script reads them alike.
CSV_COLUMNS = (NC_("csv", "Document"), NC_("csv", "Received"), NC_("csv", "Channel"), NC_("csv", "File"),
               NC_("csv", "Language"), NC_("csv", "Category"), NC_("csv", "Queue"), NC_("csv", "State"),
               NC_("csv", "Assignee"), NC_("csv", "Due"), NC_("csv", "Customer number"), NC_("csv", "Invoice number"))


def csv_header() -> list[str]:
    return [i18n.pgettext("csv", c) for c in CSV_COLUMNS]


def _csv_safe(value: str) -> str:
    """Defuse spreadsheet formula injection in a value that came from outside."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@router.get("/auditor/documents/{document_id}")
def auditor_document(document_id: str, request: Request, user: CurrentUser, session: SessionDep) -> HTMLResponse:
    doc = session.get(Document, document_id)
    if doc is None:
        raise HTTPException(404, _("Not found."))
    item = doc.work_item
    record(session, user.username, "document.viewed", document_id=doc.id, envelope_id=doc.envelope_id,
           work_item_id=item.id if item else None)
    session.flush()
    conds = [AuditEvent.document_id == doc.id, AuditEvent.envelope_id == doc.envelope_id]
    if item is not None:
        conds.append(AuditEvent.work_item_id == item.id)
    trail = list(session.scalars(select(AuditEvent).where(or_(*conds)).order_by(AuditEvent.at, AuditEvent.id)))
    return render(request, "document.html", doc=doc, envelope=doc.envelope, item=item, trail=trail,
                  text=highlight(doc.text or "", doc.entities or {}))


@router.get("/auditor/documents/{document_id}/original")
def auditor_original(document_id: str, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> Response:
    doc = session.get(Document, document_id)
    if doc is None:
        raise HTTPException(404, _("Not found."))
    envelope = doc.envelope
    record(session, user.username, "original.downloaded", document_id=doc.id, envelope_id=envelope.id)
    session.commit()
    data = ctx.blobs.get(envelope.sha256)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", envelope.source_name)[-100:] or "original"
    return Response(data, media_type="application/octet-stream",  # never rendered: polyglots, SVG, HTML
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "X-Content-Type-Options": "nosniff",
                             "Content-Security-Policy": "default-src 'none'; sandbox",
                             "X-Original-Content-Type": envelope.content_type or ""})
