"""What a stage runner needs, built once per process from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from classifiers.entity_config import entity_config
from ground.settings import Settings, get_settings
from queues.routing import RuleSet, load_rules
from queues.sla import SlaPolicies, load_policies
from replies.policy import ReplyPolicy, load_reply_policy
from replies.service import Outbound
from storage.blobs import BlobStore, blob_store
from storage.db import migrate


@dataclass
class Context:
    settings: Settings

    @cached_property
    def blobs(self) -> BlobStore:
        return blob_store(self.settings)

    @cached_property
    def rules(self) -> RuleSet:
        return load_rules(self.settings.routing_rules)

    @cached_property
    def policies(self) -> SlaPolicies:
        return load_policies(self.settings.sla_policies)

    @cached_property
    def reply_policy(self) -> ReplyPolicy:
        return load_reply_policy(self.settings.replies)

    @cached_property
    def outbound(self) -> Outbound:
        return Outbound(self.reply_policy, self.policies, self.blobs, self.settings.smtp_url,
                        self.settings.smtp_timeout)

    @property
    def db_url(self) -> str:
        return self.settings.db_url


_ready: dict[str, Context] = {}


def get_context(settings: Settings | None = None) -> Context:
    """The process-wide context; the schema is migrated the first time a URL is seen."""
    settings = settings or get_settings()
    ctx = _ready.get(settings.db_url)
    if ctx is None:
        entity_config(settings.entities)  # a broken entities.yaml stops the start, naming the entity
        settings.data.mkdir(parents=True, exist_ok=True)
        migrate(settings.db_url)
        ctx = _ready[settings.db_url] = Context(settings)
    return ctx
