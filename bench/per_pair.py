"""How many generated letters per language × category the category model should learn, chosen without the
independent evaluation set: train on the generator's letters, the phrases and the even half of the training
supplement (classifiers/supplement), score category macro-F1 on its odd half (written apart, never trained on).

    .venv/bin/python -m bench.per_pair [--per-pair 60,20,10,5]

Last line: ``bench per_pair: per_pair_60=... per_pair_20=... held_out=N``.
"""

from __future__ import annotations

import argparse

import classifiers.training as training
from classifiers.supplement import SUPPLEMENT
from ground.settings import CONFIG_DIR
from pipeline.models import evaluate
from queues.routing import load_rules


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-pair", default="60,20,10,5")
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()
    held = [(text, c) for table in SUPPLEMENT.values() for c, items in table.items() for text in items[1::2]]
    threshold = load_rules(CONFIG_DIR / "routing.yaml").confidence_threshold
    training.SUPPLEMENT = {lang: {c: items[0::2] for c, items in table.items()}  # the odd half is held out
                           for lang, table in SUPPLEMENT.items()}
    results = {}
    for per_pair in (int(x) for x in args.per_pair.split(",")):
        model = training.build_model(seed=1, split="all", per_pair=per_pair, epochs=args.epochs,
                                     calibration_per_pair=25)
        results[per_pair] = float(evaluate(model, held, threshold)["macro_f1"])  # what /admin/models shows
        print(f"per_pair={per_pair}: macro-F1 {results[per_pair]:.3f} on {len(held)} held-out supplement texts",
              flush=True)
    print("bench per_pair: " + " ".join(f"per_pair_{k}={v:.3f}" for k, v in results.items()) + f" held_out={len(held)}")


if __name__ == "__main__":
    main()
