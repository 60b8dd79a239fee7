"""Demo data for ``mailroom serve --demo``: users with known passwords and sample letters."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from channels.receive import receive
from pipeline.context import Context
from storage.db import session_scope
from storage.models import Role
from storage.users import get_user, upsert_user

DEMO_USERS = [
    ("admin", Role.ADMIN, "Ada Admin"),
    ("scanner", Role.SCANNER, "Stanisław Skaner"),
    ("agent", Role.AGENT, "Anna Agentka"),
    ("agent2", Role.AGENT, "Petr Agent"),
    ("supervisor", Role.SUPERVISOR, "Zofia Kierownik"),
    ("auditor", Role.AUDITOR, "Igor Auditor"),
]
DEMO_PASSWORD = "demo"  # only with --demo; a real deployment creates users with `mailroom users add`


def create_demo_users(ctx: Context) -> list[str]:
    """Demo users that do not exist yet, the demo agents' queue memberships (an agent without any works no
    queue), and the demo customers their letters link to; returns the users it created.

    An existing user is never touched: ``serve --demo`` on a database with real users must not reset an
    administrator's password to the well-known demo one."""
    from queues.work import set_members
    from storage.customers import seed_demo_customers

    agents = [username for username, role, _ in DEMO_USERS if role == Role.AGENT]
    with session_scope(ctx.db_url) as s:
        created = []
        for username, role, name in DEMO_USERS:
            if get_user(s, username) is None:
                upsert_user(s, username, DEMO_PASSWORD, role, name)
                created.append(username)
        s.flush()
        for queue in ctx.rules.queues:
            set_members(s, queue.id, agents, "system", ctx.rules)
        seed_demo_customers(s)
    return created


def create_demo_letters(ctx: Context, count: int = 8, seed: int = 7) -> list[str]:
    """Generate a few sample letters with the corpus generator and accept them; returns envelope ids."""
    from corpus.generate import generate

    ids: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        truth = generate(Path(tmp), seed=seed, count=count)
        for rec in truth:
            path = Path(tmp) / rec["file"]
            got = receive(ctx, path.read_bytes(), path.name, datetime.now(UTC), submitted_by="scanner",
                          meta={"demo": True})
            ids.append(got.envelope_id)
    return ids
