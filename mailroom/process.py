"""``mailroom process``: the whole pipeline inline on files, one result per document."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
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
_AHEAD = 4  # files queued per process beyond the one it reads: no process waits for a slow file ahead of it


def _init_worker(settings: Settings) -> None:
    """A pool process: one tesseract thread, its own context (the parent migrated the database already)."""
    global _worker_ctx
    os.environ["OMP_THREAD_LIMIT"] = "1"
    _worker_ctx = get_context(settings)  # the parent's, with what warm_up loaded ...
    _worker_ctx.settings = settings  # ... and this pool's settings (get_context keeps the first it saw)


def _lines_of(source: str) -> list[dict[str, Any]]:
    assert _worker_ctx is not None
    return list(process_path(_worker_ctx, source))


def default_jobs() -> int:
    """Every core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def warm_up(ctx: Context) -> None:
    """Load, before the pool forks, what every process would otherwise load for its first file: the category
    model and the language and entity resources (≈ 1 s), the lemmatisers' dictionaries (≈ 0.6 s), the routing
    rules, SLA policies and reply policy, and the persistent OCR engine's models (≈ 0.4 s). The processes inherit them
    (copy-on-write: shared memory, loaded once instead of once per process). Loading starts no thread (the
    tesserocr wheel's tesseract has no OpenMP, and a model load runs no parallel region); the caller empties
    the database connection pool before it forks."""
    import classifiers
    from ocr.extract import default_engine, script_languages
    from pipeline import models
    from storage import lemmas

    models.refresh(ctx)
    classifiers.classify("Szanowni Państwo, proszę o kopię faktury nr FV/2024/11/0042. Z poważaniem")
    _ = ctx.rules, ctx.policies, ctx.reply_policy  # the reply policy compiles its templates (≈ 0.2 s)
    lemmas.warm_up()
    try:
        engine = default_engine(getattr(ctx.settings, "ocr_engine", "auto"))
        load = getattr(engine, "load", None)
        if load is not None:  # a persistent engine: the languages of either script, as ocr.extract picks them
            configured = ctx.settings.ocr_languages
            load(tuple(dict.fromkeys(script_languages(s, configured) for s in ("Latin", "Cyrillic"))))
    except MailroomError:  # OCR not set up (an engine or language missing): said by the first page that needs it
        pass


def _largest_first(sources: Sequence[str]) -> list[int]:
    """Indices of ``sources``, the biggest files first (a long file started last would run on alone at the end)."""
    def size(i: int) -> int:
        try:
            return os.stat(sources[i]).st_size
        except OSError:
            return 0

    return sorted(range(len(sources)), key=lambda i: -size(i))


def process_paths(ctx: Context, sources: Sequence[str], jobs: int = 1) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """``(source, lines)`` for every input, in the order of the inputs, read by up to ``jobs`` processes.

    Files are spread over the processes (one tesseract thread each); a single file (or fewer files than
    processes) has its pages spread instead (``ocr_workers``). At most ``jobs`` files are read at once, so
    memory is bounded by ``jobs``; the biggest files are started first, and up to ``_AHEAD`` × ``jobs`` files
    are queued, so that no process waits for a slow file ahead of it or idles at the end while one long file
    is read; results are yielded as soon as the next one in input order is ready.
    """
    jobs = max(1, jobs)
    if jobs == 1 or len(sources) <= 1:
        if jobs > 1:
            ctx.settings.ocr_workers = max(ctx.settings.ocr_workers, jobs)  # the pages of one long file
        for source in sources:
            yield source, list(process_path(ctx, source))
        return
    settings = ctx.settings.model_copy(update={"ocr_workers": max(1, jobs // len(sources))})
    warm_up(ctx)
    get_engine(ctx.db_url).dispose()  # no connection crosses the fork
    order = _largest_first(sources)
    window = _AHEAD * jobs
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(sources)), mp_context=mp.get_context("fork"),
                               initializer=_init_worker, initargs=(settings,))
    pending: dict[int, Future[list[dict[str, Any]]]] = {}
    queued = 0  # files of ``order`` submitted so far
    try:
        for i, source in enumerate(sources):
            # submit in size order; always as far as file i, and otherwise keep ``window`` files unyielded
            while queued < len(order) and (i not in pending or len(pending) < window):
                pending[order[queued]] = pool.submit(_lines_of, sources[order[queued]])
                queued += 1
            lines = pending.pop(i).result()
            yield source, lines
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # stopped early (an error, Ctrl-C): the queue is dropped
