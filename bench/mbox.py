"""Import generated e-mails from an mbox into routed work items and report messages per second.

    .venv/bin/python -m bench.mbox [--count 1000] [--seed 1]

Text bodies only (composed letters, the four languages, every category), so no OCR is involved.
Two phases in a fresh data directory: intake (each message stored fsynced, envelope committed,
headers kept), then the pipeline inline (read → classify → route → work item + SLA).
"""

from __future__ import annotations

import argparse
import email.policy
import email.utils
import mailbox
import random
import tempfile
import time
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import func, select

from channels.importer import import_paths
from corpus.letters import OPERATOR_MAIL, compose
from corpus.pools import LANGUAGES
from ground.records import CATEGORIES
from ground.settings import Settings
from pipeline.context import get_context
from pipeline.runner import run_inline
from storage.db import session_scope
from storage.models import Envelope, EnvelopeState, WorkItem


def build_mbox(path: Path, count: int, seed: int) -> None:
    box = mailbox.mbox(str(path))
    rng = random.Random(seed)
    for i in range(count):
        lang, category = LANGUAGES[i % len(LANGUAGES)], CATEGORIES[i % len(CATEGORIES)]
        letter = compose(rng, lang, category)
        msg = EmailMessage()
        msg["From"] = Address(display_name=letter.sender_name, addr_spec=letter.sender_email)
        msg["To"] = OPERATOR_MAIL[lang]
        msg["Subject"] = letter.subject
        msg["Date"] = email.utils.format_datetime(datetime(2026, 10, 1, 8, tzinfo=UTC))
        msg["Message-ID"] = f"<bench-{seed}-{i}@example.{lang}>"
        msg.set_content(letter.compact().text + "\n")
        box.add(msg.as_bytes(policy=email.policy.SMTP))
    box.flush()
    box.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mailroom-bench-mbox-") as tmp:
        path = Path(tmp) / "inbox.mbox"
        build_mbox(path, args.count, args.seed)
        ctx = get_context(Settings(data=Path(tmp) / "data"))
        t0 = time.perf_counter()
        result = import_paths(ctx, [path], lambda: datetime.now(UTC), dispatch=None)
        t1 = time.perf_counter()
        for env_id in result.accepted:
            run_inline(ctx, env_id)
        t2 = time.perf_counter()
        with session_scope(ctx.db_url) as s:
            items = s.scalar(select(func.count()).select_from(WorkItem)) or 0
            processed = s.scalar(select(func.count()).select_from(Envelope)
                                 .where(Envelope.state == EnvelopeState.PROCESSED)) or 0
        again = import_paths(ctx, [path], lambda: datetime.now(UTC), dispatch=None)  # nothing twice
    intake_s, route_s = t1 - t0, t2 - t1
    print(f"intake:   {len(result.accepted)} messages stored+committed in {intake_s:.1f} s "
          f"({len(result.accepted) / intake_s:.1f} msg/s)")
    print(f"pipeline: {items} work items in {route_s:.1f} s ({items / route_s:.1f} msg/s)")
    print(f"re-import: {len(again.duplicates)} duplicates, {len(again.accepted)} new")
    print(f"bench mbox: messages={args.count} accepted={len(result.accepted)} processed={processed} "
          f"work_items={items} duplicates_on_reimport={len(again.duplicates)} seconds={intake_s + route_s:.1f} "
          f"intake_msgs_per_s={len(result.accepted) / intake_s:.1f} "
          f"messages_per_s={items / (intake_s + route_s):.1f}")


if __name__ == "__main__":
    main()
