"""``mailroom process`` on a folder of one-page scans, as a user types it, against the raw tesseract CLI.

    .venv/bin/python -m bench.process_cli [--files 24] [--seed 7] [--jobs N] [--rounds 2]
                                          [--engines tesserocr,tesseract]

Renders ``--files`` one-page 300-dpi scans (clean, noisy and skewed, languages in turn; bench.ocr's renderer),
then on the same files, taking turns for ``--rounds`` rounds so that other load on a shared machine weighs on
both alike:

* ``mailroom process --json FILE...`` in a fresh data directory, with its default ``--jobs`` (every core) or
  ``--jobs N``: the whole pipeline (store, read, classify, route, commit) as a user runs it, once per OCR
  engine in ``--engines`` (``tesserocr``: one persistent tesseract API per process; ``tesseract``: the CLI
  per page);
* the raw ``tesseract FILE stdout -l LANG`` with the correct single language, ``-P`` = the same number of
  processes at a time (``xargs -P``).

``ratio`` is the raw CLI's wall time over ``mailroom process``'s (≥ 0.85 is the target, ≥ 1.0 the goal); CER is
the mean strict character error rate of each against the rendered text. Prints, last, one line:
``bench process_cli: key=value ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.ocr import Sample, cer, render_samples, run_cli
from mailroom.process import default_jobs

SCAN_FORMS = ("clean", "noisy", "skew")


def scans(out: Path, files: int, seed: int) -> list[Sample]:
    """``files`` one-page scans of SCAN_FORMS (bench.ocr renders its eight forms round-robin; keep three)."""
    wanted: list[Sample] = []
    pages = files * 3
    while len(wanted) < files:
        wanted = [s for s in render_samples(out, pages, seed) if s.form in SCAN_FORMS][:files]
        pages *= 2
    return wanted


def run_mailroom(samples: list[Sample], jobs: int, engine: str, data: Path) -> tuple[float, dict[str, str]]:
    """Wall seconds of one ``mailroom process --json`` over the files, and the text read per file."""
    env = {**os.environ, "MAILROOM_DATA": str(data), "MAILROOM_OCR_ENGINE": engine}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mailroom.cli", "process", "--json", "--jobs", str(jobs),
                           *(str(s.path) for s in samples)], env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"mailroom process failed ({done.returncode}):\n{done.stderr[-3000:]}")
    texts = {}
    for line in done.stdout.splitlines():
        row = json.loads(line)
        texts[row["source"]] = row["text"]
    return wall, texts


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.process_cli")
    ap.add_argument("--files", type=int, default=24)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--jobs", type=int, default=0, help="processes for both (default: every core)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--engines", default="tesserocr,tesseract")
    args = ap.parse_args()
    jobs = args.jobs or default_jobs()
    engines = [e for e in args.engines.split(",") if e]
    with tempfile.TemporaryDirectory(prefix="bench-process-") as tmp:
        root = Path(tmp)
        samples = scans(root / "in", args.files, args.seed)
        walls: dict[str, float] = {e: 0.0 for e in [*engines, "cli"]}
        errors: dict[str, list[float]] = {e: [] for e in [*engines, "cli"]}
        for r in range(args.rounds):
            for engine in engines:
                wall, texts = run_mailroom(samples, jobs, engine, root / f"data-{engine}-{r}")
                walls[engine] += wall
                errors[engine] += [cer(texts.get(str(s.path), ""), s.truth)[0] for s in samples]
                print(f"round {r + 1}: mailroom process ({engine}, --jobs {jobs}): {wall:.1f} s", file=sys.stderr)
            cli_texts, wall, _, _ = run_cli(samples, jobs)
            walls["cli"] += wall
            errors["cli"] += [cer(cli_texts[str(s.path)], s.truth)[0] for s in samples]
            print(f"round {r + 1}: tesseract -P {jobs}: {wall:.1f} s", file=sys.stderr)
    load = os.getloadavg()[0]
    parts = [f"files={len(samples)}", f"jobs={jobs}", f"rounds={args.rounds}", f"cli_wall_s={walls['cli']:.1f}",
             f"cli_cer={sum(errors['cli']) / len(errors['cli']):.4f}"]
    for engine in engines:
        parts += [f"{engine}_wall_s={walls[engine]:.1f}", f"{engine}_ratio={walls['cli'] / walls[engine]:.3f}",
                  f"{engine}_cer={sum(errors[engine]) / len(errors[engine]):.4f}"]
    parts.append(f"loadavg={load:.1f}")
    print("bench process_cli: " + " ".join(parts))


if __name__ == "__main__":
    main()
