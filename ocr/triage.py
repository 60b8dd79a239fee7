"""Cheap per-page decisions taken before OCR: separator sheet, blank page, usable PDF text layer."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from ocr.prepare import ANALYSIS_SIZE  # the copy the checks look at (≈100 dpi for A4) is the line-finding copy

SEPARATOR_PAYLOAD = "MAILROOM:SEPARATOR"

_MARGIN_X = 0.08  # ignored left/right: punch holes, scanner shadows
_MARGIN_Y = 0.06  # ignored top/bottom: fax header lines ("From +48… Page 1/2"), scanner edges
_MIN_CONTRAST = 60  # ink must be at least this much darker than the paper (0..255)
_MIN_SPECK = 3  # connected ink blobs smaller than this (in work pixels) are dust, not ink
_SEPARATOR_FIND_SIZE = 800  # longest side of the copy searched for a QR code (1 mm modules stay ≈ 2.7 px)
_MIN_QR_SIDE = 0.04  # a printed separator code is ≥ 4% of the page's long side (≈ 12 mm on A4)
_QR_BLOB = _MIN_QR_SIDE / 2  # a blob this big (of the long side) may be (most of) a QR code
_MARGIN_INK_FOR_CODE = 0.25 * _MIN_QR_SIDE**2  # margin ink (× long side²) that could be a code's dark modules
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
    margin_ink = int(np.count_nonzero(gray < cutoff)) - int(np.count_nonzero(mask))
    code_like = bool(code.any()) or margin_ink >= _MARGIN_INK_FOR_CODE * long_side**2
    return Ink(float(areas[areas >= _MIN_SPECK].sum()) / inner.size, code_like)


def is_blank(gray: np.ndarray) -> bool:
    return ink(gray).blank


def is_separator(gray: np.ndarray, full: Image.Image | None = None, payload: str = SEPARATOR_PAYLOAD,
                 page_ink: Ink | None = None) -> bool:
    """True if the page carries a QR code whose payload is exactly ``payload``.

    With the page's ``page_ink``, a page without a code-like blob is answered at once (the QR detector
    costs as much as the ink pass). Else finds the code on a coarse copy; a find smaller than a printed
    separator code is fax or scan noise and is not decoded. The decode runs on the code's neighbourhood
    only (work copy first, then the full-resolution page), not on the whole page.
    """
    if page_ink is not None and not page_ink.code_like:
        return False
    detector = cv2.QRCodeDetector()
    h, w = gray.shape
    f = _SEPARATOR_FIND_SIZE / max(h, w)
    coarse = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 else gray
    try:
        found, points = detector.detect(coarse)  # 2× cheaper than on the work copy, fewer false finds in fax noise
    except cv2.error:  # OpenCV's detector asserts on some noise patterns; no readable code there
        return False
    if not found or points is None:
        return False
    quad = points.reshape(-1, 2) / min(f, 1.0)  # corners in work-copy pixels
    sides = [float(np.linalg.norm(quad[i] - quad[(i + 1) % 4])) for i in range(4)]
    side = min(sides)
    if side < _MIN_QR_SIDE * max(h, w) or max(sides) > 1.3 * side:  # small or not square: noise, not a code
        return False
    for image, k in ((gray, 1.0), (np.asarray(full.convert("L")) if full is not None else None, None)):
        if image is None:
            continue
        k = k or image.shape[0] / h
        x0, y0 = np.maximum((quad.min(axis=0) - side * 0.3) * k, 0).astype(int)
        x1, y1 = ((quad.max(axis=0) + side * 0.3) * k).astype(int)
        try:
            text, _, _ = detector.detectAndDecode(np.ascontiguousarray(image[y0:y1, x0:x1]))
        except cv2.error:
            continue
        if text:
            return text == payload
    return False


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
