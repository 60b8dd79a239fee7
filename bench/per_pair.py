"""How many generated letters per language × category the category model should learn, chosen without the
independent evaluation set: train on the generator's letters, the phrases and the even half of the training
supplement (classifiers/supplement), score category macro-F1 on its odd half (written apart, never trained on).

    .venv/bin/python -m bench.per_pair [--per-pair 60,20,10,5]

Last line: ``bench per_pair: per_pair_60=... per_pair_20=... held_out=N``.
"""

from __future__ import annotations

import argparse
from collections import Counter

import classifiers.training as training
from classifiers import classify_with
from classifiers.supplement import SUPPLEMENT
from ground.records import CATEGORIES


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    tp, fp, fn = Counter[str](), Counter[str](), Counter[str]()
    for truth, predicted in pairs:
        if truth == predicted:
            tp[truth] += 1
        else:
            fp[predicted] += 1
            fn[truth] += 1
    scores = []
    for c in CATEGORIES:
        p = tp[c] / (tp[c] + fp[c]) if tp[c] + fp[c] else 0.0
        r = tp[c] / (tp[c] + fn[c]) if tp[c] + fn[c] else 0.0
        scores.append(2 * p * r / (p + r) if p + r else 0.0)
    return sum(scores) / len(scores)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-pair", default="60,20,10,5")
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()
    held = [(text, c) for table in SUPPLEMENT.values() for c, items in table.items() for text in items[1::2]]
    training.SUPPLEMENT = {lang: {c: items[0::2] for c, items in table.items()}  # the odd half is held out
                           for lang, table in SUPPLEMENT.items()}
    results = {}
    for per_pair in (int(x) for x in args.per_pair.split(",")):
        model = training.build_model(seed=1, split="all", per_pair=per_pair, epochs=args.epochs,
                                     calibration_per_pair=25)
        pairs = [(c, classify_with(text, model).category) for text, c in held]
        results[per_pair] = macro_f1(pairs)
        print(f"per_pair={per_pair}: macro-F1 {results[per_pair]:.3f} on {len(held)} held-out supplement texts",
              flush=True)
    print("bench per_pair: " + " ".join(f"per_pair_{k}={v:.3f}" for k, v in results.items()) + f" held_out={len(held)}")


if __name__ == "__main__":
    main()
