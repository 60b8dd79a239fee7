"""Generate a synthetic Mailroom corpus: files of every intake form plus their ground truth.

    python -m corpus.generate --out DIR --seed N [--count 44] [--forms scan_png,eml] [--holdout]
"""

from __future__ import annotations

import argparse
import email.policy
import email.utils
import hashlib
import json
import os
import random
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

from corpus import render
from corpus.errors import CorpusError
from corpus.letters import OPERATOR_MAIL, Letter, compose
from corpus.pools import LANGUAGES, POOLS
from ground.records import CATEGORIES

FORMS: tuple[str, ...] = ("scan_png", "scan_pdf", "text_pdf", "fax_tiff", "eml", "batch_pdf")
CHANNEL = {"scan_png": "scan", "scan_pdf": "scan", "text_pdf": "upload", "fax_tiff": "fax", "eml": "email",
           "batch_pdf": "scan"}
EXTENSION = {"scan_png": "png", "scan_pdf": "pdf", "text_pdf": "pdf", "fax_tiff": "tif", "eml": "eml",
             "batch_pdf": "pdf"}
TZ = {"pl": timezone(timedelta(hours=1)), "cs": timezone(timedelta(hours=1)), "ru": timezone(timedelta(hours=3)),
      "en": UTC}


def _doc_record(letter: Letter, pages: int, holdout: bool, first_page: int | None = None) -> dict:
    rec: dict = {
        "language": letter.language,
        "category": letter.category,
        "segment": letter.segment,
        "entities": letter.entities,
        "text": letter.text,
        "pages": pages,
        "holdout": holdout,
        "pool_items": letter.pool_items,
    }
    if first_page is not None:
        rec["first_page"] = first_page
    return rec


def _style(rng: random.Random) -> tuple[str, float]:
    return rng.choice(["sans", "serif"]), rng.choice([11.0, 11.5, 12.0])


def _letter_datetime(letter: Letter, rng: random.Random) -> datetime:
    return datetime(letter.when.year, letter.when.month, letter.when.day, rng.randint(7, 21), rng.randint(0, 59),
                    rng.randint(0, 59), tzinfo=TZ[letter.language])


def _make_eml(letter: Letter, rng: random.Random, holdout: bool) -> tuple[bytes, dict, list[dict]]:
    msg = EmailMessage()
    msg["From"] = Address(display_name=letter.sender_name, addr_spec=letter.sender_email)
    msg["To"] = OPERATOR_MAIL[letter.language]
    msg["Subject"] = letter.subject
    msg["Date"] = email.utils.format_datetime(_letter_datetime(letter, rng))
    digest = hashlib.sha256(f"{letter.text}{rng.random()}".encode()).hexdigest()
    msg["Message-ID"] = f"<{digest[:24]}@{letter.sender_email.split('@')[1]}>"
    msg["MIME-Version"] = "1.0"
    extra: dict = {"attachment": None, "email_body": None}
    mode = rng.choice(["body", "body", "text_pdf", "scan_pdf"])
    if mode == "body":
        body_letter = letter.compact() if rng.random() < 0.7 else letter
        msg.set_content(body_letter.text + "\n")
        return msg.as_bytes(policy=email.policy.SMTP), extra, [_doc_record(body_letter, 1, holdout)]
    family, size = _style(rng)
    lay = render.layout(letter.blocks, family, size, pages=rng.choice([1, 1, 2]))
    if mode == "text_pdf":
        pdf = render.text_pdf(lay, letter.subject, letter.sender_name)
    else:
        pdf = render.image_pdf([render.scan_effects(render.rasterize(p, lay, 300), rng) for p in lay.pages],
                               _letter_datetime(letter, rng).replace(tzinfo=None))
    cover = rng.choice(POOLS[letter.language].COMMON["email_cover"]).format(name=letter.sender_name)
    msg.set_content(cover + "\n")
    name = {"pl": "pismo", "cs": "dopis", "ru": "obrashchenie", "en": "letter"}[letter.language]
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"{name}.pdf")
    msg.set_boundary(f"=_mailroom_{digest[24:48]}")
    extra.update(attachment=f"{name}.pdf", attachment_form=mode, email_body=cover)
    return msg.as_bytes(policy=email.policy.SMTP), extra, [_doc_record(letter, len(lay.pages), holdout)]


def _make_file(index: int, form: str, lang: str, category: str, seed: int, holdout: bool
               ) -> tuple[bytes, dict, list[dict]]:
    rng = random.Random(f"mailroom-corpus:{seed}:{index}")
    letter = compose(rng, lang, category, holdout)
    family, size = _style(rng)
    if form == "scan_png":
        lay = render.layout(letter.blocks, family, size, pages=1)
        if len(lay.pages) > 1:  # a PNG holds one page: shrink the type until the letter fits
            lay = render.layout(letter.blocks, family, 10.5, pages=1)
        img = render.scan_effects(render.rasterize(lay.pages[0], lay, 300), rng)
        return render.encode_png(img), {"page_count": 1}, [_doc_record(letter, 1, holdout)]
    if form == "scan_pdf":
        lay = render.layout(letter.blocks, family, size, pages=rng.choice([1, 2]))
        imgs = [render.scan_effects(render.rasterize(p, lay, 300), rng) for p in lay.pages]
        pdf = render.image_pdf(imgs, _letter_datetime(letter, rng).replace(tzinfo=None))
        return pdf, {"page_count": len(imgs)}, [_doc_record(letter, len(imgs), holdout)]
    if form == "text_pdf":
        lay = render.layout(letter.blocks, family, size, pages=rng.choice([1, 1, 2]))
        pdf = render.text_pdf(lay, letter.subject, letter.sender_name)
        return pdf, {"page_count": len(lay.pages)}, [_doc_record(letter, len(lay.pages), holdout)]
    if form == "fax_tiff":
        lay = render.layout(letter.blocks, family, max(size, 11.5), pages=rng.choice([1, 2]))
        pages = render.fax_pages(lay, rng)
        return render.encode_fax_tiff(pages), {"page_count": len(pages)}, [_doc_record(letter, len(pages), holdout)]
    if form == "eml":
        data, extra, docs = _make_eml(letter, rng, holdout)
        return data, extra, docs
    if form == "batch_pdf":
        letters = [letter] + [compose(rng, rng.choice(LANGUAGES), rng.choice(CATEGORIES), holdout)
                              for _ in range(rng.choice([1, 2]))]
        duplex = (index // len(FORMS)) % 2 == 0  # every other batch has a blank back page inside a letter
        images = []
        docs = []
        for n, lt in enumerate(letters):
            if n:
                images.append(render.separator_page(rng))
            fam, sz = _style(rng)
            lay = render.layout(lt.blocks, fam, sz, pages=2 if (duplex and n == 0) else rng.choice([1, 1, 2]))
            first = len(images) + 1
            for k, page in enumerate(lay.pages):
                images.append(render.scan_effects(render.rasterize(page, lay, 300), rng))
                if duplex and n == 0 and k == 0:
                    images.append(render.blank_page(rng))
            rec = _doc_record(lt, len(lay.pages), holdout, first_page=first)
            if duplex and n == 0:
                rec["blank_pages"] = [first + 1]
            docs.append(rec)
        pdf = render.image_pdf(images, _letter_datetime(letter, rng).replace(tzinfo=None))
        seps = [d["first_page"] - 1 for d in docs[1:]]
        return pdf, {"page_count": len(images), "separator_pages": seps}, docs
    raise CorpusError(f"unknown form {form!r}; known forms: {', '.join(FORMS)}")


def plan(count: int, forms: Sequence[str] | None = None) -> list[tuple[str, str, str]]:
    """(form, language, category) per file, round-robin so that 44 files cover every combination
    of language and category (4 × 11, coprime) and every form."""
    forms = tuple(forms or FORMS)
    for f in forms:
        if f not in FORMS:
            raise CorpusError(f"unknown form {f!r}; known forms: {', '.join(FORMS)}")
    return [(forms[i % len(forms)], LANGUAGES[i % len(LANGUAGES)], CATEGORIES[i % len(CATEGORIES)])
            for i in range(count)]


def _make_job(job: tuple[int, str, str, str, int, bool]) -> tuple[bytes, dict, list[dict]]:
    return _make_file(*job)


def generate(out: Path, seed: int, count: int = 44, forms: Sequence[str] | None = None,
             holdout: bool = False, workers: int | None = None) -> list[dict]:
    """Write ``count`` files with one ``<stem>.json`` each and ``manifest.json``; return the records.

    Each file draws from its own RNG (seed, index), so the output does not depend on ``workers``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(i, form, lang, cat, seed, holdout) for i, (form, lang, cat) in enumerate(plan(count, forms))]
    workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    if workers > 1 and len(jobs) > 3:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_make_job, jobs, chunksize=1))
    else:
        results = [_make_job(j) for j in jobs]
    records = []
    for (index, form, *_), (data, extra, docs) in zip(jobs, results, strict=True):
        name = f"doc_{index:03d}.{EXTENSION[form]}"
        (out / name).write_bytes(data)
        rec = {"file": name, "form": form, "channel": CHANNEL[form], **extra, "documents": docs}
        (out / f"doc_{index:03d}.json").write_text(json.dumps(rec, ensure_ascii=False, indent=2) + "\n",
                                                   encoding="utf-8")
        records.append(rec)
    manifest = {"seed": seed, "count": count, "holdout": holdout, "files": records}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return records


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m corpus.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output directory (created if missing)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count", type=int, default=44)
    parser.add_argument("--forms", default="", help=f"comma-separated subset of: {','.join(FORMS)}")
    parser.add_argument("--holdout", action="store_true", help="use the held-out half of the sentence pools")
    args = parser.parse_args(argv)
    forms = [f for f in args.forms.split(",") if f] or None
    started = time.perf_counter()
    try:
        records = generate(args.out, args.seed, args.count, forms, args.holdout)
    except CorpusError as exc:
        print(f"error: {exc.reason}", file=sys.stderr)
        return 2
    docs = sum(len(r["documents"]) for r in records)
    print(f"wrote {len(records)} files ({docs} documents) to {args.out} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
