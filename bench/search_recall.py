"""Recall and precision of dictionary-form queries over letters the generator did not write.

    .venv/bin/python -m bench.search_recall [--backend both|sqlite|postgresql] [--pg-url URL] [--misses]

The independent evaluation set (``evaluation/letters/{pl,cs,ru,en}``, 88 letters per language) labels, for each
letter, which of 12 dictionary-form words of its language occur in it in any form (``lemmas`` in the letter's
JSON; each language's README gives the annotators' rules). Every letter is stored as a document of its language
and indexed through the product's own path (``storage.search.index_document``, as the pipeline does) into a
fresh database: a temporary SQLite file, and a PostgreSQL database (``--pg-url``, else a private cluster as
the tests start one, if the Debian package is there). Each of the 48 words is then searched as an auditor
types it (``storage.search.search``, no filter, every page); a letter of the word's language is retrieved
if it is among the hits. Recall and precision are counted per language and over all 48 words (micro).

The set is for measuring only (evaluation/README.md): nothing here tunes the search to it.

Prints, last, one line: ``bench search_recall: recall=… precision=… …``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections import defaultdict
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from evaluation.truth import LANGUAGES, Letter, load_letters
from storage.db import migrate, session_scope
from storage.models import Document, DocumentState, Envelope
from storage.search import index_document, search

START = datetime(2026, 1, 5, 8, tzinfo=UTC)


def words_of(letters: list[Letter]) -> dict[str, list[str]]:
    """The dictionary-form words of each language: every word the truth names for a letter of it."""
    found: dict[str, set[str]] = defaultdict(set)
    for letter in letters:
        found[letter.language].update(letter.lemmas)
    return {lang: sorted(found[lang]) for lang in LANGUAGES}


def index_letters(url: str, letters: list[Letter]) -> tuple[dict[str, Letter], float]:
    """Store every letter as a document of its language and index it; returns id → letter and seconds spent."""
    by_id: dict[str, Letter] = {}
    spent = 0.0
    with session_scope(url) as s:
        for n, letter in enumerate(letters):
            env_id, doc_id = str(uuid.UUID(int=2 * n + 1)), str(uuid.UUID(int=2 * n + 2))
            s.add(Envelope(id=env_id, received_at=START + timedelta(minutes=n), channel="email",
                           source_name=f"{letter.stem}.txt", content_type="text/plain", sha256=f"{n:064x}",
                           size=len(letter.text)))
            s.flush()
            doc = Document(id=doc_id, envelope_id=env_id, part_index=0, doc_index=0, part_sha256=f"{n:064x}",
                           pages=1, text=letter.text, state=DocumentState.ROUTED, language=letter.language,
                           category=letter.category, entities={})
            s.add(doc)
            s.flush()
            t0 = time.perf_counter()
            index_document(s, doc)
            s.flush()
            spent += time.perf_counter() - t0
            by_id[doc_id] = letter
    return by_id, spent


def retrieved(url: str, word: str) -> tuple[set[str], float]:
    """Ids of every document the query ``word`` finds (all pages) and the seconds the first page took."""
    ids: set[str] = set()
    first = 0.0
    with session_scope(url) as s:
        page = 1
        while True:
            t0 = time.perf_counter()
            result = search(s, word, None, sort="date", page=page, per_page=200)
            if page == 1:
                first = time.perf_counter() - t0
            ids.update(h.document_id for h in result.hits)
            if len(result.hits) < 200:
                return ids, first
            page += 1


def measure(url: str, letters: list[Letter], show_misses: bool) -> dict[str, Any]:
    migrate(url)
    by_id, index_s = index_letters(url, letters)
    words = words_of(letters)
    counts: dict[str, list[int]] = {}  # language → [tp, fp, fn]
    query_s: list[float] = []
    misses: list[str] = []
    for lang in LANGUAGES:
        tp = fp = fn = 0
        for word in words[lang]:
            found, took = retrieved(url, word)
            query_s.append(took)
            for doc_id, letter in by_id.items():
                if letter.language != lang:
                    continue
                hit, truth = doc_id in found, word in letter.lemmas
                tp, fp, fn = tp + (hit and truth), fp + (hit and not truth), fn + (truth and not hit)
                if hit != truth:
                    misses.append(f"{'false positive' if hit else 'missed'}: {word} in {letter.stem}")
        counts[lang] = [tp, fp, fn]
    if show_misses:
        for line in misses:
            print("   ", line)
    return {"counts": counts, "index_ms_per_letter": 1000 * index_s / len(letters),
            "query_ms_mean": 1000 * sum(query_s) / len(query_s), "query_ms_max": 1000 * max(query_s)}


def ratios(tp: int, fp: int, fn: int) -> tuple[float, float]:
    return (tp / (tp + fn) if tp + fn else 1.0), (tp / (tp + fp) if tp + fp else 1.0)


def report(backend: str, result: dict[str, Any]) -> dict[str, float]:
    counts = result["counts"]
    print(f"{backend}: {'language':8} {'recall':>7} {'precision':>9} {'tp':>4} {'fp':>4} {'fn':>4}")
    for lang, (tp, fp, fn) in counts.items():
        r, p = ratios(tp, fp, fn)
        print(f"{backend}: {lang:8} {r:7.3f} {p:9.3f} {tp:4} {fp:4} {fn:4}")
    total = [sum(c[i] for c in counts.values()) for i in range(3)]
    r, p = ratios(*total)
    print(f"{backend}: {'all':8} {r:7.3f} {p:9.3f} {total[0]:4} {total[1]:4} {total[2]:4}   "
          f"(index_document {result['index_ms_per_letter']:.1f} ms/letter, first page "
          f"{result['query_ms_mean']:.1f} ms mean, {result['query_ms_max']:.1f} ms max)", flush=True)
    out = {"recall": r, "precision": p}
    for lang, c in counts.items():
        out[f"{lang}_recall"], out[f"{lang}_precision"] = ratios(*c)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["both", "sqlite", "postgresql"], default="both")
    ap.add_argument("--pg-url", help="an empty PostgreSQL database (default: start a private cluster)")
    ap.add_argument("--misses", action="store_true", help="list every missed letter and false positive")
    args = ap.parse_args()
    letters = load_letters()
    words = words_of(letters)
    print(f"{len(letters)} letters, {sum(len(w) for w in words.values())} words: "
          + "; ".join(f"{lang}: {', '.join(w)}" for lang, w in words.items()), flush=True)
    results: dict[str, dict[str, float]] = {}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
        for backend in backends:
            if backend == "sqlite":
                url = f"sqlite:///{tmp / 'recall.db'}"
            elif args.pg_url:
                url = args.pg_url
            else:
                try:
                    from tests.support.servers import postgres_server

                    url = stack.enter_context(postgres_server())
                except Exception as exc:  # no PostgreSQL here: say so, measure SQLite only
                    print(f"postgresql: not measured ({exc})", flush=True)
                    continue
            results[backend] = report(backend, measure(url, letters, args.misses))
    first = results.get("sqlite") or next(iter(results.values()))
    parts = [f"recall={first['recall']:.3f}", f"precision={first['precision']:.3f}"]
    parts += [f"{k}={v:.3f}" for k, v in first.items() if k not in ("recall", "precision")]
    if "sqlite" in results and "postgresql" in results:
        pg = results["postgresql"]
        parts += [f"pg_recall={pg['recall']:.3f}", f"pg_precision={pg['precision']:.3f}"]
    parts.append("backends=" + "+".join(results))
    print("bench search_recall: " + " ".join(parts))


if __name__ == "__main__":
    main()
