"""Turn a PDF, image or TIFF fax into page images, within pixel and page limits.

Every size is checked before anything is decoded (PDF page box × dpi, embedded image sizes,
image headers), so a decompression bomb is refused in milliseconds.
"""

from __future__ import annotations

import io
import os
import pickle
import resource
import signal
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageOps

from ground.errors import CorruptInput, EncryptedPdf, MailroomError, TooLarge
from ground.settings import Settings, get_settings

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


# PDFium is not thread-safe: a process that uses it from several threads (the web app's thread pool:
# page images, upload page counts) must hold this lock around every use.
PDFIUM_LOCK = threading.RLock()


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


TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF
TIFF_DECODE_SECONDS = 60  # wall clock for all pages of one file
TIFF_DECODE_MEMORY = 1536 * 1024 * 1024  # address space the decoder may add to what the worker already maps


def iter_image_pages(data: bytes, settings: Settings, pages: range | None = None) -> Iterator[PageImage]:
    """Yield the pages of an image: every frame of a TIFF (or those whose 0-based index is in ``pages``),
    the first frame of anything else.

    TIFF (faxes) is decoded by libtiff, C code that has crashed on hostile files: it runs in a forked
    child under a memory (RLIMIT_AS) and time limit, so a crash becomes a CorruptInput for this item
    (quarantine) instead of killing the worker."""
    if data[:4] in TIFF_MAGIC:
        return _iter_isolated(data, settings, pages)
    return _iter_in_process(data, settings, pages)


def _iter_isolated(data: bytes, settings: Settings, pages: range | None) -> Iterator[PageImage]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: decode, send page by page, exit without running the parent's cleanup
        code = 0
        try:
            os.close(read_fd)
            _limit_child()
            with os.fdopen(write_fd, "wb") as out:
                try:
                    for page in _iter_in_process(data, settings, pages):
                        pickle.dump(("page", page.number, page.image.size, page.image.tobytes(), page.dpi,
                                     page.bilevel), out, protocol=pickle.HIGHEST_PROTOCOL)
                    pickle.dump(("done",), out)
                except MailroomError as exc:
                    pickle.dump(("error", exc), out)
        except MemoryError:
            code = 75
        except BaseException:  # noqa: BLE001 - anything else in the child is a failed decode; the parent says so
            code = 70
        os._exit(code)
    os.close(write_fd)
    fired = threading.Event()
    timer = threading.Timer(TIFF_DECODE_SECONDS, lambda: (fired.set(), _kill(pid)))
    timer.daemon = True
    timer.start()
    finished = False
    status = 0
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            while True:
                try:
                    msg = pickle.load(pipe)  # noqa: S301 - from our own forked child, not from the input
                except (EOFError, pickle.UnpicklingError):
                    break  # the child ended (or died): its exit status says how
                if msg[0] == "page":
                    _, number, size, raw, dpi, bilevel = msg
                    yield PageImage(number=number, image=Image.frombytes("L", size, raw), dpi=dpi, bilevel=bilevel)
                elif msg[0] == "error":
                    finished = True
                    raise msg[1]
                else:
                    finished = True
                    break
    except BaseException:  # the caller stopped early, or the file's own error: the child is no longer needed
        _kill(pid)
        raise
    finally:
        _, status = os.waitpid(pid, 0)  # the timer still guards a child that hangs after closing the pipe
        timer.cancel()
    if not finished:
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 75:
            raise TooLarge(f"The TIFF file needs more than {TIFF_DECODE_MEMORY // 2**20} MB of memory to decode; "
                           "scan it again at a normal resolution.")
        raise CorruptInput(_crash_reason(status, fired.is_set()))


def _limit_child() -> None:
    """Cap the child's address space at what it maps now plus TIFF_DECODE_MEMORY, and its CPU time."""
    mapped = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                mapped = int(line.split()[1]) * 1024
    limit = mapped + TIFF_DECODE_MEMORY
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (TIFF_DECODE_SECONDS, TIFF_DECODE_SECONDS + 5))


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _crash_reason(status: int, timed_out: bool) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGKILL and timed_out:
            how = f"took longer than {TIFF_DECODE_SECONDS} s"
        elif sig == signal.SIGXCPU:
            how = f"used more than {TIFF_DECODE_SECONDS} s of CPU"
        else:
            how = f"crashed ({signal.Signals(sig).name})"
    else:
        how = f"failed (exit status {os.WEXITSTATUS(status)})"
    return f"The TIFF file is damaged: its decoder {how}; it was stopped. Send the fax again."


def _iter_in_process(data: bytes, settings: Settings, pages: range | None = None) -> Iterator[PageImage]:
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
            if pages is not None and index not in pages:
                continue
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
