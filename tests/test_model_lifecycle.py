"""The category model's lifecycle (issue 19): a candidate trained from agents' corrections goes into the blob store
(never the package), is evaluated beside the model in force on held-out corrections and the independent set,
is promoted by an admin and rolled back in one action; every process switches within its reload interval and each
document records the version that classified it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from classifiers.model import MODEL_DIR, default_model, shipped_model, use_model
from ground.errors import InvalidRequest
from pipeline import models
from pipeline.context import Context
from pipeline.runner import run_route
from storage.db import session_scope
from storage.models import AuditEvent, Document, DocumentState, Envelope, ModelVersion, Role, TrainingExample
from storage.users import upsert_user
from tests.test_web import sign_in
from web.app import create_app

SMALL = {"per_pair": 3, "epochs": 1, "calibration_per_pair": 3}  # seconds, not minutes
CORRECTIONS = [("pl", "complaint", "Składam reklamację na fakturę za internet, naliczono podwójną opłatę."),
               ("cs", "cancellation", "Vypovídám smlouvu na mobilní tarif k poslednímu dni měsíce."),
               ("ru", "payment", "Прошу зачесть платёж, отправленный на прошлой неделе, по лицевому счёту."),
               ("en", "fault_report", "My broadband has been down since Monday, the router light is red."),
               ("pl", "gdpr_request", "Proszę o usunięcie moich danych osobowych zgodnie z RODO."),
               ("cs", "complaint", "Reklamuji vyúčtování, účtovali jste mi roaming, který jsem nepoužil.")]


@pytest.fixture(autouse=True)
def fresh_process() -> Iterator[None]:
    """The model in force is per process: each test starts and ends with the shipped one."""
    use_model(None)
    yield
    use_model(None)


def _package_digest() -> str:
    h = hashlib.sha256()
    for path in sorted(MODEL_DIR.rglob("*")):
        if path.is_file():
            h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def _corrections(ctx: Context) -> None:
    with session_scope(ctx.db_url) as s:
        for lang, cat, text in CORRECTIONS:
            s.add(TrainingExample(text=text, language=lang, category=cat, actor="anna",
                                  created_at=datetime.now(UTC)))


def _document(ctx: Context, n: int) -> str:
    with session_scope(ctx.db_url) as s:
        env = Envelope(id=f"env-model-{n}", channel="email", source_name=f"{n}.eml", content_type="message/rfc822",
                       sha256=hashlib.sha256(f"model-{n}".encode()).hexdigest(), size=1, received_at=datetime.now(UTC))
        s.add(env)
        s.add(Document(id=f"doc-model-{n}", envelope_id=env.id, part_index=0, doc_index=0, part_sha256="0" * 64,
                       pages=1, state=DocumentState.READ,
                       text="Dzień dobry, składam reklamację faktury za usługi, proszę o korektę. Jan Kowalski"))
    return f"doc-model-{n}"


def _classified_by(ctx: Context, doc_id: str) -> str:
    run_route(ctx, doc_id)
    with session_scope(ctx.db_url) as s:
        doc = s.get(Document, doc_id)
        assert doc is not None
        return doc.model_version


def test_train_evaluate_promote_and_roll_back(ctx: Context) -> None:
    shipped = shipped_model()
    assert shipped is not None
    before = _package_digest()
    _corrections(ctx)
    ctx.settings.config_reload_seconds = 0
    trained = models.train(ctx, "root", datetime.now(UTC), seed=7, **SMALL)

    # stored in the blob store, not in the package; evaluated beside the shipped model on both sets
    assert _package_digest() == before
    with session_scope(ctx.db_url) as s:
        row = s.get(ModelVersion, trained.id)
        assert row is not None and row.version == trained.version != shipped.version
        assert len(ctx.blobs.get(row.blob)) == row.size > 10_000
        audit = s.scalars(select(AuditEvent).where(AuditEvent.action == "model.trained")).one()
        assert audit.detail["corrections"] == 5 and audit.detail["held_out"] == 1
    ev = trained.evaluation
    assert ev["active_version"] == shipped.version
    assert ev["candidate"]["held_out"]["letters"] == 1  # the sixth correction, never trained on
    indep = models.independent_set()
    assert len(indep) >= 300  # this repository carries the independent set
    for who in ("candidate", "active"):
        got = ev[who]["independent"]
        assert got["letters"] == len(indep)
        assert 0.0 <= got["macro_f1"] <= 1.0 and 0.0 <= got["triage_share"] <= 1.0 and 0.0 <= got["ece"] <= 1.0
        assert set(got["per_category"]) <= {t for _, t in indep}
    # each model is scored by itself: two different models, two different figures. Which is higher depends on the
    # training data: with the larger supplement (session 8) the 3-letters-per-pair candidate, which sees far fewer
    # generated letters, scored 0.934 against the shipped model's 0.923 on this set.
    assert ev["active"]["independent"]["macro_f1"] != ev["candidate"]["independent"]["macro_f1"]
    assert ev["active"]["independent"]["per_category"] != ev["candidate"]["independent"]["per_category"]

    # in force only once promoted; documents record the version that classified them
    assert _classified_by(ctx, _document(ctx, 1)) == shipped.version
    with session_scope(ctx.db_url) as s:
        models.promote(s, trained.id, "root", datetime.now(UTC))
    assert _classified_by(ctx, _document(ctx, 2)) == trained.version
    assert (ctx.settings.data / "models" / trained.version / "mailroom.json").exists()  # unpacked from the store
    with session_scope(ctx.db_url) as s, pytest.raises(InvalidRequest, match="already in force"):
        models.promote(s, trained.id, "root", datetime.now(UTC))

    # rollback in one action: the shipped model again; a second rollback brings the candidate back
    with session_scope(ctx.db_url) as s:
        assert models.rollback(s, "root", datetime.now(UTC)).model_id is None
    assert _classified_by(ctx, _document(ctx, 3)) == shipped.version
    with session_scope(ctx.db_url) as s:
        assert models.rollback(s, "root", datetime.now(UTC)).model_id == trained.id
    assert _classified_by(ctx, _document(ctx, 4)) == trained.version
    with session_scope(ctx.db_url) as s:
        trail = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.action.like("model.%"))
                                              .order_by(AuditEvent.id))]
    assert trail == ["model.trained", "model.promoted", "model.rolled_back", "model.rolled_back"]


def test_a_process_switches_within_its_reload_interval(ctx: Context) -> None:
    trained = models.train(ctx, "root", datetime.now(UTC), seed=8, **SMALL)
    ctx.settings.config_reload_seconds = 3600
    assert models.refresh(ctx) is None and default_model() is shipped_model()
    with session_scope(ctx.db_url) as s:
        models.promote(s, trained.id, "root", datetime.now(UTC))
    assert models.refresh(ctx) is None  # checked less than its interval ago: still the shipped model
    ctx.settings.config_reload_seconds = 0
    got = models.refresh(ctx)
    assert got is not None and got.version == trained.version and default_model() is got


def test_only_admins_train_promote_and_roll_back(ctx: Context) -> None:
    with session_scope(ctx.db_url) as s:
        for name, role in {"boss": Role.SUPERVISOR, "audit": Role.AUDITOR, "root": Role.ADMIN,
                           "anna": Role.AGENT}.items():
            upsert_user(s, name, f"{name}-password", role)
    trained = models.train(ctx, "root", datetime.now(UTC), seed=9, **SMALL)
    with TestClient(create_app(ctx), follow_redirects=False) as api:
        listed = api.get("/api/models", auth=("audit", "audit-password")).json()
        assert [m["version"] for m in listed["models"]] == [trained.version] and listed["in_force"] is None
        assert api.get("/api/models", auth=("anna", "anna-password")).status_code == 404
        for user in ("boss", "audit"):
            assert api.post(f"/api/models/{trained.id}/promote", auth=(user, f"{user}-password")).status_code == 404
            assert api.post("/api/models/rollback", auth=(user, f"{user}-password")).status_code == 404
            assert api.post("/api/models/train", json={}, auth=(user, f"{user}-password")).status_code == 404
        r = api.post(f"/api/models/{trained.id}/promote", auth=("root", "root-password"))
        assert r.status_code == 200 and r.json()["version"] == trained.version
        assert api.post("/api/models/999/promote", auth=("root", "root-password")).status_code == 404
        # the page: the comparison beside the model in force, actions for the admin only
        sign_in(api, "boss")
        page = api.get("/admin/models")
        assert page.status_code == 200 and trained.version in page.text and 'class="promote"' not in page.text
        assert 'data-set="independent" data-metric="macro_f1"' in page.text
        api.cookies.clear()
        csrf = sign_in(api, "root")
        r = api.post("/admin/models/rollback", data={"csrf_token": csrf})
        assert r.status_code == 303 and "Rolled back" in api.get(r.headers["location"]).text
