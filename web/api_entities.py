"""An agent corrects what the reading got wrong on a letter they hold: one entity value at a time (a customer,
contract or invoice number, a date, an amount …). Thin shell over storage.customers.correct_entity; the value
typed is normalised as the extraction stores it (classifiers.entities), so that search, linking and cases
compare like with like. The category is corrected by reclassifying (queues.work.reclassify)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from classifiers.entities import extract_entities
from ground import i18n
from ground.errors import Conflict, InvalidRequest
from ground.records import ENTITY_NAMES
from storage.customers import correct_entity
from storage.models import Role, User, WorkItem, WorkItemState
from web.api_queues import _scoped
from web.deps import SessionDep, require

router = APIRouter()

Agent = Annotated[User, require(Role.AGENT, Role.SUPERVISOR)]

_ID = re.compile(r"^[A-Z0-9][A-Z0-9/._-]{0,59}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Numbers written as the customer wrote them (the extraction recognises a shape, or checks a checksum, that a
# misread or an unusual number may not pass): kept upper-case without spaces.
IDENTIFIERS = frozenset(ENTITY_NAMES) - {"amount", "date", "email", "phone"}


class EntityIn(BaseModel):
    entity: str = Field(max_length=32, description="one of ground.records.ENTITY_NAMES")
    old: str | None = Field(default=None, max_length=200, description="the value as read; null: add a value")
    new: str | None = Field(default=None, max_length=200, description="the value as it should read; null: remove")
    reason: str = Field(default="", max_length=500)


class EntitiesOut(BaseModel):
    document_id: str
    work_item_id: int
    entities: dict[str, Any]
    customer_id: str | None


def normalise_value(name: str, raw: str, language: str | None, *, local_dates: bool = False) -> str:
    """A value a person typed, as the extraction stores it: dates ISO (``local_dates``, a page: the reader's
    language's own order, as its date fields; else ISO or as a letter writes them), amounts ``149.99 PLN``,
    phones E.164, e-mail lower case, numbers upper case without spaces. Raises InvalidRequest (said in words a
    person can act on) when it is not such a value."""
    text = " ".join(raw.split())
    if not text:
        raise InvalidRequest("the value is empty")
    if name == "date":
        iso = re.fullmatch(r"\d{4}-\d{2}-\d{2}", text)
        day = i18n.parse_date_input(text) if local_dates or iso else None
        if day is None:
            found = extract_entities(text, language or "und").get("date") or []
            if len(found) == 1:
                return found[0]
            raise InvalidRequest(f"{text!r} is not a date; write it as YYYY-MM-DD")
        return day.isoformat()
    found = extract_entities(text, language or "und").get(name) or []
    if len(found) == 1:
        return found[0]
    if name == "amount":
        raise InvalidRequest(f"{text!r} is not an amount with its currency (e.g. 149,99 PLN)")
    if name == "email":
        if not _EMAIL.match(text):
            raise InvalidRequest(f"{text!r} is not an e-mail address")
        return text.lower()
    if name == "phone":
        digits = re.sub(r"[\s()./-]", "", text)
        if not re.fullmatch(r"\+[1-9]\d{6,14}", digits):
            raise InvalidRequest(f"{text!r} is not a phone number in international form (+48 601 234 567)")
        return digits
    value = re.sub(r"\s+", "", text).upper()
    if not _ID.match(value):
        raise InvalidRequest(f"{text!r} is not a number of this kind (letters, digits, / . _ -)")
    return value


def held_item(session: Session, user: User, item_id: int) -> WorkItem:
    """The work item, when ``user`` holds it (claimed or on hold by them): only its holder corrects the letter.
    404 outside the user's queues (as for a missing item), 409 for an item they do not hold."""
    _scoped(session, user, item_id)
    item = session.get(WorkItem, item_id)
    assert item is not None
    if item.assignee != user.username or item.state not in (WorkItemState.CLAIMED, WorkItemState.ON_HOLD):
        raise Conflict(f"work item {item_id} is not held by {user.username}; claim it to correct the letter")
    return item


def apply_correction(session: Session, user: User, item_id: int, entity: str, old: str | None, new: str | None,
                     reason: str = "", *, local_dates: bool = False) -> WorkItem:
    """Check and apply one correction (the caller commits)."""
    if entity not in ENTITY_NAMES:
        raise InvalidRequest(f"unknown entity {entity!r}; use one of: {', '.join(ENTITY_NAMES)}")
    item = held_item(session, user, item_id)
    doc = item.document
    value = normalise_value(entity, new, doc.language, local_dates=local_dates) if new and new.strip() else None
    correct_entity(session, doc, entity, (old or "").strip() or None, value, user.username, datetime.now(UTC),
                   work_item_id=item.id, reason=reason.strip())
    return item


@router.post("/api/work-items/{item_id}/entities", response_model=EntitiesOut)
def correct(item_id: int, body: EntityIn, user: Agent, session: SessionDep) -> EntitiesOut:
    """The holder of the item corrects one entity value of its letter: ``old`` → ``new`` (``old`` null: add a
    value the reading missed; ``new`` null: remove one read where there is none). Audited
    (``document.entity_corrected``) and kept as training data; a letter whose customer no person chose is
    linked anew when a customer number, national id, contract number, e-mail or phone changes. 409 when the
    item is not held by the caller or the letter no longer carries ``old``."""
    if not 0 < item_id < 2**63:
        raise HTTPException(404, "Not found.")
    item = apply_correction(session, user, item_id, body.entity, body.old, body.new, body.reason)
    doc = item.document
    out = EntitiesOut(document_id=doc.id, work_item_id=item.id, entities=dict(doc.entities or {}),
                      customer_id=doc.customer_id)
    session.commit()
    return out
