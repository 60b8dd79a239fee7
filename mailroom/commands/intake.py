"""Intake sub-commands: import, imap, smtp, hotfolder, quarantine, batch."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ground import i18n
from ground.i18n import gettext as _
from ground.i18n import ngettext
from ground.records import Channel
from mailroom.commands import cli_actor


def _now() -> datetime:
    return datetime.now(UTC)


def record_read(session, action: str, **refs: Any) -> None:  # type: ignore[no-untyped-def]
    """A read of personal data at the command line is an audit event too, by ``cli:<OS user>``; it is committed
    with the caller's session before anything is printed."""
    from storage.audit import record

    detail = refs.pop("detail", {})
    record(session, cli_actor(), action, detail={**detail, "via": "cli"}, **refs)


def record_process_read(ctx, line: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    """``mailroom process`` shows a letter's text and entities: one audit event per line it prints."""
    from storage.db import session_scope

    if not line.get("envelope_id"):
        return  # the file could not even be read: nothing of it was stored or shown
    with session_scope(ctx.db_url) as s:
        action = "document.viewed" if line.get("document_id") else "envelope.viewed"
        record_read(s, action, envelope_id=line["envelope_id"], document_id=line.get("document_id"),
                    detail={"command": "process"})


def record_file_read(path: Path, data: bytes) -> None:
    """``mailroom ocr`` shows the text of a file that need not be in Mailroom: the read is audited all the same
    (its name, size and SHA-256, never its text)."""
    import hashlib

    from pipeline.context import get_context
    from storage.db import session_scope

    with session_scope(get_context().db_url) as s:
        record_read(s, "file.ocr_read", detail={"command": "ocr", "name": path.name[:200], "bytes": len(data),
                                                "sha256": hashlib.sha256(data).hexdigest()})


def _dispatch(ctx, enqueue: bool):  # type: ignore[no-untyped-def]
    from channels.receive import enqueue as enqueue_dispatch
    from channels.receive import inline

    return enqueue_dispatch(ctx) if enqueue else inline(ctx)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def cmd_import(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from channels.importer import count_items, import_paths
    from pipeline.context import get_context

    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(_("mailroom import: not a file: %(files)s") % {"files": ", ".join(missing)}, file=sys.stderr)
        return 2
    ctx = get_context()
    channel = Channel(args.channel) if args.channel else None
    with tqdm(total=count_items(paths), unit="msg", file=sys.stderr,
              disable=args.quiet or not sys.stderr.isatty()) as bar:  # progress only for a person at a terminal
        result = import_paths(ctx, paths, _now, _dispatch(ctx, args.enqueue), channel=channel, progress=bar.update)
    for name, reason in result.quarantined:
        print(_("%(name)s: QUARANTINED %(reason)s") % {"name": name, "reason": reason})
    print(_("imported %(total)d: new %(new)d, duplicates %(duplicates)d, quarantined %(quarantined)d")
          % {"total": result.total, "new": len(result.accepted), "duplicates": len(result.duplicates),
             "quarantined": len(result.quarantined)})
    return 1 if result.quarantined else 0


def cmd_imap(args: argparse.Namespace) -> int:
    from channels.mailbox import MailboxConfig, poll_forever, poll_once
    from pipeline.context import get_context

    password = os.environ.get(args.password_env, "")
    if not password:
        print(_("mailroom imap: set the password in the environment variable %(name)s") % {"name": args.password_env},
              file=sys.stderr)
        return 2
    cfg = MailboxConfig(host=args.host, port=args.port, user=args.user, password=password, folder=args.folder,
                        security=args.security, after=args.after, done_folder=args.done_folder,
                        channel=Channel(args.channel))
    ctx = get_context()
    dispatch = _dispatch(ctx, not args.inline)
    if args.once:
        res = poll_once(ctx, cfg, _now(), dispatch)
        print(_("%(mailbox)s: fetched %(fetched)d, new %(new)d, duplicates %(duplicates)d, quarantined "
                "%(quarantined)d") % {"mailbox": cfg.label, "fetched": res.fetched, "new": len(res.accepted),
                                       "duplicates": len(res.duplicates), "quarantined": len(res.quarantined)})
        return 0
    poll_forever(ctx, [cfg], args.interval, dispatch, _stop_on_signals())
    return 0


def cmd_smtp(args: argparse.Namespace) -> int:
    from channels.smtp import start_endpoint
    from pipeline.context import get_context

    ctx = get_context()
    controller = start_endpoint(ctx, args.host, args.port, lmtp=args.lmtp, dispatch=_dispatch(ctx, not args.inline),
                                channel=Channel(args.channel))
    print(_("%(protocol)s intake on %(host)s:%(port)d") % {"protocol": "LMTP" if args.lmtp else "SMTP",
                                                           "host": args.host, "port": args.port}, flush=True)
    try:
        _stop_on_signals().wait()
    finally:
        controller.stop()
    return 0


def cmd_hotfolder(args: argparse.Namespace) -> int:
    from channels.hotfolder import HotFolder, scan_once, watch
    from pipeline.context import get_context

    ctx = get_context()
    folders = [HotFolder(Path(p), Channel(args.channel), args.stable_ms, args.station) for p in args.folders]
    dispatch = _dispatch(ctx, not args.inline)
    if args.once:
        for folder in folders:
            folder.path.mkdir(parents=True, exist_ok=True)
            for out in scan_once(ctx, folder, _now(), dispatch):
                print(f"{out.name} → {out.moved_to}" + (f"  ({out.reason.splitlines()[0]})" if out.reason else ""))
        return 0
    logging.getLogger("intake").setLevel(logging.INFO)
    watch(ctx, folders, dispatch, _stop_on_signals())
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    from pipeline import quarantine as q
    from pipeline.context import get_context
    from storage.db import session_scope

    ctx = get_context()
    if args.action == "list":
        with session_scope(ctx.db_url) as s:
            total, rows = q.list_quarantined(s, args.limit)
        if args.json:
            print(json.dumps({"total": total, "items": rows}, ensure_ascii=False))
            return 0
        for r in rows:
            print(f"{r['id']}  {r['received_at'][:19]}  {r['channel']:<6} {r['state']:<11} {r['source_name'][:40]!r}: "
                  f"{r['reason']}")
        print(ngettext("%(count)d envelope in quarantine", "%(count)d envelopes in quarantine", total)
              % {"count": total})
        return 0
    if not args.envelope_id:
        print(_("mailroom quarantine %(action)s: give the envelope id") % {"action": args.action}, file=sys.stderr)
        return 2
    if args.action == "show":
        with session_scope(ctx.db_url) as s:
            shown = q.show(s, args.envelope_id)
            record_read(s, "envelope.quarantine_viewed", envelope_id=args.envelope_id)
        print(json.dumps(shown, ensure_ascii=False, indent=2))
        return 0
    q.retry(ctx, args.envelope_id, cli_actor(), _now())
    _dispatch(ctx, args.enqueue)(args.envelope_id)
    with session_scope(ctx.db_url) as s:
        status = q.batch_status(s, args.envelope_id)
    print(_("%(id)s: %(state)s%(reason)s, documents: %(documents)d")
          % {"id": args.envelope_id, "state": i18n.envelope_state_name(status["state"]),
             "reason": f" ({status['reason']})" if status["reason"] else "", "documents": status["documents_found"]})
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from pipeline.context import get_context
    from pipeline.quarantine import batch_status
    from storage.db import session_scope

    with session_scope(get_context().db_url) as s:
        status = batch_status(s, args.envelope_id)
        record_read(s, "envelope.batch_viewed", envelope_id=args.envelope_id)
    if args.json:
        print(json.dumps(status, ensure_ascii=False))
        return 0
    print(_("envelope %(id)s (%(channel)s, %(name)r): %(state)s%(reason)s")
          % {"id": status["envelope_id"], "channel": i18n.channel_name(status["channel"]),
             "name": status["source_name"], "state": i18n.envelope_state_name(status["state"]),
             "reason": f" — {status['reason']}" if status["reason"] else ""})
    print(_("pages received: %(pages)s, documents found: %(documents)d")
          % {"pages": status["pages_received"] if status["pages_received"] is not None else "?",
             "documents": status["documents_found"]})
    if status["reading"]:
        r = status["reading"]
        print(_("reading in %(chunks)d page chunks: %(done)d done, %(read)d of %(total)d pages read")
              % {"chunks": r["chunks"], "done": r["chunks_done"], "read": r["pages_read"], "total": r["pages_total"]})
    for n, d in enumerate(status["documents"], 1):
        item = d["work_item"]
        where = (f"{i18n.queue_name(item['queue'])} #{item['id']} {i18n.item_state_name(item['state'])}" if item
                 else _("no work item yet"))
        print("  " + _("%(n)d. pages %(first)d.. (%(pages)d + %(blank)d blank) %(state)s: %(category)s → %(where)s")
              % {"n": n, "first": d["first_page"], "pages": d["pages"], "blank": d["blank_pages"],
                 "state": i18n.document_state_name(d["state"]), "category": i18n.category_name(d["category"])
                 if d["category"] else "-", "where": where})
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    channels = [c.value for c in Channel]

    sp = sub.add_parser("import", help="import .eml, .msg, mbox (or any) files, with a progress bar")
    sp.add_argument("paths", nargs="+")
    sp.add_argument("--enqueue", action="store_true", help="hand to the workers instead of processing here")
    sp.add_argument("--channel", choices=channels, default="", help="default: guessed from the content")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp.set_defaults(func=cmd_import)

    sp = sub.add_parser("imap", help="poll an IMAP mailbox (store first, then move/flag on the server)")
    sp.add_argument("--host", required=True)
    sp.add_argument("--port", type=int, default=993)
    sp.add_argument("--user", required=True)
    sp.add_argument("--password-env", default="MAILROOM_IMAP_PASSWORD", help="variable holding the password")
    sp.add_argument("--folder", default="INBOX")
    sp.add_argument("--security", choices=["ssl", "starttls", "plain"], default="ssl")
    sp.add_argument("--after", choices=["move", "flag"], default="move")
    sp.add_argument("--done-folder", default="Mailroom-Stored")
    sp.add_argument("--channel", choices=channels, default="email")
    sp.add_argument("--interval", type=float, default=30.0, help="seconds between polls")
    sp.add_argument("--once", action="store_true")
    sp.add_argument("--inline", action="store_true", help="process here instead of enqueueing")
    sp.set_defaults(func=cmd_imap)

    sp = sub.add_parser("smtp", help="SMTP/LMTP endpoint: answers 250 only after the message is stored")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8025)
    sp.add_argument("--lmtp", action="store_true")
    sp.add_argument("--channel", choices=channels, default="email", help="fax for a fax-to-mail gateway")
    sp.add_argument("--inline", action="store_true", help="process here instead of enqueueing")
    sp.set_defaults(func=cmd_smtp)

    sp = sub.add_parser("hotfolder", help="watch folders; complete files are stored, then moved to done/ or failed/")
    sp.add_argument("folders", nargs="+")
    sp.add_argument("--channel", choices=channels, default="scan")
    sp.add_argument("--station", default="")
    sp.add_argument("--stable-ms", type=int, default=2000, help="a file unchanged this long is complete")
    sp.add_argument("--once", action="store_true", help="one scan, then exit")
    sp.add_argument("--inline", action="store_true", help="process here instead of enqueueing")
    sp.set_defaults(func=cmd_hotfolder)

    sp = sub.add_parser("quarantine", help="list, show or retry envelopes held in quarantine")
    sp.add_argument("action", choices=["list", "show", "retry"])
    sp.add_argument("envelope_id", nargs="?", default="")
    sp.add_argument("--limit", type=int, default=100)
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--enqueue", action="store_true", help="retry through the workers instead of here")
    sp.set_defaults(func=cmd_quarantine)

    sp = sub.add_parser("batch", help="status of an envelope: pages received, documents, their states")
    sp.add_argument("envelope_id")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_batch)
