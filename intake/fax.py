"""Fax metadata from TIFF tags: transmitting station id, fax number, coding and resolution.

Only the TIFF header and tag directory are read (no page is decoded), so a hostile file costs
nothing here; the OCR stage enforces the pixel and page limits.
"""

from __future__ import annotations

import io
import re
import warnings
from typing import Any

from PIL import Image, UnidentifiedImageError

_TEXT_TAGS = {269: "document_name", 270: "image_description", 271: "make", 272: "model", 285: "page_name",
              305: "software", 306: "datetime", 315: "artist", 316: "host_computer"}
_COMPRESSION = {1: "none", 2: "ccitt-rle", 3: "ccitt-g3", 4: "ccitt-g4", 5: "lzw", 7: "jpeg", 8: "deflate",
                32773: "packbits"}
_NUMBER = re.compile(r"\+?\d[\d ()./-]{4,22}\d")


def fax_meta(data: bytes) -> dict[str, Any]:
    """Tags of the first page plus page count; empty when the bytes are not a readable TIFF."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        return {}
    with image:
        if image.format != "TIFF":
            return {}
        tags = getattr(image, "tag_v2", {})
        meta: dict[str, Any] = {}
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
        try:
            meta["pages"] = int(getattr(image, "n_frames", 1))
        except (OSError, ValueError, SyntaxError):
            meta["pages"] = None
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
