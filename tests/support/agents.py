"""Queue memberships for test agents: an agent with none works no queue, so tests that exercise work items
put their agents in every queue of the shipped rules (and say so), as an administrator would."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from queues.routing import RuleSet
from queues.work import members, set_members
from storage.models import Role, User


def join_every_queue(session: Session, rules: RuleSet, usernames: Iterable[str] | None = None) -> None:
    """Add ``usernames`` (default: every agent in the database) to every queue, keeping other members."""
    session.flush()
    names = list(usernames) if usernames is not None else list(
        session.scalars(select(User.username).where(User.role == Role.AGENT.value)))
    for queue in rules.queues:
        set_members(session, queue.id, sorted({*members(session, queue.id), *names}), "test-setup", rules)
