"""Malformed faxes (RELIABILITY.md "malformed faxes"): TIFF is decoded in a forked child under an
address-space (RLIMIT_AS) and time limit (ocr/pages.py). A decoder that crashes (a real SIGSEGV),
runs out of memory or hangs costs the item — quarantined with a reason — never the worker; fuzzed
TIFFs end as pages or a typed error, never anything else."""

from __future__ import annotations

import ctypes
import io
import os
import time
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import ocr.pages
from ground.errors import CorruptInput, MailroomError, TooLarge
from ground.records import Channel
from ground.settings import Settings
from intake import Arrival, accept
from ocr.pages import iter_image_pages
from pipeline.context import Context
from pipeline.runner import run_inline
from storage.db import session_scope
from storage.models import Envelope
from tests.hostile.make_corpus import fax_tiff, tiff_ifd_loop

SETTINGS = Settings()
FAX = fax_tiff()


def _segfault(*_: object, **__: object) -> None:
    ctypes.string_at(0)  # a real SIGSEGV, as a libtiff bug would raise


def _children() -> set[int]:
    me = os.getpid()
    out = set()
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1]) == me:
                    out.add(int(p))
            except (OSError, IndexError, ValueError):
                pass
    return out


def test_a_good_fax_is_decoded_in_a_child_with_the_same_pages(tmp_path) -> None:  # type: ignore[no-untyped-def]
    before = _children()  # a full run may have other children (OCR page pools): only ours must be gone
    real = ocr.pages._iter_in_process
    mark = tmp_path / "decoder-pid"

    def spy(data: bytes, s: Settings, pages: range | None = None):  # type: ignore[no-untyped-def]
        mark.write_text(str(os.getpid()))  # written by whichever process decodes
        return real(data, s, pages)

    ocr.pages._iter_in_process = spy  # type: ignore[assignment]
    try:
        pages = list(iter_image_pages(FAX, SETTINGS))
    finally:
        ocr.pages._iter_in_process = real  # type: ignore[assignment]
    assert int(mark.read_text()) != os.getpid()  # decoded in another process
    direct = list(real(FAX, SETTINGS))
    assert [(p.number, p.dpi, p.bilevel, p.image.size) for p in pages] == \
        [(p.number, p.dpi, p.bilevel, p.image.size) for p in direct]
    assert pages[0].image.tobytes() == direct[0].image.tobytes()
    assert _children() <= before  # the decoder child was reaped


def test_a_decoder_crash_is_a_damaged_file_and_this_process_survives(monkeypatch: pytest.MonkeyPatch) -> None:
    before = _children()
    monkeypatch.setattr(Image, "open", _segfault)  # inherited by the forked decoder only when it runs
    with pytest.raises(CorruptInput, match=r"decoder crashed \(SIGSEGV\)"):
        list(iter_image_pages(FAX, SETTINGS))
    assert _children() <= before


def test_memory_and_time_limits_stop_the_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    before = _children()
    big = Image.new("L", (12_000, 12_000), 255)  # 144 Mpixel: under the pixel limit, over a 64 MB budget
    buf = io.BytesIO()
    big.save(buf, "TIFF", compression="tiff_deflate")
    monkeypatch.setattr(ocr.pages, "TIFF_DECODE_MEMORY", 64 * 2**20)
    with pytest.raises(TooLarge, match="needs more than 64 MB of memory"):
        list(iter_image_pages(buf.getvalue(), SETTINGS))
    monkeypatch.setattr(ocr.pages, "TIFF_DECODE_MEMORY", 1536 * 2**20)
    monkeypatch.setattr(ocr.pages, "TIFF_DECODE_SECONDS", 1)
    monkeypatch.setattr(Image, "open", lambda *a, **k: time.sleep(30))  # a decoder that hangs
    started = time.monotonic()
    with pytest.raises(CorruptInput, match="took longer than 1 s"):
        list(iter_image_pages(FAX, SETTINGS))
    assert time.monotonic() - started < 10
    assert _children() <= before


def test_a_crashing_fax_is_quarantined_through_the_pipeline(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    with session_scope(ctx.db_url) as s:
        got = accept(Arrival(data=FAX, name="fax.tif", channel=Channel.FAX, content_type="image/tiff",
                             received_at=datetime.now(UTC)), s, ctx.blobs)
    monkeypatch.setattr(Image, "open", _segfault)
    try:
        run_inline(ctx, got.envelope_id)
    except MailroomError:
        pass  # the recipe may re-raise after recording the quarantine
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, got.envelope_id)
        assert env is not None and env.state == "quarantined", (env.state if env else None)
        assert "decoder crashed" in (env.error or "")


MALFORMED = [fax_tiff(truncate=400), fax_tiff(truncate=2000), fax_tiff(flip=True), tiff_ifd_loop(),
             b"II*\x00" + bytes(60), b"MM\x00*" + os.urandom(200)]


@pytest.mark.parametrize("data", MALFORMED, ids=range(len(MALFORMED)))
def test_known_bad_tiffs_end_in_pages_or_a_typed_error(data: bytes) -> None:
    try:
        pages = list(iter_image_pages(data, SETTINGS))
        assert all(p.image.mode == "L" for p in pages)
    except MailroomError as exc:
        assert exc.reason


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(FAX) - 1), st.integers(1, 255)), min_size=1, max_size=30),
       st.integers(8, len(FAX)))
def test_fuzzed_faxes_end_in_pages_or_a_typed_error(flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(FAX[:cut])
    for at, x in flips:
        if 4 <= at < len(data):  # keep the magic: the isolated path is what is fuzzed
            data[at] ^= x
    try:
        pages = list(iter_image_pages(bytes(data), SETTINGS))
        assert all(p.image.mode == "L" and p.image.size[0] > 0 for p in pages)
    except MailroomError as exc:
        assert exc.reason
