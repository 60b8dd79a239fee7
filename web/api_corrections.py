"""Mailroom corrections over HTTP (issue 18): a batch's letters as a page layout, a correction (re-split,
rotate, reorder, drop, re-read), one page read again, and the batch check's expected letter count.

Thin shell over pipeline/corrections.py. The handlers are plain ``def``: FastAPI runs them in its thread pool, so
reading a page again and routing the new letters never block the event loop. A station (a scanner, an
upload-scoped token) sees and corrects only its own batches; anyone else who may not see a batch gets 404."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from pipeline import corrections as c
from storage.audit import record
from storage.models import Envelope, Role, User
from web.api_intake import may_read
from web.deps import CtxDep, Identity, IdentityDep, SessionDep, require

router = APIRouter(tags=["corrections"])

Staff = Annotated[User, require(Role.SCANNER, Role.SUPERVISOR)]
Viewer = Annotated[User, require(Role.SCANNER, Role.SUPERVISOR, Role.AUDITOR)]
Rotation = Literal[0, 90, 180, 270]


class PageIn(BaseModel):
    page: int = Field(ge=1, le=1_000_000, description="page number in the original file (1-based)")
    rotate: Rotation = Field(0, description="degrees clockwise, counted from the original page")
    reread: bool = Field(False, description="read the page again (OCR of the page drawn and turned)")


class CorrectionIn(BaseModel):
    version: int = Field(ge=0, description="the batch's correction version the caller saw (compare-and-set)")
    letters: list[list[PageIn]] = Field(min_length=1, max_length=10_000,
                                        description="the letters in order, each its pages in order; a page in "
                                                    "no letter is dropped")


class RereadIn(BaseModel):
    version: int = Field(ge=0)
    rotate: Rotation | None = Field(None, description="turn the page first (default: as it is now)")


class ExpectedIn(BaseModel):
    expected_letters: int | None = Field(ge=1, le=c.MAX_EXPECTED, description="letters the station counted; "
                                                                              "null: not known")


class CheckOut(BaseModel):
    pages_scanned: int | None
    letters_found: int
    letters_expected: int | None
    pages_in_letters: int
    corrections: int
    differs: bool


class PageOut(BaseModel):
    page: int
    rotate: int


class LetterOut(BaseModel):
    document_id: str
    pages: list[PageOut]
    category: str | None
    queue: str | None
    state: str


class LayoutOut(BaseModel):
    envelope_id: str
    version: int
    pages_total: int
    layout: str
    letters: list[LetterOut]
    dropped: list[int]
    check: CheckOut


class CorrectedOut(BaseModel):
    envelope_id: str
    version: int
    kept: list[str]
    superseded: list[str]
    created: list[str]
    work_items: dict[str, int | None]
    check: CheckOut


def check_out(check: c.BatchCheck) -> CheckOut:
    return CheckOut(pages_scanned=check.pages_scanned, letters_found=check.letters_found,
                    letters_expected=check.letters_expected, pages_in_letters=check.pages_in_letters,
                    corrections=check.corrections, differs=check.differs)


def visible(session: Session, user: User, ident: Identity | None, envelope_id: str) -> Envelope:
    env = session.get(Envelope, envelope_id) if len(envelope_id) <= 64 else None
    if env is None or not may_read(user, ident, env):
        raise HTTPException(404, "Not found.")
    return env


def _layout(ctx: Any, session: Session, env: Envelope) -> LayoutOut:
    now = c.current(ctx, session, env.id, c.page_total(ctx, env))
    docs = {d.id: d for d in c.current_documents(env)}
    letters = []
    for doc_id, pages in zip(now.documents, now.layout.letters, strict=True):
        d = docs[doc_id]
        item = d.work_item
        letters.append(LetterOut(document_id=doc_id, pages=[PageOut(page=p.page, rotate=p.rotate) for p in pages],
                                 category=d.category, queue=item.queue if item else None,
                                 state=str(item.state) if item else str(d.state)))
    used = {p.page for p in now.layout.pages()}
    return LayoutOut(envelope_id=env.id, version=now.version, pages_total=now.total_pages,
                     layout=c.format_layout(now.layout), letters=letters,
                     dropped=[n for n in range(1, now.total_pages + 1) if n not in used],
                     check=check_out(c.check_of(env)))


def _done(ctx: Any, session: Session, got: c.Corrected) -> CorrectedOut:
    session.expire_all()
    env = session.get(Envelope, got.envelope_id)
    assert env is not None
    return CorrectedOut(envelope_id=got.envelope_id, version=got.version, kept=got.kept, superseded=got.superseded,
                        created=got.created, work_items=got.work_items, check=check_out(c.check_of(env)))


@router.get("/api/batches/{envelope_id}/layout", response_model=LayoutOut)
def batch_layout(envelope_id: str, user: Viewer, ident: IdentityDep, session: SessionDep,
                 ctx: CtxDep) -> LayoutOut:
    """The batch's letters as pages of the original file (with their turn), pages in no letter, its correction
    version (send it back with a correction) and the batch check. Audited."""
    env = visible(session, user, ident, envelope_id)
    out = _layout(ctx, session, env)
    record(session, user.username, "envelope.batch_viewed", envelope_id=env.id, detail={"via": "api", "layout": True})
    return out


@router.post("/api/batches/{envelope_id}/corrections", response_model=CorrectedOut)
def batch_correct(envelope_id: str, body: CorrectionIn, user: Staff, ident: IdentityDep, session: SessionDep,
                  ctx: CtxDep) -> CorrectedOut:
    """Make ``letters`` the batch's letters: a new derived version (the original is never altered). Letters
    that change are replaced: their open work items are closed as ``superseded_by_correction`` and the new
    letters routed as new work items; a letter whose item an agent holds or completed is refused (409)."""
    env = visible(session, user, ident, envelope_id)
    layout = c.Layout(tuple(tuple(c.PageRef(p.page, p.rotate, p.reread) for p in letter) for letter in body.letters))
    session.commit()
    got = c.correct(ctx, env.id, layout, user.username, seen_version=body.version)
    return _done(ctx, session, got)


@router.post("/api/batches/{envelope_id}/pages/{page}/reread", response_model=CorrectedOut)
def batch_reread(envelope_id: str, page: int, body: RereadIn, user: Staff, ident: IdentityDep, session: SessionDep,
                 ctx: CtxDep) -> CorrectedOut:
    """Read one page of the original again (turned by ``rotate`` first); its letter is made anew and routed."""
    env = visible(session, user, ident, envelope_id)
    if not 1 <= page <= 1_000_000:
        raise HTTPException(404, "Not found.")
    session.commit()
    got = c.reread(ctx, env.id, page, user.username, seen_version=body.version, rotate=body.rotate)
    return _done(ctx, session, got)


@router.put("/api/batches/{envelope_id}/expected-letters", response_model=CheckOut)
def batch_expected(envelope_id: str, body: ExpectedIn, user: Staff, ident: IdentityDep,
                   session: SessionDep) -> CheckOut:
    """How many letters the station counted in the batch (null: not known); the batch check warns when the
    letters found differ. Audited."""
    env = visible(session, user, ident, envelope_id)
    return check_out(c.set_expected(session, env.id, body.expected_letters, user.username))

