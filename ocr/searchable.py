"""Searchable PDF for the archive: each page's image with an invisible text layer.

Pages that already carry a usable text layer are copied from the source PDF unchanged. The other pages
are prepared like for OCR (turned upright, deskewed, fax pixels squared) and read ONCE by the persistent
engine; the text layer is written from that reading's word boxes the way tesseract's own PDF renderer
writes it (its glyph-less font ``pdf.ttf``, one invisible word per box, stretched to the box), so the
archive copy costs one recognition plus the image encoding, not a second OCR pass. Engines without word
boxes (the tesseract CLI) fall back to tesseract's PDF renderer.
"""

from __future__ import annotations

import io
import tempfile
import zlib
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
import pikepdf
import pytesseract
from PIL import Image

from ground.errors import ConfigError, UnsupportedInput
from ground.settings import Settings, get_settings
from ocr.engine import OcrEngine, OcrFailed, OcrTimeout, Word, _check_languages, _dpi, _tessdata_dir
from ocr.extract import _open_text_layer, _page_text_layer, default_engine, flat_photo, prepared, read_prepared
from ocr.pages import PageImage, iter_image_pages, open_pdf, render_pdf_page
from ocr.prepare import Prep
from ocr.sniff import IMAGE_TYPES, PDF, sniff_type
from ocr.triage import is_blank, work_copy

JPEG_QUALITY = 80  # greyscale page images; bilevel (fax) pages are kept 1-bit, Flate-compressed
_FONT = "/F1"


def searchable_pdf(data: bytes, content_type: str = "", *, settings: Settings | None = None,
                   prep: Prep | None = None) -> bytes:
    """A PDF of every page of a scan, image, fax or PDF with a text layer a search engine can read.

    Raises UnsupportedInput for text and e-mail, and the errors of ocr.extract for unreadable files.
    """
    settings = settings or get_settings()
    prep = prep or Prep()
    engine = default_engine(getattr(settings, "ocr_engine", "auto"))
    kind = sniff_type(data)
    out = pikepdf.new()
    writer = _Writer(out)
    if kind == PDF:
        source = pikepdf.open(io.BytesIO(data))
        pdf = open_pdf(data, settings)
        layer = _open_text_layer(data)
        try:
            for index in range(len(pdf)):
                text = _page_text_layer(layer, index) if layer is not None else None
                if text is not None:
                    out.pages.append(source.pages[index])
                else:
                    _add_page(writer, render_pdf_page(pdf, index, settings), settings, engine, prep)
        finally:
            if layer is not None:
                layer.close()
            pdf.close()
    elif kind in IMAGE_TYPES:
        for page in iter_image_pages(data, settings):
            _add_page(writer, page, settings, engine, prep)
    else:
        raise UnsupportedInput("Only scans, images, faxes and PDFs can be made into a searchable PDF.")
    buf = io.BytesIO()
    out.save(buf)
    return buf.getvalue()


def _add_page(writer: _Writer, page: PageImage, settings: Settings, engine: OcrEngine, prep: Prep) -> None:
    work = work_copy(page.image)
    if prep.photo:
        page, work = flat_photo(page, work)  # a phone photo becomes a flat, evenly lit page first
    blank = is_blank(work)
    if blank:
        prep = Prep(orient=False, deskew=False, despeckle=False, script=False)
    ready = prepared(page, settings, engine, prep, work)
    if not getattr(engine, "word_boxes", False):  # no word boxes from this engine: tesseract's own renderer
        writer.append_pdf(_tesseract_pdf(ready.image, ready.languages, settings))
        return
    words = [] if blank else (read_prepared(ready, settings, engine, prep, words=True).words or [])
    writer.add(ready.image, ready.dpi, page.bilevel, words)


def _tesseract_pdf(image: Image.Image, languages: str, settings: Settings) -> bytes:
    _check_languages(languages)
    config = f"--psm 3 --dpi {_dpi(image) or 300}"
    with tempfile.NamedTemporaryFile(suffix=".bmp") as tmp:
        image.save(tmp.name, format="BMP")
        try:
            return pytesseract.image_to_pdf_or_hocr(tmp.name, lang=languages, config=config, extension="pdf",
                                                    timeout=settings.ocr_page_timeout)
        except pytesseract.TesseractError as exc:
            raise OcrFailed(f"tesseract failed: {exc.message.strip()[:300]}") from exc
        except RuntimeError as exc:
            raise OcrTimeout(f"tesseract took longer than {settings.ocr_page_timeout:g} s") from exc


class _Writer:
    """Adds image pages with an invisible text layer to one output PDF (the font is shared by all pages)."""

    def __init__(self, pdf: pikepdf.Pdf) -> None:
        self.pdf = pdf
        self._font: pikepdf.Object | None = None

    def append_pdf(self, page_pdf: bytes) -> None:
        with pikepdf.open(io.BytesIO(page_pdf)) as one:
            self.pdf.pages.extend(one.pages)

    def add(self, image: Image.Image, dpi: int, bilevel: bool, words: list[Word]) -> None:
        gray = np.asarray(image.convert("L"))
        height, width = gray.shape
        scale = 72.0 / dpi
        w_pt, h_pt = width * scale, height * scale
        content = [f"q {w_pt:.2f} 0 0 {h_pt:.2f} 0 0 cm /Im0 Do Q".encode()]
        resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=self._image(gray, bilevel)))
        if words:
            content.append(_text_layer(words, scale, height))
            resources.Font = pikepdf.Dictionary({_FONT: self.font()})
        page = pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=[0, 0, round(w_pt, 2), round(h_pt, 2)],
                                  Resources=resources,
                                  Contents=pikepdf.Stream(self.pdf, zlib.compress(b"\n".join(content)),
                                                          Filter=pikepdf.Name.FlateDecode))
        self.pdf.pages.append(pikepdf.Page(page))

    def _image(self, gray: np.ndarray, bilevel: bool) -> pikepdf.Stream:
        height, width = gray.shape
        if bilevel:  # 1 bit per pixel, 1 = white in DeviceGray
            data, bits, filt = zlib.compress(np.packbits(gray >= 128, axis=1).tobytes(), 6), 1, "/FlateDecode"
        else:
            buf = io.BytesIO()
            Image.fromarray(gray, "L").save(buf, format="JPEG", quality=JPEG_QUALITY)
            data, bits, filt = buf.getvalue(), 8, "/DCTDecode"
        return pikepdf.Stream(self.pdf, data, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image,
                              Width=width, Height=height, ColorSpace=pikepdf.Name.DeviceGray,
                              BitsPerComponent=bits, Filter=pikepdf.Name(filt))

    def font(self) -> pikepdf.Object:
        """Tesseract's GlyphLessFont as a Type0 font: character code = Unicode (UTF-16BE), every glyph
        invisible and half an em wide, so a word is stretched onto its box with the Tz operator."""
        if self._font is None:
            pdf = self.pdf
            descriptor = pdf.make_indirect(pikepdf.Dictionary(
                Type=pikepdf.Name.FontDescriptor, FontName=pikepdf.Name.GlyphLessFont, Flags=5,
                FontBBox=[0, 0, 500, 1000], ItalicAngle=0, Ascent=1000, Descent=-1, CapHeight=1000, StemV=80,
                FontFile2=pikepdf.Stream(pdf, zlib.compress(_glyphless_font()), Filter=pikepdf.Name.FlateDecode),
            ))
            cid_font = pdf.make_indirect(pikepdf.Dictionary(
                Type=pikepdf.Name.Font, Subtype=pikepdf.Name.CIDFontType2, BaseFont=pikepdf.Name.GlyphLessFont,
                CIDSystemInfo=pikepdf.Dictionary(Registry="Adobe", Ordering="Identity", Supplement=0),
                FontDescriptor=descriptor, DW=500,
                CIDToGIDMap=pikepdf.Stream(pdf, zlib.compress(b"\x00\x01" * 65536), Filter=pikepdf.Name.FlateDecode),
            ))
            self._font = pdf.make_indirect(pikepdf.Dictionary(
                Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type0, BaseFont=pikepdf.Name.GlyphLessFont,
                Encoding=pikepdf.Name("/Identity-H"), DescendantFonts=[cid_font],
                ToUnicode=pikepdf.Stream(pdf, _TO_UNICODE),
            ))
        return self._font


_TO_UNICODE = b"""/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identify-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
1 beginbfrange
<0000> <FFFF> <0000>
endbfrange
endcmap
CMapName currentdict /CMap defineresource pop
end
end
"""


@lru_cache(maxsize=1)
def _glyphless_font() -> bytes:
    path = Path(_tessdata_dir()) / "pdf.ttf"
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"tesseract's glyph-less font {path} is missing; reinstall tesseract-ocr.") from exc


def _text_layer(words: list[Word], scale: float, height: int) -> bytes:
    """Invisible text (render mode 3): each word at its line's baseline and height, stretched to reach the
    next word of its line (with a space, so extracted text keeps word gaps) or its own right edge."""
    ops = ["BT", "3 Tr"]
    for i, word in enumerate(words):
        x0, _, x1, _ = word.box
        _, ly0, _, ly1 = word.line
        size = max(1.0, (ly1 - ly0) * scale)
        text = "".join(c for c in word.text if ord(c) <= 0xFFFF)
        if not text:
            continue
        following = words[i + 1] if i + 1 < len(words) else None
        if following is not None and following.line == word.line and following.box[0] > x1:
            text += " "
            x1 = following.box[0]
        stretch = 100.0 * max(1, x1 - x0) * scale / (len(text) * size * 0.5)
        hexed = "".join(f"{ord(c):04X}" for c in text)
        ops.append(f"{_FONT} {size:.2f} Tf {stretch:.2f} Tz 1 0 0 1 {x0 * scale:.2f} {(height - ly1) * scale:.2f} Tm "
                   f"<{hexed}> Tj")
    ops.append("ET")
    return "\n".join(ops).encode()


def iter_pages(pdf_bytes: bytes) -> Iterator[str]:
    """The text of each page of a PDF (for checking a searchable PDF)."""
    import pdfplumber

    with pdfplumber.open(io.BytesIO(pdf_bytes)) as pdf:
        for page in pdf.pages:
            yield page.extract_text() or ""
