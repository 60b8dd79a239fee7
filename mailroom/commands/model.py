"""``mailroom train``: rebuild the category model from the corpus generator, our phrases and agents' corrections."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from classifiers.model import MODEL_DIR


def cmd_train(args: argparse.Namespace) -> int:
    from classifiers.training import Example, build_model, corrections_from_db

    corrections: list[Example] = []
    if not args.no_corrections:
        from ground.settings import get_settings
        from storage.db import migrate, session_scope

        settings = get_settings()
        if settings.database_url or (settings.data / "mailroom.db").exists():
            migrate(settings.db_url)
            with session_scope(settings.db_url) as s:
                corrections = corrections_from_db(s)
    print(f"agents' corrections: {len(corrections)}", file=sys.stderr)
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
    print(f"wrote {model.version} to {out} ({size / 1e6:.1f} MB): lexicon_weight={model.lexicon_weight} "
          f"temperature={model.temperature}")
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
