"""The mailroom staff's pages: upload, their batches, and held envelopes to send for reading again."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from ground.i18n import _
from pipeline.quarantine import HELD, batch_status
from storage.audit import record
from storage.models import Envelope, Role, User
from web.api_intake import retry_envelope
from web.deps import CtxDep, CurrentUser, SessionDep
from web.pages import localize, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(localize)])

CHANNELS = ["scan", "fax", "email", "upload"]


def _envelopes_for(session: Session, user: User, states: list[str] | None, limit: int) -> list[Envelope]:
    q = select(Envelope).order_by(Envelope.received_at.desc()).limit(limit)
    if states:
        q = q.where(Envelope.state.in_(states))
    if user.role == Role.SCANNER.value:
        q = q.where(Envelope.submitted_by == user.username)
    return list(session.scalars(q))


@router.get("/mailroom")
def mailroom_page(request: Request, user: CurrentUser, session: SessionDep) -> HTMLResponse:
    return render(request, "mailroom.html", channels=CHANNELS, batches=_envelopes_for(session, user, None, 30),
                  quarantined=_envelopes_for(session, user, list(HELD), 50))


@router.get("/mailroom/batches")
def mailroom_batches(request: Request, user: CurrentUser, session: SessionDep) -> HTMLResponse:
    return render(request, "_batches.html", batches=_envelopes_for(session, user, None, 30))


@router.get("/mailroom/batches/{envelope_id}")
def mailroom_batch(envelope_id: str, request: Request, user: CurrentUser, session: SessionDep) -> HTMLResponse:
    """One batch as ``mailroom batch ID`` shows it: pages received, letters found, each one's state and queue
    (a station: its own batches only)."""
    env = session.get(Envelope, envelope_id) if len(envelope_id) <= 64 else None
    if env is None or (user.role == Role.SCANNER.value and env.submitted_by != user.username):
        raise HTTPException(404, _("Not found."))
    record(session, user.username, "envelope.batch_viewed", envelope_id=env.id, detail={"via": "page"})
    return render(request, "batch.html", envelope=env, status=batch_status(session, envelope_id),
                  documents=sorted(env.documents, key=lambda d: (d.part_index, d.doc_index)))


@router.get("/mailroom/quarantine")
def mailroom_quarantine(request: Request, user: CurrentUser, session: SessionDep) -> HTMLResponse:
    return render(request, "_quarantine.html", quarantined=_envelopes_for(session, user, list(HELD), 50), message="")


@router.post("/mailroom/quarantine/{envelope_id}/retry")
def mailroom_retry(envelope_id: str, request: Request, user: CurrentUser, session: SessionDep,
                   ctx: CtxDep) -> HTMLResponse:
    """The API's retry (web/api_intake.py), for a held envelope the user may see (a station: its own)."""
    env = session.get(Envelope, envelope_id)
    if env is None or env.state not in HELD or (
            user.role == Role.SCANNER.value and env.submitted_by != user.username):
        raise HTTPException(404, _("Not found."))
    session.commit()
    retry_envelope(ctx, envelope_id, user.username)
    session.expire_all()
    return render(request, "_quarantine.html", message=_("Sent for processing again."),
                  quarantined=_envelopes_for(session, user, list(HELD), 50))
