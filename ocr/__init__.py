"""OCR stage: PDF text layers or tesseract on rendered pages, blank pages and separator sheets found."""

from __future__ import annotations

from ocr.engine import OcrEngine, OcrTimeout, TesseractEngine, load_engine
from ocr.extract import extract, ocr_text, page_count, split_documents
from ocr.searchable import searchable_pdf
from ocr.sniff import sniff_type

__all__ = [
    "OcrEngine",
    "OcrTimeout",
    "TesseractEngine",
    "extract",
    "load_engine",
    "ocr_text",
    "page_count",
    "searchable_pdf",
    "sniff_type",
    "split_documents",
]
