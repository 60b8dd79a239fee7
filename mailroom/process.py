"""``mailroom process``: the whole pipeline inline on files, one result per document."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from intake import Arrival, Duplicate, accept, guess_channel
from mailroom.contract import document_line, error_line
from mailroom.errors import MailroomError, TooLarge
from mailroom.records import Channel
from ocr import sniff_type
from pipeline.context import Context
from pipeline.runner import quarantine, run_inline
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
    problem: MailroomError | None = None
    try:
        ctype = sniff_type(data, path.name)
        channel = guess_channel(data, ctype)
    except MailroomError as exc:  # unreadable type, empty file: kept in quarantine
        ctype, channel, problem = "application/octet-stream", Channel.UPLOAD, exc
    arrival = Arrival(data=data, name=path.name, channel=channel, content_type=ctype,
                      received_at=now or datetime.now(UTC), submitted_by="cli", meta={"source": source})
    with session_scope(ctx.db_url) as s:
        result = accept(arrival, s, ctx.blobs)
    env_id = result.of if isinstance(result, Duplicate) else result.envelope_id
    if problem is not None:
        quarantine(ctx, env_id, problem)
    else:
        run_inline(ctx, env_id)
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, env_id)
        assert env is not None
        if env.state in (EnvelopeState.QUARANTINED, EnvelopeState.NEEDS_HUMAN):
            yield error_line(source, env.error or "quarantined", env.id)
            return
        for doc in sorted(env.documents, key=lambda d: (d.part_index, d.doc_index)):
            yield document_line(source, env, doc, ctx.settings.timezone)
