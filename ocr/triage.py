"""Cheap per-page decisions taken before OCR: separator sheet, blank page, usable PDF text layer."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import cv2
import numpy as np
import zxingcpp
from PIL import Image

from ocr.prepare import ANALYSIS_SIZE  # the copy the checks look at (≈100 dpi for A4) is the line-finding copy

# The separator sheets users already print: the intake specification's own, and Paperless-ngx's "PATCH T".
SEPARATOR_PAYLOADS: tuple[str, ...] = ("MAILROOM-SEPARATOR", "PATCHT")
_CODE_FORMATS = (zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.Code128, zxingcpp.BarcodeFormat.Code39)

_MARGIN_X = 0.08  # ignored left/right: punch holes, scanner shadows
_MARGIN_Y = 0.06  # ignored top/bottom: fax header lines ("From +48… Page 1/2"), scanner edges
_MIN_CONTRAST = 60  # ink must be at least this much darker than the paper (0..255)
_MIN_SPECK = 3  # connected ink blobs smaller than this (in work pixels) are dust, not ink
_SEPARATOR_FIND_SIZE = 800  # longest side of the copy searched for a QR code (1 mm modules stay ≈ 2.7 px)
_MIN_QR_SIDE = 0.04  # a printed separator code is ≥ 4% of the page's long side (≈ 12 mm on A4)
_QR_BLOB = _MIN_QR_SIDE / 2  # a blob this big (of the long side) may be (most of) a QR code
_MARGIN_INK_FOR_CODE = 0.25 * _MIN_QR_SIDE**2  # margin ink (× long side²) that could be a code's dark modules
_BAR_HEIGHT = 0.02  # a 1-D barcode's bar is at least this tall (of the long side: ≈ 6 mm on A4) ...
_BAR_SLENDER = 4  # ... and this many times taller than wide
_MIN_BARS = 10  # a Code 128 or Code 39 symbol has far more bars than this; a letter's text has none
BLANK_INK_RATIO = 0.0003  # ≈ ten characters of 10-pt text on an A4 page

_CID = re.compile(r"\(cid:\d+\)")
MIN_LETTERS = 20
MAX_GARBAGE_RATIO = 0.1
MIN_LETTER_RATIO = 0.3


def work_copy(image: Image.Image) -> np.ndarray:
    """A small grayscale copy for the checks below (box-filtered, so thin strokes stay visible)."""
    small = image if image.mode == "L" else image.convert("L")
    if max(small.size) > ANALYSIS_SIZE:
        small = small.copy()
        small.thumbnail((ANALYSIS_SIZE, ANALYSIS_SIZE), Image.Resampling.BOX)
    return np.asarray(small)


@dataclass(frozen=True)
class Ink:
    """What the ink of a page looks like, from one pass over its work copy."""

    ratio: float  # share of the page inside the margins covered by ink
    code_like: bool  # a blob big, square and dense enough to be part of a separator's QR code, or margin ink

    @property
    def blank(self) -> bool:
        return self.ratio < BLANK_INK_RATIO


def ink(gray: np.ndarray) -> Ink:
    """The page's ink: its ratio (blank pages) and whether a QR code may be on it (separator sheets).

    Ink is what Otsu's threshold separates from the paper, but never less than _MIN_CONTRAST darker
    than the paper: on a nearly empty page Otsu alone splits the paper's own noise. A printed QR code's
    dark modules touch one another, so it shows as one blob of about the code's size (measured: ≥ 5.7%
    of the page's long side for separator sheets, ≤ 1.4% for letters); the margins are not searched for
    blobs, so any ink there also counts as code-like, and the QR detector then looks.
    """
    height, width = gray.shape
    dy, dx = int(height * _MARGIN_Y), int(width * _MARGIN_X)
    inner = gray[dy : height - dy, dx : width - dx]
    if inner.size == 0:
        return Ink(0.0, True)
    paper = float(np.percentile(inner, 90))
    otsu, _ = cv2.threshold(inner, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    cutoff = min(otsu, paper - _MIN_CONTRAST)
    if cutoff <= 0:
        return Ink(0.0, True)
    mask = (inner < cutoff).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    stats = stats[1:count]
    areas = stats[:, cv2.CC_STAT_AREA]
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    side = np.minimum(w, h)
    long_side = max(height, width)
    code = (side >= _QR_BLOB * long_side) & (np.maximum(w, h) <= 1.5 * side) & (areas >= 0.2 * w * h)
    bars = (np.maximum(w, h) >= _BAR_HEIGHT * long_side) & (np.maximum(w, h) >= _BAR_SLENDER * side)
    margin_ink = int(np.count_nonzero(gray < cutoff)) - int(np.count_nonzero(mask))
    code_like = (bool(code.any()) or int(np.count_nonzero(bars)) >= _MIN_BARS
                 or margin_ink >= _MARGIN_INK_FOR_CODE * long_side**2)
    return Ink(float(areas[areas >= _MIN_SPECK].sum()) / inner.size, code_like)


def is_blank(gray: np.ndarray) -> bool:
    return ink(gray).blank


_CODE39 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%"


def _without_code39_check(text: str) -> str | None:
    """``text`` without its last character when that is the optional modulo-43 check character of Code 39
    (printers and label software add it; the reader cannot tell it from data)."""
    if len(text) < 2 or any(ch not in _CODE39 for ch in text):
        return None
    return text[:-1] if _CODE39[sum(_CODE39.index(ch) for ch in text[:-1]) % 43] == text[-1] else None


def read_codes(gray: np.ndarray) -> list[str]:
    """The payloads of the QR codes and Code 128 / Code 39 barcodes zxing-cpp finds on a grey page; a Code 39
    payload is also given without its check character when it has one."""
    try:
        found = zxingcpp.read_barcodes(np.ascontiguousarray(gray), formats=_CODE_FORMATS)
    except (ValueError, RuntimeError):  # an image zxing-cpp cannot take: no readable code there
        return []
    texts = []
    for code in found:
        if not code.valid:
            continue
        texts.append(code.text.strip())
        if code.format == zxingcpp.BarcodeFormat.Code39:
            bare = _without_code39_check(texts[-1])
            if bare:
                texts.append(bare)
    return texts


def is_separator(gray: np.ndarray, full: Image.Image | None = None,
                 payloads: tuple[str, ...] | list[str] = SEPARATOR_PAYLOADS, page_ink: Ink | None = None) -> bool:
    """True if the page carries a QR code or a 1-D barcode (Code 128, Code 39) whose payload is one of
    ``payloads``.

    With the page's ``page_ink``, a page without code-like ink (a square blob, a row of bars, or ink in
    the margins) is answered at once, so letters pay nothing for the search. Codes are read on the work
    copy first and, when no payload is found there, on the full-resolution page (thin bars of a 1-D code
    may vanish at the work copy's ≈ 100 dpi). zxing-cpp checks each symbol's checksum, so fax or scan noise
    does not decode as a payload.
    """
    if page_ink is not None and not page_ink.code_like:
        return False
    wanted = {p.strip() for p in payloads}
    if wanted & set(read_codes(gray)):
        return True
    if full is None:
        return False
    return bool(wanted & set(read_codes(np.asarray(full.convert("L")))))


def usable_text_layer(text: str) -> bool:
    """A PDF text layer worth trusting: enough letters, little garbage (unmapped glyphs, controls)."""
    cids = len(_CID.findall(text))
    text = _CID.sub("", text)
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return False
    letters = sum(1 for c in chars if c.isalpha())
    garbage = cids + sum(1 for c in chars if c == "\ufffd" or unicodedata.category(c) in ("Cc", "Co", "Cs", "Cn"))
    total = len(chars) + cids
    return letters >= MIN_LETTERS and garbage / total <= MAX_GARBAGE_RATIO and letters / total >= MIN_LETTER_RATIO
