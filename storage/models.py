"""SQLAlchemy 2 models. The database is the record of truth; Redis only carries ids."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; SQLite hands back naive values, so re-attach UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UtcDateTime}


class EnvelopeState(StrEnum):
    RECEIVED = "received"  # original stored, waiting for OCR
    PROCESSED = "processed"  # every document has a work item
    QUARANTINED = "quarantined"  # could not be processed; reason kept, original kept
    NEEDS_HUMAN = "needs_human"  # e.g. password-protected: a person must act


class DocumentState(StrEnum):
    READ = "read"  # text recognised, waiting for classification
    ROUTED = "routed"  # classified and has its work item


class WorkItemState(StrEnum):
    NEW = "new"
    CLAIMED = "claimed"
    ON_HOLD = "on_hold"
    DONE = "done"


class Role(StrEnum):
    SCANNER = "scanner"
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Envelope(Base):
    """What arrived: one uploaded file, fax, scanned batch or e-mail, exactly as received."""

    __tablename__ = "envelopes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    channel: Mapped[str] = mapped_column(String(10))
    source_name: Mapped[str] = mapped_column(String(500))  # shown escaped, never used as a path
    content_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64), index=True, unique=True)
    size: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(20), default=EnvelopeState.RECEIVED, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    submitted_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    documents: Mapped[list[Document]] = relationship(back_populates="envelope", order_by="Document.id")


class Document(Base):
    """One letter found in an envelope (an e-mail body, an attachment, a part of a batch)."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("envelope_id", "part_index", "doc_index"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    envelope_id: Mapped[str] = mapped_column(ForeignKey("envelopes.id"), index=True)
    part_index: Mapped[int] = mapped_column(Integer)
    doc_index: Mapped[int] = mapped_column(Integer)
    part_name: Mapped[str] = mapped_column(String(500), default="")
    part_sha256: Mapped[str] = mapped_column(String(64))
    first_page: Mapped[int] = mapped_column(Integer, default=1)
    pages: Mapped[int] = mapped_column(Integer)
    blank_pages: Mapped[int] = mapped_column(Integer, default=0)
    page_flags: Mapped[list[Any]] = mapped_column(default=list)
    text: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(20), default=DocumentState.READ, index=True)
    language: Mapped[str | None] = mapped_column(String(8))
    category: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float | None] = mapped_column(Float)
    segment: Mapped[str | None] = mapped_column(String(16))
    entities: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    model_version: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    envelope: Mapped[Envelope] = relationship(back_populates="documents")
    work_item: Mapped[WorkItem | None] = relationship(back_populates="document")


class WorkItem(Base):
    """What a consultant works on. Exactly one per document (unique constraint)."""

    __tablename__ = "work_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), unique=True)
    queue: Mapped[str] = mapped_column(String(64), index=True)
    priority: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default=WorkItemState.NEW, index=True)
    assignee: Mapped[str | None] = mapped_column(String(64), index=True)
    routing_rule: Mapped[str] = mapped_column(String(100))
    sla_policy: Mapped[str] = mapped_column(String(100))
    sla_due: Mapped[datetime] = mapped_column()
    first_response_due: Mapped[datetime | None] = mapped_column()
    warn_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    document: Mapped[Document] = relationship(back_populates="work_item")


class AuditEvent(Base):
    """Every state change, automatic decision (with why) and read by a person."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # username or "system"
    action: Mapped[str] = mapped_column(String(40))
    envelope_id: Mapped[str | None] = mapped_column(String(36), index=True)
    document_id: Mapped[str | None] = mapped_column(String(36), index=True)
    work_item_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
