"""SQLAlchemy 2 models. The database is the record of truth; Redis only carries ids."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint, true
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
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())  # 0006: disabled users
    # 0012: the user's own language (en, pl, cs, ru) and time zone for pages; None: the browser's and the site's
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    time_zone: Mapped[str | None] = mapped_column(String(64), default=None)


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
    # Scoped to the submitter (intake.accept.scoped_key): "<len>:<submitter>:<key as sent>" (0013)
    idempotency_key: Mapped[str | None] = mapped_column(String(400), unique=True)
    state: Mapped[str] = mapped_column(String(20), default=EnvelopeState.RECEIVED, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    submitted_by: Mapped[str | None] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(500), unique=True, index=True)  # e-mail dedupe (0003)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    legal_hold: Mapped[bool] = mapped_column(default=False)  # retention never purges it (0005)
    purged_at: Mapped[datetime | None] = mapped_column()  # retention deleted blobs and text (0005)
    station: Mapped[str | None] = mapped_column(String(100))  # the scanning station's token that uploaded it (0013)
    # 0017 (issue 18): the letters the station counted in the batch (None: not said), for the batch check;
    # and how many corrections (re-splits, rotations, re-reads: pipeline/corrections.py) made its letters
    expected_letters: Mapped[int | None] = mapped_column(Integer, default=None)
    corrections: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

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
    customer_id: Mapped[str | None] = mapped_column(String(40), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # 0017 (issue 18): a correction's letter names it and the original page of each of its pages (``derived``);
    # a letter a correction replaced is kept, naming that correction (``superseded_by``)
    derived: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    superseded_by: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    superseded_at: Mapped[datetime | None] = mapped_column(default=None)

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
    claimed_until: Mapped[datetime | None] = mapped_column()  # lease; the sweeper returns expired claims
    outcome: Mapped[str | None] = mapped_column(String(40))  # done: how it ended (queues.work.OUTCOMES)
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)  # cases.id: one matter across channels
    holds: Mapped[list[Any]] = mapped_column(default=list)  # [[from, to|None], ...] ISO: SLA pauses
    internal_due: Mapped[datetime | None] = mapped_column()  # internal resolution target (paused by holds)
    statutory_rule: Mapped[str | None] = mapped_column(String(100))
    statutory_due: Mapped[datetime | None] = mapped_column()  # legal deadline; stops at dispatch
    statutory_warn_at: Mapped[datetime | None] = mapped_column()
    dispatched_at: Mapped[datetime | None] = mapped_column()  # reply dispatched: the statutory clock stops
    dispatch: Mapped[dict[str, Any]] = mapped_column(default=dict)  # channel, tracking number, by
    sla_state: Mapped[str] = mapped_column(String(20), default="ok")  # ok | warned | breached
    flags: Mapped[list[Any]] = mapped_column(default=list)  # escalated, deemed_accepted_risk, ...
    registered_at: Mapped[datetime | None] = mapped_column()  # routed into a queue: registration (RU's start)
    extended_at: Mapped[datetime | None] = mapped_column()  # extension notice dispatched: the longer period
    acknowledged_at: Mapped[datetime | None] = mapped_column()  # receipt confirmation dispatched (0014)
    first_response_at: Mapped[datetime | None] = mapped_column()  # first letter out: acknowledgement or reply

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
    prev_hash: Mapped[str | None] = mapped_column(String(64))  # hash chain (0005, storage.audit)
    hash: Mapped[str | None] = mapped_column(String(64), index=True)  # hash chain (0005)
    content_hash: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the event's fields (0008)
    seq: Mapped[int | None] = mapped_column(Integer, index=True, unique=True)  # position in the chain (0008)


class ApiToken(Base):
    """A bearer token for a scanning station or integration; only its SHA-256 is stored (0006)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # shown in listings to tell tokens apart
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    station: Mapped[str | None] = mapped_column(String(100))  # recorded on what it uploads (0013)
    scope: Mapped[str] = mapped_column(String(10), default="full", server_default="full")  # full | upload (0013)
    expires_at: Mapped[datetime | None] = mapped_column()  # no longer authenticates after this (0013)

    user: Mapped[User] = relationship()


class WebSession(Base):
    """A signed-in browser session (0013): the cookie names it; signing out or disabling the user ends it here,
    so a copied cookie stops working at once. Only the SHA-256 of the session id is stored."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None] = mapped_column()
    ip: Mapped[str] = mapped_column(String(64), default="")


class LoginFailure(Base):
    """A failed sign-in, kept for throttling per user name and client address (0006)."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    ip: Mapped[str] = mapped_column(String(64), index=True)  # indexed for the per-address limit (0013)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class QueueMember(Base):
    """Which queues an agent (a row of ``users``) may work; supervisors edit it. No rows: no queue."""

    __tablename__ = "queue_members"
    __table_args__ = (UniqueConstraint("queue", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)


class AgentSkill(Base):
    """An agent's skills (empty list: any) and how many items they may hold claimed at once."""

    __tablename__ = "agent_skills"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    languages: Mapped[list[Any]] = mapped_column(default=list)
    categories: Mapped[list[Any]] = mapped_column(default=list)
    segments: Mapped[list[Any]] = mapped_column(default=list)  # business line: business / individual
    capacity: Mapped[int] = mapped_column(Integer, default=10)


class Case(Base):
    """One matter sent by several channels: one statutory clock from the earliest receipt."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(40), index=True)
    invoice_no: Mapped[str | None] = mapped_column(String(40), index=True)
    language: Mapped[str | None] = mapped_column(String(8))
    category: Mapped[str | None] = mapped_column(String(32))
    shingles: Mapped[list[Any]] = mapped_column(default=list)  # hashes of word 3-grams (near-duplicate text)
    first_received_at: Mapped[datetime] = mapped_column()
    primary_item_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class OutboxEvent(Base):
    """Notifications for live delivery, written in the same transaction as the change they report."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))  # item.new | item.taken | sla.warning | sla.breached
    queue: Mapped[str | None] = mapped_column(String(64))
    work_item_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(64), default="system")
    recipient: Mapped[str | None] = mapped_column(String(64), index=True)  # None: every agent of the queue
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)


class TrainingExample(Base):
    """A category an agent set by hand (a reclassification): training data for the next model."""

    __tablename__ = "training_examples"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[str | None] = mapped_column(String(36), index=True)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Customer(Base):
    """A customer of the operator; documents are linked to one by customer id, phone, e-mail or national id."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # MR-1234567, or another operator's shape
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164
    email: Mapped[str | None] = mapped_column(String(254), index=True)  # lowercase
    national_id: Mapped[str | None] = mapped_column(String(32), index=True)  # PESEL, NIP, IČO, INN, SNILS, ...
    national_id_kind: Mapped[str | None] = mapped_column(String(16))
    segment: Mapped[str] = mapped_column(String(16), default="individual")
    language: Mapped[str | None] = mapped_column(String(8))
    address: Mapped[list[Any]] = mapped_column(default=list)  # postal address lines for letters by post (0014)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SearchEntry(Base):
    """Archive search row for one document (0005): folded text plus the filter fields.

    SQLite indexes ``folded`` with an FTS5 table ``search_fts`` (external content), PostgreSQL
    with a generated ``tsv`` column and a GIN index; both are created by migration 0005.
    """

    __tablename__ = "search_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[str] = mapped_column(String(36), unique=True)
    envelope_id: Mapped[str] = mapped_column(String(36), index=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    channel: Mapped[str] = mapped_column(String(10), index=True)
    language: Mapped[str | None] = mapped_column(String(8), index=True)
    category: Mapped[str | None] = mapped_column(String(32), index=True)
    folded: Mapped[str] = mapped_column(Text, default="")
    lemmas: Mapped[str] = mapped_column(Text, default="")  # 0013: one folded lemma per word of folded


class SearchEntityValue(Base):
    """One normalised entity value of a document (invoice number, customer id, ...) for filters (0005)."""

    __tablename__ = "search_entity_values"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(120), index=True)


class AuditChainHead(Base):
    """The newest link of the audit hash chain (one row, id 1): appends lock it (0005)."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)  # events chained so far
    last_hash: Mapped[str] = mapped_column(String(64))


class ReadChunk(Base):
    """A run of pages of a long file, read by one job (0010).

    A long scan is read as page chunks that any worker can take, so it neither runs into a job timeout
    nor holds one worker for minutes. The pages read are kept here until the last chunk is done; the
    documents are then made from all of them, and the rows deleted."""

    __tablename__ = "read_chunks"

    envelope_id: Mapped[str] = mapped_column(ForeignKey("envelopes.id"), primary_key=True)
    part_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_page: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0-based index of its first page
    stop_page: Mapped[int] = mapped_column(Integer)  # 0-based index after its last page
    done: Mapped[bool] = mapped_column(default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    pages: Mapped[list[Any]] = mapped_column(default=list)  # PageText records as dicts, once done
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OutboundState(StrEnum):
    """An outbound letter's life (issue 17): a draft, approved where the policy asks for four eyes, queued
    (e-mail waiting for the relay, a letter waiting for its post batch), sent (the relay took the e-mail) or
    posted (the batch was handed over), then delivered, bounced (e-mail) or returned (post); or cancelled."""

    DRAFT = "draft"
    APPROVED = "approved"
    QUEUED = "queued"
    SENT = "sent"
    POSTED = "posted"
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    RETURNED = "returned"
    CANCELLED = "cancelled"


class OutboundLetter(Base):
    """A reply, acknowledgement of receipt, request to complete or extension notice (0014)."""

    __tablename__ = "outbound_letters"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    work_item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(24))  # reply | acknowledgement | request_to_complete | extension
    channel: Mapped[str] = mapped_column(String(8))  # email | post
    state: Mapped[str] = mapped_column(String(12), default=OutboundState.DRAFT, index=True)
    language: Mapped[str] = mapped_column(String(8))
    template: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    folded: Mapped[str] = mapped_column(Text, default="")  # subject and body folded (storage.search.fold): the archive
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)  # decision, reasons, amounts, employee, ...
    to_email: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[list[Any]] = mapped_column(default=list)  # postal address lines
    attachments: Mapped[list[Any]] = mapped_column(default=list)  # [{document_id | sha256, name, type}]
    needs_approval: Mapped[bool] = mapped_column(default=False)
    approved_by: Mapped[str | None] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(300), unique=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(500))
    references: Mapped[list[Any]] = mapped_column(default=list)
    sha256: Mapped[str | None] = mapped_column(String(64))  # the sent original: raw MIME or the PDF as printed
    batch_id: Mapped[int | None] = mapped_column(Integer, index=True)
    registered: Mapped[bool] = mapped_column(default=False)
    registered_number: Mapped[str | None] = mapped_column(String(64))
    send_attempts: Mapped[int] = mapped_column(Integer, default=0)
    relay_answer: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column()  # relay's 250 or the batch's hand-over
    delivered_at: Mapped[datetime | None] = mapped_column()  # return receipt, tracking, or none known
    version: Mapped[int] = mapped_column(Integer, default=1)


class PostBatch(Base):
    """The letters of one day's post: printed together, handed over to the post together (0014)."""

    __tablename__ = "post_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(12), default="open")  # open | printed | handed_over
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    letters: Mapped[int] = mapped_column(Integer, default=0)
    print_sha256: Mapped[str | None] = mapped_column(String(64))
    list_sha256: Mapped[str | None] = mapped_column(String(64))
    handed_over_at: Mapped[datetime | None] = mapped_column()
    handed_over_by: Mapped[str | None] = mapped_column(String(64))


class ItemNote(Base):
    """An internal note on a work item (0015): for staff only, never part of a letter to the customer."""

    __tablename__ = "item_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    work_item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    author: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    text: Mapped[str] = mapped_column(Text)
    folded: Mapped[str] = mapped_column(Text, default="")  # lower case without diacritics: what search matches


class HousekeepingRun(Base):
    """One day's scheduled housekeeping (0016): the unique day makes one process of many run it (0016)."""

    __tablename__ = "housekeeping_runs"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # local date, YYYY-MM-DD
    started_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)


class EntityCorrection(Base):
    """An entity value a person corrected on a letter (0018): the value as read, the value as it should have
    been read. Training data for the entity extraction (as ``training_examples`` is for the category); the
    letter's text stays in its document, it is not copied here."""

    __tablename__ = "entity_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[str] = mapped_column(String(36), index=True)
    work_item_id: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(32))  # ground.records.ENTITY_NAMES
    old_value: Mapped[str | None] = mapped_column(String(200))  # None: a value the reading missed
    new_value: Mapped[str | None] = mapped_column(String(200))  # None: a value read where there is none
    language: Mapped[str | None] = mapped_column(String(8))
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ConfigVersion(Base):
    """One saved version of a configuration a person edits in the browser (0020): routing rules or SLA
    policies as YAML text. The newest version of a kind is in force; a rollback saves an earlier text again."""

    __tablename__ = "config_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)  # "routing" | "sla"
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(String(500), default="")
    restored_from: Mapped[int | None] = mapped_column(Integer)  # a rollback: the version it brought back
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ModelVersion(Base):
    """A category model trained by the service (0021): its files (a tar archive) in the blob store, never in the
    package; its evaluation beside the model in force when it was trained."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)  # what documents record as model_version
    blob: Mapped[str] = mapped_column(String(64))  # sha256 key of the archive in the blob store
    size: Mapped[int] = mapped_column(Integer)
    trained_by: Mapped[str] = mapped_column(String(64))
    trained_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    evaluation: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"candidate": {...}, "active": {...}}


class ModelActivation(Base):
    """A person put a model in force (0021): the newest row is the model every worker classifies with.
    ``model_id`` None is the model shipped in the package."""

    __tablename__ = "model_activations"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # promoted | rolled_back
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
