"""Fax metadata from TIFF tags: transmitting station id, fax number, coding and resolution; and the
page count.

Only the TIFF header and tag directories are read (no page is decoded). Pages are counted by walking
the chain of page directories here, at most ``max_pages`` + 1 of them, each checked for a width and a
height: a file of 20,000 directories, a loop, or a last directory without dimensions ends with a clear
reason (``pages_error``), never a crash, and costs no more than the bound.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from typing import Any

from PIL import Image, UnidentifiedImageError

from ground.errors import CorruptInput, MailroomError, TooLarge

_TEXT_TAGS = {269: "document_name", 270: "image_description", 271: "make", 272: "model", 285: "page_name",
              305: "software", 306: "datetime", 315: "artist", 316: "host_computer"}
_COMPRESSION = {1: "none", 2: "ccitt-rle", 3: "ccitt-g3", 4: "ccitt-g4", 5: "lzw", 7: "jpeg", 8: "deflate",
                32773: "packbits"}
_NUMBER = re.compile(r"\+?\d[\d ()./-]{4,22}\d")


MAX_ENTRIES = 4096  # tags in one directory; real faxes have about twenty
WIDTH, LENGTH = 256, 257


def tiff_pages(data: bytes, max_pages: int) -> int:
    """Pages of a TIFF, counted by walking its page directories (at most ``max_pages`` + 1); raises
    CorruptInput (a directory outside the file, without width or height, with absurdly many tags) or
    TooLarge (more than ``max_pages`` pages)."""
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None or len(data) < 8:
        raise CorruptInput("The file is not a TIFF; it could not be read.")
    magic = struct.unpack_from(order + "H", data, 2)[0]
    if magic == 42:
        offset = struct.unpack_from(order + "I", data, 4)[0]
        count_fmt, entry_size, next_fmt = "H", 12, "I"
    elif magic == 43 and len(data) >= 16:  # BigTIFF
        offset = struct.unpack_from(order + "Q", data, 8)[0]
        count_fmt, entry_size, next_fmt = "Q", 20, "Q"
    else:
        raise CorruptInput("The file is not a TIFF; it could not be read.")
    count_size, next_size = struct.calcsize(count_fmt), struct.calcsize(next_fmt)
    seen: set[int] = set()
    pages = 0
    while offset and offset not in seen:  # a directory seen before ends the chain (as readers do)
        seen.add(offset)
        if offset + count_size > len(data):
            raise CorruptInput(f"Page {pages + 1} of the TIFF points outside the file; the file is damaged.")
        entries = struct.unpack_from(order + count_fmt, data, offset)[0]
        end = offset + count_size + entries * entry_size
        if entries > MAX_ENTRIES or end + next_size > len(data):
            raise CorruptInput(f"Page {pages + 1} of the TIFF has a damaged directory; the file is damaged.")
        tags = {struct.unpack_from(order + "H", data, offset + count_size + i * entry_size)[0]
                for i in range(entries)}
        if WIDTH not in tags or LENGTH not in tags:
            raise CorruptInput(f"Page {pages + 1} of the TIFF has no width or height; the file is damaged. "
                               "Ask the sender to fax or scan it again.")
        pages += 1
        if pages > max_pages:
            raise TooLarge(f"The TIFF has more than {max_pages} pages; split it into smaller files.")
        offset = struct.unpack_from(order + next_fmt, data, end)[0]
    if not pages:
        raise CorruptInput("The TIFF has no pages; it could not be read.")
    return pages


def fax_meta(data: bytes, max_pages: int = 500) -> dict[str, Any]:
    """Tags of the first page plus page count (``pages_error`` with the reason when the pages cannot be
    counted); empty when the bytes are not a readable TIFF."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError, TypeError,
            KeyError, IndexError, struct.error, ZeroDivisionError, MemoryError):
        return _pages_only(data, max_pages)
    with image:
        if image.format != "TIFF":
            return {}
        meta: dict[str, Any] = {}
        try:
            _tags(getattr(image, "tag_v2", {}), meta)
        except (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError):
            pass  # a damaged tag: the others, and the page count, are still worth keeping
        meta.update(_pages_only(data, max_pages))
    station = meta.get("image_description") or meta.get("artist")
    if station:
        meta["station_id"] = station
    for key in ("image_description", "page_name", "document_name", "artist", "host_computer"):
        match = _NUMBER.search(meta.get(key, ""))
        if match:
            digits = re.sub(r"\D", "", match.group())
            meta["fax_number"] = ("+" if match.group().startswith("+") else "") + digits
            break
    return meta


def _tags(tags: Any, meta: dict[str, Any]) -> None:
    for tag, key in _TEXT_TAGS.items():
        value = tags.get(tag)
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str) and value.strip("\x00 \t\r\n"):
            meta[key] = " ".join(value.strip("\x00").split())[:200]
    meta["compression"] = _COMPRESSION.get(int(tags.get(259, 1) or 1), str(tags.get(259)))
    xres, yres = (float(tags.get(282, 0) or 0), float(tags.get(283, 0) or 0))
    if int(tags.get(296, 2) or 2) == 3:  # resolution unit: centimetre
        xres, yres = xres * 2.54, yres * 2.54
    if yres:
        meta["resolution_dpi"] = [round(xres), round(yres)]
        meta["resolution"] = "standard" if yres < 140 else "fine" if yres < 300 else "superfine"


def _pages_only(data: bytes, max_pages: int) -> dict[str, Any]:
    try:
        return {"pages": tiff_pages(data, max_pages)}
    except MailroomError as exc:
        return {"pages": None, "pages_error": exc.reason}
    except struct.error:
        return {"pages": None, "pages_error": "The TIFF's page directories are damaged; the file is damaged."}
