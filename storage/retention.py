"""Retention and legal hold: delete originals and text after their period, never under hold.

An envelope is due when ``received_at + period`` has passed, the period being the longest of its
documents' categories (``ground/config/retention.yaml``). Purging deletes the blobs nobody else refers to
(content-addressed blobs can be shared: the same attachment in two e-mails), clears the text and
entities of the documents and their search rows, sets ``purged_at`` and records an audit event.
Each envelope is committed before its blobs are deleted, so a crash leaves at worst an orphan blob
(removed by the next run), never a record pointing at a deleted original it still claims to have.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml
from dateutil.relativedelta import relativedelta
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ground.errors import ConfigError, Conflict, InvalidRequest, MailroomError, NotFound
from ground.records import CATEGORIES
from ground.settings import CONFIG_DIR
from storage.audit import record
from storage.blobs import BlobStore
from storage.models import Document, EntityCorrection, Envelope, WorkItem, WorkItemState
from storage.search import search_index

DEFAULT_CONFIG = CONFIG_DIR / "retention.yaml"
_PERIOD = re.compile(r"^\s*(\d+)\s*([ymd])\s*$")


@dataclass(frozen=True)
class Period:
    text: str
    delta: relativedelta

    @classmethod
    def parse(cls, value: object, where: str) -> Period:
        m = _PERIOD.match(str(value))
        if not m or int(m.group(1)) <= 0:
            raise ConfigError(f"{where}: {value!r} is not a retention period; write e.g. 6y, 18m or 90d.")
        n, unit = int(m.group(1)), m.group(2)
        delta = {"y": relativedelta(years=n), "m": relativedelta(months=n), "d": relativedelta(days=n)}[unit]
        return cls(f"{n}{unit}", delta)


@dataclass(frozen=True)
class RetentionPolicy:
    default: Period
    quarantined: Period
    categories: dict[str, Period]

    def period(self, category: str | None) -> Period:
        return self.categories.get(category or "", self.default)

    def shortest(self) -> relativedelta:
        ref = datetime(2000, 1, 1)
        return min((p.delta for p in [self.default, self.quarantined, *self.categories.values()]),
                   key=lambda d: ref + d)


def load_policy(path: Path = DEFAULT_CONFIG) -> RetentionPolicy:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot be read as YAML ({exc})") from exc
    if not isinstance(raw, dict) or "default" not in raw:
        raise ConfigError(f"{path}: needs at least `default: <period>`.")
    cats = raw.get("categories") or {}
    unknown = sorted(set(cats) - set(CATEGORIES))
    if unknown:
        raise ConfigError(f"{path}: unknown categories {', '.join(unknown)}; known: {', '.join(CATEGORIES)}.")
    default = Period.parse(raw["default"], f"{path}: default")
    return RetentionPolicy(default=default,
                           quarantined=Period.parse(raw.get("quarantined", raw["default"]), f"{path}: quarantined"),
                           categories={c: Period.parse(v, f"{path}: {c}") for c, v in cats.items()})


@dataclass
class Decision:
    envelope_id: str
    source_name: str
    received_at: datetime
    period: str
    expires: datetime
    blobs: list[str] = field(default_factory=list)  # deleted (or to delete)
    shared: list[str] = field(default_factory=list)  # kept: another envelope still refers to them


@dataclass
class RetentionReport:
    dry_run: bool
    purged: list[Decision] = field(default_factory=list)
    held: list[Decision] = field(default_factory=list)
    open_items: list[Decision] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed_keys: set[str] = field(default_factory=set)

    def render(self) -> str:
        verb = "would purge" if self.dry_run else "purged"
        lines = [f"retention{' (dry run: nothing changed)' if self.dry_run else ''}: {verb} {len(self.purged)}, "
                 f"kept under legal hold {len(self.held)}, kept with open work items {len(self.open_items)}"]
        for title, items in ((verb, self.purged), ("legal hold", self.held), ("open work item", self.open_items)):
            for d in items:
                lines.append(f"  {title}: envelope {d.envelope_id} ({d.source_name}) received "
                             f"{d.received_at:%Y-%m-%d}, period {d.period}, expired {d.expires:%Y-%m-%d}"
                             + (f", {len(d.blobs)} blob(s)" if title == verb else ""))
        lines += [f"  ERROR {e}" for e in self.errors]
        return "\n".join(lines)


def _decision(env: Envelope, policy: RetentionPolicy) -> Decision:
    periods = [policy.period(d.category) for d in env.documents] or [policy.quarantined]
    ref = env.received_at
    longest = max(periods, key=lambda p: ref + p.delta)
    return Decision(env.id, env.source_name, env.received_at, longest.text, ref + longest.delta)


def _referenced_elsewhere(session: Session, key: str, envelope_id: str) -> bool:
    env_ref = select(Envelope.id).where(Envelope.sha256 == key, Envelope.id != envelope_id,
                                        Envelope.purged_at.is_(None))
    doc_ref = (select(Document.id).join(Envelope)
               .where(Document.part_sha256 == key, Envelope.id != envelope_id, Envelope.purged_at.is_(None)))
    return session.scalars(env_ref.limit(1)).first() is not None or \
        session.scalars(doc_ref.limit(1)).first() is not None


def run_retention(session: Session, blobs: BlobStore, policy: RetentionPolicy, *, now: datetime,
                  dry_run: bool = False, actor: str = "system") -> RetentionReport:
    """Purge what is due; with ``dry_run`` only report. Commits once per purged envelope."""
    report = RetentionReport(dry_run=dry_run)
    cutoff = now - policy.shortest()
    candidates = list(session.scalars(select(Envelope.id).where(
        Envelope.purged_at.is_(None), Envelope.received_at < cutoff).order_by(Envelope.received_at)))
    index = search_index(session)
    for env_id in candidates:
        env = session.get(Envelope, env_id)
        assert env is not None
        d = _decision(env, policy)
        if d.expires > now:
            continue
        if env.legal_hold:
            report.held.append(d)
            continue
        doc_ids = [doc.id for doc in env.documents]
        open_item = session.scalars(select(WorkItem.id).where(
            WorkItem.document_id.in_(doc_ids), WorkItem.state != WorkItemState.DONE).limit(1)).first()
        if open_item is not None:
            report.open_items.append(d)
            continue
        keys = sorted({env.sha256, *(doc.part_sha256 for doc in env.documents)})
        for key in keys:
            (d.shared if _referenced_elsewhere(session, key, env.id) else d.blobs).append(key)
        report.purged.append(d)
        if dry_run:
            continue
        for doc in env.documents:
            doc.text, doc.entities = "", {}
            index.remove_document(session, doc.id)
        # the values people corrected on these letters (training data, 0018) go with the entities
        session.execute(delete(EntityCorrection).where(EntityCorrection.document_id.in_(doc_ids)))
        env.purged_at = now
        record(session, actor, "envelope.purged", envelope_id=env.id, at=now, detail={
            "period": d.period, "expired": d.expires.isoformat(), "documents": len(doc_ids),
            "categories": sorted({doc.category or "-" for doc in env.documents}),
            "blobs_deleted": d.blobs, "blobs_kept_shared": d.shared})
        session.commit()  # the record says "purged" before any original disappears
        for key in d.blobs:
            try:
                blobs.delete(key)
            except MailroomError as exc:
                report.failed_keys.add(key)
                report.errors.append(f"envelope {env.id}: blob {key} could not be deleted ({exc.reason}); "
                                     "the next run retries")
    if not dry_run:
        _remove_leftovers(session, blobs, report)
    return report


def _remove_leftovers(session: Session, blobs: BlobStore, report: RetentionReport) -> None:
    """Blobs of purged envelopes that a failed earlier run could not delete."""
    rows = session.execute(select(Envelope.id, Envelope.sha256).where(Envelope.purged_at.is_not(None))).all()
    rows += session.execute(select(Envelope.id, Document.part_sha256).join(Document)
                            .where(Envelope.purged_at.is_not(None))).all()
    for env_id, key in rows:
        if key in report.failed_keys or not blobs.exists(key) or _referenced_elsewhere(session, key, env_id):
            continue
        try:
            blobs.delete(key)
        except MailroomError as exc:
            report.errors.append(f"envelope {env_id}: blob {key} could not be deleted ({exc.reason})")


def set_legal_hold(session: Session, envelope_id: str, hold: bool, *, actor: str, reason: str = "",
                   now: datetime | None = None) -> Envelope:
    """Set or release the legal hold of an envelope; either way the reason (a case number, the court's order
    lifting it) is required and recorded in the audit event."""
    if not reason.strip():
        raise InvalidRequest(f"Give the reason for {'setting' if hold else 'releasing'} the legal hold "
                             "(e.g. the case number, or the order that lifts it).")
    env = session.get(Envelope, envelope_id)
    if env is None:
        raise NotFound(f"envelope {envelope_id} does not exist")
    if hold and env.purged_at is not None:
        raise Conflict(f"envelope {envelope_id} was purged on {env.purged_at:%Y-%m-%d}; nothing left to hold")
    if env.legal_hold != hold:
        env.legal_hold = hold
        record(session, actor, "envelope.legal_hold_set" if hold else "envelope.legal_hold_released",
               envelope_id=envelope_id, detail={"reason": reason.strip()}, at=now)
    return env

