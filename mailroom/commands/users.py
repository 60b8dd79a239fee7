"""``mailroom users add|list|disable|token`` for admins."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

ROLES = ["scanner", "agent", "supervisor", "auditor", "admin"]


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
