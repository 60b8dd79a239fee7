"""Supervisor figures per queue: depth, oldest age, at risk, breached, handled in the last hour;
the same numbers as Prometheus text (``GET /metrics``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import WorkItem, WorkItemState

ACTIVE = (WorkItemState.NEW, WorkItemState.CLAIMED)
OPEN = (*ACTIVE, WorkItemState.ON_HOLD)


@dataclass
class QueueFigures:
    queue: str
    depth: int  # new, waiting for an agent
    claimed: int
    on_hold: int
    oldest_age_seconds: float  # the oldest open item (0 when none)
    at_risk: int  # past the warning point, not yet breached
    breached: int  # open and past the binding deadline
    handled_last_hour: int  # completed in the last hour (copies attached to a case not counted)


def queue_figures(session: Session, now: datetime, queue_ids: list[str]) -> list[QueueFigures]:
    def grouped(*where: object, what: object = None) -> dict[str, object]:
        col = func.count() if what is None else what
        q = select(WorkItem.queue, col).where(*where).group_by(WorkItem.queue)  # type: ignore[arg-type]
        return {k: v for k, v in session.execute(q)}

    new = grouped(WorkItem.state == WorkItemState.NEW)
    claimed = grouped(WorkItem.state == WorkItemState.CLAIMED)
    held = grouped(WorkItem.state == WorkItemState.ON_HOLD)
    oldest = grouped(WorkItem.state.in_(OPEN), what=func.min(WorkItem.created_at))
    risk = grouped(WorkItem.state.in_(ACTIVE), WorkItem.warn_at <= now, WorkItem.sla_due > now)
    breached = grouped(WorkItem.state.in_(ACTIVE), WorkItem.sla_due <= now)
    handled = grouped(WorkItem.state == WorkItemState.DONE, WorkItem.updated_at >= now - timedelta(hours=1),
                      WorkItem.outcome.is_distinct_from("duplicate_of_case"))
    ids = list(queue_ids) + sorted(set(new) | set(claimed) | set(held) - set(queue_ids))
    out = []
    for q in dict.fromkeys(ids):
        first = oldest.get(q)
        age = 0.0
        if isinstance(first, datetime):
            first = first if first.tzinfo else first.replace(tzinfo=now.tzinfo)
            age = max(0.0, (now - first).total_seconds())
        out.append(QueueFigures(q, int(new.get(q, 0)), int(claimed.get(q, 0)), int(held.get(q, 0)),  # type: ignore[arg-type]
                                age, int(risk.get(q, 0)), int(breached.get(q, 0)),  # type: ignore[arg-type]
                                int(handled.get(q, 0))))  # type: ignore[arg-type]
    return out


class _Snapshot:
    def __init__(self, figures: list[QueueFigures]) -> None:
        self.figures = figures

    def collect(self):  # type: ignore[no-untyped-def]
        specs = [
            ("depth", "mailroom_queue_depth", "New work items waiting for an agent"),
            ("claimed", "mailroom_queue_claimed", "Work items claimed by an agent"),
            ("on_hold", "mailroom_queue_on_hold", "Work items waiting for the customer"),
            ("oldest_age_seconds", "mailroom_queue_oldest_age_seconds", "Age of the oldest open work item"),
            ("at_risk", "mailroom_queue_at_risk", "Open work items past their SLA warning point"),
            ("breached", "mailroom_queue_breached", "Open work items past their binding deadline"),
            ("handled_last_hour", "mailroom_queue_handled_last_hour", "Work items completed in the last hour"),
        ]
        for key, name, doc in specs:
            g = GaugeMetricFamily(name, doc, labels=["queue"])
            for f in self.figures:
                g.add_metric([f.queue], float(asdict(f)[key]))
            yield g


def prometheus_text(figures: list[QueueFigures]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(figures))  # type: ignore[arg-type]
    return generate_latest(registry)
