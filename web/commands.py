"""``mailroom users add|list|disable|token`` for admins, and the secret-key check of ``serve``/``api``."""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from mailroom.settings import Settings, get_settings

ROLES = ["scanner", "agent", "supervisor", "auditor", "admin"]
NO_SECRET = ("mailroom: MAILROOM_SECRET_KEY is not set. It signs the session cookies of the web pages and "
             "must be a long random value kept secret and the same on every API process, e.g.\n"
             "  export MAILROOM_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')\n"
             "(`mailroom serve --demo` makes one for its data directory by itself.)")


MIN_SECRET_LENGTH = 32
# Values people paste from examples and framework defaults: a key anyone can guess signs anyone's cookie.
KNOWN_SECRETS = frozenset({
    "changeme", "change-me", "change_me", "changeit", "secret", "secretkey", "secret-key", "secret_key", "password",
    "mailroom", "default", "test", "dev", "development", "insecure", "notsecret", "your-secret-key",
    "your_secret_key", "yoursecretkey", "replace-me", "replaceme", "please-change-me", "supersecret",
    "super-secret-key", "django-insecure", "mysecretkey", "my-secret-key", "xxx", "12345678", "0123456789",
})


def secret_problem(key: str) -> str | None:
    """Why ``key`` may not sign cookies (a known example/default value, or too short), or None."""
    plain = key.strip().lower()
    if plain in KNOWN_SECRETS or any(plain.startswith(k) and len(set(plain[len(k):])) <= 2 for k in KNOWN_SECRETS
                                     if len(k) >= 6):
        return "is a well-known default or example value"
    if len(key) < MIN_SECRET_LENGTH:
        return f"is {len(key)} characters long; use at least {MIN_SECRET_LENGTH}"
    return None


def demo_secret(settings: Settings) -> str:
    """A per-data-directory key for ``serve --demo``, created once (mode 0600) and reused."""
    path = Path(settings.data) / "demo-secret-key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def _with_secret(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        settings = get_settings()
        if not settings.secret_key:
            if not getattr(args, "demo", False):
                print(NO_SECRET, file=sys.stderr)
                return 2
            settings.secret_key = demo_secret(settings)
        problem = secret_problem(settings.secret_key)
        if problem is not None:
            print(f"mailroom: MAILROOM_SECRET_KEY {problem}: anyone who guesses it can forge a signed-in session. "
                  "Set a long random value, e.g.\n"
                  "  export MAILROOM_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')",
                  file=sys.stderr)
            return 2
        return func(args)

    return run


def _ctx():  # type: ignore[no-untyped-def]
    from pipeline.context import get_context

    return get_context()


def cmd_add(args: argparse.Namespace) -> int:
    from storage.db import session_scope
    from storage.models import Role
    from storage.users import upsert_user

    password = args.password or getpass.getpass(f"Password for {args.username}: ")
    if len(password) < 8:
        print("The password must have at least 8 characters.", file=sys.stderr)
        return 2
    with session_scope(_ctx().db_url) as s:
        upsert_user(s, args.username, password, Role(args.role), args.name)
    print(f"user {args.username} ({args.role}) saved")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from storage.db import session_scope
    from storage.users import list_tokens, list_users

    with session_scope(_ctx().db_url) as s:
        for u in list_users(s):
            state = "active" if u.active else "disabled"
            print(f"{u.username}\t{u.role}\t{state}\t{u.display_name}")
        if args.tokens:
            for t in list_tokens(s):
                revoked = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "valid"
                print(f"token {t.id}\t{t.user.username}\t{t.name}\t{t.prefix}…\t{revoked}")
    return 0


def cmd_disable(args: argparse.Namespace) -> int:
    from storage.db import session_scope
    from storage.users import disable_user

    with session_scope(_ctx().db_url) as s:
        disable_user(s, args.username, datetime.now(UTC))
    print(f"user {args.username} disabled; its sessions and API tokens no longer work")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from storage.db import session_scope
    from storage.users import create_token, revoke_token

    now = datetime.now(UTC)
    with session_scope(_ctx().db_url) as s:
        if args.revoke:
            revoke_token(s, args.revoke, now)
            print(f"token {args.revoke} revoked")
            return 0
        token, plain = create_token(s, args.username, args.name or f"token for {args.username}", now)
    print(plain)
    print(f"token {token.id} for {args.username}: shown once, only its hash is stored. "
          "Send it as `Authorization: Bearer <token>`.", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    for name in ("serve", "api"):  # refuse to start without MAILROOM_SECRET_KEY (except serve --demo)
        parser = sub.choices.get(name)
        if parser is not None:
            parser.set_defaults(func=_with_secret(parser.get_default("func")))

    sp = sub.add_parser("users", help="manage users and API tokens (admins)")
    usub = sp.add_subparsers(dest="users_command", required=True)
    p = usub.add_parser("add", help="create a user or update its role and password")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--name", default="", help="display name")
    p.add_argument("--password", default="", help="prompted for when omitted")
    p.set_defaults(func=cmd_add)
    p = usub.add_parser("list", help="list users")
    p.add_argument("--tokens", action="store_true", help="also list API tokens")
    p.set_defaults(func=cmd_list)
    p = usub.add_parser("disable", help="disable a user and revoke its tokens")
    p.add_argument("username")
    p.set_defaults(func=cmd_disable)
    p = usub.add_parser("token", help="create an API token for a user (printed once), or revoke one")
    p.add_argument("username")
    p.add_argument("--name", default="", help="what the token is for, e.g. 'scanner station 2'")
    p.add_argument("--revoke", type=int, default=0, metavar="TOKEN_ID")
    p.set_defaults(func=cmd_token)
