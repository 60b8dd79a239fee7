"""Customers API: one customer record with their letters across channels, their history (letters in and out in
time order), a look-up by number or name, the CSV import (all rows or none), and an agent's correction of the
customer a letter is linked to. Thin shells over storage.customers.

Who sees a customer: supervisors and auditors every one; an agent only a customer with a letter in one of
their queues (anyone else's is 404, as a missing one), and of their letters only those of the agent's queues."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from storage.audit import record
from storage.customers import IMPORT_COLUMNS, customer_history, customer_visible, find_customers, import_customers
from storage.models import Customer, Document, Envelope, Role, User, WorkItem
from web.api_queues import Agent, _agent_queues, _scoped
from web.deps import SessionDep, require

router = APIRouter()

Reader = Annotated[User, require(Role.AGENT, Role.SUPERVISOR, Role.AUDITOR)]
Supervisor = Annotated[User, require(Role.SUPERVISOR)]
Overseer = Annotated[User, require(Role.SUPERVISOR, Role.AUDITOR)]


class LetterRef(BaseModel):
    document_id: str
    work_item_id: int | None
    received_at: datetime
    channel: str
    category: str | None
    queue: str | None
    state: str | None


class CustomerOut(BaseModel):
    id: str
    name: str
    email: str | None
    phone: str | None
    national_id: str | None
    national_id_kind: str | None
    segment: str
    language: str | None
    address: list[str]
    letters: list[LetterRef] = Field(default_factory=list, description="newest first, the last 200")


class CustomerBrief(BaseModel):
    id: str
    name: str
    email: str | None
    phone: str | None
    segment: str


class HistoryOut(BaseModel):
    at: datetime
    direction: str = Field(description="in: a letter from the customer; out: one of ours to them")
    channel: str
    document_id: str | None
    work_item_id: int | None
    case_id: int | None
    category: str | None
    queue: str | None
    state: str | None = Field(description="in: the work item's state; out: the letter's")
    kind: str | None = Field(description="out: reply, acknowledgement, request_to_complete, extension")
    letter_id: str | None
    subject: str


class ImportOut(BaseModel):
    added: int
    updated: int
    errors: list[dict[str, Any]] = Field(default_factory=list, description="row (1 = first data row), problem")


class LinkIn(BaseModel):
    customer_id: str | None = Field(max_length=40, description="null: the letter is linked to no customer")
    reason: str = Field(min_length=1, max_length=500)


@router.get("/api/customers/{customer_id}", response_model=CustomerOut)
def get_customer(customer_id: str, user: Reader, session: SessionDep) -> CustomerOut:
    """The customer record with their letters across channels (an agent sees those of their queues)."""
    customer = session.get(Customer, customer_id)
    allowed = _agent_queues(session, user)  # an agent sees the letters of their queues
    if customer is None or not customer_visible(session, customer_id, allowed):
        raise HTTPException(404, "Not found.")
    rows = session.execute(select(Document.id, WorkItem.id, Envelope.received_at, Envelope.channel, Document.category,
                                  WorkItem.queue, WorkItem.state)
                           .join(Envelope, Envelope.id == Document.envelope_id)
                           .outerjoin(WorkItem, WorkItem.document_id == Document.id)
                           .where(Document.customer_id == customer_id)
                           .order_by(Envelope.received_at.desc()).limit(200)).all()
    letters = []
    for doc_id, item_id, received, channel, category, queue, state in rows:
        if allowed is not None and item_id is not None and queue not in allowed:
            continue
        letters.append(LetterRef(document_id=doc_id, work_item_id=item_id, received_at=received, channel=channel,
                                 category=category, queue=queue, state=state))
    return CustomerOut(id=customer.id, name=customer.name, email=customer.email, phone=customer.phone,
                       national_id=customer.national_id, national_id_kind=customer.national_id_kind,
                       segment=customer.segment, language=customer.language, address=list(customer.address),
                       letters=letters)


@router.get("/api/customers", response_model=list[CustomerBrief])
def search_customers(user: Overseer, session: SessionDep,
                     q: Annotated[str, Query(max_length=200, description="a customer number (or its beginning), "
                                             "a part of the name, an e-mail, phone or national id")] = ""
                     ) -> list[CustomerBrief]:
    """Look a customer up (supervisors, auditors): exact customer numbers first, at most 50."""
    return [CustomerBrief(id=c.id, name=c.name, email=c.email, phone=c.phone, segment=c.segment)
            for c in find_customers(session, q)]


@router.get("/api/customers/{customer_id}/history", response_model=list[HistoryOut])
def history(customer_id: str, user: Reader, session: SessionDep) -> list[HistoryOut]:
    """The customer's letters in (every channel, with category, queue and state) and out (replies,
    acknowledgements, requests to complete, extension notices), oldest first; audited as a read."""
    allowed = _agent_queues(session, user)
    if len(customer_id) > 40 or not customer_visible(session, customer_id, allowed):
        raise HTTPException(404, "Not found.")
    entries = customer_history(session, customer_id, allowed)
    record(session, user.username, "customer.viewed", detail={"customer_id": customer_id, "letters": len(entries)})
    return [HistoryOut(**vars(e)) for e in entries]


@router.post("/api/customers/import", response_model=ImportOut)
def import_csv(user: Supervisor, session: SessionDep,
               body: Annotated[bytes, Body(media_type="text/csv")]) -> Any:
    """Add or update customers from a CSV body (``text/csv``, UTF-8, a header row with the columns
    ``id,name,email,phone,national_id,national_id_kind,segment,language,address``; address lines separated by
    ``|``). Every row is checked first: with any problem nothing is written and the answer (422, ``code``
    ``invalid``) lists them in ``errors`` (row, problem)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HTTPException(422, "The CSV must be UTF-8.") from None
    try:
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:  # a malformed CSV (a stray quote or line break) is the sender's to fix
        raise HTTPException(422, f"The CSV cannot be read: {exc}.") from None
    result = import_customers(session, rows)
    out = ImportOut(added=result.added, updated=result.updated,
                    errors=[{"row": row, "problem": problem} for row, problem in result.errors[:1000]])
    if result.errors:
        session.rollback()
        return JSONResponse(status_code=422, content={
            **out.model_dump(), "code": "invalid", "columns": list(IMPORT_COLUMNS),
            "detail": f"Nothing was imported: {len(result.errors)} rows have problems."})
    record(session, user.username, "customers.imported", detail={"added": result.added, "updated": result.updated})
    session.commit()
    return out


@router.put("/api/work-items/{item_id}/customer", response_model=CustomerOut | None)
def link_customer(item_id: int, body: LinkIn, user: Agent, session: SessionDep) -> Any:
    """An agent corrects the customer the letter is linked to (or removes the link), with a reason; audited.
    The stored link is what earlier correspondence and the archive's customer filter use from then on."""
    _scoped(session, user, item_id)
    item = session.get(WorkItem, item_id)
    assert item is not None
    customer = session.get(Customer, body.customer_id) if body.customer_id else None
    if body.customer_id and customer is None:
        raise HTTPException(422, f"There is no customer {body.customer_id}.")
    doc = item.document
    before = doc.customer_id
    doc.customer_id = body.customer_id
    record(session, user.username, "document.customer_linked", document_id=doc.id, work_item_id=item_id,
           detail={"from": before, "to": body.customer_id, "reason": body.reason, "by": "person"})
    session.commit()
    return None if customer is None else get_customer(customer.id, user, session)
