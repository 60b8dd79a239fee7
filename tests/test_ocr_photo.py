"""Phone photos of letters (ocr.photo): the page outline is found, scans are left alone, and photographed
letters read as well as scans. The photos are simulated by bench.photos (the bench's ``photo`` form) from
letters of the corpus generator and read by the real tesseract."""

from __future__ import annotations

import io
import random
from functools import cache

import numpy as np
import pytest
from PIL import Image, ImageDraw
from rapidfuzz.distance import Levenshtein

from bench.photos import Photo, phone_photo
from corpus import render
from corpus.letters import compose
from ground.settings import Settings
from ocr import extract, photo
from ocr.extract import flat_photo
from ocr.pages import PageImage, iter_image_pages
from ocr.triage import work_copy

SETTINGS = Settings(ocr_page_timeout=120)
LANDSCAPE = (4000, 3000)


@cache
def letter(lang: str, seed: int = 1) -> tuple[Image.Image, str]:
    """A clean A4 page at 300 dpi of a generated letter, and its text."""
    rng = random.Random(f"test-ocr-photo:{lang}:{seed}")
    lay = render.layout(compose(rng, lang, "complaint").blocks, "sans", 11.5)
    page = lay.pages[0]
    return render.rasterize(page, lay, 300), "\n".join(p.text for p in page)


@cache
def photographed(lang: str, seed: int = 1, frame: tuple[int, int] | None = None, turned: bool = False
                 ) -> tuple[Photo, bytes]:
    """A simulated phone photo of ``letter(lang, seed)`` and its JPEG, as the customer sends it."""
    page, _ = letter(lang, seed)
    if turned:
        page = page.transpose(Image.Transpose.ROTATE_90)
    rng = random.Random(f"test-ocr-photo:shot:{lang}:{seed}:{frame}:{turned}")
    shot = phone_photo(page, rng, frame) if frame else phone_photo(page, rng)
    return shot, shot.jpeg()


def decoded(data: bytes) -> PageImage:
    """The page as the OCR path receives it (decoded, grey, inverted when mostly dark)."""
    return next(iter_image_pages(data, SETTINGS))


def cer(text: str, truth: str) -> float:
    t = " ".join(truth.split())
    return Levenshtein.distance(" ".join(text.split()), t) / len(t)


def corner_error(found: np.ndarray, truth: np.ndarray) -> float:
    """The largest distance between found and true corners, as a share of the page's diagonal."""
    truth = photo.order_corners(truth)
    diagonal = float(np.linalg.norm(truth[2] - truth[0]))
    return float(np.linalg.norm(photo.order_corners(found) - truth, axis=1).max()) / diagonal


# ---------------------------------------------------------------- finding the page


@pytest.mark.parametrize("lang,seed,frame,turned", [
    ("en", 1, None, False),
    ("pl", 2, None, False),
    ("ru", 3, None, False),
    ("cs", 4, LANDSCAPE, False),  # the phone held sideways: the dark table fills most of the frame
    ("en", 5, None, True),  # the page lies across an upright frame
])
def test_the_page_outline_is_found_within_two_percent_of_the_true_corners(
        lang: str, seed: int, frame: tuple[int, int] | None, turned: bool) -> None:
    shot, data = photographed(lang, seed, frame, turned)
    page = decoded(data)
    small = photo.detect_copy(work_copy(page.image))
    found = photo.detect(small)
    assert found is not None and found.corners is not None
    corners = found.corners * (max(page.image.size) / max(small.shape))
    assert corner_error(corners, shot.corners) <= 0.02


def test_a_photo_is_warped_to_a_flat_page_of_a4_aspect_at_no_more_than_300_dpi() -> None:
    _, data = photographed("pl", 2)
    page = decoded(data)
    flat = photo.flatten(np.asarray(page.image), work_copy(page.image))
    assert flat is not None and flat.corners is not None
    h, w = flat.gray.shape
    assert h / w == pytest.approx(2**0.5, rel=0.01)
    assert h <= 3508 and w <= 2480 and 200 <= flat.dpi <= 300
    paper = flat.gray[h // 20 : h // 10, w // 10 : -w // 10]  # the top margin, wherever the light fell
    assert np.percentile(paper, 50) >= 235


def test_flat_scans_are_not_taken_for_photos() -> None:
    page, _ = letter("pl")
    rng = random.Random("test-ocr-photo:scans")
    framed = page.copy()
    ImageDraw.Draw(framed).rectangle([150, 200, page.width - 150, page.height - 300], outline=0, width=8)
    boxed = page.copy()
    ImageDraw.Draw(boxed).rectangle([250, 1500, page.width - 250, 2900], fill=25)
    scans = {
        "clean": page,
        "noisy": render.scan_effects(page, rng, strength=1.3),
        "skewed": page.rotate(4.5, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255),
        "turned": page.transpose(Image.Transpose.ROTATE_90),
        "framed": framed,
        "dark box": boxed,
        "grey paper": render.scan_effects(render.blank_page(rng), rng),
    }
    for name, image in scans.items():
        buf = io.BytesIO()
        image.save(buf, format="PNG", dpi=(300, 300))
        scanned = decoded(buf.getvalue())
        work = work_copy(scanned.image)
        assert photo.detect(photo.detect_copy(work)) is None, name
        assert flat_photo(scanned, work)[0] is scanned, name


def test_a_page_filling_the_frame_under_a_lamp_has_its_light_evened() -> None:
    page, _ = letter("en")
    h, w = page.height, page.width
    falloff = np.linspace(1.0, 0.55, w, dtype=np.float32)[None, :] * np.linspace(1.0, 0.8, h, dtype=np.float32)[:, None]
    lit = (np.asarray(page, np.float32) * 0.9 * falloff).astype(np.uint8)
    small = photo.detect_copy(lit)
    assert photo.find_page(small) is None and photo.uneven_light(small)
    flat = photo.flatten(lit)
    assert flat is not None and flat.corners is None and flat.gray.shape == lit.shape
    assert np.percentile(flat.gray[h // 20 : h // 10, -w // 5 :], 50) >= 235  # the dim corner's paper is white


# ---------------------------------------------------------------- reading


@pytest.mark.parametrize("lang", ["pl", "cs", "ru", "en"])
def test_a_photographed_letter_reads_like_a_scan(lang: str) -> None:
    _, truth = letter(lang)
    _, data = photographed(lang)
    result = extract(data, "image/jpeg", settings=SETTINGS)
    assert cer(result.text, truth) <= 0.03


def test_a_photo_whose_table_fills_most_of_the_frame_reads_too() -> None:
    _, truth = letter("cs", 4)
    _, data = photographed("cs", 4, LANDSCAPE)
    assert cer(extract(data, "image/jpeg", settings=SETTINGS).text, truth) <= 0.03
