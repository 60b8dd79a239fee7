"""Check an edited configuration before it is saved: does it parse, does it fit the other file, and what
would it change for the letters that came in lately (a dry run, nothing is written)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from ground.errors import ConfigError
from ground.records import Classification
from pipeline.context import Context
from queues.routing import RuleSet, parse_rules, route
from queues.sla import SlaPolicies, compute_sla, parse_policies
from storage import config_store
from storage.db import session_scope
from storage.models import Document, Envelope, WorkItem

DRY_RUN_LETTERS = 200  # the last N routed letters the dry run looks at, unless asked for another number
MAX_DRY_RUN_LETTERS = 5000


@dataclass
class Change:
    """A letter that the edited configuration would route or time differently."""

    document_id: str
    work_item_id: int
    received_at: datetime
    category: str
    language: str
    channel: str
    queue_before: str
    queue_after: str
    rule_before: str
    rule_after: str
    due_before: datetime
    due_after: datetime


@dataclass
class CheckResult:
    kind: str
    error: str | None = None  # what is wrong with the text (then nothing else is filled in)
    letters: int = 0  # letters the dry run looked at
    changes: list[Change] = field(default_factory=list)


def _consistent(rules: RuleSet, policies: SlaPolicies) -> None:
    """The two files name the same queues: escalation goes to a queue that exists."""
    ids = [q.id for q in rules.queues]
    if policies.escalation.queue not in ids:
        raise ConfigError(f"escalation sends breached items to queue {policies.escalation.queue!r}, which is not in "
                          f"the routing rules' queues ({', '.join(ids)}); add the queue or change the escalation")


def parse(kind: str, text: str, ctx: Context) -> tuple[RuleSet, SlaPolicies]:
    """The configuration as it would be with ``text`` for ``kind``; ConfigError names what to fix."""
    config_store.check_kind(kind)
    if kind == "routing":
        rules, policies = parse_rules(text, "routing rules"), ctx.policies
    else:
        rules, policies = ctx.rules, parse_policies(text, "SLA policies")
    _consistent(rules, policies)
    return rules, policies


def check(ctx: Context, kind: str, text: str, last: int = DRY_RUN_LETTERS) -> CheckResult:
    """Validate ``text`` and replay the last ``last`` routed letters under the configuration in force and
    under the edited one; the letters whose queue or deadline would differ. Stored classifications are used
    (the classifier is not run again): the dry run shows what the configuration changes, nothing else."""
    try:
        rules, policies = parse(kind, text, ctx)
    except ConfigError as exc:
        return CheckResult(kind, error=str(exc))
    rules_now, policies_now = ctx.rules, ctx.policies
    out = CheckResult(kind)
    with session_scope(ctx.db_url) as s:
        rows = s.execute(
            select(Document, Envelope.channel, Envelope.received_at, WorkItem.id)
            .join(Envelope, Envelope.id == Document.envelope_id).join(WorkItem, WorkItem.document_id == Document.id)
            .where(Document.category.is_not(None))
            .order_by(Envelope.received_at.desc(), Document.id).limit(max(1, min(last, MAX_DRY_RUN_LETTERS)))).all()
        for doc, channel, received_at, item_id in rows:
            c = Classification(language=doc.language or "und", category=doc.category or "other",
                               confidence=doc.confidence or 0.0, entities=doc.entities or {},
                               segment=doc.segment or "individual")
            text_of = doc.text or ""
            before, after = route(c, channel, text_of, rules_now), route(c, channel, text_of, rules)
            due_before = compute_sla(received_at, c.category, c.language, before.queue, policies_now).due
            due_after = compute_sla(received_at, c.category, c.language, after.queue, policies).due
            out.letters += 1
            if before.queue != after.queue or due_before != due_after:
                out.changes.append(Change(doc.id, item_id, received_at, c.category, c.language, channel,
                                          before.queue, after.queue, before.rule, after.rule, due_before, due_after))
    return out
