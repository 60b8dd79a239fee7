"""Turn a PDF, image or TIFF fax into page images, within pixel and page limits.

Every size is checked before anything is decoded (PDF page box × dpi, embedded image sizes,
image headers), so a decompression bomb is refused in milliseconds.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageOps

from mailroom.errors import CorruptInput, EncryptedPdf, MailroomError, TooLarge
from mailroom.settings import Settings, get_settings

# Pillow's own bomb guard, set at import so that it holds in every worker process, not only the API.
Image.MAX_IMAGE_PIXELS = get_settings().max_pixels

_ANISOTROPY = 1.1  # x/y resolution ratio above which pixels are rescaled to square (fax 204×98 dpi)
_DEFAULT_DPI = 300


@dataclass
class PageImage:
    number: int  # 1-based page number inside the source file
    image: Image.Image  # mode "L", dark ink on light paper, square pixels
    dpi: int
    bilevel: bool = False  # decoded from a 1-bit image (fax): its noise is lone pixels


# ---------------------------------------------------------------- PDF


def open_pdf(data: bytes, settings: Settings) -> pdfium.PdfDocument:
    """Open a PDF with PDFium, mapping its failures to typed errors and enforcing the page limit."""
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if exc.err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise EncryptedPdf("The PDF is password-protected; ask the sender for an unprotected copy.") from exc
        raise CorruptInput(
            "The PDF is damaged or incomplete and cannot be read; ask the sender for a new copy."
        ) from exc
    pages = len(pdf)
    if pages == 0:
        pdf.close()
        raise CorruptInput("The PDF has no pages; ask the sender for a new copy.")
    if pages > settings.max_pages:
        pdf.close()
        raise TooLarge(
            f"The PDF has {pages} pages, more than the limit of {settings.max_pages}; split it and send the parts."
        )
    return pdf


def render_pdf_page(pdf: pdfium.PdfDocument, index: int, settings: Settings, dpi: int | None = None) -> PageImage:
    """Render one page in grayscale at ``dpi`` (default settings.ocr_dpi) after checking its size."""
    dpi = dpi or settings.ocr_dpi
    number = index + 1
    try:
        page = pdf[index]
    except pdfium.PdfiumError as exc:
        raise CorruptInput(f"Page {number} of the PDF is damaged and cannot be read; ask for a new copy.") from exc
    try:
        width_pt, height_pt = page.get_size()
        scale = dpi / 72
        width, height = round(width_pt * scale), round(height_pt * scale)
        _check_pixels(width, height, settings, f"Page {number} of the PDF")
        _check_embedded_images(page, number, settings)
        try:
            bitmap = page.render(scale=scale, grayscale=True)
        except pdfium.PdfiumError as exc:
            raise CorruptInput(f"Page {number} of the PDF cannot be drawn; ask the sender for a new copy.") from exc
        image = bitmap.to_pil().convert("L")
        return PageImage(number=number, image=_normalise(image), dpi=dpi)
    finally:
        page.close()


def _check_embedded_images(page: pdfium.PdfPage, number: int, settings: Settings) -> None:
    """Refuse pages whose embedded images (a 'huge mono image' bomb) would decode to too many pixels."""
    total = 0
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=4):
        try:
            width, height = obj.get_px_size()
        except pdfium.PdfiumError:
            continue
        total += width * height
        if total > settings.max_pixels:
            raise TooLarge(
                f"Page {number} of the PDF holds images of more than {settings.max_pixels:,} pixels; "
                "ask the sender to scan it at a normal resolution (300 dpi)."
            )


# ---------------------------------------------------------------- images and TIFF faxes


def iter_image_pages(data: bytes, settings: Settings) -> Iterator[PageImage]:
    """Yield the pages of an image: every frame of a TIFF, the first frame of anything else."""
    try:
        with warnings.catch_warnings():
            # Sizes are checked against settings.max_pixels below; Pillow still raises past twice its limit.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise TooLarge(_too_many_pixels("The image", settings)) from exc
    except Exception as exc:  # see _reraise_own
        _reraise_own(exc)
        raise CorruptInput("The image is damaged or incomplete and cannot be read; send it again.") from exc
    with image:
        multipage = image.format == "TIFF"
        try:
            frames = getattr(image, "n_frames", 1) if multipage else 1
        except Exception as exc:  # see _reraise_own
            _reraise_own(exc)
            raise CorruptInput("The TIFF file is damaged and its pages cannot be listed; send it again.") from exc
        if frames > settings.max_pages:
            raise TooLarge(
                f"The file has {frames} pages, more than the limit of {settings.max_pages}; "
                "split it and send the parts."
            )
        for index in range(frames):
            label = f"Page {index + 1}" if frames > 1 else "The image"
            try:
                image.seek(index)
            except Exception as exc:  # see _reraise_own
                _reraise_own(exc)
                raise CorruptInput(f"{label} of the file is damaged and cannot be read; send it again.") from exc
            yield _decode_frame(image, index + 1, label, settings)


def _decode_frame(image: Image.Image, number: int, label: str, settings: Settings) -> PageImage:
    width, height = image.size
    xdpi, ydpi = _resolution(image)
    if xdpi and ydpi and max(xdpi, ydpi) / min(xdpi, ydpi) > _ANISOTROPY:
        # Fax "normal" mode: 204×98 dpi. Stretch the coarse axis so that letters have their real shape.
        target_w = round(width * max(xdpi, ydpi) / xdpi)
        target_h = round(height * max(xdpi, ydpi) / ydpi)
    else:
        target_w, target_h = width, height
    _check_pixels(max(width, target_w), max(height, target_h), settings, label)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
            frame = ImageOps.exif_transpose(image) if image.format == "JPEG" else image
            gray = _to_gray(frame)
    except Image.DecompressionBombError as exc:
        raise TooLarge(_too_many_pixels(label, settings)) from exc
    except Exception as exc:  # see _reraise_own
        _reraise_own(exc)
        raise CorruptInput(f"{label} is damaged or incomplete and cannot be read; send it again.") from exc
    if (target_w, target_h) != gray.size:
        gray = gray.resize((target_w, target_h), Image.Resampling.BILINEAR)
    dpi = round(max(xdpi, ydpi)) if xdpi and ydpi else _DEFAULT_DPI
    return PageImage(number=number, image=_normalise(gray), dpi=dpi, bilevel=image.mode == "1")


def _resolution(image: Image.Image) -> tuple[float, float]:
    dpi = image.info.get("dpi")
    try:
        xdpi, ydpi = (float(v) for v in dpi) if dpi else (0.0, 0.0)
    except (TypeError, ValueError):
        return 0.0, 0.0
    if not (1 <= xdpi <= 5000 and 1 <= ydpi <= 5000):
        return 0.0, 0.0
    return xdpi, ydpi


def _to_gray(image: Image.Image) -> Image.Image:
    """Grayscale with transparency flattened onto white paper (not black)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        paper.alpha_composite(rgba)
        return paper.convert("L")
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        arr = np.asarray(image, dtype=np.float64)
        top = float(arr.max()) or 1.0
        return Image.fromarray((arr * (255.0 / top)).clip(0, 255).astype(np.uint8), mode="L")
    return image.convert("L")


def _normalise(gray: Image.Image) -> Image.Image:
    """Dark ink on light paper: invert pages that are mostly dark (white-on-black faxes, bad photometric tags)."""
    small = gray.reduce(max(1, min(gray.size) // 400)) if min(gray.size) > 800 else gray
    if float(np.median(np.asarray(small))) < 96:
        return ImageOps.invert(gray)
    return gray


def _reraise_own(exc: Exception) -> None:
    """Pillow answers hostile files with a zoo of exception types (OSError, SyntaxError, KeyError,
    TypeError "Missing dimensions", struct.error, …), so decoding catches Exception and calls it a
    damaged file; our own errors and running out of memory are not that, and go on up."""
    if isinstance(exc, MailroomError | MemoryError):
        raise exc


def _check_pixels(width: int, height: int, settings: Settings, label: str) -> None:
    if width <= 0 or height <= 0:
        raise CorruptInput(f"{label} has no size ({width}×{height}); send the file again.")
    if width * height > settings.max_pixels:
        raise TooLarge(
            f"{label} is {width:,}×{height:,} pixels, more than the limit of {settings.max_pixels:,}; "
            "scan it again at a normal resolution (300 dpi)."
        )


def _too_many_pixels(label: str, settings: Settings) -> str:
    return f"{label} has more than {settings.max_pixels:,} pixels; scan it again at a normal resolution (300 dpi)."
