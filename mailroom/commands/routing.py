"""``mailroom route --dry-run FILE_OR_DOCUMENT_ID``: which rule a document would hit and why;
``mailroom queues sweep``: one round of the lease and SLA sweepers."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ground.errors import MailroomError
from ground.i18n import gettext as _

CHANNEL_BY_SUFFIX = {".eml": "email", ".msg": "email", ".tif": "fax", ".tiff": "fax"}


def _texts(target: str, channel: str | None) -> list[dict[str, Any]]:
    """(label, text, channel, received_at) for a file (read and OCRed, nothing stored) or a stored document."""
    from ocr import sniff_type
    from pipeline.context import get_context
    from pipeline.stages import read
    from storage.db import session_scope
    from storage.models import Document

    path = Path(target)
    now = datetime.now(UTC)
    if path.is_file():
        data = path.read_bytes()
        ctx = get_context()
        found = list(read(data, sniff_type(data, path.name), path.name, ctx.settings))
        ch = channel or CHANNEL_BY_SUFFIX.get(path.suffix.lower(), "upload")
        return [{"label": f"{target} (document {i + 1} of {len(found)})", "text": f.ocr.text, "channel": ch,
                 "received_at": now} for i, f in enumerate(found)]
    with session_scope(get_context().db_url) as s:
        doc = s.get(Document, target)
        if doc is None:
            raise MailroomError(f"{target!r} is neither a readable file nor a stored document id")
        return [{"label": f"document {doc.id}", "text": doc.text, "channel": channel or doc.envelope.channel,
                 "received_at": doc.envelope.received_at}]


def cmd_route(args: argparse.Namespace) -> int:
    import classifiers
    from pipeline.context import get_context
    from queues.routing import explain, route
    from queues.sla import compute_sla

    if not args.dry_run:
        print(_("mailroom route only supports --dry-run (routing happens in the pipeline)"))
        return 2
    ctx = get_context()
    for d in _texts(args.target, args.channel):
        c = classifiers.classify(d["text"])
        steps = explain(c, d["channel"], d["text"], ctx.rules)
        r = route(c, d["channel"], d["text"], ctx.rules)
        sla = compute_sla(d["received_at"], c.category, c.language, r.queue, ctx.policies)
        if args.json:
            print(json.dumps({"source": d["label"], "language": c.language, "category": c.category,
                              "confidence": c.confidence, "segment": c.segment, "entities": c.entities,
                              "channel": d["channel"], "rule": r.rule, "queue": r.queue, "priority": r.priority,
                              "sla_policy": sla.policy, "sla_due": sla.due.isoformat(),
                              "steps": [{"rule": n, "matched": m, "why": w} for n, m, w in steps]},
                             ensure_ascii=False))
            continue
        print(_("%(source)s: %(language)s %(category)s (%(confidence)s), %(segment)s, channel %(channel)s")
              % {"source": d["label"], "language": c.language, "category": c.category,
                 "confidence": f"{c.confidence:.2f}", "segment": c.segment, "channel": d["channel"]})
        ents = ", ".join(f"{k}={v}" for k, v in c.entities.items() if v)
        print("  " + _("entities: %(entities)s") % {"entities": ents or _("none")})
        for name, matched, why in steps:
            print(f"  {'HIT ' if matched else 'skip'} {name}: {why}")
        print("  → " + _("queue %(queue)s, priority %(priority)d (rule %(rule)s); SLA %(policy)s due %(due)s")
              % {"queue": r.queue, "priority": r.priority, "rule": r.rule, "policy": sla.policy,
                 "due": sla.due.isoformat()})
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from pipeline.context import get_context
    from queues.sweep import run_scheduled

    ctx = get_context()
    result = run_scheduled(ctx.db_url, ctx.policies, ctx.rules, datetime.now(UTC))
    if result is None:
        return 1
    print(_("leases expired %(expired)d, warned %(warned)d, breached %(breached)d, statutory risk %(risk)d, "
            "statutory breached %(statutory)d") % {
        "expired": len(result.leases_expired), "warned": len(result.warned), "breached": len(result.breached),
        "risk": len(result.statutory_risk), "statutory": len(result.statutory_breached)})
    return 0


def register(sub: Any) -> None:
    sp = sub.add_parser("route", help="show which routing rule a file or stored document would hit, and why")
    sp.add_argument("target", metavar="FILE_OR_DOCUMENT_ID")
    sp.add_argument("--dry-run", action="store_true", required=True, help="route nothing, explain only")
    sp.add_argument("--channel", choices=["scan", "fax", "email", "upload"], default=None)
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_route)
    qp = sub.add_parser("queues", help="queue maintenance")
    qsub = qp.add_subparsers(dest="queues_command", required=True)
    sw = qsub.add_parser("sweep", help="one round of the lease and SLA sweepers (the scheduler runs them)")
    sw.set_defaults(func=cmd_sweep)
