"""The independent letters and their truth, and how extracted entities are scored against it.

Only for measuring (bench.classify, tests/test_evaluation_set.py): never for training or tuning.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent / "letters"
LANGUAGES: tuple[str, ...] = ("pl", "cs", "ru", "en")


@dataclass(frozen=True)
class Letter:
    stem: str  # "pl_001"
    language: str
    category: str
    operator: str
    text: str
    entities: dict[str, list[str]]
    lemmas: list[str] = field(default_factory=list)


def load_letters(root: Path = ROOT, languages: Sequence[str] = LANGUAGES) -> list[Letter]:
    """Every letter of the set, in a stable order (language, then file name)."""
    out = []
    for lang in languages:
        for txt in sorted((root / lang).glob(f"{lang}_*.txt")):
            truth = json.loads(txt.with_suffix(".json").read_text(encoding="utf-8"))
            out.append(Letter(stem=txt.stem, language=truth["language"], category=truth["category"],
                              operator=truth.get("operator", ""), text=txt.read_text(encoding="utf-8"),
                              entities={k: list(v) for k, v in truth["entities"].items()},
                              lemmas=list(truth.get("lemmas", []))))
    return out


@dataclass
class EntityScore:
    """Micro-averaged over every entity kind the truth names (found values of other kinds are not counted)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    per_kind: dict[str, list[int]] = field(default_factory=dict)  # kind → [tp, fp, fn]
    customer_found: int = 0
    customer_total: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def customer_recall(self) -> float:
        return self.customer_found / self.customer_total if self.customer_total else 1.0


def score_entities(pairs: Iterable[tuple[str, Mapping[str, Sequence[str]], Mapping[str, Sequence[str]]]],
                   kinds: Sequence[str]) -> EntityScore:
    """``pairs``: (name, found entities, true entities) per document; ``kinds``: the entity kinds scored."""
    score = EntityScore(per_kind={k: [0, 0, 0] for k in kinds})
    for name, got, want in pairs:
        for kind in kinds:
            g, w = set(got.get(kind, ())), set(want.get(kind, ()))
            counts = score.per_kind[kind]
            counts[0] += len(g & w)
            counts[1] += len(g - w)
            counts[2] += len(w - g)
            score.misses += [f"{name} {kind}: extra {v}" for v in sorted(g - w)]
            score.misses += [f"{name} {kind}: missed {v}" for v in sorted(w - g)]
            if kind == "customer_id":
                score.customer_found += len(g & w)
                score.customer_total += len(w)
    score.tp = sum(c[0] for c in score.per_kind.values())
    score.fp = sum(c[1] for c in score.per_kind.values())
    score.fn = sum(c[2] for c in score.per_kind.values())
    return score


def truth_kinds(letters: Iterable[Letter]) -> list[str]:
    """The entity kinds the truth of these letters names, in first-seen order."""
    return list(dict.fromkeys(k for letter in letters for k in letter.entities))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m evaluation.truth [--letters DIR]``: the entity extractor on the letters' plain texts (no OCR,
    no e-mail); ``--letters tuning/letters`` scores the tuning set instead."""
    import argparse

    from classifiers.entities import extract_entities
    from classifiers.language import detect_language

    ap = argparse.ArgumentParser(prog="python -m evaluation.truth", description=main.__doc__)
    ap.add_argument("--letters", type=Path, default=ROOT, help="the letters to score (default: evaluation/letters)")
    letters = load_letters(ap.parse_args(argv).letters)
    pairs = [(x.stem, extract_entities(x.text, detect_language(x.text)[0]), x.entities) for x in letters]
    score = score_entities(pairs, truth_kinds(letters))
    for kind, (tp, fp, fn) in score.per_kind.items():
        print(f"{kind:12} tp {tp:4d} fp {fp:3d} fn {fn:3d}")
    print(f"evaluation text: letters={len(letters)} entity_precision={score.precision:.3f} "
          f"entity_recall={score.recall:.3f} entity_f1={score.f1:.3f} customer_recall={score.customer_recall:.3f} "
          f"({score.customer_found}/{score.customer_total})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
