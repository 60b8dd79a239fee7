"""Failed pipeline jobs (issue #9): jobs that really fail in a real rq worker on the embedded redis-server,
then listed, shown, retried and discarded through pipeline.failed_jobs, the HTTP API and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from rq import Queue, Retry, SimpleWorker
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from sqlalchemy import select

from ground.errors import Conflict, NotFound
from ground.settings import Settings
from mailroom.cli import main
from pipeline import failed_jobs as fj
from pipeline.context import Context, get_context
from pipeline.jobs import job_queue, pages_queue
from storage.db import session_scope
from storage.models import AuditEvent, Role
from storage.users import create_token, upsert_user
from tests.support.agents import join_every_queue
from web.app import create_app

DOC = "no-such-document"
ENV = "no-such-envelope"


@dataclass
class Setup:
    ctx: Context
    queue: Queue
    pages: Queue

    @property
    def queues(self) -> list[Queue]:
        return [self.queue, self.pages]

    def work(self) -> None:
        SimpleWorker(self.queues, connection=self.queue.connection, serializer=JSONSerializer).work(burst=True)


@pytest.fixture
def setup(redis_settings: Settings) -> Iterator[Setup]:
    queue = job_queue(redis_settings)
    yield Setup(get_context(redis_settings), queue, pages_queue(queue))
    queue.connection.close()


def _fail_route(s: Setup, job_id: str = f"route-{DOC}") -> str:
    s.queue.enqueue_call("pipeline.jobs.route_job", args=(DOC,), job_id=job_id, failure_ttl=3600)
    s.work()
    return job_id


def _events(ctx: Context, action: str) -> list[AuditEvent]:
    with session_scope(ctx.db_url) as session:
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))
        session.expunge_all()
    return events


def test_a_failed_route_job_is_listed_shown_retried_and_discarded(setup: Setup) -> None:
    before = datetime.now(UTC)
    job_id = _fail_route(setup)
    total, [job] = fj.list_failed(setup.queues)
    assert total == 1
    assert (job.job_id, job.queue, job.function, job.args) == (job_id, "mailroom", "route_job", [DOC])
    assert (job.document_id, job.envelope_id) == (DOC, None)
    assert job.error == f"LookupError: document {DOC} does not exist"
    assert job.failed_at is not None and before - timedelta(seconds=1) <= job.failed_at <= datetime.now(UTC)
    assert job.expires_at is not None and job.expires_at - job.failed_at > timedelta(minutes=59)
    assert job.retries_left is None and job.failures == 1  # enqueued without rq retries, failed once
    detail = fj.show(setup.queues, job_id)
    assert detail.traceback is not None and detail.traceback.startswith("Traceback")
    assert "run_route" in detail.traceback and detail.error == job.error

    retried = fj.retry(setup.queues, job_id, db_url=setup.ctx.db_url, actor="sue")
    assert retried.job_id == job_id
    assert fj.list_failed(setup.queues) == (0, [])
    assert setup.queue.job_ids == [job_id]
    assert Job.fetch(job_id, connection=setup.queue.connection).get_status() == JobStatus.QUEUED
    [event] = _events(setup.ctx, "job.retry")
    assert (event.actor, event.document_id, event.detail["job_id"], event.detail["queue"]) == \
        ("sue", DOC, job_id, "mailroom")
    assert event.detail["error"] == job.error
    with pytest.raises(Conflict):  # queued, not failed: nothing to retry
        fj.retry(setup.queues, job_id, db_url=setup.ctx.db_url, actor="sue")

    setup.work()  # it fails again and comes back
    total, [again] = fj.list_failed(setup.queues)
    assert total == 1 and again.failures == 2
    fj.discard(setup.queues, job_id, db_url=setup.ctx.db_url, actor="sue")
    assert fj.list_failed(setup.queues) == (0, [])
    assert not Job.exists(job_id, connection=setup.queue.connection)
    [gone] = _events(setup.ctx, "job.discard")
    assert (gone.actor, gone.detail["job_id"]) == ("sue", job_id)
    for action in (fj.retry, fj.discard):
        with pytest.raises(NotFound):
            action(setup.queues, job_id, db_url=setup.ctx.db_url, actor="sue")
    with pytest.raises(NotFound):
        fj.show(setup.queues, "not:an-id")
    assert len(_events(setup.ctx, "job.retry")) == 1  # refusals record nothing


def test_a_failed_page_chunk_job_names_its_queue_and_envelope(setup: Setup) -> None:
    job_id = f"read-{ENV}-0-1"
    setup.pages.enqueue_call("pipeline.jobs.read_chunk_job", args=(ENV, 0, 1), job_id=job_id, failure_ttl=3600,
                             retry=Retry(max=1))  # no interval: rq runs it again at once, then gives up
    setup.work()
    job_route = _fail_route(setup)
    total, jobs = fj.list_failed(setup.queues)
    assert total == 2
    [chunk] = [j for j in jobs if j.job_id == job_id]
    assert (chunk.queue, chunk.function, chunk.args) == ("mailroom-pages", "read_chunk_job", [ENV, 0, 1])
    assert (chunk.envelope_id, chunk.document_id) == (ENV, None)
    assert chunk.error == f"LookupError: envelope {ENV} does not exist"
    assert chunk.retries_left == 0  # rq's automatic retry was used up
    assert [j.job_id for j in fj.list_failed(setup.queues, limit=1, offset=1)[1]] == \
        [j.job_id for j in jobs][1:]  # paging
    counts = {c.queue: c for c in fj.queue_counts(setup.queues)}
    assert (counts["mailroom"].failed, counts["mailroom-pages"].failed) == (1, 1)
    assert counts["mailroom"].queued == counts["mailroom-pages"].queued == 0
    fj.retry(setup.queues, job_id, db_url=setup.ctx.db_url, actor="sue")
    assert setup.pages.job_ids == [job_id] and setup.queue.job_ids == []  # back on the pages queue
    assert {c.queue: c.queued for c in fj.queue_counts(setup.queues)} == {"mailroom": 0, "mailroom-pages": 1}
    assert [j.job_id for j in fj.list_failed(setup.queues)[1]] == [job_route]


def test_api_supervisor_acts_auditor_reads_agent_is_refused(setup: Setup) -> None:
    ctx = setup.ctx
    now = datetime.now(UTC)
    tokens = {}
    with session_scope(ctx.db_url) as s:
        for name, role in (("boss", Role.SUPERVISOR), ("reader", Role.AUDITOR), ("agent", Role.AGENT)):
            upsert_user(s, name, f"{name}-password-123", role)
            tokens[name] = {"Authorization": f"Bearer {create_token(s, name, 'test', now)[1]}"}
        join_every_queue(s, ctx.rules)  # an agent without memberships works no queue
    job_id = _fail_route(setup)
    with TestClient(create_app(ctx)) as client:
        for who in ("boss", "reader"):
            listed = client.get("/api/jobs/failed", headers=tokens[who])
            assert listed.status_code == 200, listed.text
            body = listed.json()
            assert body["total"] == 1
            [item] = body["items"]
            assert (item["job_id"], item["queue"], item["document_id"]) == (job_id, "mailroom", DOC)
            assert item["error"].startswith("LookupError")
            shown = client.get(f"/api/jobs/failed/{job_id}", headers=tokens[who])
            assert shown.status_code == 200 and "Traceback" in shown.json()["traceback"]
        # an agent is refused (404, as for every route a role may not use: web/deps.py), and so is a write
        # by an auditor; nothing moved
        assert client.get("/api/jobs/failed", headers=tokens["agent"]).status_code == 404
        assert client.get(f"/api/jobs/failed/{job_id}", headers=tokens["agent"]).status_code == 404
        for who in ("agent", "reader"):
            for action in ("retry", "discard"):
                assert client.post(f"/api/jobs/failed/{job_id}/{action}", headers=tokens[who]).status_code == 404
        assert fj.list_failed(setup.queues)[0] == 1

        r = client.post(f"/api/jobs/failed/{job_id}/retry", headers=tokens["boss"])
        assert r.status_code == 202 and r.json() == {"job_id": job_id, "queue": "mailroom", "state": "queued"}
        assert setup.queue.job_ids == [job_id]
        assert [(e.actor, e.detail["job_id"]) for e in _events(ctx, "job.retry")] == [("boss", job_id)]
        assert client.post(f"/api/jobs/failed/{job_id}/retry", headers=tokens["boss"]).status_code == 409

        setup.work()
        r = client.post(f"/api/jobs/failed/{job_id}/discard", headers=tokens["boss"])
        assert r.status_code == 200 and r.json()["state"] == "discarded"
        assert client.get("/api/jobs/failed", headers=tokens["boss"]).json() == {"total": 0, "items": []}
        assert [e.actor for e in _events(ctx, "job.discard")] == ["boss"]
        for url in (f"/api/jobs/failed/{job_id}/retry", "/api/jobs/failed/no-such-job/retry",
                    "/api/jobs/failed/no-such-job/discard"):
            missing = client.post(url, headers=tokens["boss"])
            assert missing.status_code == 404 and missing.json()["code"] == "not_found"
        assert client.get("/api/jobs/failed/a:b", headers=tokens["boss"]).status_code == 404


def test_cli_lists_shows_retries_and_counts(setup: Setup, capsys: pytest.CaptureFixture[str]) -> None:
    job_id = _fail_route(setup)
    assert main(["jobs", "failed", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["total"] == 1 and body["items"][0]["job_id"] == job_id
    assert body["items"][0]["error"] == f"LookupError: document {DOC} does not exist"
    assert main(["jobs", "failed"]) == 0
    out = capsys.readouterr().out
    assert f"document {DOC}" in out and "1 failed" in out
    assert main(["jobs", "show", job_id]) == 0
    assert "Traceback" in capsys.readouterr().out
    assert main(["jobs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["mailroom", "0", "0", "1", "0"]
    assert lines[2].split() == ["mailroom-pages", "0", "0", "0", "0"]
    assert main(["jobs", "retry", job_id]) == 0
    capsys.readouterr()
    assert main(["jobs", "status", "--json"]) == 0
    assert [c["queued"] for c in json.loads(capsys.readouterr().out)] == [1, 0]
    assert [e.actor for e in _events(setup.ctx, "job.retry")] == ["cli"]
    assert main(["jobs", "discard", job_id]) == 2  # queued again, not failed
    assert "not failed" in capsys.readouterr().err
    assert main(["jobs", "retry", "no-such-job"]) == 2
