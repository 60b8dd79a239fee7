"""Hot folders: a directory per scanning station or fax spool, watched with watchdog.

A file is taken only when complete: renamed into the folder (rename-on-close, the safe way
scanners and fax servers write), or unchanged for ``stable_ms`` (its size and modification
time have not moved for that long). Temporary names (``.x``, ``~$x``, ``x.tmp``, ``x.part``)
are never taken. After the original is stored and committed the file moves to ``done/``; a
file that cannot be read moves to ``failed/`` with ``<name>.reason.txt`` saying why (its
envelope is in quarantine). Nothing is deleted.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from channels.receive import Dispatch, receive
from ground.errors import StorageError
from ground.records import Channel
from pipeline.context import Context

log = logging.getLogger(__name__)
TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".filepart", ".swp", ".reason.txt")


@dataclass(frozen=True)
class HotFolder:
    path: Path
    channel: Channel = Channel.SCAN
    stable_ms: int = 2000
    station: str = ""

    @property
    def done(self) -> Path:
        return self.path / "done"

    @property
    def failed(self) -> Path:
        return self.path / "failed"


@dataclass(frozen=True)
class Outcome:
    name: str
    moved_to: Path
    envelope_id: str | None
    duplicate: bool = False
    reason: str | None = None


def is_temporary(name: str) -> bool:
    return name.startswith((".", "~$")) or name.lower().endswith(TEMP_SUFFIXES)


def ready_files(folder: HotFolder, now: datetime, moved_in: set[str] | None = None) -> list[Path]:
    """Complete files waiting in the folder, oldest first; ``moved_in`` names were renamed in (complete)."""
    cutoff = now.timestamp() - folder.stable_ms / 1000
    found: list[tuple[float, Path]] = []
    with os.scandir(folder.path) as entries:
        for entry in entries:
            if not entry.is_file(follow_symlinks=False) or is_temporary(entry.name):
                continue
            path = Path(entry.path)
            mtime = entry.stat(follow_symlinks=False).st_mtime
            if mtime <= cutoff or (moved_in is not None and entry.name in moved_in):
                found.append((mtime, path))
    return [p for _, p in sorted(found)]


def scan_once(ctx: Context, folder: HotFolder, now: datetime, dispatch: Dispatch | None = None,
              moved_in: set[str] | None = None) -> list[Outcome]:
    """Take every complete file once: store it, then move it to done/ or failed/."""
    folder.done.mkdir(parents=True, exist_ok=True)
    folder.failed.mkdir(parents=True, exist_ok=True)
    return [_take_or_fail(ctx, folder, path, now, dispatch) for path in ready_files(folder, now, moved_in)]


def _take_or_fail(ctx: Context, folder: HotFolder, path: Path, now: datetime, dispatch: Dispatch | None) -> Outcome:
    """One file; whatever goes wrong with it moves it to failed/ with the reason, and the scan goes on with the
    newer files (one bad file must never block the folder)."""
    try:
        return take(ctx, folder, path, now, dispatch)
    except (StorageError, SQLAlchemyError, OSError):
        raise  # the store or the database is down: the file stays and is taken in the next round
    except Exception as exc:  # noqa: BLE001 - the boundary of one file: logged, reported, never fatal to the folder
        log.exception("hot folder %s: %s could not be taken in", folder.path, path.name)
        reason = f"The file could not be taken in ({type(exc).__name__}: {exc}); the other files go on."
        try:
            return Outcome(path.name, _move(path, folder.failed, reason), None, reason=reason)
        except OSError:
            return Outcome(path.name, path, None, reason=reason)


def _read_regular_file(path: Path, limit: int) -> bytes | str:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes, else why not.

    Opened with O_NOFOLLOW and checked on the open descriptor (fstat), so a file swapped for a symbolic link
    or a FIFO after the folder was listed is never followed or read (time of check = time of use).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "The file is a symbolic link; the hot folder takes only regular files."
        raise
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            return "The file is not a regular file; the hot folder takes only regular files."
        if info.st_size > limit:
            return f"The file has {info.st_size} bytes, more than the limit of {limit}; split it and scan the parts."
        data = f.read(limit + 1)
    if len(data) > limit:
        return f"The file grew past the limit of {limit} bytes while it was read; split it and scan the parts."
    return data


def take(ctx: Context, folder: HotFolder, path: Path, now: datetime, dispatch: Dispatch | None = None) -> Outcome:
    data = _read_regular_file(path, ctx.settings.max_upload_bytes)
    if isinstance(data, str):  # not stored: the file itself stays in failed/ with its reason
        return Outcome(path.name, _move(path, folder.failed, data), None, reason=data)
    meta = {"hotfolder": {"folder": str(folder.path), "station": folder.station, "file": path.name}}
    got = receive(ctx, data, path.name, now, channel=folder.channel, submitted_by=folder.station or "hotfolder",
                  meta=meta)
    if got.problem:
        reason = f"{got.problem}\nThe original is kept in quarantine as envelope {got.envelope_id}."
        return Outcome(path.name, _move(path, folder.failed, reason), got.envelope_id, got.duplicate, got.problem)
    note = f"Already received: a duplicate of envelope {got.envelope_id}; not routed again." if got.duplicate else None
    moved = _move(path, folder.done, note)
    if dispatch is not None and not got.duplicate:
        dispatch(got.envelope_id)
    return Outcome(path.name, moved, got.envelope_id, got.duplicate, note)


def _move(path: Path, target_dir: Path, reason: str | None) -> Path:
    """Move without overwriting (``name``, ``name.1``, …) and write ``<name>.reason.txt`` when there is one."""
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / path.name
    n = 0
    while target.exists():
        n += 1
        target = target_dir / f"{path.stem}.{n}{path.suffix}"
    os.replace(path, target)
    if reason:
        (target_dir / f"{target.name}.reason.txt").write_text(reason + "\n", encoding="utf-8")
    return target


@dataclass(eq=False)  # watchdog keeps handlers in a set
class _Events(FileSystemEventHandler):
    folder: Path
    wake: threading.Event
    moved_in: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_moved(self, event: FileSystemEvent) -> None:
        dest = Path(os.fsdecode(event.dest_path))
        if not event.is_directory and dest.parent == self.folder:
            with self.lock:
                self.moved_in.add(dest.name)  # renamed into place: complete now
            self.wake.set()

    def on_created(self, event: FileSystemEvent) -> None:
        self.wake.set()

    def on_closed(self, event: FileSystemEvent) -> None:
        self.wake.set()

    def take_moved(self) -> set[str]:
        with self.lock:
            moved, self.moved_in = self.moved_in, set()
        return moved


def watch(ctx: Context, folders: list[HotFolder], dispatch: Dispatch | None, stop: threading.Event) -> None:
    """Watch the folders until ``stop`` is set; also rescans regularly (events can be missed on network shares)."""
    observer = Observer()
    wake = threading.Event()
    handlers = []
    for folder in folders:
        folder.path.mkdir(parents=True, exist_ok=True)
        handler = _Events(folder.path.resolve(), wake)
        observer.schedule(handler, str(folder.path), recursive=False)
        handlers.append((folder, handler))
    observer.start()
    try:
        interval = max(0.2, min(f.stable_ms for f in folders) / 2000)
        while not stop.is_set():
            for folder, handler in handlers:
                moved = handler.take_moved()
                try:
                    for out in scan_once(ctx, folder, datetime.now(UTC), dispatch, moved):
                        log.info("%s: %s → %s", folder.path, out.name, out.moved_to)
                except Exception as exc:  # noqa: BLE001 - storage or database down: files stay, retried next round
                    log.warning("%s: scan failed (%s: %s); retrying", folder.path, type(exc).__name__, exc)
                    with handler.lock:
                        handler.moved_in |= moved
            wake.wait(interval)
            wake.clear()
    finally:
        observer.stop()
        observer.join(timeout=10)
