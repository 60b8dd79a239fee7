"""PostgreSQL for all metadata: every migration, then the pipeline's storage functions, on a real server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, select, text

from ground.records import Channel
from ground.settings import Settings, get_settings
from intake import Accepted, Arrival, accept
from pipeline.context import get_context
from pipeline.runner import run_inline
from storage.audit import trail, verify
from storage.db import alembic_config, get_engine, session_scope
from storage.models import AuditEvent, Document, Envelope, WorkItem
from storage.retention import load_policy, run_retention
from storage.search import Filters, search


@pytest.fixture
def pg_settings(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    monkeypatch.setenv("MAILROOM_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("MAILROOM_DATABASE_URL", postgres_url.rsplit("/", 1)[0] + f"/{name}")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def letter() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Jan Kowalski <jan.kowalski@wp.pl>"
    msg["To"] = "obsluga@telewave.pl"
    msg["Subject"] = "Wypowiedzenie umowy"
    msg["Message-ID"] = f"<{uuid.uuid4()}@wp.pl>"
    msg.set_content("Szanowni Państwo,\n\nniniejszym składam wypowiedzenie umowy o świadczenie usług "
                    "telekomunikacyjnych. Nr klienta: MR-1234567. Proszę o wyłączenie usług z końcem "
                    "okresu wypowiedzenia.\n\nZ poważaniem\nJan Kowalski\n")
    return msg.as_bytes()


@pytest.mark.slow
def test_pipeline_storage_on_postgresql(pg_settings: Settings) -> None:
    ctx = get_context(pg_settings)  # runs every migration branch ("heads") on PostgreSQL
    engine = get_engine(ctx.db_url)
    assert engine.dialect.name == "postgresql"
    insp = inspect(engine)
    tables = set(insp.get_table_names())
    assert {"envelopes", "documents", "work_items", "audit_events", "search_entries", "audit_chain_head"} <= tables
    assert "tsv" in {c["name"] for c in insp.get_columns("search_entries")}
    with engine.connect() as conn:
        heads = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    # every branch at its newest revision (the search branch ends in its lemmas, the intake one in read chunks)
    assert heads == set(ScriptDirectory.from_config(alembic_config(ctx.db_url)).get_heads())
    assert {"0013_search_lemmas", "0010"} <= heads

    received = datetime(2026, 3, 2, 9, tzinfo=UTC)
    with session_scope(ctx.db_url) as s:
        result = accept(Arrival(data=letter(), name="wypowiedzenie.eml", channel=Channel.EMAIL,
                                content_type="message/rfc822", received_at=received), s, ctx.blobs)
    assert isinstance(result, Accepted)
    [doc_id] = run_inline(ctx, result.envelope_id)
    assert run_inline(ctx, result.envelope_id) == [doc_id]  # idempotent on PostgreSQL too

    with session_scope(ctx.db_url) as s:
        doc = s.get(Document, doc_id)
        assert doc is not None and doc.category and doc.work_item is not None
        page = search(s, '"wypowiedzenie umowy" wylaczenie', Filters(customer="MR1234567", channel=["email"]))
        assert [h.document_id for h in page.hits] == [doc_id]
        assert page.hits[0].queue == doc.work_item.queue and "<mark>" in page.hits[0].snippet
        actions = [e.action for e in trail(s, doc_id)]
        assert "document.read" in actions and "document.classified" in actions and "work_item.routed" in actions
        report = verify(s)
        assert report.ok and report.checked == s.scalar(select(text("count(*)")).select_from(AuditEvent))
        item = s.scalars(select(WorkItem).where(WorkItem.document_id == doc_id)).one()
        item.state = "done"

    with session_scope(ctx.db_url) as s:
        purge = run_retention(s, ctx.blobs, load_policy(), now=datetime(2040, 1, 1, tzinfo=UTC))
    assert [d.envelope_id for d in purge.purged] == [result.envelope_id]
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, result.envelope_id)
        assert env is not None and env.purged_at is not None and not ctx.blobs.exists(env.sha256)
        assert search(s, "wypowiedzenie").total == 0
        assert verify(s).ok
