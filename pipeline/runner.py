"""The recipe: load → read → save documents → decide → save work items.

Each step is keyed by an id and idempotent: running it twice (an rq retry, the reconciler,
a second ``mailroom process``) never creates a second document or work item.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ground.errors import Disposition, MailroomError
from ground.records import OcrResult, Part
from intake.parts import explode, is_email
from pipeline import chunks, models
from pipeline.context import Context
from pipeline.stages import FoundDocument, decide, documents_of, letter_documents, read_part, read_parts
from queues.cases import routed
from replies.service import acknowledge_routed, deliver_email, record_bounce
from storage.audit import record
from storage.customers import link_customer
from storage.db import session_scope
from storage.models import Document, DocumentState, Envelope, EnvelopeState, ReadChunk, WorkItem
from storage.search import index_document, index_documents

log = logging.getLogger(__name__)
DOC_NAMESPACE = uuid.UUID("5b0f8a8e-7c2e-4a51-9d0e-6d61696c726f")
MAX_ATTEMPTS = 3
MAX_STARTS = 6  # reads started (a killed worker leaves no exception behind)
T = TypeVar("T")


def document_id(envelope_sha256: str, part_index: int, doc_index: int) -> str:
    """Stable: the same bytes always give the same document ids."""
    return str(uuid.uuid5(DOC_NAMESPACE, f"{envelope_sha256}:{part_index}:{doc_index}"))


def quarantine(ctx: Context, envelope_id: str, exc: MailroomError) -> None:
    state = EnvelopeState.NEEDS_HUMAN if exc.disposition == Disposition.NEEDS_HUMAN else EnvelopeState.QUARANTINED
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, envelope_id)
        if env is None or env.state == EnvelopeState.PROCESSED:
            return
        env.state, env.error = state, exc.reason
        chunks.forget(s, envelope_id)
        record(s, "system", f"envelope.{state}", envelope_id=envelope_id,
               detail={"code": exc.code, "reason": exc.reason})


NO_PAGE = "No readable page was found (all pages blank or separators); check the scan and re-submit."


def run_read(ctx: Context, envelope_id: str, chunk_pages: int = 0) -> list[str]:
    """Recognise the text of an envelope and save its documents; returns their ids.

    ``chunk_pages`` > 0: a PDF or TIFF with more pages is not read here but planned as page chunks
    (pipeline.chunks); the ids are then [] until the job that reads the last chunk makes the documents."""
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, envelope_id)
        if env is None:
            raise LookupError(f"envelope {envelope_id} does not exist")
        if env.state in (EnvelopeState.QUARANTINED, EnvelopeState.NEEDS_HUMAN):
            return []
        existing = [d.id for d in env.documents]
        if env.state == EnvelopeState.PROCESSED or existing:
            return existing
        if chunk_pages and chunks.planned(s, envelope_id):
            return []  # read in page chunks: read_job enqueues those left
        env.attempts += 1
        sha, ctype, name = env.sha256, env.content_type, env.source_name
        attempts = env.attempts
    if _poison_pill(ctx, envelope_id, attempts, "Reading"):
        return []
    data = ctx.blobs.get(sha)

    letter = is_email(ctype)  # an e-mail is one letter: body, then the attachments' pages (intake.letter)

    def read_or_plan() -> list[FoundDocument] | None:
        parts = explode(data, ctype, name)
        if chunk_pages and _plan(ctx, envelope_id, parts, chunk_pages, letter):
            return None
        return list(read_parts(parts, ctx.settings, letter=letter))

    found = _guarded(ctx, envelope_id, attempts, "Reading", read_or_plan)
    if found is None:  # planned as page chunks, or quarantined
        return []
    return save_documents(ctx, envelope_id, sha, found)


def _plan(ctx: Context, envelope_id: str, parts: list[Part], chunk_pages: int, letter: bool) -> bool:
    """Plan page chunks; a damaged attachment of a letter is not the letter's failure: read it in one job."""
    try:
        return chunks.plan(ctx, envelope_id, parts, chunk_pages)
    except MailroomError:
        if not letter:
            raise
        return False


def _poison_pill(ctx: Context, envelope_id: str, attempts: int, what: str) -> bool:
    """True (and quarantined) when every earlier read died with its process (OOM, segfault)."""
    if attempts <= MAX_STARTS:
        return False
    quarantine(ctx, envelope_id, MailroomError(
        f"{what} was interrupted {attempts - 1} times (the worker process died while reading it); "
        "the original is kept, check the file and re-run it."))
    return True


def _guarded(ctx: Context, envelope_id: str, attempts: int, what: str, read: Callable[[], T]) -> T | None:
    """``read()``; None when it failed and the envelope went to quarantine: at once for a file it cannot
    read (MailroomError), after MAX_ATTEMPTS for any other crash (raised before that, for rq's retry)."""
    try:
        return read()
    except MailroomError as exc:
        quarantine(ctx, envelope_id, exc)
        return None
    except Exception as exc:  # noqa: BLE001 - any crash of a reader must not lose the item
        if attempts >= MAX_ATTEMPTS:
            quarantine(ctx, envelope_id, MailroomError(
                f"{what} failed {attempts} times ({type(exc).__name__}: {exc}); "
                "the original is kept, re-run it after fixing the cause."))
            return None
        raise


def save_documents(ctx: Context, envelope_id: str, sha: str, found: list[FoundDocument],
                   chunked: bool = False) -> list[str]:
    """Store the documents read from an envelope (and index them); returns their ids.

    ``chunked``: the pages came from page chunks (pipeline.chunks), whose rows go with the same commit."""
    if not found:
        quarantine(ctx, envelope_id, MailroomError(NO_PAGE))
        return []
    try:
        return _save(ctx, envelope_id, sha, found, chunked)
    except IntegrityError:  # another job read the same envelope at the same moment (the job of another chunk,
        # or a second `mailroom process` of the same e-mail): its documents stand
        with session_scope(ctx.db_url) as s:
            return [d.id for d in s.scalars(select(Document).where(Document.envelope_id == envelope_id)
                                            .order_by(Document.part_index, Document.doc_index))]


def _save(ctx: Context, envelope_id: str, sha: str, found: list[FoundDocument], chunked: bool) -> list[str]:
    ids: list[str] = []
    with session_scope(ctx.db_url) as s:
        if chunked:
            chunks.forget(s, envelope_id)
        for f in found:
            doc_id = document_id(sha, f.part_index, f.doc_index)
            ids.append(doc_id)
            if s.get(Document, doc_id) is not None:
                continue
            pages = [p for p in f.ocr.pages if not p.blank]
            s.add(Document(
                id=doc_id, envelope_id=envelope_id, part_index=f.part_index, doc_index=f.doc_index,
                part_name=f.part.name[:500], part_sha256=ctx.blobs.put(f.part.data),
                first_page=pages[0].number if pages else 1, pages=f.ocr.page_count,
                blank_pages=sum(p.blank for p in f.ocr.pages),
                page_flags=[{"page": p.number, "method": p.method, "flags": p.flags} for p in f.ocr.pages],
                text=f.ocr.text, state=DocumentState.READ,
            ))
            record(s, "system", "document.read", envelope_id=envelope_id, document_id=doc_id,
                   detail={"pages": f.ocr.page_count, "methods": sorted({p.method for p in pages}),
                           "flags": sorted({fl for p in f.ocr.pages for fl in p.flags})})
        index_documents(s, ids)  # archive search (storage/search.py)
    return ids


def run_chunk(ctx: Context, envelope_id: str, part_index: int, first_page: int) -> list[str]:
    """Read one page chunk of a long file (pipeline.chunks); returns the document ids once the last chunk
    of the envelope is read (by this job or an earlier one), else []."""
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, envelope_id)
        if env is None:
            raise LookupError(f"envelope {envelope_id} does not exist")
        if env.state != EnvelopeState.RECEIVED:
            return [d.id for d in env.documents]
        row = s.get(ReadChunk, (envelope_id, part_index, first_page))
        if row is None:  # the documents were made (or a duplicate delivery of a chunk job)
            return [d.id for d in env.documents]
        done, stop = row.done, row.stop_page
        if not done:
            row.attempts += 1
        attempts = row.attempts
        sha, ctype, name = env.sha256, env.content_type, env.source_name
    if done:
        return assemble(ctx, envelope_id)
    what = f"Reading pages {first_page + 1}-{stop}" + (f" of part {part_index + 1}" if part_index else "")
    if _poison_pill(ctx, envelope_id, attempts, what):
        return []
    parts = explode(ctx.blobs.get(sha), ctype, name)
    pages = _guarded(ctx, envelope_id, attempts, what,
                     lambda: read_part(parts[part_index], ctx.settings, range(first_page, stop)))
    if pages is None:
        return []
    with session_scope(ctx.db_url) as s:
        row = s.get(ReadChunk, (envelope_id, part_index, first_page))
        if row is None:
            return []  # quarantined meanwhile, or made by a duplicate of this job
        chunks.store(row, pages.pages)
    return assemble(ctx, envelope_id, parts)


def assemble(ctx: Context, envelope_id: str, parts: list[Part] | None = None) -> list[str]:
    """Make the documents of a chunked envelope once every chunk is read; [] while some are not.
    ``parts``: the envelope's parts when the caller has them (else its original is read again)."""
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, envelope_id)
        if env is None or env.state != EnvelopeState.RECEIVED or env.documents:
            return [d.id for d in env.documents] if env is not None else []
        pages = chunks.pages_read(s, envelope_id)
        if pages is None:
            return []
        sha, ctype, name = env.sha256, env.content_type, env.source_name
    if parts is None:
        parts = explode(ctx.blobs.get(sha), ctype, name)
    try:
        if is_email(ctype):
            found = list(letter_documents(parts, [OcrResult(pages=pages.get(i, [])) for i in range(len(parts))]))
        else:
            found = [doc for index, part in enumerate(parts)
                     for doc in documents_of(index, part, OcrResult(pages=pages.get(index, [])))]
    except MailroomError as exc:  # a letter with no readable text: a person looks at it
        quarantine(ctx, envelope_id, exc)
        return []
    return save_documents(ctx, envelope_id, sha, found, chunked=True)


def run_route(ctx: Context, doc_id: str) -> int | None:
    """Classify a document, route it and give it its one work item; returns the item id."""
    with session_scope(ctx.db_url) as s:
        doc = s.get(Document, doc_id)
        if doc is None:
            raise LookupError(f"document {doc_id} does not exist")
        if doc.work_item is not None:
            return doc.work_item.id
        env = doc.envelope
        text, channel, received_at = doc.text, env.channel, env.received_at
        bounce = (env.meta or {}).get("bounce") or {}
        flags = frozenset(f for page in doc.page_flags for f in page.get("flags", []))
    models.refresh(ctx)  # the category model a person promoted, within seconds of the promotion
    decision = decide(text, channel, received_at, ctx.rules, ctx.policies, flags)
    c, r, sla = decision.classification, decision.routing, decision.sla
    try:
        with session_scope(ctx.db_url) as s:
            doc = s.get(Document, doc_id)
            assert doc is not None
            doc.language, doc.category, doc.confidence = c.language, c.category, c.confidence
            doc.segment, doc.entities, doc.reasons = c.segment, c.entities, c.reasons
            doc.model_version, doc.state = c.model_version, DocumentState.ROUTED
            doc.customer_id = link_customer(s, c.entities, stored=doc.customer_id)  # a stored link first
            item = WorkItem(document_id=doc_id, queue=r.queue, priority=r.priority, routing_rule=r.rule,
                            sla_policy=sla.policy, sla_due=sla.due, first_response_due=sla.first_response_due,
                            warn_at=sla.warn_at)
            s.add(item)
            s.flush()
            now = datetime.now(UTC)
            routed(s, item, ctx.policies, now, ctx.reply_policy.reference_pattern)  # case, clocks, live event
            record(s, "system", "document.classified", envelope_id=doc.envelope_id, document_id=doc_id,
                   detail={"language": c.language, "category": c.category, "confidence": c.confidence,
                           "model": c.model_version, "reasons": c.reasons[:20]})
            index_document(s, doc)  # archive search: category, language, entities
            record(s, "system", "work_item.routed", envelope_id=doc.envelope_id, document_id=doc_id,
                   work_item_id=item.id, detail={"queue": r.queue, "priority": r.priority, "rule": r.rule,
                                                 "reasons": getattr(r, "reasons", [])})
            record(s, "system", "sla.started", envelope_id=doc.envelope_id, document_id=doc_id,
                   work_item_id=item.id, detail={"policy": sla.policy, "due": sla.due.isoformat(),
                                                 "calendar": sla.calendar})
            item_id = item.id
            ack = _acknowledge(ctx, s, item, now)
            if bounce.get("original_message_id"):  # one of our e-mails came back: its item returns to the agent
                record_bounce(s, str(bounce["original_message_id"]), now, ctx.outbound,
                              {"status": bounce.get("status"), "action": bounce.get("action"),
                               "bounce_document_id": doc_id})
            _finish_envelope(s, doc.envelope_id)
    except IntegrityError:  # a concurrent run created the work item first
        with session_scope(ctx.db_url) as s:
            item = s.scalars(select(WorkItem).where(WorkItem.document_id == doc_id)).one()
            return item.id
    if ack is not None and ctx.settings.smtp_url:
        deliver_email(ctx.db_url, ack, ctx.outbound)  # not delivered now: the scheduler tries again
    return item_id


def _acknowledge(ctx: Context, s: Session, item: WorkItem, now: datetime) -> str | None:
    """The acknowledgement of receipt the policy asks for, queued in the routing transaction; the id of an
    e-mailed one (sent after the commit). A letter it cannot make is recorded, never a failed routing."""
    try:
        with s.begin_nested():
            letter = acknowledge_routed(s, item, now, ctx.outbound)
    except MailroomError as exc:
        log.warning("work item %s: no acknowledgement of receipt: %s", item.id, exc.reason)
        record(s, "system", "outbound.acknowledgement_failed", document_id=item.document_id,
               work_item_id=item.id, detail={"error": exc.reason[:300]})
        return None
    return letter.id if letter is not None and letter.channel == "email" else None


def _finish_envelope(s: Session, envelope_id: str) -> None:
    s.flush()
    env = s.get(Envelope, envelope_id)
    if env is not None and env.state == EnvelopeState.RECEIVED and all(
        d.state == DocumentState.ROUTED for d in env.documents
    ):
        env.state = EnvelopeState.PROCESSED
        record(s, "system", "envelope.processed", envelope_id=envelope_id,
               detail={"documents": len(env.documents)})


def run_inline(ctx: Context, envelope_id: str) -> list[str]:
    """The whole recipe in this process (``mailroom process``)."""
    ids = run_read(ctx, envelope_id)
    for doc_id in ids:
        run_route(ctx, doc_id)
    return ids
