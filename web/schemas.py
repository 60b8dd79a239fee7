"""Response bodies of the HTTP API (they make the OpenAPI document precise)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class Accepted(BaseModel):
    envelope_id: str
    state: str
    duplicate: bool


class WorkItemOut(BaseModel):
    id: int
    document_id: str
    queue: str
    priority: int
    state: str
    assignee: str | None
    routing_rule: str
    sla_policy: str
    sla_due: datetime
    first_response_due: datetime | None


class DocumentOut(BaseModel):
    id: str
    pages: int
    language: str | None
    category: str | None
    confidence: float | None
    segment: str | None
    entities: dict[str, list[str]]
    model_version: str | None = Field(None, description="the category model that classified it (evidence)")
    superseded_by: str | None = Field(None, description="the mailroom correction that replaced this letter (its "
                                                        "work item is closed); None while it is in force")
    work_item: WorkItemOut | None


class EnvelopeOut(BaseModel):
    id: str
    state: str
    error: str | None
    channel: str
    source_name: str
    received_at: datetime
    documents: list[DocumentOut]


class WorkItemDetail(WorkItemOut):
    text: str
    language: str | None
    category: str | None
    confidence: float | None
    entities: dict[str, list[str]]
    reasons: list[str]


class QueueOut(BaseModel):
    id: str
    name: str
    counts: dict[str, int]


class ErrorOut(BaseModel):
    """Every error answer: ``detail`` is a sentence a person understands (or, for a request that does
    not match the API, FastAPI's list of what was wrong); ``code`` names Mailroom's reason."""

    detail: str | list[dict[str, Any]] | dict[str, Any]
    code: str | None = None


class Health(BaseModel):
    status: str
    database: str
    redis: str
