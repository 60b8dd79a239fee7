"""Internal notes on work items (staff only, never sent to the customer). Thin shell over queues.notes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from queues import notes, work
from storage.models import ItemNote, Role, User
from web.api_queues import Agent, _scoped
from web.deps import SessionDep, require

router = APIRouter()

Reader = Annotated[User, require(Role.AGENT, Role.SUPERVISOR, Role.AUDITOR)]


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=notes.MAX_NOTE)


class NoteOut(BaseModel):
    id: int
    work_item_id: int
    case_id: int | None
    author: str
    at: datetime
    text: str


def _out(note: ItemNote) -> NoteOut:
    return NoteOut.model_validate(note, from_attributes=True)


@router.post("/api/work-items/{item_id}/notes", response_model=NoteOut, status_code=201)
def add_note(item_id: int, body: NoteIn, user: Agent, session: SessionDep) -> NoteOut:
    """An internal note on the item, for colleagues and auditors; it never goes to the customer."""
    _scoped(session, user, item_id)
    note = notes.add_note(session, item_id, user.username, datetime.now(UTC), body.text)
    session.commit()
    return _out(note)


@router.get("/api/work-items/{item_id}/notes", response_model=list[NoteOut])
def list_notes(item_id: int, user: Reader, session: SessionDep) -> list[NoteOut]:
    """The notes of the item and of the other letters of its case, oldest first."""
    if user.role == Role.AGENT.value:
        _scoped(session, user, item_id)
    return [_out(n) for n in notes.notes_of(session, item_id)]


@router.get("/api/notes/search", response_model=list[NoteOut])
def search_notes(user: Reader, session: SessionDep,
                 q: Annotated[str, Query(min_length=1, max_length=200)]) -> list[NoteOut]:
    """Notes with every word of ``q`` (case and diacritics do not matter), newest first; an agent finds the notes
    of their queues only."""
    queues = work.agent_scope(session, user.username).queues if user.role == Role.AGENT.value else None
    return [_out(n) for n in notes.search_notes(session, q, queues)]
