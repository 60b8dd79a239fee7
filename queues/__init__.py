"""Queues: routing rules, business calendars and SLA targets (pure functions; time is injected)."""

from __future__ import annotations

from queues.calendar import (
    BusinessCalendar,
    add_business_time,
    add_days,
    add_months,
    business_time_between,
    end_of_day,
)
from queues.routing import RoutingDecision, RuleSet, load_rules, route
from queues.sla import SlaPolicies, compute_sla, load_policies

__all__ = [
    "BusinessCalendar",
    "RoutingDecision",
    "RuleSet",
    "SlaPolicies",
    "add_business_time",
    "add_days",
    "add_months",
    "business_time_between",
    "compute_sla",
    "end_of_day",
    "load_policies",
    "load_rules",
    "route",
]
