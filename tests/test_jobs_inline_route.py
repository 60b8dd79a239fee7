"""A read job routes the documents it has just read (issue 20: one rq job per born-digital letter instead of
one per stage), and a routing that fails there is handed to a route job of its own, as before."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import select

import pipeline.jobs as jobs
from channels.receive import receive
from ground.records import Channel
from ground.settings import Settings
from pipeline.context import get_context
from storage.db import session_scope
from storage.models import Document, WorkItem

LETTER = (b"From: Jan Kowalski <jan@example.pl>\r\nTo: bok@operator.example\r\nSubject: Reklamacja faktury\r\n"
          b"Message-ID: <inline-route-1@example.pl>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
          + "Składam reklamację faktury za marzec: naliczono opłatę za usługę, której nie zamawiałem. "
            "Proszę o korektę faktury i zwrot nadpłaty.\r\n".encode())


def _received(settings: Settings) -> str:
    ctx = get_context(settings)
    got = receive(ctx, LETTER, "mail.eml", datetime.now(UTC), channel=Channel.EMAIL, submitted_by="scan")
    return str(got.envelope_id)


def test_the_read_job_routes_its_documents_without_a_route_job(redis_settings: Settings) -> None:
    envelope_id = _received(redis_settings)
    ids = jobs.read_job(envelope_id)
    assert len(ids) == 1
    with session_scope(get_context(redis_settings).db_url) as s:
        item = s.scalars(select(WorkItem).where(WorkItem.document_id == ids[0])).one()
        assert item.queue and s.get(Document, ids[0]).category == "complaint"
    queue = jobs.job_queue(redis_settings)
    try:
        assert Job.exists(f"route-{ids[0]}", connection=queue.connection) is False
        assert jobs.read_job(envelope_id) == ids  # run again (a retry after a crash): the same item, no other
        with session_scope(get_context(redis_settings).db_url) as s:
            assert len(s.scalars(select(WorkItem).where(WorkItem.document_id == ids[0])).all()) == 1
    finally:
        queue.connection.close()


def test_a_routing_that_fails_in_the_read_job_gets_a_route_job(redis_settings: Settings,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    envelope_id = _received(redis_settings)
    real = jobs.run_route

    def broken(ctx: object, doc_id: str) -> int | None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(jobs, "run_route", broken)
    ids = jobs.read_job(envelope_id)
    queue = jobs.job_queue(redis_settings)
    try:
        job = Job.fetch(f"route-{ids[0]}", connection=queue.connection, serializer=JSONSerializer)
        assert (job.func_name, job.args) == ("pipeline.jobs.route_job", [ids[0]])
        with session_scope(get_context(redis_settings).db_url) as s:
            assert s.scalars(select(WorkItem).where(WorkItem.document_id == ids[0])).first() is None
        monkeypatch.setattr(jobs, "run_route", real)
        assert jobs.route_job(ids[0]) is not None  # what the worker runs next
    finally:
        queue.connection.close()
