from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from ground.errors import NotFound, StorageError
from ground.records import Channel
from intake import Accepted, Arrival, Duplicate, accept
from pipeline.context import Context
from storage import users
from storage.blobs import FsBlobStore, sha256_hex
from storage.db import get_engine, migrate, session_scope
from storage.models import ApiToken, AuditEvent, Envelope, Role
from storage.users import authenticate, upsert_user


def test_blob_roundtrip_is_content_addressed(tmp_path: Path) -> None:
    store = FsBlobStore(tmp_path / "blobs")
    key = store.put(b"list polecony")
    assert key == sha256_hex(b"list polecony")
    assert store.get(key) == b"list polecony"
    assert store.path(key).parent.parent.name == key[:2]
    assert store.put(b"list polecony") == key  # idempotent
    assert not list(store.path(key).parent.glob(".incoming-*"))


def test_blob_keys_are_never_paths(tmp_path: Path) -> None:
    store = FsBlobStore(tmp_path / "blobs")
    with pytest.raises(NotFound):
        store.get("../../etc/passwd")
    with pytest.raises(NotFound):
        store.get("0" * 64)


def test_blob_store_reports_unwritable_root(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="Could not store the original"):
        FsBlobStore(blocker / "blobs").put(b"data")


def test_migrations_create_schema_in_wal_mode(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate(url)
    migrate(url)  # idempotent
    engine = get_engine(url)
    tables = set(inspect(engine).get_table_names())
    assert {"envelopes", "documents", "work_items", "audit_events", "users", "alembic_version"} <= tables
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def _arrival(data: bytes, key: str | None = None) -> Arrival:
    return Arrival(data=data, name="scan.png", channel=Channel.SCAN, content_type="image/png",
                   received_at=datetime(2026, 11, 23, 10, tzinfo=UTC), idempotency_key=key)


def test_accept_stores_original_then_row_and_recognises_duplicates(ctx: Context) -> None:
    with session_scope(ctx.db_url) as s:
        first = accept(_arrival(b"\x89PNG one"), s, ctx.blobs)
    assert isinstance(first, Accepted)
    assert ctx.blobs.get(first.sha256) == b"\x89PNG one"
    with session_scope(ctx.db_url) as s:
        again = accept(_arrival(b"\x89PNG one"), s, ctx.blobs)
        keyed = accept(_arrival(b"\x89PNG two", key="k1"), s, ctx.blobs)
        same_key = accept(_arrival(b"\x89PNG three", key="k1"), s, ctx.blobs)
    assert isinstance(again, Duplicate) and again.of == first.envelope_id
    assert isinstance(keyed, Accepted)
    assert isinstance(same_key, Duplicate) and same_key.of == keyed.envelope_id
    with session_scope(ctx.db_url) as s:
        assert len(s.scalars(select(Envelope)).all()) == 2
        env = s.get(Envelope, first.envelope_id)
        assert env is not None and env.received_at.tzinfo is not None
        actions = s.scalars(select(AuditEvent.action)).all()
        assert actions.count("envelope.accepted") == 2


def test_users_authenticate_with_scrypt(ctx: Context) -> None:
    with session_scope(ctx.db_url) as s:
        upsert_user(s, "anna", "correct horse", Role.AGENT)
    with session_scope(ctx.db_url) as s:
        assert authenticate(s, "anna", "correct horse") is not None
        assert authenticate(s, "anna", "wrong") is None
        assert authenticate(s, "nobody", "correct horse") is None
        user = authenticate(s, "anna", "correct horse")
        assert user is not None and "correct horse" not in user.password_hash


def test_same_schema_and_intake_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    from sqlalchemy import text

    migrate(postgres_url)
    migrate(postgres_url)
    blobs = FsBlobStore(tmp_path / "blobs")
    with session_scope(postgres_url) as s:
        s.execute(text("TRUNCATE audit_events, work_items, documents, envelopes CASCADE"))
    with session_scope(postgres_url) as s:
        first = accept(_arrival(b"%PDF pg"), s, blobs)
        again = accept(_arrival(b"%PDF pg"), s, blobs)
    assert isinstance(first, Accepted) and isinstance(again, Duplicate) and again.of == first.envelope_id
    with session_scope(postgres_url) as s:
        env = s.get(Envelope, first.envelope_id)
        assert env is not None and env.received_at == datetime(2026, 11, 23, 10, tzinfo=UTC)

def test_a_token_check_on_postgresql_opens_no_transaction(postgres_url: str) -> None:
    """Who is asking is looked up on every API request: with ``autocommit`` PostgreSQL gets the SELECT alone (no
    BEGIN and COMMIT around it), the once-a-minute last_used_at is committed by its UPDATE, a revoked token is
    refused at once, and the pooled connection goes back to transactions for the next session_scope."""
    from psycopg.pq import TransactionStatus

    migrate(postgres_url)
    now = datetime(2026, 12, 8, 9, tzinfo=UTC)
    name = f"tok{uuid.uuid4().hex[:8]}"
    with session_scope(postgres_url) as s:
        upsert_user(s, name, "correct horse battery", Role.AGENT)
        token, plain = users.create_token(s, name, "bench", now)
        token_id = token.id
    with session_scope(postgres_url, autocommit=True) as s:
        assert users.token_for(s, plain, now) is not None
        pg = s.connection().connection.dbapi_connection
        assert pg is not None and pg.info.transaction_status == TransactionStatus.IDLE  # nothing left open
    with session_scope(postgres_url) as s:
        stored = s.get(ApiToken, token_id)
        assert stored is not None and stored.last_used_at == now
        s.execute(select(ApiToken.id).limit(1))
        pg = s.connection().connection.dbapi_connection
        assert pg is not None and pg.info.transaction_status == TransactionStatus.INTRANS  # a transaction again
        users.revoke_token(s, token_id, now)
    with session_scope(postgres_url, autocommit=True) as s:
        assert users.token_for(s, plain, now) is None


def test_a_burst_of_identical_password_checks_runs_argon2_once(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP Basic sends the password with every request: 12 checks at once cost one argon2 run, a changed
    password is never answered from what was remembered, and a wrong one is never remembered."""
    with session_scope(ctx.db_url) as s:
        upsert_user(s, "station", "scan-pass-1", Role.SCANNER)
    runs: list[str] = []
    real = users._verify_uncached

    def counted(password: str, stored: str) -> bool:
        runs.append(password)
        return real(password, stored)

    monkeypatch.setattr(users, "_verify_uncached", counted)

    def sign_in(password: str) -> bool:
        with session_scope(ctx.db_url) as s:
            return authenticate(s, "station", password) is not None

    with ThreadPoolExecutor(12) as pool:
        assert list(pool.map(sign_in, ["scan-pass-1"] * 12)) == [True] * 12
    assert runs == ["scan-pass-1"]
    assert not sign_in("wrong") and not sign_in("wrong")
    assert runs.count("wrong") == 2
    with session_scope(ctx.db_url) as s:
        upsert_user(s, "station", "scan-pass-2", Role.SCANNER)
    assert not sign_in("scan-pass-1") and sign_in("scan-pass-2")


def test_a_message_id_committed_by_another_process_meanwhile_is_a_duplicate(
        ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two `mailroom process --jobs` processes accept e-mails with one Message-ID at once: the second's check
    finds nothing, its insert conflicts (at the audit record's flush), and it is a duplicate, not a crash."""
    import sys

    accept_module = sys.modules["intake.accept"]  # (the package's name "accept" is the function)
    first_mail = Arrival(data=b"From: a@example.org\nMessage-ID: <same@example.org>\n\none", name="one.eml",
                         content_type="message/rfc822", channel=Channel.EMAIL,
                         received_at=datetime(2026, 11, 23, 10, tzinfo=UTC), message_id="<same@example.org>")
    other_mail = Arrival(data=b"From: b@example.org\nMessage-ID: <same@example.org>\n\ntwo", name="two.eml",
                         content_type="message/rfc822", channel=Channel.EMAIL,
                         received_at=datetime(2026, 11, 23, 10, tzinfo=UTC), message_id="<same@example.org>")
    with session_scope(ctx.db_url) as s:
        first = accept(first_mail, s, ctx.blobs)
    real = accept_module._existing
    calls = []

    def checked_before_the_other_committed(*args: object, **kwargs: object) -> Envelope | None:
        calls.append(1)
        return None if len(calls) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(accept_module, "_existing", checked_before_the_other_committed)
    with session_scope(ctx.db_url) as s:
        second = accept(other_mail, s, ctx.blobs)
    assert isinstance(first, Accepted) and isinstance(second, Duplicate) and second.of == first.envelope_id
    assert len(calls) == 2
    with session_scope(ctx.db_url) as s:
        assert len(s.scalars(select(Envelope)).all()) == 1
        assert s.scalars(select(AuditEvent.action)).all().count("envelope.duplicate") == 1
