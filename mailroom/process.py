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
from ground.settings import Settings, get_settings
from mailroom.contract import document_line, error_line
from ocr.ahead import ReadAhead, load_ocr_models
from ocr.extract import forget_pages_ahead
from pipeline.context import Context, get_context
from pipeline.runner import run_inline
from storage.db import get_engine, session_scope
from storage.models import Envelope, EnvelopeState


def _read(path: Path, settings: Settings) -> bytes:
    """The file's bytes; TooLarge above the upload limit (not read), OSError when it cannot be read."""
    if path.stat().st_size > settings.max_upload_bytes:
        raise TooLarge(f"{path.name} is larger than {settings.max_upload_bytes} bytes; split it.")
    return path.read_bytes()


def process_path(ctx: Context, source: str, now: datetime | None = None, data: bytes | None = None
                 ) -> Iterator[dict[str, Any]]:
    """Contract lines for one input file (``data``: its bytes, already read); a failure yields one error line
    (and is quarantined)."""
    path = Path(source)
    try:
        data = data if data is not None else _read(path, ctx.settings)
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
_AHEAD = 4  # files queued per process beyond the one being read: no process waits for a slow file ahead of it


def _init_worker(settings: Settings) -> None:
    """A pool process: one tesseract thread, its own context (the parent migrated the database already)."""
    global _worker_ctx
    os.environ["OMP_THREAD_LIMIT"] = "1"
    forget_pages_ahead()  # forked while the parent reads pages ahead: those are the parent's
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
    """Load what every file needs and a forked process would otherwise load for its first file: the category
    model and the language and entity resources (≈ 1 s), the lemmatisers' dictionaries (≈ 0.6 s), the routing
    rules, SLA policies and reply policy, and the persistent OCR engine's models (≈ 0.4 s). Processes forked
    afterwards inherit them (copy-on-write: shared memory, loaded once instead of once per process). Loading
    starts no thread (the tesserocr wheel's tesseract has no OpenMP, and a model load runs no parallel region);
    the caller empties the database connection pool before it forks."""
    import classifiers
    from pipeline import models
    from storage import lemmas

    models.refresh(ctx)
    classifiers.classify("Szanowni Państwo, proszę o kopię faktury nr FV/2024/11/0042. Z poważaniem")
    _ = ctx.rules, ctx.policies, ctx.reply_policy  # the reply policy compiles its templates (≈ 0.2 s)
    lemmas.warm_up()
    load_ocr_models(ctx.settings)


def _file_bytes(source: str, settings: Settings) -> bytes | None:
    """The file's bytes to read its pages ahead; None when process_path will refuse it (it says why)."""
    try:
        return _read(Path(source), settings)
    except (OSError, TooLarge):
        return None


class _Spread:
    """The files of one ``process_paths`` run and where each is read.

    A PDF or an image has its pages recognised by the read-ahead pool (ocr.ahead) and then goes through the
    pipeline in this process, in input order, taking its pages from there. Anything else (an e-mail, a text
    file) goes through the whole pipeline in a second pool, forked after this process has loaded what the
    pipeline needs, so its processes share it."""

    def __init__(self, sources: Sequence[str], jobs: int, ahead: ReadAhead) -> None:
        self.sources, self.jobs, self.ahead = sources, jobs, ahead
        self.window = _AHEAD * jobs
        self.queued = 0  # files of ``sources`` handed to a pool (or kept for this process) so far
        self.waiting: list[int] = []  # to be read whole in the file pool, once there is a context
        self.keys: dict[int, str] = {}  # files whose pages are read ahead: their keys in the read-ahead
        self.data: dict[int, bytes] = {}  # and their bytes, read once
        self.whole: dict[int, Future[list[dict[str, Any]]]] = {}
        self.pool: ProcessPoolExecutor | None = None
        self.ctx: Context | None = None
        self.warm = False

    def top_up(self, i: int) -> None:
        """Queue files up to ``window`` beyond file ``i`` (always file ``i`` itself)."""
        while self.queued < len(self.sources) and self.queued <= i + self.window:
            index, self.queued = self.queued, self.queued + 1
            data = _file_bytes(self.sources[index], self.ahead.settings)
            key = self.ahead.submit(data) if data is not None else None
            if key is not None:
                self.keys[index], self.data[index] = key, data
            if data is None or key is not None:
                continue  # read here: its pages are read ahead, or process_path says why it cannot be read
            if len(self.sources) > 1:
                self.waiting.append(index)
        if self.ctx is not None:  # the file pool needs the context: files queued before it wait for it
            for index in self.waiting:
                self.whole[index] = self._file_pool().submit(_lines_of, self.sources[index])
            self.waiting.clear()

    def warm_up(self) -> None:
        if not self.warm and self.ctx is not None:
            warm_up(self.ctx)
            self.warm = True

    def _file_pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            assert self.ctx is not None
            self.warm_up()
            get_engine(self.ctx.db_url).dispose()  # no connection crosses the fork
            workers = min(self.jobs, len(self.sources))
            settings = self.ctx.settings.model_copy(update={"ocr_workers": max(1, self.jobs // len(self.sources))})
            self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork"),
                                            initializer=_init_worker, initargs=(settings,))
        return self.pool

    def run(self, ctx: Context) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        self.ctx = ctx
        try:
            for i, source in enumerate(self.sources):
                self.top_up(i)
                future = self.whole.pop(i, None)
                if future is not None:
                    yield source, future.result()
                    continue
                if len(self.sources) == 1:  # a lone file: its pages (an e-mail's attachments') in jobs processes,
                    ctx.settings.ocr_workers = max(ctx.settings.ocr_workers, self.jobs)
                else:  # and nothing to load ahead for processes that share it: each resource loads when needed
                    self.warm_up()
                lines = list(process_path(ctx, source, data=self.data.pop(i, None)))
                key = self.keys.pop(i, None)
                if key is not None:
                    self.ahead.discard(key)  # not taken: a duplicate of a file read before (no OCR wasted on it)
                yield source, lines
        finally:
            if self.pool is not None:  # stopped early (an error, Ctrl-C): the queue is dropped
                self.pool.shutdown(wait=True, cancel_futures=True)


def process_paths(ctx: Context, sources: Sequence[str], jobs: int = 1, ahead: ReadAhead | None = None
                  ) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """``(source, lines)`` for every input, in the order of the inputs, read by up to ``jobs`` processes.

    With ``jobs`` > 1 the pages of PDFs and images are recognised in ``jobs`` processes (``ahead``, or a
    read-ahead pool of this call's own) while this process runs the pipeline on the files before them, and
    other files (e-mails) are read whole in ``jobs`` processes (see :class:`_Spread`). At most ``_AHEAD`` ×
    ``jobs`` files are queued beyond the one being yielded, so memory is bounded by ``jobs``; results are
    yielded as soon as the next one in input order is ready.
    """
    jobs = max(1, jobs)
    if jobs == 1:
        for source in sources:
            yield source, list(process_path(ctx, source))
        return
    if ahead is None:
        with ReadAhead(ctx.settings, jobs) as own:
            yield from process_paths(ctx, sources, jobs, own)
        return
    yield from _Spread(sources, jobs, ahead).run(ctx)


def process_files(sources: Sequence[str], jobs: int, settings: Settings | None = None
                  ) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """:func:`process_paths` for the command line: the OCR processes fork and the first files' pages are
    queued before the context is made (migrations, entity patterns) and the pipeline's resources load."""
    settings = settings or get_settings()
    jobs = max(1, jobs)
    if jobs == 1:
        yield from process_paths(get_context(settings), sources, 1)
        return
    with ReadAhead(settings, jobs) as ahead:
        spread = _Spread(sources, jobs, ahead)
        spread.top_up(0)  # PDFs and images only: the others wait for the context (the file pool starts in run)
        yield from spread.run(get_context(settings))
