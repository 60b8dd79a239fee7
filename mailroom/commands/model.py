"""``mailroom train``: rebuild the category model from the corpus generator, our phrases and agents' corrections.

Writing the model where the workers load it activates it; that is an audit event (``model.trained``, by
``cli:<OS user>``) in the database the model was trained against, when there is one."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from classifiers.model import MODEL_DIR
from ground.i18n import gettext as _


def _database_url() -> str | None:
    """The configured database, if there is one (training needs none)."""
    from ground.settings import get_settings
    from storage.db import migrate

    settings = get_settings()
    if settings.database_url or (settings.data / "mailroom.db").exists():
        migrate(settings.db_url)
        return settings.db_url
    return None


def cmd_train(args: argparse.Namespace) -> int:
    from classifiers.training import Example, build_model, corrections_from_db
    from storage.db import session_scope

    corrections: list[Example] = []
    db_url = _database_url()
    if not args.no_corrections and db_url is not None:
        with session_scope(db_url) as s:
            corrections = corrections_from_db(s)
    print(_("agents' corrections: %(count)d") % {"count": len(corrections)}, file=sys.stderr)
    model = build_model(seed=args.seed, split=args.split, per_pair=args.per_pair, epochs=args.epochs,
                        corrections=corrections, log=lambda m: print(m, file=sys.stderr))
    out = Path(args.out)
    # Write next to the target, then swap, so a running process never sees half a model.
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        staged = Path(tmp) / "model"
        model.to_disk(staged)
        if out.exists():
            shutil.rmtree(out)
        staged.rename(out)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    if db_url is not None:
        from mailroom.commands import cli_actor
        from storage.audit import record

        with session_scope(db_url) as s:
            record(s, cli_actor(), "model.trained", detail={
                "version": model.version, "out": str(out), "seed": args.seed, "split": args.split,
                "per_pair": args.per_pair, "epochs": args.epochs, "corrections": len(corrections), "bytes": size})
    print(_("wrote %(version)s to %(out)s (%(size)s MB): lexicon_weight=%(weight)s temperature=%(temperature)s")
          % {"version": model.version, "out": out, "size": f"{size / 1e6:.1f}", "weight": model.lexicon_weight,
             "temperature": model.temperature})
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    tp = subparsers.add_parser("train", help="rebuild the category model (reproducible for a given seed)")
    tp.add_argument("--seed", type=int, default=1)
    tp.add_argument("--out", default=str(MODEL_DIR), help="model directory (default: the one shipped in the package)")
    tp.add_argument("--per-pair", type=int, default=60, help="generated letters per language × category")
    tp.add_argument("--epochs", type=int, default=5)
    tp.add_argument("--split", default="all", choices=["all", "default"],
                    help="sentence pools to train on: all (shipped model) or default (leaves the held-out half unseen)")
    tp.add_argument("--no-corrections", action="store_true", help="ignore agents' corrections in the database")
    tp.set_defaults(func=cmd_train)
