"""OCR accuracy and speed on rendered pages of every intake form, against the raw tesseract CLI.

    .venv/bin/python -m bench.ocr [--pages 48] [--seed 7] [--workers 2] [--rounds 3] [--ablate]

Renders ``--pages`` one-page files from the corpus generator's letters in eight forms (clean 300 dpi,
skewed ±5°, rotated 90° and 180°, noisy scan, fax 204×98 and 204×196, born-digital PDF), plus as many phone
photos as each of those forms gets (``photo``: the page on a table in perspective under uneven light, 12-MP
JPEG, see bench.photos; languages in turn), then on the same files:

* the full ``mailroom process`` path (pipeline.context + mailroom.process.process_path) in ``--workers``
  processes, warmed up first (a worker is long-lived), for CER per form, pages/minute and CPU s/page;
* the raw ``tesseract`` CLI with the correct single language, two at a time, on the raster files;
* the two take turns on ``--rounds`` slices of the files (every form in each), so that other work on a
  shared machine weighs on both alike; their walls and CPU seconds are summed over the slices;
* the same two compared on the upright forms only (clean, noisy, both faxes), where the CLI reads the page
  rather than garbage: ``upright_ratio`` (summed per-file wall, CLI / pipeline) and ``upright_cpu_ratio``;
* born-digital PDF pages through ``ocr.extract`` on one core (pages/s);
* ``ocr.searchable_pdf`` vs plain ``ocr.extract`` on a few raster pages (cost ratio);
* with ``--ablate``, ``ocr.extract`` per preparation variant on one core (CER and s/page per form).

CER is the Levenshtein distance over the truth's length after collapsing whitespace: ``strict`` compares
the texts as read, ``bag`` compares the sorted word bags (reading order ignored).
Prints, last, one line: ``bench ocr: key=value ...``.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import multiprocessing as mp
import os
import random
import resource
import subprocess
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image
from rapidfuzz.distance import Levenshtein

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

from bench.photos import phone_photo  # noqa: E402
from corpus import render  # noqa: E402
from corpus.letters import compose  # noqa: E402
from corpus.pools import LANGUAGES  # noqa: E402
from ground.records import CATEGORIES  # noqa: E402

# the eight forms rendered in turn (their files do not depend on the photos), then the photos
TURN_FORMS: tuple[str, ...] = ("clean", "skew", "rot90", "rot180", "noisy", "fax_std", "fax_fine", "text_pdf")
FORMS: tuple[str, ...] = (*TURN_FORMS, "photo")
RASTER_FORMS = tuple(f for f in FORMS if f != "text_pdf")
TESS_LANG = {"pl": "pol", "cs": "ces", "ru": "rus", "en": "eng"}


@dataclass
class Sample:
    path: Path
    form: str
    language: str
    truth: str


# ---------------------------------------------------------------- rendering


def _rotate(img: Image.Image, angle: float) -> Image.Image:
    arr = np.asarray(img)
    h, w = arr.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    out = cv2.warpAffine(arr, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)
    return Image.fromarray(out, "L")


def _fax(page: list[render.Placed], lay: render.Layout, rng: random.Random, ydpi: int) -> bytes:
    """A 1-bit CCITT G4 fax page at 204×``ydpi`` dpi (as corpus.render.fax_pages, any row resolution)."""
    clean = render.rasterize(page, lay, 204)
    paper = Image.new("L", (1728, clean.height), 255)
    paper.paste(clean, ((1728 - clean.width) // 2, 0))
    img = paper.rotate(rng.uniform(-0.8, 0.8), resample=Image.Resampling.BILINEAR, fillcolor=255)
    img = img.resize((1728, round(render.PAGE_H / 72 * ydpi)), Image.Resampling.LANCZOS)
    arr = np.asarray(img) < rng.uniform(150, 185)
    nrng = np.random.default_rng(rng.getrandbits(32))
    arr |= nrng.random(arr.shape) < 0.0004
    if rng.random() < 0.5:
        arr[:, int(nrng.integers(100, 1600))] |= nrng.random(arr.shape[0]) < 0.6
    bw = Image.fromarray(np.where(arr, 0, 255).astype(np.uint8), "L").convert("1", dither=None)
    buf = io.BytesIO()
    bw.save(buf, format="TIFF", compression="group4", dpi=(204, ydpi))
    return buf.getvalue()


def render_samples(out: Path, pages: int, seed: int) -> list[Sample]:
    """``pages`` one-page files, TURN_FORMS round-robin, languages rotating within each form; then
    ``pages`` / len(TURN_FORMS) (rounded up) phone photos, languages in turn."""
    out.mkdir(parents=True, exist_ok=True)
    samples = []
    for i in range(pages):
        form = TURN_FORMS[i % len(TURN_FORMS)]
        lang = LANGUAGES[(i // len(TURN_FORMS) + i) % len(LANGUAGES)]
        rng = random.Random(f"bench-ocr:{seed}:{i}")
        letter = compose(rng, lang, CATEGORIES[i % len(CATEGORIES)])
        lay = render.layout(letter.blocks, rng.choice(["sans", "serif"]), rng.choice([11.0, 11.5, 12.0]))
        page = lay.pages[0]
        truth = "\n".join(p.text for p in page)
        stem = out / f"p{i:03d}_{form}_{lang}"
        if form == "text_pdf":
            path = stem.with_suffix(".pdf")
            path.write_bytes(render.text_pdf(render.Layout([page], lay.family, lay.size), "bench", "bench"))
        elif form.startswith("fax"):
            path = stem.with_suffix(".tif")
            path.write_bytes(_fax(page, lay, rng, 98 if form == "fax_std" else 196))
        else:
            img = render.rasterize(page, lay, 300)
            if form == "skew":
                img = _rotate(img, rng.choice([-1, 1]) * rng.uniform(3.5, 5.0))
            elif form == "rot90":
                img = img.transpose(Image.Transpose.ROTATE_90)
            elif form == "rot180":
                img = img.transpose(Image.Transpose.ROTATE_180)
            elif form == "noisy":
                img = render.scan_effects(img, rng, strength=1.3)
            path = stem.with_suffix(".png")
            path.write_bytes(render.encode_png(img))
        samples.append(Sample(path, form, lang, truth))
    for k in range(-(-pages // len(TURN_FORMS))):
        lang = LANGUAGES[k % len(LANGUAGES)]
        rng = random.Random(f"bench-ocr:{seed}:photo:{k}")
        letter = compose(rng, lang, CATEGORIES[k % len(CATEGORIES)])
        lay = render.layout(letter.blocks, rng.choice(["sans", "serif"]), rng.choice([11.0, 11.5, 12.0]))
        page = lay.pages[0]
        path = out / f"p{pages + k:03d}_photo_{lang}.jpg"
        path.write_bytes(phone_photo(render.rasterize(page, lay, 300), rng).jpeg())
        samples.append(Sample(path, "photo", lang, "\n".join(p.text for p in page)))
    return samples


# ---------------------------------------------------------------- scoring


def _norm(text: str) -> str:
    return " ".join(text.split())


def cer(text: str, truth: str) -> tuple[float, float]:
    """(strict, bag): edit distance per truth character, as read and on sorted word bags."""
    t, r = _norm(truth), _norm(text)
    strict = Levenshtein.distance(r, t) / max(len(t), 1)
    bag = Levenshtein.distance(" ".join(sorted(r.split())), " ".join(sorted(t.split()))) / max(len(t), 1)
    return strict, bag


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------- the mailroom process path

_worker: dict[str, Any] = {}


def _pipeline_init(data_root: str, barrier: Any) -> None:
    from ground.settings import Settings
    from pipeline.context import get_context

    settings = Settings(data=Path(data_root) / f"w{os.getpid()}")
    ctx = get_context(settings)
    _ = ctx.rules, ctx.policies, ctx.blobs
    import classifiers

    classifiers.classify("Dzień dobry, proszę o korektę faktury. Z poważaniem")  # loads the models
    _worker["ctx"] = ctx
    barrier.wait()


def _pipeline_one(path: str) -> tuple[str, str, float, float]:
    from datetime import UTC, datetime

    from mailroom.process import process_path

    before = _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    lines = list(process_path(_worker["ctx"], path, now=datetime(2026, 10, 12, 9, 0, tzinfo=UTC)))
    wall = time.perf_counter() - started
    spent = _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN) - before
    text = "\n".join(line.get("text", "") for line in lines)
    error = "; ".join(line["error"] for line in lines if "error" in line)
    return text, error, spent, wall


Costs = dict[str, tuple[float, float]]  # path → (CPU s, wall s) of that one file
PipelineRun = tuple[dict[str, str], list[str], float, float, Costs]  # texts, errors, wall s, CPU s, per file
CliRun = tuple[dict[str, str], float, float, Costs]  # texts, wall s, CPU s, per file


def _pipeline_slice(pool: Any, paths: list[Path]) -> PipelineRun:
    """Texts by path, errors, wall seconds and CPU seconds of the whole process path, costs per file."""
    started = time.perf_counter()
    results = list(pool.map(_pipeline_one, [str(p) for p in paths]))
    wall = time.perf_counter() - started
    texts = {str(p): r[0] for p, r in zip(paths, results, strict=True)}
    errors = [f"{p.name}: {r[1]}" for p, r in zip(paths, results, strict=True) if r[1]]
    costs = {str(p): (r[2], r[3]) for p, r in zip(paths, results, strict=True)}
    return texts, errors, wall, sum(r[2] for r in results), costs


def run_both(raster: list[Sample], workers: int, data_root: Path, rounds: int) -> tuple[PipelineRun, CliRun]:
    """The pipeline (warm worker processes) and the raw CLI on the same files, taking turns on ``rounds``
    slices of them (each slice has every form), so that both meet the same background load on a shared
    machine; walls and CPU seconds are summed over the slices."""
    spawn = mp.get_context("spawn")
    barrier = spawn.Barrier(workers + 1)
    p_texts: dict[str, str] = {}
    c_texts: dict[str, str] = {}
    errors: list[str] = []
    p_costs: Costs = {}
    c_costs: Costs = {}
    p_wall = p_cpu = c_wall = c_cpu = 0.0
    # not multiprocessing.Pool: its daemonic workers may not start the bounded parser's child (intake.bounded)
    with ProcessPoolExecutor(workers, mp_context=spawn, initializer=_pipeline_init,
                             initargs=(str(data_root), barrier)) as pool:
        warm = [pool.submit(os.getpid) for _ in range(workers)]  # a worker is started for each (on demand)
        barrier.wait()  # every worker warm: context, migrations, classifier models
        for f in warm:
            f.result()
        for k in range(rounds):
            part = raster[k::rounds]
            texts, errs, wall, cpu, costs = _pipeline_slice(pool, [s.path for s in part])
            p_texts.update(texts)
            errors += errs
            p_costs.update(costs)
            p_wall, p_cpu = p_wall + wall, p_cpu + cpu
            texts, wall, cpu, costs = run_cli(part, workers)
            c_texts.update(texts)
            c_costs.update(costs)
            c_wall, c_cpu = c_wall + wall, c_cpu + cpu
    return (p_texts, errors, p_wall, p_cpu, p_costs), (c_texts, c_wall, c_cpu, c_costs)


# ---------------------------------------------------------------- raw tesseract


def run_cli(samples: list[Sample], parallel: int) -> tuple[dict[str, str], float, float, Costs]:
    """Texts by path, wall and CPU seconds of the raw CLI, and (CPU s, wall s) per file (from wait4)."""
    def one(s: Sample) -> tuple[str, float, float]:
        started = time.perf_counter()
        proc = subprocess.Popen(["tesseract", str(s.path), "stdout", "-l", TESS_LANG[s.language], "--psm", "3"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env={**os.environ, "OMP_THREAD_LIMIT": "1"})
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise subprocess.CalledProcessError(proc.returncode, proc.args)
        return out.decode("utf-8", errors="replace"), usage.ru_utime + usage.ru_stime, time.perf_counter() - started

    cpu0 = _cpu(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        results = list(pool.map(one, samples))
    wall = time.perf_counter() - started
    texts = {str(s.path): r[0] for s, r in zip(samples, results, strict=True)}
    costs = {str(s.path): (r[1], r[2]) for s, r in zip(samples, results, strict=True)}
    return texts, wall, _cpu(resource.RUSAGE_CHILDREN) - cpu0, costs


# ---------------------------------------------------------------- in-process measurements


def _extract_text(path: Path, **kwargs: Any) -> str:
    import ocr

    data = path.read_bytes()
    docs = ocr.split_documents(ocr.extract(data, ocr.sniff_type(data, path.name), **kwargs))
    return "\n".join(d.text for d in docs)


def time_text_pdf(samples: list[Sample], rounds: int = 3) -> float:
    """Born-digital PDF pages per second through ocr.extract on one core."""
    pdfs = [s for s in samples if s.form == "text_pdf"]
    if not pdfs:
        return 0.0
    _extract_text(pdfs[0].path)
    started = time.perf_counter()
    for _ in range(rounds):
        for s in pdfs:
            _extract_text(s.path)
    return rounds * len(pdfs) / (time.perf_counter() - started)


def time_searchable(samples: list[Sample], count: int) -> tuple[float, float]:
    """Seconds for plain extract and for searchable_pdf over the same raster pages (one core)."""
    import ocr

    chosen = [s for s in samples if s.form in ("clean", "noisy", "fax_std")][:count]
    if not chosen or not hasattr(ocr, "searchable_pdf"):
        return 0.0, 0.0
    _extract_text(chosen[0].path)  # load the engine's models first: a worker is long-lived
    t0 = time.perf_counter()
    for s in chosen:
        _extract_text(s.path)
    plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    for s in chosen:
        data = s.path.read_bytes()
        ocr.searchable_pdf(data, ocr.sniff_type(data, s.path.name))
    return plain, time.perf_counter() - t0


def ablate(samples: list[Sample], variants: dict[str, dict[str, Any]]) -> None:
    """ocr.extract per preparation variant on one core: CER and seconds per page for each form."""
    raster = [s for s in samples if s.form in RASTER_FORMS]
    for name, kwargs in variants.items():
        per: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        for s in raster:
            t0 = time.perf_counter()
            text = _extract_text(s.path, **kwargs)
            per[s.form].append((*cer(text, s.truth), time.perf_counter() - t0))
        cells = " ".join(f"{f}={_mean(v, 0):.3f}/{_mean(v, 2):.2f}s" for f, v in per.items())
        every = [x for v in per.values() for x in v]
        print(f"ablate {name:14s} cer={_mean(every, 0):.4f} bag={_mean(every, 1):.4f} "
              f"s/page={_mean(every, 2):.2f} | {cells}", flush=True)


UPRIGHT_FORMS = ("clean", "noisy", "fax_std", "fax_fine")


def _upright(raster: list[Sample], p_costs: Costs, c_costs: Costs) -> dict[str, float]:
    paths = [str(s.path) for s in raster if s.form in UPRIGHT_FORMS]
    if not paths:
        return {}
    p_cpu, p_wall = (sum(p_costs[p][i] for p in paths) for i in (0, 1))
    c_cpu, c_wall = (sum(c_costs[p][i] for p in paths) for i in (0, 1))
    return {"upright_ratio": round(c_wall / max(p_wall, 1e-9), 3),
            "upright_cpu_ratio": round(p_cpu / max(c_cpu, 1e-9), 3)}


def _mean(rows: list[tuple[float, ...]], i: int) -> float:
    return sum(r[i] for r in rows) / max(len(rows), 1)


# ---------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.ocr")
    ap.add_argument("--pages", type=int, default=48)  # 6 per form: 24 left ±2 % run-to-run noise in the ratios
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workers", type=int, default=2, help="pipeline processes and concurrent tesseract CLIs")
    ap.add_argument("--rounds", type=int, default=3,
                    help="pipeline and CLI take turns on this many slices of the files (same background load)")
    ap.add_argument("--ablate", action="store_true", help="also time preparation variants of ocr.extract")
    ap.add_argument("--keep", type=Path, default=None, help="render into this directory and keep it")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        samples = render_samples(root / "pages", args.pages, args.seed)
        raster = [s for s in samples if s.form in RASTER_FORMS]
        if args.ablate:
            from ocr.prepare import ABLATIONS

            ablate(samples, ABLATIONS)
        (texts, errors, p_wall, p_cpu, p_costs), (cli_texts, c_wall, c_cpu, c_costs) = run_both(
            raster, args.workers, root / "data", max(1, args.rounds))
        pdf_rate = time_text_pdf(samples)
        pdf_texts = {str(s.path): _extract_text(s.path) for s in samples if s.form == "text_pdf"}
        plain_s, searchable_s = time_searchable(samples, 3)
    rows: dict[str, list[tuple[float, float, float, float, float]]] = defaultdict(list)
    for s in samples:
        got = texts.get(str(s.path), pdf_texts.get(str(s.path), ""))
        raw = cli_texts.get(str(s.path))
        rows[s.form].append((*cer(got, s.truth), *(cer(raw, s.truth) if raw is not None else (math.nan, math.nan)),
                             p_costs.get(str(s.path), (math.nan, math.nan))[0]))
    print(f"{'form':9s} pages  cer_strict  cer_bag  cli_strict  cli_bag  cpu_s")  # cpu_s: pipeline CPU s per page
    for form in FORMS:
        if rows[form]:
            r = rows[form]
            cells = "  ".join(f"{_mean(r, i):.4f}".rjust(w) for i, w in enumerate((10, 7, 10, 7)))
            print(f"{form:9s} {len(r):5d}  {cells}  {_mean(r, 4):5.2f}")
    for e in errors:
        print("error:", e)
    n = len(raster)
    p_ppm, c_ppm = 60 * n / p_wall, 60 * n / c_wall
    summary = {
        "pages": len(samples), "raster_pages": n, "pipeline_ppm": round(p_ppm, 1), "cli_ppm": round(c_ppm, 1),
        "ratio": round(p_ppm / c_ppm, 3), "pipeline_cpu_s_per_page": round(p_cpu / n, 3),
        "cli_cpu_s_per_page": round(c_cpu / n, 3), "cpu_ratio": round(p_cpu / max(c_cpu, 1e-9), 3),
        # upright forms only (the CLI reads turned pages as garbage, which is quick): ratios of the summed
        # per-file wall (≈ throughput, both sides run the same number of files at a time) and CPU seconds
        **_upright(raster, p_costs, c_costs),
        "text_pdf_pages_per_s": round(pdf_rate, 1),
        "searchable_cost": round(searchable_s / plain_s, 2) if plain_s else None,
        "errors": len(errors),
    }
    for form in FORMS:
        if rows[form]:
            summary[f"cer_{form}"] = round(_mean(rows[form], 0), 4)
    if rows["photo"] and rows["clean"]:  # a 12-MP phone photo against a clean 300-dpi scan, pipeline CPU s
        summary["photo_cpu_ratio"] = round(_mean(rows["photo"], 4) / max(_mean(rows["clean"], 4), 1e-9), 3)
    print(json.dumps(summary))
    print("bench ocr: " + " ".join(f"{k}={v}" for k, v in summary.items()))


if __name__ == "__main__":
    main()
