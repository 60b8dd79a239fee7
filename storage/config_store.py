"""Versions of the configuration people edit in the browser (routing rules, SLA policies).

The YAML files in ``ground/config`` (or where the settings point) are the seed: until someone saves a
version, the file is in force. Every save is a new row; the newest row of a kind is in force in every
process (``pipeline.context`` looks for a newer one every few seconds). A rollback saves an earlier text
again, so the history only grows and says who brought what back, and when.
"""

from __future__ import annotations

import difflib
import hashlib
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ground.errors import Conflict, InvalidRequest, NotFound
from storage.audit import record
from storage.models import ConfigVersion

KINDS: dict[str, str] = {"routing": "routing.yaml", "sla": "sla.yaml"}  # kind → the seed file's usual name
MAX_TEXT = 512 * 1024  # a routing file of a few thousand rules; anything larger is a mistake


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise NotFound(f"there is no configuration {kind!r}; there are {', '.join(KINDS)}")
    return kind


def latest_id(session: Session, kind: str) -> int | None:
    """The id of the version in force, None while the seed file is (one indexed look-up)."""
    return session.scalar(select(func.max(ConfigVersion.id)).where(ConfigVersion.kind == kind))


def current(session: Session, kind: str) -> ConfigVersion | None:
    found = latest_id(session, kind)
    return session.get(ConfigVersion, found) if found is not None else None


def get_version(session: Session, kind: str, version_id: int) -> ConfigVersion:
    row = session.get(ConfigVersion, version_id)
    if row is None or row.kind != kind:
        raise NotFound(f"version {version_id} of the {kind} configuration does not exist")
    return row


def history(session: Session, kind: str, limit: int = 100) -> list[ConfigVersion]:
    return list(session.scalars(select(ConfigVersion).where(ConfigVersion.kind == kind)
                                .order_by(ConfigVersion.id.desc()).limit(limit)))


def previous(session: Session, version: ConfigVersion) -> ConfigVersion | None:
    """The version that was in force before ``version`` was saved."""
    return session.scalars(select(ConfigVersion).where(ConfigVersion.kind == version.kind,
                                                       ConfigVersion.id < version.id)
                           .order_by(ConfigVersion.id.desc()).limit(1)).first()


def diff(before: str, after: str, before_name: str, after_name: str) -> str:
    """A unified diff of two texts (what the history shows)."""
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        before_name, after_name, n=2))


def save(session: Session, kind: str, text: str, author: str, now: datetime, *, comment: str = "",
         based_on: int | None = None, restored_from: int | None = None, seed_text: str = "") -> ConfigVersion:
    """Store ``text`` (already validated by the caller) as the version in force; audited with the diff's size.

    ``based_on`` is the version the editor started from (None: the seed file). When someone else saved in
    between, the save is refused rather than silently undoing their change."""
    check_kind(kind)
    if len(text.encode()) > MAX_TEXT:
        raise InvalidRequest(f"the {kind} configuration is larger than {MAX_TEXT // 1024} KB; split it or "
                             "remove what is not used")
    before = current(session, kind)
    if (before.id if before else None) != based_on:
        raise Conflict(f"someone saved version {before.id if before else 'of the file'} of the {kind} "
                       "configuration while you were editing; open it again and repeat your change")
    old = before.text if before is not None else seed_text
    if old == text:
        raise InvalidRequest("nothing changed: the text is the one in force")
    row = ConfigVersion(kind=kind, text=text, sha256=hashlib.sha256(text.encode()).hexdigest(), author=author,
                        comment=comment.strip()[:500], restored_from=restored_from, created_at=now)
    session.add(row)
    session.flush()
    lines = diff(old, text, "before", "after").splitlines()
    record(session, author, "config.rolled_back" if restored_from is not None else "config.saved",
           detail={"kind": kind, "version": row.id, "previous": before.id if before else None,
                   "restored_from": restored_from, "sha256": row.sha256, "comment": row.comment,
                   "lines_added": sum(1 for ln in lines if ln.startswith("+") and not ln.startswith("+++")),
                   "lines_removed": sum(1 for ln in lines if ln.startswith("-") and not ln.startswith("---"))})
    return row
