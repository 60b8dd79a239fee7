"""``mailroom jobs``: per-queue job counts; ``mailroom jobs failed|show|retry|discard``: the jobs rq gave up on."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from ground.errors import StorageError
from ground.i18n import N_, ngettext
from ground.i18n import gettext as _

CLI_ACTOR = "cli"  # as `mailroom quarantine retry` records it


@contextmanager
def _queues() -> Iterator[list[Any]]:
    """The worker's queues; Redis that does not answer is a one-line error, not a traceback."""
    from redis.exceptions import RedisError

    from pipeline.jobs import open_worker_queues

    try:
        with open_worker_queues() as queues:
            yield queues
    except RedisError as exc:
        raise StorageError(f"Redis is not reachable ({exc}); is `mailroom serve` running, or "
                           "MAILROOM_REDIS_URL set?") from exc


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def cmd_status(args: argparse.Namespace) -> int:
    from pipeline.failed_jobs import queue_counts

    with _queues() as queues:
        counts = queue_counts(queues)
    if getattr(args, "json", False):
        print(_json([asdict(c) for c in counts]))
        return 0
    heads = (_("queue"), _("queued"), _("started"), _("failed"), _("scheduled"))
    print(f"{heads[0]:<24} {heads[1]:>7} {heads[2]:>8} {heads[3]:>7} {heads[4]:>10}")
    for c in counts:
        print(f"{c.queue:<24} {c.queued:>7} {c.started:>8} {c.failed:>7} {c.scheduled:>10}")
    return 0


def cmd_failed(args: argparse.Namespace) -> int:
    from pipeline.failed_jobs import list_failed

    with _queues() as queues:
        total, jobs = list_failed(queues, args.limit, args.offset)
    if args.json:
        print(_json({"total": total, "items": [asdict(j) for j in jobs]}))
        return 0
    for j in jobs:
        about = (_("document %(id)s") % {"id": j.document_id} if j.document_id else
                 _("envelope %(id)s") % {"id": j.envelope_id} if j.envelope_id else "-")
        when = j.failed_at.isoformat(timespec="seconds") if j.failed_at else "?"
        print(f"{j.job_id}  {j.queue}  {when}  {j.function or '?'}  {about}: {j.error or '?'}")
    print(ngettext("%(count)d failed job", "%(count)d failed jobs", total) % {"count": total})
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from pipeline.failed_jobs import show

    with _queues() as queues:
        job = show(queues, args.job_id)
    print(_json(asdict(job)) if args.json else "\n".join(
        [*(f"{k}: {v}" for k, v in asdict(job).items() if k != "traceback"), "", job.traceback or _("(no traceback)")]))
    return 0


def _act(action: Callable[..., Any], done: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from pipeline.context import get_context

        ctx = get_context()
        with _queues() as queues:
            job = action(queues, args.job_id, db_url=ctx.db_url, actor=CLI_ACTOR)
        print(f"{job.job_id}: {_(done)} ({job.queue})")
        return 0

    return run


def cmd_retry(args: argparse.Namespace) -> int:
    from pipeline.failed_jobs import retry

    return _act(retry, N_("queued again"))(args)


def cmd_discard(args: argparse.Namespace) -> int:
    from pipeline.failed_jobs import discard

    return _act(discard, N_("discarded"))(args)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sp = sub.add_parser("jobs", help="pipeline job counts per queue; failed jobs: list, show, retry, discard")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_status)
    jsub = sp.add_subparsers(dest="jobs_command")

    p = jsub.add_parser("status", help="queued / started / failed / scheduled per queue (the default)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = jsub.add_parser("failed", help="jobs rq gave up on after its retries, newest first")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--offset", type=int, default=0)
    p.set_defaults(func=cmd_failed)

    p = jsub.add_parser("show", help="one failed job with its traceback")
    p.add_argument("job_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = jsub.add_parser("retry", help="put a failed job back on its queue (an audit event)")
    p.add_argument("job_id")
    p.set_defaults(func=cmd_retry)

    p = jsub.add_parser("discard", help="remove a failed job for good (an audit event)")
    p.add_argument("job_id")
    p.set_defaults(func=cmd_discard)
