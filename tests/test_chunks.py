"""A long scan is read as page chunks that any worker can take (pipeline.chunks), with the same documents as a
one-job read, without holding up the letters that arrive meanwhile, and without losing a chunk to Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from sqlalchemy import func, select

from ground.records import Channel
from ground.settings import Settings, get_settings
from intake import Accepted, Arrival, accept
from mailroom.cli import main
from pipeline import chunks
from pipeline.chunks import Chunk, split
from pipeline.context import Context, get_context
from pipeline.jobs import enqueue_read, job_queue, pages_queue, read_job, worker_queues
from pipeline.quarantine import batch_status
from pipeline.reconcile import reconcile
from pipeline.runner import run_chunk, run_read
from pipeline.stages import read
from storage.db import session_scope
from storage.models import AuditEvent, Document, Envelope, ReadChunk, WorkItem
from tests.test_ocr import (
    LETTER_CS,
    LETTER_PL,
    LETTER_RU,
    blank_page,
    fax_tiff,
    image_pdf,
    separator_page,
    text_page,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def batch_pdf() -> bytes:
    """Three letters on 7 pages: separators on pages 2 and 6, a blank back on page 4 (chunk boundaries at 2)."""
    return image_pdf(text_page(tuple(LETTER_PL)), separator_page(), text_page(tuple(LETTER_CS)), blank_page(),
                     text_page(tuple(LETTER_CS[:1])), separator_page(), text_page(tuple(LETTER_RU)))


def _accept(ctx: Context, data: bytes, name: str, ctype: str, channel: Channel = Channel.SCAN) -> str:
    with session_scope(ctx.db_url) as s:
        res = accept(Arrival(data=data, name=name, channel=channel, content_type=ctype, received_at=NOW), s, ctx.blobs)
    assert isinstance(res, Accepted)
    return res.envelope_id


def _chunked_settings(monkeypatch: pytest.MonkeyPatch, pages: int) -> Settings:
    """The test's settings with a small chunk size, also for rq jobs (which read the settings themselves)."""
    monkeypatch.setenv("MAILROOM_OCR_CHUNK_PAGES", str(pages))
    get_settings.cache_clear()
    return get_settings()


def test_chunks_cover_every_page_once() -> None:
    got = split([7, 1, 2, 0], 2)
    assert got == [Chunk(0, 0, 2), Chunk(0, 2, 4), Chunk(0, 4, 6), Chunk(0, 6, 7), Chunk(1, 0, 1), Chunk(2, 0, 2),
                   Chunk(3, 0, 0)]
    for part, count in enumerate([7, 1, 2]):
        pages = [p for c in got if c.part_index == part for p in range(c.first_page, c.stop_page)]
        assert pages == list(range(count))


def test_small_file_is_read_in_one_job(ctx: Context) -> None:
    env_id = _accept(ctx, image_pdf(text_page(tuple(LETTER_PL))), "one.pdf", "application/pdf")
    ids = run_read(ctx, env_id, chunk_pages=2)
    assert len(ids) == 1 and chunks.pending(ctx, env_id) is None


@pytest.mark.slow
def test_chunked_read_makes_the_same_documents_as_one_read(ctx: Context, capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    data = batch_pdf()
    env_id = _accept(ctx, data, "batch.pdf", "application/pdf")
    assert run_read(ctx, env_id, chunk_pages=2) == []  # planned, not read
    left = chunks.pending(ctx, env_id)
    assert left == [Chunk(0, 0, 2), Chunk(0, 2, 4), Chunk(0, 4, 6), Chunk(0, 6, 7)]
    assert run_read(ctx, env_id, chunk_pages=2) == []  # a second read (the reconciler) plans nothing new
    assert chunks.pending(ctx, env_id) == left
    assert main(["batch", env_id]) == 0
    assert "reading in 4 page chunks: 0 done, 0 of 7 pages read" in capsys.readouterr().out
    # the chunks in any order, by any worker; only the last one makes the documents
    for chunk in reversed(left[1:]):
        assert run_chunk(ctx, env_id, chunk.part_index, chunk.first_page) == []
    assert run_chunk(ctx, env_id, 0, 2) == []  # a duplicate delivery of a chunk already read
    with session_scope(ctx.db_url) as s:
        assert batch_status(s, env_id)["reading"] == {"chunks": 4, "chunks_done": 3, "pages_read": 5,
                                                      "pages_total": 7}
    ids = run_chunk(ctx, env_id, 0, 0)
    assert len(ids) == 3
    assert sorted(run_chunk(ctx, env_id, 0, 4)) == sorted(ids)  # a late duplicate after the documents were made

    whole = list(read(data, "application/pdf", "batch.pdf", ctx.settings))
    with session_scope(ctx.db_url) as s:
        docs = s.scalars(select(Document).where(Document.envelope_id == env_id).order_by(Document.doc_index)).all()
        assert [(d.first_page, d.pages, d.text) for d in docs] == [
            (f.ocr.pages[0].number, f.ocr.page_count, f.ocr.text) for f in whole]
        assert [d.first_page for d in docs] == [1, 3, 7] and [d.pages for d in docs] == [1, 2, 1]
        assert "MR-1112223" in docs[2].text
        assert s.scalar(select(func.count()).select_from(ReadChunk)) == 0  # rows gone with the same commit
        env = s.get(Envelope, env_id)
        assert env is not None and env.attempts == 1
        reads = s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.envelope_id == env_id, AuditEvent.action == "document.read"))
        assert reads == 3


def test_long_fax_is_read_in_chunks_with_its_pages_in_order(ctx: Context) -> None:
    env_id = _accept(ctx, fax_tiff(3), "fax.tif", "image/tiff", channel=Channel.FAX)
    assert run_read(ctx, env_id, chunk_pages=1) == []
    assert chunks.pending(ctx, env_id) == [Chunk(0, 0, 1), Chunk(0, 1, 2), Chunk(0, 2, 3)]
    assert run_chunk(ctx, env_id, 0, 2) == [] and run_chunk(ctx, env_id, 0, 0) == []
    [doc_id] = run_chunk(ctx, env_id, 0, 1)
    with session_scope(ctx.db_url) as s:
        doc = s.get(Document, doc_id)
        assert doc is not None and doc.pages == 3 and [f["page"] for f in doc.page_flags] == [1, 2, 3]
        assert [doc.text.index(f"strona {n}") for n in (1, 2, 3)] == sorted(doc.text.index(f"strona {n}")
                                                                            for n in (1, 2, 3))


@pytest.mark.slow
def test_long_scan_does_not_hold_up_a_letter_and_survives_a_redis_flush(
        redis_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = get_context(_chunked_settings(monkeypatch, 2))
    queue = job_queue(ctx.settings)
    scan = _accept(ctx, batch_pdf(), "batch.pdf", "application/pdf")
    enqueue_read(queue, scan)
    assert read_job(scan) == []  # as a worker would: planned, and its chunks put on the pages queue
    pages = pages_queue(queue)
    assert sorted(pages.job_ids) == sorted(f"read-{scan}-0-{first}" for first in (0, 2, 4, 6))
    queue.connection.flushall()  # Redis loses every job, chunks included
    assert reconcile(ctx.db_url, queue, datetime.now(UTC) + timedelta(minutes=5)).envelopes == 1
    letter = _accept(ctx, "Subject: Reklamacja\n\nProszę o korektę faktury.".encode(), "letter.eml",
                     "message/rfc822", channel=Channel.EMAIL)
    enqueue_read(queue, letter)

    worker = SimpleWorker(worker_queues(ctx.settings), connection=queue.connection, serializer=JSONSerializer)
    worker.work(burst=True)

    with session_scope(ctx.db_url) as s:
        assert {e.id: e.state for e in s.scalars(select(Envelope))} == {scan: "processed", letter: "processed"}
        assert s.get(Envelope, scan).attempts == 1  # type: ignore[union-attr]  # re-reads did not count
        items = s.scalars(select(WorkItem).join(Document).where(Document.envelope_id == scan)).all()
        assert len(items) == 3
        events = s.execute(select(AuditEvent.envelope_id, AuditEvent.action).order_by(AuditEvent.seq)).all()
    # the letter that arrived while the scan's chunks waited was routed before the scan's documents were made
    order = [(env, action) for env, action in events if action in ("envelope.processed", "document.read")]
    assert order[0] == (letter, "document.read") and order[1] == (letter, "envelope.processed")
    assert {env for env, _ in order[2:]} == {scan}
