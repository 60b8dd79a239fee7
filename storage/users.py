"""Users, passwords (argon2; older scrypt hashes still verify and are rehashed on sign-in),
API tokens (only their SHA-256 is stored; a station token carries its station, a scope and an expiry),
server-side web sessions, and sign-in throttling per user name and address, per user name and per address.

Every change made here is an audit event by the ``actor`` the caller names (``user.created``,
``user.role_changed``, ``user.password_set``, ``user.enabled``, ``user.disabled``, ``token.created``,
``token.revoked``, ``user.preferences_set``, ``user.password_changed``); the details never hold a password, a
hash or a token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, joinedload

from ground.errors import Conflict, InvalidRequest, MailroomError, NotFound
from storage.audit import record
from storage.models import ApiToken, LoginFailure, Role, User, WebSession

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)  # argon2id, OWASP minimum
TOKEN_PREFIX = "mrt_"
MAX_FAILURES = 5  # failed sign-ins per user name and address ...
MAX_ACCOUNT_FAILURES = 20  # ... per user name from any addresses (a spread-out guessing of one password) ...
MAX_ADDRESS_FAILURES = 30  # ... per address for any user names (one client trying many accounts) ...
FAILURE_WINDOW = timedelta(minutes=15)  # ... within this window, then refused until they age out
TOKEN_SCOPES = ("full", "upload")  # upload: POST /api/envelopes and the station's own batches only


class LoginThrottled(MailroomError):
    """Too many failed sign-ins for this user name from this address."""

    code = "throttled"
    http_status = 429


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        _scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        digest = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt_b64), n=int(n), r=int(r), p=int(p),
                                dklen=32)
    except ValueError:
        return False
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


class _Verified:
    """Recently verified (stored hash, password) pairs, so a station that sends HTTP Basic with every request
    costs one argon2 run per few minutes instead of one per request, and a burst of identical checks (30
    connections opened at once) runs it once while the others wait for that answer. Keys are an HMAC under
    a per-process random key; an entry names the stored hash, so a changed password never matches it."""

    TTL, SIZE = 300.0, 4096

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._ok: OrderedDict[bytes, float] = OrderedDict()
        self._locks: dict[bytes, threading.Lock] = {}
        self._guard = threading.Lock()

    def check(self, password: str, stored: str) -> bool:
        key = hmac.new(self._key, stored.encode() + b"\0" + password.encode(), hashlib.sha256).digest()
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # single flight: concurrent checks of the same pair wait for the first one
            with self._guard:
                if self._ok.get(key, 0.0) > time.monotonic():
                    return True
            ok = _verify_uncached(password, stored)
            with self._guard:
                self._locks.pop(key, None)
                if ok:
                    self._ok[key] = time.monotonic() + self.TTL
                    self._ok.move_to_end(key)
                    while len(self._ok) > self.SIZE:
                        self._ok.popitem(last=False)
            return ok


def _verify_uncached(password: str, stored: str) -> bool:
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


_verified = _Verified()


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the ``stored`` hash (a success is remembered for a few minutes)."""
    return _verified.check(password, stored)


def needs_rehash(stored: str) -> bool:
    if not stored.startswith("$argon2"):
        return True
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def upsert_user(session: Session, username: str, password: str, role: Role, display_name: str = "", *,
                actor: str = "system") -> User:
    """Create a user, or set an existing one's role, password (and display name) and enable it; audited."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        user = User(username=username, display_name=display_name or username, role=role.value,
                    password_hash=hash_password(password), active=True)
        session.add(user)
        session.flush()
        record(session, actor, "user.created", detail={"user": username, "role": role.value,
                                                       "display_name": user.display_name})
        return user
    before, was_active = user.role, user.active
    user.role, user.password_hash, user.active = role.value, hash_password(password), True
    if display_name:
        user.display_name = display_name
    session.flush()
    if before != role.value:
        record(session, actor, "user.role_changed", detail={"user": username, "from": before, "to": role.value})
    record(session, actor, "user.password_set", detail={"user": username})
    if not was_active:
        record(session, actor, "user.enabled", detail={"user": username})
    return user


def get_user(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).first()


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def disable_user(session: Session, username: str, now: datetime, *, actor: str = "system") -> User:
    """Disable a user: sessions and Basic credentials stop working at once, and so do its tokens."""
    user = get_user(session, username)
    if user is None:
        raise NotFound(f"There is no user {username!r}.")
    user.active = False
    revoked = []
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))):
        token.revoked_at = now
        revoked.append(token.id)
    for web in session.scalars(select(WebSession).where(WebSession.user_id == user.id, WebSession.ended_at.is_(None))):
        web.ended_at = now
    record(session, actor, "user.disabled", detail={"user": username, "tokens_revoked": revoked})
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this password, or None. A scrypt or outdated hash is replaced on success."""
    user = get_user(session, username)
    if user is None:
        hash_password(password)  # same cost whether or not the user exists
        return None
    if not verify_password(password, user.password_hash) or not user.active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


# ---------------------------------------------------------------- throttling


def check_throttle(session: Session, username: str, ip: str, now: datetime) -> None:
    """Refuse a sign-in after too many recent failures for this user name from this address, for this user
    name from anywhere, or from this address for any user names (LoginThrottled, 429)."""
    recent = LoginFailure.at > now - FAILURE_WINDOW
    minutes = int(FAILURE_WINDOW.total_seconds() // 60)

    def count(*where: Any) -> int:
        return session.scalar(select(func.count()).select_from(LoginFailure).where(recent, *where)) or 0

    if count(LoginFailure.username == username, LoginFailure.ip == ip) >= MAX_FAILURES:
        raise LoginThrottled(f"Too many failed sign-ins for {username!r} from this address; "
                             f"wait {minutes} minutes or ask an administrator.")
    if count(LoginFailure.ip == ip) >= MAX_ADDRESS_FAILURES:
        raise LoginThrottled(f"Too many failed sign-ins from this address; wait {minutes} minutes or ask an "
                             "administrator.")
    if count(LoginFailure.username == username) >= MAX_ACCOUNT_FAILURES:
        raise LoginThrottled(f"Too many failed sign-ins for {username!r}; wait {minutes} minutes or ask an "
                             "administrator.")


def record_failure(session: Session, username: str, ip: str, now: datetime) -> None:
    session.add(LoginFailure(username=username[:64], ip=ip[:64], at=now))
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - FAILURE_WINDOW))


def clear_failures(session: Session, username: str, ip: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.username == username, LoginFailure.ip == ip))


# ---------------------------------------------------------------- API tokens


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, username: str, name: str, now: datetime, *, actor: str = "system",
                 station: str | None = None, scope: str = "full",
                 expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """A new token for ``username``; the plain value is returned once and never stored.

    ``station`` is recorded on every envelope the token uploads; ``scope`` "upload" lets it only upload and
    read its own batches; after ``expires_at`` it no longer authenticates."""
    if scope not in TOKEN_SCOPES:
        raise MailroomError(f"A token's scope is one of {', '.join(TOKEN_SCOPES)}, not {scope!r}.")
    if expires_at is not None and expires_at <= now:
        raise MailroomError("A token's expiry must lie in the future.")
    user = get_user(session, username)
    if user is None or not user.active:
        raise NotFound(f"There is no active user {username!r}.")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name[:100], token_hash=_token_hash(plain), prefix=plain[:12],
                     created_at=now, station=(station or None) and station[:100], scope=scope, expires_at=expires_at)
    session.add(token)
    session.flush()
    record(session, actor, "token.created", detail={
        "user": username, "token_id": token.id, "name": token.name, "station": token.station, "scope": scope,
        "expires_at": expires_at.isoformat() if expires_at else None})
    return token, plain


def token_for(session: Session, plain: str, now: datetime) -> ApiToken | None:
    """The valid token (not revoked, not expired, of an active user) whose plain value this is, or None."""
    if not plain.startswith(TOKEN_PREFIX):
        return None
    token = session.scalars(select(ApiToken).options(joinedload(ApiToken.user))  # one round trip for both
                            .where(ApiToken.token_hash == _token_hash(plain))).first()
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return token


def user_for_token(session: Session, plain: str, now: datetime) -> User | None:
    token = token_for(session, plain, now)
    return token.user if token is not None else None


def list_tokens(session: Session, username: str | None = None) -> list[ApiToken]:
    q = select(ApiToken).order_by(ApiToken.id)
    if username:
        q = q.join(User).where(User.username == username)
    return list(session.scalars(q))


def revoke_token(session: Session, token_id: int, now: datetime, *, actor: str = "system") -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"There is no token {token_id}.")
    if token.revoked_at is None:
        token.revoked_at = now
        record(session, actor, "token.revoked", detail={"user": token.user.username, "token_id": token.id,
                                                        "name": token.name, "station": token.station})
    return token


# ---------------------------------------------------------------- web sessions (server-side)


def start_web_session(session: Session, user: User, now: datetime, lifetime: timedelta, ip: str = "") -> str:
    """A new session for ``user``; returns its id (for the signed cookie). Only its SHA-256 is stored."""
    sid = secrets.token_urlsafe(32)
    session.add(WebSession(id_hash=_token_hash(sid), user_id=user.id, created_at=now, expires_at=now + lifetime,
                           ip=ip[:64]))
    session.execute(delete(WebSession).where(WebSession.expires_at < now - timedelta(days=1)))
    session.flush()
    return sid


def web_session_valid(session: Session, sid: str, user_id: int, now: datetime) -> bool:
    """Whether the session ``sid`` of ``user_id`` is open: started here, not ended, not expired."""
    row = session.get(WebSession, _token_hash(sid)) if sid else None
    return row is not None and row.user_id == user_id and row.ended_at is None and row.expires_at > now


def end_web_session(session: Session, sid: str, now: datetime) -> None:
    row = session.get(WebSession, _token_hash(sid)) if sid else None
    if row is not None and row.ended_at is None:
        row.ended_at = now


# ---------------------------------------------------------------- administration by people (issue 19)
#
# The reasons below are fixed sentences (no values in them), so the pages can show them in the reader's language
# (web/pages/admin.py marks them for the catalogs).

MIN_PASSWORD_LENGTH = 8  # as ``mailroom users add`` asks
MAX_PASSWORD_LENGTH = 500  # the sign-in form takes no longer one
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"  # no ':' (HTTP Basic), no spaces
_USERNAME = re.compile(USERNAME_PATTERN)
TOO_SHORT = "The password must have at least 8 characters."
TOO_LONG = "The password may have at most 500 characters."
BAD_USERNAME = ("A user name has up to 64 letters, digits, dots, dashes, underscores or @, and starts with a letter "
                "or digit.")
USER_EXISTS = "There is already a user with this name."
LAST_ADMIN = ("The last active administrator can be neither disabled nor given another role; make another user an "
              "administrator first.")
WRONG_CURRENT = "The current password is wrong."
SAME_PASSWORD = "The new password must differ from the current one."
BAD_LOCAL = "Choose a language and a time zone from the lists."
BAD_ROLE = "Choose a role from the list."
NO_USER = "There is no such user."


class PasswordRefused(MailroomError):
    """A password the rules do not allow, or a wrong current password."""

    code = "password"
    http_status = 422


def password_problem(password: str) -> str | None:
    """Why ``password`` may not be used (a fixed sentence), or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return TOO_SHORT
    if len(password) > MAX_PASSWORD_LENGTH:
        return TOO_LONG
    return None


def generate_password() -> str:
    """A password to be shown once: 16 characters from 96 random bits (URL-safe alphabet)."""
    return secrets.token_urlsafe(12)


def _check_password(password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise PasswordRefused(problem)


def _check_local(language: str | None, time_zone: str | None) -> None:
    from ground.i18n import LANGUAGES, valid_zone

    if (language and language not in LANGUAGES) or (time_zone and not valid_zone(time_zone)):
        raise InvalidRequest(BAD_LOCAL)


def _role(role: str | Role) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidRequest(BAD_ROLE) from None


def _existing(session: Session, username: str) -> User:
    user = get_user(session, username)
    if user is None:
        raise NotFound(NO_USER)
    return user


def _keep_an_admin(session: Session, user: User, *, role: str, active: bool) -> None:
    """Refuse a change that would leave no active administrator."""
    if user.role != Role.ADMIN.value or not user.active or (role == Role.ADMIN.value and active):
        return
    others = session.scalar(select(func.count()).select_from(User).where(
        User.role == Role.ADMIN.value, User.active.is_(True), User.id != user.id)) or 0
    if not others:
        raise Conflict(LAST_ADMIN)


def create_user(session: Session, username: str, password: str, role: str | Role, *, display_name: str = "",
                language: str | None = None, time_zone: str | None = None, actor: str) -> User:
    """A new, active user; refused when the name is taken or malformed or the password breaks the rules."""
    if not _USERNAME.match(username):
        raise InvalidRequest(BAD_USERNAME)
    if get_user(session, username) is not None:
        raise Conflict(USER_EXISTS)
    _check_password(password)
    _check_local(language, time_zone)
    user = upsert_user(session, username, password, _role(role), display_name.strip()[:200], actor=actor)
    user.language, user.time_zone = language or None, time_zone or None
    session.flush()
    if user.language or user.time_zone:
        record(session, actor, "user.preferences_set", detail={"user": username, "language": user.language,
                                                               "time_zone": user.time_zone})
    return user


_UNCHANGED: Any = object()


def update_user(session: Session, username: str, *, actor: str, role: str | Role | None = None,
                display_name: str | None = None, language: str | None = _UNCHANGED,
                time_zone: str | None = _UNCHANGED) -> User:
    """Change a user's role (``user.role_changed``), display name, language or time zone
    (``user.preferences_set``, naming what changed). The last active administrator keeps the role."""
    user = _existing(session, username)
    changed: dict[str, Any] = {}
    if display_name is not None and display_name.strip() and display_name.strip()[:200] != user.display_name:
        user.display_name = changed["display_name"] = display_name.strip()[:200]
    new_language = user.language if language is _UNCHANGED else (language or None)
    new_zone = user.time_zone if time_zone is _UNCHANGED else (time_zone or None)
    _check_local(new_language, new_zone)
    if new_language != user.language:
        user.language = changed["language"] = new_language
    if new_zone != user.time_zone:
        user.time_zone = changed["time_zone"] = new_zone
    if role is not None and _role(role).value != user.role:
        new = _role(role).value
        _keep_an_admin(session, user, role=new, active=user.active)
        before, user.role = user.role, new
        record(session, actor, "user.role_changed", detail={"user": username, "from": before, "to": new})
    if changed:
        record(session, actor, "user.preferences_set", detail={"user": username, **changed})
    session.flush()
    return user


def set_active(session: Session, username: str, active: bool, now: datetime, *, actor: str) -> User:
    """Disable (sessions ended, tokens revoked: :func:`disable_user`) or enable again (``user.enabled``; revoked
    tokens stay revoked). The last active administrator stays active."""
    user = _existing(session, username)
    if active == user.active:
        return user
    if not active:
        _keep_an_admin(session, user, role=user.role, active=False)
        return disable_user(session, username, now, actor=actor)
    user.active = True
    record(session, actor, "user.enabled", detail={"user": username})
    session.flush()
    return user


def end_web_sessions(session: Session, user_id: int, now: datetime) -> int:
    """End every open web session of a user; how many were open."""
    ended = 0
    for web in session.scalars(select(WebSession).where(WebSession.user_id == user_id, WebSession.ended_at.is_(None),
                                                        WebSession.expires_at > now)):
        web.ended_at = now
        ended += 1
    return ended


def reset_password(session: Session, username: str, password: str, now: datetime, *, actor: str,
                   generated: bool = False) -> User:
    """An administrator sets a user's password (``user.password_set``): their sessions end; tokens stay."""
    user = _existing(session, username)
    _check_password(password)
    user.password_hash = hash_password(password)
    ended = end_web_sessions(session, user.id, now)
    record(session, actor, "user.password_set", detail={"user": username, "generated": generated,
                                                        "sessions_ended": ended})
    session.flush()
    return user


def change_own_password(session: Session, user: User, current: str, new: str, now: datetime) -> int:
    """A user changes their own password (``user.password_changed``) after giving the current one: every web
    session of theirs ends (the caller starts a new one for the browser that asked). The verified-password cache
    is keyed by the stored hash too, so the old password never matches the new hash. Returns the sessions ended."""
    if not _verify_uncached(current, user.password_hash):
        raise PasswordRefused(WRONG_CURRENT)
    if new == current:
        raise PasswordRefused(SAME_PASSWORD)
    _check_password(new)
    user.password_hash = hash_password(new)
    ended = end_web_sessions(session, user.id, now)
    record(session, user.username, "user.password_changed", detail={"user": user.username, "sessions_ended": ended})
    session.flush()
    return ended
