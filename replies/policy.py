"""``replies.yaml``: senders per queue, four-eyes categories, the events that stop the statutory clock,
acknowledgement rules, required content and the letter templates. Validated on load; every problem is a
ConfigError naming the item and what to fix."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ground.config_files import load_yaml_model
from ground.errors import ConfigError, InvalidRequest
from ground.i18n import LANGUAGES
from ground.records import CATEGORIES
from queues.routing import one_or_many
from replies.letter import PostalAddress, Sender

KINDS = ("reply", "acknowledgement", "request_to_complete", "extension")
CHANNELS = ("email", "post")
StopEvent = Literal["sent", "posted", "delivered"]
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


class SenderSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    unit: str
    address: list[str] = Field(min_length=1)
    return_line: str
    email: str = ""
    phone: str = ""
    web: str = ""
    place: str = ""

    def sender(self) -> Sender:
        return Sender(name=self.name, address=PostalAddress(tuple(self.address)), return_line=self.return_line,
                      email=self.email, phone=self.phone, web=self.web)


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    categories: list[str] = []

    @field_validator("categories")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = [c for c in v if c not in CATEGORIES]
        if unknown:
            raise ValueError(f"unknown categories {unknown}; use some of: {', '.join(CATEGORIES)}")
        return v


class AckRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    jurisdiction: list[str] | None = None
    category: list[str] | None = None
    channel: list[str] | None = None  # the channel the letter came by (email, paper, fax, ...)
    send: Literal["same", "email", "post", "none"]

    _many = field_validator("jurisdiction", "category", "channel", mode="before")(one_or_many)

    def applies(self, jurisdiction: str, category: str, channel: str) -> bool:
        return ((self.jurisdiction is None or jurisdiction in self.jurisdiction)
                and (self.category is None or category in self.category)
                and (self.channel is None or channel in self.channel))


class Element(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    label: str
    field: str | None = None
    when: dict[str, list[str]] = {}
    in_text: bool = False  # the field's value must also appear in the letter's text (not only in the form)
    text: dict[str, list[str]] = {}  # language → patterns, every one of which must match

    @model_validator(mode="after")
    def _one_test(self) -> Element:
        if (self.field is None) == (not self.text):
            raise ValueError("give exactly one of `field` or `text`")
        for patterns in self.text.values():
            for p in patterns:
                try:
                    re.compile(p)
                except re.error as exc:
                    raise ValueError(f"pattern {p!r} is not a regular expression: {exc}") from None
        return self

    def applies(self, fields: dict[str, Any]) -> bool:
        return all(str(fields.get(k) or "") in values for k, values in self.when.items())

    def met(self, fields: dict[str, Any], body: str, language: str) -> bool:
        if self.field is not None:
            value = " ".join(str(fields.get(self.field) or "").split())
            return bool(value) and (not self.in_text or value.casefold() in " ".join(body.split()).casefold())
        patterns = self.text.get(language) or self.text.get("en") or []
        return all(re.search(p, body, re.IGNORECASE) for p in patterns)


class Required(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    jurisdiction: list[str]
    category: list[str]
    elements: list[Element]

    _many = field_validator("jurisdiction", "category", mode="before")(one_or_many)


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str
    body: str

    @model_validator(mode="after")
    def _compiles(self) -> Template:
        for part in (self.subject, self.body):
            try:
                _ENV.from_string(part)
            except TemplateError as exc:
                raise ValueError(f"the template does not compile: {exc}") from None
        return self


class ReplyPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: str = "MRC-{number:06d}"
    message_id_domain: str
    senders: dict[str, SenderSpec]
    approval: Approval = Approval()
    clock_stops: dict[str, dict[Literal["email", "post"], StopEvent]]
    complete_within_days: int = Field(default=7, ge=1, le=90)
    acknowledge: list[AckRule]
    required: list[Required] = []
    templates: dict[Literal["reply", "acknowledgement", "request_to_complete", "extension"],
                    dict[str, dict[str, Template]]]

    @model_validator(mode="after")
    def _consistent(self) -> ReplyPolicy:
        if "default" not in self.senders:
            raise ValueError("senders needs a `default` entry (the unit for queues not listed)")
        if "{number" not in self.reference:
            raise ValueError("reference must contain {number} (e.g. \"MRC-{number:06d}\")")
        try:
            self.reference.format(number=1)
        except (ValueError, KeyError, IndexError) as exc:
            raise ValueError(f"reference {self.reference!r} is not a valid format: {exc}") from None
        for kind, by_category in self.templates.items():
            if "default" not in by_category:
                raise ValueError(f"templates.{kind} needs a `default` entry for categories not listed")
            for category, by_language in by_category.items():
                if category != "default" and category not in CATEGORIES:
                    raise ValueError(f"templates.{kind}.{category}: unknown category")
                missing = [lang for lang in LANGUAGES if lang not in by_language]
                if missing:
                    raise ValueError(f"templates.{kind}.{category} has no text in {', '.join(missing)}")
        return self

    # ---------------------------------------------------------------- lookups

    @cached_property
    def reference_pattern(self) -> re.Pattern[str]:
        """A case reference as it may appear in a subject or a text (``MRC-000123``)."""
        head, _, rest = self.reference.partition("{number")
        tail = rest.partition("}")[2]
        return re.compile(re.escape(head) + r"(\d{1,12})" + re.escape(tail))

    def format_reference(self, number: int) -> str:
        return self.reference.format(number=number)

    def sender_for(self, queue: str) -> SenderSpec:
        return self.senders.get(queue) or self.senders["default"]

    def needs_approval(self, category: str) -> bool:
        return category in self.approval.categories

    def stop_event(self, jurisdiction: str, channel: str) -> StopEvent:
        stops = self.clock_stops.get(jurisdiction, {})
        return stops.get(channel, "sent" if channel == "email" else "posted")  # type: ignore[call-overload]

    def acknowledgement(self, jurisdiction: str, category: str, channel: str) -> str | None:
        """How receipt is acknowledged (``email`` or ``post``), or None."""
        for rule in self.acknowledge:
            if rule.applies(jurisdiction, category, channel):
                if rule.send == "none":
                    return None
                if rule.send == "same":
                    return "email" if channel == "email" else "post"
                return rule.send
        return None

    def template(self, kind: str, category: str, language: str) -> Template:
        by_category = self.templates.get(kind)  # type: ignore[call-overload]
        if not by_category:
            raise InvalidRequest(f"there are no {kind} templates in replies.yaml")
        by_language = by_category.get(category) or by_category["default"]
        return by_language.get(language) or by_language.get("en") or next(iter(by_language.values()))

    def missing(self, jurisdiction: str, category: str, fields: dict[str, Any], body: str,
                language: str) -> list[Element]:
        """The required elements a reply lacks (empty: it may be sent)."""
        out: list[Element] = []
        for req in self.required:
            if jurisdiction in req.jurisdiction and category in req.category:
                out += [e for e in req.elements if e.applies(fields) and not e.met(fields, body, language)]
        return out


def render_template(template: Template, values: dict[str, Any]) -> tuple[str, str]:
    """Subject and body with the placeholders filled; a missing placeholder is an InvalidRequest naming it."""
    try:
        subject = _ENV.from_string(template.subject).render(**values).strip()
        body = _ENV.from_string(template.body).render(**values).strip()
    except TemplateError as exc:
        raise InvalidRequest(f"the letter template cannot be filled: {exc}; check replies.yaml") from exc
    return subject, body


def load_reply_policy(path: Path) -> ReplyPolicy:
    policy = load_yaml_model(path, ReplyPolicy, {"acknowledge": "acknowledgement rule", "required": "required",
                                                 "senders": "sender"})
    if not isinstance(policy, ReplyPolicy):  # pragma: no cover - load_yaml_model returns the model
        raise ConfigError(f"{path}: not a reply policy")
    return policy
