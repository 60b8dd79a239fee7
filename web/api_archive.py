"""Archive API for auditors and supervisors: search, a document and its trail, originals, CSV export.

Every search, view, export and download is itself an audit event, committed before the answer.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import BaseModel

from storage.audit import event_dict, export_csv, record, trail
from storage.models import Document, Envelope, Role, User
from storage.retention import set_legal_hold
from storage.search import MAX_PER_PAGE, Filters, SearchPage, search
from web.deps import CtxDep, SessionDep, require

router = APIRouter(prefix="/api/archive", tags=["archive"])
Auditor = Annotated[User, require(Role.AUDITOR, Role.SUPERVISOR)]
Supervisor = Annotated[User, require(Role.SUPERVISOR)]
EXPORT_LIMIT = 10_000
EXPORT_FIELDS = ("document_id", "envelope_id", "received_at", "channel", "language", "category", "queue",
                 "status", "customer_id", "invoice_no")


class HitOut(BaseModel):
    document_id: str
    envelope_id: str
    received_at: datetime
    channel: str
    language: str | None
    category: str | None
    queue: str | None
    status: str | None
    score: float
    snippet: str  # HTML-escaped text with <mark>…</mark> around the matches
    entities: dict[str, Any]


class SearchOut(BaseModel):
    total: int
    total_capped: bool  # more than `total` matched; narrow the query
    page: int
    per_page: int
    sort: str
    hits: list[HitOut]


class DocumentOut(BaseModel):
    id: str
    envelope_id: str
    received_at: datetime
    channel: str
    source_name: str
    content_type: str
    sha256: str
    legal_hold: bool
    purged_at: datetime | None
    pages: int
    language: str | None
    category: str | None
    confidence: float | None
    entities: dict[str, Any]
    text: str
    queue: str | None
    status: str | None


class DocumentHold(BaseModel):
    envelope_id: str
    legal_hold: bool


class HoldIn(BaseModel):
    hold: bool
    reason: str = ""


class FilterParams:
    """The query parameters shared by search and export."""

    def __init__(
        self,
        q: str = "",
        date_from: date | None = None,
        date_to: date | None = None,
        channel: Annotated[list[str] | None, Query()] = None,
        category: Annotated[list[str] | None, Query()] = None,
        queue: Annotated[list[str] | None, Query()] = None,
        language: Annotated[list[str] | None, Query()] = None,
        status: Annotated[list[str] | None, Query()] = None,
        entity: Annotated[list[str] | None, Query(description="value, or name=value")] = None,
        customer: str | None = None,
        sort: Literal["relevance", "date", "date_asc"] = "relevance",
    ) -> None:
        self.q, self.sort = q, sort
        self.filters = Filters(date_from=date_from, date_to=date_to, channel=channel or [], category=category or [],
                               queue=queue or [], language=language or [], status=status or [],
                               entity=entity or [], customer=customer)

    def audit_detail(self) -> dict[str, Any]:
        f = {k: v for k, v in vars(self.filters).items() if v}
        return {"query": self.q, "sort": self.sort, "filters": f}


Params = Annotated[FilterParams, Depends()]


def _out(page: SearchPage) -> SearchOut:
    return SearchOut(total=page.total, total_capped=page.total_capped, page=page.page, per_page=page.per_page,
                     sort=page.sort, hits=[HitOut(**vars(h)) for h in page.hits])


@router.get("/search", response_model=SearchOut)
def archive_search(user: Auditor, session: SessionDep, params: Params,
                   page: Annotated[int, Query(ge=1)] = 1,
                   per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 20) -> SearchOut:
    """Words (all must occur), "phrases", prefix*, OR, -word; diacritics and case do not matter."""
    result = search(session, params.q, params.filters, params.sort, page, per_page)
    record(session, user.username, "archive.searched",
           detail={**params.audit_detail(), "page": page, "total": result.total})
    session.commit()
    return _out(result)


@router.get("/export.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "the matching documents, one per row"}})
def archive_export(user: Auditor, session: SessionDep, params: Params) -> Response:
    rows: list[dict[str, Any]] = []
    page = 1
    while len(rows) < EXPORT_LIMIT:
        result = search(session, params.q, params.filters, params.sort, page, MAX_PER_PAGE)
        for h in result.hits:
            rows.append({"document_id": h.document_id, "envelope_id": h.envelope_id,
                         "received_at": h.received_at.isoformat(), "channel": h.channel, "language": h.language,
                         "category": h.category, "queue": h.queue, "status": h.status,
                         "customer_id": " ".join(h.entities.get("customer_id") or []),
                         "invoice_no": " ".join(h.entities.get("invoice_no") or [])})
        if len(result.hits) < MAX_PER_PAGE:
            break
        page += 1
    rows = rows[:EXPORT_LIMIT]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_safe(v) for k, v in row.items()})
    record(session, user.username, "archive.exported", detail={**params.audit_detail(), "rows": len(rows)})
    session.commit()
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="archive-export.csv"'})


@router.get("/documents/{document_id}", response_model=DocumentOut)
def archive_document(document_id: str, user: Auditor, session: SessionDep) -> DocumentOut:
    doc = session.get(Document, document_id)
    if doc is None:
        raise HTTPException(404, "Not found.")
    env, item = doc.envelope, doc.work_item
    record(session, user.username, "document.viewed", envelope_id=env.id, document_id=doc.id,
           work_item_id=item.id if item else None, detail={"via": "archive"})
    session.commit()
    return DocumentOut(id=doc.id, envelope_id=env.id, received_at=env.received_at, channel=env.channel,
                       source_name=env.source_name, content_type=env.content_type, sha256=env.sha256,
                       legal_hold=env.legal_hold, purged_at=env.purged_at, pages=doc.pages, language=doc.language,
                       category=doc.category, confidence=doc.confidence, entities=doc.entities, text=doc.text,
                       queue=item.queue if item else None, status=item.state if item else None)


@router.get("/documents/{document_id}/trail",
            responses={200: {"content": {"application/json": {}, "text/csv": {}}}})
def archive_trail(document_id: str, user: Auditor, session: SessionDep,
                  format: Literal["json", "csv"] = "json") -> Any:
    """Every event of the document and its envelope, oldest first, with the hashes that chain them."""
    doc = session.get(Document, document_id)
    if doc is None:
        raise HTTPException(404, "Not found.")
    events = trail(session, document_id)
    body: Any = export_csv(events) if format == "csv" else [event_dict(e) for e in events]
    record(session, user.username, "document.trail_exported", envelope_id=doc.envelope_id, document_id=doc.id,
           detail={"format": format, "events": len(events)})
    session.commit()
    if format == "csv":
        return Response(body, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="trail-{doc.id}.csv"'})
    return body


@router.get("/envelopes/{envelope_id}/original", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}, 410: {"description": "purged"}})
def archive_original(envelope_id: str, user: Auditor, session: SessionDep, ctx: CtxDep) -> Response:
    """The original exactly as received, always as a download (never rendered inline)."""
    env = session.get(Envelope, envelope_id)
    if env is None:
        raise HTTPException(404, "Not found.")
    if env.purged_at is not None:
        raise HTTPException(410, f"The original was deleted by retention on {env.purged_at:%Y-%m-%d}.")
    data = ctx.blobs.get(env.sha256)  # verified against its SHA-256; BlobCorrupted answers 503
    record(session, user.username, "envelope.original_downloaded", envelope_id=env.id,
           detail={"sha256": env.sha256, "size": len(data)})
    session.commit()  # the download is on record before a byte leaves
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": content_disposition(env.source_name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "no-store",
        "X-Original-Content-Type": env.content_type,
        "X-Original-SHA256": env.sha256,
    })


@router.post("/envelopes/{envelope_id}/legal-hold", response_model=DocumentHold)
def archive_legal_hold(envelope_id: str, body: HoldIn, user: Supervisor, session: SessionDep) -> DocumentHold:
    """Set or release a legal hold (supervisors; auditors read everything and change nothing). Both need the
    reason, and both are audit events."""
    env = set_legal_hold(session, envelope_id, body.hold, actor=user.username, reason=body.reason.strip())
    session.commit()
    return DocumentHold(envelope_id=env.id, legal_hold=env.legal_hold)


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback and the UTF-8 name (RFC 6266 / 5987); never a path."""
    base = re.split(r"[\\/]", name or "original")[-1] or "original"
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "original"
    return f'attachment; filename="{fallback[:100]}"; filename*=UTF-8\'\'{quote(base[:200], safe="")}'


def _csv_safe(value: Any) -> Any:
    """Cells a spreadsheet would run as a formula are prefixed with a quote (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
