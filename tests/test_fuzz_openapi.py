"""schemathesis over every operation of the OpenAPI schema, in-process against the ASGI app, signed in as
each role in turn, against a database seeded with real objects (routed letters with documents and work
items, one claimed and one on hold, a quarantined upload, queue members): no 5xx, and every documented
JSON response matches its schema. Half of the generated cases take their path ids from the seeded objects,
so the fuzz reaches the code behind the 404 of a random id."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance
from sqlalchemy import select, update

from channels.receive import receive
from ground.settings import Settings
from pipeline.context import Context, get_context
from pipeline.runner import run_inline
from queues import work
from storage.db import session_scope
from storage.models import Document, Envelope, Role, WorkItem, WorkItemState
from storage.users import create_token, upsert_user
from tests.hostile.make_corpus import _encrypted
from web.app import create_app

ROLES = ("supervisor", "agent", "scanner", "auditor")
EXAMPLES = 15  # per operation and role (the original fuzz: 4, as one supervisor)
FEW = {"GET /api/events": 2, "POST /api/envelopes": 6}  # a stream that ends at its time-out; uploads are slow


@dataclass
class Seeded:
    ids: dict[str, list[str | int]]  # path parameter name → ids of real objects
    held: list[str | int] = field(default_factory=list)  # envelopes in quarantine or waiting for a person
    tokens: dict[str, str] = field(default_factory=dict)  # role → an API token of that role's user
    db_url: str = ""


def _seed(ctx: Context, tmp: Path) -> Seeded:
    from corpus.generate import generate

    now = datetime.now(UTC)
    users = {role: f"fuzz-{role}" for role in ROLES}
    tokens = {}
    with session_scope(ctx.db_url) as s:
        for role, name in users.items():
            upsert_user(s, name, f"{name}-password-1", Role(role))
            tokens[role] = create_token(s, name, "fuzz", now)[1]  # Bearer: no password hash per request
    generate(tmp, seed=77, count=8, forms=["eml", "text_pdf"])
    env_ids = []
    for path in sorted(p for p in tmp.iterdir() if p.suffix in (".eml", ".pdf")):
        got = receive(ctx, path.read_bytes(), path.name, now, submitted_by=users["scanner"])
        run_inline(ctx, got.envelope_id)
        env_ids.append(got.envelope_id)
    empty = receive(ctx, b"", "empty.pdf", now, submitted_by=users["scanner"])  # quarantined at once
    locked = receive(ctx, _encrypted(4, "user-secret"), "locked.pdf", now, submitted_by=users["scanner"])
    run_inline(ctx, locked.envelope_id)  # password-protected: needs a person
    held = [empty.envelope_id, locked.envelope_id]
    env_ids += held
    with session_scope(ctx.db_url) as s:
        items = list(s.scalars(select(WorkItem).order_by(WorkItem.id)))
        queues = sorted({i.queue for i in items})
        for queue in ctx.rules.queues:  # the agent works every queue, also those items are moved to
            work.set_members(s, queue.id, [users["agent"]], users["supervisor"], ctx.rules)
        work.claim(s, items[0].id, users["agent"], now)
        work.claim(s, items[1].id, users["agent"], now)
        work.hold(s, items[1].id, users["agent"], now, "waiting for the customer")
        item_ids: list[str | int] = [i.id for i in items]
        doc_ids: list[str | int] = list(s.scalars(select(Document.id)))
        states = set(s.scalars(select(Envelope.state)))
    assert len(item_ids) >= 6 and {"quarantined", "needs_human", "processed"} <= states, (item_ids, states)
    return Seeded(held=list(held), ids={"envelope_id": list(env_ids), "document_id": doc_ids, "item_id": item_ids,
                       "queue": [*queues, "triage"], "username": list(users.values()),
                       "job_id": [f"read-{env_ids[0]}"]}, tokens=tokens, db_url=ctx.db_url)


@pytest.fixture
def fuzz_app(redis_settings: Settings, tmp_path: Path) -> tuple[object, Seeded]:
    """A freshly seeded database for each role (what one role's fuzzing changes does not spoil the next)."""
    ctx = get_context(redis_settings)
    return create_app(ctx), _seed(ctx, tmp_path / "letters")


def _fuzz(app: object, seeded: Seeded, role: str) -> tuple[int, dict[str, str], Counter[str]]:
    auth = {"Authorization": f"Bearer {seeded.tokens[role]}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: dict[str, str] = {}
    reached: Counter[str] = Counter()  # operation → 2xx answers for a seeded id in its path
    seconds: dict[str, float] = {}
    operations = 0
    # schemathesis' pytest plugin does not run under pytest 9, so the operations are driven here
    for result in schema.get_all_operations():
        operation = result.ok()
        label = operation.label
        operations += 1
        if label in FRESH:  # the operations before it (next item, claims) took every new item: give them back
            with session_scope(seeded.db_url) as s:
                s.execute(update(WorkItem).where(WorkItem.state == WorkItemState.CLAIMED)
                          .values(state=WorkItemState.NEW, assignee=None, claimed_until=None))
        started = time.monotonic()

        @given(case=operation.as_strategy(), pick=st.one_of(st.none(), st.integers(0, 10_000)))
        @settings(max_examples=FEW.get(operation.label, EXAMPLES), deadline=None,
                  suppress_health_check=list(HealthCheck), database=None)
        def run(case: schemathesis.Case, pick: int | None) -> None:
            seeded_path = False
            if pick is not None:  # half the cases: the path names real objects
                for param in list(case.path_parameters or {}):
                    if param in seeded.ids:  # quarantine routes answer for held envelopes only
                        held = param == "envelope_id" and "/quarantine/" in operation.path  # noqa: B023
                        choices = seeded.held if held else seeded.ids[param]
                        case.path_parameters[param] = choices[pick % len(choices)]  # type: ignore[index]
                        seeded_path = True
            response = case.call_and_validate(headers=auth,
                                              checks=[not_a_server_error, response_schema_conformance])
            if seeded_path and 200 <= response.status_code < 300:
                reached[label] += 1  # noqa: B023 - run() is called in this iteration only

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collected per operation, reported together
            failures[label] = f"{type(exc).__name__}: {str(exc)[:600]}"
        seconds[label] = time.monotonic() - started
    slowest = sorted(seconds.items(), key=lambda kv: -kv[1])[:5]
    print(f"fuzz {role}: slowest " + ", ".join(f"{k} {v:.1f} s" for k, v in slowest))
    return operations, failures, reached


# Operations that need new items: claimed ones are given back to the queue before they are fuzzed.
FRESH = {"POST /api/work-items/{item_id}/claim", "POST /api/queues/{queue}/next"}
# Operations on a seeded object that each role must reach with a 2xx (so the fuzz ran past the lookup).
MUST_REACH = {
    "supervisor": {"GET /api/envelopes/{envelope_id}", "GET /api/work-items/{item_id}",
                   "GET /api/quarantine/{envelope_id}", "GET /api/archive/documents/{document_id}",
                   "GET /api/queues/{queue}/members"},
    "agent": {"GET /api/work-items/{item_id}", "POST /api/work-items/{item_id}/claim",
              "POST /api/queues/{queue}/next"},
    "scanner": {"GET /api/envelopes/{envelope_id}", "GET /api/batches/{envelope_id}"},
    "auditor": {"GET /api/archive/documents/{document_id}", "GET /api/archive/envelopes/{envelope_id}/original"},
}


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("role", ROLES)
def test_no_server_errors_and_responses_match_the_schema(fuzz_app: tuple[object, Seeded], role: str) -> None:
    app, seeded = fuzz_app
    operations, failures, reached = _fuzz(app, seeded, role)
    print(f"fuzz {role}: {operations} operations, seeded 2xx: {dict(reached)}")
    assert operations >= 20
    assert not failures, "\n\n".join(f"{k}: {v}" for k, v in failures.items())
    assert MUST_REACH[role] <= set(reached), MUST_REACH[role] - set(reached)
