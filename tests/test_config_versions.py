"""Routing rules and SLA policies edited in the browser (issue 19): validated before they are saved, a dry run over
the latest letters, stored versions (who, when, diff) that every process picks up within seconds, rollback; the
YAML files are the seed and the export format. Through the API, the pages (TestClient) and a second process's
view of the database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pipeline import config_check
from pipeline.context import Context
from storage.db import session_scope
from storage.models import AuditEvent, Role
from storage.users import upsert_user
from tests.queue_support import make_item
from tests.support.agents import join_every_queue
from tests.test_web import sign_in
from web.app import create_app

USERS = {"anna": Role.AGENT, "boss": Role.SUPERVISOR, "audit": Role.AUDITOR, "root": Role.ADMIN}
WORD = "Zebrafish"  # a word no shipped rule knows


def rule_to_sales(text: str, word: str = WORD) -> str:
    """The routing file with a first rule: letters naming ``word`` go to sales."""
    assert "\nrules:\n" in text
    return text.replace("\nrules:\n", f"\nrules:\n  - name: {word.lower()}-to-sales\n    when:\n"
                                      f"      text_matches: {word}\n    queue: sales\n    priority: 90\n", 1)


@pytest.fixture
def api(ctx: Context) -> Iterator[TestClient]:
    with session_scope(ctx.db_url) as s:
        for name, role in USERS.items():
            upsert_user(s, name, f"{name}-password", role, name.title())
        join_every_queue(s, ctx.rules)
    with TestClient(create_app(ctx), follow_redirects=False) as client:
        yield client


def _auth(user: str) -> tuple[str, str]:
    return user, f"{user}-password"


def _letters(ctx: Context) -> tuple[int, int]:
    """Two routed complaints of the last hour: one names WORD, one does not."""
    now = datetime.now(UTC)
    with session_scope(ctx.db_url) as s:
        named = make_item(s, ctx.rules, ctx.policies, now - timedelta(minutes=30), category="invoice_query",
                          text=f"Please explain the invoice, {WORD} account", link=False)
        other = make_item(s, ctx.rules, ctx.policies, now - timedelta(minutes=20), category="invoice_query",
                          text="Please explain the invoice", link=False)
        return named.id, other.id


def test_an_edit_is_checked_dry_run_saved_versioned_and_rolled_back(api: TestClient, ctx: Context) -> None:
    named, other = _letters(ctx)
    seed = ctx.settings.routing_rules.read_text()
    got = api.get("/api/config/routing", auth=_auth("boss")).json()
    assert got["version"] is None and got["text"] == seed  # the file is in force until a version is saved
    edited = rule_to_sales(seed)

    # the dry run: the letter naming the word would move to sales; the other letter stays; nothing saved
    r = api.post("/api/config/routing/check", auth=_auth("boss"), json={"text": edited, "last": 50})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["valid"] and out["letters"] >= 2
    moved = {c["work_item_id"]: c for c in out["changes"]}
    assert named in moved and other not in moved
    assert (moved[named]["queue_before"], moved[named]["queue_after"]) == ("billing", "sales")
    assert moved[named]["rule_after"] == f"{WORD.lower()}-to-sales"
    assert api.get("/api/config/routing/versions", auth=_auth("boss")).json() == []

    # a broken edit: the check and the save name the rule and what to fix; nothing saved
    broken = edited.replace("    queue: sales\n", "    queue: salez\n", 1)
    out = api.post("/api/config/routing/check", auth=_auth("boss"), json={"text": broken}).json()
    assert not out["valid"] and "salez" in out["error"] and f"{WORD.lower()}-to-sales" in out["error"]
    r = api.put("/api/config/routing", auth=_auth("boss"), json={"text": broken, "based_on": None})
    assert r.status_code == 422 and "salez" in r.json()["detail"]

    # saved: version 1, audited, in force here at once (this process checks every config_reload_seconds)
    r = api.put("/api/config/routing", auth=_auth("boss"),
                json={"text": edited, "comment": "zebra letters to sales", "based_on": None})
    assert r.status_code == 200, r.text
    v1 = r.json()["version"]
    assert r.json()["author"] == "boss"
    ctx.settings.config_reload_seconds = 0
    assert ctx.rules.rules[0].name == f"{WORD.lower()}-to-sales" and ctx.config_version("routing") == v1
    detail = api.get(f"/api/config/routing/versions/{v1}", auth=_auth("audit")).json()
    assert f"+  - name: {WORD.lower()}-to-sales" in detail["diff"] and detail["comment"] == "zebra letters to sales"
    export = api.get("/api/config/routing/export", auth=_auth("audit"))
    assert export.text == edited and f'routing-v{v1}.yaml' in export.headers["content-disposition"]

    # someone else's save in between is not silently undone; an unchanged text is not a new version
    r = api.put("/api/config/routing", auth=_auth("root"), json={"text": seed, "based_on": None})
    assert r.status_code == 409 and "open it again" in r.json()["detail"]
    r = api.put("/api/config/routing", auth=_auth("root"), json={"text": edited, "based_on": v1})
    assert r.status_code == 422 and "nothing changed" in r.json()["detail"]

    # rollback to the file's text by saving it, then back to version 1 by rollback
    r = api.put("/api/config/routing", auth=_auth("root"), json={"text": seed, "comment": "undo", "based_on": v1})
    v2 = r.json()["version"]
    assert ctx.rules.rules[0].name != f"{WORD.lower()}-to-sales"
    r = api.post(f"/api/config/routing/versions/{v1}/rollback", auth=_auth("boss"), json={"comment": "again"})
    assert r.status_code == 200, r.text
    v3 = r.json()
    assert v3["restored_from"] == v1 and v3["version"] > v2
    assert ctx.rules.rules[0].name == f"{WORD.lower()}-to-sales"
    versions = [v["version"] for v in api.get("/api/config/routing/versions", auth=_auth("boss")).json()]
    assert versions == [v3["version"], v2, v1]
    with session_scope(ctx.db_url) as s:
        trail = [(e.actor, e.action, e.detail["version"]) for e in s.scalars(
            select(AuditEvent).where(AuditEvent.action.like("config.%")).order_by(AuditEvent.id))]
    assert trail == [("boss", "config.saved", v1), ("root", "config.saved", v2),
                     ("boss", "config.rolled_back", v3["version"])]
    # version 0 is the file the configuration started from
    r = api.post("/api/config/routing/versions/0/rollback", auth=_auth("boss"), json={})
    assert r.status_code == 200 and r.json()["restored_from"] == 0
    assert api.get("/api/config/routing", auth=_auth("boss")).json()["text"] == seed
    assert ctx.rules.rules[0].name != f"{WORD.lower()}-to-sales"


def test_another_process_picks_a_saved_version_up_within_its_reload_interval(api: TestClient, ctx: Context) -> None:
    """A second Context on the same database is what a worker process has."""
    other = Context(ctx.settings.model_copy(update={"config_reload_seconds": 3600}))
    assert other.rules.rules[0].name != f"{WORD.lower()}-to-sales" and other.config_version("routing") is None
    r = api.put("/api/config/routing", auth=_auth("boss"),
                json={"text": rule_to_sales(ctx.settings.routing_rules.read_text()), "based_on": None})
    assert r.status_code == 200, r.text
    assert other.rules.rules[0].name != f"{WORD.lower()}-to-sales"  # its interval has not passed: not yet
    other.settings.config_reload_seconds = 0  # ... now it has
    assert other.rules.rules[0].name == f"{WORD.lower()}-to-sales"
    assert other.config_version("routing") == r.json()["version"]


def test_sla_policies_are_for_admins_and_the_dry_run_shows_new_deadlines(api: TestClient, ctx: Context) -> None:
    named, other = _letters(ctx)
    seed = ctx.settings.sla_policies.read_text()
    # the catch-all internal target ("standard", the last one) gets a longer resolution: the letters it times move
    standard = "  - name: standard\n    first_response: 8h\n    resolution: 50h\n"
    assert standard in seed
    longer = seed.replace(standard, standard.replace("50h", "400h"))
    assert longer != seed
    assert api.post("/api/config/sla/check", auth=_auth("boss"), json={"text": longer}).status_code == 403
    assert api.put("/api/config/sla", auth=_auth("boss"), json={"text": longer}).status_code == 403
    assert api.post("/api/config/sla/check", auth=_auth("audit"), json={"text": longer}).status_code == 404
    assert api.get("/api/config/sla", auth=_auth("anna")).status_code == 404
    out = api.post("/api/config/sla/check", auth=_auth("root"), json={"text": longer}).json()
    assert out["valid"]
    changed = {c["work_item_id"]: c for c in out["changes"]}
    assert {named, other} <= set(changed)
    for c in changed.values():
        assert c["queue_before"] == c["queue_after"]
        assert datetime.fromisoformat(c["due_after"]) >= datetime.fromisoformat(c["due_before"])
    # the two files must fit together: escalation into a queue routing does not have is refused
    assert "escalation:\n  queue: escalation\n" in seed
    bad = seed.replace("escalation:\n  queue: escalation\n", "escalation:\n  queue: nowhere\n")
    out = api.post("/api/config/sla/check", auth=_auth("root"), json={"text": bad}).json()
    assert not out["valid"] and "nowhere" in out["error"]
    assert api.put("/api/config/sla", auth=_auth("root"), json={"text": longer}).status_code == 200


def test_the_pages_edit_dry_run_save_and_roll_back(api: TestClient, ctx: Context) -> None:
    named, _ = _letters(ctx)
    csrf = sign_in(api, "boss")
    page = api.get("/config/routing")
    assert page.status_code == 200 and 'id="config-text"' in page.text and "routing.yaml" in page.text
    seed = ctx.settings.routing_rules.read_text()
    edited = rule_to_sales(seed)
    page = api.post("/config/routing/check", data={"csrf_token": csrf, "text": edited, "based_on": "", "last": "50"})
    assert page.status_code == 200
    assert re.search(rf'<tr class="change" data-item="{named}">', page.text)
    assert "Nothing has been saved yet." in page.text and WORD in page.text  # the editor keeps the edit
    page = api.post("/config/routing/check", data={"csrf_token": csrf, "text": "rules: [", "based_on": ""})
    assert page.status_code == 422 and "not valid YAML" in page.text
    r = api.post("/config/routing", data={"csrf_token": csrf, "text": edited, "based_on": "", "comment": "zebra"})
    assert r.status_code == 303
    page = api.get(r.headers["location"])
    assert "Saved as version" in page.text and 'data-version="' in page.text
    [v1] = re.findall(r'<tr class="version" data-version="(\d+)">', page.text)
    r = api.post("/config/routing", data={"csrf_token": csrf, "text": seed, "based_on": v1, "comment": "undo"})
    page = api.get(r.headers["location"])
    versions = re.findall(r'<tr class="version" data-version="(\d+)">', page.text)
    assert len(versions) == 2 and versions[1] == v1
    diff = api.get(f"/config/routing/versions/{versions[0]}")
    assert f"-  - name: {WORD.lower()}-to-sales" in diff.text.replace("&#34;", '"')
    r = api.post(f"/config/routing/versions/{v1}/rollback", data={"csrf_token": csrf, "comment": ""})
    page = api.get(r.headers["location"])
    assert f"Version {v1} is in force again" in page.text
    ctx.settings.config_reload_seconds = 0
    assert ctx.rules.rules[0].name == f"{WORD.lower()}-to-sales"
    # supervisors read the SLA policies but do not edit them; admins do
    page = api.get("/config/sla")
    assert page.status_code == 200 and 'id="config-text"' not in page.text
    assert api.post("/config/sla/check", data={"csrf_token": csrf, "text": "x: 1"}).status_code == 404


def test_dry_run_is_bounded_and_reads_stored_classifications(ctx: Context) -> None:
    """The dry run looks at no more than the letters asked for, newest first."""
    _letters(ctx)
    _letters(ctx)
    edited = rule_to_sales(ctx.settings.routing_rules.read_text())
    result = config_check.check(ctx, "routing", edited, last=1)
    assert result.error is None and result.letters == 1
    result = config_check.check(ctx, "routing", edited, last=100)
    assert result.letters == 4 and len(result.changes) == 2
