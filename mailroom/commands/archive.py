"""CLI for the archive: ``mailroom search``, ``audit verify|export``, ``blobs migrate|scrub``, ``retention``."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, date, datetime
from typing import Any

from ground.i18n import _, ngettext


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _ctx() -> Any:
    from pipeline.context import get_context

    return get_context()


def cmd_search(args: argparse.Namespace) -> int:
    from storage.audit import record
    from storage.db import session_scope
    from storage.models import Document
    from storage.search import Filters, parse_query, reindex, search, snippet

    ctx = _ctx()
    if args.reindex:
        with session_scope(ctx.db_url) as s:
            n = reindex(s)
        print(ngettext("%(num)d document indexed", "%(num)d documents indexed", n) % {"num": n})
        return 0
    filters = Filters(date_from=args.date_from, date_to=args.date_to, channel=args.channel or [],
                      category=args.category or [], queue=args.queue or [], language=args.language or [],
                      status=args.status or [], customer=args.customer, entity=args.entity or [])
    with session_scope(ctx.db_url) as s:
        page = search(s, args.query, filters, sort=args.sort, page=args.page, per_page=args.per_page)
        record(s, _actor(), "archive.searched", detail={"query": args.query, "filters": _jsonable(vars(filters)),
                                                        "page": args.page, "hits": page.total})
        texts = {h.document_id: d.text for h in page.hits if (d := s.get(Document, h.document_id)) is not None}
    if args.json:
        print(json.dumps({"total": page.total, "total_capped": page.total_capped, "page": page.page,
                          "hits": [_jsonable(vars(h)) for h in page.hits]}, ensure_ascii=False))
        return 0
    q = parse_query(args.query)
    more = "+" if page.total_capped else ""
    print(ngettext("%(num)d%(more)s document; page %(page)d (%(sort)s)",
                   "%(num)d%(more)s documents; page %(page)d (%(sort)s)", page.total)
          % {"num": page.total, "more": more, "page": page.page, "sort": args.sort})
    for h in page.hits:
        print(f"{h.received_at:%Y-%m-%d} {h.document_id} {h.channel} {h.language or '-'} {h.category or '-'} "
              f"{h.queue or '-'}/{h.status or '-'}")
        print("    " + snippet(texts.get(h.document_id) or "", q, mark=("[", "]"), escape=False))
    return 0


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    return obj


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from storage.audit import verify
    from storage.db import session_scope

    with session_scope(_ctx().db_url) as s:
        report = verify(s)
    if report.ok:
        print(ngettext("audit trail intact: %(num)d event, hash chain verified",
                       "audit trail intact: %(num)d events, hash chain verified", report.checked)
              % {"num": report.checked})
        return 0
    print(ngettext("AUDIT TRAIL BROKEN: %(num)d problem in %(events)d events",
                   "AUDIT TRAIL BROKEN: %(num)d problems in %(events)d events", len(report.findings))
          % {"num": len(report.findings), "events": report.checked})
    for f in report.findings:
        print(f"  {f.kind}: {f.message}")
    return 1


def cmd_audit_export(args: argparse.Namespace) -> int:
    from storage.audit import export_csv, export_json, record, trail
    from storage.db import session_scope

    with session_scope(_ctx().db_url) as s:
        events = trail(s, args.document_id)
        out = export_csv(events) if args.format == "csv" else export_json(events)
        record(s, _actor(), "document.trail_exported", document_id=args.document_id,
               detail={"format": args.format, "events": len(events)})
    sys.stdout.write(out if out.endswith("\n") else out + "\n")
    return 0


def cmd_blobs_migrate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from storage.blobs import FsBlobStore, MinioBlobStore, migrate_blobs

    settings = _ctx().settings
    source = FsBlobStore(Path(args.source) if args.source else settings.blob_dir)
    target = MinioBlobStore.from_settings(settings)
    report = migrate_blobs(source, target)
    print(f"{report.copied} copied, {report.already} already there, {len(report.failed)} failed "
          f"(every object read back and its SHA-256 verified)")
    for key, why in report.failed:
        print(f"  FAILED {key}: {why}")
    if not report.failed:
        print(f"Set MAILROOM_BLOB_BACKEND=minio to use bucket {target.bucket} from now on.")
    return 1 if report.failed else 0


def cmd_blobs_scrub(args: argparse.Namespace) -> int:
    from storage.blobs import scrub
    from storage.db import session_scope

    ctx = _ctx()
    with session_scope(ctx.db_url) as s:
        report = scrub(s, ctx.blobs)
    print(f"{report.checked} originals re-hashed: {len(report.corrupted)} corrupted, {len(report.missing)} missing")
    for problem in report.corrupted + report.missing:
        print(f"  {problem}")
    return 1 if report.corrupted or report.missing else 0


def cmd_retention_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from storage.db import session_scope
    from storage.retention import DEFAULT_CONFIG, load_policy, run_retention

    ctx = _ctx()
    policy = load_policy(Path(args.config) if args.config else DEFAULT_CONFIG)
    with session_scope(ctx.db_url) as s:
        report = run_retention(s, ctx.blobs, policy, now=datetime.now(UTC), dry_run=args.dry_run, actor=_actor())
    print(report.render())
    return 1 if report.errors else 0


def cmd_retention_hold(args: argparse.Namespace) -> int:
    from storage.db import session_scope
    from storage.retention import set_legal_hold

    with session_scope(_ctx().db_url) as s:
        set_legal_hold(s, args.envelope_id, args.hold, actor=_actor(), reason=args.reason)
    print((_("envelope %(id)s: legal hold set") if args.hold else _("envelope %(id)s: legal hold released"))
          % {"id": args.envelope_id})
    return 0


def _day(value: str) -> date:
    return date.fromisoformat(value)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sp = sub.add_parser("search", help="search the archive (words, \"phrases\", prefix*, OR, -word)")
    sp.add_argument("query", nargs="?", default="")
    sp.add_argument("--from", dest="date_from", type=_day, help="received on or after (YYYY-MM-DD)")
    sp.add_argument("--to", dest="date_to", type=_day, help="received on or before (YYYY-MM-DD)")
    for name in ("channel", "category", "queue", "language", "status", "entity"):
        sp.add_argument(f"--{name}", action="append", help="may be repeated")
    sp.add_argument("--customer", help="customer number, e.g. MR-1234567")
    sp.add_argument("--sort", choices=["relevance", "date", "date_asc"], default="relevance")
    sp.add_argument("--page", type=int, default=1)
    sp.add_argument("--per-page", type=int, default=20)
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--reindex", action="store_true", help="rebuild the index from the documents")
    sp.set_defaults(func=cmd_search)

    sp = sub.add_parser("audit", help="verify the audit hash chain or export a document's trail")
    asub = sp.add_subparsers(dest="audit_command", required=True)
    ap = asub.add_parser("verify", help="walk the hash chain; exit 1 and say where it is broken")
    ap.set_defaults(func=cmd_audit_verify)
    ap = asub.add_parser("export", help="a document's trail as JSON or CSV")
    ap.add_argument("document_id")
    ap.add_argument("--format", choices=["json", "csv"], default="json")
    ap.set_defaults(func=cmd_audit_export)

    sp = sub.add_parser("blobs", help="blob store maintenance")
    bsub = sp.add_subparsers(dest="blobs_command", required=True)
    bp = bsub.add_parser("migrate", help="copy every original from the filesystem store to MinIO/S3 and verify")
    bp.add_argument("--source", help="filesystem store (default: <data>/blobs)")
    bp.set_defaults(func=cmd_blobs_migrate)
    bp = bsub.add_parser("scrub", help="re-hash every original; name corrupted and missing ones")
    bp.set_defaults(func=cmd_blobs_scrub)

    sp = sub.add_parser("retention", help="retention periods and legal hold")
    rsub = sp.add_subparsers(dest="retention_command", required=True)
    rp = rsub.add_parser("run", help="delete originals and text past their retention period")
    rp.add_argument("--dry-run", action="store_true", help="report only, change nothing")
    rp.add_argument("--config", help="retention YAML (default: ground/config/retention.yaml)")
    rp.set_defaults(func=cmd_retention_run)
    for name, hold in (("hold", True), ("release", False)):
        rp = rsub.add_parser(name, help=f"{'set' if hold else 'release'} a legal hold on an envelope")
        rp.add_argument("envelope_id")
        rp.add_argument("--reason", required=True, help="why (a case number; the order that lifts the hold)")
        rp.set_defaults(func=cmd_retention_hold, hold=hold)
