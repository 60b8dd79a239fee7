"""OCR engines behind one small interface, so a second engine is an addition, not an edit."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Protocol, runtime_checkable

import pytesseract
from PIL import Image

from mailroom.errors import ConfigError

# Tesseract's OpenMP threads fight each other when several workers OCR at once; one thread per
# process is faster overall. Set before any tesseract subprocess starts; an operator's value wins.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")


class OcrTimeout(TimeoutError):
    """The engine did not finish a page within its time budget."""


class OcrFailed(RuntimeError):
    """The engine could not read this page (the page, not the configuration, is at fault)."""


@runtime_checkable
class OcrEngine(Protocol):
    def read(self, image: Image.Image, languages: str, timeout: float) -> str:
        """Text of one page image. Raise OcrTimeout past ``timeout`` seconds, OcrFailed if unreadable."""
        ...


class TesseractEngine:
    """Tesseract 5 through pytesseract: one subprocess per page, killed at the timeout."""

    name = "tesseract"

    def __init__(self, psm: int = 3) -> None:
        self.psm = psm

    def read(self, image: Image.Image, languages: str, timeout: float) -> str:
        _check_languages(languages)
        config = f"--psm {self.psm}"
        dpi = image.info.get("dpi")
        if dpi:
            config += f" --dpi {round(float(dpi[0]))}"
        try:
            return pytesseract.image_to_string(image, lang=languages, timeout=timeout, config=config)
        except RuntimeError as exc:
            # pytesseract signals its own timeout (after killing tesseract) with a bare RuntimeError;
            # TesseractError is a RuntimeError too.
            if isinstance(exc, pytesseract.TesseractError):
                raise OcrFailed(f"tesseract failed: {exc.message.strip()[:300]}") from exc
            if "timeout" in str(exc).lower():
                raise OcrTimeout(f"tesseract took longer than {timeout:g} s") from exc
            raise


@lru_cache(maxsize=16)
def _check_languages(languages: str) -> None:
    """Fail once, clearly, when tesseract or a language's data is missing (a setup problem, not a page one)."""
    try:
        installed = set(pytesseract.get_languages(config=""))
    except pytesseract.TesseractNotFoundError as exc:
        raise ConfigError("tesseract is not installed or not on PATH; install tesseract-ocr 5.") from exc
    missing = [lang for lang in languages.split("+") if lang not in installed]
    if missing:
        raise ConfigError(
            f"tesseract has no language data for {', '.join(missing)} "
            f"(installed: {', '.join(sorted(installed))}); install tesseract-ocr-{missing[0]} "
            "or change MAILROOM_OCR_LANGUAGES."
        )


def read_with_deadline(engine: OcrEngine, image: Image.Image, languages: str, timeout: float) -> str:
    """Call ``engine.read`` but never wait much past ``timeout``, even if the engine ignores it.

    A well-behaved engine stops itself; one that hangs is left on a daemon thread and the page
    counts as timed out, so the worker carries on with the rest of the document.
    """
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["text"] = engine.read(image, languages, timeout)
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    label = getattr(engine, "name", type(engine).__name__)
    thread = threading.Thread(target=run, name=f"ocr-{label}", daemon=True)
    thread.start()
    thread.join(timeout + min(5.0, 0.1 * timeout + 0.5))
    if thread.is_alive():
        raise OcrTimeout(f"{label} did not return within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return str(outcome.get("text", ""))


BUILTIN_ENGINES: dict[str, type] = {"tesseract": TesseractEngine}
ENTRY_POINT_GROUP = "mailroom.ocr_engines"


def load_engine(name: str = "tesseract") -> OcrEngine:
    """An engine by name: a built-in, or one a package registers under the entry point group above."""
    from importlib.metadata import entry_points

    if name in BUILTIN_ENGINES:
        return BUILTIN_ENGINES[name]()
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == name:
            return entry.load()()
    known = sorted(set(BUILTIN_ENGINES) | {e.name for e in entry_points(group=ENTRY_POINT_GROUP)})
    raise ConfigError(f"Unknown OCR engine {name!r}; known engines: {', '.join(known)}.")
