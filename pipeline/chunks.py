"""A long file read as page chunks that any worker can take.

Read in one job, a 500-page scan holds one worker for ten minutes or more, can outlive the job
timeout and is read again from page 1 after a crash. Instead, ``run_read`` (in a worker) plans the
file as chunks of ``settings.ocr_chunk_pages`` pages, one ``read_chunks`` row each; each chunk is a
job on the pages queue, which workers serve only when the main queue is empty, so letters arriving
meanwhile are not held behind the scan. A chunk's pages are stored with its row; the job that
stores the last one makes the documents from all pages in page order, exactly as a one-job read
would (separator sheets may fall anywhere), and deletes the rows in the same commit.

These functions only keep the plan; the reading is ``pipeline.runner.run_chunk``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import ocr
from ground.records import PageText, Part
from ground.settings import Settings
from ocr.sniff import PDF, TEXT, TIFF, sniff_type
from pipeline.context import Context
from storage.db import session_scope
from storage.models import ReadChunk


@dataclass(frozen=True)
class Chunk:
    part_index: int
    first_page: int  # 0-based
    stop_page: int  # 0-based, exclusive


def page_counts(parts: list[Part], settings: Settings) -> list[int]:
    """Pages of each part: PDFs and TIFFs counted without decoding a page, anything else 1.

    A damaged PDF raises what reading it would (CorruptInput, EncryptedPdf, TooLarge). A TIFF that cannot
    be counted, or has more pages than allowed, counts 1: the one-job read then decodes it in its isolated
    child and says what is wrong (ocr.pages)."""
    counts = []
    for part in parts:
        kind = sniff_type(part.data) if part.content_type != TEXT else TEXT
        if kind == PDF:
            counts.append(ocr.page_count(part.data, kind, settings))
        elif kind == TIFF:
            counts.append(_tiff_pages(part.data, settings))
        else:
            counts.append(1)
    return counts


def _tiff_pages(data: bytes, settings: Settings) -> int:
    try:
        frames = ocr.page_count(data, TIFF, settings)
    except Exception:  # noqa: BLE001 - Pillow answers a hostile TIFF with many error types; see above
        return 1
    return frames if 0 < frames <= settings.max_pages else 1


def split(counts: list[int], size: int) -> list[Chunk]:
    """Chunks of at most ``size`` pages; a part of up to ``size`` pages is one chunk."""
    return [Chunk(part_index, first, min(first + size, count))
            for part_index, count in enumerate(counts) for first in range(0, max(count, 1), size)]


def plan(ctx: Context, envelope_id: str, parts: list[Part], size: int) -> bool:
    """Plan the envelope as chunks when one of its parts has more than ``size`` pages; True if planned.

    Raises what page counting raises for a damaged file (CorruptInput, EncryptedPdf, TooLarge)."""
    counts = page_counts(parts, ctx.settings)
    if max(counts, default=0) <= size:
        return False
    try:
        with session_scope(ctx.db_url) as s:
            s.add_all(ReadChunk(envelope_id=envelope_id, part_index=c.part_index, first_page=c.first_page,
                                stop_page=c.stop_page) for c in split(counts, size))
    except IntegrityError:
        pass  # a concurrent read of the same envelope planned it first: the same chunks
    return True


def planned(s: Session, envelope_id: str) -> bool:
    return s.scalar(select(ReadChunk.envelope_id).where(ReadChunk.envelope_id == envelope_id).limit(1)) is not None


def _planned_chunks(s: Session, envelope_id: str) -> list[tuple[Chunk, bool]]:
    """The envelope's chunks in page order, each with whether it is read (without the pages read)."""
    rows = s.execute(select(ReadChunk.part_index, ReadChunk.first_page, ReadChunk.stop_page, ReadChunk.done)
                     .where(ReadChunk.envelope_id == envelope_id)
                     .order_by(ReadChunk.part_index, ReadChunk.first_page)).all()
    return [(Chunk(r.part_index, r.first_page, r.stop_page), r.done) for r in rows]


def pending(ctx: Context, envelope_id: str) -> list[Chunk] | None:
    """The chunks of the envelope not read yet ([] when all are), or None when it is not read in chunks."""
    with session_scope(ctx.db_url) as s:
        plan = _planned_chunks(s, envelope_id)
    return [chunk for chunk, done in plan if not done] if plan else None


def progress(s: Session, envelope_id: str) -> dict[str, int] | None:
    """Chunks and pages read so far (batch status), or None when the envelope is not being read in chunks."""
    plan = _planned_chunks(s, envelope_id)
    if not plan:
        return None
    return {"chunks": len(plan), "chunks_done": sum(done for _, done in plan),
            "pages_read": sum(c.stop_page - c.first_page for c, done in plan if done),
            "pages_total": sum(c.stop_page - c.first_page for c, _ in plan)}


def pages_read(s: Session, envelope_id: str) -> dict[int, list[PageText]] | None:
    """Every page read, per part in page order; None unless the envelope is planned and every chunk is done."""
    plan = _planned_chunks(s, envelope_id)
    if not plan or not all(done for _, done in plan):
        return None
    pages: dict[int, list[PageText]] = {}
    for part_index, stored in s.execute(select(ReadChunk.part_index, ReadChunk.pages)
                                        .where(ReadChunk.envelope_id == envelope_id)
                                        .order_by(ReadChunk.part_index, ReadChunk.first_page)):
        pages.setdefault(part_index, []).extend(PageText(**p) for p in stored)
    return pages


def store(row: ReadChunk, pages: list[PageText]) -> None:
    row.pages = [asdict(p) for p in pages]
    row.done = True


def forget(s: Session, envelope_id: str) -> None:
    """Delete the envelope's chunk rows (its documents are made, or it is quarantined)."""
    s.execute(delete(ReadChunk).where(ReadChunk.envelope_id == envelope_id))
