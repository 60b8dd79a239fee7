"""The mailroom's corrections page (issue 18): a batch's pages, grouped into its letters, with the tools to re-split
it, turn, reorder or drop pages and have a page read again; then the correction is applied (pipeline/corrections.py)
and the new letters routed. Also the pages' images and the batch check's expected letter count.

No script of its own: the draft is the ``layout`` of the page's address (``1,2|3r90x``). Each tool is a button of
one GET form (``do=<tool> <page>``): the server applies it to the draft and answers with the page at the new
draft's address, back at the page's card. Applying is a POST with the CSRF token and the version the person saw.
A station sees and corrects only its own batches (404 otherwise)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from ground import i18n
from ground.errors import MailroomError
from ground.i18n import _
from pipeline import corrections as c
from storage.audit import record
from storage.models import Envelope, Role, User
from web.deps import CtxDep, CurrentUser, SessionDep
from web.pages import localize, page_error, render
from web.pages.agent import PAGE_IMAGE_MAX_PIXELS

router = APIRouter(include_in_schema=False, dependencies=[Depends(localize)])

SNIPPET = 160  # characters of a page's text shown under its image

# The refusals of pipeline/corrections.py in fixed words, so that the catalogs hold them (gettext reads web/,
# not pipeline/); a test checks that they are the same as c.REASONS.
REASONS = (
    i18n.N_("An e-mail is one letter with its attachments; only scans, faxes and uploaded files can be re-split."),
    i18n.N_("This batch is %(state)s; it can be corrected once all its letters are routed."),
    i18n.N_("The original of this batch was deleted by retention; it cannot be corrected."),
    i18n.N_("The batch was corrected meanwhile (version %(now)d, you saw %(seen)d); reload the page and "
            "correct it again."),
    i18n.N_("A correction must keep at least one letter; to set a batch aside, ask a supervisor."),
    i18n.N_("Letter %(num)d has no page; remove the split point or add a page to it."),
    i18n.N_("There is no page %(page)d in this batch (it has %(total)d pages)."),
    i18n.N_("Page %(page)d is in the correction twice; each page belongs to one letter at most."),
    i18n.N_("Page %(page)d: a page turns by 0, 90, 180 or 270 degrees."),
    i18n.N_("At most %(num)d pages can be read again at once; correct the batch in steps."),
    i18n.N_("The page layout %(layout)s cannot be read; reload the page."),
    i18n.N_("Letter %(num)d (work item %(item)d) was already completed by %(agent)s; a completed item is "
            "not reopened, so its pages must stay as they are."),
    i18n.N_("Letter %(num)d (work item %(item)d) is %(state)s by %(agent)s; ask them to release it, then "
            "correct the batch."),
    i18n.N_("Nothing changes: the letters are already as shown."),
    i18n.N_("The expected number of letters is a whole number from 1 to %(max)d, or empty."),
    i18n.N_("This batch does not exist."),
)


def _mine(session: Session, user: User, envelope_id: str) -> Envelope:
    """The batch, if ``user`` may see it (a station: its own batches only); 404 otherwise."""
    env = session.get(Envelope, envelope_id) if len(envelope_id) <= 64 else None
    if env is None or (user.role == Role.SCANNER.value and env.submitted_by != user.username):
        raise HTTPException(404, _("Not found."))
    return env


def refused(exc: MailroomError) -> str:
    """A refusal of pipeline/corrections.py in the reader's language (its msgid and values), else as page_error."""
    template = getattr(exc, "template", None)
    if template:
        params = dict(getattr(exc, "params", {}))
        if "state" in params:  # a work item's or the batch's state, by its name in the reader's language
            name = i18n.item_state_name if template == c.ITEM_IN_WORK else i18n.envelope_state_name
            params["state"] = name(str(params["state"]))
        return _(template) % params
    return page_error(exc)


def _back(envelope_id: str, layout: str, message: str = "", anchor: str = "") -> RedirectResponse:
    query = {k: v for k, v in (("layout", layout), ("message", message)) if v}
    url = f"/mailroom/batches/{envelope_id}/correct" + (f"?{urlencode(query)}" if query else "")
    return RedirectResponse(url + (f"#{anchor}" if anchor else ""), status_code=303)


@router.get("/mailroom/batches/{envelope_id}/correct")
def correct_page(envelope_id: str, request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep,
                 layout: str = "", do: str = "", message: str = "") -> Response:
    """The batch's pages in its letters (or in the draft ``layout``); ``do``: one tool on one page of the draft."""
    env = _mine(session, user, envelope_id)
    try:
        now = c.current(ctx, session, env.id, c.page_total(ctx, env))
        draft = c.parse_layout(layout) if layout else now.layout
    except MailroomError as exc:
        return render(request, "correct.html", envelope=env, problem=refused(exc), message=message[:500])
    if do:
        op, _sep, page = do.partition(" ")
        if op in c.EDITS and page.isdigit():
            edited = c.edit(draft, op, int(page))
            return _back(env.id, c.format_layout(edited), anchor=f"p{int(page)}")
        return _back(env.id, c.format_layout(draft))
    docs = {d.id: d for d in c.current_documents(env)}
    shape = {tuple((p.page, p.rotate) for p in letter): doc_id
             for letter, doc_id in zip(now.layout.letters, now.documents, strict=True)}
    letters = []
    for n, letter in enumerate(draft.letters, 1):
        doc_id = None if any(p.reread for p in letter) else shape.get(tuple((p.page, p.rotate) for p in letter))
        letters.append({"number": n, "pages": [_page(now, p) for p in letter],
                        "document": docs.get(doc_id) if doc_id else None})
    used = {p.page for p in draft.pages()}
    dropped = [_page(now, c.PageRef(n)) for n in range(1, now.total_pages + 1) if n not in used]
    changed = c.format_layout(draft) != c.format_layout(now.layout)
    record(session, user.username, "envelope.batch_viewed", envelope_id=env.id, detail={"via": "correct"})
    return render(request, "correct.html", envelope=env, letters=letters, dropped=dropped, changed=changed,
                  layout=c.format_layout(draft), version=now.version, now_letters=len(now.layout.letters),
                  check=c.check_of(env), message=message[:500], problem="")


def _page(now: c.Current, ref: c.PageRef) -> dict[str, Any]:
    known = now.known.get((ref.page, ref.rotate)) or now.known.get((ref.page, 0))
    text = " ".join((known.text if known else "").split())
    return {"page": ref.page, "rotate": ref.rotate, "reread": ref.reread,
            "snippet": text[:SNIPPET] + ("…" if len(text) > SNIPPET else ""), "blank": bool(known and known.blank),
            "unknown": known is None}


@router.post("/mailroom/batches/{envelope_id}/correct")
def correct_apply(envelope_id: str, user: CurrentUser, session: SessionDep, ctx: CtxDep,
                  layout: Annotated[str, Form(max_length=20_000)] = "",
                  version: Annotated[int, Form(ge=0)] = -1) -> RedirectResponse:
    """Apply the draft: the new letters are made (a derived version, the original untouched) and routed."""
    env = _mine(session, user, envelope_id)
    session.commit()
    try:
        got = c.correct(ctx, env.id, c.parse_layout(layout), user.username, seen_version=version)
    except MailroomError as exc:
        return _back(env.id, layout, refused(exc))
    made = len(got.created)
    message = i18n.ngettext("Corrected: %(num)d new letter was made and routed.",
                            "Corrected: %(num)d new letters were made and routed.", made) % {"num": made}
    return RedirectResponse(f"/mailroom/batches/{env.id}?{urlencode({'message': message})}", status_code=303)


@router.post("/mailroom/batches/{envelope_id}/pages/{page}/reread")
def reread_now(envelope_id: str, page: int, user: CurrentUser, session: SessionDep, ctx: CtxDep,
               version: Annotated[int, Form(ge=0)] = -1) -> RedirectResponse:
    """Read one page of the original again now; its letter is made anew and routed."""
    env = _mine(session, user, envelope_id)
    if not 1 <= page <= 1_000_000:
        raise HTTPException(404, _("Not found."))
    session.commit()
    try:
        c.reread(ctx, env.id, page, user.username, seen_version=version)
    except MailroomError as exc:
        return _back(env.id, "", refused(exc), anchor=f"p{page}")
    return _back(env.id, "", _("Page %(page)d was read again; its letter was routed anew.") % {"page": page},
                 anchor=f"p{page}")


@router.get("/mailroom/batches/{envelope_id}/pages/{page}.png")
def page_png(envelope_id: str, page: int, user: CurrentUser, session: SessionDep, ctx: CtxDep) -> Response:
    """Page ``page`` of the batch's original, small, as drawn for the corrections page. Audited."""
    env = _mine(session, user, envelope_id)
    if not 1 <= page <= 1_000_000 or env.purged_at is not None:
        raise HTTPException(404, _("Not found."))
    data, ctype = c.original_part(ctx, env)
    budget = ctx.settings.model_copy(update={"max_pixels": min(ctx.settings.max_pixels, PAGE_IMAGE_MAX_PIXELS)})
    try:
        png = c.thumbnail(data, ctype, page, budget)  # drawn in the API process: within the page images' budget
    except MailroomError:
        png = None
    if png is None:
        raise HTTPException(404, _("Not found."))
    record(session, user.username, "envelope.page_viewed", envelope_id=env.id, detail={"page": page})
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.post("/mailroom/batches/{envelope_id}/expected")
def expected_letters(envelope_id: str, request: Request, user: CurrentUser, session: SessionDep,
                     expected_letters: Annotated[str, Form(max_length=12)] = "") -> Response:
    """The letters the station counted in the batch (empty: not known). htmx: the batch check again."""
    env = _mine(session, user, envelope_id)
    problem = ""
    try:
        check = c.set_expected(session, env.id, c.parse_expected(expected_letters), user.username)
        session.commit()
    except MailroomError as exc:
        session.rollback()
        problem, check = refused(exc), c.check_of(_mine(session, user, envelope_id))
    if request.headers.get("hx-request"):
        return render(request, "_batch_check.html", envelope=env, check=check, problem=problem)
    message = problem or _("The expected number of letters is kept.")
    return RedirectResponse(f"/mailroom/batches/{env.id}?{urlencode({'message': message})}", status_code=303)
