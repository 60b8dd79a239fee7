"""Page preparation (orientation, skew, fax noise), language choice, engines, parallel pages and the
searchable PDF, on pages rendered by the corpus generator and read by the real tesseract."""

from __future__ import annotations

import io
import random
from functools import cache

import numpy as np
import pikepdf
import pytest
from PIL import Image

from corpus import render
from corpus.letters import compose
from ground.settings import Settings
from ocr import extract, prepare, searchable_pdf, split_documents
from ocr.engine import TesseractEngine, TesserocrEngine, Word
from ocr.extract import LOW_CONFIDENCE, pick_languages, prepared, read_prepared, script_languages
from ocr.pages import iter_image_pages
from ocr.searchable import iter_pages
from tests.test_ocr import LETTER_CS, LETTER_RU, fax_tiff, image_pdf, png, text_layer_pdf, text_page

SETTINGS = Settings(ocr_page_timeout=60)


@cache
def letter_page(lang: str = "pl", seed: int = 3) -> tuple[Image.Image, str]:
    """A clean A4 page at 300 dpi of a generated letter, and its text."""
    rng = random.Random(f"test-ocr-prepare:{seed}")
    letter = compose(rng, lang, "complaint")
    lay = render.layout(letter.blocks, "sans", 11.5)
    page = lay.pages[0]
    return render.rasterize(page, lay, 300), "\n".join(p.text for p in page)


def cer(text: str, truth: str) -> float:
    from rapidfuzz.distance import Levenshtein

    t = " ".join(truth.split())
    return Levenshtein.distance(" ".join(text.split()), t) / len(t)


def skewed(image: Image.Image, angle: float) -> Image.Image:
    return Image.fromarray(prepare.rotate(np.asarray(image), angle), "L")


def read(image: Image.Image) -> str:
    return extract(png(image), "image/png", settings=SETTINGS).text


# ---------------------------------------------------------------- measuring, without OCR


@pytest.mark.parametrize("angle", [-7.0, -4.0, 1.5, 4.0, 9.0])
def test_skew_is_measured_within_a_third_of_a_degree(angle: float) -> None:
    image, _ = letter_page()
    lines = prepare.find_lines(np.asarray(skewed(image, angle)))
    assert not lines.vertical
    assert lines.angle == pytest.approx(angle, abs=0.3)


def test_a_page_turned_by_90_degrees_has_vertical_lines() -> None:
    image, _ = letter_page()
    for turned in (image.transpose(Image.Transpose.ROTATE_90), image.transpose(Image.Transpose.ROTATE_270)):
        assert prepare.find_lines(np.asarray(turned)).vertical
    assert not prepare.find_lines(np.asarray(image.transpose(Image.Transpose.ROTATE_180))).vertical


def test_despeckle_removes_lone_pixels_and_keeps_strokes() -> None:
    page = np.asarray(text_page(("Faktura FV/2026/10/004512",), size=(900, 160), font_px=30)).copy()
    page = np.where(page > 160, 255, 0).astype(np.uint8)
    ink_before = int((page < 128).sum())
    rng = np.random.default_rng(1)
    noisy = page.copy()
    ys, xs = rng.integers(0, 160, 300), rng.integers(0, 900, 300)
    noisy[ys, xs] = 0
    cleaned = prepare.despeckle(noisy)
    assert abs(int((cleaned < 128).sum()) - ink_before) < 0.01 * ink_before
    assert (cleaned[page == 0] == 0).all()  # no stroke pixel was removed


def test_a_fax_head_streak_is_removed_and_the_strokes_it_crosses_are_kept() -> None:
    page = np.asarray(text_page(("Faktura FV/2026/10/004512", "Termin 14 dni"), size=(900, 300), font_px=30)).copy()
    page = np.where(page > 160, 255, 0).astype(np.uint8)
    assert prepare.remove_streaks(page) is page  # nothing to remove: the page is left alone
    streaked = page.copy()
    rng = np.random.default_rng(2)
    x = 400  # a dotted one-pixel line down the whole page, through the letters
    streaked[rng.random(300) < 0.6, x] = 0
    cleaned = prepare.remove_streaks(streaked)
    assert (cleaned[page == 0] == 0).all()  # every stroke pixel is still there
    added = (streaked < 128) & (page >= 128)
    left = (cleaned < 128) & (page >= 128)
    assert left.sum() <= 0.05 * added.sum()  # the streak is gone but for pixels touching a stroke


def test_pages_are_read_with_lines_of_about_34_pixels_but_never_below_200_dpi() -> None:
    def boxes(height: int) -> list[tuple[int, int, int, int]]:
        return [(100, 200 + 80 * i, 1800, height) for i in range(20)]

    assert prepare.READ_LINE_HEIGHT == 34
    assert prepare.read_scale(boxes(47), 300) == pytest.approx(34 / 47)  # 11-12 pt at 300 dpi: ≈ 217 dpi
    assert prepare.read_scale(boxes(60), 300) == pytest.approx(200 / 300)  # noise-swollen lines: never < 200 dpi
    assert prepare.read_scale(boxes(35), 300) == 1.0  # small print keeps its resolution
    assert prepare.read_scale(boxes(94), 600) == pytest.approx(34 / 94)
    assert prepare.read_scale(boxes(47)[:3], 300) == 1.0  # too few lines to tell


def test_a_page_read_smaller_gives_word_boxes_in_the_pixels_of_the_page() -> None:
    image, truth = letter_page("pl")
    page = next(iter_image_pages(png(image), SETTINGS))
    engine = TesserocrEngine()
    small, full = prepare.Prep(), prepare.Prep(rescale=False)
    ready = prepared(page, SETTINGS, engine, small)
    assert 200 / 300 <= ready.scale < 0.9 and ready.image.size == image.size
    got = read_prepared(ready, SETTINGS, engine, small, words=True)
    ref = read_prepared(prepared(page, SETTINGS, engine, full), SETTINGS, engine, full, words=True)
    assert cer(got.text, truth) <= cer(ref.text, truth) + 0.005
    assert got.words and ref.words

    def unique(words: list[Word]) -> dict[str, tuple[int, int, int, int]]:
        texts = [w.text for w in words]
        return {w.text: w.box for w in words if texts.count(w.text) == 1 and len(w.text) >= 6}

    mine, theirs = unique(got.words), unique(ref.words)
    shared = [t for t in mine if t in theirs]
    assert len(shared) > 20
    errors = [abs(a - b) for t in shared for a, b in zip(mine[t], theirs[t], strict=True)]
    assert float(np.median(errors)) <= 3 and max(errors) <= 12


def test_fax_fine_mode_keeps_its_square_pixels_and_standard_mode_is_stretched() -> None:
    standard = next(iter_image_pages(fax_tiff(1), SETTINGS))
    assert standard.image.size == (1728, 375) and standard.bilevel
    frame = text_page(("Faks",), size=(1728, 360)).point(lambda v: 255 if v > 160 else 0).convert("1")
    buf = io.BytesIO()
    frame.save(buf, "TIFF", compression="group4", dpi=(204, 196))
    fine = next(iter_image_pages(buf.getvalue(), SETTINGS))
    assert fine.image.size == (1728, 360) and fine.dpi == 204


def test_language_is_chosen_from_the_letters_of_a_strip() -> None:
    every = "pol+ces+rus+eng"
    assert pick_languages("Proszę o korektę faktury za wrzesień, ponieważ kwota się nie zgadza.", every) == "pol"
    assert pick_languages("Žádám o opravu faktury za září, protože částka neodpovídá smlouvě.", every) == "ces"
    assert pick_languages("Прошу исправить счёт за сентябрь, так как сумма не совпадает.", every) == "eng+rus"
    assert pick_languages("Please correct the invoice for September, as the amount is wrong for my plan.",
                          every) == "eng"
    assert pick_languages("Faktura nr 12", every) == every  # too little to tell
    assert pick_languages("Prosze o korekte faktury za wrzesien bo kwota sie nie zgadza z umowa", every) \
        == "pol+ces+eng"  # Latin without telling letters: the Latin languages, never a guess
    assert pick_languages("Прошу исправить счёт за сентябрь, так как сумма не совпадает.", "pol+eng") == "pol+eng"


# ---------------------------------------------------------------- reading prepared pages


def test_page_upside_down_is_read_correctly() -> None:
    image, truth = letter_page("pl")
    assert cer(read(image.transpose(Image.Transpose.ROTATE_180)), truth) < 0.02


def test_page_turned_by_90_degrees_is_read_correctly() -> None:
    image, truth = letter_page("ru", seed=4)
    assert cer(read(image.transpose(Image.Transpose.ROTATE_90)), truth) < 0.02


def test_page_skewed_4_degrees_is_read_correctly() -> None:
    image, truth = letter_page("cs", seed=5)
    assert cer(read(skewed(image, 4.0)), truth) < 0.02


class CountingTesserocr(TesserocrEngine):
    """The real persistent engine, counting its recognitions (a page should cost exactly one)."""

    def __init__(self) -> None:
        super().__init__()
        self.readings = 0

    def read_gray(self, *args, **kwargs):  # type: ignore[no-untyped-def]  # read_page goes through it too
        self.readings += 1
        return super().read_gray(*args, **kwargs)


@pytest.mark.parametrize("lang,seed,turn", [("pl", 3, Image.Transpose.ROTATE_180), ("ru", 4, Image.Transpose.ROTATE_90),
                                            ("en", 6, Image.Transpose.ROTATE_270), ("cs", 5, None)])
def test_osd_turns_the_page_upright_before_the_one_and_only_reading(lang: str, seed: int, turn: Image.Transpose | None
                                                                   ) -> None:
    image, truth = letter_page(lang, seed)
    engine = CountingTesserocr()
    page = next(iter_image_pages(png(image.transpose(turn) if turn else image), SETTINGS))
    ready = prepared(page, SETTINGS, engine, prepare.Prep())
    assert ready.upright_known and ready.image.size == image.size
    assert ready.languages == ("eng+rus" if lang == "ru" else "pol+ces+eng")  # the script OSD found
    text = extract(png(image.transpose(turn) if turn else image), "image/png", settings=SETTINGS, engine=engine).text
    assert engine.readings == 1
    assert cer(text, truth) < 0.02


def test_languages_follow_the_script() -> None:
    every = "pol+ces+rus+eng"
    assert script_languages("Cyrillic", every) == "eng+rus"
    assert script_languages("Latin", every) == "pol+ces+eng"
    assert script_languages("Greek", every) == every
    assert script_languages("Cyrillic", "pol+eng") == "pol+eng"  # no Cyrillic language configured: keep all
    assert script_languages("Latin", "rus") == "rus"


def test_nonsense_is_flagged_low_confidence() -> None:
    rng = np.random.default_rng(3)
    arr = np.full((900, 1500), 255, np.uint8)
    for _ in range(400):  # short dark dashes and blots in rows: tesseract tries to read them
        y, x = int(rng.integers(50, 850)), int(rng.integers(50, 1400))
        arr[y : y + int(rng.integers(4, 30)), x : x + int(rng.integers(4, 60))] = 0
    (page,) = extract(png(Image.fromarray(arr)), "image/png", settings=SETTINGS).pages
    assert LOW_CONFIDENCE in page.flags
    (good,) = extract(png(text_page(tuple(LETTER_CS))), "image/png", settings=SETTINGS).pages
    assert LOW_CONFIDENCE not in good.flags


def test_both_engines_read_the_same_page() -> None:
    image = text_page(tuple(LETTER_RU))
    image.info["dpi"] = (300, 300)
    cli = TesseractEngine().read_page(image, "eng+rus", 30)
    lib = TesserocrEngine().read_page(image, "eng+rus", 30)
    assert "MR-1112223" in cli.text and "MR-1112223" in lib.text
    assert lib.confidence is not None and lib.confidence > 80


def test_pages_of_a_fax_read_in_parallel_processes_equal_the_sequential_reading() -> None:
    data = fax_tiff(3)
    one = extract(data, "image/tiff", settings=SETTINGS, workers=1)
    two = extract(data, "image/tiff", settings=SETTINGS, workers=2)
    assert [p.number for p in two.pages] == [1, 2, 3]
    assert [p.text for p in two.pages] == [p.text for p in one.pages]
    assert "strona 3" in two.pages[2].text


# ---------------------------------------------------------------- searchable PDF


def test_searchable_pdf_of_a_fax_has_the_text_on_each_page() -> None:
    out = searchable_pdf(fax_tiff(2), "image/tiff", settings=SETTINGS)
    texts = list(iter_pages(out))
    assert len(texts) == 2
    for n, text in enumerate(texts, 1):
        assert f"strona {n}" in text and "FV/2026/10/004512" in text
    with pikepdf.open(io.BytesIO(out)) as pdf:
        assert len(list(pdf.pages[0].images)) == 1  # the page image is kept under the text


def test_searchable_pdf_text_layer_comes_from_one_reading_of_the_upright_page() -> None:
    image, truth = letter_page("cs", seed=5)
    data = png(image.transpose(Image.Transpose.ROTATE_180))
    out = searchable_pdf(data, "image/png", settings=SETTINGS)
    (text,) = iter_pages(out)
    assert cer(text, truth) < 0.03  # words in reading order, with their gaps, on the upright page
    with pikepdf.open(io.BytesIO(out)) as pdf:
        page = pdf.pages[0]
        (image_obj,) = page.images.values()
        assert image_obj.Filter == "/DCTDecode" and image_obj.Width == image.width
        assert str(page.Resources.Font["/F1"].BaseFont) == "/GlyphLessFont"
        assert float(page.MediaBox[2]) == pytest.approx(image.width / 300 * 72, abs=0.5)


def test_searchable_pdf_keeps_text_pages_and_ocrs_scanned_ones() -> None:
    text_pages = text_layer_pdf(LETTER_CS)
    scan = image_pdf(text_page(tuple(LETTER_RU), size=(1500, 300)))
    merged = pikepdf.new()
    for part in (text_pages, scan):
        with pikepdf.open(io.BytesIO(part)) as src:
            merged.pages.extend(src.pages)
    buf = io.BytesIO()
    merged.save(buf)
    texts = list(iter_pages(searchable_pdf(buf.getvalue(), "application/pdf", settings=SETTINGS)))
    assert "MR-7654321" in texts[0] and "MR-1112223" in texts[1]
    assert len(split_documents(extract(buf.getvalue(), "application/pdf", settings=SETTINGS))) == 1
