"""Phone photos of a page: found, warped flat and evenly lit before OCR.

A photo is told from a scan on a small copy (longest side DETECT_SIZE, a few milliseconds): a four-cornered
outline of bright paper inside a darker background, or, when no outline is in view, paper whose brightness
falls off across the page far more than a scanner's lamp allows. The page is then warped straight from the
full-size photo to a flat page of the paper's aspect at no more than 300 dpi (A4: 2480×3508), so that a
12-megapixel photo costs about what a scanned A4 page costs to read, and its light is evened out by dividing by
the paper's own brightness (a morphological close of a small copy). Scans and faxes are left as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

DETECT_SIZE = 600  # longest side of the copy the outline and the light are measured on
MAX_LONG_SIDE = 3508  # a flattened page is at most A4 at 300 dpi (2480×3508)
_A4_ASPECT = 2**0.5  # long/short side of A4 (A5, A3): the paper of the letters read here
_A4_LONG_INCHES = 297 / 25.4
# a page measured within this share of A4's aspect is A4: perspective alone moves the measured aspect by up to
# ±15 % (measured on bench.photos), more than A4 and US Letter (1.29) differ, so Letter pages come out 9 %
# narrower (harmless for reading); pages of other shapes (receipts, cards) keep the aspect measured
_ASPECT_SNAP = 0.2
_MIN_AREA = 0.2  # the outline covers at least this share of the photo …
_MAX_AREA = 0.97  # … and leaves some background visible (else the "outline" is the frame itself)
_MIN_EDGE_CONTRAST = 1.3  # paper just inside the outline is this much brighter than the background outside
_MIN_BRIGHT_SIDES = 3  # … along at least this many of its four sides (a shadow may darken one)
_MAX_LIGHT_RATIO = 0.75  # paper at its darkest under this share of its brightest: lit by a lamp, not a scanner
_MIN_INK_CONTRAST = 60  # ink is this much darker than the paper around it (0..255)
_BORDER = 0.01  # share of the flattened page's sides blanked: the edge of the table, if the outline missed it


@dataclass(frozen=True)
class Detection:
    """What makes a page a photo: its outline (TL, TR, BR, BL, in the pixels of the image searched), or None
    when only the light gave it away."""

    corners: np.ndarray | None
    inverted: bool = False  # the photo reached us inverted (light text on a dark page, see _inverted_page)


@dataclass(frozen=True)
class Flat:
    """A photographed page made ready for OCR: flat, evenly lit, dark ink on white."""

    gray: np.ndarray
    dpi: int
    corners: np.ndarray | None  # the page outline found, in the photo's pixels (None: only the light was evened)


def detect_copy(gray: np.ndarray) -> np.ndarray:
    """The small copy (longest side DETECT_SIZE) a photo is detected on."""
    h, w = gray.shape
    scale = DETECT_SIZE / max(h, w)
    if scale >= 1:
        return gray
    return cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def _paper(small: np.ndarray) -> np.ndarray:
    """The copy with its ink closed over (text, lines) and smoothed: paper, background and light remain."""
    k = max(5, round(max(small.shape) / 80)) | 1
    closed = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    return cv2.GaussianBlur(closed, (5, 5), 0)


def order_corners(points: np.ndarray) -> np.ndarray:
    """Four points as top-left, top-right, bottom-right, bottom-left (in image orientation)."""
    pts = np.asarray(points, np.float32).reshape(4, 2)
    centre = pts.mean(axis=0)
    angles = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    pts = pts[np.argsort(angles)]  # clockwise on screen (y down), starting anywhere
    start = int(np.argmin(pts.sum(axis=1)))
    return np.roll(pts, -start, axis=0)


def _quads(paper: np.ndarray) -> list[np.ndarray]:
    """Four-cornered convex outlines of at least _MIN_AREA of the image, from edges, then (fallback) from the
    bright region, largest first."""
    h, w = paper.shape
    area = float(h * w)
    otsu, bright = cv2.threshold(paper, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    edges = cv2.dilate(cv2.Canny(paper, 0.25 * otsu, 0.5 * otsu), cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    fallback, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    found = []
    for contour in [*contours, *fallback]:
        hull = cv2.convexHull(contour)
        if cv2.contourArea(hull) < _MIN_AREA * area:
            continue
        quad = _four_corners(hull)
        if quad is None:
            continue
        quad_area = cv2.contourArea(quad)
        if _MIN_AREA * area <= quad_area <= _MAX_AREA * area and cv2.contourArea(contour) >= 0.85 * quad_area:
            found.append(order_corners(quad))
    found.sort(key=lambda q: -cv2.contourArea(q))
    return found


def _four_corners(hull: np.ndarray) -> np.ndarray | None:
    """The hull simplified to four corners (approxPolyDP with a growing tolerance), if it is a quadrilateral."""
    perimeter = cv2.arcLength(hull, True)
    for share in (0.01, 0.02, 0.03, 0.05):
        approx = cv2.approxPolyDP(hull, share * perimeter, True)
        if len(approx) == 4:
            return approx.reshape(4, 2).astype(np.float32) if cv2.isContourConvex(approx) else None
        if len(approx) < 4:
            return None
    return None


def _stands_out(paper: np.ndarray, quad: np.ndarray) -> bool:
    """True when the paper just inside the outline is brighter than the background just outside it along most
    of its sides: a page on a table, not a frame printed on a page or the edge of a scan."""
    h, w = paper.shape
    band = max(3, round(max(h, w) / 60))
    centre = quad.mean(axis=0)
    bright_sides = 0
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        normal = np.array([a[1] - b[1], b[0] - a[0]], np.float32)
        normal /= max(float(np.linalg.norm(normal)), 1e-6)
        if np.dot(normal, (a + b) / 2 - centre) < 0:
            normal = -normal  # pointing out of the page
        t = np.linspace(0.15, 0.85, 24)[:, None]
        points = a + t * (b - a)
        inside = _sample(paper, points - 2 * band * normal)
        outside = _sample(paper, points + 2 * band * normal)
        ok = outside >= 0  # points off the image do not count
        if ok.sum() < 6:
            continue  # the side runs along the frame: nothing to compare, nothing against
        if float(np.median(inside[ok])) >= _MIN_EDGE_CONTRAST * max(float(np.median(outside[ok])), 1.0):
            bright_sides += 1
    return bright_sides >= _MIN_BRIGHT_SIDES


def _sample(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Pixel values at ``points`` (x, y); -1 for points off the image."""
    h, w = image.shape
    xs, ys = np.round(points[:, 0]).astype(int), np.round(points[:, 1]).astype(int)
    inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    out = np.full(len(points), -1.0)
    out[inside] = image[ys[inside], xs[inside]]
    return out


def find_page(small: np.ndarray, paper: np.ndarray | None = None) -> np.ndarray | None:
    """The outline (TL, TR, BR, BL) of a page lying on a darker background in ``small``, or None.
    ``paper`` is ``small`` with its ink closed over (_paper), if the caller has it."""
    paper = _paper(small) if paper is None else paper
    for quad in _quads(paper):
        if _stands_out(paper, quad):
            return quad
    return None


def _ink_share(gray: np.ndarray, paper: np.ndarray, mask: np.ndarray) -> float:
    """Share of the pixels under ``mask`` that are ink: much darker than the closed-over ``paper`` there."""
    count = int(np.count_nonzero(mask))
    if count == 0:
        return 0.0
    ink = gray.astype(np.int16) < paper.astype(np.int16) - _MIN_INK_CONTRAST
    return float(np.count_nonzero(ink & mask)) / count


def _inverted_page(small: np.ndarray, paper: np.ndarray) -> np.ndarray | None:
    """The outline of a photographed page that reached us inverted, or None.

    ocr.pages turns mostly dark images into dark-on-light ones, and a photo whose dark table fills more than
    half of the frame is one: its page is then dark with light text inside a light background. Such a page is
    searched on the inverse of ``small``; it counts when it leaves much of the frame to the table, holds some
    ink (inverted: its text) and the background around it holds none (a scanned page with a big dark box
    does: the letter's text around the box)."""
    inverse = cv2.bitwise_not(small)
    inverse_paper = _paper(inverse)
    corners = find_page(inverse, inverse_paper)
    if corners is None:
        return None
    inside = np.zeros(small.shape, np.uint8)
    cv2.fillConvexPoly(inside, np.round(corners).astype(np.int32), 1)
    if inside.mean() > 0.7:  # the page's shadowed paper is dark too: it may have been half the frame
        return None
    band = max(3, round(max(small.shape) / 60))
    near = cv2.dilate(inside, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * band + 1, 2 * band + 1)))
    text = _ink_share(inverse, inverse_paper, cv2.erode(inside, np.ones((3, 3), np.uint8)).astype(bool))
    around = _ink_share(small, paper, near == 0)
    return corners if 0.002 <= text <= 0.25 and around < 0.002 else None


def uneven_light(small: np.ndarray, paper: np.ndarray | None = None) -> bool:
    """True when the paper's brightness falls off smoothly across the page as under a lamp (gradient, vignette,
    shadow), beyond what a scanner's even light gives. Measured on the paper level (the bright pixels) of a grid
    of tiles, fitted by a quadratic surface, so that a dark picture on a scanned page does not count."""
    paper = _paper(small) if paper is None else paper
    rows, cols = 8, 6
    th, tw = paper.shape[0] // rows, paper.shape[1] // cols
    if th == 0 or tw == 0:
        return False
    tiles = paper[: th * rows, : tw * cols].reshape(rows, th, cols, tw).transpose(0, 2, 1, 3).reshape(rows * cols, -1)
    levels = np.percentile(tiles, 90, axis=1)
    ys, xs = np.mgrid[0:rows, 0:cols]
    x, y = ((xs + 0.5) / cols - 0.5).ravel(), ((ys + 0.5) / rows - 0.5).ravel()
    design = np.stack([np.ones_like(x), x, y, x * x, y * y, x * y], axis=1)
    keep = levels > 0.5 * levels.max()  # tiles without paper (a dark picture) do not tell the light
    for _ in range(2):  # fit, drop the tiles far off the fit (pictures, shaded boxes), fit again
        if keep.sum() < 12:
            return False
        coef, *_ = np.linalg.lstsq(design[keep], levels[keep], rcond=None)
        residual = np.abs(levels - design @ coef)
        keep &= residual <= max(3 * float(np.median(residual[keep])), 4.0)
    fitted = design @ coef
    top = float(fitted.max())
    return top > 0 and float(fitted.min()) / top < _MAX_LIGHT_RATIO


def detect(small: np.ndarray) -> Detection | None:
    """Whether ``small`` (a page's downscaled copy) is a photo of a page, and its outline if one is in view."""
    paper = _paper(small)
    corners = find_page(small, paper)
    if corners is not None:
        return Detection(corners)
    corners = _inverted_page(small, paper)
    if corners is not None:
        return Detection(corners, inverted=True)
    return Detection(None) if uneven_light(small, paper) else None


def _paper_size(width: float, height: float) -> tuple[float, float]:
    """Width and height of the flat page for the outline's measured sides: the aspect made A4's when close."""
    long, short = max(width, height), max(min(width, height), 1.0)
    if abs(long / short / _A4_ASPECT - 1) <= _ASPECT_SNAP:
        short = long / _A4_ASPECT
    return (short, long) if width <= height else (long, short)


def warp(gray: np.ndarray, corners: np.ndarray) -> tuple[np.ndarray, int]:
    """The page inside ``corners`` (TL, TR, BR, BL in ``gray``'s pixels) warped to a flat page of its paper's
    aspect, its long side as measured but at most MAX_LONG_SIDE, and that page's resolution in dpi (taking
    the long side for A4's)."""
    tl, tr, br, bl = corners.astype(np.float64)
    width = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    height = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    out_w, out_h = _paper_size(width, height)
    scale = min(1.0, MAX_LONG_SIDE / max(out_w, out_h))
    out_w, out_h = max(1, round(out_w * scale)), max(1, round(out_h * scale))
    target = np.array([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]], np.float32)
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
    flat = cv2.warpPerspective(gray, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return flat, max(72, round(max(out_w, out_h) / _A4_LONG_INCHES))


def even_light(gray: np.ndarray) -> np.ndarray:
    """Paper made white everywhere on the page: ``gray`` divided by the paper's brightness, a morphological
    close (ink removed) of a copy at 1/8 size, median-filtered and enlarged."""
    h, w = gray.shape
    small = cv2.resize(gray, (max(1, w // 8), max(1, h // 8)), interpolation=cv2.INTER_AREA)
    k = max(9, round(max(small.shape) / 40)) | 1
    background = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    background = cv2.resize(cv2.medianBlur(background, 5), (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.divide(gray, np.maximum(background, 1), scale=255)


def flatten(gray: np.ndarray, small: np.ndarray | None = None) -> Flat | None:
    """``gray`` (a raster page) flattened and evenly lit if it is a photo of a page, else None.

    ``small`` is a downscaled copy of ``gray`` (ocr.triage.work_copy), if the caller has one; the outline is
    searched on a copy of DETECT_SIZE made from it. The flat page's resolution comes from its size (A4), not
    from the file: a phone's JPEG records none, or 72 dpi.
    """
    small = detect_copy(small if small is not None else gray)
    found = detect(small)
    if found is None:
        return None
    if found.corners is None:  # the page fills the frame: at most A4 at 300 dpi, taking the frame for the page
        h, w = gray.shape
        scale = min(1.0, MAX_LONG_SIDE / max(h, w))
        if scale < 1:
            gray = cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        return Flat(even_light(gray), max(72, round(max(gray.shape) / _A4_LONG_INCHES)), None)
    corners = found.corners * (max(gray.shape) / max(small.shape))
    flat, flat_dpi = warp(gray, corners)
    if found.inverted:
        flat = cv2.bitwise_not(flat)
    page = even_light(flat)
    h, w = page.shape  # the edge of the table, where the outline fell a little outside the page: blank paper
    dy, dx = max(1, round(h * _BORDER)), max(1, round(w * _BORDER))
    page[:dy], page[h - dy :], page[:, :dx], page[:, w - dx :] = 255, 255, 255, 255
    return Flat(page, flat_dpi, corners)
