"""Audit trail: every state change, automatic decision (with why) and read by a person.

Events form a hash chain: each event stores the hash of the previous one (``prev_hash``) and
its own ``hash`` = SHA-256 over a canonical JSON of its fields and ``prev_hash``. Appends are
serialised: the one-row table ``audit_chain_head`` is updated first (on SQLite that takes the
database write lock; on PostgreSQL we also take ``pg_advisory_xact_lock``), so two writers can
never chain to the same predecessor. ``verify`` walks the chain in id order and says where it
breaks: an altered event, removed events, events out of order, or a truncated tail.
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

from sqlalchemy import insert, or_, select, text, update
from sqlalchemy.orm import Session

from storage.models import AuditChainHead, AuditEvent, Document

GENESIS = "0" * 64
ADVISORY_LOCK_KEY = 0x6D61696C  # "mail": the PostgreSQL advisory lock that serialises appends
EXPORT_FIELDS = ("id", "at", "actor", "action", "envelope_id", "document_id", "work_item_id", "detail",
                 "prev_hash", "hash", "hash_ok")


def _iso(at: datetime) -> str:
    if at.tzinfo is None:  # SQLite hands back naive datetimes; they are UTC
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(*, at: datetime, actor: str, action: str, envelope_id: str | None, document_id: str | None,
              work_item_id: int | None, detail: dict[str, Any], prev_hash: str) -> bytes:
    """The bytes that are hashed: sorted keys, no whitespace, UTF-8; ``at`` in UTC to the microsecond."""
    body = {"at": _iso(at), "actor": actor, "action": action, "envelope_id": envelope_id,
            "document_id": document_id, "work_item_id": work_item_id, "detail": detail, "prev_hash": prev_hash}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def event_hash(ev: AuditEvent) -> str:
    return hashlib.sha256(canonical(
        at=ev.at, actor=ev.actor, action=ev.action, envelope_id=ev.envelope_id, document_id=ev.document_id,
        work_item_id=ev.work_item_id, detail=ev.detail or {}, prev_hash=ev.prev_hash or "")).hexdigest()


_AUDIT = AuditEvent.__table__
_HEAD = AuditChainHead.__table__


def record(session: Session, actor: str, action: str, *, envelope_id: str | None = None,
           document_id: str | None = None, work_item_id: int | None = None,
           detail: dict[str, Any] | None = None, at: datetime | None = None) -> None:
    """Append one event to the chain (in the caller's transaction; it commits with the change).

    Few round trips while the chain head is locked, because every transition waits for it: one
    ``UPDATE ... RETURNING`` of the head row takes the locks (on PostgreSQL the advisory lock first,
    in the same statement), then the event insert and the new head hash (one statement on PostgreSQL).
    """
    session.flush()  # pending ORM changes (and earlier events of this transaction) go first
    # Store exactly what is hashed: the detail as it comes back from JSON.
    clean = json.loads(json.dumps(detail or {}, ensure_ascii=False, default=str))
    pg = session.get_bind().dialect.name == "postgresql"
    lock = update(_HEAD).where(_HEAD.c.id == 1)
    if pg:
        lock = lock.where(text("(SELECT pg_advisory_xact_lock(:k))::text = ''").bindparams(k=ADVISORY_LOCK_KEY))
    row = session.execute(lock.values(seq=_HEAD.c.seq + 1).returning(_HEAD.c.last_hash)).first()
    if row is None:  # the head row was removed: continue from the newest event; verify reports the count
        last_event = session.scalars(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
        session.execute(insert(_HEAD).values(id=1, seq=0, last_hash=last_event or GENESIS))
        return record(session, actor, action, envelope_id=envelope_id, document_id=document_id,
                      work_item_id=work_item_id, detail=detail, at=at)
    when = (at or datetime.now(UTC)).astimezone(UTC)
    digest = hashlib.sha256(canonical(at=when, actor=actor, action=action, envelope_id=envelope_id,
                                      document_id=document_id, work_item_id=work_item_id, detail=clean,
                                      prev_hash=row.last_hash)).hexdigest()
    ins = insert(_AUDIT).values(at=when, actor=actor, action=action, envelope_id=envelope_id,
                                document_id=document_id, work_item_id=work_item_id, detail=clean,
                                prev_hash=row.last_hash, hash=digest)
    head = update(_HEAD).where(_HEAD.c.id == 1).values(last_hash=digest)
    if pg:
        session.execute(head.add_cte(ins.returning(_AUDIT.c.id).cte("ev")))
    else:
        session.execute(ins)
        session.execute(head)
    for obj in [o for o in session.identity_map.values() if isinstance(o, AuditChainHead)]:
        session.expire(obj)  # an ORM copy of the head is stale now


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
    """Walk the whole chain in id order; one finding per break, the walk continues after it."""
    findings: list[Finding] = []
    expected, prev_id, checked = GENESIS, None, 0
    last_id = 0
    while True:  # keyset pages, so memory stays flat however long the trail is
        page = list(session.scalars(select(AuditEvent).where(AuditEvent.id > last_id)
                                    .order_by(AuditEvent.id).limit(batch)))
        if not page:
            break
        for ev in page:
            checked += 1
            if ev.hash is None:
                findings.append(Finding(ev.id, "unchained", f"event #{ev.id} ({ev.action}) has no hash: it was "
                                        "written outside storage.audit.record"))
                prev_id = ev.id
                continue
            if event_hash(ev) != ev.hash:
                findings.append(Finding(ev.id, "altered", f"event #{ev.id} ({ev.action}, {_iso(ev.at)}) was "
                                        "altered: its content does not match its hash"))
            if ev.prev_hash != expected:
                findings.append(_link_finding(session, ev, prev_id))
            expected, prev_id = ev.hash, ev.id
        last_id = page[-1].id
        session.expunge_all()
    head = session.get(AuditChainHead, 1)
    if head is not None and head.last_hash != expected:
        after = f"after event #{prev_id}" if prev_id is not None else "(the trail is empty)"
        findings.append(Finding(None, "truncated", f"the newest events were removed {after}: the chain head "
                                f"records {head.seq} events, {checked} found"))
    elif head is not None and head.seq != checked and not any(f.kind == "missing" for f in findings):
        findings.append(Finding(None, "missing", f"the chain head records {head.seq} events, {checked} found"))
    return VerifyReport(checked=checked, findings=findings)


def _link_finding(session: Session, ev: AuditEvent, prev_id: int | None) -> Finding:
    pred = session.scalars(select(AuditEvent.id).where(AuditEvent.hash == ev.prev_hash)).first()
    if pred is not None:
        return Finding(ev.id, "reordered", f"event #{ev.id} ({ev.action}) is out of order: it was chained "
                       f"after event #{pred}, but follows event #{prev_id}")
    gap = f" (ids {prev_id + 1}..{ev.id - 1} are missing)" if prev_id is not None and ev.id - prev_id > 1 else ""
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
    return {"id": ev.id, "at": _iso(ev.at), "actor": ev.actor, "action": ev.action, "envelope_id": ev.envelope_id,
            "document_id": ev.document_id, "work_item_id": ev.work_item_id, "detail": ev.detail,
            "prev_hash": ev.prev_hash, "hash": ev.hash, "hash_ok": ev.hash is not None and event_hash(ev) == ev.hash}


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
