"""``mailroom train``: a candidate category model from the corpus generator, our phrases and agents' corrections,
stored in the data store and evaluated beside the model in force (``pipeline.models``); ``mailroom model list``,
``promote`` and ``rollback`` put one in force. ``mailroom train --out DIR`` writes a model directory instead (how the
model shipped in the package is built). Audited (``model.*``, by ``cli:<OS user>``)."""

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
    if args.out is None:
        return _train_candidate(args)
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


def _train_candidate(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from mailroom.commands import cli_actor
    from pipeline import models
    from pipeline.context import get_context

    ctx = get_context()
    trained = models.train(ctx, cli_actor(), datetime.now(UTC), seed=args.seed, per_pair=args.per_pair,
                           epochs=args.epochs, calibration_per_pair=min(25, args.per_pair),
                           say=lambda m: print(m, file=sys.stderr))
    print(_("candidate %(version)s stored as model %(id)s; it is not in force until promoted "
            "(mailroom model promote %(id)s)") % {"version": trained.version, "id": trained.id})
    for name, figures in trained.evaluation["candidate"].items():
        active = trained.evaluation["active"][name]
        if figures.get("letters"):
            print(_("%(set)s: macro-F1 %(candidate).3f (in force: %(active).3f) on %(letters)d letters")
                  % {"set": name, "candidate": figures["macro_f1"], "active": active["macro_f1"],
                     "letters": figures["letters"]})
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from sqlalchemy import select

    from mailroom.commands import cli_actor
    from pipeline import models
    from pipeline.context import get_context
    from storage.db import session_scope
    from storage.models import ModelVersion

    ctx = get_context()
    with session_scope(ctx.db_url) as s:
        if args.action == "promote":
            row = models.promote(s, args.id, cli_actor(), datetime.now(UTC))
            print(_("model %(version)s is in force") % {"version": row.version})
        elif args.action == "rollback":
            row = models.rollback(s, cli_actor(), datetime.now(UTC))
            print(_("model %(version)s is in force again") % {"version": row.version})
        else:
            current = models.in_force(s)
            print(_("in force: %(version)s") % {"version": current.version if current else models.SHIPPED})
            for m in s.scalars(select(ModelVersion).order_by(ModelVersion.id.desc())):
                indep = m.evaluation.get("candidate", {}).get("independent", {})
                print(f"{m.id}\t{m.version}\t{m.trained_at:%Y-%m-%d %H:%M}\t{m.trained_by}\t"
                      f"{indep.get('macro_f1', '-')}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    tp = subparsers.add_parser("train", help="train a candidate category model (reproducible for a given seed)")
    tp.add_argument("--seed", type=int, default=1)
    tp.add_argument("--out", default=None,
                    help=f"write a model directory there instead (the package's is {MODEL_DIR}); by default the "
                         "model goes into the data store as a candidate")
    tp.add_argument("--per-pair", type=int, default=60, help="generated letters per language × category")
    tp.add_argument("--epochs", type=int, default=5)
    tp.add_argument("--split", default="all", choices=["all", "default"],
                    help="sentence pools to train on: all (shipped model) or default (leaves the held-out half unseen)")
    tp.add_argument("--no-corrections", action="store_true", help="ignore agents' corrections in the database")
    tp.set_defaults(func=cmd_train)
    mp = subparsers.add_parser("model", help="category models: list, promote one, roll back")
    mp.add_argument("action", choices=["list", "promote", "rollback"])
    mp.add_argument("id", type=int, nargs="?", default=0, help="promote: the model's id (0: the shipped one)")
    mp.set_defaults(func=cmd_models)
