"""``mailroom users add|list|disable|token`` for admins. Every change is an audit event by ``cli:<OS user>``."""

from __future__ import annotations

import argparse
import getpass
import re
import sys
from datetime import UTC, datetime, timedelta

from mailroom.commands import cli_actor

ROLES = ["scanner", "agent", "supervisor", "auditor", "admin"]
_SPAN = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_expiry(text: str, now: datetime) -> datetime:
    """``90d``, ``12h``, ``2w``, ``30m`` from now, or an ISO date/time (UTC when it has no zone)."""
    m = _SPAN.match(text.strip().lower())
    if m:
        return now + timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--expires {text!r}: give a span such as 90d, 12h, 2w, or an ISO date") \
            from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _ctx():  # type: ignore[no-untyped-def]
    from pipeline.context import get_context

    return get_context()


def cmd_add(args: argparse.Namespace) -> int:
    from ground.i18n import LANGUAGES, _, valid_zone
    from storage.db import session_scope
    from storage.models import Role
    from storage.users import password_problem, upsert_user

    if args.language and args.language not in LANGUAGES:
        print(_("--language: use one of %(languages)s") % {"languages": ", ".join(LANGUAGES)}, file=sys.stderr)
        return 2
    if args.time_zone and not valid_zone(args.time_zone):
        print(_("--time-zone: %(zone)s is no time zone; use an IANA name such as Europe/Prague")
              % {"zone": args.time_zone}, file=sys.stderr)
        return 2
    password = args.password or getpass.getpass(_("Password for %(user)s: ") % {"user": args.username})
    problem = password_problem(password)  # the same rule as the admin pages and the API
    if problem is not None:
        print(_(problem), file=sys.stderr)
        return 2
    with session_scope(_ctx().db_url) as s:
        user = upsert_user(s, args.username, password, Role(args.role), args.name, actor=cli_actor())
        if args.language is not None:  # the user's default for the pages; they may change it on /profile
            user.language = args.language or None
        if args.time_zone is not None:
            user.time_zone = args.time_zone or None
    print(_("user %(user)s (%(role)s) saved") % {"user": args.username, "role": args.role})
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
                if not t.revoked_at and t.expires_at is not None:
                    revoked = f"{'expired' if t.expires_at <= datetime.now(UTC) else 'expires'} {t.expires_at:%Y-%m-%d}"
                print(f"token {t.id}\t{t.user.username}\t{t.name}\t{t.prefix}…\t{revoked}\t"
                      f"scope={t.scope}\tstation={t.station or '-'}")
    return 0


def cmd_disable(args: argparse.Namespace) -> int:
    from storage.db import session_scope
    from storage.users import disable_user

    with session_scope(_ctx().db_url) as s:
        disable_user(s, args.username, datetime.now(UTC), actor=cli_actor())
    from ground.i18n import _

    print(_("user %(user)s disabled; its sessions and API tokens no longer work") % {"user": args.username})
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from storage.db import session_scope
    from storage.users import create_token, revoke_token

    now = datetime.now(UTC)
    try:
        expires_at = parse_expiry(args.expires, now) if args.expires else None
    except argparse.ArgumentTypeError as exc:
        print(f"mailroom users token: {exc}", file=sys.stderr)
        return 2
    with session_scope(_ctx().db_url) as s:
        if args.revoke:
            revoke_token(s, args.revoke, now, actor=cli_actor())
            print(f"token {args.revoke} revoked")
            return 0
        name = args.name or (f"station {args.station}" if args.station else f"token for {args.username}")
        token, plain = create_token(s, args.username, name, now, actor=cli_actor(), station=args.station or None,
                                    scope=args.scope, expires_at=expires_at)
    print(plain)
    limits = [f"scope {args.scope}"] + ([f"station {args.station}"] if args.station else []) + \
        ([f"expires {expires_at:%Y-%m-%d %H:%M} UTC"] if expires_at else [])
    print(f"token {token.id} for {args.username} ({', '.join(limits)}): shown once, only its hash is stored. "
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
    p.add_argument("--language", default=None, metavar="LANG",
                   help="the pages' language for this user: en, pl, cs or ru (default: the browser's)")
    p.add_argument("--time-zone", default=None, metavar="ZONE",
                   help="times shown to this user, e.g. Europe/Prague (default: MAILROOM_TIME_ZONE)")
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
    p.add_argument("--station", default="", help="station name, recorded on every envelope the token uploads")
    p.add_argument("--scope", choices=["full", "upload"], default="full",
                   help="upload: the token may only upload envelopes and read its own batches")
    p.add_argument("--expires", default="", metavar="SPAN|DATE",
                   help="e.g. 90d, 12h, 2w or 2027-01-31; after it the token no longer authenticates")
    p.add_argument("--revoke", type=int, default=0, metavar="TOKEN_ID")
    p.set_defaults(func=cmd_token)
