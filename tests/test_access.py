"""Every route × every role against the one access table (web/deps.py ACCESS): the guard lets
exactly the allowed roles through; a denied signed-in user gets 404, an anonymous one 401 (API)
or the sign-in page (pages); an allowed one never gets 401/403."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from sqlalchemy import select

from ground.records import Channel
from intake import Arrival, accept
from pipeline.context import Context
from pipeline.runner import run_inline
from storage.db import session_scope
from storage.models import Role, WorkItem
from storage.users import create_token, upsert_user
from web.app import create_app
from web.deps import ACCESS, PUBLIC, SIGNED_IN, OptionalUser, api_routes, guard

ROLES: list[str | None] = [None, *[r.value for r in Role]]


@pytest.fixture
def world(ctx: Context, tmp_path) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str], list]]:  # type: ignore[no-untyped-def]
    from corpus.generate import generate

    [rec] = generate(tmp_path / "c", seed=9, count=1, forms=["text_pdf"])
    data = (tmp_path / "c" / rec["file"]).read_bytes()
    now = datetime.now(UTC)
    tokens: dict[str, str] = {}
    with session_scope(ctx.db_url) as s:
        for role in Role:
            upsert_user(s, f"u-{role.value}", "password-123", role)
            tokens[role.value] = create_token(s, f"u-{role.value}", "access test", now)[1]
        env = accept(Arrival(data=data, name="letter.pdf", channel=Channel.UPLOAD, content_type="application/pdf",
                             received_at=now, submitted_by="u-scanner"), s, ctx.blobs)
    [doc_id] = run_inline(ctx, env.envelope_id)
    with session_scope(ctx.db_url) as s:
        item = s.scalars(select(WorkItem).where(WorkItem.document_id == doc_id)).one()
    values = {"envelope_id": env.envelope_id, "document_id": doc_id, "item_id": str(item.id), "queue": item.queue,
              "username": "u-agent", "path": "app.css", "action": "claim", "page": "1"}
    app = create_app(ctx)
    seen: list[tuple[str, str, str | None, bool]] = []

    async def spy(request: Request, user: OptionalUser) -> None:
        route = request.scope["route"]
        try:
            await guard(request, user)
        except Exception:
            seen.append((request.method, route.path, user.role if user else None, False))
            raise
        seen.append((request.method, route.path, user.role if user else None, True))

    app.dependency_overrides[guard] = spy
    with TestClient(app, follow_redirects=False) as client:
        yield client, tokens, values, seen


def _url(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m.group(1), "x"), path)


def _allowed(policy: Any, role: str | None) -> bool:
    if policy == PUBLIC:
        return True
    if role is None:
        return False
    return policy == SIGNED_IN or role == Role.ADMIN.value or role in policy


def test_every_route_and_role_follows_the_table(world) -> None:  # type: ignore[no-untyped-def]
    client, tokens, values, seen = world
    routes = [(m, r.path) for r in api_routes(client.app.routes) for m in sorted(r.methods)]
    missing = sorted({key for key in routes if key not in ACCESS})
    assert not missing, f"routes missing from web/deps.py ACCESS: {missing}"
    assert len(routes) >= 30
    checked = 0
    for method, path in routes:
        url = _url(path, values)
        for role in ROLES:
            headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
            seen.clear()
            if path == "/api/events":
                with client.stream(method, url, headers=headers) as r:
                    status = r.status_code
            else:
                status = client.request(method, url, headers=headers).status_code
            allowed = _allowed(ACCESS[(method, path)], role)
            assert seen and seen[0][3] is allowed, (method, path, role, seen)
            if allowed:
                assert status not in (401, 403), (method, path, role, status)
            elif role is None:
                assert status == (401 if path.startswith("/api/") or path == "/metrics" else 303), (method, path)
            else:
                assert status == 404, (method, path, role, status)
            checked += 1
    assert checked == len(routes) * len(ROLES)


def test_the_table_keeps_its_promises() -> None:
    """The product rules of issue #7, stated once more against the table."""
    def roles(method: str, path: str) -> Any:
        return ACCESS[(method, path)]

    # mailroom staff upload and see quarantine, not the archive or the queues
    assert Role.SCANNER.value in roles("POST", "/api/envelopes")
    assert Role.SCANNER.value in roles("GET", "/mailroom/quarantine")
    assert not any(Role.SCANNER.value in roles("GET", p) for p in ("/auditor", "/api/archive/search", "/agent"))
    # auditors read everything and change nothing
    writes = [k for k, v in ACCESS.items() if k[0] != "GET" and v not in (PUBLIC, SIGNED_IN)]
    assert writes and all(Role.AUDITOR.value not in ACCESS[k] for k in writes)  # legal holds included
    assert Role.AUDITOR.value in roles("GET", "/auditor/documents/{document_id}/original")
