"""OCR engines behind one small interface, so a second engine is an addition, not an edit."""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol, runtime_checkable

import numpy as np
import pytesseract
from PIL import Image

from ground.errors import ConfigError

# Tesseract's OpenMP threads fight each other when several workers OCR at once; one thread per
# process is faster overall. Set before any tesseract subprocess starts; an operator's value wins.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")


class OcrTimeout(TimeoutError):
    """The engine did not finish a page within its time budget."""


class OcrFailed(RuntimeError):
    """The engine could not read this page (the page, not the configuration, is at fault)."""


@dataclass
class Reading:
    text: str
    confidence: float | None = None  # mean word confidence 0..100, None if the engine gives none
    words: list[Word] | None = None  # word boxes, only when asked for (searchable PDF text layer)


@dataclass(frozen=True)
class Word:
    text: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the pixels of the image read
    line: tuple[int, int, int, int]  # the box of the word's text line (its baseline height for the PDF layer)


@dataclass(frozen=True)
class Orientation:
    """Tesseract's orientation and script detection (OSD) of an image."""

    degrees: int  # counter-clockwise turn that makes the text upright: 0, 90, 180 or 270
    confidence: float  # tesseract's orientation confidence (≥ 2 is a clear decision on text lines)
    script: str  # "Latin", "Cyrillic", …
    script_confidence: float = 0.0  # tesseract's script confidence (≥ 1: never wrong on the bench pages)


@runtime_checkable
class OcrEngine(Protocol):
    def read(self, image: Image.Image, languages: str, timeout: float) -> str:
        """Text of one page image. Raise OcrTimeout past ``timeout`` seconds, OcrFailed if unreadable."""
        ...


def read_page(engine: OcrEngine, image: Image.Image, languages: str, timeout: float, psm: int | None = None
              ) -> Reading:
    """Text and mean word confidence: engines with ``read_page`` give both, plain ``read`` engines text only."""
    reader = getattr(engine, "read_page", None)
    if reader is not None:
        return reader(image, languages, timeout, psm=psm)
    return Reading(engine.read(image, languages, timeout))


def _dpi(image: Image.Image) -> int | None:
    dpi = image.info.get("dpi")
    try:
        return round(float(dpi[0])) if dpi else None
    except (TypeError, ValueError, IndexError):
        return None


class TesseractEngine:
    """Tesseract 5 CLI through pytesseract: one subprocess per page, killed at the timeout.

    The page goes to tesseract as an uncompressed BMP file: handed a PIL image, pytesseract would
    PNG-encode it first, which costs nearly as much as the OCR itself.
    """

    name = "tesseract"

    def __init__(self, psm: int = 3) -> None:
        self.psm = psm

    def read(self, image: Image.Image, languages: str, timeout: float) -> str:
        return self.read_page(image, languages, timeout).text

    def read_page(self, image: Image.Image, languages: str, timeout: float, psm: int | None = None) -> Reading:
        _check_languages(languages)
        config = f"--psm {psm or self.psm}"
        dpi = _dpi(image)
        if dpi:
            config += f" --dpi {dpi}"
        try:
            with tempfile.NamedTemporaryFile(suffix=".bmp") as tmp:
                image.save(tmp.name, format="BMP")
                return Reading(pytesseract.image_to_string(tmp.name, lang=languages, timeout=timeout, config=config))
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


class TesserocrEngine:
    """Tesseract's library in-process through tesserocr: no process start, no model reload, no encode.

    One API object per language list, kept for the life of the process (a worker OCRs one page at a
    time). Recognition releases the GIL and honours the timeout itself.
    """

    name = "tesserocr"
    word_boxes = True  # read_page(..., words=True) gives word boxes (for the searchable PDF text layer)

    # OSD classifies 5 × this many characters in each of four orientations (tesseract's default is 50), about
    # 1.3 ms each: 10 costs 0.05 s a page instead of 0.10 s with 20, and still decided 0 vs 180° and the
    # script right on all 105 raster pages of three bench seeds (its confidences are lower: see ocr.extract).
    OSD_CHARACTERS = 10

    def __init__(self, psm: int = 3, tessdata: str | None = None) -> None:
        import tesserocr

        self._tesserocr = tesserocr
        self.psm = psm
        self.tessdata = tessdata or _tessdata_dir()
        self._apis: dict[tuple[str, int], object] = {}
        self._lock = threading.Lock()

    def load(self, languages: list[str] | tuple[str, ...]) -> None:
        """Load the models for these language lists (and OSD's) now rather than at the first page that needs
        them: before a process forks its workers, so that they share the models instead of each loading them."""
        with self._lock:
            self._osd_api()
            for langs in languages:
                self._api(langs, self.psm)

    def _osd_api(self) -> object:
        api = self._apis.get(("osd", -1))
        if api is None:
            try:
                api = self._tesserocr.PyTessBaseAPI(path=self.tessdata, lang="osd", psm=self._tesserocr.PSM.OSD_ONLY)
            except RuntimeError as exc:
                raise ConfigError(f"tesserocr cannot load osd from {self.tessdata}: {exc}; "
                                  "install tesseract-ocr-osd.") from exc
            api.SetVariable("min_characters_to_try", str(self.OSD_CHARACTERS))  # type: ignore[attr-defined]
            self._apis[("osd", -1)] = api
        return api

    def orientation(self, gray: np.ndarray, dpi: int) -> Orientation | None:
        """OSD of a grayscale image (best a strip of a few text lines: the cost is per character tried);
        None when tesseract finds too little text to tell."""
        arr = np.ascontiguousarray(gray, dtype=np.uint8)
        with self._lock:
            api = self._osd_api()
            api.SetImageBytes(arr.tobytes(), arr.shape[1], arr.shape[0], 1, arr.shape[1])  # type: ignore[attr-defined]
            api.SetSourceResolution(dpi)  # type: ignore[attr-defined]
            found = api.DetectOrientationScript()  # type: ignore[attr-defined]
            api.Clear()  # type: ignore[attr-defined]
        if not found:
            return None
        return Orientation(int(found["orient_deg"]), float(found["orient_conf"]), str(found["script_name"]),
                           float(found["script_conf"]))

    def _api(self, languages: str, psm: int) -> object:
        key = (languages, psm)
        api = self._apis.get(key)
        if api is None:
            _check_languages(languages)
            try:
                api = self._tesserocr.PyTessBaseAPI(path=self.tessdata, lang=languages, psm=psm)
            except RuntimeError as exc:
                raise ConfigError(f"tesserocr cannot load {languages!r} from {self.tessdata}: {exc}") from exc
            self._apis[key] = api
        return api

    def read(self, image: Image.Image, languages: str, timeout: float) -> str:
        return self.read_page(image, languages, timeout).text

    def read_page(self, image: Image.Image, languages: str, timeout: float, psm: int | None = None,
                  words: bool = False) -> Reading:
        """Text and mean word confidence of one recognition; with ``words`` also the word boxes."""
        gray = image if image.mode == "L" else image.convert("L")
        return self.read_gray(np.asarray(gray), _dpi(image) or 300, languages, timeout, psm=psm, words=words)

    def read_gray(self, gray: np.ndarray, dpi: int, languages: str, timeout: float, psm: int | None = None,
                  words: bool = False) -> Reading:
        """read_page for a grayscale array (saves converting a page image to an array, ≈ 4 ms at 300 dpi)."""
        with self._lock:
            api = self._api(languages, psm or self.psm)
            arr = np.ascontiguousarray(gray, dtype=np.uint8)
            api.SetImageBytes(arr.tobytes(), arr.shape[1], arr.shape[0], 1, arr.shape[1])  # type: ignore[attr-defined]
            api.SetSourceResolution(dpi)  # type: ignore[attr-defined]
            if not api.Recognize(timeout=max(1, int(timeout * 1000))):  # type: ignore[attr-defined]
                api.Clear()  # type: ignore[attr-defined]
                raise OcrTimeout(f"tesseract took longer than {timeout:g} s")
            text = api.GetUTF8Text()  # type: ignore[attr-defined]
            confidences = [c for c in api.AllWordConfidences() if c >= 0]  # type: ignore[attr-defined]
            boxes = self._words(api) if words else None
            api.Clear()  # type: ignore[attr-defined]
        return Reading(text, sum(confidences) / len(confidences) if confidences else None, boxes)

    def _words(self, api: object) -> list[Word]:
        level = self._tesserocr.RIL
        out: list[Word] = []
        it = api.GetIterator()  # type: ignore[attr-defined]
        if it is None:
            return out
        line: tuple[int, int, int, int] = (0, 0, 0, 0)
        while True:
            if it.IsAtBeginningOf(level.TEXTLINE):
                line = it.BoundingBox(level.TEXTLINE) or line
            word = it.GetUTF8Text(level.WORD)
            box = it.BoundingBox(level.WORD)
            if word and word.strip() and box:
                out.append(Word(word.strip(), box, line))
            if not it.Next(level.WORD):
                return out


@lru_cache(maxsize=1)
def _tessdata_dir() -> str:
    """The system tessdata directory, as the tesseract CLI reports it (tesserocr's bundled library has none)."""
    from pathlib import Path

    prefix = os.environ.get("TESSDATA_PREFIX")
    candidates = [Path(prefix)] if prefix else []
    candidates += [Path("/usr/share/tesseract-ocr/5/tessdata"), Path("/usr/share/tesseract-ocr/4.00/tessdata"),
                   Path("/usr/share/tessdata"), Path("/usr/local/share/tessdata")]
    for path in candidates:
        if (path / "eng.traineddata").exists() or (path / "osd.traineddata").exists():
            return str(path) + "/"
    raise ConfigError("No tessdata directory with traineddata files found; install tesseract-ocr-eng "
                      "or set TESSDATA_PREFIX.")


BUILTIN_ENGINES: dict[str, type] = {"tesseract": TesseractEngine, "tesserocr": TesserocrEngine}
ENTRY_POINT_GROUP = "mailroom.ocr_engines"


def load_engine(name: str = "tesseract") -> OcrEngine:
    """An engine by name: a built-in, or one a package registers under the entry point group above."""
    from importlib.metadata import entry_points

    if name == "auto":
        try:
            return TesserocrEngine()
        except ImportError:
            return TesseractEngine()
    if name in BUILTIN_ENGINES:
        try:
            return BUILTIN_ENGINES[name]()
        except ImportError as exc:
            raise ConfigError(f"OCR engine {name!r} needs a package that is not installed: {exc}") from exc
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == name:
            return entry.load()()
    known = sorted(set(BUILTIN_ENGINES) | {e.name for e in entry_points(group=ENTRY_POINT_GROUP)})
    raise ConfigError(f"Unknown OCR engine {name!r}; known engines: {', '.join(known)}.")
