"""Turn a composed letter into pages: a layout in points, then raster scans, faxes or a text PDF."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import cv2
import img2pdf
import numpy as np
import segno
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from corpus.errors import CorpusError
from corpus.letters import Block

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = {
    "sans": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    "serif": ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf"),
}
PAGE_W, PAGE_H = A4  # points
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 72.0, 62.0, 64.0, 64.0
SEPARATOR_PAYLOAD = "MAILROOM-SEPARATOR"  # the intake specification's default payload


@dataclass(frozen=True)
class Placed:
    text: str
    x: float  # points from the left edge
    y: float  # baseline, points from the top edge
    bold: bool


@dataclass(frozen=True)
class Layout:
    pages: list[list[Placed]]
    family: str
    size: float  # points


def font_path(family: str, bold: bool) -> Path:
    path = FONT_DIR / FONTS[family][int(bold)]
    if not path.exists():
        raise CorpusError(f"font {path} is missing; install the Debian package fonts-dejavu-core")
    return path


@lru_cache(maxsize=64)
def pil_font(family: str, bold: bool, px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path(family, bold)), px)


def text_width(text: str, family: str, bold: bool, size: float) -> float:
    return pil_font(family, bold, 200).getlength(text) * size / 200


def _wrap(text: str, width: float, family: str, bold: bool, size: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        trial = f"{current} {word}" if current else word
        if current and text_width(trial, family, bold, size) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    return lines


def layout(blocks: list[Block], family: str, size: float, pages: int = 1) -> Layout:
    """Lay the blocks out on A4 pages; with ``pages=2`` force a break before the middle paragraph."""
    leading = size * 1.42
    usable = PAGE_W - MARGIN_L - MARGIN_R
    para_idx = [i for i, b in enumerate(blocks) if b.kind == "para"]
    force_at = para_idx[len(para_idx) // 2] if pages >= 2 and len(para_idx) >= 2 else None
    out: list[list[Placed]] = [[]]
    y = MARGIN_T + size
    for i, b in enumerate(blocks):
        if i == force_at and out[-1]:
            out.append([])
            y = MARGIN_T + size
        elif i and out[-1]:
            y += leading * (0.9 if b.kind not in ("signature",) else 0.4)
            if b.kind == "subject":
                y += leading * 0.5
        lines = []
        for line in b.lines:
            lines.extend(_wrap(line, usable, family, b.bold, size) if b.kind == "para" else [line])
        for line in lines:
            if y > PAGE_H - MARGIN_B:
                out.append([])
                y = MARGIN_T + size
            w = text_width(line, family, b.bold, size)
            if b.align == "right" or (b.align == "indent" and PAGE_W * 0.52 + w > PAGE_W - MARGIN_R):
                x = PAGE_W - MARGIN_R - w
            elif b.align == "indent":
                x = PAGE_W * 0.52
            elif b.align == "center":
                x = (PAGE_W - w) / 2
            else:
                x = MARGIN_L
            out[-1].append(Placed(line, max(x, 24.0), y, b.bold))
            y += leading
    return Layout([p for p in out if p], family, size)


# ------------------------------------------------------------------ raster
def rasterize(page: list[Placed], lay: Layout, dpi: int) -> Image.Image:
    """Black text on white, 8-bit grayscale, A4 at ``dpi``."""
    scale = dpi / 72
    img = Image.new("L", (round(PAGE_W * scale), round(PAGE_H * scale)), 255)
    draw = ImageDraw.Draw(img)
    px = round(lay.size * scale)
    for p in page:
        draw.text((p.x * scale, p.y * scale), p.text, fill=0, font=pil_font(lay.family, p.bold, px), anchor="ls")
    return img


def scan_effects(img: Image.Image, rng: random.Random, strength: float = 1.0) -> Image.Image:
    """Make a clean render look scanned: grey paper, sensor noise, ink spread, specks and a small skew."""
    nrng = np.random.default_rng(rng.getrandbits(32))
    paper = rng.uniform(232, 248)
    ink = rng.uniform(18, 50)
    arr = np.asarray(img, dtype=np.float32)
    arr = ink + (paper - ink) / 255.0 * arr
    arr += nrng.standard_normal(arr.shape, dtype=np.float32) * np.float32(rng.uniform(3.0, 6.0) * strength)
    h, w = arr.shape
    n_specks = int(rng.uniform(150, 600) * strength)
    ys = nrng.integers(0, h - 4, n_specks)
    xs = nrng.integers(0, w - 4, n_specks)
    for yy, xx, s in zip(ys, xs, nrng.integers(1, 4, n_specks), strict=True):
        arr[yy : yy + s, xx : xx + s] = nrng.uniform(40, 160)
    arr = cv2.GaussianBlur(arr, (0, 0), rng.uniform(0.6, 0.9))
    angle = rng.uniform(-1.5, 1.5) * strength
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    arr = cv2.warpAffine(arr, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=float(paper))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")


def blank_page(rng: random.Random, dpi: int = 300) -> Image.Image:
    """The empty back of a duplex-scanned sheet: paper tone, noise and a few specks only."""
    img = Image.new("L", (round(PAGE_W * dpi / 72), round(PAGE_H * dpi / 72)), 255)
    return scan_effects(img, rng, strength=0.6)


def separator_page(rng: random.Random, dpi: int = 300) -> Image.Image:
    """A batch separator sheet: QR code with the separator payload and big text."""
    scale = dpi / 72
    img = Image.new("L", (round(PAGE_W * scale), round(PAGE_H * scale)), 255)
    qr = segno.make_qr(SEPARATOR_PAYLOAD, error="m")
    matrix = np.array([list(row) for row in qr.matrix], dtype=np.uint8)
    module = 22
    qr_img = Image.fromarray(np.where(matrix == 1, 0, 255).astype(np.uint8), "L")
    qr_img = qr_img.resize((qr_img.width * module, qr_img.height * module), Image.Resampling.NEAREST)
    img.paste(qr_img, ((img.width - qr_img.width) // 2, round(img.height * 0.22)))
    draw = ImageDraw.Draw(img)
    big = pil_font("sans", True, round(64 * scale))
    draw.text((img.width / 2, img.height * 0.62), "SEPARATOR", fill=0, font=big, anchor="mm")
    small = pil_font("sans", False, round(16 * scale))
    draw.text((img.width / 2, img.height * 0.70), "MAILROOM", fill=0, font=small, anchor="mm")
    return scan_effects(img, rng, strength=0.7)


def encode_jpeg(img: Image.Image, dpi: int = 300, quality: int = 80) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, dpi=(dpi, dpi))
    return buf.getvalue()


def encode_png(img: Image.Image, dpi: int = 300) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", dpi=(dpi, dpi), compress_level=3)
    return buf.getvalue()


def image_pdf(images: list[Image.Image], when: datetime) -> bytes:
    """An image-only PDF (what a scanner produces), one JPEG per page."""
    return img2pdf.convert([encode_jpeg(i) for i in images], engine=img2pdf.Engine.internal,
                           creationdate=when, moddate=when, producer="Mailroom corpus scanner")


def fax_pages(lay: Layout, rng: random.Random) -> list[Image.Image]:
    """Fax pages at 204x98 dpi, 1 bit: rendered at 204 dpi, rows resampled to 98 dpi, thresholded."""
    out = []
    for page in lay.pages:
        clean = rasterize(page, lay, 204)
        canvas_img = Image.new("L", (1728, clean.height), 255)
        canvas_img.paste(clean, ((1728 - clean.width) // 2, 0))
        img = canvas_img.rotate(rng.uniform(-0.8, 0.8), resample=Image.Resampling.BILINEAR, fillcolor=255)
        img = img.resize((1728, round(PAGE_H / 72 * 98)), Image.Resampling.LANCZOS)
        arr = np.asarray(img) < rng.uniform(150, 185)
        nrng = np.random.default_rng(rng.getrandbits(32))
        arr |= nrng.random(arr.shape) < 0.0004  # line noise: isolated black pixels
        if rng.random() < 0.5:  # a thin streak from a dirty scanner glass
            col = int(nrng.integers(100, 1600))
            arr[:, col] |= nrng.random(arr.shape[0]) < 0.6
        out.append(Image.fromarray(np.where(arr, 0, 255).astype(np.uint8), "L").convert("1", dither=None))
    return out


def encode_fax_tiff(pages: list[Image.Image]) -> bytes:
    buf = io.BytesIO()
    pages[0].save(buf, format="TIFF", compression="group4", dpi=(204, 98), save_all=True,
                  append_images=pages[1:])
    return buf.getvalue()


# ------------------------------------------------------------------ text PDF
@lru_cache(maxsize=8)
def _rl_font(family: str, bold: bool) -> str:
    name = f"DejaVu-{family}-{'bold' if bold else 'regular'}"
    pdfmetrics.registerFont(TTFont(name, str(font_path(family, bold))))
    return name


def text_pdf(lay: Layout, title: str, author: str) -> bytes:
    """A born-digital PDF with a real text layer (DejaVu embedded, so diacritics and Cyrillic extract)."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1, pageCompression=1)
    c.setTitle(title)
    c.setAuthor(author)
    c.setCreator("Mailroom corpus")
    for page in lay.pages:
        for p in page:
            c.setFont(_rl_font(lay.family, p.bold), lay.size)
            c.drawString(p.x, PAGE_H - p.y, p.text)
        c.showPage()
    c.save()
    return buf.getvalue()
