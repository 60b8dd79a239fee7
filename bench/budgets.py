"""Wall-clock budgets that used to be asserted inside unit tests (a 1–2 s bound there fails at random on a
loaded machine; here it is measured, repeated, and compared with its budget).

    .venv/bin/python -m bench.budgets [--repeat 5] [png pdf model redos]

- ``png``: a PNG whose header claims 100,000 × 100,000 pixels is refused (``TooLarge``) before decoding;
- ``pdf``: a PDF page drawing a 100,000 × 100,000 image is refused before rendering;
- ``model``: the shipped classification model loads (``classifiers.model.load_model``);
- ``redos``: ``(a+)+$`` against 200 kB of text in a routing rule is cut off at ``regex_timeout`` (0.2 s)
  and the rule skipped.

Each is run ``--repeat`` times; the median and the worst time are printed. The exit status is 1 when a
worst time exceeds its budget (png, pdf, model: 1 s; redos: 2 s). The last line is
``bench budgets: png_refusal_ms=... png_refusal_max_ms=... ... over_budget=0``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BUDGET_S = {"png": 1.0, "pdf": 1.0, "model": 1.0, "redos": 2.0}
KEYS = {"png": "png_refusal", "pdf": "pdf_image_refusal", "model": "model_load", "redos": "redos_route"}


class _NoOcr:
    name = "no-ocr"

    def read(self, image: object, languages: str, timeout: float) -> str:
        raise AssertionError("nothing here may be OCRed")


def _png() -> Callable[[], None]:
    from ground.errors import TooLarge
    from ground.settings import Settings
    from ocr import extract
    from tests.hostile.make_corpus import png_bomb

    data, settings = png_bomb(100_000, real=False), Settings(ocr_page_timeout=30)

    def run() -> None:
        try:
            extract(data, "image/png", settings=settings, engine=_NoOcr())
        except TooLarge:
            return
        raise AssertionError("the 100,000² PNG was not refused")

    return run


def _pdf() -> Callable[[], None]:
    from ground.errors import TooLarge
    from ground.settings import Settings
    from ocr import extract
    from tests.hostile.make_corpus import huge_mono_image_pdf

    data, settings = huge_mono_image_pdf(), Settings(ocr_page_timeout=30)

    def run() -> None:
        try:
            extract(data, "application/pdf", settings=settings, engine=_NoOcr())
        except TooLarge:
            return
        raise AssertionError("the page with a 100,000² image was not refused")

    return run


def _model() -> Callable[[], None]:
    import spacy  # noqa: F401 - importing spaCy is a one-off cost of the process, not of the model

    from classifiers.model import MODEL_DIR, load_model

    def run() -> None:
        load_model(MODEL_DIR)

    return run


def _redos() -> Callable[[], None]:
    from ground.records import Classification
    from queues.routing import load_rules, route

    folder = Path(tempfile.mkdtemp(prefix="bench-budgets-"))
    (folder / "routing.yaml").write_text(
        "default_queue: triage\ndefault_priority: 5\nlow_confidence_queue: triage\nconfidence_threshold: 0.5\n"
        "regex_timeout: 0.2\nqueues:\n  - {id: triage, name: Triage}\n  - {id: a, name: A}\n  - {id: b, name: B}\n"
        "rules:\n  - {name: redos, when: {text_matches: '(a+)+$'}, queue: a, priority: 10}\n"
        "  - {name: fallback, queue: b, priority: 1}\n", encoding="utf-8")
    rules = load_rules(folder / "routing.yaml")
    c = Classification(language="pl", category="complaint", confidence=0.9, entities={}, segment="individual")
    text = "a" * 200_000 + "!"

    def run() -> None:
        r = route(c, "scan", text, rules)
        assert r.rule == "fallback", r.rule

    return run


MAKERS: dict[str, Callable[[], Callable[[], None]]] = {"png": _png, "pdf": _pdf, "model": _model, "redos": _redos}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", nargs="*", help=f"any of {', '.join(MAKERS)} (default: all)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    unknown = set(args.which) - set(MAKERS)
    if unknown:
        parser.error(f"unknown budget {', '.join(sorted(unknown))}; choose from {', '.join(MAKERS)}")
    parts, over = [], 0
    for name in args.which or list(MAKERS):
        run = MAKERS[name]()
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
        median, worst = statistics.median(times), max(times)
        over += worst > BUDGET_S[name]
        print(f"{name}: median {1000 * median:.1f} ms, worst {1000 * worst:.1f} ms, budget {BUDGET_S[name]:g} s",
              file=sys.stderr)
        parts.append(f"{KEYS[name]}_ms={1000 * median:.1f} {KEYS[name]}_max_ms={1000 * worst:.1f}")
    print(f"bench budgets: repeat={args.repeat} {' '.join(parts)} over_budget={over}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
