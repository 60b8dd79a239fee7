"""Operator identifiers as configuration: labels and value shapes of customer, contract and invoice numbers.

Every operator numbers its customers, contracts and invoices its own way, so their labels ("Nr klienta",
"číslo smlouvy", "лицевой счёт", "Invoice #") and shapes live in ``ground/config/entities.yaml``
(``MAILROOM_ENTITIES`` points at another copy). The file is validated when it is loaded; a broken regular
expression or an unknown key stops the start with a message naming the entity and what to fix.

Finding a value after a label (the default ``value: id``): after the label may stand one of the
``between`` words ("nr", "č.", "№", "#", "is", …) and ":" or a dash, then the value on the same line (or
alone on the next one). The value is a run of digits, letters, "/" and "-"; a single space continues it
only where the groups look like one id (a short capital prefix before a group with digits, "WK 07731", or
digit groups, "40 117 235"). It must contain a digit and be ``min_length``..``max_length`` characters
long as written; trailing punctuation is dropped. Values are reported as written.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import regex
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from classifiers.text import fold
from ground.config_files import load_yaml_model

# The entities whose labels and shapes the file sets, in the order they are looked for.
CONFIGURABLE: tuple[str, ...] = ("customer_id", "contract_no", "invoice_no")
ID_VALUE = "id"  # the built-in value shape (see the module doc)
MAX_SUFFIX = 4  # letters a "*" at the end of a label word stands for
REGEX_TIMEOUT = 0.5  # seconds per configured pattern and document


def _compile(pattern: str, ignore_case: bool = False) -> regex.Pattern[str]:
    try:
        return regex.compile(pattern, regex.IGNORECASE if ignore_case else 0)
    except regex.error as exc:
        raise ValueError(f"the regular expression {pattern!r} does not compile: {exc}; fix it (quote it in "
                         f"single quotes in YAML so that backslashes stay as written)") from exc


def label_regex(label: str) -> str:
    """A label as written in the file → a pattern over folded, case-insensitive text.

    A space matches any white space or a dot ("nr klienta" finds "Nr.klienta"), a "." may be left out,
    a "*" at the end of a word stands for up to MAX_SUFFIX letters, a final ":" must be written.
    """
    text = fold(" ".join(label.split()))
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == " ":  # white space with at most one line break, or a dot
            out.append(r"(?:\.?(?:[ \t]+|[ \t]*\r?\n[ \t]*)|\.)")
        elif ch == "*":
            out.append(rf"[^\W\d_]{{0,{MAX_SUFFIX}}}")
        elif ch == "." and i == len(text) - 1:
            out.append(r"(?:\.|(?![^\W_]))")  # "customer ref." finds "Customer ref 12", not "customer reference"
        elif ch == ".":
            out.append(r"\.?")
        elif ch == "-":
            out.append(r"[ ]?[-‐–][ ]?")
        else:
            out.append(regex.escape(ch))
        i += 1
    body = "".join(out)
    head = r"(?<![^\W_])" if text[:1].isalnum() else ""
    tail = r"(?![^\W_])" if text[-1:].isalnum() or text.endswith("*") else ""
    return head + body + tail


def _between_regex(word: str) -> str:
    """A word between label and value: one ending in a letter must be followed by a space or ":" (so "n"
    never eats the "N" of "N-4416"), one ending in "." needs its dot, "№" and "#" may touch the value."""
    text = " ".join(word.split())
    if text.endswith("."):  # "č." needs its dot: "faktura č. C 2024/55" keeps the C
        return label_regex(text[:-1]) + r"\."
    if text[-1:].isalnum():
        return label_regex(text) + r"(?=[ \t]*[:\r\n]|[ \t])"
    return label_regex(text)


class Pattern(BaseModel):
    """A shape recognised without a label."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    regex: str = Field(min_length=1)
    template: str | None = None  # e.g. "MR-{digits}": named groups, their white space removed
    upper: bool = False
    ignore_case: bool = False
    _compiled: regex.Pattern[str] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check(self) -> Pattern:
        try:
            self._compiled = _compile(self.regex, self.ignore_case)
        except ValueError as exc:
            raise ValueError(f"pattern {self.name!r}: {exc}") from exc
        if self.template is not None:
            groups = set(self._compiled.groupindex)
            wanted = set(regex.findall(r"\{(\w+)\}", self.template))
            missing = sorted(wanted - groups)
            if missing:
                raise ValueError(f"pattern {self.name!r}: template {self.template!r} names group(s) "
                                 f"{', '.join(missing)} that the regex does not define; write them as "
                                 f"(?P<name>...) in the regex or fix the template")
        return self

    @property
    def compiled(self) -> regex.Pattern[str]:
        assert self._compiled is not None
        return self._compiled

    def value(self, m: regex.Match[str]) -> str:
        if self.template is not None:
            groups = {k: regex.sub(r"\s+", "", v or "") for k, v in m.groupdict().items()}
            out = self.template.format(**groups)
        else:
            out = " ".join((m.group("value") if "value" in m.re.groupindex else m.group(0)).split())
        return out.upper() if self.upper else out


class EntitySpec(BaseModel):
    """Labels (per language) and shapes of one entity."""

    model_config = ConfigDict(extra="forbid")

    labels: dict[str, list[str]] = Field(default_factory=dict)
    value: str = ID_VALUE  # "id" or a regular expression the text right after the label must start with
    min_length: int = Field(default=4, ge=1, le=200)
    max_length: int = Field(default=30, ge=1, le=200)
    patterns: list[Pattern] = Field(default_factory=list)
    _value: regex.Pattern[str] | None = PrivateAttr(default=None)

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for lang, labels in v.items():
            if not regex.fullmatch(r"[a-z]{2,3}", lang):
                raise ValueError(f"{lang!r} is not an ISO 639-1 language code such as 'pl', 'cs', 'ru', 'en'")
            for label in labels:
                if not label.strip() or not any(ch.isalnum() for ch in label):
                    raise ValueError(f"label {label!r} ({lang}) has no letters; write the words before the value")
        return v

    @model_validator(mode="after")
    def _check(self) -> EntitySpec:
        if self.min_length > self.max_length:
            raise ValueError(f"min_length {self.min_length} is above max_length {self.max_length}")
        if self.value != ID_VALUE:
            try:
                self._value = _compile(self.value)
            except ValueError as exc:
                raise ValueError(f"value: {exc} (or write value: id for the built-in shape)") from exc
        return self

    @property
    def value_regex(self) -> regex.Pattern[str] | None:
        return self._value


class EntityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    between: list[str] = Field(default_factory=list)  # words that may stand between a label and its value
    entities: dict[str, EntitySpec] = Field(default_factory=dict)

    @field_validator("entities", mode="before")
    @classmethod
    def _known(cls, v: Any) -> Any:
        if isinstance(v, dict):
            for name in v:
                if name not in CONFIGURABLE:
                    raise ValueError(f"entity {name!r} is not one this file configures; use one of "
                                     f"{', '.join(CONFIGURABLE)} (national ids, IBANs, phones, e-mails, amounts "
                                     f"and dates are built in)")
        return v

    @model_validator(mode="after")
    def _compile_labels(self) -> EntityConfig:
        self._matcher = LabelMatcher.build(self)
        return self

    _matcher: LabelMatcher | None = PrivateAttr(default=None)

    @property
    def matcher(self) -> LabelMatcher:
        assert self._matcher is not None
        return self._matcher


@dataclass(frozen=True)
class LabelMatcher:
    """The labels of all entities, grouped by their first letters; the longest label is tried first, so
    "лицевой счёт №" beats "счёт №" and "faktura VAT nr" beats "faktura:"."""

    by_start: dict[str, tuple[regex.Pattern[str], dict[str, str]]]  # first letters → pattern, group → entity
    between: regex.Pattern[str]

    @property
    def empty(self) -> bool:
        return not self.by_start

    def find(self, folded: str) -> Iterator[tuple[str, regex.Match[str]]]:
        """(entity, label match) at every word start where a label begins, left to right; overlapping
        labels are all reported. Only word starts whose first letters begin a label are tried."""
        if not self.by_start:
            return
        for w in _WORD_START.finditer(folded):
            head = w.group(0).casefold()
            for key in (head, head[:1]) if len(head) > 1 else (head,):
                group = self.by_start.get(key)
                if group is None:
                    continue
                m = group[0].match(folded, w.start())
                if m is not None and m.lastgroup:
                    yield group[1][m.lastgroup], m
                    break

    @classmethod
    def build(cls, config: EntityConfig) -> LabelMatcher:
        grouped: dict[str, list[tuple[int, str, str]]] = {}
        for entity in CONFIGURABLE:
            spec = config.entities.get(entity)
            for labels in (spec.labels.values() if spec else ()):
                for label in labels:
                    grouped.setdefault(_label_start(label), []).append((len(label), entity, label_regex(label)))
        by_start: dict[str, tuple[regex.Pattern[str], dict[str, str]]] = {}
        for key, alternatives in grouped.items():
            alternatives.sort(key=lambda a: -a[0])
            owners = {f"l{i}": entity for i, (_, entity, _) in enumerate(alternatives)}
            pattern = "|".join(f"(?P<l{i}>{p})" for i, (_, _, p) in enumerate(alternatives))
            by_start[key] = (regex.compile(pattern, regex.IGNORECASE), owners)
        words = sorted((_between_regex(w) for w in config.between if w.strip()), key=len, reverse=True)
        word = f"(?:{'|'.join(words)})" if words else "(?!)"
        # label, then optionally a "between" word, ":" or a dash, and at most one line break
        between = regex.compile(rf"\.?[ \t]{{0,3}}(?:{word}[ \t]{{0,3}})?(?:[:\-–—][ \t]{{0,3}})?"
                                r"(?:\r?\n[ \t]{0,8})?", regex.IGNORECASE)
        return cls(by_start, between)


_WORD_START = regex.compile(r"(?<![^\W_])[^\W_]{1,2}|№")


def _label_start(label: str) -> str:
    """The key :meth:`LabelMatcher.find` looks up: a label's first one or two letters, folded ("č. sml…" → "c")."""
    m = _WORD_START.search(fold(label.strip()))
    return m.group(0).casefold() if m else label.strip()[:1]


def load_entity_config(path: Path) -> EntityConfig:
    """Read and validate an entities file (a ConfigError names the entity and what to fix)."""
    return load_yaml_model(Path(path), EntityConfig, {"entities": "entity", "patterns": "pattern"})


@lru_cache(maxsize=8)
def _cached(path: str, mtime_ns: int, size: int) -> EntityConfig:
    return load_entity_config(Path(path))


def entity_config(path: Path | None = None) -> EntityConfig:
    """The configuration in force: ``path`` or the ``MAILROOM_ENTITIES`` setting; re-read when the file changes."""
    if path is None:
        from ground.settings import get_settings

        path = get_settings().entities
    try:
        st = os.stat(path)
        key = (st.st_mtime_ns, st.st_size)
    except OSError:
        key = (0, 0)  # load_entity_config says what is wrong with the path
    return _cached(str(path), *key)
