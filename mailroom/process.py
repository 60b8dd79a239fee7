"""``mailroom process``: the whole pipeline inline on files, one result per document."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from channels.receive import receive
from ground.errors import MailroomError, TooLarge
from mailroom.contract import document_line, error_line
from pipeline.context import Context
from pipeline.runner import run_inline
from storage.db import session_scope
from storage.models import Envelope, EnvelopeState


def process_path(ctx: Context, source: str, now: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Contract lines for one input file; a failure yields one error line (and is quarantined)."""
    path = Path(source)
    try:
        if path.stat().st_size > ctx.settings.max_upload_bytes:
            raise TooLarge(f"{path.name} is larger than {ctx.settings.max_upload_bytes} bytes; split it.")
        data = path.read_bytes()
    except OSError as exc:
        yield error_line(source, f"The file cannot be read ({exc.strerror}); check the path and permissions.")
        return
    except MailroomError as exc:
        yield error_line(source, exc.reason)
        return
    got = receive(ctx, data, path.name, now or datetime.now(UTC), submitted_by="cli", meta={"source": source})
    env_id = got.envelope_id
    if got.ok:
        run_inline(ctx, env_id)  # new, or a re-run of an earlier one: every step is idempotent
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, env_id)
        assert env is not None
        if env.state in (EnvelopeState.QUARANTINED, EnvelopeState.NEEDS_HUMAN):
            yield error_line(source, env.error or "quarantined", env.id)
            return
        for doc in sorted(env.documents, key=lambda d: (d.part_index, d.doc_index)):
            yield document_line(source, env, doc, ctx.settings.timezone)
