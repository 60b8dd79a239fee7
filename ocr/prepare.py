"""Page preparation before OCR, measured step by step by ``bench.ocr --ablate``.

Everything is decided on a small binarised copy (≈100 dpi) so that it costs a few milliseconds:
text lines are found as blobs of horizontally smeared ink; their direction tells a page turned by
90°, their angle the skew. Upside-down pages and the script are told by tesseract's OSD on a strip of
a few body lines (see ocr.extract.prepared), about a tenth of the page's OCR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

ANALYSIS_SIZE = 1200  # longest side of the analysis copy; ocr.triage.work_copy makes the same size
MIN_SKEW = 0.5  # degrees; below this the page is left alone (measured: rotating for less loses more than it gains)
_MAX_SKEW = 10.0
# Pages are read with their text lines (median box height) scaled down to about this many pixels: tesseract
# is faster on the smaller image and read 300-dpi letters no worse, mostly better (105 raster pages of bench
# seeds 7, 11, 13: CER 0.0113 → 0.0101 and 12% less time at 34 px). Body lines of 11–12 pt at 300 dpi are
# ≈ 47 px, so they are read at ≈ 217 dpi; small print keeps its resolution. 32 px was 4% faster again and as
# good on average, but lost "ł" (read "t") on a test page: not taken.
READ_LINE_HEIGHT = 34
_MIN_READ_DPI = 200  # never read below this, whatever the line boxes say (noise makes them taller than the text)


@dataclass(frozen=True)
class Prep:
    """Which preparation steps run (all measured; the defaults are the ones that paid off)."""

    orient: bool = True  # 90/270 from line direction, 0/180 by tesseract OSD on a strip of lines
    deskew: bool = True
    despeckle: bool = True  # fax line noise: lone black pixels
    streaks: bool = True  # fax/scanner head streaks: one-pixel vertical lines down the page (bilevel pages)
    normalise: bool = False  # flatten the paper tone (background division)
    # OCR with the language found on a strip, not the whole list: off, measured slower with tesserocr
    # (a 4-line strip costs 0.15–0.5 s; reading with the one right language instead of pol+ces+eng saves
    # only ≈ 0.05 s a page)
    detect_language: bool = False
    # OCR with the configured languages of the script OSD found (Latin: pol+ces+eng, Cyrillic: eng+rus)
    script: bool = True
    rescale: bool = True  # read with text lines of READ_LINE_HEIGHT pixels (never enlarged)
    photo: bool = True  # phone photos of a page: warped flat and evenly lit first (ocr.photo); scans untouched


@dataclass
class Lines:
    """Text lines found on the analysis copy, in full-resolution pixels."""

    vertical: bool  # the lines run top to bottom: the page is turned by 90° or 270°
    angle: float  # skew in degrees (counter-clockwise positive, as cv2.getRotationMatrix2D)
    boxes: list[tuple[int, int, int, int]]  # x, y, w, h of horizontal line blobs


def analysis_copy(gray: np.ndarray) -> np.ndarray:
    """The small copy (longest side ANALYSIS_SIZE) that lines are found on; ocr.triage.work_copy is the same size,
    so a page's work copy serves both (one downscale of the page instead of two or three)."""
    h, w = gray.shape
    scale = min(1.0, ANALYSIS_SIZE / max(h, w))
    return cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA) if scale < 1 else gray


def _line_blobs(ink: np.ndarray, horizontal: bool) -> list[tuple[tuple[float, float], tuple[float, float], float]]:
    """minAreaRects of ink smeared along one axis; only long thin ones (text lines) are kept."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 1) if horizontal else (1, 9))
    smeared = cv2.dilate(ink, kernel)
    contours, _ = cv2.findContours(smeared, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for c in contours:
        if len(c) < 5:
            continue
        rect = cv2.minAreaRect(c)
        (_, _), (rw, rh), _ = rect
        long, short = max(rw, rh), min(rw, rh)
        if long >= 60 and short >= 3 and long >= 6 * short:
            out.append(rect)
    return out


def _rect_angle(rect: tuple[tuple[float, float], tuple[float, float], float]) -> float:
    """Angle of a rect's long side against the x axis, in (-90, 90], counter-clockwise positive."""
    (_, _), (rw, rh), a = rect
    angle = a if rw >= rh else a - 90  # OpenCV ≥ 4.5: a in [0, 90), measured clockwise in image coords
    angle = -angle
    while angle <= -90:
        angle += 180
    while angle > 90:
        angle -= 180
    return angle


def find_lines(gray: np.ndarray, small: np.ndarray | None = None) -> Lines:
    """Text lines of ``gray``, found on ``small`` (its analysis copy, computed when not given)."""
    small = analysis_copy(gray) if small is None else small
    scale = max(small.shape) / max(gray.shape)
    _, ink = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    across = _line_blobs(ink, horizontal=True)
    down = _line_blobs(ink, horizontal=False)
    length_h = sum(max(r[1]) for r in across)
    length_v = sum(max(r[1]) for r in down)
    vertical = length_v > 2 * length_h and length_v > 0
    rects = down if vertical else across
    angles = [_rect_angle(r) for r in rects]
    if vertical:
        angles = [a - 90 if a > 0 else a + 90 for a in angles]
    weights = [max(r[1]) for r in rects]
    angle = _weighted_median(angles, weights) if angles else 0.0
    boxes = []
    if not vertical:
        for r in across:
            x, y, w, h = cv2.boundingRect(cv2.boxPoints(r).astype(np.int32))
            boxes.append((round(x / scale), round(y / scale), round(w / scale), round(h / scale)))
    return Lines(vertical=vertical, angle=angle, boxes=boxes)


def _weighted_median(values: list[float], weights: list[float]) -> float:
    order = np.argsort(values)
    cum = np.cumsum(np.asarray(weights, dtype=float)[order])
    return float(np.asarray(values)[order][int(np.searchsorted(cum, cum[-1] / 2))])


def rotate(gray: np.ndarray, angle: float) -> np.ndarray:
    """Rotate by ``angle`` degrees (counter-clockwise), keeping the whole page, filling with paper."""
    h, w = gray.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    matrix[0, 2] += nw / 2 - w / 2
    matrix[1, 2] += nh / 2 - h / 2
    paper = int(np.percentile(gray[:: 16, :: 16], 90))
    return cv2.warpAffine(gray, matrix, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=paper)


def turn(gray: np.ndarray, degrees: int) -> np.ndarray:
    """Rotate by a multiple of 90° counter-clockwise (lossless)."""
    k = (degrees // 90) % 4
    return np.ascontiguousarray(np.rot90(gray, k)) if k else gray


def deskew(gray: np.ndarray, angle: float) -> np.ndarray:
    """Undo a measured skew of ``angle`` degrees; tiny or implausible angles are left alone."""
    if abs(angle) < MIN_SKEW or abs(angle) > _MAX_SKEW:
        return gray
    return rotate(gray, -angle)


def despeckle(gray: np.ndarray) -> np.ndarray:
    """Remove lone ink pixels (fax line noise) without touching strokes: a 3×3 opening of the ink
    would thin 204-dpi strokes, so only components of one or two pixels go."""
    ink = (gray < 128).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    small = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] <= 2)
    small = small[small > 0]
    if small.size == 0:
        return gray
    speck = np.zeros(count, dtype=bool)
    speck[small] = True
    out = gray.copy()
    out[speck[labels]] = 255  # a lookup table: np.isin over a full page of labels is 3× slower
    return out


_STREAK_SHARE = 0.2  # a column whose lone (horizontally isolated) ink pixels cover this share of the page


def remove_streaks(gray: np.ndarray) -> np.ndarray:
    """Remove vertical streaks (a dirty fax or scanner head: one-pixel-wide lines, often dotted, down the whole
    page). Tesseract's layout analysis takes such a line for a column rule, splits the letter into columns
    and reads them in the wrong order. Only the streak's pixels that touch no ink left or right go, so strokes
    it crosses keep their width."""
    ink = gray < 128
    lone = ink.copy()
    lone[:, 1:] &= ~ink[:, :-1]
    lone[:, :-1] &= ~ink[:, 1:]
    columns = np.flatnonzero(lone.sum(axis=0) > _STREAK_SHARE * gray.shape[0])
    if columns.size == 0:
        return gray
    out = gray.copy()
    for x in columns:
        out[lone[:, x], x] = 255
    return out


def normalise(gray: np.ndarray) -> np.ndarray:
    """Flatten uneven paper (shadows, grey stock): divide by a blurred background estimate."""
    small = cv2.resize(gray, None, fx=0.125, fy=0.125, interpolation=cv2.INTER_AREA)
    background = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9)))
    background = cv2.resize(cv2.medianBlur(background, 5), (gray.shape[1], gray.shape[0]),
                            interpolation=cv2.INTER_LINEAR)
    return cv2.divide(gray, background, scale=255)


def strip(gray: np.ndarray, boxes: list[tuple[int, int, int, int]], lines: int = 4) -> np.ndarray | None:
    """The ``lines`` widest text lines of the page stacked into one small image (for language and
    orientation tests), or None when the page has no line wide enough."""
    h, w = gray.shape
    wide = sorted((b for b in boxes if b[2] > w * 0.3 and 8 < b[3] < h * 0.05), key=lambda b: -b[2])[:lines]
    if not wide:
        return None
    wide.sort(key=lambda b: b[1])
    pad = max(4, round(0.35 * max(b[3] for b in wide)))
    paper = int(np.percentile(gray[:: 16, :: 16], 90))
    width = max(b[2] for b in wide) + 2 * pad
    rows = []
    for x, y, bw, bh in wide:
        crop = gray[max(0, y - pad) : min(h, y + bh + pad), max(0, x - pad) : min(w, x + bw + pad)]
        row = np.full((crop.shape[0], width), paper, dtype=np.uint8)
        row[:, : crop.shape[1]] = crop
        rows.append(row)
    return np.vstack(rows)


def read_scale(boxes: list[tuple[int, int, int, int]], dpi: int) -> float:
    """The factor (≤ 1) that brings the page's median text line height to READ_LINE_HEIGHT, but not below
    _MIN_READ_DPI; 1.0 when the page has too few lines to tell or would shrink by less than a tenth."""
    if len(boxes) < 5:
        return 1.0
    factor = max(READ_LINE_HEIGHT / float(np.median([b[3] for b in boxes])), _MIN_READ_DPI / max(dpi, 1))
    return 1.0 if factor > 0.9 else factor


def resized(gray: np.ndarray, factor: float) -> np.ndarray:
    """``gray`` scaled by ``factor`` (area-averaged when shrinking)."""
    if factor == 1.0:
        return gray
    return cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)


def scaled(gray: np.ndarray, dpi: int, target: int) -> tuple[np.ndarray, int]:
    """``gray`` downscaled to ``target`` dpi (never upscaled), and its resolution."""
    if dpi <= target:
        return gray, dpi
    f = target / dpi
    return cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA), target


def to_image(gray: np.ndarray, dpi: int) -> Image.Image:
    image = Image.fromarray(gray, "L")
    image.info["dpi"] = (dpi, dpi)
    return image


def angle_error(a: float, b: float) -> float:
    return abs(math.remainder(a - b, 360))


ABLATIONS: dict[str, dict[str, object]] = {
    "none": {"prep": Prep(orient=False, deskew=False, despeckle=False, streaks=False, script=False, rescale=False)},
    "orient": {"prep": Prep(deskew=False, despeckle=False, streaks=False, script=False, rescale=False)},
    "orient+deskew": {"prep": Prep(despeckle=False, streaks=False, script=False, rescale=False)},
    "+despeckle": {"prep": Prep(streaks=False, script=False, rescale=False)},
    "+fax streaks": {"prep": Prep(script=False, rescale=False)},
    "+script langs": {"prep": Prep(rescale=False)},
    "+read at 34-px lines (default)": {"prep": Prep()},
    "+normalise": {"prep": Prep(normalise=True)},
    "strip language": {"prep": Prep(detect_language=True)},
}
