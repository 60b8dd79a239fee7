"""Routing: a classified document → the queue and priority of its work item.

Rules live in ``ground/config/routing.yaml`` so a supervisor can change them without a release. The
first rule whose every condition holds wins; items whose category confidence is below the
threshold go to triage before any rule is tried, because a person must look at them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from ground.config_files import load_yaml_model, parse_yaml_model
from ground.records import CATEGORIES, ENTITY_NAMES, Channel, Classification, Routing

CHANNELS: tuple[str, ...] = tuple(c.value for c in Channel)
SEGMENTS: tuple[str, ...] = ("business", "individual")


@dataclass
class RoutingDecision(Routing):
    """A :class:`Routing` plus why it was chosen (and which rules were skipped and why)."""

    reasons: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- YAML helpers, shared with sla.py


def one_or_many(v: Any) -> Any:
    return [v] if isinstance(v, str | int | float) else v


def check_members(values: list[str] | None, known: tuple[str, ...], what: str) -> list[str] | None:
    for v in values or ():
        if v not in known:
            raise ValueError(f"{v!r} is not a known {what}; use one of: {', '.join(known)}")
    return values


# ---------------------------------------------------------------- rule models


class When(BaseModel):
    """Conditions of one rule; all given conditions must hold, a list means any of its values."""

    model_config = ConfigDict(extra="forbid")

    category: list[str] | None = None
    language: list[str] | None = None
    channel: list[str] | None = None
    segment: list[str] | None = None
    min_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    entity: list[str] | None = None  # every named entity must have at least one value
    text_matches: str | None = None  # regex, searched case-insensitively
    _pattern: regex.Pattern[str] | None = PrivateAttr(default=None)

    @field_validator("category", "language", "channel", "segment", "entity", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        """``category: complaint`` is accepted as ``category: [complaint]``."""
        return one_or_many(v)

    @field_validator("category")
    @classmethod
    def _categories(cls, v: list[str] | None) -> list[str] | None:
        return check_members(v, CATEGORIES, "category")

    @field_validator("channel")
    @classmethod
    def _channels(cls, v: list[str] | None) -> list[str] | None:
        return check_members(v, CHANNELS, "channel")

    @field_validator("segment")
    @classmethod
    def _segments(cls, v: list[str] | None) -> list[str] | None:
        return check_members(v, SEGMENTS, "segment")

    @field_validator("entity")
    @classmethod
    def _entities(cls, v: list[str] | None) -> list[str] | None:
        return check_members(v, ENTITY_NAMES, "entity name")

    @field_validator("language")
    @classmethod
    def _languages(cls, v: list[str] | None) -> list[str] | None:
        for lang in v or ():
            if not regex.fullmatch(r"[a-z]{2,3}", lang):
                raise ValueError(f"{lang!r} is not an ISO 639-1 language code such as 'pl', 'cs', 'ru', 'en'")
        return v

    @field_validator("text_matches")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                regex.compile(v, regex.IGNORECASE)
            except regex.error as exc:
                raise ValueError(f"the regular expression {v!r} does not compile: {exc}") from exc
        return v

    def model_post_init(self, __context: Any) -> None:
        if self.text_matches is not None:
            self._pattern = regex.compile(self.text_matches, regex.IGNORECASE)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    when: When = Field(default_factory=When)
    queue: str
    priority: int


class QueueSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str
    description: str = ""


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_queue: str = "triage"
    default_priority: int = 0
    low_confidence_queue: str = "triage"
    low_confidence_priority: int | None = None  # None: default_priority
    confidence_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    regex_timeout: float = Field(default=0.25, gt=0.0, le=5.0)  # seconds per text_matches search
    queues: list[QueueSpec] = Field(min_length=1)
    rules: list[Rule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> RuleSet:
        ids = [q.id for q in self.queues]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"queue ids must be unique; {sorted(dup)} appear more than once")
        names = [r.name for r in self.rules]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"rule names must be unique; {sorted(dup)} appear more than once")
        known = ", ".join(ids)
        for label, q in (("default_queue", self.default_queue), ("low_confidence_queue", self.low_confidence_queue)):
            if q not in ids:
                raise ValueError(f"{label} {q!r} is not in the queues list ({known}); add it there")
        for i, r in enumerate(self.rules, 1):
            if r.queue not in ids:
                raise ValueError(
                    f"rule #{i} {r.name!r} sends to queue {r.queue!r}, which is not in the queues "
                    f"list ({known}); add the queue or fix the name"
                )
        return self

    def queue(self, queue_id: str) -> QueueSpec:
        for q in self.queues:
            if q.id == queue_id:
                return q
        raise KeyError(queue_id)


RULE_SECTIONS = {"rules": "rule", "queues": "queue"}


def load_rules(path: Path) -> RuleSet:
    return load_yaml_model(path, RuleSet, RULE_SECTIONS)


def parse_rules(text: str, name: str = "routing rules") -> RuleSet:
    """Routing rules from YAML text (a stored version, an edit); errors name ``name``."""
    return parse_yaml_model(text, name, RuleSet, RULE_SECTIONS)


# ---------------------------------------------------------------- routing


def _check(when: When, c: Classification, channel: str, text: str, timeout: float) -> tuple[bool, str]:
    """Whether the conditions hold, and a short why (or why not)."""
    if when.category is not None and c.category not in when.category:
        return False, "category"
    if when.language is not None and c.language not in when.language:
        return False, "language"
    if when.channel is not None and channel not in when.channel:
        return False, "channel"
    if when.segment is not None and c.segment not in when.segment:
        return False, "segment"
    if when.min_confidence is not None and c.confidence < when.min_confidence:
        return False, "confidence"
    if when.entity is not None and not all(c.entities.get(e) for e in when.entity):
        return False, "entity"
    if when._pattern is not None:
        try:
            m = when._pattern.search(text, timeout=timeout)
        except TimeoutError:
            return False, "timeout"
        if m is None:
            return False, "text"
        return True, f"text matched {m.group(0)[:60]!r}"
    return True, ""


def route(c: Classification, channel: str, text: str, rules: RuleSet) -> RoutingDecision:
    """Pick the queue for a classified document; ``rule`` names the rule that decided
    (``"low-confidence"`` or ``"default"`` when no rule did)."""
    if c.confidence < rules.confidence_threshold:
        prio = rules.low_confidence_priority if rules.low_confidence_priority is not None else rules.default_priority
        return RoutingDecision(
            rules.low_confidence_queue,
            prio,
            "low-confidence",
            [
                f"category {c.category!r} confidence {c.confidence:.2f} is below the threshold "
                f"{rules.confidence_threshold:.2f}; a person must look"
            ],
        )
    reasons: list[str] = []
    for r in rules.rules:
        ok, why = _check(r.when, c, channel, text, rules.regex_timeout)
        if why == "timeout":
            reasons.append(
                f"rule {r.name!r} skipped: its text_matches pattern took longer than "
                f"{rules.regex_timeout}s (catastrophic backtracking?); simplify the pattern"
            )
        if ok:
            conds = ", ".join(k for k, v in r.when.model_dump(exclude={"text_matches"}).items() if v is not None)
            detail = "; ".join(x for x in (f"conditions: {conds}" if conds else "no conditions", why) if x)
            reasons.append(f"rule {r.name!r} matched ({detail})")
            return RoutingDecision(r.queue, r.priority, r.name, reasons)
    reasons.append("no rule matched; default queue")
    return RoutingDecision(rules.default_queue, rules.default_priority, "default", reasons)


_WHY_NOT = {
    "category": "category {c.category!r} is not in {w.category}",
    "language": "language {c.language!r} is not in {w.language}",
    "channel": "channel {channel!r} is not in {w.channel}",
    "segment": "segment {c.segment!r} is not in {w.segment}",
    "confidence": "confidence {c.confidence:.2f} is below {w.min_confidence}",
    "entity": "entities {w.entity} are not all present",
    "text": "text does not match {w.text_matches!r}",
    "timeout": "text_matches took longer than the time limit (pattern skipped)",
}


def explain(c: Classification, channel: str, text: str, rules: RuleSet) -> list[tuple[str, bool, str]]:
    """Every rule up to the deciding one, with whether it matched and why (for ``route --dry-run``)."""
    if c.confidence < rules.confidence_threshold:
        return [("low-confidence", True, f"confidence {c.confidence:.2f} is below the threshold "
                                         f"{rules.confidence_threshold:.2f}: before any rule, to "
                                         f"{rules.low_confidence_queue!r}")]
    out: list[tuple[str, bool, str]] = []
    for r in rules.rules:
        ok, why = _check(r.when, c, channel, text, rules.regex_timeout)
        if ok:
            conds = [k for k, v in r.when.model_dump().items() if v is not None]
            out.append((r.name, True, f"all conditions hold ({', '.join(conds) or 'none'})"
                                      + (f"; {why}" if why else "") + f" → queue {r.queue!r}, priority {r.priority}"))
            return out
        out.append((r.name, False, _WHY_NOT[why].format(c=c, w=r.when, channel=channel)))
    out.append(("default", True, f"no rule matched → queue {rules.default_queue!r}, priority {rules.default_priority}"))
    return out
