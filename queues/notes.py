"""Internal notes on work items: written by staff, read by staff, never part of a letter to the customer.
Each note is an audit event (``work_item.note_added``: who, when, how long, never the text)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ground.errors import InvalidRequest, NotFound
from storage.audit import record
from storage.models import ItemNote, WorkItem
from storage.search import fold

MAX_NOTE = 5000


def add_note(session: Session, item_id: int, author: str, now: datetime, text: str) -> ItemNote:
    text = text.strip()
    if not text:
        raise InvalidRequest("a note needs some text")
    if len(text) > MAX_NOTE:
        raise InvalidRequest(f"a note has at most {MAX_NOTE} characters; split it")
    item = session.get(WorkItem, item_id)
    if item is None:
        raise NotFound(f"work item {item_id} does not exist")
    note = ItemNote(work_item_id=item_id, case_id=item.case_id, author=author, at=now, text=text, folded=fold(text))
    session.add(note)
    session.flush()
    record(session, author, "work_item.note_added", document_id=item.document_id, work_item_id=item_id,
           detail={"note_id": note.id, "length": len(text)})
    return note


def notes_of(session: Session, item_id: int) -> list[ItemNote]:
    """The notes of the item and of the other items of its case, oldest first."""
    item = session.get(WorkItem, item_id)
    if item is None:
        raise NotFound(f"work item {item_id} does not exist")
    where = ItemNote.case_id == item.case_id if item.case_id is not None else ItemNote.work_item_id == item_id
    return list(session.scalars(select(ItemNote).where(where).order_by(ItemNote.at, ItemNote.id)))


def search_notes(session: Session, words: str, queues: Sequence[str] | None, limit: int = 50) -> list[ItemNote]:
    """Notes containing every word (case and diacritics folded: ``zazalenie`` finds ``zażalenie``), newest first;
    ``queues``: only notes on items of these queues (an agent's), None: all."""
    terms = fold(words).split()
    if not terms:
        raise InvalidRequest("give at least one word to look for")
    q = select(ItemNote).join(WorkItem, WorkItem.id == ItemNote.work_item_id)
    for term in terms[:10]:
        q = q.where(ItemNote.folded.contains(term, autoescape=True))
    if queues is not None:
        q = q.where(WorkItem.queue.in_(list(queues)))
    return list(session.scalars(q.order_by(ItemNote.at.desc(), ItemNote.id.desc()).limit(limit)))
