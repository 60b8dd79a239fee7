"""The category model's page (issue 19): the model in force, training a candidate, each candidate's evaluation
beside the model that was in force when it was trained, promotion and rollback. Admins act; supervisors and
auditors read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ground.errors import MailroomError
from ground.i18n import _
from pipeline import models
from storage.models import Role
from web import api_models
from web.deps import CtxDep, CurrentUser, SessionDep
from web.pages import localize, page_error, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(localize)])

METRICS = ("macro_f1", "accuracy", "triage_share", "ece", "letters")


def _admin(role: str) -> None:
    if role != Role.ADMIN.value:
        raise HTTPException(404, _("Not found."))


@router.get("/admin/models")
def models_page(request: Request, user: CurrentUser, session: SessionDep, message: str = "") -> HTMLResponse:
    return render(request, "models.html", overview=api_models.overview(session), metrics=METRICS,
                  editable=user.role == Role.ADMIN.value, message=message[:300], shipped_name=models.SHIPPED)


def _back(message: str) -> RedirectResponse:
    return RedirectResponse("/admin/models?" + urlencode({"message": message}), status_code=303)


@router.post("/admin/models/train")
def models_train(user: CurrentUser, ctx: CtxDep, seed: Annotated[int, Form(ge=0, le=2**31)] = 1,
                 per_pair: Annotated[int, Form(ge=1, le=500)] = 60,
                 epochs: Annotated[int, Form(ge=1, le=50)] = 5) -> RedirectResponse:
    _admin(user.role)
    api_models.start_training(ctx, user, api_models.TrainIn(seed=seed, per_pair=per_pair, epochs=epochs))
    return _back(_("Training started on a worker. The new model appears below when it is done; it is not put "
                   "in force until you promote it."))


@router.post("/admin/models/{model_id}/promote")
def models_promote(model_id: int, user: CurrentUser, session: SessionDep) -> RedirectResponse:
    _admin(user.role)
    try:
        row = models.promote(session, model_id, user.username, datetime.now(UTC))
        session.commit()
    except MailroomError as exc:
        session.rollback()
        return _back(page_error(exc))
    return _back(_("Model %(version)s is in force; every worker uses it within a few seconds.") % {
        "version": row.version})


@router.post("/admin/models/rollback")
def models_rollback(user: CurrentUser, session: SessionDep) -> RedirectResponse:
    _admin(user.role)
    try:
        row = models.rollback(session, user.username, datetime.now(UTC))
        session.commit()
    except MailroomError as exc:
        session.rollback()
        return _back(page_error(exc))
    return _back(_("Rolled back: model %(version)s is in force again.") % {"version": row.version})
