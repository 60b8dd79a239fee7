"""Routing rules and SLA policies in the browser (issue 19): the text in force in an editor, a check with a dry
run over the latest letters, saving a new version, the history with each version's diff, and rollback.
Supervisors edit routing, admins both; auditors (and supervisors, for SLA) read."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ground.errors import MailroomError
from ground.i18n import _
from pipeline import config_check
from storage import config_store
from storage.models import Role, User
from web import api_config
from web.deps import CtxDep, CurrentUser, SessionDep
from web.pages import localize, page_error, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(localize)])

Kind = Annotated[str, Path(pattern="^(routing|sla)$")]


def may_edit(user: User, kind: str) -> bool:
    return user.role == Role.ADMIN.value or (kind == "routing" and user.role == Role.SUPERVISOR.value)


def _editor(user: User, kind: str) -> None:
    if not may_edit(user, kind):
        raise HTTPException(404, _("Not found."))


def _page(request: Request, user: User, session: SessionDep, ctx: CtxDep, kind: str, *, text: str | None = None,
          based_on: int | None = None, comment: str = "", last: int = config_check.DRY_RUN_LETTERS,
          result: config_check.CheckResult | None = None, message: str = "", error: str = "",
          status_code: int = 200) -> HTMLResponse:
    got = api_config.in_force(session, ctx, kind)
    return render(request, "config.html", status_code=status_code, kind=kind, current=got,
                  text=got.text if text is None else text, based_on=got.version if text is None else based_on,
                  comment=comment, last=last, result=result, message=message[:300], error=error,
                  editable=may_edit(user, kind), versions=config_store.history(session, kind),
                  running=ctx.config_version(kind), file=config_store.KINDS[kind])


@router.get("/config/{kind}")
def config_page(kind: Kind, request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep,
                message: str = "") -> HTMLResponse:
    return _page(request, user, session, ctx, kind, message=message)


def _based_on(value: str) -> int | None:
    return int(value) if value.isdigit() else None


@router.post("/config/{kind}/check")
def config_check_page(kind: Kind, request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep,
                      text: Annotated[str, Form(max_length=config_store.MAX_TEXT)],
                      based_on: Annotated[str, Form(max_length=20)] = "",
                      comment: Annotated[str, Form(max_length=500)] = "",
                      last: Annotated[int, Form(ge=1, le=config_check.MAX_DRY_RUN_LETTERS)] =
                      config_check.DRY_RUN_LETTERS) -> HTMLResponse:
    """The edit checked and replayed over the last letters; the editor keeps the edited text."""
    _editor(user, kind)
    result = config_check.check(ctx, kind, text, last)
    return _page(request, user, session, ctx, kind, text=text, based_on=_based_on(based_on), comment=comment,
                 last=last, result=result, status_code=200 if result.error is None else 422)


@router.post("/config/{kind}", response_model=None)
def config_save_page(kind: Kind, request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep,
                     text: Annotated[str, Form(max_length=config_store.MAX_TEXT)],
                     based_on: Annotated[str, Form(max_length=20)] = "",
                     comment: Annotated[str, Form(max_length=500)] = "") -> HTMLResponse | RedirectResponse:
    _editor(user, kind)
    try:
        row = api_config.save(session, ctx, user, kind, text, comment, _based_on(based_on))
        session.commit()
    except MailroomError as exc:
        session.rollback()
        return _page(request, user, session, ctx, kind, text=text, based_on=_based_on(based_on), comment=comment,
                     error=page_error(exc), status_code=exc.http_status)
    message = _("Saved as version %(version)s. Every worker and page uses it within a few seconds.") % {
        "version": row.id}
    return RedirectResponse(f"/config/{kind}?" + urlencode({"message": message}), status_code=303)


@router.get("/config/{kind}/versions/{version_id}")
def config_version_page(kind: Kind, version_id: int, request: Request, user: CurrentUser, session: SessionDep,
                        ctx: CtxDep) -> HTMLResponse:
    try:
        got = api_config.version(session, ctx, kind, version_id)
    except MailroomError as exc:
        raise HTTPException(404, _("Not found.")) from exc
    in_force = config_store.latest_id(session, kind)
    return render(request, "config_version.html", kind=kind, version=got, in_force=in_force,
                  editable=may_edit(user, kind), file=config_store.KINDS[kind])


@router.post("/config/{kind}/versions/{version_id}/rollback")
def config_rollback_page(kind: Kind, version_id: int, user: CurrentUser, session: SessionDep, ctx: CtxDep,
                         comment: Annotated[str, Form(max_length=500)] = "") -> RedirectResponse:
    _editor(user, kind)
    try:
        row = api_config.rollback(session, ctx, user, kind, version_id, comment)
        session.commit()
        message = (_("Version %(old)s is in force again, saved as version %(version)s.") % {
            "old": version_id, "version": row.id} if version_id else
            _("The file is in force again, saved as version %(version)s.") % {"version": row.id})
    except MailroomError as exc:
        session.rollback()
        message = page_error(exc)
    return RedirectResponse(f"/config/{kind}?" + urlencode({"message": message}), status_code=303)
