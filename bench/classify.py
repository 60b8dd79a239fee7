"""Category, language and entity benchmark on held-out wording read through OCR.

    .venv/bin/python -m bench.classify [--per-pair 40] [--seed 202] [--count 88] [--refresh] [--shipped]
                                       [--indep-forms eml,pdf] [--no-supplement] [--jobs N]
                                       [--letters tuning/letters]

Trains a model on seed ``--train-seed`` letters of the *default* sentence pools (plus
classifiers/phrases.py and the training supplement classifiers/supplement, unless ``--no-supplement``), then
evaluates it, the lexicon alone and the textcat alone on a corpus of
another seed generated with ``holdout=True``.

Evaluation documents: a generated held-out corpus read the way the pipeline reads it.

Every file goes through ``pipeline.stages.read`` (``intake.parts.explode`` for e-mails, ``ocr.extract`` and
``ocr.split_documents`` for the rest), so scans and faxes carry real tesseract noise. OCR is slow, so the
recognised text is cached in ``bench/out/classify-eval-<seed>-<count>-<holdout>.json``.

Next to it, the same model is measured on the independent set (``evaluation/letters``: letters the generator
did not write, other operators' identifier formats), built by ``evaluation.build`` into e-mails (UTF-8, quoted-
printable, legacy 8-bit charsets), text PDFs and 300 dpi scans and read the same way; cached in
``bench/out/classify-indep-<digest>.json`` (the digest covers the letters and evaluation/build.py). Its entity
F1 is micro-averaged over every entity kind its truth names; customer-number recall is over its customer_id
truth. The set is only measured, never trained or tuned on. ``--indep-forms eml,pdf`` measures only some of its
forms (e-mails and text PDFs need no OCR; the scans take about 7 minutes on two cores, read by ``--jobs``
processes, when their cache is missing). ``--letters tuning/letters`` measures the tuning set the same way
(other hand-written letters, for tuning labels, patterns and models on; the independent set stays unseen).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import multiprocessing as mp
import os
import re
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from classifiers import classify_with
from classifiers.model import CategoryModel, default_model
from classifiers.training import build_model, expected_calibration_error
from corpus.generate import generate
from evaluation import build as evaluation_build
from ground.errors import MailroomError
from ground.records import CATEGORIES, ENTITY_NAMES
from ground.settings import Settings
from mailroom.process import default_jobs
from ocr.sniff import sniff_type
from pipeline.stages import read

OUT = Path(__file__).resolve().parent / "out"
LETTERS = Path(evaluation_build.__file__).resolve().parent / "letters"  # the independent set


def _shown(root: Path) -> str:
    """``root`` relative to the repository when it is inside it (``evaluation/letters``)."""
    try:
        return str(root.resolve().relative_to(OUT.parent.parent))
    except ValueError:
        return str(root)


def _content_type(form: str, data: bytes, name: str) -> str:
    return "message/rfc822" if form == "eml" else sniff_type(data, name)


def _read_file(path: Path, rec: dict, settings: Settings) -> list[dict]:
    data = path.read_bytes()
    try:
        found = list(read(data, _content_type(rec["form"], data, rec["file"]), rec["file"], settings))
    except MailroomError as exc:
        return [{"file": rec["file"], "form": rec["form"], "error": exc.reason, "truth": d} for d in rec["documents"]]
    texts = [(f.part.content_type, f.ocr.text) for f in found]
    truth = rec["documents"]
    if len(texts) != len(truth) and rec["form"] == "eml":  # a short cover note is no document
        texts = [t for t in texts if t[0] != "text/plain"] or texts
    out = []
    for i, want in enumerate(truth):
        row: dict = {"file": rec["file"], "form": rec["form"], "truth": want}
        if len(texts) == len(truth):
            row["text"] = texts[i][1]
            row["header_email"] = rec["form"] == "eml" and texts[i][0] == "text/plain"
        else:
            row["error"] = f"split into {len(texts)} documents, truth has {len(truth)}"
        out.append(row)
    return out


def eval_documents(seed: int, count: int, holdout: bool = True, refresh: bool = False) -> list[dict]:
    """One row per ground-truth document: ``text`` as the pipeline reads it (or ``error``) and ``truth``."""
    OUT.mkdir(parents=True, exist_ok=True)
    cache = OUT / f"classify-eval-{seed}-{count}-{'holdout' if holdout else 'default'}.json"
    if cache.exists() and not refresh:
        return json.loads(cache.read_text(encoding="utf-8"))
    started = time.perf_counter()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        records = generate(corpus, seed=seed, count=count, holdout=holdout, workers=2)
        settings = Settings(data=Path(tmp) / "data")
        for n, rec in enumerate(records, 1):
            rows.extend(_read_file(corpus / rec["file"], rec, settings))
            print(f"  read {n}/{len(records)} {rec['file']} ({rec['form']})", file=sys.stderr, flush=True)
    cache.write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"evaluation corpus: {len(rows)} documents read in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)
    return rows


INDEP_FORMS: tuple[str, ...] = ("eml", "pdf", "png")
_FORM_ALIASES = {"text_pdf": "pdf", "scan_png": "png", "scan": "png", "email": "eml"}


def parse_indep_forms(value: str) -> tuple[str, ...]:
    """``eml,pdf`` (or the corpus generator's names ``text_pdf``, ``scan_png``) as forms of INDEP_FORMS, in its
    order."""
    wanted = {_FORM_ALIASES.get(f.strip(), f.strip()) for f in value.split(",") if f.strip()}
    unknown = wanted - set(INDEP_FORMS)
    if unknown or not wanted:
        raise argparse.ArgumentTypeError(f"unknown independent-set form(s) {', '.join(sorted(unknown)) or value!r}; "
                                         f"use some of: {', '.join(INDEP_FORMS)}")
    return tuple(f for f in INDEP_FORMS if f in wanted)


def _indep_digest(forms: tuple[str, ...], root: Path) -> str:
    h = hashlib.sha256(",".join(forms).encode())
    for path in sorted(root.glob("*/*_*.*")) + [Path(evaluation_build.__file__)]:
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:12]


def _indep_row(files: Path, rec: dict, settings: Settings) -> dict:
    data = (files / rec["file"]).read_bytes()
    truth = {"language": rec["language"], "category": rec["category"], "entities": rec["entities"]}
    row: dict = {"file": rec["file"], "form": rec["form"], "truth": truth}
    try:
        found = list(read(data, _content_type(rec["form"], data, rec["file"]), rec["file"], settings))
        texts = [f.ocr.text for f in found if f.ocr.text.strip()]
        if texts:
            row["text"] = "\n\f\n".join(texts)  # a letter is one document: every part of it
        else:
            row["error"] = "no readable text"
    except MailroomError as exc:
        row["error"] = exc.reason
    return row


def _one_thread() -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"  # one tesseract thread per process: the processes fill the cores


def indep_documents(refresh: bool = False, forms: tuple[str, ...] = INDEP_FORMS, jobs: int = 1,
                    root: Path = LETTERS) -> list[dict]:
    """One row per file of the independent set (or of the letters under ``root``, e.g. the tuning set):
    ``text`` as the pipeline reads it (or ``error``) and ``truth``; read by ``jobs`` processes (the order of
    the rows is the set's)."""
    OUT.mkdir(parents=True, exist_ok=True)
    cache = OUT / f"classify-indep-{_indep_digest(forms, root)}.json"
    if cache.exists() and not refresh:
        return json.loads(cache.read_text(encoding="utf-8"))
    started = time.perf_counter()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        files = Path(tmp) / "indep"
        records = evaluation_build.build(files, forms, root=root)
        settings = Settings(data=Path(tmp) / "data")
        row_of = functools.partial(_indep_row, files, settings=settings)
        with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=mp.get_context("fork"),
                                 initializer=_one_thread) as pool:
            for n, row in enumerate(pool.map(row_of, records), 1):
                rows.append(row)
                print(f"  read {n}/{len(records)} {row['file']}", file=sys.stderr, flush=True)
    cache.write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"independent set: {len(rows)} files read in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return rows


def _truth_kinds(rows: list[dict]) -> tuple[str, ...]:
    """The entity kinds the truth of these rows names (ENTITY_NAMES order)."""
    named = {k for r in rows for k in r["truth"]["entities"]}
    return tuple(n for n in ENTITY_NAMES if n in named)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _threshold() -> float:
    import yaml

    from ground.settings import CONFIG_DIR

    return float(yaml.safe_load((CONFIG_DIR / "routing.yaml").read_text(encoding="utf-8"))["confidence_threshold"])


def _expected_entities(row: dict) -> dict[str, set[str]]:
    want = {k: set(v) for k, v in row["truth"]["entities"].items()}
    if row.get("header_email"):  # the pipeline reads the From: header too; the sender's address is right
        m = re.search(r"^From: .*?<?([\w.+-]+@[\w.-]+\.\w+)>?\s*$", row["text"], re.MULTILINE)
        if m:
            want.setdefault("email", set()).add(m.group(1).lower())
    return want


def evaluate(rows: list[dict], model: CategoryModel | None, threshold: float,
             kinds: tuple[str, ...] = ENTITY_NAMES) -> dict:
    """Category, language, entity and triage figures of one model over the evaluation rows; entities are
    scored over ``kinds`` (the kinds the evaluation truth names)."""
    usable = [r for r in rows if "text" in r]
    gold = [r["truth"]["category"] for r in usable]
    results = [classify_with(r["text"], model) for r in usable]
    pred = [c.category for c in results]
    per_cat = {}
    for cat in CATEGORIES:
        tp = sum(g == cat and p == cat for g, p in zip(gold, pred, strict=True))
        fp = sum(g != cat and p == cat for g, p in zip(gold, pred, strict=True))
        fn = sum(g == cat and p != cat for g, p in zip(gold, pred, strict=True))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        per_cat[cat] = (prec, rec, _f1(prec, rec), tp + fn)
    present = [c for c in CATEGORIES if per_cat[c][3]]
    macro = sum(per_cat[c][2] for c in present) / len(present)
    confusion = Counter(zip(gold, pred, strict=True))
    lang_ok = sum(c.language == r["truth"]["language"] for c, r in zip(results, usable, strict=True))
    ent_counts: dict[str, list[int]] = {n: [0, 0, 0] for n in kinds}  # tp, fp, fn
    misses: list[str] = []
    for c, r in zip(results, usable, strict=True):
        want = _expected_entities(r)
        for name in kinds:
            got, exp = set(c.entities.get(name, [])), want.get(name, set())
            ent_counts[name][0] += len(got & exp)
            ent_counts[name][1] += len(got - exp)
            ent_counts[name][2] += len(exp - got)
            for v in sorted(got - exp):
                misses.append(f"{r['file']} {r['form']} {name}: extra {v}")
            for v in sorted(exp - got):
                misses.append(f"{r['file']} {r['form']} {name}: missed {v}")
    tp_all = sum(v[0] for v in ent_counts.values())
    fp_all = sum(v[1] for v in ent_counts.values())
    fn_all = sum(v[2] for v in ent_counts.values())
    conf = [c.confidence for c in results]
    correct = [p == g for p, g in zip(pred, gold, strict=True)]
    triage = sum(x < threshold for x in conf)
    return {
        "n": len(usable), "unread": len(rows) - len(usable), "per_cat": per_cat, "macro_f1": macro,
        "accuracy": sum(correct) / len(correct), "confusion": confusion,
        "language_accuracy": lang_ok / len(usable), "entities": ent_counts,
        "entity_precision": tp_all / (tp_all + fp_all) if tp_all + fp_all else 0.0,
        "entity_recall": tp_all / (tp_all + fn_all) if tp_all + fn_all else 0.0,
        "customer_recall": (ent_counts["customer_id"][0] / (ent_counts["customer_id"][0]
                                                            + ent_counts["customer_id"][2])
                            if "customer_id" in ent_counts and sum(ent_counts["customer_id"][::2]) else 1.0),
        "triage_share": triage / len(usable), "ece": expected_calibration_error(conf, correct),
        "accuracy_above_threshold": (sum(k for k, x in zip(correct, conf, strict=True) if x >= threshold)
                                     / max(1, len(usable) - triage)),
        "misses": misses, "wrong": [(r["file"], r["form"], g, p, round(c.confidence, 2))
                                    for r, g, p, c in zip(usable, gold, pred, results, strict=True) if g != p],
        "by_form": Counter((r["form"], ok) for r, ok in zip(usable, correct, strict=True)),
    }


def _print_report(name: str, res: dict) -> None:
    print(f"\n=== {name}: {res['n']} documents ({res['unread']} not read)")
    print(f"{'category':16} {'prec':>6} {'rec':>6} {'f1':>6} {'n':>4}")
    for cat, (p, r, f, n) in res["per_cat"].items():
        print(f"{cat:16} {p:6.3f} {r:6.3f} {f:6.3f} {n:4d}")
    print(f"macro-F1 {res['macro_f1']:.3f}  accuracy {res['accuracy']:.3f}  ECE {res['ece']:.3f}  "
          f"triage {res['triage_share']:.1%}  accuracy above threshold {res['accuracy_above_threshold']:.3f}")
    abbrev = [c[:5] for c in CATEGORIES]
    print("confusion (rows: truth, columns: predicted)")
    print(" " * 16 + " ".join(f"{a:>5}" for a in abbrev))
    for g in CATEGORIES:
        print(f"{g:16}" + " ".join(f"{res['confusion'].get((g, p), 0) or '.':>5}" for p in CATEGORIES))
    forms = sorted({f for f, _ in res["by_form"]})
    print("accuracy by form: " + ", ".join(
        f"{f} {res['by_form'][(f, True)]}/{res['by_form'][(f, True)] + res['by_form'][(f, False)]}" for f in forms))
    for w in res["wrong"]:
        print(f"  wrong: {w[0]} {w[1]} truth {w[2]} → {w[3]} ({w[4]})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.classify", description="Train on seed A, evaluate on a "
                                 "held-out corpus of another seed read through OCR.")
    ap.add_argument("--train-seed", type=int, default=1)
    ap.add_argument("--per-pair", type=int, default=40, help="training letters per language × category")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=202, help="evaluation corpus seed")
    ap.add_argument("--count", type=int, default=88, help="evaluation files (OCR is cached in bench/out)")
    ap.add_argument("--refresh", action="store_true", help="regenerate and re-OCR both evaluation sets")
    ap.add_argument("--shipped", action="store_true", help="also score the shipped model (it saw the held-out "
                    "pools: not a fair figure, shown for reference)")
    ap.add_argument("--verbose", action="store_true", help="list every entity miss")
    ap.add_argument("--no-indep", action="store_true", help="skip the independent set (evaluation/letters)")
    ap.add_argument("--jobs", type=int, default=default_jobs(),
                    help="processes reading the independent set (default: every core)")
    ap.add_argument("--indep-forms", type=parse_indep_forms, default=INDEP_FORMS, metavar="FORMS",
                    help=f"comma-separated forms of the independent set to measure (default: all, "
                         f"{','.join(INDEP_FORMS)}; eml,pdf needs no OCR)")
    ap.add_argument("--letters", type=Path, default=LETTERS,
                    help="the hand-written letters to measure (default: the independent set, evaluation/letters; "
                         "tuning/letters is the set for tuning methods on)")
    ap.add_argument("--no-supplement", action="store_true",
                    help="train without the training supplement (classifiers/supplement), to measure what it brings")
    args = ap.parse_args(argv)
    threshold = _threshold()
    rows = eval_documents(args.seed, args.count, holdout=True, refresh=args.refresh)
    indep_rows = [] if args.no_indep else indep_documents(refresh=args.refresh, forms=args.indep_forms,
                                                     jobs=args.jobs, root=args.letters)
    letters = _shown(args.letters)
    started = time.perf_counter()
    model = build_model(seed=args.train_seed, split="default", per_pair=args.per_pair, epochs=args.epochs,
                        log=lambda m: print(m, file=sys.stderr), supplement=not args.no_supplement)
    train_secs = time.perf_counter() - started
    material = "default pools + classifiers/phrases.py" + ("" if args.no_supplement else " + classifiers/supplement")
    print(f"trained on seed {args.train_seed}, {material}: {model.version} "
          f"lexicon_weight={model.lexicon_weight} temperature={model.temperature} ({train_secs:.0f} s)")
    kinds = _truth_kinds(rows)
    lexicon = evaluate(rows, None, threshold, kinds)
    textcat = evaluate(rows, CategoryModel(model.nlp, "textcat-only", lexicon_weight=0.0, temperature=1.0),
                       threshold, kinds)
    combined = evaluate(rows, model, threshold, kinds)
    for name, res in (("lexicon only", lexicon), ("textcat only", textcat), ("textcat + lexicon", combined)):
        _print_report(name, res)
    shipped = default_model() if args.shipped else None
    if shipped is not None:
        _print_report(f"shipped {shipped.version} (saw held-out pools; reference only)",
                      evaluate(rows, shipped, threshold, kinds))
    ef1 = _print_entities("generated held-out corpus", combined, args.verbose)
    last = (f"bench classify: docs={combined['n']} macro_f1={combined['macro_f1']:.3f} "
            f"lexicon_macro_f1={lexicon['macro_f1']:.3f} textcat_macro_f1={textcat['macro_f1']:.3f} "
            f"language_acc={combined['language_accuracy']:.3f} entity_f1={ef1:.3f} "
            f"triage={combined['triage_share']:.3f} ece={combined['ece']:.3f} threshold={threshold} "
            f"train_s={train_secs:.0f} customer_recall={combined['customer_recall']:.3f}")
    if indep_rows:
        indep = evaluate(indep_rows, model, threshold, _truth_kinds(indep_rows))
        _print_report(f"hand-written set ({letters}), textcat + lexicon", indep)
        for form in sorted({r["form"] for r in indep_rows}):
            part = evaluate([r for r in indep_rows if r["form"] == form], model, threshold,
                            _truth_kinds(indep_rows))
            print(f"  {form:9} docs {part['n']:3d} unread {part['unread']:2d} macro-F1 {part['macro_f1']:.3f} "
                  f"language {part['language_accuracy']:.3f} entity F1 "
                  f"{_f1(part['entity_precision'], part['entity_recall']):.3f} customer recall "
                  f"{part['customer_recall']:.3f}")
        for row in indep_rows:
            if "error" in row:
                print(f"  not read: {row['file']} ({row['form']}): {row['error']}")
        indep_f1 = _print_entities("independent set", indep, args.verbose)
        if shipped is not None:  # the shipped model never saw these letters: a fair figure here
            res = evaluate(indep_rows, shipped, threshold, _truth_kinds(indep_rows))
            _print_report(f"independent set, shipped {shipped.version}", res)
            print(f"shipped {shipped.version} on the independent set: macro-F1 {res['macro_f1']:.3f} language "
                  f"{res['language_accuracy']:.3f} triage {res['triage_share']:.3f}")
        last += (f" indep_docs={indep['n']} indep_unread={indep['unread']} "
                 f"indep_category_macro_f1={indep['macro_f1']:.3f} "
                 f"indep_language_acc={indep['language_accuracy']:.3f} indep_entity_f1={indep_f1:.3f} "
                 f"indep_customer_recall={indep['customer_recall']:.3f} "
                 f"indep_forms={','.join(args.indep_forms)} indep_letters={letters}")
    last += f" supplement={'no' if args.no_supplement else 'yes'}"
    print(last)
    return 0


def _print_entities(name: str, res: dict, verbose: bool) -> float:
    print(f"\n{name}: language accuracy {res['language_accuracy']:.3f} over {res['n']} documents")
    print(f"{'entity':12} {'prec':>6} {'rec':>6} {'f1':>6} {'gold':>5}")
    for kind, (tp, fp, fn) in res["entities"].items():
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 1.0
        print(f"{kind:12} {p:6.3f} {r:6.3f} {_f1(p, r):6.3f} {tp + fn:5d}")
    ef1 = _f1(res["entity_precision"], res["entity_recall"])
    print(f"entities micro: precision {res['entity_precision']:.3f} recall {res['entity_recall']:.3f} "
          f"F1 {ef1:.3f}; customer-number recall {res['customer_recall']:.3f}")
    for line in res["misses"] if verbose else res["misses"][:15]:
        print("  " + line)
    return ef1


if __name__ == "__main__":
    raise SystemExit(main())
