"""Pages of files read ahead in a pool of processes, for ``mailroom process --jobs N``.

The pool forks as soon as the command starts, with nothing loaded but the OCR engine's models. Its
processes recognise the pages of the first files while the command migrates the database, compiles the
entity patterns, loads the category model and the lemma dictionaries, and then runs the pipeline file by
file. Before, all of that (about 3 s) came first, on one core, and the pool only started after it.

``extract()`` takes a file's pages from here when they were read ahead (the same bytes, read with the default
preparation); anything else it reads itself. A page that fails in the pool raises what ``extract()`` would
have raised in this process. If a pool process dies, the pool is given up and every file not yet taken is read
in this process instead.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ground.errors import MailroomError
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
        load_ocr_models(settings)
        # forked before this process starts any thread of its own (the pool's manager thread starts after it)
        self._pool = ProcessPoolExecutor(max(1, workers), mp_context=mp.get_context("fork"),
                                         initializer=_one_thread)
        self._pending: dict[str, list[Future[PageText]]] = {}
        self.broken = False

    def submit(self, data: bytes) -> str | None:
        """Queue every page of a PDF or image file and return its key (for :meth:`discard`); None for anything
        else (an e-mail, text) or a file that ``extract()`` will refuse (too many pages, unreadable): that is
        said when it is read."""
        if self.broken:
            return None
        try:
            kind = sniff_type(data)
            if kind not in (PDF, *IMAGE_TYPES):
                return None
            pages = page_count(data, kind, self.settings)
        except Exception:  # noqa: BLE001 - not read ahead: extract() reads it again here and says what is wrong
            return None
        if pages > self.settings.max_pages:
            return None
        key = hashlib.sha256(data).hexdigest()
        if key not in self._pending:
            prep = Prep()
            try:
                self._pending[key] = [self._pool.submit(one_page, (data, kind, index, self.settings, prep))
                                      for index in range(pages)]
            except BrokenProcessPool:
                self.broken = True
                return None
        return key

    def discard(self, key: str) -> None:
        """Forget pages nobody took (the file was a duplicate): those not started yet are not read at all."""
        for future in self._pending.pop(key, []):
            future.cancel()

    def take(self, data: bytes) -> list[PageText] | None:
        """The pages of ``data`` when they were submitted (waiting for them), else None."""
        futures = self._pending.pop(hashlib.sha256(data).hexdigest(), None)
        if futures is None:
            return None
        try:
            return [f.result() for f in futures]
        except BrokenProcessPool:  # a pool process died (killed, out of memory): read here from now on
            self.broken = True
            return None

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
