"""Import of .eml, .msg and mbox files (and any other file) from the command line."""

from __future__ import annotations

import mailbox
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from channels.receive import Dispatch, receive
from ground.records import Channel
from pipeline.context import Context


def is_mbox(path: Path) -> bool:
    """An mbox file: named so, or opening with a ``From `` separator line followed by more of them."""
    if path.suffix.lower() in (".mbox", ".mbx"):
        return True
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    return head.startswith(b"From ") and b"\nFrom " in head


def count_items(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        if is_mbox(path):
            with path.open("rb") as fh:
                total += sum(1 for line in fh if line.startswith(b"From "))
        else:
            total += 1
    return total


def iter_items(paths: list[Path]) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every message in every path; mbox messages without their ``From `` line."""
    for path in paths:
        if is_mbox(path):
            box = mailbox.mbox(str(path), create=False)
            try:
                for n, key in enumerate(box.iterkeys(), 1):
                    yield f"{path.name}#{n}", box.get_bytes(key)
            finally:
                box.close()
        else:
            yield path.name, path.read_bytes()


@dataclass
class ImportResult:
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    quarantined: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)

    @property
    def total(self) -> int:
        return len(self.accepted) + len(self.duplicates) + len(self.quarantined)


def import_paths(ctx: Context, paths: list[Path], clock: Callable[[], datetime], dispatch: Dispatch | None,
                 channel: Channel | None = None, progress: Callable[[int], None] | None = None,
                 submitted_by: str = "cli") -> ImportResult:
    result = ImportResult()
    for name, data in iter_items(paths):
        got = receive(ctx, data, name, clock(), channel=channel, submitted_by=submitted_by,
                      meta={"source": name}, dispatch=dispatch)
        if got.duplicate:
            result.duplicates.append(got.envelope_id)
        elif got.problem:
            result.quarantined.append((name, got.problem))
        else:
            result.accepted.append(got.envelope_id)
        if progress is not None:
            progress(1)
    return result
