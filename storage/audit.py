"""Audit trail: every state change, automatic decision (with why) and read by a person.

Events form a hash chain. Each event stores ``content_hash`` = SHA-256 over a canonical JSON of its
fields, its position ``seq``, the link of its predecessor ``prev_hash`` and its own link
``hash`` = SHA-256(``prev_hash`` + ``content_hash``). Links are handed out one at a time from the
one-row table ``audit_chain_head``, so two events can never chain to the same predecessor.

Where the link is computed matters for throughput, because every transition of every agent appends
an event. On PostgreSQL the writer only inserts the event with its content hash; a deferred trigger
(migration 0008) chains it inside COMMIT, so the head is held for the commit alone and never while
the writer's process waits for the CPU between statements. On SQLite the writer chains in Python:
the database write lock serialises writers anyway. ``verify`` walks the chain by ``seq`` and says
where it breaks: an altered event, removed events, events out of order, or a truncated tail.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, insert, or_, select, update
from sqlalchemy.orm import Session

from storage.models import AuditChainHead, AuditEvent, Document

GENESIS = "0" * 64
ADVISORY_LOCK_KEY = 0x6D61696C  # "mail": the PostgreSQL advisory lock the chain trigger takes (0008)
EXPORT_FIELDS = ("id", "seq", "at", "actor", "action", "envelope_id", "document_id", "work_item_id", "detail",
                 "content_hash", "prev_hash", "hash", "hash_ok")


def stored_time(value: object) -> datetime:
    """An event's ``at`` as a raw SQL row gives it (SQLite: ISO text without zone; PostgreSQL: aware), in UTC."""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(at, datetime):
        raise TypeError(f"not a time: {value!r}")
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _iso(at: datetime) -> str:
    if at.tzinfo is None:  # SQLite hands back naive datetimes; they are UTC
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(*, at: datetime, actor: str, action: str, envelope_id: str | None, document_id: str | None,
              work_item_id: int | None, detail: dict[str, Any]) -> bytes:
    """The bytes of an event's content: sorted keys, no whitespace, UTF-8; ``at`` in UTC to the microsecond."""
    body = {"at": _iso(at), "actor": actor, "action": action, "envelope_id": envelope_id,
            "document_id": document_id, "work_item_id": work_item_id, "detail": detail}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def content_digest(**fields: Any) -> str:
    """SHA-256 (hex) of ``canonical(**fields)``."""
    return hashlib.sha256(canonical(**fields)).hexdigest()


def link_hash(prev_hash: str, content_hash: str) -> str:
    """An event's chain link; the PostgreSQL trigger computes the same with ``sha256(convert_to(...))``."""
    return hashlib.sha256((prev_hash + content_hash).encode()).hexdigest()


def _content_of(ev: AuditEvent) -> str:
    return content_digest(at=ev.at, actor=ev.actor, action=ev.action, envelope_id=ev.envelope_id,
                          document_id=ev.document_id, work_item_id=ev.work_item_id, detail=ev.detail or {})


def event_hash(ev: AuditEvent) -> str:
    """The link ``ev`` must carry, recomputed from its fields and ``prev_hash``."""
    return link_hash(ev.prev_hash or "", _content_of(ev))


_AUDIT = AuditEvent.__table__
_HEAD = AuditChainHead.__table__


def record(session: Session, actor: str, action: str, *, envelope_id: str | None = None,
           document_id: str | None = None, work_item_id: int | None = None,
           detail: dict[str, Any] | None = None, at: datetime | None = None) -> None:
    """Append one event to the chain (in the caller's transaction; it commits with the change).

    PostgreSQL: one ``INSERT``; the chain trigger links it at commit. SQLite: the first event of a transaction
    reads and advances the head row (``UPDATE ... RETURNING``, which takes the database's write lock until the
    commit); the next ones continue from the link the session keeps, without reading the head again. Each
    event then writes the event and the head's new link, so a savepoint rolled back takes its events and its
    head writes with it (and the kept link is dropped: :func:`_forget_head`).
    """
    session.flush()  # pending ORM changes (and earlier events of this transaction) go first
    # Store exactly what is hashed: the detail as it comes back from JSON.
    clean = json.loads(json.dumps(detail or {}, ensure_ascii=False, default=str))
    when = (at or datetime.now(UTC)).astimezone(UTC)
    fields: dict[str, Any] = {"at": when, "actor": actor, "action": action, "envelope_id": envelope_id,
                              "document_id": document_id, "work_item_id": work_item_id, "detail": clean}
    content = content_digest(**fields)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(insert(_AUDIT).values(**fields, content_hash=content))
        return
    held = session.info.get(_HELD)
    if held is not None:
        prev, seq = held[0], held[1] + 1
    else:
        row = session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq + 1)
                              .returning(_HEAD.c.last_hash, _HEAD.c.seq)).first()
        if row is None:  # the head row was removed: continue from the newest event; verify reports the count
            newest = session.execute(select(AuditEvent.hash, AuditEvent.seq).where(AuditEvent.seq.is_not(None))
                                     .order_by(AuditEvent.seq.desc()).limit(1)).first()
            prev, seq = (newest.hash, newest.seq + 1) if newest is not None else (GENESIS, 1)
            session.execute(insert(_HEAD).values(id=1, seq=seq, last_hash=prev))
        else:
            prev, seq = row.last_hash, row.seq
        for obj in [o for o in session.identity_map.values() if isinstance(o, AuditChainHead)]:
            session.expire(obj)  # an ORM copy of the head is stale now
    digest = link_hash(prev, content)
    session.execute(insert(_AUDIT).values(**fields, content_hash=content, seq=seq, prev_hash=prev, hash=digest))
    session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(last_hash=digest, seq=seq))
    session.info[_HELD] = (digest, seq)


_HELD = "mailroom.audit.head"  # session.info: the head's (link, seq) as this transaction has written it


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
@event.listens_for(Session, "after_soft_rollback")
def _forget_head(session: Session, *_: Any) -> None:
    """Once the transaction (or a savepoint) ends, the next event reads the head from the database again."""
    session.info.pop(_HELD, None)


@dataclass(frozen=True)
class Finding:
    event_id: int | None
    kind: str  # altered | missing | reordered | unchained | truncated
    message: str


@dataclass
class VerifyReport:
    checked: int
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.findings


def verify(session: Session, batch: int = 2000) -> VerifyReport:
    """Walk the whole chain in ``seq`` order; one finding per break, the walk continues after it."""
    findings: list[Finding] = []
    expected, prev_id, prev_seq, chained = GENESIS, None, 0, 0
    while True:  # keyset pages, so memory stays flat however long the trail is
        page = list(session.scalars(select(AuditEvent).where(AuditEvent.seq > prev_seq)
                                    .order_by(AuditEvent.seq).limit(batch)))
        if not page:
            break
        for ev in page:
            chained += 1
            if event_hash(ev) != ev.hash:
                findings.append(Finding(ev.id, "altered", f"event #{ev.id} ({ev.action}, {_iso(ev.at)}) was "
                                        "altered: its content does not match its hash"))
            if ev.prev_hash != expected:
                findings.append(_link_finding(session, ev, prev_id, prev_seq))
            expected, prev_id, prev_seq = ev.hash, ev.id, ev.seq or prev_seq
        session.expunge_all()
    unchained = 0
    last_id = 0
    while True:
        page = list(session.scalars(select(AuditEvent).where(AuditEvent.seq.is_(None), AuditEvent.id > last_id)
                                    .order_by(AuditEvent.id).limit(batch)))
        if not page:
            break
        for ev in page:
            unchained += 1
            findings.append(Finding(ev.id, "unchained", f"event #{ev.id} ({ev.action}) has no place in the chain: "
                                    "it was written outside storage.audit.record"))
        last_id = page[-1].id
        session.expunge_all()
    head = session.get(AuditChainHead, 1)
    if head is not None and head.last_hash != expected:
        after = f"after event #{prev_id}" if prev_id is not None else "(the trail is empty)"
        findings.append(Finding(None, "truncated", f"the newest events were removed {after}: the chain head "
                                f"records {head.seq} events, {chained} found"))
    elif head is not None and head.seq != chained and not any(f.kind == "missing" for f in findings):
        findings.append(Finding(None, "missing", f"the chain head records {head.seq} events, {chained} found"))
    return VerifyReport(checked=chained + unchained, findings=findings)


def _link_finding(session: Session, ev: AuditEvent, prev_id: int | None, prev_seq: int) -> Finding:
    pred = session.scalars(select(AuditEvent.id).where(AuditEvent.hash == ev.prev_hash)).first()
    if pred is not None:
        return Finding(ev.id, "reordered", f"event #{ev.id} ({ev.action}) is out of order: it was chained "
                       f"after event #{pred}, but follows event #{prev_id}")
    seq = ev.seq or 0
    gap = f" (chain positions {prev_seq + 1}..{seq - 1} are missing)" if seq - prev_seq > 1 else ""
    where = f"between event #{prev_id} and event #{ev.id}" if prev_id is not None else f"before event #{ev.id}"
    return Finding(ev.id, "missing", f"event(s) were removed {where}{gap}: #{ev.id} does not chain to its "
                   "predecessor")


def trail(session: Session, document_id: str) -> list[AuditEvent]:
    """A document's trail: its own events and those of its envelope, oldest first."""
    doc = session.get(Document, document_id)
    cond = AuditEvent.document_id == document_id
    if doc is not None:
        cond = or_(cond, (AuditEvent.envelope_id == doc.envelope_id) & AuditEvent.document_id.is_(None))
    return list(session.scalars(select(AuditEvent).where(cond).order_by(AuditEvent.id)))


def event_dict(ev: AuditEvent) -> dict[str, Any]:
    return {"id": ev.id, "seq": ev.seq, "at": _iso(ev.at), "actor": ev.actor, "action": ev.action,
            "envelope_id": ev.envelope_id, "document_id": ev.document_id, "work_item_id": ev.work_item_id,
            "detail": ev.detail, "content_hash": ev.content_hash, "prev_hash": ev.prev_hash, "hash": ev.hash,
            "hash_ok": ev.hash is not None and event_hash(ev) == ev.hash}


def export_json(events: list[AuditEvent]) -> str:
    return json.dumps([event_dict(e) for e in events], ensure_ascii=False, indent=1)


def export_csv(events: list[AuditEvent]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in iter_rows(events):
        writer.writerow(row)
    return buf.getvalue()


def iter_rows(events: list[AuditEvent]) -> Iterator[dict[str, Any]]:
    for ev in events:
        row = event_dict(ev)
        row["detail"] = json.dumps(row["detail"], ensure_ascii=False, sort_keys=True)
        yield row
