"""Access matrix with someone else's object (RELIABILITY.md "access matrix"): an agent asking for a
work item, document or page image outside their queues, a scanning station asking for another
station's envelope or batch, gets 404 — the same body as for an object that does not exist, so no
name, queue, count or id of the object leaks; ids of the wrong type never escalate (404/422, no 5xx)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from ground.records import Channel
from intake import Arrival, accept
from pipeline.context import Context
from pipeline.runner import run_inline
from queues.work import set_members
from storage.db import session_scope
from storage.models import Document, Envelope, Role, WorkItem
from storage.users import create_token, upsert_user
from web.app import create_app

MINE, THEIRS = "privacy", "legal"
NOT_FOUND = {"detail": "Not found."}


@dataclass
class World:
    client: TestClient
    tokens: dict[str, str]
    mine: WorkItem  # in the narrow agent's queue
    theirs: WorkItem  # in a queue the narrow agent is not a member of
    env_a: Envelope  # submitted by station-a
    secrets: list[str]  # strings that must never appear in a denied answer


@pytest.fixture(scope="module")
def letters(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    from corpus.generate import generate

    out = tmp_path_factory.mktemp("letters")
    return out, generate(out, seed=21, count=2, forms=["text_pdf"])


def _routed(ctx: Context, path: Path, station: str, queue: str) -> tuple[WorkItem, Envelope]:
    now = datetime.now(UTC)
    with session_scope(ctx.db_url) as s:
        got = accept(Arrival(data=path.read_bytes(), name=f"{station}-{path.name}", channel=Channel.SCAN,
                             content_type="application/pdf", received_at=now, submitted_by=station), s, ctx.blobs)
    [doc_id] = run_inline(ctx, got.envelope_id)
    with session_scope(ctx.db_url) as s:
        s.execute(update(WorkItem).where(WorkItem.document_id == doc_id).values(queue=queue))
    with session_scope(ctx.db_url) as s:
        item = s.scalars(select(WorkItem).where(WorkItem.document_id == doc_id)).one()
        env = s.get(Envelope, got.envelope_id)
        s.expunge_all()
    assert env is not None
    return item, env


@pytest.fixture
def world(ctx: Context, letters) -> Iterator[World]:  # type: ignore[no-untyped-def]
    out, truth = letters
    now = datetime.now(UTC)
    tokens: dict[str, str] = {}
    with session_scope(ctx.db_url) as s:
        for name, role in (("narrow", Role.AGENT), ("station-a", Role.SCANNER), ("station-b", Role.SCANNER),
                           ("boss", Role.SUPERVISOR)):
            upsert_user(s, name, f"{name}-password-123", role)
            tokens[name] = create_token(s, name, "access test", now)[1]
        set_members(s, MINE, ["narrow"], "boss", ctx.rules)
    mine, _ = _routed(ctx, out / truth[0]["file"], "station-b", MINE)
    theirs, env_a = _routed(ctx, out / truth[1]["file"], "station-a", THEIRS)
    with session_scope(ctx.db_url) as s:
        doc = s.get(Document, theirs.document_id)
        assert doc is not None
        secret = [env_a.id, theirs.document_id, env_a.source_name, "station-a", THEIRS, env_a.sha256]
        secret += [w for w in (doc.text or "").split() if len(w) > 8][:5]
    with TestClient(create_app(ctx), follow_redirects=False, raise_server_exceptions=False) as client:
        yield World(client, tokens, mine, theirs, env_a, secret)


def _as(w: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {w.tokens[who]}"}


def _denied(w: World, method: str, url: str, who: str, missing_url: str) -> None:
    """404, and the same body as for an id that does not exist: nothing about the object leaks."""
    r = w.client.request(method, url, headers=_as(w, who), json={})
    assert r.status_code == 404, (method, url, who, r.status_code, r.text[:300])
    leaked = [x for x in w.secrets if x and x in r.text]
    assert not leaked, (method, url, leaked)
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    assert r.json() == NOT_FOUND, (url, r.text[:300])
    nobody = w.client.request(method, missing_url, headers=_as(w, who), json={})
    assert nobody.status_code == 404 and nobody.json() == r.json()  # indistinguishable from "no such object"


def test_a_station_cannot_see_another_stations_envelope_or_batch(world: World) -> None:
    w = world
    for url in (f"/api/envelopes/{w.env_a.id}", f"/api/batches/{w.env_a.id}"):
        assert w.client.get(url, headers=_as(w, "station-a")).status_code == 200  # its own: visible
        _denied(w, "GET", url, "station-b", url.replace(w.env_a.id, "0" * len(w.env_a.id)))
    page = w.client.get("/mailroom", headers=_as(w, "station-b"))
    assert page.status_code == 200 and w.env_a.source_name not in page.text and w.env_a.id not in page.text
    # the archive, the quarantine and the originals are not a station's at all
    for url in (f"/api/archive/documents/{w.theirs.document_id}", f"/api/archive/envelopes/{w.env_a.id}/original",
                f"/api/quarantine/{w.env_a.id}", "/api/quarantine"):
        _denied(w, "GET", url, "station-b", url.replace(w.env_a.id, "0" * 64).replace(w.theirs.document_id, "x"))


def test_an_agent_cannot_open_pages_of_an_item_outside_its_queues(world: World) -> None:
    w = world
    assert w.client.get(f"/agent/items/{w.mine.id}", headers=_as(w, "narrow")).status_code == 200
    missing = 10**6
    for url in (f"/agent/items/{w.theirs.id}", f"/agent/items/{w.theirs.id}/pages/1.png"):
        r = w.client.get(url, headers=_as(w, "narrow"))
        assert r.status_code == 404, (url, r.status_code)
        assert not [x for x in w.secrets if x in r.text], url
        assert r.text == w.client.get(url.replace(str(w.theirs.id), str(missing)), headers=_as(w, "narrow")).text
    r = w.client.post(f"/agent/items/{w.theirs.id}/claim", headers=_as(w, "narrow"))
    assert r.status_code == 404
    # the archive (documents, originals) is not an agent's
    _denied(w, "GET", f"/api/archive/documents/{w.theirs.document_id}", "narrow", "/api/archive/documents/x")


API_ITEM_ROUTES = [("GET", ""), ("POST", "/claim"), ("POST", "/complete"), ("POST", "/hold"), ("POST", "/release"),
                   ("POST", "/renew"), ("POST", "/resume")]


@pytest.mark.parametrize(("method", "suffix"), API_ITEM_ROUTES)
def test_api_work_item_outside_the_agents_queues_is_404(world: World, method: str, suffix: str) -> None:
    w = world
    _denied(w, method, f"/api/work-items/{w.theirs.id}{suffix}", "narrow", f"/api/work-items/{10**6}{suffix}")
    with session_scope(w.client.app.state.ctx.db_url) as s:  # and nothing changed
        item = s.get(WorkItem, w.theirs.id)
        assert item is not None and item.state == w.theirs.state and item.assignee is None


def test_api_queues_show_an_agent_only_its_queues(world: World) -> None:
    w = world
    listed = w.client.get("/api/queues", headers=_as(w, "narrow"))
    assert listed.status_code == 200
    assert THEIRS not in {q["id"] for q in listed.json()}
    _denied(w, "POST", f"/api/queues/{THEIRS}/next", "narrow", "/api/queues/no-such-queue/next")


# {t}: the id of the item outside the agent's queues. Pydantic reads "7.0", "+7", " 7" as 7 (lax int
# parsing): that is the same object under the same checks, so it must still be 404, never a bypass.
BAD_INT_IDS = ["{t}.0", "{t} OR 1=1", "{t};DROP TABLE work_items", "-{t}", "0", "99999999999999999999999999",
               "{t}e0", "0x{t}", "%20{t}", "+{t}", "true", "[{t}]", "%00", "１", "{t}%00"]
NONEXISTENT_INT_IDS = ["-1", "0", "99999999999999999999999999", "9223372036854775808", "1 OR 1=1", "%00", "1.5"]
BAD_STR_IDS = ["1 OR 1=1", "' OR '1'='1", "%00", "..%2f..%2fetc%2fpasswd", "%2e%2e", "x" * 5000, "-1",
               "99999999999999999999999999", "%E2%80%AE", "null", "{e}%00", "{e}'--", "%20{e}"]


def test_no_escalation_or_server_error_by_type_coercion(world: World) -> None:
    w = world
    item_urls = ["/api/work-items/{}", "/api/work-items/{}/claim", "/api/work-items/{}/complete",
                 "/agent/items/{}", "/agent/items/{}/pages/1.png", "/agent/items/{}/claim"]
    str_urls = ["/api/envelopes/{}", "/api/batches/{}", "/api/archive/documents/{}", "/api/archive/documents/{}/trail",
                "/api/archive/envelopes/{}/original", "/api/quarantine/{}", "/auditor/documents/{}"]
    fill = {"t": str(w.theirs.id), "e": w.env_a.id}
    checked, wrong = 0, []
    for who, urls, ids in (("narrow", item_urls, BAD_INT_IDS), ("boss", item_urls, NONEXISTENT_INT_IDS),
                           ("station-b", str_urls, BAD_STR_IDS), ("boss", str_urls[:3], BAD_STR_IDS)):
        for template in urls:
            method = "POST" if template.endswith(("claim", "complete")) else "GET"
            for bad in ids:
                url = template.format(bad.format(**fill))
                r = w.client.request(method, url, headers=_as(w, who), json={})
                if r.status_code not in (404, 422) or [x for x in w.secrets if x in r.text]:
                    wrong.append((who, method, url[:100], r.status_code, r.text[:100]))
                checked += 1
    assert not wrong, "\n".join(map(str, wrong))
    assert checked >= 200
    # nothing was claimed or changed by any of it
    with session_scope(w.client.app.state.ctx.db_url) as s:
        assert s.scalars(select(WorkItem).where(WorkItem.assignee.is_not(None))).all() == []


@pytest.mark.parametrize("bad", ["99999999999999999999999999", "9223372036854775808"])
def test_api_huge_work_item_id_is_not_a_server_error(world: World, bad: str) -> None:
    for who in ("narrow", "boss"):
        for method, suffix in API_ITEM_ROUTES[:3]:
            r = world.client.request(method, f"/api/work-items/{bad}{suffix}", headers=_as(world, who), json={})
            assert r.status_code in (404, 422), (who, method, suffix, r.status_code)


def test_page_number_coercion_on_the_page_image_route(world: World) -> None:
    w = world
    for page in ("0", "-1", "2", "2.0", "99999999999999999999", "1%20OR%201=1"):
        r = w.client.get(f"/agent/items/{w.mine.id}/pages/{page}.png", headers=_as(w, "narrow"))
        assert r.status_code in (404, 422), (page, r.status_code, r.text[:200])
    assert json.loads(w.client.get(f"/agent/items/{w.mine.id}/pages/0.png", headers=_as(w, "narrow")).text) \
        == NOT_FOUND
