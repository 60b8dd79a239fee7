"""OCR engines that misbehave on purpose, registered for a worker subprocess through the
``mailroom.ocr_engines`` entry point group (``MAILROOM_OCR_ENGINE=<name>``).

They read no pixels: each page gets a fixed English complaint, so the tests run fast. A page's
number is the count of ``read`` calls in this process (rq forks a fresh work-horse per job).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from PIL import Image

LETTER = ("Dear Sir or Madam, I want to file a complaint about invoice IN/2026/10/004512. "
          "My customer number is MR-1234567. The amount of 149.99 GBP was charged twice. "
          "Please refund it. Yours faithfully, John Smith. (page {n})")
ENTRY_POINTS = {"fault-kill-page4": "KillOnPage4", "fault-hang-page2": "HangOnPage2", "fault-fast": "FastText",
                "fault-slow": "SlowText", "witness": "Witness"}


def register(where: Path) -> Path:
    """Write a ``.dist-info`` naming these engines into ``where``; put ``where`` on PYTHONPATH."""
    info = where / "mailroom_fault_engines-0.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mailroom-fault-engines\nVersion: 0.0\n")
    lines = [f"{name} = tests.hostile.engines:{cls}" for name, cls in ENTRY_POINTS.items()]
    (info / "entry_points.txt").write_text("[mailroom.ocr_engines]\n" + "\n".join(lines) + "\n")
    return where


class FastText:
    name = "fault-fast"

    def __init__(self) -> None:
        self.calls = 0

    def read(self, image: Image.Image, languages: str, timeout: float) -> str:
        self.calls += 1
        return LETTER.format(n=self.calls)


class KillOnPage4(FastText):
    """SIGKILLs its own process on page 4 the first time (a marker file in MAILROOM_FAULT_DIR)."""

    name = "fault-kill-page4"

    def read(self, image: Image.Image, languages: str, timeout: float) -> str:
        text = super().read(image, languages, timeout)
        marker = Path(os.environ["MAILROOM_FAULT_DIR"]) / "killed-once"
        if self.calls == 4 and not marker.exists():
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return text


class HangOnPage2(FastText):
    """Never returns on page 2 (ignores its timeout, as a stuck native library would)."""

    name = "fault-hang-page2"

    def read(self, image: Image.Image, languages: str, timeout: float) -> str:
        text = super().read(image, languages, timeout)
        if self.calls == 2:
            time.sleep(3600)
        return text


class SlowText(FastText):
    """Three seconds a page: long enough to stop a worker in the middle of a job."""

    name = "fault-slow"

    def read(self, image: Image.Image, languages: str, timeout: float) -> str:
        time.sleep(3.0)
        return super().read(image, languages, timeout)


class Witness:
    """The real engine (``auto``: tesserocr in-process, else the tesseract CLI), which leaves a file
    ``<pid>.reading`` in MAILROOM_FAULT_DIR while it reads a page: a test that SIGKILLs the worker can tell
    whether the kill landed while OCR was running. Everything else is the real engine's."""

    name = "witness"

    def __init__(self) -> None:
        from ocr.engine import load_engine

        self.engine = load_engine("auto")
        self.marker = Path(os.environ["MAILROOM_FAULT_DIR"]) / f"{os.getpid()}.reading"

    def __getattr__(self, name: str) -> object:
        attr = getattr(self.engine, name)  # AttributeError when the real engine has no such method
        if name not in ("read", "read_page", "read_gray"):
            return attr

        def reading(*args: object, **kwargs: object) -> object:
            marker = self.marker.with_name(f"{os.getpid()}.reading")  # a forked work-horse has its own
            marker.write_text(name)
            try:
                return attr(*args, **kwargs)  # type: ignore[operator]
            finally:
                marker.unlink(missing_ok=True)

        return reading
