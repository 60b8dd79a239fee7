"""People and stations (issue 19), for administrators: users (create, role, language, time zone, disable and
enable, password reset), station tokens (upload-only, named, with an expiry; revoke) and an agent's queues.
Thin shells over storage.users and queues.work; every change is an audit event there (``user.created``,
``user.role_changed``, ``user.preferences_set``, ``user.disabled``, ``user.enabled``, ``user.password_set``,
``token.created``, ``token.revoked``, ``queue.members_set``), never with a password or a token in it.

A password or token the server makes is in the answer once and stored only as a hash. An agent's skills are
set with ``PUT /api/agents/{username}/skills`` (web/api_queues.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from ground.errors import Conflict, InvalidRequest, NotFound
from queues import work
from queues.routing import RuleSet
from storage.models import AgentSkill, ApiToken, Role, User
from storage.users import (
    MAX_PASSWORD_LENGTH,
    USERNAME_PATTERN,
    create_token,
    create_user,
    generate_password,
    get_user,
    list_tokens,
    list_users,
    reset_password,
    revoke_token,
    set_active,
    update_user,
)
from web.deps import ACCESS, CtxDep, SessionDep, may, require

router = APIRouter()

Admin = Annotated[User, require()]  # administrators only

NOT_SELF = "You cannot disable your own account; another administrator can."
OWNER_MAY_NOT_UPLOAD = "A station token belongs to an active user who may upload: mailroom staff or a supervisor."
AGENTS_ONLY = "Queues and skills are for agents."
NO_QUEUE = "Choose queues from the list."
NO_TOKEN = "There is no such token."


class SkillsOut(BaseModel):
    languages: list[str]
    categories: list[str]
    segments: list[str]
    capacity: int


class UserOut(BaseModel):
    username: str
    display_name: str
    role: str
    active: bool
    language: str | None
    time_zone: str | None
    created_at: datetime
    queues: list[str] | None = Field(default=None, description="an agent's member queues (none: no queue)")
    skills: SkillsOut | None = Field(default=None, description="an agent's skills (empty lists: any)")


class UserIn(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN, max_length=64)
    display_name: str = Field(default="", max_length=200)
    role: Role
    language: Literal["en", "pl", "cs", "ru"] | None = None
    time_zone: str | None = Field(default=None, max_length=64, description="an IANA name, e.g. Europe/Prague")
    password: str | None = Field(default=None, max_length=MAX_PASSWORD_LENGTH,
                                 description="the initial password (at least 8 characters); none: one is made "
                                             "and returned once")


class UserCreated(UserOut):
    password: str | None = Field(default=None, description="the password made for the user, shown only here")


class UserPatch(BaseModel):
    display_name: str | None = Field(default=None, max_length=200)
    role: Role | None = None
    language: Literal["en", "pl", "cs", "ru", ""] | None = Field(default=None, description='"": the browser\'s')
    time_zone: str | None = Field(default=None, max_length=64, description='"": the site\'s')
    active: bool | None = Field(default=None, description="false: disable (sessions end, tokens are revoked)")


class PasswordIn(BaseModel):
    password: str | None = Field(default=None, max_length=MAX_PASSWORD_LENGTH,
                                 description="the new password; none: one is made and returned once")


class PasswordOut(BaseModel):
    username: str
    password: str | None = Field(default=None, description="the password made, shown only here")


class QueuesIn(BaseModel):
    queues: list[str] = Field(max_length=200)


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="what the token is for, e.g. 'scanner, 2nd floor'")
    owner: str = Field(max_length=64, description="the user the station uploads as (mailroom staff, supervisor)")
    station: str | None = Field(default=None, max_length=100, description="recorded on every envelope; "
                                                                           "default: the name")
    expires_at: datetime = Field(description="with its UTC offset; the token no longer authenticates after it")


class TokenOut(BaseModel):
    id: int
    name: str
    owner: str
    station: str | None
    scope: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    state: Literal["valid", "expired", "revoked"]


class TokenCreated(TokenOut):
    token: str = Field(description="the token, shown only here; send it as `Authorization: Bearer <token>`")


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def token_state(token: ApiToken, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    expires = _aware(token.expires_at)
    return "expired" if expires is not None and expires <= now else "valid"


def token_out(token: ApiToken, now: datetime) -> TokenOut:
    return TokenOut(id=token.id, name=token.name, owner=token.user.username, station=token.station,
                    scope=token.scope or "full", prefix=token.prefix, created_at=token.created_at,
                    expires_at=token.expires_at, last_used_at=token.last_used_at, revoked_at=token.revoked_at,
                    state=token_state(token, now))  # type: ignore[arg-type]


def may_upload(user: User) -> bool:
    """Whether ``user`` may own a station token: active, and of a role that may upload envelopes."""
    return user.active and may(user.role, ACCESS[("POST", "/api/envelopes")])


def agent_queues(session: Session, user: User) -> list[str] | None:
    return work.agent_scope(session, user.username).queues if user.role == Role.AGENT.value else None


def set_agent_queues(session: Session, username: str, queues: Sequence[str], actor: str, rules: RuleSet) -> list[str]:
    """Make ``username`` (an agent) a member of exactly ``queues``: each queue whose members change is set with
    queues.work.set_members (one ``queue.members_set`` each); the others are left alone."""
    user = get_user(session, username)
    if user is None:
        raise NotFound("There is no such user.")
    if user.role != Role.AGENT.value:
        raise InvalidRequest(AGENTS_ONLY)
    known = [q.id for q in rules.queues]
    if set(queues) - set(known):
        raise InvalidRequest(NO_QUEUE)
    wanted = set(queues)
    for queue in known:
        now_members = work.members(session, queue)
        if (username in now_members) != (queue in wanted):
            new = [m for m in now_members if m != username] + ([username] if queue in wanted else [])
            work.set_members(session, queue, sorted(new), actor, rules)
    return [q for q in known if q in wanted]


def user_out(session: Session, user: User) -> UserOut:
    skills = None
    if user.role == Role.AGENT.value:
        s = session.get(AgentSkill, user.id)
        skills = SkillsOut(languages=list(s.languages), categories=list(s.categories), segments=list(s.segments),
                           capacity=s.capacity) if s else SkillsOut(languages=[], categories=[], segments=[],
                                                                    capacity=work.DEFAULT_CAPACITY)
    return UserOut(username=user.username, display_name=user.display_name, role=user.role, active=user.active,
                   language=user.language, time_zone=user.time_zone, created_at=user.created_at,
                   queues=agent_queues(session, user), skills=skills)


def _user(session: Session, username: str) -> User:
    user = get_user(session, username)
    if user is None:
        raise HTTPException(404, "Not found.")
    return user


# ---------------------------------------------------------------- users


@router.get("/api/users", response_model=list[UserOut])
def users(user: Admin, session: SessionDep) -> list[UserOut]:
    """Every user, active or not, by user name."""
    return [user_out(session, u) for u in list_users(session)]


@router.post("/api/users", response_model=UserCreated, status_code=201)
def add_user(body: UserIn, user: Admin, session: SessionDep) -> UserCreated:
    """Create a user; without a password one is made and returned (once)."""
    password = body.password or generate_password()
    new = create_user(session, body.username, password, body.role, display_name=body.display_name,
                      language=body.language, time_zone=body.time_zone, actor=user.username)
    out = UserCreated(**user_out(session, new).model_dump(), password=None if body.password else password)
    session.commit()
    return out


@router.get("/api/users/{username}", response_model=UserOut)
def get_one(username: str, user: Admin, session: SessionDep) -> UserOut:
    return user_out(session, _user(session, username))


@router.patch("/api/users/{username}", response_model=UserOut)
def patch_user(username: str, body: UserPatch, user: Admin, session: SessionDep) -> UserOut:
    """Change the role, display name, language or time zone, or disable (``active: false``) or enable the user.
    Nobody disables themselves, and the last active administrator stays one (409)."""
    target = _user(session, username)
    fields = body.model_fields_set
    if body.active is False and target.id == user.id:
        raise Conflict(NOT_SELF)
    update_user(session, username, actor=user.username,
                role=body.role if "role" in fields else None,
                display_name=body.display_name if "display_name" in fields else None,
                **({"language": body.language or None} if "language" in fields else {}),
                **({"time_zone": body.time_zone or None} if "time_zone" in fields else {}))
    if body.active is not None:
        set_active(session, username, body.active, _now(), actor=user.username)
    out = user_out(session, target)
    session.commit()
    return out


@router.post("/api/users/{username}/password", response_model=PasswordOut)
def set_password(username: str, body: PasswordIn, user: Admin, session: SessionDep) -> PasswordOut:
    """Set a user's password (their sessions end); without one, one is made and returned (once)."""
    _user(session, username)
    password = body.password or generate_password()
    reset_password(session, username, password, _now(), actor=user.username, generated=not body.password)
    session.commit()
    return PasswordOut(username=username, password=None if body.password else password)


@router.put("/api/users/{username}/queues", response_model=list[str])
def put_queues(username: str, body: QueuesIn, user: Admin, session: SessionDep, ctx: CtxDep) -> list[str]:
    """An agent's member queues, as a whole (an agent in no queue works none)."""
    _user(session, username)
    out = set_agent_queues(session, username, body.queues, user.username, ctx.rules)
    session.commit()
    return out


# ---------------------------------------------------------------- station tokens


@router.get("/api/tokens", response_model=list[TokenOut])
def tokens(user: Admin, session: SessionDep) -> list[TokenOut]:
    """Every API token (station and others), oldest first: never the token itself."""
    now = _now()
    return [token_out(t, now) for t in list_tokens(session)]


@router.post("/api/tokens", response_model=TokenCreated, status_code=201)
def add_token(body: TokenIn, user: Admin, session: SessionDep) -> TokenCreated:
    """A station token: it may only upload envelopes and read its own batches, until ``expires_at``."""
    if body.expires_at.tzinfo is None:
        raise HTTPException(422, "Give the expiry with its UTC offset, e.g. 2027-03-31T23:59:59+02:00.")
    owner = get_user(session, body.owner)
    if owner is None or not may_upload(owner):
        raise InvalidRequest(OWNER_MAY_NOT_UPLOAD)
    now = _now()
    token, plain = create_token(session, owner.username, body.name.strip(), now, actor=user.username,
                                station=(body.station or body.name).strip(), scope="upload",
                                expires_at=body.expires_at)
    out = TokenCreated(**token_out(token, now).model_dump(), token=plain)
    session.commit()
    return out


@router.post("/api/tokens/{token_id}/revoke", response_model=TokenOut)
def revoke(token_id: int, user: Admin, session: SessionDep) -> TokenOut:
    if not 0 < token_id < 2**63 or session.get(ApiToken, token_id) is None:
        raise HTTPException(404, "Not found.")
    token = revoke_token(session, token_id, _now(), actor=user.username)
    out = token_out(token, _now())
    session.commit()
    return out
