"""What a stage runner needs, built once per process from the settings."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from classifiers.entity_config import entity_config
from ground.errors import ConfigError
from ground.settings import Settings, get_settings
from queues.routing import RuleSet, load_rules, parse_rules
from queues.sla import SlaPolicies, load_policies, parse_policies
from replies.policy import ReplyPolicy, load_reply_policy
from replies.service import Outbound
from storage import config_store
from storage.blobs import BlobStore, blob_store
from storage.db import migrate, session_scope
from storage.models import ConfigVersion

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class _Loaded:
    """What this process made of one version of something people change while it runs, and when it last looked."""

    checked: float
    version: Hashable
    source: Hashable  # where the versions come from (a seed file's path): a new source is looked at at once
    value: Any


@dataclass
class Context:
    settings: Settings
    _loaded: dict[str, _Loaded] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def blobs(self) -> BlobStore:
        return blob_store(self.settings)

    @property
    def rules(self) -> RuleSet:
        """The routing rules in force: the newest version saved in the browser, else the YAML file."""
        return self._config("routing", self.settings.routing_rules, load_rules, parse_rules)

    @property
    def policies(self) -> SlaPolicies:
        """The SLA policies in force: the newest version saved in the browser, else the YAML file."""
        return self._config("sla", self.settings.sla_policies, load_policies, parse_policies)

    def config_version(self, kind: str) -> int | None:
        """The version of ``kind`` ("routing", "sla") this process uses now; None: the seed file."""
        (self.rules if kind == "routing" else self.policies)  # noqa: B018 - brings it up to date
        return self._loaded[kind].version  # type: ignore[return-value]

    def current(self, key: str, probe: Callable[[Session], Hashable], build: Callable[[Hashable], T],
                source: Hashable = None) -> T:
        """What ``build`` makes of the version ``probe`` names (the newest saved configuration, the model a
        person promoted), made again only when that version changes. ``probe`` (one indexed look-up) runs at most
        every ``config_reload_seconds``, so every process follows a change within seconds, without a restart. A
        version that cannot be built (a configuration saved by an older release that no longer parses) or a
        database that cannot answer leaves what this process has, with a warning in the log."""
        now = time.monotonic()
        have = self._loaded.get(key)
        if have is not None and have.source == source and now - have.checked < self.settings.config_reload_seconds:
            return have.value  # type: ignore[no-any-return]
        try:
            with session_scope(self.db_url) as s:
                version = probe(s)
            if have is not None and have.version == version and have.source == source:
                have.checked = now
                return have.value  # type: ignore[no-any-return]
            value = build(version)
        except (SQLAlchemyError, ConfigError) as exc:
            if have is None:
                raise
            log.warning("kept %s version %s: %s", key, have.version, exc)
            have.checked = now
            return have.value  # type: ignore[no-any-return]
        if have is not None:
            log.info("%s: now version %s (was %s)", key, version, have.version)
        self._loaded[key] = _Loaded(now, version, source, value)
        return value

    def _config(self, kind: str, seed: Path, load: Callable[[Path], T], parse: Callable[[str, str], T]) -> T:
        """The newest version of ``kind`` saved in the browser, else the file ``seed``."""
        def build(newest: Hashable) -> T:
            if newest is None:
                return load(seed)
            with session_scope(self.db_url) as s:
                row = s.get(ConfigVersion, newest)
                text = row.text if row is not None else ""
            return parse(text, f"{kind} configuration, version {newest}")

        return self.current(kind, lambda s: config_store.latest_id(s, kind), build, source=seed)

    @cached_property
    def reply_policy(self) -> ReplyPolicy:
        return load_reply_policy(self.settings.replies)

    @property
    def outbound(self) -> Outbound:
        """Letters out, with the SLA policies in force (a new version makes a new one)."""
        policies = self.policies
        made = self.__dict__.get("_outbound")
        if made is None or made.sla is not policies:
            made = self.__dict__["_outbound"] = Outbound(self.reply_policy, policies, self.blobs,
                                                         self.settings.smtp_url, self.settings.smtp_timeout)
        return made

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
