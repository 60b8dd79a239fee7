"""Users, passwords (argon2; older scrypt hashes still verify and are rehashed on sign-in),
API tokens (only their SHA-256 is stored; a station token carries its station, a scope and an expiry),
server-side web sessions, and sign-in throttling per user name and address, per user name and per address.

Every change made here is an audit event by the ``actor`` the caller names (``user.created``,
``user.role_changed``, ``user.password_set``, ``user.enabled``, ``user.disabled``, ``token.created``,
``token.revoked``); the details never hold a password, a hash or a token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ground.errors import MailroomError, NotFound
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
    token = session.scalars(select(ApiToken).where(ApiToken.token_hash == _token_hash(plain))).first()
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
