"""bench.classify - evaluation documents: a generated held-out corpus read the way the pipeline reads it.

Every file goes through ``pipeline.stages.read`` (``intake.parts.explode`` for e-mails, ``ocr.extract`` and
``ocr.split_documents`` for the rest), so scans and faxes carry real tesseract noise. OCR is slow, so the
recognised text is cached in ``bench/out/classify-eval-<seed>-<count>-<holdout>.json``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from corpus.generate import generate
from mailroom.errors import MailroomError
from mailroom.settings import Settings
from ocr.sniff import sniff_type
from pipeline.stages import read

OUT = Path(__file__).resolve().parent / "out"


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


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=202)
    ap.add_argument("--count", type=int, default=88)
    args = ap.parse_args()
    eval_documents(args.seed, args.count)
