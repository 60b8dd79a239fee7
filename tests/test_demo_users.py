"""``serve --demo`` on a database that already has users (issue 15): it must not reset their passwords to the
well-known demo one, nor change their role."""

from __future__ import annotations

from mailroom.demo import DEMO_PASSWORD, DEMO_USERS, create_demo_users
from pipeline.context import Context
from storage.db import session_scope
from storage.models import Role
from storage.users import authenticate, get_user, upsert_user


def test_demo_keeps_existing_users_and_their_passwords(ctx: Context) -> None:
    with session_scope(ctx.db_url) as s:
        upsert_user(s, "admin", "the-real-admin-password-42", Role.ADMIN, "Real Admin")
        upsert_user(s, "supervisor", "the-real-supervisor-password-42", Role.SUPERVISOR)
    created = create_demo_users(ctx)
    assert "admin" not in created and "supervisor" not in created
    assert set(created) == {u for u, _, _ in DEMO_USERS} - {"admin", "supervisor"}
    with session_scope(ctx.db_url) as s:
        assert authenticate(s, "admin", DEMO_PASSWORD) is None
        assert authenticate(s, "supervisor", DEMO_PASSWORD) is None
        assert authenticate(s, "admin", "the-real-admin-password-42") is not None
        assert get_user(s, "admin").display_name == "Real Admin"
        assert authenticate(s, "agent", DEMO_PASSWORD) is not None  # the missing demo users were made
    assert create_demo_users(ctx) == []  # a second start changes nobody
