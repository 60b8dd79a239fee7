"""Business calendars and time arithmetic for SLA clocks.

All functions are pure: start, span, calendar and pauses in, an aware datetime out. Working
hours are *local wall-clock* windows: an instant is "open" when its wall time in the calendar's
zone falls inside that day's window and the day is a working day. This definition makes DST
exact: on the spring-forward day a 01:00-04:00 window holds two hours, on the fall-back day
three hours' window 01:00-04:00 holds four.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from dateutil.relativedelta import relativedelta

DAY_MINUTES = 24 * 60
# Give up after this many consecutive closed days (a calendar that is all holidays).
MAX_SEARCH_DAYS = 3 * 366

Interval = tuple[datetime, datetime]


@functools.cache
def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tz!r}; use an IANA name such as 'Europe/Warsaw'") from exc


@functools.cache
def _country_holidays(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year)


def _minutes(t: time, *, end: bool) -> int:
    m = t.hour * 60 + t.minute
    if t.second or t.microsecond:
        raise ValueError(f"working hours must be whole minutes, got {t}")
    return DAY_MINUTES if end and m == 0 else m


@dataclass(frozen=True, eq=False)
class BusinessCalendar:
    """Working hours per weekday (0 = Monday) in a time zone, minus public holidays.

    ``hours`` maps a weekday to a ``(start, end)`` pair of local times; an end of ``time(0)``
    means 24:00. Weekdays absent from ``hours`` are closed. ``country`` (PL, CZ, RU, ...)
    pulls public holidays from the ``holidays`` package; its weekend working days (RU
    transfers a day off to a Saturday) are open with the hours of the first configured
    weekday. ``extra_holidays`` closes further dates (company days off).
    """

    country: str | None
    tz: str
    hours: Mapping[int, tuple[time, time]]
    name: str = ""
    extra_holidays: frozenset[date] = frozenset()
    _windows: dict[int, tuple[int, int]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        _zone(self.tz)
        if self.country is not None:
            try:
                _country_holidays(self.country, 2026)
            except NotImplementedError as exc:
                raise ValueError(f"no public holidays known for country {self.country!r}") from exc
        windows: dict[int, tuple[int, int]] = {}
        for weekday, (start, end) in self.hours.items():
            if weekday not in range(7):
                raise ValueError(f"weekday must be 0 (Monday) .. 6 (Sunday), got {weekday}")
            lo, hi = _minutes(start, end=False), _minutes(end, end=True)
            if lo >= hi:
                raise ValueError(f"working hours {start}-{end} end before they start")
            windows[weekday] = (lo, hi)
        if not windows:
            raise ValueError("a business calendar needs working hours on at least one weekday")
        object.__setattr__(self, "_windows", windows)

    @classmethod
    def always_open(cls, tz: str = "UTC", name: str = "24x7") -> BusinessCalendar:
        """The 24x7 calendar: every minute counts, no holidays."""
        return cls(None, tz, {d: (time(0), time(0)) for d in range(7)}, name=name)

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.tz)

    def is_holiday(self, day: date) -> bool:
        if day in self.extra_holidays:
            return True
        return self.country is not None and day in _country_holidays(self.country, day.year)

    def window(self, day: date) -> tuple[int, int] | None:
        """Open minutes ``(start, end)`` after local midnight on ``day``, or None if closed."""
        if self.is_holiday(day):
            return None
        hours = self._windows.get(day.weekday())
        if hours is None and self.country is not None:
            if day in _country_holidays(self.country, day.year).weekend_workdays:
                hours = self._windows[min(self._windows)]
        return hours

    def is_working_day(self, day: date) -> bool:
        return self.window(day) is not None

    def open_intervals(self, day: date) -> list[Interval]:
        """UTC intervals whose local wall time falls inside ``day``'s working hours."""
        w = self.window(day)
        if w is None:
            return []
        midnight = datetime.combine(day, time(0))
        return _wall_to_utc(self.zone, midnight + timedelta(minutes=w[0]), midnight + timedelta(minutes=w[1]))


def _offset(zone: ZoneInfo, t: datetime) -> timedelta:
    off = t.astimezone(zone).utcoffset()
    assert off is not None
    return off


def _transitions(zone: ZoneInfo, lo: datetime, hi: datetime) -> list[datetime]:
    """UTC-offset changes in ``[lo, hi]`` (a span of a few days; assumes at most one per half)."""
    a, b = _offset(zone, lo), _offset(zone, hi)
    if a == b:
        return []
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())
    while hi_s - lo_s > 1:  # first second whose offset differs from ``a``
        mid = (lo_s + hi_s) // 2
        if _offset(zone, datetime.fromtimestamp(mid, UTC)) == a:
            lo_s = mid
        else:
            hi_s = mid
    t = datetime.fromtimestamp(hi_s, UTC)
    return [t, *_transitions(zone, t, hi)]


def _wall_to_utc(zone: ZoneInfo, wall_start: datetime, wall_end: datetime) -> list[Interval]:
    """All UTC instants whose naive local wall time lies in ``[wall_start, wall_end)``."""
    ws, we = wall_start.replace(tzinfo=UTC), wall_end.replace(tzinfo=UTC)
    lo, hi = ws - timedelta(hours=16), we + timedelta(hours=16)  # every real offset is within ±14h
    cuts = [lo, *_transitions(zone, lo, hi), hi]
    out: list[Interval] = []
    for seg_start, seg_end in zip(cuts, cuts[1:], strict=False):
        off = _offset(zone, seg_start)
        a, b = max(seg_start, ws - off), min(seg_end, we - off)
        if a < b:
            if out and out[-1][1] == a:
                out[-1] = (out[-1][0], b)
            else:
                out.append((a, b))
    return out


def localize(naive: datetime, tz: str) -> datetime:
    """Attach ``tz`` to a wall time; a time in a DST gap moves forward, an ambiguous one takes
    the first occurrence."""
    return naive.replace(tzinfo=_zone(tz)).astimezone(UTC).astimezone(_zone(tz))


def _wall_midnight(zone: ZoneInfo, day: date) -> datetime:
    """The first UTC instant whose wall date is ``day`` (fold=0 midnight, or the end of a gap)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _require_aware(dt: datetime, what: str) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {dt!r}")
    return dt.astimezone(UTC)


def _merge_pauses(pauses: Sequence[tuple[datetime, datetime]], after: datetime) -> list[Interval]:
    spans = []
    for a, b in pauses:
        a_u, b_u = _require_aware(a, "pause start"), _require_aware(b, "pause end")
        if b_u < a_u:
            raise ValueError(f"pause ends before it starts: {a.isoformat()} .. {b.isoformat()}")
        if b_u > after:
            spans.append((max(a_u, after), b_u))
    spans.sort()
    merged: list[Interval] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _open_from(cal: BusinessCalendar, start: datetime) -> Iterator[Interval]:
    """Open UTC intervals at or after ``start``, in time order.

    Days are generated one by one; a day's intervals are released only up to the first
    instant of the next wall date, because around a fall-back at midnight instants of
    consecutive wall dates interleave.
    """
    zone = cal.zone
    day = start.astimezone(zone).date() - timedelta(days=1)
    buffer: list[Interval] = []
    closed_days = 0
    while closed_days < MAX_SEARCH_DAYS:
        todays = cal.open_intervals(day)
        closed_days = 0 if todays else closed_days + 1
        buffer.extend(todays)
        day += timedelta(days=1)
        horizon = _wall_midnight(zone, day)
        buffer.sort()
        keep: list[Interval] = []
        for a, b in buffer:
            if a >= horizon:
                keep.append((a, b))
                continue
            a2, b2 = max(a, start), min(b, horizon)
            if a2 < b2:
                yield a2, b2
            if b > horizon:
                keep.append((horizon, b))
        buffer = keep
    raise ValueError(f"calendar {cal.name or cal.tz!r} has no working time in {MAX_SEARCH_DAYS} consecutive days")


def _unpaused(a: datetime, b: datetime, pauses: list[Interval]) -> Iterator[Interval]:
    for p0, p1 in pauses:
        if p1 <= a or p0 >= b:
            continue
        if p0 > a:
            yield a, p0
        a = max(a, p1)
        if a >= b:
            return
    if a < b:
        yield a, b


def add_business_time(
    start: datetime,
    span: timedelta,
    cal: BusinessCalendar,
    pauses: Sequence[tuple[datetime, datetime]] = (),
) -> datetime:
    """The earliest instant by which ``span`` of open, unpaused time has elapsed since ``start``.

    Pauses (``[from, to)`` intervals, e.g. waiting for the customer) do not count, so they
    push the due time out. The result is in the calendar's zone; compare it across zones
    with ``<``/``>`` or in UTC, since PEP 495 makes ``==`` false for a wall time in a DST fold.
    """
    start_u = _require_aware(start, "start")
    if span < timedelta(0):
        raise ValueError(f"span must not be negative, got {span}")
    paused = _merge_pauses(pauses, start_u)
    remaining = span
    if remaining == timedelta(0):
        return start_u.astimezone(cal.zone)
    for a, b in _open_from(cal, start_u):
        for x, y in _unpaused(a, b, paused):
            if y - x >= remaining:
                return (x + remaining).astimezone(cal.zone)
            remaining -= y - x
    raise AssertionError("unreachable: _open_from raises when the calendar runs dry")


def business_time_between(
    start: datetime,
    end: datetime,
    cal: BusinessCalendar,
    pauses: Sequence[tuple[datetime, datetime]] = (),
) -> timedelta:
    """Open, unpaused time in ``[start, end)`` (zero if end <= start): the time left to a due."""
    start_u, end_u = _require_aware(start, "start"), _require_aware(end, "end")
    total = timedelta(0)
    if end_u <= start_u:
        return total
    paused = _merge_pauses(pauses, start_u)
    for a, b in _open_from(cal, start_u):
        if a >= end_u:
            break
        for x, y in _unpaused(a, min(b, end_u), paused):
            total += y - x
    return total


def add_days(start: datetime, n: int, kind: Literal["calendar", "working"], cal: BusinessCalendar) -> datetime:
    """The same local wall time ``n`` calendar days, or ``n`` working days of ``cal``, later."""
    local = _require_aware(start, "start").astimezone(cal.zone)
    day = local.date()
    if kind == "calendar":
        day += timedelta(days=n)
    elif kind == "working":
        if n < 0:
            raise ValueError("working days are counted forward only")
        for _ in range(n):
            day += timedelta(days=1)
            for _ in range(MAX_SEARCH_DAYS):
                if cal.is_working_day(day):
                    break
                day += timedelta(days=1)
            else:
                raise ValueError(f"calendar {cal.name or cal.tz!r} has no working day in {MAX_SEARCH_DAYS} days")
    else:
        raise ValueError(f"kind must be 'calendar' or 'working', got {kind!r}")
    return localize(datetime.combine(day, local.time()), cal.tz)


def add_months(start: datetime, n: int, cal: BusinessCalendar) -> datetime:
    """Same local wall time ``n`` months later; the 31st clamps to the month's last day."""
    local = _require_aware(start, "start").astimezone(cal.zone)
    return localize(local.replace(tzinfo=None) + relativedelta(months=n), cal.tz)


def end_of_day(dt: datetime, cal: BusinessCalendar) -> datetime:
    """23:59:59 local time on ``dt``'s local date: a statutory period ends with its last day."""
    local = _require_aware(dt, "dt").astimezone(cal.zone)
    return localize(datetime.combine(local.date(), time(23, 59, 59)), cal.tz)
