"""SLA targets: internal clocks on business calendars and statutory deadlines.

Two clocks run for every item (``ground/config/sla.yaml``):

* the **internal target** of its category/queue: first response and resolution spans of open
  time on a business calendar (or 24x7), paused while waiting for the customer;
* the **statutory deadline** of its jurisdiction and category, counted in calendar days,
  working days or months from receipt, ending at the end of the last day in the
  jurisdiction's time zone. Waiting for the customer does not stop it; only dispatching the
  reply does (which is the caller's business, not a due-time input).

``SlaTarget.due`` is whichever of the two falls first; ``policy`` says which one bound it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from ground.config_files import load_yaml_model, parse_yaml_model
from ground.records import CATEGORIES, SlaTarget
from queues.calendar import BusinessCalendar, add_business_time, add_days, add_months, end_of_day
from queues.routing import check_members, one_or_many

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*$")
_PERIOD = re.compile(r"^\s*(\d+)\s+(calendar days?|days?|working days?|months?)\s*$")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_span(text: str) -> timedelta:
    """``"8h"``, ``"90m"``, ``"1h30m"`` → timedelta (business time, so no days: a day is ambiguous)."""
    m = _SPAN.match(str(text))
    if not m or not (m.group(1) or m.group(2)):
        raise ValueError(f"{text!r} is not a span; write hours and minutes like '8h', '90m' or '1h30m'")
    return timedelta(hours=int(m.group(1) or 0), minutes=int(m.group(2) or 0))


class Period(BaseModel):
    """A statutory period: ``30 calendar days``, ``10 working days``, ``1 month``."""

    n: int = Field(ge=0)
    unit: Literal["calendar", "working", "month"]

    @classmethod
    def parse(cls, text: Any) -> Period:
        if isinstance(text, dict | Period):
            return cls.model_validate(text)
        m = _PERIOD.match(str(text))
        if not m:
            raise ValueError(f"{text!r} is not a period; write e.g. '30 calendar days', '10 working days', '1 month'")
        word = m.group(2)
        unit = "working" if word.startswith("working") else "month" if word.startswith("month") else "calendar"
        return cls(n=int(m.group(1)), unit=unit)

    def end(self, start: datetime, cal: BusinessCalendar) -> datetime:
        """End of the period's last day: the day of the start event is not counted."""
        if self.unit == "month":
            last = add_months(start, self.n, cal)
        else:
            last = add_days(start, self.n, self.unit, cal)
        return end_of_day(last, cal)

    def __str__(self) -> str:
        unit = {"calendar": "calendar day", "working": "working day", "month": "month"}[self.unit]
        return f"{self.n} {unit}{'' if self.n == 1 else 's'}"


def _parse_hours(text: str) -> tuple[time, time]:
    m = _HOURS.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not working hours; write e.g. '08:00-18:00' (end '24:00' for midnight)")
    h0, m0, h1, m1 = (int(g) for g in m.groups())
    if h0 > 23 or m0 > 59 or m1 > 59 or h1 > 24 or (h1 == 24 and m1):
        raise ValueError(f"{text!r} has an impossible time of day")
    return time(h0, m0), time(0 if h1 == 24 else h1, m1)


class CalendarSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tz: str
    country: str | None = None  # public holidays from the `holidays` package
    always_open: bool = False  # 24x7: every minute counts, no holidays
    hours: dict[str, str] = Field(default_factory=dict)  # "mon-fri": "08:00-18:00", "sat": "09:00-13:00"
    extra_holidays: list[str] = Field(default_factory=list)  # ISO dates

    def build(self, name: str) -> BusinessCalendar:
        if self.always_open:
            if self.hours or self.country:
                raise ValueError("an always_open calendar takes no hours and no country")
            return BusinessCalendar.always_open(self.tz, name=name)
        hours: dict[int, tuple[time, time]] = {}
        for key, value in self.hours.items():
            days = key.lower().split("-")
            if any(d not in WEEKDAYS for d in days) or len(days) > 2:
                raise ValueError(f"hours key {key!r} is not a weekday or range like 'mon-fri'")
            lo, hi = WEEKDAYS.index(days[0]), WEEKDAYS.index(days[-1])
            for d in range(lo, hi + 1):
                hours[d] = _parse_hours(value)
        extra = frozenset(date.fromisoformat(d) for d in self.extra_holidays)
        return BusinessCalendar(self.country, self.tz, hours, name=name, extra_holidays=extra)


class JurisdictionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    languages: list[str] = Field(default_factory=list)
    calendar: str  # business calendar: internal targets and statutory working days / time zone


class InternalTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    category: list[str] | None = None  # None: any
    queue: list[str] | None = None  # None: any
    first_response: timedelta
    resolution: timedelta
    calendar: str | None = None  # None: the jurisdiction's business calendar
    warn_before: float = Field(default=0.2, gt=0.0, lt=1.0)  # warn when this fraction is left

    @field_validator("category", "queue", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return one_or_many(v)

    @field_validator("first_response", "resolution", mode="before")
    @classmethod
    def _span(cls, v: Any) -> timedelta:
        return v if isinstance(v, timedelta) else parse_span(v)

    @field_validator("category")
    @classmethod
    def _categories(cls, v: list[str] | None) -> list[str] | None:
        return check_members(v, CATEGORIES, "category")

    def applies(self, category: str, queue: str) -> bool:
        return (self.category is None or category in self.category) and (self.queue is None or queue in self.queue)


class StatutoryRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    jurisdiction: list[str]
    category: list[str]
    period: Period  # the answer deadline, counted from `start`
    start: Literal["receipt", "registration"] = "receipt"
    acknowledge: Period | None = None  # receipt confirmation / registration the law requires
    extended: Period | None = None  # total period when extended (with notice to the customer)
    warn_before: float = Field(default=0.2, gt=0.0, lt=1.0)
    note: str = ""  # start/stop events and consequences, for people
    deemed_accepted: bool = False  # unanswered in time = the claim is accepted (PL): flag the risk

    @field_validator("jurisdiction", "category", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return one_or_many(v)

    @field_validator("period", "acknowledge", "extended", mode="before")
    @classmethod
    def _period(cls, v: Any) -> Period | None:
        return None if v is None else Period.parse(v)

    @field_validator("category")
    @classmethod
    def _categories(cls, v: list[str]) -> list[str]:
        return check_members(v, CATEGORIES, "category") or []

    @model_validator(mode="after")
    def _registration(self) -> StatutoryRule:
        if self.start == "registration" and self.acknowledge is None:
            raise ValueError("start: registration needs `acknowledge` (the registration deadline)")
        return self


class Escalation(BaseModel):
    """What happens at breach: the item moves to ``queue`` with its priority raised."""

    model_config = ConfigDict(extra="forbid")

    queue: str = "escalation"
    raise_priority: int = Field(default=50, ge=0)


class SlaPolicies(BaseModel):
    model_config = ConfigDict(extra="forbid")

    escalation: Escalation = Field(default_factory=Escalation)

    default_jurisdiction: str = "PL"  # for languages no jurisdiction claims (en, und, ...)
    calendars: dict[str, CalendarSpec]
    jurisdictions: dict[str, JurisdictionSpec]
    internal: list[InternalTarget] = Field(min_length=1)
    statutory: list[StatutoryRule] = Field(default_factory=list)
    _calendars: dict[str, BusinessCalendar] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> SlaPolicies:
        for name, spec in self.calendars.items():
            try:
                self._calendars[name] = spec.build(name)
            except ValueError as exc:
                raise ValueError(f"calendar {name!r}: {exc}") from exc
        known = ", ".join(self.calendars)
        seen_lang: dict[str, str] = {}
        for code, j in self.jurisdictions.items():
            if j.calendar not in self.calendars:
                raise ValueError(f"jurisdiction {code!r} uses calendar {j.calendar!r}, which is not defined ({known})")
            for lang in j.languages:
                if lang in seen_lang:
                    raise ValueError(f"language {lang!r} is claimed by both {seen_lang[lang]!r} and {code!r}")
                seen_lang[lang] = code
        if self.default_jurisdiction not in self.jurisdictions:
            raise ValueError(f"default_jurisdiction {self.default_jurisdiction!r} is not under jurisdictions")
        for t in self.internal:
            if t.calendar is not None and t.calendar not in self.calendars:
                raise ValueError(
                    f"internal target {t.name!r} uses calendar {t.calendar!r}, which is not defined ({known})"
                )
        last = self.internal[-1]
        if last.category is not None or last.queue is not None:
            raise ValueError(
                f"the last internal target ({last.name!r}) must be a catch-all without "
                "category and queue, so every item gets a target; add one at the end"
            )
        for s in self.statutory:
            for code in s.jurisdiction:
                if code not in self.jurisdictions:
                    raise ValueError(
                        f"statutory rule {s.name!r} names jurisdiction {code!r}, which is not "
                        f"under jurisdictions ({', '.join(self.jurisdictions)})"
                    )
        return self

    def calendar(self, name: str) -> BusinessCalendar:
        return self._calendars[name]

    def jurisdiction_for(self, language: str) -> str:
        for code, j in self.jurisdictions.items():
            if language in j.languages:
                return code
        return self.default_jurisdiction

    def internal_target(self, category: str, queue: str) -> InternalTarget:
        return next(t for t in self.internal if t.applies(category, queue))

    def statutory_rule(self, jurisdiction: str, category: str) -> StatutoryRule | None:
        for s in self.statutory:
            if jurisdiction in s.jurisdiction and category in s.category:
                return s
        return None


POLICY_SECTIONS = {"internal": "internal target", "statutory": "statutory rule", "calendars": "calendar",
                   "jurisdictions": "jurisdiction"}


def load_policies(path: Path) -> SlaPolicies:
    return load_yaml_model(path, SlaPolicies, POLICY_SECTIONS)


def parse_policies(text: str, name: str = "SLA policies") -> SlaPolicies:
    """SLA policies from YAML text (a stored version, an edit); errors name ``name``."""
    return parse_yaml_model(text, name, SlaPolicies, POLICY_SECTIONS)


def _fraction_point(start: datetime, due: datetime, fraction_left: float) -> datetime:
    return (start + (due - start) * (1.0 - fraction_left)).astimezone(due.tzinfo)


@dataclass
class StatutoryClock:
    """The legal deadline of one item (or case): it stops when the reply is dispatched."""

    rule: str
    due: datetime
    warn_at: datetime
    acknowledge_due: datetime | None
    deemed_accepted: bool


@dataclass
class Clocks:
    """Both clocks of an item; ``binding`` is the SLA the queue orders and escalates by."""

    internal: SlaTarget
    statutory: StatutoryClock | None

    def binding(self, *, dispatched: bool = False) -> SlaTarget:
        best = SlaTarget(self.internal.policy, self.internal.due, self.internal.first_response_due,
                         self.internal.warn_at, self.internal.calendar)
        st = self.statutory
        if st is None:
            return best
        if st.acknowledge_due is not None and (best.first_response_due is None
                                               or st.acknowledge_due < best.first_response_due):
            best.first_response_due = st.acknowledge_due
        if not dispatched and st.due <= best.due:
            best.policy, best.due, best.warn_at = f"statutory:{st.rule}", st.due, st.warn_at
        return best


def clocks(
    received_at: datetime,
    category: str,
    language: str,
    queue: str,
    policies: SlaPolicies,
    pauses: Sequence[tuple[datetime, datetime]] = (),
    *,
    statutory_from: datetime | None = None,
    registered_at: datetime | None = None,
    extended: bool = False,
) -> Clocks:
    """Internal target from ``received_at`` (stretched by ``pauses``) and statutory deadline from
    ``statutory_from`` (default ``received_at``; a case passes its earliest receipt)."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    jur = policies.jurisdiction_for(language)
    local_cal = policies.calendar(policies.jurisdictions[jur].calendar)
    target = policies.internal_target(category, queue)
    cal = policies.calendar(target.calendar) if target.calendar else local_cal
    internal = SlaTarget(
        policy=f"internal:{target.name}",
        due=add_business_time(received_at, target.resolution, cal, pauses),
        first_response_due=add_business_time(received_at, target.first_response, cal, pauses),
        warn_at=add_business_time(received_at, target.resolution * (1.0 - target.warn_before), cal, pauses),
        calendar=cal.name,
    )
    rule = policies.statutory_rule(jur, category)
    if rule is None:
        return Clocks(internal, None)
    origin = statutory_from or received_at
    start = registered_at if rule.start == "registration" and registered_at is not None else origin
    period = rule.extended if extended and rule.extended else rule.period
    legal_due = period.end(start, local_cal)
    return Clocks(internal, StatutoryClock(
        rule=rule.name,
        due=legal_due,
        warn_at=_fraction_point(origin, legal_due, rule.warn_before),
        acknowledge_due=rule.acknowledge.end(origin, local_cal) if rule.acknowledge else None,
        deemed_accepted=rule.deemed_accepted,
    ))


def compute_sla(
    received_at: datetime,
    category: str,
    language: str,
    queue: str,
    policies: SlaPolicies,
    pauses: Sequence[tuple[datetime, datetime]] = (),
    *,
    registered_at: datetime | None = None,
    extended: bool = False,
) -> SlaTarget:
    """The binding deadline of an item received at ``received_at``: whichever clock ends first.

    ``pauses`` (waiting for the customer) stretch the internal clock only. ``registered_at``
    is the registration time for statutory rules counted from registration (RU); when it is
    not known the period is counted from receipt, the earliest lawful registration, so the
    deadline is never later than the real one. ``extended`` applies the statutory extension
    (only after the customer was notified).
    """
    return clocks(received_at, category, language, queue, policies, pauses, registered_at=registered_at,
                  extended=extended).binding()
