"""The category model's lifecycle in the service (issue 19): train a candidate from agents' corrections, evaluate
it beside the model in force, let a person promote it, and roll back in one action.

A trained model is a tar archive in the blob store (the data directory, or S3 in scale-out), never written into
the package. The newest row of ``model_activations`` names the model in force; every process looks for a newer
one at most every ``config_reload_seconds`` (from ``run_route``, before it classifies) and unpacks the archive into
``<data>/models/<version>`` once. Each document records the version that classified it (``model_version``).

Evaluation: a held-out slice of the corrections (every fifth, never trained on) and the independent evaluation
set (``evaluation/letters``: letters the generator did not write; measured, never trained or tuned on) when this
installation has it; per set macro-F1, F1 per category, the share that would go to triage (confidence below the
routing rules' threshold) and the expected calibration error.
"""

from __future__ import annotations

import io
import logging
import os
import tarfile
import tempfile
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from classifiers import classify_with
from classifiers.model import CategoryModel, load_model, shipped_model, use_model
from classifiers.training import Example, build_model, corrections_from_db, expected_calibration_error
from ground.errors import InvalidRequest, NotFound
from ground.records import CATEGORIES
from pipeline.context import Context
from storage.audit import record
from storage.db import session_scope
from storage.models import ModelActivation, ModelVersion

log = logging.getLogger(__name__)
SHIPPED = "shipped"  # how the pages and the API name the model in the package
HOLD_OUT_EVERY = 5  # every fifth correction is kept out of training, to evaluate on


# ---------------------------------------------------------------- evaluation


def _f1(pairs: Sequence[tuple[str, str]]) -> tuple[float, dict[str, float]]:
    per: dict[str, float] = {}
    for c in CATEGORIES:
        tp = sum(1 for t, p in pairs if t == c and p == c)
        fp = sum(1 for t, p in pairs if t != c and p == c)
        fn = sum(1 for t, p in pairs if t == c and p != c)
        if tp + fp + fn:
            per[c] = round(2 * tp / (2 * tp + fp + fn), 4)
    return (round(sum(per.values()) / len(per), 4) if per else 0.0), per


def evaluate(model: CategoryModel | None, examples: Sequence[tuple[str, str]], threshold: float) -> dict[str, Any]:
    """Scores of ``model`` on (text, true category) pairs."""
    if not examples:
        return {"letters": 0}
    found = [classify_with(text, model) for text, _ in examples]
    pairs = [(truth, c.category) for (_, truth), c in zip(examples, found, strict=True)]
    macro, per = _f1(pairs)
    return {"letters": len(examples), "macro_f1": macro, "per_category": per,
            "accuracy": round(sum(t == p for t, p in pairs) / len(pairs), 4),
            "triage_share": round(sum(c.confidence < threshold for c in found) / len(found), 4),
            "ece": round(expected_calibration_error([c.confidence for c in found], [t == p for t, p in pairs]), 4)}


def independent_set() -> list[tuple[str, str]]:
    """The independent evaluation set's letters as (text, category); empty when this installation lacks it."""
    try:
        from evaluation.truth import ROOT, load_letters
    except ImportError:
        return []
    return [(x.text, x.category) for x in load_letters()] if ROOT.is_dir() else []


def evaluation_sets(held_out: Sequence[Example]) -> dict[str, list[tuple[str, str]]]:
    return {"held_out": [(e.text, e.category) for e in held_out], "independent": independent_set()}


# ---------------------------------------------------------------- training


def _archive(model: CategoryModel) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        model.to_disk(Path(tmp) / "model")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            tar.add(Path(tmp) / "model", arcname="model")
        return buf.getvalue()


@dataclass
class Trained:
    id: int
    version: str
    evaluation: dict[str, Any]


def train(ctx: Context, actor: str, now: datetime, *, seed: int = 1, per_pair: int = 60, epochs: int = 5,
          calibration_per_pair: int = 25, say: Callable[[str], None] | None = None) -> Trained:
    """Train a candidate on the generator's letters, our phrases and agents' corrections (all but every fifth),
    evaluate it and the model in force on the held-out corrections and the independent set, store it."""
    with session_scope(ctx.db_url) as s:
        corrections = corrections_from_db(s)
    held_out = corrections[HOLD_OUT_EVERY - 1::HOLD_OUT_EVERY]
    training = [c for i, c in enumerate(corrections) if i % HOLD_OUT_EVERY != HOLD_OUT_EVERY - 1]
    model = build_model(seed=seed, per_pair=per_pair, corrections=training, epochs=epochs,
                        calibration_per_pair=calibration_per_pair, log=say)
    threshold = ctx.rules.confidence_threshold
    active = active_model(ctx)
    sets = evaluation_sets(held_out)
    evaluation = {"candidate": {k: evaluate(model, v, threshold) for k, v in sets.items()},
                  "active": {k: evaluate(active, v, threshold) for k, v in sets.items()},
                  "active_version": active.version if active is not None else SHIPPED}
    data = _archive(model)
    key = ctx.blobs.put(data)
    with session_scope(ctx.db_url) as s:
        existing = s.scalars(select(ModelVersion).where(ModelVersion.version == model.version)).first()
        if existing is not None:  # the same seed, parameters and corrections: the same model
            return Trained(existing.id, existing.version, existing.evaluation)
        row = ModelVersion(version=model.version, blob=key, size=len(data), trained_by=actor, trained_at=now,
                           params={**model.meta, "corrections_held_out": len(held_out)}, evaluation=evaluation)
        s.add(row)
        s.flush()
        record(s, actor, "model.trained", detail={"model": row.id, "version": row.version, "bytes": len(data),
                                                  "corrections": len(training), "held_out": len(held_out),
                                                  "seed": seed, "per_pair": per_pair, "epochs": epochs})
        return Trained(row.id, row.version, evaluation)


# ---------------------------------------------------------------- promotion and rollback


def in_force(session: Session) -> ModelActivation | None:
    return session.scalars(select(ModelActivation).order_by(ModelActivation.id.desc()).limit(1)).first()


def promote(session: Session, model_id: int, actor: str, now: datetime) -> ModelActivation:
    """Put a trained model in force (0: the shipped one); every worker uses it within seconds."""
    if model_id == 0:
        version = (shipped_model() or _no_model()).version
        row_id = None
    else:
        row = session.get(ModelVersion, model_id)
        if row is None:
            raise NotFound(f"model {model_id} does not exist")
        version, row_id = row.version, row.id
    current = in_force(session)
    if (current.model_id if current else None) == row_id and current is not None:
        raise InvalidRequest(f"model {version} is already in force")
    return _activate(session, row_id, version, actor, now, "promoted")


def rollback(session: Session, actor: str, now: datetime) -> ModelActivation:
    """Put back the model that was in force before the current one (one action)."""
    rows = list(session.scalars(select(ModelActivation).order_by(ModelActivation.id.desc()).limit(2)))
    if not rows:
        raise InvalidRequest("the shipped model is in force and nothing was promoted: there is nothing to roll back")
    if len(rows) == 1:
        version = (shipped_model() or _no_model()).version
        return _activate(session, None, version, actor, now, "rolled_back")
    before = rows[1]
    return _activate(session, before.model_id, before.version, actor, now, "rolled_back")


def _no_model() -> CategoryModel:
    raise InvalidRequest("this installation ships no category model to go back to")


def _activate(session: Session, model_id: int | None, version: str, actor: str, now: datetime,
              action: str) -> ModelActivation:
    row = ModelActivation(model_id=model_id, version=version, actor=actor, action=action, at=now)
    session.add(row)
    session.flush()
    record(session, actor, f"model.{action}", detail={"model": model_id, "version": version, "activation": row.id})
    return row


# ---------------------------------------------------------------- every process: the model in force


def _unpack(ctx: Context, row: ModelVersion) -> Path:
    """The model's directory under <data>/models, unpacked from the blob store once (atomically)."""
    root = ctx.settings.data / "models"
    target = root / row.version
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    data = ctx.blobs.get(row.blob)
    with tempfile.TemporaryDirectory(dir=root) as tmp, tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(tmp, filter="data")
        try:
            os.rename(Path(tmp) / "model", target)
        except OSError:  # another process of this machine unpacked it first
            if not target.is_dir():
                raise
    return target


def refresh(ctx: Context) -> CategoryModel | None:
    """Bring this process's model up to date with the newest activation (looked up at most every few seconds)."""
    def build(activation: Hashable) -> CategoryModel | None:
        with session_scope(ctx.db_url) as s:
            current = s.get(ModelActivation, activation) if activation is not None else None
            row = s.get(ModelVersion, current.model_id) if current is not None and current.model_id else None
            if row is not None:
                s.expunge(row)
        model = load_model(_unpack(ctx, row)) if row is not None else None
        log.info("category model in force: %s", model.version if model else SHIPPED)
        return model

    model = ctx.current("category model", lambda s: getattr(in_force(s), "id", None), build)
    use_model(model)
    return model


def active_model(ctx: Context) -> CategoryModel | None:
    """The model this process classifies with now (promoted, else shipped)."""
    return refresh(ctx) or shipped_model()

