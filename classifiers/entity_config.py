"""Operator identifiers as configuration: labels and value shapes of customer, contract and invoice numbers.

Every operator numbers its customers, contracts and invoices its own way, so their labels ("Nr klienta",
"číslo smlouvy", "лицевой счёт", "Invoice #") and shapes live in ``ground/config/entities.yaml``
(``MAILROOM_ENTITIES`` points at another copy). The file is validated when it is loaded; a broken regular
expression or an unknown key stops the start with a message naming the entity and what to fix.

Finding a value after a label (the default ``value: id``): after the label may stand one of the
``between`` words ("nr", "č.", "№", "#", "is", …) and ":" or a dash, then the value on the same line (or
alone on the next one; a form's column of spaces, an opening bracket or a quote may stand before it).
The value is a run of digits, letters, "/" and "-"; a single space continues it only where the groups
look like one id (a short capital prefix before a group with digits, "WK 07731", or digit groups,
"40 117 235"). It must contain a digit and be ``min_length``..``max_length`` characters long as written;
trailing punctuation is dropped; a year alone ("2024") or a number followed by its currency ("1500 zł")
is not an id. Values are reported as written.

A ``bare`` label is the noun alone ("faktura FV/WT/25/0918231", "account 7004402215", "договор ВТ/Д/20931"):
it counts only with the value right after it (one space or one line break between, perhaps a ":" or a
bracket), when no other label claimed that value, and only for a value that looks like a code (letters and
digits mixed, digits joined by "/" or "-" that are not a date, or 6 to 12 digits alone that are not a phone
number as written). A bare label is not read after one of its entity's ``bare_not_after`` words ("bank account
12345678" is no customer number).

A "…" in a label stands for one to MAX_GAP words ("umow* … nr" finds "umowy abonenckiej nr"); ``filler``
lets up to that many words or one parenthetical stand between a label and a ":" or ``between`` word before
the value ("Customer number (see your bill): 123", "Nr klienta podany na fakturze: 123"); the first of them on
the label's line, the rest may follow one line break (a line wrapped in a PDF or a scan). A grouped id
wrapped at a line's end ("ZU 7700⏎6659") is read whole when the group after the break has the size of the
one before it. In a gap and in filler, a word where another label begins ends the label ("faktura dla
klienta nr 123" is not an invoice number).
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
MAX_GAP = 4  # words a "…" in a label stands for
GAP = "…"
REGEX_TIMEOUT = 0.5  # seconds per configured pattern and document


def _compile(pattern: str, ignore_case: bool = False) -> regex.Pattern[str]:
    try:
        return regex.compile(pattern, regex.IGNORECASE if ignore_case else 0)
    except regex.error as exc:
        raise ValueError(f"the regular expression {pattern!r} does not compile: {exc}; fix it (quote it in "
                         f"single quotes in YAML so that backslashes stay as written)") from exc


# Letters OCR reads as their look-alikes ("Nr kIienta", "Numer k1ienta", "c0ntract"): a label finds them too.
_OCR_LOOKALIKES = {"l": "[lI1|]", "o": "[o0]", "о": "[о0]"}


def label_regex(label: str) -> str:
    """A label as written in the file → a pattern over folded, case-insensitive text.

    A space matches any white space or a dot ("nr klienta" finds "Nr.klienta"), a "." may be left out,
    a "*" at the end of a word stands for up to MAX_SUFFIX letters, a final ":" must be written, a "…"
    stands for one to MAX_GAP words of letters (the group "gap"); an "l" or "o" also finds what OCR reads
    for it ("I", "1", "|"; "0").
    """
    text = fold(" ".join(label.replace("...", GAP).split()))
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == " ":  # white space with at most one line break, or a dot
            out.append(r"(?:\.?(?:[ \t]+|[ \t]*\r?\n[ \t]*)|\.)")
        elif ch == "*":
            out.append(rf"[^\W\d_]{{0,{MAX_SUFFIX}}}")
        elif ch == GAP:
            out.append(rf"(?P<gap>[^\W\d_]{{1,20}}(?:[ \t]+[^\W\d_]{{1,20}}){{0,{MAX_GAP - 1}}})")
        elif ch == "." and i == len(text) - 1:
            out.append(r"(?:\.|(?![^\W_]))")  # "customer ref." finds "Customer ref 12", not "customer reference"
        elif ch == ".":
            out.append(r"\.?")
        elif ch == "-":
            out.append(r"[ ]?[-‐–][ ]?")
        elif ch in _OCR_LOOKALIKES:
            out.append(_OCR_LOOKALIKES[ch])
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
    bare: dict[str, list[str]] = Field(default_factory=dict)  # the noun alone, right before a code-like value
    bare_not_after: list[str] = Field(default_factory=list)  # words before a bare label that make it no label
    value: str = ID_VALUE  # "id" or a regular expression the text right after the label must start with
    min_length: int = Field(default=4, ge=1, le=200)
    max_length: int = Field(default=30, ge=1, le=200)
    patterns: list[Pattern] = Field(default_factory=list)
    _value: regex.Pattern[str] | None = PrivateAttr(default=None)

    @field_validator("labels", "bare")
    @classmethod
    def _labels(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for lang, labels in v.items():
            if not regex.fullmatch(r"[a-z]{2,3}", lang):
                raise ValueError(f"{lang!r} is not an ISO 639-1 language code such as 'pl', 'cs', 'ru', 'en'")
            for label in labels:
                if not label.strip() or not any(ch.isalnum() for ch in label):
                    raise ValueError(f"label {label!r} ({lang}) has no letters; write the words before the value")
                words = label.replace("...", GAP).split()
                if GAP in "".join(words) and (words[0] == GAP or words[-1] == GAP or words.count(GAP) > 1
                                              or any(GAP in w and w != GAP for w in words)):
                    raise ValueError(f"label {label!r} ({lang}): write one {GAP!r} (or '...') as a word of "
                                     f"its own between two words, e.g. 'umow* {GAP} nr'")
        return v

    @model_validator(mode="after")
    def _check(self) -> EntitySpec:
        for lang, labels in self.bare.items():
            for label in labels:
                if GAP in label.replace("...", GAP):
                    raise ValueError(f"bare label {label!r} ({lang}) has a {GAP!r}: a bare label is the words "
                                     f"right before the value; write it under labels instead")
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
    filler: int = Field(default=0, ge=0, le=6)  # words that may stand between a label and a ":" before its value
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
        self._bare = LabelMatcher.build(self, bare=True)
        self._not_after = {}
        for name, spec in self.entities.items():
            words = "|".join(regex.escape(fold(w.strip())) for w in spec.bare_not_after if w.strip())
            if words:
                self._not_after[name] = regex.compile(rf"(?<![^\W_])(?:{words})[ \t]+$", regex.IGNORECASE)
        return self

    _matcher: LabelMatcher | None = PrivateAttr(default=None)
    _bare: LabelMatcher | None = PrivateAttr(default=None)
    _not_after: dict[str, regex.Pattern[str]] = PrivateAttr(default_factory=dict)

    @property
    def matcher(self) -> LabelMatcher:
        assert self._matcher is not None
        return self._matcher

    @property
    def bare_matcher(self) -> LabelMatcher:
        """The bare labels; their ``between`` is what may stand before the value (a space or a line break,
        perhaps a ":" or a bracket)."""
        assert self._bare is not None
        return self._bare

    def bare_blocked(self, entity: str, folded: str, label_start: int) -> bool:
        """Whether one of the entity's ``bare_not_after`` words stands right before its bare label starting at
        ``label_start``."""
        pattern = self._not_after.get(entity)
        return pattern is not None and pattern.search(folded, max(0, label_start - 40), label_start) is not None


@dataclass(frozen=True)
class LabelMatcher:
    """The labels of all entities, grouped by their first letters; the longest label is tried first, so
    "лицевой счёт №" beats "счёт №" and "faktura VAT nr" beats "faktura:"."""

    by_start: dict[str, tuple[regex.Pattern[str], dict[str, str]]]  # first letters → pattern, group → entity
    between: regex.Pattern[str]
    filler: regex.Pattern[str] | None = None  # words or a parenthetical, then ":" or a between word

    def starts_label(self, folded: str, start: int, end: int) -> bool:
        """Whether a label begins at a word start in folded[start:end]."""
        for w in _WORD_START.finditer(folded, start, end):
            head = w.group(0).casefold()
            for key in (head, head[:1]) if len(head) > 1 else (head,):
                group = self.by_start.get(key)
                if group is not None and group[0].match(folded, w.start()) is not None:
                    return True
        return False

    def gap_hides_label(self, folded: str, m: regex.Match[str]) -> bool:
        """A label with a "…" whose gap words begin another label ("faktura dla klienta nr") is not this label."""
        start, end = m.span("gap") if "gap" in m.re.groupindex else (-1, -1)
        return start >= 0 and self.starts_label(folded, start, end)

    def value_starts(self, folded: str, end: int) -> Iterator[int]:
        """Where the value of a label ending at ``end`` may begin: right after it (past a between word, ":"
        or a dash), then past filler words and a ":" or between word ("Nr klienta podany na fakturze: 1")."""
        gap = self.between.match(folded, end)
        yield gap.end() if gap else end
        if self.filler is None:
            return
        m = self.filler.match(folded, end)
        if m is None or m.group(0).count("\n") > 1 or self.starts_label(folded, end, m.end()):
            return
        after = self.between.match(folded, m.end())
        if after is None:
            return
        if after.group(0).strip() or m.group(0).strip().startswith("("):  # a ":" or word, or "(…)" alone
            yield after.end()

    @property
    def empty(self) -> bool:
        return not self.by_start

    def find(self, folded: str, start: int = 0, end: int | None = None) -> Iterator[tuple[str, regex.Match[str]]]:
        """(entity, label match) at every word start (in folded[start:end]) where a label begins, left to
        right; overlapping labels are all reported. Only word starts whose first letters begin a label are
        tried."""
        if not self.by_start:
            return
        for w in _WORD_START.finditer(folded, start, len(folded) if end is None else end):
            head = w.group(0).casefold()
            for key in (head, head[:1]) if len(head) > 1 else (head,):
                group = self.by_start.get(key)
                if group is None:
                    continue
                m = group[0].match(folded, w.start())
                if m is not None:
                    # the label group that matched (lastgroup may name its inner "gap" group)
                    owner = group[1].get(m.lastgroup or "") or next(
                        (entity for name, entity in group[1].items() if m.start(name) >= 0), None)
                    if owner is not None:
                        yield owner, m
                        break

    @classmethod
    def build(cls, config: EntityConfig, bare: bool = False) -> LabelMatcher:
        grouped: dict[str, list[tuple[int, str, str]]] = {}
        for entity in CONFIGURABLE:
            spec = config.entities.get(entity)
            for labels in ((spec.bare if bare else spec.labels).values() if spec else ()):
                for label in labels:
                    size = -len(label) if GAP in label.replace("...", GAP) else len(label)
                    grouped.setdefault(_label_start(label), []).append((size, entity, label_regex(label)))
        by_start: dict[str, tuple[regex.Pattern[str], dict[str, str]]] = {}
        for key, alternatives in grouped.items():
            alternatives.sort(key=lambda a: (a[0] < 0, -abs(a[0])))  # a label with a "…" after the others
            owners = {f"l{i}": entity for i, (_, entity, _) in enumerate(alternatives)}
            pattern = "|".join(f"(?P<l{i}>{p})" for i, (_, _, p) in enumerate(alternatives))
            by_start[key] = (regex.compile(pattern, regex.IGNORECASE), owners)
        if bare:  # one space or one line break (a wrapped line); a ":" or "," (apposition), a copula or a
            # bracket may stand before it ("the last invoice, TB/…", "my account is FGP/…")
            return cls(by_start, regex.compile(r"[:,]?(?:[ \t]|[ \t]*\r?\n[ \t]*)(?:(?:is|was|jest|byl|je|был)[ \t]+)?"
                                               r"[(\[]?(?=[^\s(\[])", regex.IGNORECASE))
        words = sorted((_between_regex(w) for w in config.between if w.strip()), key=len, reverse=True)
        word = f"(?:{'|'.join(words)})" if words else "(?!)"
        # label, then optionally a "between" word, ":" or a dash, and at most one line break (columns of a
        # bill or a form put spaces between label and value: "Numer klienta:            40117235"); the
        # value may open with a bracket or a quote ("numer klienta (30117702)", "nr umowy „A-17”")
        between = regex.compile(rf"\.?[ \t]{{0,12}}(?:{word}[ \t]{{0,3}})?(?:[:\-–—][ \t]{{0,40}})?"
                                r"(?:\r?\n[ \t]{0,8})?(?:[(\[„\"«“'][ \t]?)?", regex.IGNORECASE)
        filler = None
        if config.filler:
            paren = r"[ \t]*\([^()\d\r\n]{1,40}\)"
            # the first word on the label's line; the next may follow a line break (a PDF's or a scan's
            # wrapped line: "Лицевой счёт по⏎новому договору: 7700…"); value_starts allows one break
            more = r"(?:[ \t]+|[ \t]*\r?\n[ \t]*)[^\W\d_]{1,20}"
            words = rf"(?:{paren}|[ \t]+[^\W\d_]{{1,20}})(?:{paren}|{more}){{0,{config.filler - 1}}}"
            filler = regex.compile(rf"(?:{words}(?=[ \t]*(?:[:–—]|{word}))|{paren})", regex.IGNORECASE)
        return cls(by_start, between, filler)


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
