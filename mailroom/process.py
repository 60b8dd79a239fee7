"""``mailroom process``: the whole pipeline inline on files, one result per document."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from channels.receive import receive
from ground.errors import MailroomError, TooLarge
from ground.settings import Settings
from mailroom.contract import document_line, error_line
from pipeline.context import Context, get_context
from pipeline.runner import run_inline
from storage.db import get_engine, session_scope
from storage.models import Envelope, EnvelopeState


def process_path(ctx: Context, source: str, now: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Contract lines for one input file; a failure yields one error line (and is quarantined)."""
    path = Path(source)
    try:
        if path.stat().st_size > ctx.settings.max_upload_bytes:
            raise TooLarge(f"{path.name} is larger than {ctx.settings.max_upload_bytes} bytes; split it.")
        data = path.read_bytes()
    except OSError as exc:
        yield error_line(source, f"The file cannot be read ({exc.strerror}); check the path and permissions.")
        return
    except MailroomError as exc:
        yield error_line(source, exc.reason)
        return
    got = receive(ctx, data, path.name, now or datetime.now(UTC), submitted_by="cli", meta={"source": source})
    env_id = got.envelope_id
    if got.ok:
        run_inline(ctx, env_id)  # new, or a re-run of an earlier one: every step is idempotent
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, env_id)
        assert env is not None
        if env.state in (EnvelopeState.QUARANTINED, EnvelopeState.NEEDS_HUMAN):
            yield error_line(source, env.error or "quarantined", env.id)
            return
        for doc in sorted(env.documents, key=lambda d: (d.part_index, d.doc_index)):
            yield document_line(source, env, doc, ctx.settings.timezone)


# ---------------------------------------------------------------- several files at once (--jobs)

_worker_ctx: Context | None = None


def _init_worker(settings: Settings) -> None:
    """A pool process: one tesseract thread, its own context (the parent migrated the database already)."""
    global _worker_ctx
    os.environ["OMP_THREAD_LIMIT"] = "1"
    _worker_ctx = get_context(settings)


def _lines_of(source: str) -> list[dict[str, Any]]:
    assert _worker_ctx is not None
    return list(process_path(_worker_ctx, source))


def default_jobs() -> int:
    """Every core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def process_paths(ctx: Context, sources: Sequence[str], jobs: int = 1) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """``(source, lines)`` for every input, in the order of the inputs, read by up to ``jobs`` processes.

    Files are spread over the processes (one tesseract thread each); a single file (or fewer files than
    processes) has its pages spread instead (``ocr_workers``). At most ``jobs`` files are read at once, so
    memory is bounded by ``jobs``; results are yielded as soon as the next one in input order is ready.
    """
    jobs = max(1, jobs)
    if jobs == 1 or len(sources) <= 1:
        if jobs > 1:
            ctx.settings.ocr_workers = max(ctx.settings.ocr_workers, jobs)  # the pages of one long file
        for source in sources:
            yield source, list(process_path(ctx, source))
        return
    settings = ctx.settings.model_copy(update={"ocr_workers": max(1, jobs // len(sources))})
    get_engine(ctx.db_url).dispose()  # no connection crosses the fork
    with ProcessPoolExecutor(max_workers=min(jobs, len(sources)), mp_context=mp.get_context("fork"),
                             initializer=_init_worker, initargs=(settings,)) as pool:
        pending = [pool.submit(_lines_of, source) for source in sources[:jobs]]
        for i, source in enumerate(sources):
            lines = pending[i].result()
            if i + jobs < len(sources):  # keep ``jobs`` files in flight, no more
                pending.append(pool.submit(_lines_of, sources[i + jobs]))
            yield source, lines
