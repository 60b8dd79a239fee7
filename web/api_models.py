"""The category model's lifecycle (issue 19): trained versions with their evaluation beside the model in force,
training from agents' corrections (a worker job), promotion and rollback by an admin. Thin shell over
pipeline.models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from classifiers.model import shipped_model
from pipeline import models
from pipeline.jobs import enqueue_training, open_worker_queues
from storage.models import ModelActivation, ModelVersion, Role, User
from web.deps import CtxDep, SessionDep, require

router = APIRouter(tags=["models"])

Reader = Annotated[User, require(Role.SUPERVISOR, Role.AUDITOR)]
Admin = Annotated[User, require()]


class ModelOut(BaseModel):
    id: int
    version: str
    trained_by: str
    trained_at: datetime
    size: int
    params: dict[str, Any]
    evaluation: dict[str, Any] = Field(description="candidate and active (the model in force when it was trained): "
                                                   "per set (held_out, independent) macro_f1, per_category, "
                                                   "accuracy, triage_share, ece, letters")


class ActivationOut(BaseModel):
    id: int
    model_id: int | None = Field(description="None: the model shipped in the package")
    version: str
    actor: str
    action: str
    at: datetime


class ModelsOut(BaseModel):
    in_force: ActivationOut | None = Field(description="None: the shipped model, nothing was ever promoted")
    shipped: str | None
    models: list[ModelOut]
    activations: list[ActivationOut]


class TrainIn(BaseModel):
    seed: int = Field(1, ge=0, le=2**31)
    per_pair: int = Field(60, ge=1, le=500, description="generated letters per language × category")
    epochs: int = Field(5, ge=1, le=50)


class TrainOut(BaseModel):
    job_id: str


def overview(session: Session) -> ModelsOut:
    shipped = shipped_model()
    current = models.in_force(session)
    return ModelsOut(
        in_force=ActivationOut.model_validate(current, from_attributes=True) if current else None,
        shipped=shipped.version if shipped else None,
        models=[ModelOut.model_validate(m, from_attributes=True) for m in session.scalars(
            select(ModelVersion).order_by(ModelVersion.id.desc()).limit(50))],
        activations=[ActivationOut.model_validate(a, from_attributes=True) for a in session.scalars(
            select(ModelActivation).order_by(ModelActivation.id.desc()).limit(50))])


def start_training(ctx: CtxDep, user: User, body: TrainIn) -> str:
    with open_worker_queues(ctx.settings) as queues:
        return enqueue_training(queues[0], user.username, body.seed, body.per_pair, body.epochs)


@router.get("/api/models", response_model=ModelsOut)
def list_models(user: Reader, session: SessionDep) -> ModelsOut:
    """The model in force, the trained versions (newest first) with their evaluation, and the promotions."""
    return overview(session)


@router.post("/api/models/train", response_model=TrainOut, status_code=202)
def train_model(body: TrainIn, user: Admin, ctx: CtxDep) -> TrainOut:
    """Train a candidate from the generator's letters and agents' corrections, on a worker; it appears in
    ``GET /api/models`` when done (a few minutes with the defaults). It is not put in force."""
    return TrainOut(job_id=start_training(ctx, user, body))


@router.post("/api/models/{model_id}/promote", response_model=ActivationOut)
def promote_model(model_id: int, user: Admin, session: SessionDep) -> ActivationOut:
    """Put a trained model in force (0: the shipped one); every worker classifies with it within seconds."""
    row = models.promote(session, model_id, user.username, datetime.now(UTC))
    session.commit()
    return ActivationOut.model_validate(row, from_attributes=True)


@router.post("/api/models/rollback", response_model=ActivationOut)
def rollback_model(user: Admin, session: SessionDep) -> ActivationOut:
    """Put back the model that was in force before the current one."""
    row = models.rollback(session, user.username, datetime.now(UTC))
    session.commit()
    return ActivationOut.model_validate(row, from_attributes=True)
