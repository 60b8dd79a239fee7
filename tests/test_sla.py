from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ground.errors import ConfigError
from ground.records import CATEGORIES
from ground.settings import CONFIG_DIR
from queues.calendar import (
    BusinessCalendar,
    add_business_time,
    add_days,
    add_months,
    business_time_between,
)
from queues.sla import SlaPolicies, compute_sla, load_policies

SHIPPED = CONFIG_DIR / "sla.yaml"
WAW, PRG, MSK = ZoneInfo("Europe/Warsaw"), ZoneInfo("Europe/Prague"), ZoneInfo("Europe/Moscow")
H = timedelta(hours=1)
WEEKDAYS_8_18 = {d: (time(8), time(18)) for d in range(5)}
PL = BusinessCalendar("PL", "Europe/Warsaw", WEEKDAYS_8_18, name="pl-business")


@pytest.fixture(scope="module")
def policies() -> SlaPolicies:
    return load_policies(SHIPPED)


# ---------------------------------------------------------------- calendar: known dates


def test_business_time_over_polish_christmas() -> None:
    # Wednesday 23 Dec 2026, 17:30; 24 (Wigilia, a holiday since 2025), 25, 26 Dec are holidays.
    start = datetime(2026, 12, 23, 17, 30, tzinfo=WAW)
    assert add_business_time(start, 30 * timedelta(minutes=1), PL) == datetime(2026, 12, 23, 18, 0, tzinfo=WAW)
    assert add_business_time(start, H, PL) == datetime(2026, 12, 28, 8, 30, tzinfo=WAW)
    assert add_business_time(start, 40 * H, PL) == datetime(2026, 12, 31, 17, 30, tzinfo=WAW)
    # 1 Jan and 6 Jan (Epiphany) are holidays too
    assert add_business_time(start, 50 * H, PL) == datetime(2027, 1, 4, 17, 30, tzinfo=WAW)
    assert add_days(start, 2, "working", PL) == datetime(2026, 12, 29, 17, 30, tzinfo=WAW)


def test_span_ending_exactly_at_close_is_that_close() -> None:
    start = datetime(2026, 10, 12, 8, 0, tzinfo=WAW)
    assert add_business_time(start, 10 * H, PL) == datetime(2026, 10, 12, 18, 0, tzinfo=WAW)
    assert add_business_time(start, timedelta(0), PL) == start


def test_dst_spring_forward_24x7_and_night_window() -> None:
    always = BusinessCalendar.always_open("Europe/Warsaw")
    start = datetime(2026, 3, 28, 12, 0, tzinfo=WAW)  # the night of 28/29 March loses an hour
    due = add_business_time(start, 24 * H, always)
    assert due == datetime(2026, 3, 29, 13, 0, tzinfo=WAW)
    assert due.astimezone(UTC) - start.astimezone(UTC) == 24 * H  # same-zone subtraction is wall time
    # a 01:00-04:00 window holds only two real hours on the spring-forward night
    night = BusinessCalendar(None, "Europe/Warsaw", {d: (time(1), time(4)) for d in range(7)})
    assert (
        business_time_between(datetime(2026, 3, 29, 0, 0, tzinfo=WAW), datetime(2026, 3, 29, 5, 0, tzinfo=WAW), night)
        == 2 * H
    )
    assert (
        business_time_between(datetime(2026, 10, 25, 0, 0, tzinfo=WAW), datetime(2026, 10, 25, 5, 0, tzinfo=WAW), night)
        == 4 * H
    )


def test_dst_fall_back_calendar_days_keep_wall_time() -> None:
    start = datetime(2026, 10, 24, 9, 0, tzinfo=WAW)
    later = add_days(start, 1, "calendar", PL)
    assert later == datetime(2026, 10, 25, 9, 0, tzinfo=WAW)
    assert later.utcoffset() == H and later.astimezone(UTC) - start.astimezone(UTC) == 25 * H
    # a wall time inside the spring gap moves forward, not back
    gap = add_days(datetime(2026, 3, 28, 2, 30, tzinfo=WAW), 1, "calendar", PL)
    assert (gap.hour, gap.minute, gap.utcoffset()) == (3, 30, 2 * H)


def test_months_clamp_to_month_end() -> None:
    jan31 = datetime(2026, 1, 31, 10, 0, tzinfo=PRG)
    cz = BusinessCalendar("CZ", "Europe/Prague", WEEKDAYS_8_18)
    assert add_months(jan31, 1, cz) == datetime(2026, 2, 28, 10, 0, tzinfo=PRG)
    assert add_months(datetime(2028, 1, 31, 10, 0, tzinfo=PRG), 1, cz).date() == date(2028, 2, 29)


def test_russian_transferred_working_saturday() -> None:
    ru = BusinessCalendar("RU", "Europe/Moscow", {d: (time(9), time(18)) for d in range(5)})
    sat = date(2025, 11, 1)  # a working Saturday in Russia (day off moved to Monday 3 Nov)
    assert sat in holidays.country_holidays("RU", years=2025).weekend_workdays
    assert ru.is_working_day(sat) and not ru.is_working_day(date(2025, 11, 3))
    fri_evening = datetime(2025, 10, 31, 17, 0, tzinfo=MSK)
    assert add_business_time(fri_evening, 2 * H, ru) == datetime(2025, 11, 1, 10, 0, tzinfo=MSK)


def test_pauses_extend_due_and_overlaps_merge() -> None:
    start = datetime(2026, 10, 12, 8, 0, tzinfo=WAW)  # Monday
    base = add_business_time(start, 5 * H, PL)
    pauses = [
        (datetime(2026, 10, 12, 9, 0, tzinfo=WAW), datetime(2026, 10, 12, 11, 0, tzinfo=WAW)),
        (datetime(2026, 10, 12, 10, 0, tzinfo=UTC), datetime(2026, 10, 12, 10, 30, tzinfo=UTC)),
    ]  # 12:00-12:30
    assert base == datetime(2026, 10, 12, 13, 0, tzinfo=WAW)
    assert add_business_time(start, 5 * H, PL, pauses) == datetime(2026, 10, 12, 15, 30, tzinfo=WAW)


def test_naive_datetimes_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_time(datetime(2026, 1, 5, 9, 0), H, PL)


# ---------------------------------------------------------------- calendar: property test vs oracle

ZONES = [
    "UTC",
    "Europe/Warsaw",
    "Europe/Moscow",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/Santiago",
    "Asia/Beirut",
    "Pacific/Chatham",
]
CHRISTMAS = datetime(2026, 12, 22, tzinfo=UTC)


@functools.cache
def transitions_2026(tz: str) -> list[datetime]:
    """UTC hours at which ``tz`` changes its offset in 2026 (Christmas when it never does)."""
    zone, out = ZoneInfo(tz), []
    t = datetime(2026, 1, 1, tzinfo=UTC)
    while t.year == 2026:
        if t.astimezone(zone).utcoffset() != (t - H).astimezone(zone).utcoffset():
            out.append(t)
        t += H
    return out or [CHRISTMAS]


def oracle(
    start: datetime,
    span_min: int,
    tz: str,
    hours: dict[int, tuple[int, int]],
    country: str | None,
    extra: frozenset[date],
    pauses: list[tuple[datetime, datetime]],
) -> datetime:
    """Step minute by minute in UTC and count the minutes whose local wall time is open."""
    zone = ZoneInfo(tz)
    windows: dict[date, tuple[int, int] | None] = {}
    t, counted = start, 0
    while counted < span_min:
        local = t.astimezone(zone)
        d = local.date()
        if d not in windows:
            hol = holidays.country_holidays(country, years=d.year) if country else holidays.HolidayBase()
            window = None if (d in extra or d in hol) else hours.get(d.weekday())
            if window is None and country and d in hol.weekend_workdays and d not in extra:
                window = hours[min(hours)]
            windows[d] = window
        window = windows[d]
        m = local.hour * 60 + local.minute
        if window and window[0] <= m < window[1] and not any(a <= t < b for a, b in pauses):
            counted += 1
        t += timedelta(minutes=1)
    return t


@st.composite
def scenarios(draw: st.DrawFn) -> tuple:
    tz = draw(st.sampled_from(ZONES))
    country = draw(st.sampled_from([None, None, "PL", "CZ", "RU"]))
    days = draw(st.sets(st.integers(0, 6), min_size=2, max_size=7))
    hours = {}
    for d in days:
        lo = draw(st.integers(0, 44)) * 30  # window ≥ 1.5h, on the half hour, may end at 24:00
        hi = draw(st.integers(lo // 30 + 3, 48)) * 30
        hours[d] = (lo, hi)
    # start up to 2.5 days before one of the zone's DST changes, so windows straddle it
    anchor = draw(st.sampled_from(transitions_2026(tz)))
    start = anchor - timedelta(minutes=draw(st.integers(0, 60 * 60)))
    extra = frozenset(draw(st.sets(st.integers(0, 10), max_size=2)))
    extra_dates = frozenset((start + timedelta(days=i)).date() for i in extra)
    span = draw(st.integers(0, 8 * 60))
    pauses = []
    for _ in range(draw(st.integers(0, 3))):
        p0 = start + timedelta(minutes=draw(st.integers(-24 * 60, 5 * 24 * 60)))
        pauses.append((p0, p0 + timedelta(minutes=draw(st.integers(0, 2 * 24 * 60)))))
    return tz, country, hours, start, extra_dates, span, pauses


def as_calendar(
    tz: str, country: str | None, hours: dict[int, tuple[int, int]], extra: frozenset[date]
) -> BusinessCalendar:
    def t(m: int) -> time:
        return time(0) if m == 24 * 60 else time(m // 60, m % 60)

    return BusinessCalendar(country, tz, {d: (t(a), t(b)) for d, (a, b) in hours.items()}, extra_holidays=extra)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
@example(("Australia/Lord_Howe", None, {0: (0, 90), 6: (0, 120)}, datetime(2026, 4, 4, 14, 59, tzinfo=UTC),
          frozenset(), 0, []))  # a 30-minute DST fall-back: the next minute is 01:30 again (found by CI's run)
def test_add_business_time_matches_minute_oracle(s: tuple) -> None:
    tz, country, hours, start, extra, span, pauses = s
    cal = as_calendar(tz, country, hours, extra)
    due = add_business_time(start, timedelta(minutes=span), cal, pauses)
    # compare in UTC: PEP 495 makes `==` false across zones for a wall time in a DST fold
    assert due.astimezone(UTC) == oracle(start, span, tz, hours, country, extra, pauses)
    assert due.tzinfo is cal.zone
    assert business_time_between(start, due, cal, pauses) == timedelta(minutes=span)
    # pausing never makes it earlier; more span never makes it earlier (in UTC: within one zone Python orders
    # wall times and ignores `fold`, so 01:30 after a DST fall-back would sort before 01:59 of the hour before)
    assert due.astimezone(UTC) >= add_business_time(start, timedelta(minutes=span), cal).astimezone(UTC)
    assert add_business_time(start, timedelta(minutes=span + 1), cal, pauses).astimezone(UTC) > due.astimezone(UTC)


# ---------------------------------------------------------------- SLA policies


def test_shipped_policies_cover_every_category(policies: SlaPolicies) -> None:
    start = datetime(2026, 6, 15, 10, 0, tzinfo=WAW)
    for lang in ("pl", "cs", "ru", "en", "und"):
        for cat in CATEGORIES:
            t = compute_sla(start, cat, lang, "triage", policies)
            assert start < t.first_response_due <= t.due  # type: ignore[operator]
            assert start < t.warn_at < t.due  # type: ignore[operator]
            assert t.due - start < timedelta(days=32)
    assert policies.jurisdiction_for("en") == "PL" and policies.jurisdiction_for("cs") == "CZ"


def test_pl_complaint_over_christmas(policies: SlaPolicies) -> None:
    received = datetime(2026, 12, 23, 17, 30, tzinfo=WAW)
    t = compute_sla(received, "complaint", "pl", "complaints", policies)
    # internal: 40 business hours (Mon-Fri 08-18) skipping 24-27 Dec → Thu 31 Dec 17:30
    assert (t.policy, t.due, t.calendar) == (
        "internal:complaint",
        datetime(2026, 12, 31, 17, 30, tzinfo=WAW),
        "pl-business",
    )
    assert t.first_response_due == datetime(2026, 12, 28, 11, 30, tzinfo=WAW)
    assert t.warn_at == datetime(2026, 12, 31, 9, 30, tzinfo=WAW)  # 8h (20%) before
    # customer takes six weeks to answer: the statutory 30 calendar days bind (not paused)
    wait = [(datetime(2026, 12, 28, 9, 0, tzinfo=WAW), datetime(2027, 2, 8, 9, 0, tzinfo=WAW))]
    t = compute_sla(received, "complaint", "pl", "complaints", policies, wait)
    assert t.policy == "statutory:pl-telecom-complaint"
    assert t.due == datetime(2027, 1, 22, 23, 59, 59, tzinfo=WAW)
    assert t.warn_at == received + (t.due - received) * 0.8


def test_statutory_periods_as_designed(policies: SlaPolicies) -> None:
    forever = [(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 12, 31, tzinfo=UTC))]  # internal never binds

    def due(received: datetime, cat: str, lang: str, **kw: object) -> datetime:
        t = compute_sla(received, cat, lang, "q", policies, forever, **kw)  # type: ignore[arg-type]
        assert t.policy.startswith("statutory:")
        return t.due

    # CZ complaint: 1 month from receipt, clamped to month end; 2 months with a foreign operator
    assert due(datetime(2026, 1, 31, 9, 0, tzinfo=PRG), "complaint", "cs") == datetime(
        2026, 2, 28, 23, 59, 59, tzinfo=PRG
    )
    assert due(datetime(2026, 1, 31, 9, 0, tzinfo=PRG), "complaint", "cs", extended=True).date() == date(2026, 3, 31)
    # GDPR: 1 month (en defaults to PL); +2 months when extended
    assert due(datetime(2026, 3, 15, 9, 0, tzinfo=WAW), "gdpr_request", "en") == datetime(
        2026, 4, 15, 23, 59, 59, tzinfo=WAW
    )
    assert due(datetime(2026, 3, 15, 9, 0, tzinfo=WAW), "gdpr_request", "pl", extended=True).date() == date(2026, 6, 15)
    # RU personal data: 10 working days (Moscow calendar, May holidays 1, 9→11 May 2026)
    assert due(datetime(2026, 4, 29, 15, 0, tzinfo=MSK), "gdpr_request", "ru") == datetime(
        2026, 5, 15, 23, 59, 59, tzinfo=MSK
    )
    # RU claim: 30 days from registration; registration due by the end of the next working day
    fri = datetime(2026, 10, 16, 20, 0, tzinfo=MSK)
    assert due(fri, "complaint", "ru") == datetime(2026, 11, 15, 23, 59, 59, tzinfo=MSK)
    assert due(fri, "complaint", "ru", registered_at=datetime(2026, 10, 19, 10, 0, tzinfo=MSK)).date() == date(
        2026, 11, 18
    )
    t = compute_sla(fri, "complaint", "ru", "complaints", policies, forever)
    assert t.first_response_due == datetime(2026, 10, 19, 23, 59, 59, tzinfo=MSK)  # next working day: Monday


def test_receipt_time_zone_does_not_change_statutory_day(policies: SlaPolicies) -> None:
    forever = [(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 12, 31, tzinfo=UTC))]
    # 23:30 UTC on 31 March is already 1 April in Warsaw
    t = compute_sla(datetime(2026, 3, 31, 23, 30, tzinfo=UTC), "complaint", "pl", "q", policies, forever)
    assert t.due == datetime(2026, 5, 1, 23, 59, 59, tzinfo=WAW)


def test_internal_binds_when_earlier_and_queue_specific_target(policies: SlaPolicies) -> None:
    received = datetime(2026, 6, 15, 10, 0, tzinfo=WAW)  # Monday
    ind = compute_sla(received, "complaint", "pl", "complaints", policies)
    biz = compute_sla(received, "complaint", "pl", "business", policies)
    assert ind.policy == "internal:complaint" and biz.policy == "internal:complaint-business"
    assert biz.due < ind.due
    fault = compute_sla(received, "fault_report", "pl", "technical", policies)
    assert (fault.calendar, fault.due) == ("24x7", received + 48 * H)


def test_legal_first_response_is_fast(policies: SlaPolicies) -> None:
    t = compute_sla(datetime(2026, 6, 15, 10, 0, tzinfo=WAW), "legal", "pl", "legal", policies)
    assert t.first_response_due == datetime(2026, 6, 15, 12, 0, tzinfo=WAW)


BAD_SLA = """
calendars:
  pl: {tz: Europe/Warsaw, country: PL, hours: {mon-fri: "08:00-18:00"}}
jurisdictions:
  PL: {languages: [pl], calendar: pl}
internal:
  - {name: all, first_response: 4h, resolution: 40h}
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("resolution: 40h", "resolution: 5 days", ["internal target #1 'all'", "resolution", "'8h'"]),
        ("08:00-18:00", "8-18", ["calendar 'pl'", "08:00-18:00"]),
        ("tz: Europe/Warsaw", "tz: Europe/Warszawa", ["calendar 'pl'", "IANA"]),
        ("calendar: pl}", "calendar: pl-biz}", ["pl-biz", "not defined"]),
        ("{name: all, ", "{name: all, category: [complain], ", ["'all'", "complain", "category"]),
        ("{name: all, ", "{name: all, queue: [x], ", ["catch-all"]),
        (
            "internal:",
            "statutory:\n  - {name: s, jurisdiction: PL, category: complaint, period: 30 days soon}\ninternal:",
            ["statutory rule #1 's'", "period", "30 calendar days"],
        ),
    ],
)
def test_bad_sla_config(tmp_path: Path, old: str, new: str, expected: list[str]) -> None:
    p = tmp_path / "sla.yaml"
    p.write_text(BAD_SLA.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_policies(p)
    assert "sla.yaml" in exc.value.reason
    for part in expected:
        assert part in exc.value.reason, exc.value.reason


def test_minimal_sla_config_loads(tmp_path: Path) -> None:
    p = tmp_path / "sla.yaml"
    p.write_text(BAD_SLA, encoding="utf-8")
    pol = load_policies(p)
    t = compute_sla(datetime(2026, 6, 15, 10, 0, tzinfo=WAW), "other", "xx", "q", pol)
    assert t.due == datetime(2026, 6, 19, 10, 0, tzinfo=WAW)
