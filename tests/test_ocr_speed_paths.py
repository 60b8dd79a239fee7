"""The speed paths of ``mailroom process --jobs N`` (issue 20) keep what they must: models loaded before the fork
read in the forked processes exactly as in the parent, and results come in input order though big files start
first."""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image

from mailroom import process
from ocr import extract
from ocr.engine import TesserocrEngine
from tests.test_ocr import png
from tests.test_ocr_prepare import SETTINGS, cer, letter_page

_forked_engine: TesserocrEngine | None = None


def _read_in_child(lang: str) -> str:
    assert _forked_engine is not None
    image, _ = letter_page(lang)
    return extract(png(image), "image/png", settings=SETTINGS, engine=_forked_engine).text


def test_models_loaded_before_the_fork_read_the_same_in_the_forked_processes() -> None:
    """``mailroom process --jobs N`` loads tesseract's models once, in the parent, and forks: the children
    (one reading at a time each) read a Latin and a Cyrillic page as the parent does."""
    pytest.importorskip("tesserocr")
    global _forked_engine
    engine = TesserocrEngine()
    engine.load(("pol+ces+eng", "eng+rus"))
    _forked_engine = engine
    try:
        with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as pool:
            children = list(pool.map(_read_in_child, ["pl", "ru"]))
    finally:
        _forked_engine = None
    for lang, text in zip(["pl", "ru"], children, strict=True):
        image, truth = letter_page(lang)
        assert text == extract(png(image), "image/png", settings=SETTINGS, engine=engine).text
        assert cer(text, truth) < 0.03, lang


def test_a_rotated_page_is_still_read_upright_with_models_loaded_ahead() -> None:
    pytest.importorskip("tesserocr")
    engine = TesserocrEngine()
    engine.load(("pol+ces+eng", "eng+rus"))
    image, truth = letter_page("pl")
    text = extract(png(image.transpose(Image.Transpose.ROTATE_180)), "image/png", settings=SETTINGS,
                   engine=engine).text
    assert cer(text, truth) < 0.03


def _fake_lines(source: str) -> list[dict[str, Any]]:
    with open(Path(source).parent / "started", "a") as f:
        f.write(Path(source).name + "\n")
    return [{"source": source, "pid": os.getpid()}]


def test_jobs_yield_in_input_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file that is neither a PDF nor an image is read once, whole, by the file pool's processes, and
    yielded in the order given."""
    monkeypatch.setattr(process, "_lines_of", _fake_lines)
    monkeypatch.setattr(process, "warm_up", lambda ctx: None)
    monkeypatch.setattr(process, "get_context", lambda settings: SimpleNamespace(settings=settings))
    paths = []
    for i in range(30):
        path = tmp_path / f"f{i:02d}"
        path.write_bytes(b"x" * ((7 * i) % 30 + 1))
        paths.append(str(path))

    class Ctx:
        settings = SETTINGS
        db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"

    got = list(process.process_paths(Ctx(), paths, jobs=2))  # type: ignore[arg-type]
    assert [source for source, _ in got] == paths
    assert all(lines[0]["source"] == source and lines[0]["pid"] != os.getpid() for source, lines in got)
    started = (tmp_path / "started").read_text().split()
    assert sorted(started) == sorted(Path(p).name for p in paths)


def test_pages_read_ahead_are_those_extract_reads_here(tmp_path: Path) -> None:
    """``mailroom process --jobs N`` recognises the pages of PDFs and images in a pool forked at its start:
    extract() takes them from there (not reading them itself) and they are the pages it reads in-process."""
    from ocr.ahead import ReadAhead

    pl, _ = letter_page("pl")
    ru, _ = letter_page("ru")
    files = [png(pl), png(ru)]
    here = [extract(data, "image/png", settings=SETTINGS).pages for data in files]
    ahead = ReadAhead(SETTINGS, 2)
    with ahead:
        assert all(ahead.submit(data) is not None for data in files)
        assert ahead.submit(b"From: a@b.cz\nSubject: x\n\nbody\n") is None  # read whole elsewhere
        with pytest.MonkeyPatch.context() as mp_:
            def not_here(*_a: object, **_k: object) -> None:
                raise AssertionError("read in this process")
            mp_.setattr(importlib.import_module("ocr.extract"), "_raster_page", not_here)
            got = [extract(data, "image/png", settings=SETTINGS).pages for data in files]
    assert got == here
    assert [p.text for p in got[1]] and "а" in got[1][0].text.lower() + "а"


def test_a_read_ahead_pool_process_killed_loses_no_file(tmp_path: Path) -> None:
    """A pool process killed (out of memory, say) while it reads a good file: a new pool reads the file again,
    and from then on each file is read alone in it."""
    import signal

    from ocr.ahead import ReadAhead

    image, truth = letter_page("pl")
    busy = png(image.rotate(0.5, fillcolor=255))
    data = png(image)
    with ReadAhead(SETTINGS, 1) as ahead:
        assert ahead.submit(busy) is not None  # keeps the one process busy a moment
        for pid in list(ahead._pool._processes):  # noqa: SLF001 - the crash is the point of the test
            os.kill(pid, signal.SIGKILL)
        again = ahead.take(busy)
        assert again is not None and cer(again[0].text, truth) < 0.03
        assert ahead.alone
        assert ahead.submit(data) is not None and ahead._pending == {}  # noqa: SLF001 - nothing queued now
        text = extract(data, "image/png", settings=SETTINGS).text
    assert cer(text, truth) < 0.03


def _scans(folder: Path, languages: tuple[str, ...]) -> list[str]:
    """One generated letter page per language, written as PNG scans; their paths."""
    paths = []
    for i, lang in enumerate(languages):
        image, _ = letter_page(lang)
        path = folder / f"scan{i}.png"
        path.write_bytes(png(image))
        paths.append(str(path))
    return paths


_DEADLY: set[str] = set()  # SHA-256 of the files whose pages kill the OCR process (set before the pool forks)


def _dies_on_deadly_files(job: tuple[bytes, str, int, Any, Any]) -> Any:
    """ocr.extract.one_page, except that a file named in _DEADLY kills the process reading it (as a file that
    crashes tesseract or PDFium would)."""
    import hashlib

    from ocr.extract import one_page

    if hashlib.sha256(job[0]).hexdigest() in _DEADLY:
        os._exit(70)
    return one_page(job)


def test_a_file_that_kills_the_ocr_process_is_refused_and_the_others_are_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``mailroom process --jobs 2`` on three scans, the middle one crashing the OCR process each time it is read:
    it gets a clear error line, the two others their documents, and the command goes on."""
    import hashlib

    paths = _scans(tmp_path, ("pl", "en", "cs"))
    monkeypatch.setattr(importlib.import_module("ocr.ahead"), "one_page", _dies_on_deadly_files)
    monkeypatch.setattr(sys.modules[__name__], "_DEADLY", {hashlib.sha256(Path(paths[1]).read_bytes()).hexdigest()})
    ctx = process.get_context(SETTINGS.model_copy(update={"data": tmp_path / "data"}))
    got = dict(process.process_paths(ctx, paths, jobs=2))
    assert [x["language"] for x in got[paths[0]]] == ["pl"] and [x["language"] for x in got[paths[2]]] == ["cs"]
    (bad,) = got[paths[1]]
    assert "stopped the OCR process" in bad["error"]


def _workers_of(source: str) -> list[dict[str, Any]]:
    assert process._worker_ctx is not None
    return [{"source": source, "ocr_workers": process._worker_ctx.settings.ocr_workers}]


def test_fewer_files_than_jobs_spread_each_files_pages_in_the_pool_processes(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Two files with --jobs 4: each pool process reads its file's pages with 2 OCR processes, though the
    context it inherits (get_context keeps one per database) was made with the parent's settings."""
    monkeypatch.setattr(process, "_lines_of", _workers_of)
    monkeypatch.setattr(process, "warm_up", lambda ctx: None)
    paths = []
    for name in ("a", "b"):
        (tmp_path / name).write_bytes(b"x")
        paths.append(str(tmp_path / name))
    parent = SETTINGS.model_copy(update={"data": tmp_path / "data", "ocr_workers": 1})
    ctx = process.get_context(parent)
    got = list(process.process_paths(ctx, paths, jobs=4))
    assert [lines[0]["ocr_workers"] for _, lines in got] == [2, 2]
    assert ctx.settings.ocr_workers == 1  # the parent's own is left as it was


def test_files_read_before_are_not_read_ahead_in_vain(tmp_path: Path) -> None:
    """A second run over the same scans finds them all read already: every page queued for them is dropped
    (nothing is left pending, so memory stays bounded however many files a re-run names)."""
    from ocr.ahead import ReadAhead

    paths = _scans(tmp_path, ("pl", "cs", "en"))
    ctx = process.get_context(SETTINGS.model_copy(update={"data": tmp_path / "data"}))
    first = [lines for _, lines in process.process_paths(ctx, paths, jobs=2)]
    with ReadAhead(ctx.settings, 2) as ahead:
        again = [lines for _, lines in process.process_paths(ctx, paths, jobs=2, ahead=ahead)]
        assert ahead._pending == {}  # noqa: SLF001 - what the test is about
    assert [[x["document_id"] for x in lines] for lines in again] == [[x["document_id"] for x in lines]
                                                                      for lines in first]
    assert all("error" not in x for lines in first for x in lines)
