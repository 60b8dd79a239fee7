"""Audit trail: every state change, automatic decision (with why) and read by a person."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from storage.models import AuditEvent


def record(session: Session, actor: str, action: str, *, envelope_id: str | None = None,
           document_id: str | None = None, work_item_id: int | None = None,
           detail: dict[str, Any] | None = None) -> AuditEvent:
    event = AuditEvent(actor=actor, action=action, envelope_id=envelope_id, document_id=document_id,
                       work_item_id=work_item_id, detail=detail or {})
    session.add(event)
    return event
