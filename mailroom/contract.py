"""The stable JSON contract of ``mailroom process --json`` (see DESIGN.md)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from storage.models import Document, Envelope


def document_line(source: str, env: Envelope, doc: Document, tz: str) -> dict[str, Any]:
    item = doc.work_item
    return {
        "source": source,
        "document_id": doc.id,
        "envelope_id": env.id,
        "channel": env.channel,
        "pages": doc.pages,
        "language": doc.language,
        "category": doc.category,
        "confidence": round(doc.confidence or 0.0, 4),
        "segment": doc.segment,
        "queue": item.queue if item else None,
        "priority": item.priority if item else None,
        "sla_due": item.sla_due.astimezone(ZoneInfo(tz)).isoformat() if item else None,
        "sla_policy": item.sla_policy if item else None,
        "routing_rule": item.routing_rule if item else None,
        "model_version": doc.model_version,
        "entities": doc.entities,
        "customer": doc.customer_id,  # the linked customer's number (customers table), or null
        "text": doc.text,
    }


def error_line(source: str, reason: str, envelope_id: str | None = None) -> dict[str, Any]:
    line: dict[str, Any] = {"source": source, "error": reason}
    if envelope_id:
        line["envelope_id"] = envelope_id
    return line
