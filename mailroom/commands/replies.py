"""``mailroom replies …`` and ``mailroom post …``: outbound letters for scripts, the same as the API
(web/api_replies.py): draft a letter for a work item, list an item's letters, send, approve, deliver the
e-mails still queued; build the day's post batch and mark it handed over."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ground.errors import InvalidRequest
from ground.i18n import gettext as _
from ground.i18n import ngettext
from mailroom.commands import cli_actor

FIELDS = ("id", "work_item_id", "case_id", "kind", "channel", "state", "language", "subject", "to_email", "address",
          "needs_approval", "approved_by", "message_id", "registered", "registered_number", "batch_id",
          "dispatched_at", "delivered_at", "send_attempts", "error")


def _view(letter: Any) -> dict[str, Any]:
    out = {f: getattr(letter, f) for f in FIELDS}
    for key in ("dispatched_at", "delivered_at"):
        out[key] = out[key].isoformat() if out[key] else None
    return out


def _show(letter: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_view(letter), ensure_ascii=False))
    else:
        print(_("letter %(id)s: %(kind)s by %(channel)s, %(state)s — %(subject)s")
              % {"id": letter.id, "kind": letter.kind, "channel": letter.channel, "state": letter.state,
                 "subject": letter.subject})


def _fields(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidRequest(f"--field {pair!r}: write it as NAME=VALUE, e.g. decision=accepted")
        out[key.strip()] = value
    return out


def _at(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"{text!r} is not an ISO date and time, e.g. 2026-12-07T15:30+01:00") from None
    if at.tzinfo is None:
        raise InvalidRequest(f"{text!r} has no UTC offset; add one, e.g. 2026-12-07T15:30+01:00")
    return at


def cmd_draft(args: argparse.Namespace) -> int:
    from pipeline.context import get_context
    from replies import service
    from storage.db import session_scope

    ctx = get_context()
    body = None
    if args.body_file:
        body = sys.stdin.read() if args.body_file == "-" else Path(args.body_file).read_text(encoding="utf-8")
    with session_scope(ctx.db_url) as s:
        letter = service.create_draft(s, args.item_id, args.actor, datetime.now(UTC), ctx.outbound,
                                      kind=args.kind, channel=args.channel, subject=args.subject, body=body,
                                      fields=_fields(args.field), to_email=args.to, address=args.address or None,
                                      language=args.language)
        _show(letter, args.json)
        missing = service.missing_elements(s, letter, ctx.outbound)
    if missing and not args.json:
        print(_("still missing before it can be sent: %(missing)s") % {"missing": "; ".join(missing)},
              file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from pipeline.context import get_context
    from replies import service
    from storage.db import session_scope

    ctx = get_context()
    with session_scope(ctx.db_url) as s:
        for letter in service.letters_of_item(s, args.item_id):
            _show(letter, args.json)
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    from pipeline.context import get_context
    from replies import service
    from storage.db import session_scope

    ctx = get_context()
    with session_scope(ctx.db_url) as s:
        letter = service.submit(s, args.letter_id, args.actor, datetime.now(UTC), ctx.outbound,
                                registered=args.registered)
        channel = letter.channel
    if channel == "email" and ctx.settings.smtp_url:
        service.deliver_email(ctx.db_url, args.letter_id, ctx.outbound)
    with session_scope(ctx.db_url) as s:
        _show(service.get_letter(s, args.letter_id), args.json)
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    from pipeline.context import get_context
    from replies import service
    from storage.db import session_scope

    ctx = get_context()
    with session_scope(ctx.db_url) as s:
        _show(service.approve(s, args.letter_id, args.actor, datetime.now(UTC)), args.json)
    return 0


def cmd_deliver(args: argparse.Namespace) -> int:
    from pipeline.context import get_context
    from replies import service

    ctx = get_context()
    if not ctx.settings.smtp_url:
        raise InvalidRequest("MAILROOM_SMTP_URL is not set: there is no relay to send the queued e-mails through")
    sent = service.deliver_pending(ctx.db_url, ctx.outbound, datetime.now(UTC))
    print(ngettext("%(count)d e-mail sent", "%(count)d e-mails sent", sent) % {"count": sent})
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from pipeline.context import get_context
    from replies import service
    from storage.db import session_scope

    ctx = get_context()
    with session_scope(ctx.db_url) as s:
        batch = service.create_batch(s, args.actor, datetime.now(UTC), ctx.outbound, args.language)
        if batch is None:
            print(_("no letter waits for the post"))
            return 0
        batch_id, letters = batch.id, batch.letters
        print_pdf, listing = ctx.blobs.get(batch.print_sha256 or ""), ctx.blobs.get(batch.list_sha256 or "")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"batch-{batch_id}-print.pdf").write_bytes(print_pdf)
    (out / f"batch-{batch_id}-posting-list.pdf").write_bytes(listing)
    print(_("batch %(id)d, letters in it: %(count)d; to print: %(file)s")
          % {"id": batch_id, "count": letters, "file": out / f"batch-{batch_id}-print.pdf"})
    return 0


def cmd_hand_over(args: argparse.Namespace) -> int:
    from pipeline.context import get_context
    from replies import service
    from storage.db import session_scope

    ctx = get_context()
    now = datetime.now(UTC)
    numbers = dict(pair.split("=", 1) for pair in args.number if "=" in pair)
    with session_scope(ctx.db_url) as s:
        batch = service.hand_over(s, args.batch_id, args.actor, _at(args.at) or now, now, ctx.outbound, numbers)
        print(_("batch %(id)d handed over at %(at)s") % {"id": batch.id, "at": batch.handed_over_at.isoformat()})
    return 0


def register(sub: Any) -> None:
    rp = sub.add_parser("replies", help="letters to customers: draft, list, send, approve, deliver")
    rsub = rp.add_subparsers(dest="replies_command", required=True)
    d = rsub.add_parser("draft", help="a draft letter for a work item (from its template unless text is given)")
    d.add_argument("item_id", type=int)
    d.add_argument("--kind", choices=["reply", "acknowledgement", "request_to_complete", "extension"],
                   default="reply")
    d.add_argument("--channel", choices=["email", "post"])
    d.add_argument("--subject")
    d.add_argument("--body-file", help="the text of the letter (- for standard input)")
    d.add_argument("--field", action="append", default=[], metavar="NAME=VALUE",
                   help="decision=accepted|partly_accepted|rejected, reasons=…, employee_position=…")
    d.add_argument("--to", help="the customer's e-mail address")
    d.add_argument("--address", action="append", metavar="LINE", help="a postal address line (repeat)")
    d.add_argument("--language", choices=["pl", "cs", "ru", "en"])
    ls = rsub.add_parser("list", help="a work item's letters")
    ls.add_argument("item_id", type=int)
    sd = rsub.add_parser("send", help="send a letter (e-mail now; post with the next batch)")
    sd.add_argument("letter_id")
    sd.add_argument("--registered", action="store_true", default=None, help="post: registered mail")
    ap = rsub.add_parser("approve", help="four eyes: approve another person's draft")
    ap.add_argument("letter_id")
    dl = rsub.add_parser("deliver", help="send the e-mails still queued (the scheduler does this every round)")
    for p, func in ((d, cmd_draft), (ls, cmd_list), (sd, cmd_send), (ap, cmd_approve), (dl, cmd_deliver)):
        p.add_argument("--as", dest="actor", default=cli_actor(), help="who acts, for the audit trail")
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=func)
    pp = sub.add_parser("post", help="the daily post batch")
    psub = pp.add_subparsers(dest="post_command", required=True)
    b = psub.add_parser("batch", help="gather the letters waiting for the post; write the PDFs to print")
    b.add_argument("--out", default=".", help="where the print PDF and the posting list are written")
    b.add_argument("--language", choices=["pl", "cs", "ru", "en"], default="pl", help="of the posting list")
    b.set_defaults(func=cmd_batch)
    h = psub.add_parser("hand-over", help="the batch was handed to the post: every letter's dispatch time")
    h.add_argument("batch_id", type=int)
    h.add_argument("--at", help="when (ISO with UTC offset; default now)")
    h.add_argument("--number", action="append", default=[], metavar="LETTER_ID=NUMBER",
                   help="a registered letter's number (repeat)")
    h.set_defaults(func=cmd_hand_over)
    for p in (b, h):
        p.add_argument("--as", dest="actor", default=cli_actor(), help="who acts, for the audit trail")
