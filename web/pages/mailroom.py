"""The mailroom staff's pages: upload, their batches, and held envelopes to send for reading again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ground import i18n
from ground.errors import MailroomError
from ground.i18n import _
from intake.parts import is_email
from pipeline.corrections import check_of
from pipeline.quarantine import HELD, batch_status
from replies import service
from storage.audit import record
from storage.models import Envelope, OutboundLetter, OutboundState, PostBatch, Role, User, WorkItem
from web.api_intake import retry_envelope
from web.deps import CtxDep, CurrentUser, SessionDep
from web.pages import localize, page_error, render
from web.pages.cases import local_day_time

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
                  quarantined=_envelopes_for(session, user, list(HELD), 50), check_of=check_of)


@router.get("/mailroom/batches")
def mailroom_batches(request: Request, user: CurrentUser, session: SessionDep) -> HTMLResponse:
    return render(request, "_batches.html", batches=_envelopes_for(session, user, None, 30), check_of=check_of)


@router.get("/mailroom/batches/{envelope_id}")
def mailroom_batch(envelope_id: str, request: Request, user: CurrentUser, session: SessionDep,
                   message: str = "") -> HTMLResponse:
    """One batch as ``mailroom batch ID`` shows it: pages received, letters found, each one's state and queue
    (a station: its own batches only); the batch check and the way to correct its letters (issue 18)."""
    env = session.get(Envelope, envelope_id) if len(envelope_id) <= 64 else None
    if env is None or (user.role == Role.SCANNER.value and env.submitted_by != user.username):
        raise HTTPException(404, _("Not found."))
    record(session, user.username, "envelope.batch_viewed", envelope_id=env.id, detail={"via": "page"})
    ordered = sorted(env.documents, key=lambda d: (d.part_index, d.doc_index))
    return render(request, "batch.html", envelope=env, status=batch_status(session, envelope_id),
                  documents=[d for d in ordered if d.superseded_by is None],
                  superseded=[d for d in ordered if d.superseded_by is not None], check=check_of(env),
                  correctable=env.state == "processed" and not is_email(env.content_type) and env.purged_at is None,
                  message=message[:500], problem="")


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


# ---------------------------------------------------------------- the daily post (issue 17)

# Refusals of replies/service.py in fixed words, so that page_error finds them in the catalogs.
POST_REASONS = (
    i18n.N_("the hand-over time is in the future"),
    i18n.N_("a registered number has 1 to 64 characters"),
    i18n.N_("the delivery date must lie between the dispatch and now"),
)
BATCHES_SHOWN = 20


def _waiting(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(OutboundLetter).where(
        OutboundLetter.state == OutboundState.QUEUED, OutboundLetter.channel == "post",
        OutboundLetter.batch_id.is_(None))) or 0


def _local_now(request: Request) -> str:
    """Now, as a datetime-local field shows it in the reader's zone (minutes)."""
    return datetime.now(UTC).astimezone(ZoneInfo(request.state.local.zone)).strftime("%Y-%m-%dT%H:%M")


@router.get("/mailroom/post")
def mailroom_post(request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep, message: str = "",
                  focus: str = "") -> HTMLResponse:
    """Letters waiting for the post, today's batch to build, and each batch: its PDFs, the registered numbers
    (typed or scanned), the hand-over, then the return receipts and the letters that came back."""
    batches = list(session.scalars(select(PostBatch).order_by(PostBatch.id.desc()).limit(BATCHES_SHOWN)))
    letters: dict[int, list[OutboundLetter]] = {b.id: [] for b in batches}
    if batches:
        for letter in session.scalars(select(OutboundLetter).where(OutboundLetter.batch_id.in_(list(letters)))
                                      .order_by(OutboundLetter.created_at, OutboundLetter.id)):
            letters[letter.batch_id].append(letter)  # type: ignore[index]
    item_ids = [x.work_item_id for group in letters.values() for x in group]
    items = {i.id: i for i in session.scalars(select(WorkItem).where(WorkItem.id.in_(item_ids)))} if item_ids else {}
    references = {x.id: service.reference_of(items[x.work_item_id], ctx.reply_policy)
                  for group in letters.values() for x in group if x.work_item_id in items}
    if not focus:  # the first letter of an open batch still without its number: where a scanner starts
        focus = next((x.id for b in batches if b.state != "handed_over" for x in letters[b.id]
                      if not x.registered_number), "")
    return render(request, "post.html", waiting=_waiting(session), batches=batches, letters=letters,
                  references=references, message=message[:500], focus=focus[:36], now_local=_local_now(request),
                  today=datetime.now(UTC).astimezone(ZoneInfo(request.state.local.zone)).date().isoformat())


def _post_back(message: str, batch_id: int | None = None, focus: str = "") -> RedirectResponse:
    """Back to the post page. No #fragment: a browser skips autofocus when the URL targets an element, and the
    focus is what a barcode scanner needs (the page puts it on the next letter without its number)."""
    query = {"message": message, **({"focus": focus} if focus else {})}
    return RedirectResponse("/mailroom/post?" + urlencode(query), status_code=303)


@router.post("/mailroom/post/batches")
def mailroom_build_batch(request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> RedirectResponse:
    batch = service.create_batch(session, user.username, datetime.now(UTC), ctx.outbound,
                                 request.state.local.language)
    if batch is None:
        return _post_back(_("No letter waits for the post."))
    session.commit()
    return _post_back(_("Batch %(id)s is ready to print.") % {"id": batch.id}, batch.id)


@router.get("/mailroom/post/batches/{batch_id}/{which}.pdf")
def mailroom_batch_pdf(batch_id: int, which: Literal["print", "posting-list"], user: CurrentUser,
                       session: SessionDep, ctx: CtxDep) -> Response:
    """``print``: every letter of the batch, duplex-ready; ``posting-list``: the registered letters' list."""
    batch = session.get(PostBatch, batch_id) if 0 < batch_id < 2**63 else None
    sha = None if batch is None else batch.print_sha256 if which == "print" else batch.list_sha256
    if not sha:
        raise HTTPException(404, _("Not found."))
    return Response(ctx.blobs.get(sha), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="batch-{batch_id}-{which}.pdf"'})


@router.post("/mailroom/post/batches/{batch_id}/{action}")
def mailroom_batch_action(request: Request, batch_id: int, action: str, user: CurrentUser, session: SessionDep,
                          ctx: CtxDep, letter: Annotated[list[str] | None, Form()] = None,
                          number: Annotated[list[str] | None, Form()] = None,
                          at: Annotated[str, Form(max_length=40)] = "") -> RedirectResponse:
    """``numbers``: keep the registered numbers typed or scanned so far (Enter in a field: the next one gets
    the focus); ``hand-over``: the batch went to the post at ``at`` (the reader's local time, default now)."""
    batch = session.get(PostBatch, batch_id) if 0 < batch_id < 2**63 else None
    if batch is None or action not in ("numbers", "hand-over"):
        raise HTTPException(404, _("Not found."))
    ids = [x[:36] for x in (letter or [])][:500]
    typed = {i: n.strip() for i, n in zip(ids, number or [], strict=False) if n.strip()}
    mine = {x.id: x for x in session.scalars(select(OutboundLetter).where(OutboundLetter.batch_id == batch_id))}
    if set(typed) - set(mine):
        raise HTTPException(404, _("Not found."))
    now = datetime.now(UTC)
    try:
        if action == "numbers":
            for letter_id, value in typed.items():
                if value != (mine[letter_id].registered_number or ""):
                    service.set_registered_number(session, letter_id, value, user.username, now)
            session.commit()
            following = next((x.id for x in mine.values() if not x.registered_number), "")
            ordered = [i for i in ids if i in mine]
            after = ordered[ordered.index(max(typed, key=ordered.index)) + 1:] if typed else ordered
            focus = next((i for i in after if not mine[i].registered_number), following)
            return _post_back(_("Registered numbers kept."), batch_id, focus)
        when = now
        if at.strip():
            try:
                when = datetime.fromisoformat(at.strip())
            except ValueError:
                return _post_back(_("Give the hand-over time as a date and time."), batch_id)
            if when.tzinfo is None:
                when = when.replace(tzinfo=ZoneInfo(request.state.local.zone))
            when = when.astimezone(UTC)
            if timedelta(0) <= now - when < timedelta(minutes=1):
                when = now  # the field shows minutes: "this minute" is now (not before a letter received in it)
        service.hand_over(session, batch_id, user.username, when, now, ctx.outbound,
                          {k: v for k, v in typed.items() if v != (mine[k].registered_number or "")})
        session.commit()
    except MailroomError as exc:
        session.rollback()
        return _post_back(page_error(exc), batch_id)
    return _post_back(_("Batch %(id)s is handed over to the post.") % {"id": batch_id}, batch_id)


@router.post("/mailroom/post/letters/{letter_id}/{action}")
def mailroom_letter_action(request: Request, letter_id: str, action: str, user: CurrentUser, session: SessionDep,
                           ctx: CtxDep, on: Annotated[str, Form(max_length=20)] = "",
                           reason: Annotated[str, Form(max_length=500)] = "") -> RedirectResponse:
    """``delivered``: the date of the return receipt; ``returned``: the post brought the letter back."""
    letter = session.get(OutboundLetter, letter_id) if len(letter_id) <= 36 else None
    if letter is None or letter.channel != "post" or action not in ("delivered", "returned"):
        raise HTTPException(404, _("Not found."))
    batch_id, now = letter.batch_id, datetime.now(UTC)
    try:
        if action == "returned":
            service.record_returned(session, letter_id, user.username, now, ctx.outbound, reason)
            message = _("The letter is marked as returned; its agent sees it again.")
        else:
            day = i18n.parse_date_input(on)
            if day is None:
                return _post_back(_("Give the date of the return receipt."), batch_id)
            when = local_day_time(day, request.state.local.zone)
            if letter.dispatched_at is not None:
                when = max(when, letter.dispatched_at)
            when = min(when, now)
            service.record_delivery(session, letter_id, user.username, when, now, ctx.outbound)
            message = _("The delivery is recorded.")
        session.commit()
    except MailroomError as exc:
        session.rollback()
        return _post_back(page_error(exc), batch_id)
    return _post_back(message, batch_id)
