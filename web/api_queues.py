"""Queue and work-item API: next item, the item lifecycle, membership and skills, supervisor
figures, Prometheus ``/metrics`` and live events (server-sent events). Thin shells over queues/."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from queues import figures, live, work
from storage.audit import record
from storage.db import session_scope
from storage.models import Role, User, WorkItem
from web import schemas
from web.deps import CtxDep, SessionDep, require

router = APIRouter()

Agent = Annotated[User, require(Role.AGENT, Role.SUPERVISOR)]
Supervisor = Annotated[User, require(Role.SUPERVISOR)]

POLL_SECONDS = 0.2  # outbox poll of an open event stream: routed-to-visible well under a second
HEARTBEAT_SECONDS = 15.0


class WorkItemFull(schemas.WorkItemOut):
    claimed_until: datetime | None
    first_response_at: datetime | None = None
    outcome: str | None
    case_id: int | None
    internal_due: datetime | None
    statutory_rule: str | None
    statutory_due: datetime | None
    dispatched_at: datetime | None
    sla_state: str
    flags: list[str]
    version: int


class CompleteIn(BaseModel):
    outcome: str = Field(default="resolved", description=f"one of: {', '.join(work.OUTCOMES)}")


class HoldIn(BaseModel):
    reason: str = Field(default="", max_length=500)


class TransferIn(BaseModel):
    queue: str = Field(max_length=64)
    reason: str = Field(default="", max_length=500)


class ReclassifyIn(BaseModel):
    category: str = Field(max_length=32)
    segment: Literal["business", "individual"] | None = None


class EscalateIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class DispatchIn(BaseModel):
    channel: Literal["post", "email"]
    tracking_number: str | None = Field(default=None, max_length=100)
    at: datetime | None = Field(default=None, description="when the reply was sent (default: now)")


class MembersIn(BaseModel):
    usernames: list[str] = Field(max_length=1000)


class SkillsIn(BaseModel):
    languages: list[str] = Field(default_factory=list, max_length=20)
    categories: list[str] = Field(default_factory=list, max_length=20)
    segments: list[Literal["business", "individual"]] = Field(default_factory=list)
    capacity: int = Field(default=work.DEFAULT_CAPACITY, ge=1, le=1000)


class QueueFiguresOut(BaseModel):
    queue: str
    depth: int
    claimed: int
    on_hold: int
    oldest_age_seconds: float
    at_risk: int
    breached: int
    handled_last_hour: int


def _out(item: WorkItem) -> schemas.WorkItemOut:
    return schemas.WorkItemOut.model_validate(item, from_attributes=True)


def _full(item: WorkItem) -> WorkItemFull:
    return WorkItemFull.model_validate(item, from_attributes=True)


def _now() -> datetime:
    return datetime.now(UTC)


def _lease(ctx: CtxDep) -> timedelta:
    """How long a claim lasts (MAILROOM_LEASE_SECONDS; 15 minutes by default)."""
    return timedelta(seconds=ctx.settings.lease_seconds)


def _committed(session: Session, item: WorkItem) -> WorkItem:
    """Commit a change in the handler's own thread, before its response is built. FastAPI validates a sync
    handler's response in another thread of the pool, and the session dependency exits after that: on SQLite a
    transition holds the writer lock (storage.db.begin_write) until the commit, and once every pool thread
    waits for that lock (50 agents, #20) the holder waits for a thread that never comes (pool timeout, 500)."""
    session.commit()
    return item


def _may_work(session: Session, user: User, queue: str | None) -> bool:
    """Agents work only their member queues (``queue_members`` via ``work.agent_scope``, the one
    source of truth the pages use too; no membership rows: no queue); supervisors work all."""
    if user.role != Role.AGENT.value:
        return True
    allowed = work.agent_scope(session, user.username).queues
    return allowed is None or queue in allowed


def _agent_queues(session: Session, user: User) -> list[str] | None:
    """The queues an agent works (one look-up for a whole answer); None for the roles that work every queue."""
    return work.agent_scope(session, user.username).queues if user.role == Role.AGENT.value else None


def _all_in_scope(session: Session, user: User, item_ids: Iterable[int]) -> None:
    """404 unless every one of these items is in the user's queues."""
    allowed = _agent_queues(session, user)
    if allowed is None:
        return
    queues = set(session.scalars(select(WorkItem.queue).where(WorkItem.id.in_(list(item_ids)))))
    if not queues <= set(allowed):
        raise HTTPException(404, "Not found.")


def _scoped(session: Session, user: User, item_id: int) -> None:
    """404 (as for a missing item) when an agent asks for an item outside their queues."""
    if work.queue_if_in_scope(session, user, item_id) is None:
        raise HTTPException(404, "Not found.")


# ---------------------------------------------------------------- queues and next item (moved from app.py)


@router.get("/api/queues", response_model=list[schemas.QueueOut])
def queues(user: Agent, session: SessionDep, ctx: CtxDep) -> list[schemas.QueueOut]:
    counts = work.queue_counts(session)
    names = {q.id: q.name for q in ctx.rules.queues}
    ids = [q for q in list(names) + sorted(set(counts) - set(names)) if _may_work(session, user, q)]
    empty = {s: 0 for s in ("new", "claimed", "on_hold", "done")}
    return [schemas.QueueOut(id=q, name=names.get(q, q), counts=counts.get(q, empty)) for q in ids]


@router.post("/api/queues/{queue}/next", response_model=schemas.WorkItemOut,
             responses={204: {"description": "The queue has no new item"}})
def next_item(queue: str, user: Agent, session: SessionDep, ctx: CtxDep) -> schemas.WorkItemOut | Response:
    if not _may_work(session, user, queue):
        raise HTTPException(404, "Not found.")
    item = work.next_for_agent(session, user.username, _now(), queues=[queue], lease=_lease(ctx), use_scope=False)
    if item is None:
        return Response(status_code=204)
    return _out(_committed(session, item))


@router.post("/api/next", response_model=WorkItemFull,
             responses={204: {"description": "Nothing to work in my queues (or I am at capacity)"}})
def next_mine(user: Agent, session: SessionDep, ctx: CtxDep) -> WorkItemFull | Response:
    """Claim the most urgent item among the queues I may work that fits my skills."""
    item = work.next_for_agent(session, user.username, _now(), lease=_lease(ctx))
    if item is None:
        return Response(status_code=204)
    return _full(_committed(session, item))


# ---------------------------------------------------------------- one work item (moved from app.py + lifecycle)


@router.get("/api/work-items/{item_id}", response_model=schemas.WorkItemDetail)
def work_item(item_id: int, user: Agent, session: SessionDep) -> schemas.WorkItemDetail:
    _scoped(session, user, item_id)
    item = session.get(WorkItem, item_id)
    if item is None:
        raise HTTPException(404, "Not found.")
    doc = item.document
    record(session, user.username, "document.viewed", document_id=doc.id, work_item_id=item.id,
           envelope_id=doc.envelope_id)
    base = _out(item).model_dump()
    return schemas.WorkItemDetail(**base, text=doc.text, language=doc.language, category=doc.category,
                                  confidence=doc.confidence, entities=doc.entities,
                                  reasons=[str(r) for r in doc.reasons])


@router.post("/api/work-items/{item_id}/claim", response_model=schemas.WorkItemOut)
def claim(item_id: int, user: Agent, session: SessionDep, ctx: CtxDep) -> schemas.WorkItemOut:
    """Claim one item by its id; an agent's capacity binds it as it binds the next item (409 when full)."""
    _scoped(session, user, item_id)
    capacity = work.agent_scope(session, user.username).capacity if user.role == Role.AGENT.value else None
    return _out(_committed(session, work.claim(session, item_id, user.username, _now(), _lease(ctx),
                                               capacity=capacity)))


@router.post("/api/work-items/{item_id}/complete", response_model=schemas.WorkItemOut)
def complete(item_id: int, user: Agent, session: SessionDep, body: CompleteIn | None = None) -> schemas.WorkItemOut:
    _scoped(session, user, item_id)
    outcome = body.outcome if body else "resolved"
    return _out(_committed(session, work.complete(session, item_id, user.username, _now(), outcome)))


@router.post("/api/work-items/{item_id}/renew", response_model=WorkItemFull)
def renew(item_id: int, user: Agent, session: SessionDep, ctx: CtxDep) -> WorkItemFull:
    _scoped(session, user, item_id)
    return _full(_committed(session, work.renew(session, item_id, user.username, _now(), _lease(ctx))))


@router.post("/api/work-items/{item_id}/release", response_model=WorkItemFull)
def release(item_id: int, user: Agent, session: SessionDep) -> WorkItemFull:
    _scoped(session, user, item_id)
    return _full(_committed(session, work.release(session, item_id, user.username, _now())))


@router.post("/api/work-items/{item_id}/hold", response_model=WorkItemFull)
def hold(item_id: int, user: Agent, session: SessionDep, body: HoldIn | None = None) -> WorkItemFull:
    _scoped(session, user, item_id)
    return _full(_committed(session, work.hold(session, item_id, user.username, _now(), body.reason if body else "")))


@router.post("/api/work-items/{item_id}/resume", response_model=WorkItemFull)
def resume(item_id: int, user: Agent, session: SessionDep, ctx: CtxDep) -> WorkItemFull:
    _scoped(session, user, item_id)
    return _full(_committed(session, work.resume(session, item_id, user.username, _now(), ctx.policies,
                                                 _lease(ctx))))


@router.post("/api/work-items/{item_id}/transfer", response_model=WorkItemFull)
def transfer(item_id: int, body: TransferIn, user: Agent, session: SessionDep, ctx: CtxDep) -> WorkItemFull:
    _scoped(session, user, item_id)
    item = work.transfer(session, item_id, user.username, _now(), body.queue, ctx.rules, ctx.policies,
                         reason=body.reason)
    return _full(_committed(session, item))


@router.post("/api/work-items/{item_id}/reclassify", response_model=WorkItemFull)
def reclassify(item_id: int, body: ReclassifyIn, user: Agent, session: SessionDep, ctx: CtxDep) -> WorkItemFull:
    _scoped(session, user, item_id)
    item = work.reclassify(session, item_id, user.username, _now(), body.category, ctx.rules, ctx.policies,
                           segment=body.segment)
    return _full(_committed(session, item))


@router.post("/api/work-items/{item_id}/escalate", response_model=WorkItemFull)
def escalate(item_id: int, body: EscalateIn, user: Agent, session: SessionDep, ctx: CtxDep) -> WorkItemFull:
    _scoped(session, user, item_id)
    item = work.escalate(session, item_id, user.username, _now(), ctx.policies, ctx.rules, body.reason)
    return _full(_committed(session, item))


class FirstResponseIn(BaseModel):
    how: Literal["phone", "chat", "in_person", "other"]
    at: datetime | None = Field(default=None, description="when (default: now), with its UTC offset")
    note: str = Field(default="", max_length=300)


@router.post("/api/work-items/{item_id}/first-response", response_model=WorkItemFull)
def first_response(item_id: int, body: FirstResponseIn, user: Agent, session: SessionDep) -> WorkItemFull:
    """Record a first answer given outside Mailroom's letters (a call, a chat): the first-response clock stops.
    An acknowledgement or reply sent from Mailroom records it by itself."""
    _scoped(session, user, item_id)
    if body.at is not None and body.at.tzinfo is None:
        raise HTTPException(422, "Give the time with its UTC offset, e.g. 2026-11-23T10:00:00+01:00.")
    item = work.record_first_response(session, item_id, user.username, _now(), how=body.how, at=body.at,
                                      note=body.note)
    return _full(_committed(session, item))


class AssignIn(BaseModel):
    to: str = Field(min_length=1, max_length=64, description="the colleague's user name")
    reason: str = Field(min_length=1, max_length=500)


@router.post("/api/work-items/{item_id}/assign", response_model=WorkItemFull)
def assign(item_id: int, body: AssignIn, user: Agent, session: SessionDep, ctx: CtxDep) -> WorkItemFull:
    """Hand the item to a named colleague with a reason: claimed for them, and they are told at once."""
    _scoped(session, user, item_id)
    return _full(_committed(session, work.assign(session, item_id, user.username, _now(), body.to, body.reason,
                                                 _lease(ctx))))


@router.post("/api/work-items/{item_id}/dispatch", response_model=WorkItemFull)
def dispatch(item_id: int, body: DispatchIn, user: Agent, session: SessionDep, ctx: CtxDep) -> WorkItemFull:
    """Record that the reply was sent (post with its tracking number, or e-mail): the statutory
    clock stops at that time, not when the item is closed."""
    _scoped(session, user, item_id)
    if body.at is not None and body.at.tzinfo is None:
        raise HTTPException(422, "Give the dispatch time with its UTC offset, e.g. 2026-11-23T10:00:00+01:00.")
    scope = work.agent_scope(session, user.username).queues  # the case's items the agent may not work stay open
    item = work.dispatch(session, item_id, user.username, _now(), ctx.policies, channel=body.channel,
                         at=body.at, tracking_number=body.tracking_number, queues=scope)
    return _full(_committed(session, item))


# ---------------------------------------------------------------- membership and skills (supervisors)


@router.get("/api/queues/{queue}/members", response_model=list[str])
def get_members(queue: str, user: Supervisor, session: SessionDep) -> list[str]:
    return work.members(session, queue)


@router.put("/api/queues/{queue}/members", response_model=list[str])
def put_members(queue: str, body: MembersIn, user: Supervisor, session: SessionDep, ctx: CtxDep) -> list[str]:
    return work.set_members(session, queue, body.usernames, user.username, ctx.rules)


@router.put("/api/agents/{username}/skills", response_model=SkillsIn)
def put_skills(username: str, body: SkillsIn, user: Supervisor, session: SessionDep) -> SkillsIn:
    s = work.set_skills(session, username, user.username, languages=body.languages, categories=body.categories,
                        segments=body.segments, capacity=body.capacity)
    return SkillsIn(languages=s.languages, categories=s.categories, segments=s.segments, capacity=s.capacity)


# ---------------------------------------------------------------- supervisor figures and Prometheus


@router.get("/api/supervisor/queues", response_model=list[QueueFiguresOut])
def supervisor_queues(user: Supervisor, session: SessionDep, ctx: CtxDep) -> list[QueueFiguresOut]:
    found = figures.queue_figures(session, _now(), [q.id for q in ctx.rules.queues])
    return [QueueFiguresOut.model_validate(f, from_attributes=True) for f in found]


@router.get("/metrics", response_class=Response)
def metrics(user: Supervisor, session: SessionDep, ctx: CtxDep) -> Response:
    """Prometheus text format (scrape with a supervisor's API token or Basic credentials)."""
    found = figures.queue_figures(session, _now(), [q.id for q in ctx.rules.queues])
    return Response(figures.prometheus_text(found), media_type="text/plain; version=0.0.4; charset=utf-8")


# ---------------------------------------------------------------- live events


def _poll(db_url: str, agent: str, cursor: live.Cursor) -> list[live.LiveEvent]:
    with session_scope(db_url) as s:
        return live.poll(s, agent, cursor, time.monotonic())


def _latest(db_url: str) -> int:
    with session_scope(db_url) as s:
        return live.latest_id(s)


@router.get("/api/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}})
async def events(request: Request, user: Agent, ctx: CtxDep,
                 last_event_id: Annotated[str | None, Header(max_length=20)] = None) -> StreamingResponse:
    """My live events: ``item.new`` (in my queues), ``item.taken`` (by someone else),
    ``sla.warning`` / ``sla.breached`` (on my item), ``case.copy``. Resumes after ``Last-Event-ID``.

    The one ``async def`` route: every database call runs in the thread pool, never on the event loop."""
    agent = user.username
    db_url = ctx.db_url
    if last_event_id and last_event_id.isdigit():
        start = int(last_event_id)
    else:
        start = await run_in_threadpool(_latest, db_url)

    async def stream() -> AsyncIterator[str]:
        cursor, quiet = live.Cursor(start), 0.0
        yield "retry: 2000\n: connected\n\n"
        while not await request.is_disconnected():
            found = await run_in_threadpool(_poll, db_url, agent, cursor)
            for ev in found:
                yield f"id: {ev.id}\nevent: {ev.kind}\ndata: {json.dumps(ev.data, ensure_ascii=False)}\n\n"
            quiet = 0.0 if found else quiet + POLL_SECONDS
            if quiet >= HEARTBEAT_SECONDS:
                quiet = 0.0
                yield ": keep-alive\n\n"
            await asyncio.sleep(POLL_SECONDS)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
