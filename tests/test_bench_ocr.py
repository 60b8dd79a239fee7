"""``bench.ocr`` at toy size (one page per form, one round, one pipeline process): it runs to its last line,
the pipeline read every form without an error, phone photos included, and each form's CER is that of a read
page. (Its speed figures are for docs/benchmarks.md, not asserted here.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

FORMS = ("clean", "skew", "rot90", "rot180", "noisy", "fax_std", "fax_fine", "text_pdf", "photo")


@pytest.mark.slow
def test_ocr_bench_toy_run() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.ocr", "--pages", "8", "--rounds", "1", "--workers", "1"],
                          capture_output=True, text=True, timeout=600, cwd=Path(__file__).resolve().parents[1])
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    assert lines[-1].startswith("bench ocr: pages=9 raster_pages=8 "), lines[-1]
    figures = dict(pair.split("=", 1) for pair in lines[-1].removeprefix("bench ocr: ").split())
    assert figures["errors"] == "0"
    cer = {form: float(figures[f"cer_{form}"]) for form in FORMS}
    assert all(value <= 0.05 for value in cer.values()), cer  # a page not read, or read as garbage, is far above
    assert float(figures["ratio"]) > 0 and float(figures["photo_cpu_ratio"]) > 0
