"""Pages of files read ahead in a pool of processes, for ``mailroom process --jobs N``.

The pool forks as soon as the command has a PDF or image for it, with nothing loaded but the OCR engine's
models (loaded then, so a run of e-mails alone neither loads them nor forks). Its
processes recognise the pages of the first files while the command migrates the database, compiles the
entity patterns, loads the category model and the lemma dictionaries, and then runs the pipeline file by
file. Before, all of that (about 3 s) came first, on one core, and the pool only started after it.

``extract()`` takes a file's pages from here when they were read ahead (the same bytes, read with the default
preparation); anything else it reads itself. A page that fails in the pool raises what ``extract()`` would
have raised in this process. If a pool process dies (a file that crashes tesseract or PDFium, the kernel's
out-of-memory killer), a new pool is started and from then on each file is read alone in it, so that a crash
names its file: that file is refused with a clear error (and quarantined by the pipeline), the others are read.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ground.errors import CorruptInput, MailroomError
from ground.records import PageText
from ground.settings import Settings
from ocr.extract import default_engine, one_page, page_count, script_languages, taking_pages_from
from ocr.prepare import Prep
from ocr.sniff import IMAGE_TYPES, PDF, sniff_type


def _one_thread() -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"  # one tesseract thread per process: the processes are the parallelism


def load_ocr_models(settings: Settings) -> None:
    """Load a persistent engine's models (OSD and the languages of either script, as ocr.extract picks them)
    now, in this process, so that processes forked from it share them instead of each loading them."""
    try:
        engine = default_engine(getattr(settings, "ocr_engine", "auto"))
        load = getattr(engine, "load", None)
        if load is not None:
            configured = settings.ocr_languages
            load(tuple(dict.fromkeys(script_languages(s, configured) for s in ("Latin", "Cyrillic"))))
    except MailroomError:  # OCR not set up (an engine or a language missing): said by the first page that needs it
        pass


class ReadAhead:
    """A pool of ``workers`` OCR processes and the pages submitted to it, by the SHA-256 of the file's bytes."""

    def __init__(self, settings: Settings, workers: int) -> None:
        self.settings = settings
        self.workers = max(1, workers)
        self._models = False  # loaded at the first submit (a run of e-mails alone never needs them)
        self._pool = self._new_pool()
        self._pending: dict[str, list[Future[PageText]]] = {}
        self.alone = False  # a pool process died: each file is read alone from then on (see the module)

    def _new_pool(self) -> ProcessPoolExecutor:
        # the first is forked before this process starts any thread (its manager thread starts after the fork)
        return ProcessPoolExecutor(self.workers, mp_context=mp.get_context("fork"), initializer=_one_thread)

    def _pages(self, data: bytes) -> tuple[str, int] | None:
        """The file's kind and page count when its pages can be read here; None: extract() says what is wrong."""
        try:
            kind = sniff_type(data)
            if kind not in (PDF, *IMAGE_TYPES):
                return None
            pages = page_count(data, kind, self.settings)
        except Exception:  # noqa: BLE001 - not read ahead: extract() reads it again here and says what is wrong
            return None
        return (kind, pages) if pages <= self.settings.max_pages else None

    def _submit(self, data: bytes, kind: str, pages: int) -> list[Future[PageText]]:
        if not self._models:
            load_ocr_models(self.settings)  # before the pool forks (at its first submit): shared by its processes
            self._models = True
        prep = Prep()
        return [self._pool.submit(one_page, (data, kind, index, self.settings, prep)) for index in range(pages)]

    def submit(self, data: bytes) -> str | None:
        """Queue every page of a PDF or image file and return its key (for :meth:`discard`); None for anything
        else (an e-mail, text) or a file that ``extract()`` will refuse (too many pages, unreadable): that is
        said when it is read. Once a pool process has died nothing is queued: the file is read alone when
        :meth:`take` asks for it."""
        found = self._pages(data)
        if found is None:
            return None
        key = hashlib.sha256(data).hexdigest()
        if not self.alone and key not in self._pending:
            try:
                self._pending[key] = self._submit(data, *found)
            except BrokenProcessPool:
                self._restart()
        return key

    def discard(self, key: str) -> None:
        """Forget pages nobody took (the file was a duplicate): those not started yet are not read at all."""
        for future in self._pending.pop(key, []):
            future.cancel()

    def take(self, data: bytes) -> list[PageText] | None:
        """The pages of ``data`` when they were submitted (waiting for them), else None; once a pool process has
        died, every PDF or image is read alone in the pool. Raises CorruptInput for a file that kills it."""
        futures = self._pending.pop(hashlib.sha256(data).hexdigest(), None)
        if futures is not None:
            try:
                return [f.result() for f in futures]
            except BrokenProcessPool:  # this file, or another one read at the same time, killed a pool process
                self._restart()
        if not self.alone:
            return None
        found = self._pages(data)
        if found is None:
            return None
        try:
            return [f.result() for f in self._submit(data, *found)]
        except BrokenProcessPool:
            self._restart()
            raise CorruptInput("Reading this file stopped the OCR process (it died while reading a page); the "
                               "original is kept: check the file, or scan the letter again.") from None

    def _restart(self) -> None:
        """A new pool in place of a broken one; what was queued in the old one is read again when taken."""
        self.alone = True
        self._pending.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def close(self) -> None:
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ReadAhead:
        self._taking = taking_pages_from(self.take)
        self._taking.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._taking.__exit__(None, None, None)
        finally:
            self.close()
