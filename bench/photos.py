"""Simulated phone photos of a letter: the page lies on a table, seen in perspective, under uneven light.

Used by ``bench.ocr`` (the ``photo`` form) and ``tests/test_ocr_photo.py``. A flat page rendered at 300 dpi
is placed on a textured table with a margin, its corners moved 3–10 % of the page's size, turned slightly,
lit by a gradient, a vignette and a soft shadow, blurred and given sensor noise, at 12 megapixels
(3000×4000), and saved as a JPEG of quality 85.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

PHOTO_SIZE = (3000, 4000)  # width, height: 12 MP, the phone held upright over the page
JPEG_QUALITY = 85


@dataclass
class Photo:
    """A simulated photo and where the page's corners landed in it."""

    image: Image.Image  # RGB
    corners: np.ndarray  # 4×2 float: the page's top-left, top-right, bottom-right, bottom-left, in photo pixels

    def jpeg(self, quality: int = JPEG_QUALITY) -> bytes:
        """The photo as a phone would send it (JPEG, no resolution recorded)."""
        buf = io.BytesIO()
        self.image.save(buf, format="JPEG", quality=quality)
        return buf.getvalue()


def _smooth_noise(nrng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int]) -> np.ndarray:
    """Noise with features of about shape/cells, in about -1..1."""
    coarse = nrng.standard_normal((cells[1], cells[0])).astype(np.float32)
    return cv2.resize(coarse, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC) / 1.5


def _table(nrng: np.random.Generator, rng: random.Random, shape: tuple[int, int]) -> np.ndarray:
    """A table top (H×W×3 reflectance, 0..1): wood grain or a dark speckled surface."""
    h, w = shape
    if rng.random() < 0.6:  # wood: long stripes of grain plus a few knots
        base = np.array([rng.uniform(0.35, 0.55), rng.uniform(0.22, 0.35), rng.uniform(0.12, 0.2)], np.float32)
        grain = _smooth_noise(nrng, (h, w), (6, 160)) * 0.5 + _smooth_noise(nrng, (h, w), (3, 600)) * 0.25
        if rng.random() < 0.5:
            grain = cv2.resize(grain.T.copy(), (w, h), interpolation=cv2.INTER_LINEAR)
        tone = 1.0 + 0.35 * grain + 0.15 * _smooth_noise(nrng, (h, w), (5, 4))
    else:  # dark laminate or a desk mat
        grey = rng.uniform(0.12, 0.3)
        base = np.array([grey, grey * rng.uniform(0.95, 1.05), grey * rng.uniform(0.95, 1.1)], np.float32)
        tone = 1.0 + 0.25 * _smooth_noise(nrng, (h, w), (12, 16)) + 0.12 * nrng.standard_normal((h, w)).astype(
            np.float32)
    return np.clip(tone[..., None] * base, 0.0, 1.0)


def _page_corners(rng: random.Random, page_size: tuple[int, int], frame: tuple[int, int]) -> np.ndarray:
    """Where the page's corners land: scaled into the frame, each corner moved 3–10 % of the page's size in a
    random direction, the whole turned by up to 4°, then kept inside the frame with a margin."""
    fw, fh = frame
    pw, ph = page_size
    scale = rng.uniform(0.72, 0.84) * min(fw / pw, fh / ph)
    w, h = pw * scale, ph * scale
    quad = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]], np.float64)
    for corner in quad:
        share, direction = rng.uniform(0.03, 0.10), rng.uniform(0, 2 * math.pi)
        corner += (share * w * math.cos(direction), share * h * math.sin(direction))
    angle = math.radians(rng.uniform(-4.0, 4.0))
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    quad = quad @ turn.T
    margin = 0.04 * fw
    span = quad.max(axis=0) - quad.min(axis=0)
    fit = min(1.0, (fw - 2 * margin) / span[0], (fh - 2 * margin) / span[1])
    quad *= fit
    low, high = margin - quad.min(axis=0), np.array([fw, fh]) - margin - quad.max(axis=0)
    centre = np.array([rng.uniform(low[0], high[0]), rng.uniform(low[1], high[1])])
    return quad + centre


def _light(nrng: np.random.Generator, rng: random.Random, shape: tuple[int, int], quad: np.ndarray) -> np.ndarray:
    """Illumination (H×W, about 0.4..1): a gradient across the frame, a vignette and a soft shadow over part of
    the page."""
    h, w = shape
    sh, sw = h // 8, w // 8  # the light is smooth: made on a small grid, then enlarged
    ys, xs = np.mgrid[0:sh, 0:sw].astype(np.float32)
    xs /= sw
    ys /= sh
    direction = rng.uniform(0, 2 * math.pi)
    along = (xs - 0.5) * math.cos(direction) + (ys - 0.5) * math.sin(direction)  # -0.7..0.7
    light = 1.0 - rng.uniform(0.2, 0.4) * (along + 0.7) / 1.4
    radius = (xs - 0.5) ** 2 + (ys - 0.5) ** 2  # 0..0.5
    light *= 1.0 - rng.uniform(0.25, 0.45) * radius / 0.5
    # a soft shadow (a hand, the phone): a half-plane over one side of the page with a blurred edge
    centre = quad.mean(axis=0) / (w, h)
    normal = rng.uniform(0, 2 * math.pi)
    nx, ny = math.cos(normal), math.sin(normal)
    reach = rng.uniform(0.2, 0.3)  # the shadow's edge lies this far (of the frame) from the page centre
    side = (xs - centre[0]) * nx + (ys - centre[1]) * ny - reach
    softness = rng.uniform(0.02, 0.05)
    depth = rng.uniform(0.2, 0.35)
    light *= 1.0 - depth / (1.0 + np.exp(-side / softness))
    light *= 1.0 + 0.03 * _smooth_noise(nrng, (sh, sw), (4, 5))
    return cv2.resize(light, (w, h), interpolation=cv2.INTER_LINEAR)


def phone_photo(page: Image.Image, rng: random.Random, frame: tuple[int, int] = PHOTO_SIZE) -> Photo:
    """A simulated phone photo (``frame``: width, height; default 12 MP upright) of ``page`` (a flat grey
    render, dark ink on white, any size)."""
    nrng = np.random.default_rng(rng.getrandbits(32))
    fw, fh = frame
    corners = _page_corners(rng, page.size, frame)
    pw, ph = page.size
    source = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    matrix = cv2.getPerspectiveTransform(source, corners.astype(np.float32))
    paper = np.asarray(page, np.float32) / 255.0
    paper = 0.06 + (rng.uniform(0.9, 0.97) - 0.06) * paper  # ink is never black, paper never quite white
    flat = cv2.warpPerspective(paper, matrix, (fw, fh), flags=cv2.INTER_LINEAR, borderValue=0.0)
    mask = cv2.warpPerspective(np.ones((ph, pw), np.float32), matrix, (fw, fh), flags=cv2.INTER_LINEAR,
                               borderValue=0.0)
    table = _table(nrng, rng, (fh, fw))
    # the page's own shadow on the table, a little down and to the right
    drop = cv2.GaussianBlur(cv2.resize(mask, (fw // 4, fh // 4), interpolation=cv2.INTER_AREA), (0, 0), 3)
    drop = np.roll(cv2.resize(drop, (fw, fh), interpolation=cv2.INTER_LINEAR), (8, 6), axis=(0, 1))
    table *= (1.0 - 0.45 * drop)[..., None]
    tint = np.array([1.0, rng.uniform(0.94, 0.99), rng.uniform(0.82, 0.95)], np.float32)  # warm indoor light
    scene = mask[..., None] * flat[..., None] * tint + (1.0 - mask[..., None]) * table
    exposure = rng.uniform(245, 265)
    scene *= (_light(nrng, rng, (fh, fw), corners) * exposure)[..., None]
    scene = cv2.GaussianBlur(scene, (0, 0), rng.uniform(0.7, 1.2))
    scene += nrng.standard_normal(scene.shape, dtype=np.float32) * np.float32(rng.uniform(2.0, 4.5))
    image = Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8), "RGB")
    return Photo(image, corners)
