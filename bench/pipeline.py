"""Whole pipeline inline over a generated corpus: speed and end-to-end accuracy.

    .venv/bin/python -m bench.pipeline [--count 44] [--seed 101]

Prints, last, one line: ``bench pipeline: key=value ...``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from corpus.generate import generate
from ground.settings import Settings
from mailroom.process import process_path
from pipeline.context import get_context


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=44)
    ap.add_argument("--seed", type=int, default=101)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        truth = generate(corpus, seed=args.seed, count=args.count)
        ctx = get_context(Settings(data=Path(tmp) / "data"))
        started = time.perf_counter()
        per_form: Counter[str] = Counter()
        secs_form: Counter[str] = Counter()
        docs = pages = lang_ok = cat_ok = errors = 0
        for rec in truth:
            t0 = time.perf_counter()
            lines = list(process_path(ctx, str(corpus / rec["file"])))
            secs_form[rec["form"]] += time.perf_counter() - t0
            per_form[rec["form"]] += 1
            for line, want in zip(lines, rec["documents"], strict=False):
                if "error" in line:
                    errors += 1
                    continue
                docs += 1
                pages += line["pages"]
                lang_ok += line["language"] == want["language"]
                cat_ok += line["category"] == want["category"]
        elapsed = time.perf_counter() - started
    for form in sorted(per_form):
        print(f"{form:10s} files={per_form[form]:3d} seconds_per_file={secs_form[form] / per_form[form]:.2f}")
    print(json.dumps({"files": len(truth), "documents": docs, "pages": pages, "seconds": round(elapsed, 1)}))
    print(f"bench pipeline: files={len(truth)} documents={docs} pages={pages} errors={errors} "
          f"seconds={elapsed:.1f} seconds_per_page={elapsed / max(pages, 1):.2f} "
          f"language_accuracy={lang_ok / max(docs, 1):.3f} category_accuracy={cat_ok / max(docs, 1):.3f}")


if __name__ == "__main__":
    main()
