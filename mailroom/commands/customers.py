"""``mailroom customers import FILE.csv``: add or update customers from a CSV file (columns as in
``storage.customers.IMPORT_COLUMNS``; the address lines separated by ``|``). Every row is checked first: one
bad row and nothing is written, every problem is listed with its row."""

from __future__ import annotations

import argparse
import csv
import sys
from typing import Any

from ground.errors import InvalidRequest
from ground.i18n import gettext as _
from ground.i18n import ngettext
from mailroom.commands import cli_actor


def cmd_import(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from pipeline.context import get_context
    from storage.audit import record
    from storage.customers import import_customers
    from storage.db import session_scope

    ctx = get_context()
    try:
        with open(args.file, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f, delimiter=args.delimiter))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidRequest(f"{args.file}: cannot be read as a UTF-8 CSV file ({exc})") from None
    with tqdm(total=len(rows), unit="row", file=sys.stderr, disable=not sys.stderr.isatty(), leave=False) as bar, \
            session_scope(ctx.db_url) as s:
        result = import_customers(s, rows, progress=lambda n: bar.update(1))
        if result.errors:
            s.rollback()
        else:
            record(s, args.actor, "customers.imported", detail={"file": str(args.file)[-200:],
                                                               "added": result.added, "updated": result.updated})
    if result.errors:
        for row, problem in result.errors[:100]:
            print(_("row %(row)d: %(problem)s") % {"row": row, "problem": problem}, file=sys.stderr)
        print(ngettext("nothing was imported: %(count)d row has problems",
                       "nothing was imported: %(count)d rows have problems", len(result.errors))
              % {"count": len(result.errors)}, file=sys.stderr)
        return 1
    print(_("customers added: %(added)d, updated: %(updated)d") % {"added": result.added, "updated": result.updated})
    return 0


def register(sub: Any) -> None:
    cp = sub.add_parser("customers", help="the customer records letters are linked to")
    csub = cp.add_subparsers(dest="customers_command", required=True)
    ip = csub.add_parser("import", help="add or update customers from a CSV file (all rows or none)")
    ip.add_argument("file")
    ip.add_argument("--delimiter", default=",", help="the CSV delimiter (default ,; ; for spreadsheets in pl/cs/ru)")
    ip.add_argument("--as", dest="actor", default=cli_actor(), help="who acts, for the audit trail")
    ip.set_defaults(func=cmd_import)
