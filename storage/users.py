"""Users, passwords (argon2; older scrypt hashes still verify and are rehashed on sign-in),
API tokens (only their SHA-256 is stored) and sign-in throttling per user name and address."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ground.errors import MailroomError, NotFound
from storage.models import ApiToken, LoginFailure, Role, User

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)  # argon2id, OWASP minimum
TOKEN_PREFIX = "mrt_"
MAX_FAILURES = 5  # failed sign-ins per user name and address ...
FAILURE_WINDOW = timedelta(minutes=15)  # ... within this window, then refused until they age out


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


def verify_password(password: str, stored: str) -> bool:
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    if not stored.startswith("$argon2"):
        return True
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def upsert_user(session: Session, username: str, password: str, role: Role, display_name: str = "") -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        user = User(username=username, display_name=display_name or username, role=role.value,
                    password_hash=hash_password(password), active=True)
        session.add(user)
    else:
        user.role, user.password_hash, user.active = role.value, hash_password(password), True
        if display_name:
            user.display_name = display_name
    session.flush()
    return user


def get_user(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).first()


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def disable_user(session: Session, username: str, now: datetime) -> User:
    """Disable a user: sessions and Basic credentials stop working at once, and so do its tokens."""
    user = get_user(session, username)
    if user is None:
        raise NotFound(f"There is no user {username!r}.")
    user.active = False
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))):
        token.revoked_at = now
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
    n = session.scalar(select(func.count()).select_from(LoginFailure).where(
        LoginFailure.username == username, LoginFailure.ip == ip, LoginFailure.at > now - FAILURE_WINDOW))
    if (n or 0) >= MAX_FAILURES:
        minutes = int(FAILURE_WINDOW.total_seconds() // 60)
        raise LoginThrottled(f"Too many failed sign-ins for {username!r} from this address; "
                             f"wait {minutes} minutes or ask an administrator.")


def record_failure(session: Session, username: str, ip: str, now: datetime) -> None:
    session.add(LoginFailure(username=username[:64], ip=ip[:64], at=now))
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - FAILURE_WINDOW))


def clear_failures(session: Session, username: str, ip: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.username == username, LoginFailure.ip == ip))


# ---------------------------------------------------------------- API tokens


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, username: str, name: str, now: datetime) -> tuple[ApiToken, str]:
    """A new token for ``username``; the plain value is returned once and never stored."""
    user = get_user(session, username)
    if user is None or not user.active:
        raise NotFound(f"There is no active user {username!r}.")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name[:100], token_hash=_token_hash(plain), prefix=plain[:12],
                     created_at=now)
    session.add(token)
    session.flush()
    return token, plain


def user_for_token(session: Session, plain: str, now: datetime) -> User | None:
    if not plain.startswith(TOKEN_PREFIX):
        return None
    token = session.scalars(select(ApiToken).where(ApiToken.token_hash == _token_hash(plain))).first()
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return token.user


def list_tokens(session: Session, username: str | None = None) -> list[ApiToken]:
    q = select(ApiToken).order_by(ApiToken.id)
    if username:
        q = q.join(User).where(User.username == username)
    return list(session.scalars(q))


def revoke_token(session: Session, token_id: int, now: datetime) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"There is no token {token_id}.")
    token.revoked_at = token.revoked_at or now
    return token
