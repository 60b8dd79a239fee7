"""The corpus generator: coverage, determinism, readable files, valid entities, OCR-able scans."""

from __future__ import annotations

import difflib
import email
import email.policy
import email.utils
import io
import json
import re
from datetime import date
from pathlib import Path

import cv2
import numpy as np
import pdfplumber
import phonenumbers
import pypdfium2
import pytesseract
import pytest
from PIL import Image
from stdnum import iban as std_iban
from stdnum.cz import dic as std_cz_dic
from stdnum.pl import nip as std_nip
from stdnum.pl import pesel as std_pesel
from stdnum.ru import inn as std_inn

from corpus.generate import FORMS, generate, main
from corpus.pools import LANGUAGES, POOLS, half
from corpus.render import SEPARATOR_PAYLOAD
from ground.records import CATEGORIES, ENTITY_NAMES

SEED = 7
REGION = {"pl": "PL", "cs": "CZ", "ru": "RU", "en": "GB"}


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    out = tmp_path_factory.mktemp("corpus")
    return out, generate(out, SEED, count=44)


def docs_of(records: list[dict]) -> list[tuple[dict, dict]]:
    return [(r, d) for r in records for d in r["documents"]]


def test_44_files_cover_every_form_language_and_category(corpus: tuple[Path, list[dict]]) -> None:
    out, records = corpus
    assert len(records) == 44
    assert {r["form"] for r in records} == set(FORMS)
    assert {d["language"] for _, d in docs_of(records)} == set(LANGUAGES)
    assert {d["category"] for _, d in docs_of(records)} == set(CATEGORIES)
    primary = {(r["documents"][0]["language"], r["documents"][0]["category"]) for r in records}
    assert len(primary) == 44  # every language x category pair once
    assert {d["segment"] for _, d in docs_of(records)} == {"business", "individual"}
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["files"] == records
    for r in records:
        assert json.loads((out / (Path(r["file"]).stem + ".json")).read_text(encoding="utf-8")) == r
        assert r["channel"] == {"scan_png": "scan", "scan_pdf": "scan", "text_pdf": "upload", "fax_tiff": "fax",
                                "eml": "email", "batch_pdf": "scan"}[r["form"]]


def test_same_seed_same_bytes_and_other_seed_differs(corpus: tuple[Path, list[dict]], tmp_path: Path) -> None:
    out, records = corpus
    again = generate(tmp_path / "a", SEED, count=12, workers=1)  # first 12 files of the same plan, serially
    assert again == records[:12]
    for r in again:
        assert (tmp_path / "a" / r["file"]).read_bytes() == (out / r["file"]).read_bytes(), r["file"]
    other = generate(tmp_path / "b", SEED + 1, count=6, forms=["eml", "text_pdf"])
    assert [d["text"] for _, d in docs_of(other)] != [d["text"] for _, d in docs_of(again[:6])]


def test_files_open_with_the_declared_geometry(corpus: tuple[Path, list[dict]]) -> None:
    out, records = corpus
    for r in records:
        path = out / r["file"]
        pages = sum(d["pages"] for d in r["documents"])
        if r["form"] == "scan_png":
            with Image.open(path) as img:
                assert img.format == "PNG" and img.mode == "L" and img.size == (2480, 3508)
                assert round(img.info["dpi"][0]) == 300
        elif r["form"] in ("scan_pdf", "text_pdf", "batch_pdf"):
            with pdfplumber.open(path) as pdf:
                assert len(pdf.pages) == r["page_count"]
                if r["form"] != "text_pdf":
                    assert all(p.images and not p.chars for p in pdf.pages)  # image-only
            if r["form"] == "batch_pdf":
                blanks = sum(len(d.get("blank_pages", [])) for d in r["documents"])
                assert r["page_count"] == pages + len(r["separator_pages"]) + blanks
            else:
                assert r["page_count"] == pages
        elif r["form"] == "fax_tiff":
            with Image.open(path) as img:
                assert img.format == "TIFF" and img.n_frames == r["page_count"] == pages
                for i in range(img.n_frames):
                    img.seek(i)
                    assert img.mode == "1" and img.size == (1728, 1146)
                    assert img.info["compression"] == "group4"
                    assert tuple(round(v) for v in img.info["dpi"]) == (204, 98)
        elif r["form"] == "eml":
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for header in ("From", "To", "Subject", "Date", "Message-ID"):
                assert msg[header], header
            assert email.utils.parsedate_to_datetime(msg["Date"]).tzinfo is not None
            assert re.fullmatch(r"<[0-9a-f]+@[\w.-]+>", msg["Message-ID"])
            doc = r["documents"][0]
            if r["attachment"] is None:
                assert squash(msg.get_body(("plain",)).get_content()) == squash(doc["text"])
            else:
                (part,) = list(msg.iter_attachments())
                assert part.get_content_type() == "application/pdf" and part.get_filename() == r["attachment"]
                with pdfplumber.open(io.BytesIO(part.get_content())) as pdf:
                    assert len(pdf.pages) == doc["pages"]
                    if r["attachment_form"] == "text_pdf":
                        assert squash(" ".join(p.extract_text() for p in pdf.pages)) == squash(doc["text"])


def test_text_pdf_layer_equals_ground_truth(corpus: tuple[Path, list[dict]]) -> None:
    out, records = corpus
    checked = 0
    for r in records:
        if r["form"] != "text_pdf":
            continue
        with pdfplumber.open(out / r["file"]) as pdf:
            text = " ".join(p.extract_text() for p in pdf.pages)
        assert squash(text) == squash(r["documents"][0]["text"])
        checked += 1
    assert checked >= 7


def test_separator_qr_decodes_on_rendered_page_and_blank_back_page_exists(
        corpus: tuple[Path, list[dict]]) -> None:
    out, records = corpus
    batches = [r for r in records if r["form"] == "batch_pdf"]
    assert batches and any(d.get("blank_pages") for r in batches for d in r["documents"])
    detector = cv2.QRCodeDetector()
    r = batches[0]
    pdf = pypdfium2.PdfDocument(out / r["file"])
    try:
        for sep in r["separator_pages"]:
            img = np.asarray(pdf[sep - 1].render(scale=150 / 72).to_pil().convert("L"))
            payload, _, _ = detector.detectAndDecode(img)
            assert payload == SEPARATOR_PAYLOAD
        first = r["documents"][0]["first_page"]
        payload, _, _ = detector.detectAndDecode(np.asarray(pdf[first - 1].render(scale=150 / 72).to_pil()
                                                            .convert("L")))
        assert payload == ""
        for blank in r["documents"][0].get("blank_pages", []):
            arr = np.asarray(pdf[blank - 1].render(scale=100 / 72).to_pil().convert("L"))
            assert (arr < 128).mean() < 0.002  # nothing but paper and specks
    finally:
        pdf.close()


def test_entities_are_normalised_and_checksums_valid(corpus: tuple[Path, list[dict]]) -> None:
    _, records = corpus
    seen: set[str] = set()
    for _, d in docs_of(records):
        text = d["text"]
        assert set(d["entities"]) <= set(ENTITY_NAMES)
        for name, values in d["entities"].items():
            assert values == sorted(set(values)) and values, name
            seen.add(name)
            for v in values:
                if name == "customer_id":
                    assert re.fullmatch(r"MR-\d{7}", v) and v[3:] in text
                elif name == "invoice_no":
                    assert re.fullmatch(r"[A-Z]{2}/\d{4}/\d{2}/\d{6}", v) and v in text
                elif name == "amount":
                    assert re.fullmatch(r"\d+\.\d{2} (PLN|CZK|RUB|GBP|EUR)", v)
                elif name == "phone":
                    number = phonenumbers.parse(v)
                    assert phonenumbers.is_valid_number(number)
                    assert phonenumbers.region_code_for_number(number) == REGION[d["language"]]
                elif name == "iban":
                    assert std_iban.is_valid(v) and v == v.replace(" ", "").upper()
                elif name == "pesel":
                    assert std_pesel.is_valid(v) and v in text
                elif name == "nip":
                    assert std_nip.is_valid(v) and len(v) == 10
                elif name == "ico":
                    assert std_cz_dic.is_valid(v) and len(v) == 8 and v in text
                elif name == "inn":
                    assert std_inn.is_valid(v) and v in text
                elif name == "email":
                    assert v == v.lower() and v in text.lower()
                elif name == "date":
                    assert date.fromisoformat(v)
    # the generator writes no contract numbers, REGON, rodné číslo, SNILS or OGRN (evaluation/letters has them)
    assert seen == set(ENTITY_NAMES) - {"contract_no", "regon", "rodne_cislo", "snils", "ogrn"}


def _literal_fragments(template: str) -> list[str]:
    """The long literal stretches of a template (between placeholders and gender alternatives)."""
    plain = re.sub(r"\[[^\[\]]*\]|\{[^{}]*\}", "\x00", template)
    return [f.strip() for f in plain.split("\x00") if len(f.strip()) >= 25]


def test_pool_halves_are_disjoint_and_holdout_uses_the_other_half(tmp_path: Path) -> None:
    for lang, pool in POOLS.items():
        for cat in CATEGORIES:
            for key, items in pool.CATEGORIES[cat].items():
                a, b = {s for _, s in half(items, False)}, {s for _, s in half(items, True)}
                assert len(a) >= 2 and len(b) >= 2 and not a & b, (lang, cat, key)
    held = generate(tmp_path, SEED, count=12, forms=["eml", "text_pdf"], holdout=True)
    for _, d in docs_of(held):
        assert d["holdout"] is True
        assert all(int(item.rsplit("/", 1)[1]) % 2 == 1 for item in d["pool_items"]), d["pool_items"]
        default_requests = half(POOLS[d["language"]].CATEGORIES[d["category"]]["request"], False)
        for _, template in default_requests:
            for fragment in _literal_fragments(template):
                assert fragment not in d["text"], fragment


def test_cli_writes_a_corpus_and_rejects_unknown_forms(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path / "c"), "--seed", "3", "--count", "2", "--forms", "eml"]) == 0
    assert len(json.loads((tmp_path / "c" / "manifest.json").read_text(encoding="utf-8"))["files"]) == 2
    assert main(["--out", str(tmp_path / "d"), "--seed", "3", "--count", "1", "--forms", "telex"]) == 2


def test_tesseract_reads_a_polish_scan(corpus: tuple[Path, list[dict]]) -> None:
    out, records = corpus
    r = next(r for r in records if r["form"] == "scan_png" and r["documents"][0]["language"] == "pl")
    with Image.open(out / r["file"]) as img:
        ocr = pytesseract.image_to_string(img, lang="pol", timeout=120)
    ratio = difflib.SequenceMatcher(None, squash(ocr), squash(r["documents"][0]["text"]), autojunk=False).ratio()
    assert ratio >= 0.9, ratio
