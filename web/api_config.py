"""Routing rules and SLA policies edited in the browser (issue 19): the text in force, a check with a dry run,
saving a new version, the history with diffs, rollback, export as YAML. Supervisors edit routing, admins both;
auditors read. Thin shell over storage.config_store and pipeline.config_check."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from ground.errors import ConfigError, InvalidRequest
from pipeline import config_check
from pipeline.context import Context
from storage import config_store
from storage.models import ConfigVersion, Role, User
from web.deps import CtxDep, SessionDep, require

router = APIRouter(tags=["configuration"])

Kind = Annotated[str, Path(pattern="^(routing|sla)$", description="routing or sla")]
Reader = Annotated[User, require(Role.SUPERVISOR, Role.AUDITOR)]
Editor = Annotated[User, require(Role.SUPERVISOR)]  # sla: admins only, by web/deps.py ACCESS and the check below


class VersionOut(BaseModel):
    kind: str
    version: int | None = Field(description="None: the YAML file shipped or configured (no version saved yet)")
    author: str | None = None
    comment: str = ""
    restored_from: int | None = None
    created_at: datetime | None = None
    sha256: str | None = None


class ConfigOut(VersionOut):
    text: str
    diff: str = Field("", description="unified diff against the version before it")


class CheckIn(BaseModel):
    text: str = Field(max_length=config_store.MAX_TEXT)
    last: int = Field(config_check.DRY_RUN_LETTERS, ge=1, le=config_check.MAX_DRY_RUN_LETTERS)


class CheckOut(BaseModel):
    kind: str
    valid: bool
    error: str | None
    letters: int
    changes: list[config_check.Change]


class SaveIn(BaseModel):
    text: str = Field(max_length=config_store.MAX_TEXT)
    comment: str = Field("", max_length=500)
    based_on: int | None = Field(None, description="the version the edit started from (None: the file); a save "
                                                   "after someone else's is refused (409)")


class RollbackIn(BaseModel):
    comment: str = Field("", max_length=500)


def _may_edit(user: User, kind: str) -> None:
    if kind == "sla" and user.role != Role.ADMIN.value:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Only administrators change the SLA policies.")


def seed_text(ctx: Context, kind: str) -> str:
    path = ctx.settings.routing_rules if kind == "routing" else ctx.settings.sla_policies
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file ({exc.strerror}); check the path in settings") from exc


def _meta(kind: str, row: ConfigVersion | None) -> dict[str, object]:
    if row is None:
        return {"kind": kind, "version": None}
    return {"kind": kind, "version": row.id, "author": row.author, "comment": row.comment,
            "restored_from": row.restored_from, "created_at": row.created_at, "sha256": row.sha256}


def in_force(session: Session, ctx: Context, kind: str) -> ConfigOut:
    row = config_store.current(session, kind)
    return ConfigOut(**_meta(kind, row), text=row.text if row is not None else seed_text(ctx, kind))


def version(session: Session, ctx: Context, kind: str, version_id: int) -> ConfigOut:
    row = config_store.get_version(session, kind, version_id)
    before = config_store.previous(session, row)
    old = before.text if before is not None else seed_text(ctx, kind)
    return ConfigOut(**_meta(kind, row), text=row.text,
                     diff=config_store.diff(old, row.text, f"version {before.id}" if before else "file",
                                            f"version {row.id}"))


def save(session: Session, ctx: Context, user: User, kind: str, text: str, comment: str, based_on: int | None,
         restored_from: int | None = None) -> ConfigVersion:
    """Validate (both files together), then store as the version in force."""
    _may_edit(user, kind)
    try:
        config_check.parse(kind, text, ctx)
    except ConfigError as exc:
        raise InvalidRequest(f"not saved: {exc.reason}") from exc
    return config_store.save(session, kind, text, user.username, datetime.now(UTC), comment=comment,
                             based_on=based_on, restored_from=restored_from, seed_text=seed_text(ctx, kind))


def rollback(session: Session, ctx: Context, user: User, kind: str, version_id: int, comment: str) -> ConfigVersion:
    """Bring version ``version_id`` back as a new version; 0 is the seed file."""
    text = seed_text(ctx, kind) if version_id == 0 else config_store.get_version(session, kind, version_id).text
    now = config_store.current(session, kind)
    default = "rollback to the file" if version_id == 0 else f"rollback to version {version_id}"
    return save(session, ctx, user, kind, text, comment or default, now.id if now is not None else None,
                restored_from=version_id)


def check_out(result: config_check.CheckResult) -> CheckOut:
    return CheckOut(kind=result.kind, valid=result.error is None, error=result.error, letters=result.letters,
                    changes=result.changes)


@router.get("/api/config/{kind}", response_model=ConfigOut)
def get_config(kind: Kind, user: Reader, session: SessionDep, ctx: CtxDep) -> ConfigOut:
    """The configuration in force (the newest saved version, else the YAML file)."""
    return in_force(session, ctx, kind)


@router.get("/api/config/{kind}/export", response_class=Response,
            responses={200: {"content": {"application/yaml": {}}}})
def export_config(kind: Kind, user: Reader, session: SessionDep, ctx: CtxDep) -> Response:
    """The configuration in force as a YAML file (the same format as the seed files)."""
    got = in_force(session, ctx, kind)
    name = f"{kind}-v{got.version}.yaml" if got.version is not None else config_store.KINDS[kind]
    return Response(got.text, media_type="application/yaml",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/api/config/{kind}/versions", response_model=list[VersionOut])
def list_versions(kind: Kind, user: Reader, session: SessionDep) -> list[VersionOut]:
    """Saved versions, newest (in force) first."""
    return [VersionOut(**_meta(kind, row)) for row in config_store.history(session, kind)]


@router.get("/api/config/{kind}/versions/{version_id}", response_model=ConfigOut)
def get_version(kind: Kind, version_id: int, user: Reader, session: SessionDep, ctx: CtxDep) -> ConfigOut:
    """One version's text, who saved it, when, why, and its diff against the one before."""
    return version(session, ctx, kind, version_id)


@router.post("/api/config/{kind}/check", response_model=CheckOut)
def check_config(kind: Kind, body: CheckIn, user: Editor, ctx: CtxDep) -> CheckOut:
    """Validate an edit and replay the last ``last`` letters under it: which would change queue or deadline.
    Nothing is saved."""
    _may_edit(user, kind)
    return check_out(config_check.check(ctx, kind, body.text, body.last))


@router.put("/api/config/{kind}", response_model=VersionOut)
def save_config(kind: Kind, body: SaveIn, user: Editor, session: SessionDep, ctx: CtxDep) -> VersionOut:
    """Save a new version; every process uses it within ``MAILROOM_CONFIG_RELOAD_SECONDS``."""
    row = save(session, ctx, user, kind, body.text, body.comment, body.based_on)
    session.commit()
    return VersionOut(**_meta(kind, row))


@router.post("/api/config/{kind}/versions/{version_id}/rollback", response_model=VersionOut)
def rollback_config(kind: Kind, version_id: int, body: RollbackIn, user: Editor, session: SessionDep,
                    ctx: CtxDep) -> VersionOut:
    """Bring an earlier version back, as a new version (the history keeps everything); version 0 is the YAML
    file the configuration started from."""
    row = rollback(session, ctx, user, kind, version_id, body.comment)
    session.commit()
    return VersionOut(**_meta(kind, row))
