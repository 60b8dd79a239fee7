"""The OCR stage: bytes of a PDF, image, TIFF fax or plain text in, OcrResult out.

Recipe per page: PDF text layer if usable, else render → separator? → blank? → OCR.
Pages are produced one at a time, so a long batch never holds all its images in memory.
"""

from __future__ import annotations

import io
import logging
import multiprocessing as mp
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

import numpy as np
import pdfplumber
import pypdfium2 as pdfium
from PIL import Image

from ground.errors import UnsupportedInput
from ground.records import OcrResult, PageText
from ground.settings import Settings, get_settings
from ocr import photo, prepare
from ocr.engine import OcrEngine, OcrFailed, OcrTimeout, Reading, Word, load_engine, read_page, read_with_deadline
from ocr.pages import PageImage, iter_image_pages, open_pdf, render_pdf_page
from ocr.prepare import Prep
from ocr.sniff import EMAIL, IMAGE_TYPES, OUTLOOK, PDF, TEXT, sniff_type
from ocr.triage import SEPARATOR_PAYLOADS, ink, is_separator, usable_text_layer, work_copy

log = logging.getLogger(__name__)

SEPARATOR = "separator"
OCR_TIMEOUT = "ocr-timeout"
OCR_FAILED = "ocr-failed"
LOW_CONFIDENCE = "low-confidence"
LOW_CONFIDENCE_BELOW = 60.0  # mean word confidence (0..100) under which a person should check the page
_UPRIGHT_CONFIDENCE = 70.0  # a page (or strip) read with less than this is also tried upside down

_SEPARATOR_CHECK_DPI = 150
_SCAN_COVERAGE = 0.5  # a page mostly covered by images …
_SCAN_MAX_LETTERS = 200  # … with only a little text (a fax cover line, a stamp) is a scan: OCR it


def extract(
    data: bytes,
    content_type: str,
    *,
    settings: Settings | None = None,
    engine: OcrEngine | None = None,
    prep: Prep | None = None,
    workers: int | None = None,
    pages: range | None = None,
) -> OcrResult:
    """Recognise the text of every page of one file.

    ``content_type`` is the caller's claim; for anything but text/plain the bytes decide.
    ``prep`` chooses the page preparation steps (default: the measured best, see ocr.prepare).
    ``workers`` > 1 (default settings.ocr_workers, else 1) OCRs the pages of a multi-page file in that many
    processes, one tesseract thread each; ``engine`` is then only used in this process's own pages (none).
    ``pages`` (0-based indices) reads only those pages of a PDF or TIFF: one chunk of a long file.
    Raises UnsupportedInput, CorruptInput, EncryptedPdf or TooLarge for files that cannot be read.
    """
    settings = settings or get_settings()
    prep = prep or Prep()
    declared = content_type.split(";", 1)[0].strip().lower()
    if declared == TEXT:
        return OcrResult(pages=[PageText(number=1, text=_decode_text(data, content_type), method="text")])
    kind = sniff_type(data)
    if kind == TEXT:
        return OcrResult(pages=[PageText(number=1, text=_decode_text(data, ""), method="text")])
    if kind in (EMAIL, OUTLOOK):
        raise UnsupportedInput(
            "An e-mail reached the OCR stage whole; intake must split it into body and attachments first."
        )
    if _ahead and engine is None and pages is None and prep == Prep() and kind in (PDF, *IMAGE_TYPES):
        ready = _ahead[-1](data)
        if ready is not None:
            return OcrResult(pages=ready)
    workers = workers if workers is not None else int(getattr(settings, "ocr_workers", 1))
    if workers > 1 and engine is None and kind in (PDF, *IMAGE_TYPES):
        indices = pages if pages is not None else range(page_count(data, kind, settings))
        if len(indices) > 1:
            return OcrResult(pages=_pages_in_parallel(data, kind, indices, settings, prep, workers))
    engine = engine or default_engine(getattr(settings, "ocr_engine", "auto"))
    if kind == PDF:
        return OcrResult(pages=list(_pdf_pages(data, settings, engine, prep, pages)))
    if kind in IMAGE_TYPES:
        return OcrResult(pages=[_raster_page(p, settings, engine, prep)
                                for p in iter_image_pages(data, settings, pages)])
    raise UnsupportedInput("This file is not a PDF, image, TIFF fax or e-mail; send it as one of those.")


def split_documents(result: OcrResult) -> list[OcrResult]:
    """Split a batch at separator sheets, dropping the sheets and blank pages.

    Page numbers stay those of the source file. A stretch with no non-blank page yields no document,
    so a batch of only blank pages yields an empty list.
    """
    documents: list[OcrResult] = []
    current: list[PageText] = []
    for page in result.pages:
        if SEPARATOR in page.flags:
            if current:
                documents.append(OcrResult(pages=current))
            current = []
        elif not page.blank:
            current.append(replace(page, flags=list(page.flags)))
    if current:
        documents.append(OcrResult(pages=current))
    return documents


def ocr_text(path: str | Path, *, settings: Settings | None = None, engine: OcrEngine | None = None) -> str:
    """The recognised text of a file, documents separated by a form feed (for `mailroom ocr PATH`)."""
    path = Path(path)
    data = path.read_bytes()
    result = extract(data, sniff_type(data, path.name), settings=settings, engine=engine)
    return "\n\f\n".join(doc.text for doc in split_documents(result))


# ---------------------------------------------------------------- steps


def page_count(data: bytes, kind: str, settings: Settings) -> int:
    """Pages of a PDF or TIFF (1 for other images), without decoding any; raises like extract() does."""
    if kind == PDF:
        pdf = open_pdf(data, settings)
        try:
            return len(pdf)
        finally:
            pdf.close()
    with Image.open(io.BytesIO(data)) as image:
        return int(getattr(image, "n_frames", 1)) if image.format == "TIFF" else 1


_pools: dict[int, ProcessPoolExecutor] = {}
_ahead: list[Callable[[bytes], list[PageText] | None]] = []  # see ocr.ahead


@contextmanager
def taking_pages_from(take: Callable[[bytes], list[PageText] | None]) -> Iterator[None]:
    """Within this block extract() first asks ``take`` for a file's pages, read ahead elsewhere (ocr.ahead)."""
    _ahead.append(take)
    try:
        yield
    finally:
        _ahead.remove(take)


def forget_pages_ahead() -> None:
    """In a process forked inside a ``taking_pages_from`` block: read everything here (the pages read ahead
    belong to the parent)."""
    _ahead.clear()


def _pool(workers: int) -> ProcessPoolExecutor:
    """One pool per size for the life of the process (workers keep their loaded engines)."""
    pool = _pools.get(workers)
    if pool is None:
        pool = _pools[workers] = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"))
    return pool


def _pages_in_parallel(data: bytes, kind: str, indices: range, settings: Settings, prep: Prep, workers: int
                       ) -> list[PageText]:
    jobs = [(data, kind, index, settings, prep) for index in indices]
    return list(_pool(workers).map(one_page, jobs))


def one_page(job: tuple[bytes, str, int, Settings, Prep]) -> PageText:
    """Page ``index`` of a file, read in a pool process exactly as extract() reads it in sequence."""
    data, kind, index, settings, prep = job
    engine = default_engine(getattr(settings, "ocr_engine", "auto"))
    if kind == PDF:
        pdf = open_pdf(data, settings)
        layer = _TextLayer(data)
        try:
            text = layer.page(pdf, index)
            if text is None:
                return _raster_page(render_pdf_page(pdf, index, settings), settings, engine, prep)
            if _may_be_separator(text, settings, pdf, index) and _pdf_page_is_separator(pdf, index, settings):
                return PageText(number=index + 1, text="", method="text-layer", flags=[SEPARATOR])
            return PageText(number=index + 1, text=text, method="text-layer")
        finally:
            layer.close()
            pdf.close()
    for page in iter_image_pages(data, settings, range(index, index + 1)):
        return _raster_page(page, settings, engine, prep)
    raise UnsupportedInput(f"Page {index + 1} of the image vanished between two reads.")


@lru_cache(maxsize=4)
def default_engine(name: str = "auto") -> OcrEngine:
    """One engine per process and name: a persistent engine keeps its loaded models between files."""
    return load_engine(name)


def _pdf_pages(data: bytes, settings: Settings, engine: OcrEngine, prep: Prep, pages: range | None = None
               ) -> Iterator[PageText]:
    pdf = open_pdf(data, settings)
    layer = _TextLayer(data)
    try:
        for index in pages if pages is not None else range(len(pdf)):
            if index >= len(pdf):
                break
            text = layer.page(pdf, index)
            if text is None:
                yield _raster_page(render_pdf_page(pdf, index, settings), settings, engine, prep)
            elif _may_be_separator(text, settings, pdf, index) and _pdf_page_is_separator(pdf, index, settings):
                yield PageText(number=index + 1, text="", method="text-layer", flags=[SEPARATOR])
            else:
                yield PageText(number=index + 1, text=text, method="text-layer")
    finally:
        layer.close()
        pdf.close()


class _TextLayer:
    """A PDF's text layer, page by page: PDFium's text where it is plainly trustworthy, else pdfplumber's.

    pdfplumber (pdfminer's interpreter, in Python) cost 20 ms for a one-page letter, a third of the service's
    CPU for a text PDF; PDFium reads the same page in about 1 ms. Its text is taken only when every character
    has a Unicode mapping (pdfminer writes an unmapped glyph as ``(cid:N)``, which ``usable_text_layer``
    rejects; PDFium would put the glyph's code in its place), when its text runs go top to bottom and left to
    right within a line (pdfplumber sorts by position: a page drawn in another order, columns or a header
    drawn last, is read by pdfplumber), and when it has enough letters to be a page of text (a page with
    little text may be a scan with a stamp: pdfplumber's image-coverage check decides). pdfplumber opens the
    file only when a page needs it."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._plumber: pdfplumber.PDF | None = None
        self._opened = False

    def page(self, pdf: pdfium.PdfDocument, index: int) -> str | None:
        fast = _pdfium_text(pdf, index)
        if fast is not None:
            return fast
        if not self._opened:
            self._opened, self._plumber = True, _open_text_layer(self._data)
        return _page_text_layer(self._plumber, index) if self._plumber is not None else None

    def close(self) -> None:
        if self._plumber is not None:
            _close_quietly(self._plumber)


_SAME_LINE = 0.5  # two text runs whose tops differ by less than half a line's height are on one line


def _pdfium_text(pdf: pdfium.PdfDocument, index: int) -> str | None:
    """The page's text read by PDFium, or None when pdfplumber should read it (see :class:`_TextLayer`)."""
    try:
        page = pdf[index]
    except pdfium.PdfiumError:
        return None
    try:
        textpage = page.get_textpage()
        try:
            count = textpage.count_chars()
            if count < _SCAN_MAX_LETTERS:  # fewer characters than the letters needed: pdfplumber decides
                return None
            if any(pdfium.raw.FPDFText_HasUnicodeMapError(textpage, i) for i in range(count)):
                return None
            if not _reads_in_order([textpage.get_rect(i) for i in range(textpage.count_rects())]):
                return None
            text = textpage.get_text_range()
        finally:
            textpage.close()
    except pdfium.PdfiumError:
        return None
    finally:
        page.close()
    lines = (" ".join(line.split()) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    text = "\n".join(line for line in lines if line)
    if not usable_text_layer(text) or sum(1 for c in text if c.isalpha()) < _SCAN_MAX_LETTERS:
        return None
    return text


def _reads_in_order(rects: list[tuple[float, float, float, float]]) -> bool:
    """Text runs (left, bottom, right, top) that go down the page, and rightwards within a line."""
    for (left, bottom, _right, top), (next_left, _b, _r, next_top) in pairwise(rects):
        tolerance = _SAME_LINE * max(top - bottom, 1.0)
        if next_top > top + tolerance:
            return False  # back up the page
        if abs(next_top - top) <= tolerance and next_left < left:
            return False  # leftwards on the same line
    return True


def _close_quietly(layer: pdfplumber.PDF) -> None:
    try:
        layer.close()  # flushes per-page caches, which re-parses the page tree of a broken file
    except Exception as exc:  # see _open_text_layer
        log.debug("closing the text layer failed: %s", exc)


def _open_text_layer(data: bytes) -> pdfplumber.PDF | None:
    try:
        return pdfplumber.open(io.BytesIO(data))
    except Exception as exc:  # pdfminer raises many types on odd files; PDFium opened it, so OCR instead
        log.warning("no text layer: pdfplumber cannot open the PDF (%s); every page is OCRed", exc)
        return None


def _page_text_layer(layer: pdfplumber.PDF, index: int) -> str | None:
    """The page's text layer if it is trustworthy and the page is not really a scan, else None."""
    try:
        if index >= len(layer.pages):
            return None
        page = layer.pages[index]
    except Exception as exc:  # see _open_text_layer
        log.warning("page %d: text layer unreadable (%s); OCRed instead", index + 1, exc)
        return None
    try:
        text = (page.extract_text() or "").strip()
        if not usable_text_layer(text):
            return None
        letters = sum(1 for c in text if c.isalpha())
        if letters < _SCAN_MAX_LETTERS and _image_coverage(page) > _SCAN_COVERAGE:
            return None
        return text
    except Exception as exc:  # see _open_text_layer
        log.warning("page %d: text layer unreadable (%s); OCRed instead", index + 1, exc)
        return None
    finally:
        page.close()


def _image_coverage(page: pdfplumber.page.Page) -> float:
    area = float(page.width * page.height) or 1.0
    covered = 0.0
    for image in page.images:
        width = max(0.0, min(image["x1"], page.width) - max(image["x0"], 0))
        height = max(0.0, min(image["bottom"], page.height) - max(image["top"], 0))
        covered += width * height
    return min(1.0, covered / area)


_SEPARATOR_TEXT_MAX = 300  # a born-digital separator sheet carries a code and at most a line or two of text


def _may_be_separator(text: str, settings: Settings, pdf: pdfium.PdfDocument, index: int) -> bool:
    """Whether a text-layer page is worth rendering to look for a separator code: text that names the sheet or
    a payload (printed under the code, or the code itself in a barcode font), or little text on a page that
    also draws something a code can be made of (an image, vector paths, a form XObject)."""
    upper = text.upper()
    if "SEPARATOR" in upper or any(p.upper() in upper for p in settings.separator_payloads):
        return True
    return len(text.strip()) <= _SEPARATOR_TEXT_MAX and _draws_more_than_text(pdf, index)


_TEXT_ONLY = {pdfium.raw.FPDF_PAGEOBJ_TEXT}


def _draws_more_than_text(pdf: pdfium.PdfDocument, index: int) -> bool:
    """False for a page of text objects only, which cannot show a QR code or a barcode (the short last page of
    a letter: rendering and decoding it cost more than reading its text). True when in doubt."""
    try:
        page = pdf[index]
        try:
            return any(obj.type not in _TEXT_ONLY for obj in page.get_objects(max_depth=1))
        finally:
            page.close()
    except pdfium.PdfiumError as exc:
        log.debug("page %d: page objects unreadable (%s); checked for a code", index + 1, exc)
        return True


def _pdf_page_is_separator(pdf: pdfium.PdfDocument, index: int, settings: Settings) -> bool:
    """A separator sheet that went through a scanner's own OCR has a text layer; check its QR code."""
    page = render_pdf_page(pdf, index, settings, dpi=_SEPARATOR_CHECK_DPI)
    return is_separator(work_copy(page.image), page.image, settings.separator_payloads)


def _raster_page(page: PageImage, settings: Settings, engine: OcrEngine, prep: Prep) -> PageText:
    gray = work_copy(page.image)
    if prep.photo:
        page, gray = flat_photo(page, gray)
    found = ink(gray)
    if is_separator(gray, page.image, settings.separator_payloads, found):
        return PageText(number=page.number, text="", method="ocr", flags=[SEPARATOR])
    if found.blank:
        return PageText(number=page.number, text="", method="ocr", blank=True)
    try:
        reading = read_prepared(prepared(page, settings, engine, prep, gray), settings, engine, prep)
    except OcrTimeout as exc:
        log.warning("page %d: %s; left empty for a person", page.number, exc)
        return PageText(number=page.number, text="", method="ocr", flags=[OCR_TIMEOUT])
    except OcrFailed as exc:
        log.warning("page %d: %s; left empty for a person", page.number, exc)
        return PageText(number=page.number, text="", method="ocr", flags=[OCR_FAILED])
    flags = []
    if not reading.text.strip() or (reading.confidence is not None and reading.confidence < LOW_CONFIDENCE_BELOW):
        flags.append(LOW_CONFIDENCE)
    return PageText(number=page.number, text=_tidy(reading.text), method="ocr", flags=flags)


def flat_photo(page: PageImage, work: np.ndarray) -> tuple[PageImage, np.ndarray]:
    """A phone photo of a page warped flat and evenly lit (ocr.photo), with its work copy; scans and faxes (and
    anything else that does not look like a photo) are returned as they are. The stored original is untouched."""
    if page.bilevel:
        return page, work
    flat = photo.flatten(np.asarray(page.image), work)
    if flat is None:
        return page, work
    image = prepare.to_image(flat.gray, flat.dpi)
    return replace(page, image=image, dpi=flat.dpi), work_copy(image)


def read_prepared(ready: Prepared, settings: Settings, engine: OcrEngine, prep: Prep, words: bool = False
                  ) -> Reading:
    """One recognition of a prepared page; a second, turned by 180°, only when OSD could not tell the
    page's orientation and the first reading is poor (the reading kept is the more confident one)."""
    timeout = settings.ocr_page_timeout
    full = ready.array if ready.array is not None else np.asarray(ready.image)
    small = prepare.resized(full, ready.scale)
    dpi = max(1, round(ready.dpi * ready.scale))
    reading = _read_gray(engine, small, dpi, ready.languages, timeout, words)
    if prep.orient and not ready.upright_known and not prep.detect_language and reading.confidence is not None \
            and reading.confidence < _UPRIGHT_CONFIDENCE:
        other = _read_gray(engine, prepare.turn(small, 180), dpi, ready.languages, timeout, words)
        if other.confidence is not None and other.confidence > reading.confidence + 10:
            ready.array = prepare.turn(full, 180)
            ready.image, reading = prepare.to_image(ready.array, ready.dpi), other
    if reading.words and ready.scale != 1.0:  # word boxes in the pixels of ready.image, not of the copy read
        reading.words = [_scaled_word(w, 1.0 / ready.scale) for w in reading.words]
    return reading


def _scaled_word(word: Word, k: float) -> Word:
    def box(b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        return round(b[0] * k), round(b[1] * k), round(b[2] * k), round(b[3] * k)

    return Word(word.text, box(word.box), box(word.line))


def _read_gray(engine: OcrEngine, gray: np.ndarray, dpi: int, languages: str, timeout: float, words: bool
               ) -> Reading:
    reader = getattr(engine, "read_gray", None)
    if reader is not None:
        return reader(gray, dpi, languages, timeout, words=words)
    return _read(engine, prepare.to_image(gray, dpi), languages, timeout, words=words)


def _read(engine: OcrEngine, image: Image.Image, languages: str, timeout: float, psm: int | None = None,
          words: bool = False) -> Reading:
    if words:
        return engine.read_page(image, languages, timeout, psm=psm, words=True)  # type: ignore[attr-defined]
    if psm is None and not hasattr(engine, "read_page"):
        return Reading(read_with_deadline(engine, image, languages, timeout))
    return read_page(engine, image, languages, timeout, psm=psm)


@dataclass
class Prepared:
    """A page ready for OCR: turned upright (as far as known), deskewed, cleaned."""

    image: Image.Image
    languages: str
    dpi: int
    upright_known: bool  # OSD settled 0 vs 180°: no second, turned reading is needed
    scale: float = 1.0  # the page is read scaled by this (see prepare.read_scale); image stays full size
    array: np.ndarray | None = field(default=None, repr=False)  # image's pixels, when prepared() has them


_OSD_DPI = 200  # the OSD strip is read at this resolution (measured: as reliable as 300 dpi, cheaper)
# OSD's 0/180 guess is always followed, but below this confidence it is checked by the reading's confidence
# (read_prepared); with 10 characters 5 of 105 bench pages fell under 2.0, all of them guessed right.
_OSD_MIN_CONFIDENCE = 2.0
# The script narrows the languages only from this script confidence up (with 10 OSD characters: 3 of 105
# pages were under it, all right; with 8 a Russian page was called Latin at 0.91): else all are read.
_SCRIPT_MIN_CONFIDENCE = 1.0


def prepared(page: PageImage, settings: Settings, engine: OcrEngine, prep: Prep, work: np.ndarray | None = None
             ) -> Prepared:
    """The page turned upright, deskewed and cleaned, and the languages to read it with.

    90°/270° is told from the direction of the text lines; 0° vs 180° (and the script) by tesseract's
    OSD on a strip of a few text lines when the engine offers it (``orientation``), else afterwards
    from the confidence of the reading (see read_prepared). ``work`` is the page's ocr.triage.work_copy, if
    the caller has one.
    """
    arr = np.asarray(page.image)
    if prep.despeckle and page.bilevel:
        arr = prepare.despeckle(arr)
    if prep.streaks and page.bilevel:
        arr = prepare.remove_streaks(arr)
    if prep.normalise and not page.bilevel:
        arr = prepare.normalise(arr)
    languages = settings.ocr_languages
    if not (prep.orient or prep.deskew or prep.detect_language):
        return Prepared(prepare.to_image(arr, page.dpi), languages, page.dpi, True, 1.0, arr)
    # lines are found on a small copy, turned and deskewed along with the page rather than made again
    small = work if work is not None and max(work.shape) == prepare.ANALYSIS_SIZE else prepare.analysis_copy(arr)
    lines = prepare.find_lines(arr, small)
    if prep.orient and lines.vertical:
        arr, small = prepare.turn(arr, 90), prepare.turn(small, 90)
        lines = prepare.find_lines(arr, small)
    if prep.deskew and abs(lines.angle) >= prepare.MIN_SKEW:
        arr, small = prepare.deskew(arr, lines.angle), prepare.deskew(small, lines.angle)
        lines = prepare.find_lines(arr, small)
    upright_known = not prep.orient
    osd = getattr(engine, "orientation", None)
    if prep.orient and osd is not None and not prep.detect_language:
        sample = prepare.strip(arr, lines.boxes)
        if sample is not None:
            found = osd(*prepare.scaled(sample, page.dpi, _OSD_DPI))
            if found is not None and found.degrees in (0, 180):
                upright_known = found.confidence >= _OSD_MIN_CONFIDENCE
                if found.degrees == 180:
                    arr = prepare.turn(arr, 180)
                if prep.script and found.script_confidence >= _SCRIPT_MIN_CONFIDENCE:
                    languages = script_languages(found.script, languages)
    if prep.detect_language and hasattr(engine, "read_page"):  # a strip needs --psm 6
        sample = prepare.strip(arr, lines.boxes)
        if sample is not None:
            timeout = min(settings.ocr_page_timeout, 30.0)
            reading = _read(engine, prepare.to_image(sample, page.dpi), languages, timeout, psm=6)
            score = _plausibility(reading)
            if prep.orient and score < _UPRIGHT_CONFIDENCE:
                turned = _read(engine, prepare.to_image(prepare.turn(sample, 180), page.dpi), languages, timeout,
                               psm=6)
                if _plausibility(turned) > score + 5:
                    arr, reading = prepare.turn(arr, 180), turned
            if prep.detect_language:
                languages = pick_languages(reading.text, languages)
    scale = prepare.read_scale(lines.boxes, page.dpi) if prep.rescale else 1.0
    return Prepared(prepare.to_image(arr, page.dpi), languages, page.dpi, upright_known, scale, arr)


_CYRILLIC_LANGUAGES = frozenset({"rus", "ukr", "bel", "bul", "srp", "mkd"})


def script_languages(script: str, configured: str) -> str:
    """The configured languages that write ``script`` (as OSD names it), keeping "eng" for Cyrillic pages:
    their customer numbers, e-mails and IBANs are Latin, and "rus" alone reads MR as МВ. Falls back to
    the configured list when the script is another one or would leave no language."""
    allowed = configured.split("+")
    if script == "Cyrillic":
        chosen = [lang for lang in ("eng",) if lang in allowed] + [x for x in allowed if x in _CYRILLIC_LANGUAGES]
        return "+".join(chosen) if any(x in _CYRILLIC_LANGUAGES for x in chosen) else configured
    if script == "Latin":
        chosen = [lang for lang in allowed if lang not in _CYRILLIC_LANGUAGES]
        return "+".join(chosen) or configured
    return configured


def _plausibility(reading: Reading) -> float:
    """Mean word confidence, or for engines without one the share of letters among the characters read."""
    if reading.confidence is not None:
        return reading.confidence
    chars = [c for c in reading.text if not c.isspace()]
    return 100.0 * sum(c.isalpha() for c in chars) / len(chars) if chars else 0.0


_POLISH = frozenset("ąęłńśźżĄĘŁŃŚŹŻ")
_CZECH = frozenset("řěůťďňŘĚŮŤĎŇ")
_ENGLISH_WORDS = frozenset({"the", "and", "to", "of", "for", "you", "your", "my", "is", "on", "with", "this", "in"})


def pick_languages(sample: str, configured: str) -> str:
    """The tesseract language(s) for a page whose strip read ``sample``: one language when the script,
    the letters only one language uses, or common English words make it plain; else the configured
    languages of the sample's script (a wrong single language costs far more than a list)."""
    allowed = configured.split("+")
    cyrillic = sum(1 for c in sample if "\u0400" <= c <= "\u04ff")
    latin = sum(1 for c in sample if c.isalpha() and c < "\u0250")
    if cyrillic + latin < 40:
        return configured
    if cyrillic > latin:  # Russian letters carry Latin too (MR-…, e-mail): "rus" and "rus+eng" read MR as МВ
        return "+".join(lang for lang in ("eng", "rus") if lang in allowed) if "rus" in allowed else configured
    latins = [lang for lang in allowed if lang != "rus"] or allowed
    pl = sum(1 for c in sample if c in _POLISH)
    cs = sum(1 for c in sample if c in _CZECH)
    if pl >= 2 and pl > 3 * cs and "pol" in allowed:
        return "pol"
    if cs >= 2 and cs > 3 * pl and "ces" in allowed:
        return "ces"
    words = sample.lower().split()
    foreign = sum(1 for c in sample if c.isalpha() and not c.isascii())
    if foreign == 0 and sum(w in _ENGLISH_WORDS for w in words) >= 3 and "eng" in allowed:
        return "eng"
    return "+".join(latins)


def _tidy(text: str) -> str:
    """Tesseract ends pages with a form feed and pads blocks with blank lines; keep one between paragraphs."""
    lines = [line.rstrip() for line in text.replace("\f", "\n").splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def _decode_text(data: bytes, content_type: str) -> str:
    charset = "utf-8-sig"
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'")
    try:
        return data.decode(charset, errors="replace").strip()
    except LookupError:
        return data.decode("utf-8", errors="replace").strip()


__all__ = ["SEPARATOR_PAYLOADS", "extract", "ocr_text", "split_documents"]
