"""Hot folders (scanning stations, fax spools): complete files only, done/ or failed/ with a reason."""

from __future__ import annotations

import io
import os
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from channels.hotfolder import HotFolder, scan_once, watch
from corpus import render
from corpus.letters import compose
from ground.records import Channel
from pipeline.context import Context
from storage.db import session_scope
from storage.models import Envelope, EnvelopeState

T0 = datetime(2026, 10, 12, 9, 0, tzinfo=UTC)


def _pdf(seed: int) -> bytes:
    letter = compose(random.Random(seed), "cs", "fault_report")
    return render.text_pdf(render.layout(letter.blocks, "serif", 11.0, pages=1), letter.subject, letter.sender_name)


def _write(path: Path, data: bytes, at: datetime) -> None:
    path.write_bytes(data)
    os.utime(path, (at.timestamp(), at.timestamp()))


def _env(ctx: Context, env_id: str) -> Envelope:
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, env_id)
        assert env is not None
        return env


def test_only_complete_files_are_taken_and_moved_after_storage(ctx: Context, tmp_path: Path) -> None:
    folder = HotFolder(tmp_path / "station1", stable_ms=2000, station="station-1")
    folder.path.mkdir()
    data = _pdf(1)
    _write(folder.path / "batch.pdf", data, T0)
    for temp in (".batch2.pdf", "batch3.pdf.part", "~$lock.pdf", "x.tmp"):
        _write(folder.path / temp, data, T0 - timedelta(hours=1))
    assert scan_once(ctx, folder, T0 + timedelta(milliseconds=500)) == []  # still being written, maybe
    assert (folder.path / "batch.pdf").exists()
    [out] = scan_once(ctx, folder, T0 + timedelta(seconds=3))
    assert out.moved_to == folder.done / "batch.pdf" and out.moved_to.read_bytes() == data and out.reason is None
    env = _env(ctx, out.envelope_id)
    assert ctx.blobs.get(env.sha256) == data and env.state == EnvelopeState.RECEIVED
    assert env.channel == "scan" and env.submitted_by == "station-1" and env.meta["pages_received"] == 1
    assert env.meta["hotfolder"]["file"] == "batch.pdf"
    assert sorted(p.name for p in folder.path.iterdir() if p.is_file()) == [
        ".batch2.pdf", "batch3.pdf.part", "x.tmp", "~$lock.pdf"]
    _write(folder.path / "batch.pdf", data, T0)  # the same scan again: duplicate, kept in done/ under a new name
    [dup] = scan_once(ctx, folder, T0 + timedelta(seconds=3))
    assert dup.duplicate and dup.envelope_id == out.envelope_id and dup.moved_to == folder.done / "batch.1.pdf"
    assert "duplicate of envelope" in (folder.done / "batch.1.pdf.reason.txt").read_text()


def test_unreadable_files_go_to_failed_with_a_reason_and_to_quarantine(ctx: Context, tmp_path: Path) -> None:
    folder = HotFolder(tmp_path / "in", stable_ms=0)
    folder.path.mkdir()
    _write(folder.path / "empty.pdf", b"", T0)
    _write(folder.path / "program.pdf", b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 4, T0)
    outs = {o.name: o for o in scan_once(ctx, folder, T0 + timedelta(seconds=1))}
    assert set(outs) == {"empty.pdf", "program.pdf"}
    for name, words in (("empty.pdf", "0 bytes"), ("program.pdf", "not a PDF, image")):
        out = outs[name]
        assert out.moved_to == folder.failed / name
        reason = (folder.failed / f"{name}.reason.txt").read_text()
        assert words in reason and out.envelope_id in reason
        env = _env(ctx, out.envelope_id)
        assert env.state == EnvelopeState.QUARANTINED and words in env.error


def test_fax_spool_keeps_tiff_tags_as_metadata(ctx: Context, tmp_path: Path) -> None:
    letter = compose(random.Random(5), "pl", "complaint")
    pages = render.fax_pages(render.layout(letter.blocks, "sans", 11.5, pages=2), random.Random(5))
    buf = io.BytesIO()
    pages[0].save(buf, format="TIFF", compression="group4", dpi=(204, 196), save_all=True,
                  append_images=pages[1:], tiffinfo={270: "+48 22 555 01 02 TELEWAVE", 305: "HylaFAX 7.0.7"})
    folder = HotFolder(tmp_path / "faxspool", channel=Channel.FAX, stable_ms=0)
    folder.path.mkdir()
    _write(folder.path / "fax000123.tif", buf.getvalue(), T0)
    [out] = scan_once(ctx, folder, T0 + timedelta(seconds=1))
    env = _env(ctx, out.envelope_id)
    fax = env.meta["fax"]
    assert env.channel == "fax" and env.content_type == "image/tiff"
    assert fax["station_id"] == "+48 22 555 01 02 TELEWAVE" and fax["fax_number"] == "+48225550102"
    assert fax["software"] == "HylaFAX 7.0.7" and fax["compression"] == "ccitt-g4"
    assert fax["resolution"] == "fine" and fax["pages"] == len(pages) == env.meta["pages_received"]
    assert Image.open(out.moved_to).n_frames == len(pages)


def test_watcher_takes_renamed_files_at_once_and_slow_writes_only_when_complete(
        ctx: Context, tmp_path: Path) -> None:
    folder = HotFolder(tmp_path / "watched", stable_ms=1500)
    folder.path.mkdir()
    stop = threading.Event()
    taken: list[str] = []
    thread = threading.Thread(target=watch, args=(ctx, [folder], taken.append, stop), daemon=True)
    thread.start()
    try:
        time.sleep(0.5)
        renamed = _pdf(2)
        (folder.path / ".incoming").write_bytes(renamed)
        os.replace(folder.path / ".incoming", folder.path / "renamed.pdf")  # rename-on-close
        slow = _pdf(3)
        with (folder.path / "slow.pdf").open("wb") as fh:  # written in pieces, pausing
            for i in range(0, len(slow), len(slow) // 4 + 1):
                fh.write(slow[i:i + len(slow) // 4 + 1])
                fh.flush()
                time.sleep(0.4)
                if i == 0:
                    deadline = time.monotonic() + 5
                    while not (folder.done / "renamed.pdf").exists() and time.monotonic() < deadline:
                        time.sleep(0.05)
                    assert (folder.done / "renamed.pdf").exists()  # long before 1.5 s of stability
                    assert (folder.path / "slow.pdf").exists()  # still being written: left alone
        deadline = time.monotonic() + 10
        while not (folder.done / "slow.pdf").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert (folder.done / "slow.pdf").read_bytes() == slow
    assert len(taken) == 2
    with session_scope(ctx.db_url) as s:
        shas = set(s.scalars(select(Envelope.sha256)))
    from storage.blobs import sha256_hex
    assert shas == {sha256_hex(renamed), sha256_hex(slow)}


def test_a_file_swapped_for_a_symlink_after_listing_is_never_followed(ctx: Context, tmp_path: Path) -> None:
    """Security review (issue 15): the folder was listed without following links, but the file was then read
    by name, following a link put there in between (time of check to time of use). It is opened with
    O_NOFOLLOW and checked on the descriptor."""
    from channels.hotfolder import take

    folder = HotFolder(tmp_path / "station1", stable_ms=0, station="station-1")
    folder.path.mkdir()
    secret = tmp_path / "secret.pdf"
    secret.write_bytes(_pdf(7))
    swapped = folder.path / "letter.pdf"
    swapped.symlink_to(secret)  # what the listing saw was a regular file; this is what is there when read
    out = take(ctx, folder, swapped, T0)
    assert out.envelope_id is None and "symbolic link" in (out.reason or "")
    assert out.moved_to.parent == folder.failed and secret.read_bytes() == _pdf(7)
    with session_scope(ctx.db_url) as s:
        assert s.scalars(select(Envelope)).first() is None  # nothing of the link's target was stored
    fifo = folder.path / "pipe.pdf"
    os.mkfifo(fifo)
    out = take(ctx, folder, fifo, T0)  # a FIFO would block a plain read forever
    assert out.envelope_id is None and "not a regular file" in (out.reason or "")


def test_one_file_that_breaks_intake_does_not_block_the_newer_ones(ctx: Context, tmp_path: Path,
                                                                    monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import channels.hotfolder as hotfolder

    folder = HotFolder(tmp_path / "station1", stable_ms=0, station="station-1")
    folder.path.mkdir()
    _write(folder.path / "a-bad.pdf", _pdf(1), T0 - timedelta(minutes=2))  # oldest: taken first
    _write(folder.path / "b-good.pdf", _pdf(2), T0 - timedelta(minutes=1))
    real = hotfolder.receive

    def breaks_on_bad(ctx_, data, name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "a-bad.pdf":
            raise TypeError("'NoneType' object is not subscriptable")  # a parser bug, as a hostile TIFF caused
        return real(ctx_, data, name, *args, **kwargs)

    monkeypatch.setattr(hotfolder, "receive", breaks_on_bad)
    bad, good = scan_once(ctx, folder, T0)
    assert bad.moved_to.parent == folder.failed and "TypeError" in (bad.reason or "")
    assert (folder.failed / "a-bad.pdf.reason.txt").exists()
    assert good.moved_to.parent == folder.done and good.envelope_id is not None
    assert scan_once(ctx, folder, T0 + timedelta(minutes=1)) == []  # nothing left behind to retry forever
