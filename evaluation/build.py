"""Turn the independent letters into intake files, the way they reach a mailroom.

    .venv/bin/python -m evaluation.build OUT [--forms eml,pdf,png] [--languages pl,cs,ru,en]

For every letter of ``evaluation/letters`` (or the languages given) it writes, deterministically:

* ``<stem>.eml``: a plain e-mail with the letter as its body. The transfer encoding and charset rotate
  through the letters of a language: UTF-8 8-bit, UTF-8 quoted-printable, and 8-bit in the language's
  legacy charset (koi8-r or windows-1251 for Russian, iso-8859-2 or windows-1250 for Polish and Czech;
  half of the legacy ones without a declared charset, as older gateways send them; dashes and quotes the
  legacy charset lacks become ASCII, as old clients do). English letters rotate through UTF-8 8-bit,
  UTF-8 quoted-printable and UTF-8 base64.
* ``<stem>.pdf``: a text PDF (reportlab) with a layout of its own: a letterhead rule, DejaVu Sans or
  Serif at 9.5-13 pt, wide left margin, page numbers.
* ``<stem>.png``: a 300 dpi greyscale "scan" with another layout again (DejaVu Serif or Sans, other
  sizes and margins, a letterhead line), on grey paper with mild noise, specks and a small skew.

``manifest.json`` lists every file with its form, language, category and truth entities. An e-mail's
From: address is part of the document the pipeline reads, so it is added to that file's ``email``
truth (it is the first e-mail address of the letter when it has one).

This set is for measuring only: never train or tune on it (evaluation/README.md).
"""

from __future__ import annotations

import argparse
import email.policy
import hashlib
import io
import json
import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from evaluation.truth import LANGUAGES, ROOT, Letter, load_letters

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = {"sans": "DejaVuSans.ttf", "serif": "DejaVuSerif.ttf", "sans-bold": "DejaVuSans-Bold.ttf",
              "serif-bold": "DejaVuSerif-Bold.ttf"}
FORMS: tuple[str, ...] = ("eml", "pdf", "png")
FORM_NAMES = {"eml": "eml", "pdf": "text_pdf", "png": "scan_png"}
PAGE_W, PAGE_H = A4  # points
DPI = 300
LEGACY = {"ru": ("koi8-r", "windows-1251"), "pl": ("iso-8859-2", "windows-1250"),
          "cs": ("iso-8859-2", "windows-1250")}
SUBJECT = {"pl": "Pismo", "cs": "Dopis", "ru": "Письмо", "en": "Letter"}  # says nothing about the category
OPERATOR_MAIL = "poczta@operator.example"
EPOCH = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _seed(stem: str, what: str) -> int:
    return zlib.crc32(f"{stem}/{what}".encode())


# ---------------------------------------------------------------- e-mail


def _sender(letter: Letter) -> str:
    emails = letter.entities.get("email") or []
    return emails[0] if emails else f"{letter.stem.replace('_', '.')}@poczta.example"


def email_variant(letter: Letter, index: int) -> tuple[str, str, bool]:
    """(charset, transfer encoding, charset declared) of the index-th letter of its language."""
    if letter.language not in LEGACY:
        return ("utf-8", ("8bit", "quoted-printable", "base64")[index % 3], True)
    if index % 3 == 0:
        return ("utf-8", "8bit", True)
    if index % 3 == 1:
        return ("utf-8", "quoted-printable", True)
    choices = LEGACY[letter.language]
    preferred = choices[(index // 3) % 2]
    for charset in (preferred, *choices):  # a letter the legacy charset lacks ("№" in koi8-r): the other one
        if _encodes(plain_typography(letter.text), charset):
            return (charset, "8bit", (index // 6) % 2 == 0)
    return ("utf-8", "8bit", True)


# What an old mail client does with typography its 8-bit charset lacks (no truth value contains any of these).
PLAIN = str.maketrans({"–": "-", "—": "-", "−": "-", "„": '"', "”": '"', "“": '"', "«": '"', "»": '"', "•": "*",
                       "…": "...", "\u00a0": " ", "²": "2"})


def plain_typography(text: str) -> str:
    return text.translate(PLAIN)


def _encodes(text: str, charset: str) -> bool:
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        return False
    return True


def make_eml(letter: Letter, index: int) -> tuple[bytes, dict]:
    charset, cte, declared = email_variant(letter, index)
    when = EPOCH + timedelta(minutes=7 * index + _seed(letter.stem, "time") % 600)
    body = letter.text if letter.text.endswith("\n") else letter.text + "\n"
    simplified = charset != "utf-8" and not _encodes(body, charset)
    if simplified:
        body = plain_typography(body)
    headers = [
        f"From: {_sender(letter)}",
        f"To: {OPERATOR_MAIL}",
        f"Subject: {Header(SUBJECT[letter.language], charset if cte == '8bit' else 'utf-8').encode()}",
        f"Date: {format_datetime(when)}",
        f"Message-ID: <{hashlib.sha256(letter.stem.encode()).hexdigest()[:20]}@poczta.example>",
        "MIME-Version: 1.0",
    ]
    if cte == "8bit":
        ctype = f"text/plain; charset={charset}" if declared else "text/plain"
        data = ("\r\n".join([*headers, f"Content-Type: {ctype}", "Content-Transfer-Encoding: 8bit", "", ""])
                .encode("ascii", "strict") + body.replace("\r\n", "\n").replace("\n", "\r\n").encode(charset))
    else:
        msg = EmailMessage()
        for line in headers:
            name, _, value = line.partition(": ")
            msg[name] = SUBJECT[letter.language] if name == "Subject" else value
        msg.set_content(body, charset=charset, cte=cte)
        data = msg.as_bytes(policy=email.policy.SMTP)
    return data, {"charset": charset, "transfer_encoding": cte, "charset_declared": declared,
                  "typography_simplified": simplified}


# ---------------------------------------------------------------- layout shared by the PDF and the scan


@dataclass(frozen=True)
class Style:
    family: str  # "sans" | "serif"
    size: float  # points
    left: float
    right: float
    top: float  # below the letterhead
    bottom: float
    leading: float  # × size


@lru_cache(maxsize=32)
def _pil_font(family: str, px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / FONT_FILES[family]), px)


def _width(text: str, family: str, size: float) -> float:
    return _pil_font(family, 400).getlength(text) * size / 400


def _wrap(text: str, style: Style) -> list[str]:
    """Lines of the letter wrapped to the text width; empty lines kept (paragraphs)."""
    usable = PAGE_W - style.left - style.right
    out: list[str] = []
    for raw in text.splitlines():
        words = raw.split(" ")
        line = ""
        for word in words:
            trial = f"{line} {word}" if line else word
            if line and _width(trial, style.family, style.size) > usable:
                out.append(line)
                line = word
            else:
                line = trial
        out.append(line)
    return out


def _pages(text: str, style: Style) -> list[list[str]]:
    lines = _wrap(text, style)
    per_page = max(1, int((PAGE_H - style.top - style.bottom) // (style.size * style.leading)))
    return [lines[i : i + per_page] for i in range(0, len(lines), per_page)] or [[]]


def _fitting(text: str, style: Style, min_size: float = 8.5) -> Style:
    """The style at the largest size (down from its own) that puts the letter on one page."""
    size = style.size
    while size > min_size and len(_pages(text, Style(**{**style.__dict__, "size": size}))) > 1:
        size -= 0.5
    return Style(**{**style.__dict__, "size": size})


# ---------------------------------------------------------------- text PDF


@lru_cache(maxsize=8)
def _rl_font(family: str) -> str:
    name = f"Eval-{family}"
    pdfmetrics.registerFont(TTFont(name, str(FONT_DIR / FONT_FILES[family])))
    return name


def pdf_style(letter: Letter) -> Style:
    rng = random.Random(_seed(letter.stem, "pdf"))
    return Style(family=rng.choice(["sans", "serif"]), size=rng.choice([9.5, 10.0, 13.0]), left=95.0,
                 right=48.0, top=118.0, bottom=76.0, leading=rng.choice([1.25, 1.6]))


def make_pdf(letter: Letter) -> tuple[bytes, dict]:
    style = pdf_style(letter)
    pages = _pages(letter.text, style)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1, pageCompression=1)
    c.setTitle(letter.stem)
    for n, lines in enumerate(pages, 1):
        c.setLineWidth(2.2)  # the letterhead: a heavy and a hairline rule
        c.line(style.left, PAGE_H - 62, PAGE_W - style.right, PAGE_H - 62)
        c.setLineWidth(0.4)
        c.line(style.left, PAGE_H - 67, PAGE_W - style.right, PAGE_H - 67)
        c.setFont(_rl_font(style.family), style.size)
        y = PAGE_H - style.top
        for line in lines:
            c.drawString(style.left, y, line)
            y -= style.size * style.leading
        c.setFont(_rl_font("sans"), 8)
        c.drawRightString(PAGE_W - style.right, 40, f"{n}/{len(pages)}")
        c.showPage()
    c.save()
    return buf.getvalue(), {"font": style.family, "size": style.size, "pages": len(pages)}


# ---------------------------------------------------------------- 300 dpi scan


def png_style(letter: Letter) -> Style:
    rng = random.Random(_seed(letter.stem, "png"))
    return Style(family=rng.choice(["serif", "sans"]), size=rng.choice([10.0, 10.5, 12.5]), left=58.0,
                 right=88.0, top=132.0, bottom=60.0, leading=rng.choice([1.3, 1.5]))


def make_png(letter: Letter) -> tuple[bytes, dict]:
    style = _fitting(letter.text, png_style(letter))
    lines = _pages(letter.text, style)[0]
    scale = DPI / 72
    w, h = round(PAGE_W * scale), round(PAGE_H * scale)
    img = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(img)
    # letterhead: a solid band edge and a thin rule across the text width
    draw.rectangle([style.left * scale, 70 * scale, (PAGE_W - style.right) * scale, 74 * scale], fill=40)
    draw.line([style.left * scale, 80 * scale, (PAGE_W - style.right) * scale, 80 * scale], fill=90,
              width=max(1, round(0.6 * scale)))
    font = _pil_font(style.family, round(style.size * scale))
    y = style.top
    for line in lines:
        draw.text((style.left * scale, y * scale), line, fill=0, font=font, anchor="ls")
        y += style.size * style.leading
    rng = random.Random(_seed(letter.stem, "noise"))
    nrng = np.random.default_rng(_seed(letter.stem, "pixels"))
    img = img.filter(ImageFilter.GaussianBlur(radius=0.6))
    img = img.rotate(rng.uniform(-0.5, 0.5), resample=Image.Resampling.BILINEAR, fillcolor=255)
    arr = np.asarray(img, dtype=np.float32)
    paper = rng.uniform(232, 246)
    arr = arr * (paper / 255.0) + nrng.normal(0, 4.0, arr.shape)
    for _ in range(rng.randint(40, 160)):  # dust specks
        yy, xx, r = nrng.integers(0, h - 6), nrng.integers(0, w - 6), int(nrng.integers(1, 4))
        arr[yy : yy + r, xx : xx + r] = rng.uniform(40, 140)
    arr = np.round(arr / 6.0) * 6.0  # a scanner's coarse grey steps (and a file of a scan's size, not 5 MB)
    out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    buf = io.BytesIO()
    out.save(buf, format="PNG", dpi=(DPI, DPI), compress_level=3)
    return buf.getvalue(), {"font": style.family, "size": style.size}


# ---------------------------------------------------------------- the whole set


def _truth(letter: Letter, form: str) -> dict[str, list[str]]:
    entities = {k: list(v) for k, v in letter.entities.items()}
    if form == "eml":
        entities["email"] = sorted(set(entities.get("email", [])) | {_sender(letter)})
    return entities


def build(out: Path, forms: Sequence[str] = FORMS, languages: Sequence[str] = LANGUAGES,
          root: Path = ROOT) -> list[dict]:
    """Write the intake files and ``manifest.json`` into ``out``; return the manifest's records."""
    out.mkdir(parents=True, exist_ok=True)
    records: list[dict] = []
    by_language: dict[str, int] = {}
    for letter in load_letters(root, languages):
        index = by_language.get(letter.language, 0)
        by_language[letter.language] = index + 1
        for form in forms:
            if form == "eml":
                data, extra = make_eml(letter, index)
            elif form == "pdf":
                data, extra = make_pdf(letter)
            elif form == "png":
                data, extra = make_png(letter)
            else:
                raise ValueError(f"unknown form {form!r}; use {', '.join(FORMS)}")
            name = f"{letter.stem}.{form}"
            (out / name).write_bytes(data)
            records.append({"file": name, "stem": letter.stem, "form": FORM_NAMES[form], "language": letter.language,
                            "category": letter.category, **extra, "entities": _truth(letter, form)})
    manifest = {"source": "evaluation/letters", "forms": list(forms), "languages": list(languages),
                "files": records}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return records


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evaluation.build", description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="output folder (created if missing)")
    ap.add_argument("--forms", default=",".join(FORMS), help="comma-separated: eml, pdf, png")
    ap.add_argument("--languages", default=",".join(LANGUAGES), help="comma-separated: pl, cs, ru, en")
    args = ap.parse_args(argv)
    forms = [f.strip() for f in args.forms.split(",") if f.strip()]
    bad = [f for f in forms if f not in FORMS]
    if bad:
        ap.error(f"unknown form(s) {', '.join(bad)}; use {', '.join(FORMS)}")
    records = build(args.out, forms, [lang.strip() for lang in args.languages.split(",") if lang.strip()])
    print(f"{len(records)} files and manifest.json written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
