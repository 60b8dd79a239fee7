"""The independent evaluation set (evaluation/letters) and the tuning set (tuning/letters) are well-formed.

The set is only measured, never used to train or tune anything. Its accuracy figures (issue 14: entity F1
>= 0.90, customer-number recall >= 0.95) come from ``python -m evaluation.truth`` (plain texts) and
``python -m bench.classify`` (through the real pipeline, with OCR), recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

import phonenumbers
import pytest
from stdnum import iban as std_iban
from stdnum.cz import rc as cz_rc
from stdnum.pl import nip as pl_nip
from stdnum.pl import pesel as pl_pesel
from stdnum.pl import regon as pl_regon
from stdnum.ru import inn as ru_inn
from stdnum.ru import ogrn as ru_ogrn

from classifiers.entities import _ico_valid, _snils_valid
from evaluation.truth import LANGUAGES, ROOT, load_letters
from ground.records import CATEGORIES, ENTITY_NAMES

CHECKSUMS = {"pesel": pl_pesel.is_valid, "nip": pl_nip.is_valid, "regon": pl_regon.is_valid, "ico": _ico_valid,
             "rodne_cislo": cz_rc.is_valid, "inn": ru_inn.is_valid, "snils": _snils_valid, "ogrn": ru_ogrn.is_valid}

if not ROOT.exists():
    pytest.skip("no evaluation set in this tree", allow_module_level=True)

TUNING = ROOT.parents[1] / "tuning" / "letters"
NUMBERS = ROOT.parents[1] / "tuning" / "numbers"  # 20 letters per language about invoice and contract numbers
SETS = {"evaluation": (ROOT, 8), "tuning": (TUNING, 4), "numbers": (NUMBERS, 0)}  # root, letters per pair


@pytest.fixture(params=sorted(SETS), scope="module")
def letter_set(request: pytest.FixtureRequest) -> tuple[object, int, list]:
    root, per_pair = SETS[request.param]
    return root, per_pair, load_letters(root)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def test_the_same_number_of_letters_per_language_and_category(letter_set: tuple) -> None:
    root, per_pair, letters = letter_set
    if not per_pair:  # tuning/numbers: a set of its own size
        assert Counter(letter.language for letter in letters) == {lang: 20 for lang in LANGUAGES}
        return
    counts = Counter((letter.language, letter.category) for letter in letters)
    assert {lang for lang, _ in counts} == set(LANGUAGES)
    assert {cat for _, cat in counts} == set(CATEGORIES)
    assert all(counts[lang, cat] == per_pair for lang in LANGUAGES for cat in CATEGORIES), counts
    for lang in LANGUAGES:  # every letter has its truth and every truth its letter
        txt = {p.stem for p in (root / lang).glob("*.txt")}
        truth = {p.stem for p in (root / lang).glob("*.json")}
        assert txt == truth and len(txt) == per_pair * len(CATEGORIES)
    assert all((ROOT / lang / "README.md").exists() for lang in LANGUAGES) and (TUNING.parent / "README.md").exists()
    assert all(letter.stem.startswith(letter.language + "_") for letter in letters)


def test_the_tuning_set_shares_no_letter_with_the_evaluation_set() -> None:
    evaluation = {x.text.strip() for x in load_letters(ROOT)}
    assert not [x.stem for x in load_letters(TUNING) + load_letters(NUMBERS) if x.text.strip() in evaluation]


def test_every_truth_entity_is_in_the_letter(letter_set: tuple) -> None:
    """Identifiers are written literally; normalised values (national ids, IBANs, phones, amounts) are there
    once the separators are ignored, and checksummed ids and IBANs are valid."""
    problems: list[str] = []
    for letter in letter_set[2]:
        text, digits = letter.text, _digits(letter.text)
        compact = re.sub(r"\s", "", text).upper()
        assert set(letter.entities) <= set(ENTITY_NAMES), letter.stem
        for kind, values in letter.entities.items():
            assert values == sorted(set(values)) or len(values) == len(set(values)), (letter.stem, kind)
            for v in values:
                if kind in ("customer_id", "contract_no", "invoice_no"):
                    ok = v in text
                elif kind == "email":
                    ok = v == v.lower() and v in text.lower()
                elif kind in CHECKSUMS:
                    ok = v.isdigit() and v in digits and CHECKSUMS[kind](v)
                elif kind == "iban":
                    # a domestic account number is written without its country code ("57 6915 …" for PL57…)
                    ok = (v in compact or v[2:] in compact) and std_iban.is_valid(v)
                elif kind == "phone":
                    number = phonenumbers.parse(v)
                    ok = phonenumbers.is_valid_number(number) and str(number.national_number) in digits
                elif kind == "amount":
                    m = re.fullmatch(r"(\d+)\.(\d{2}) ([A-Z]{3})", v)
                    ok = m is not None and _digits(m.group(1)) in digits
                elif kind == "date":
                    day = date.fromisoformat(v)
                    ok = str(day.year) in text or f"{day.year % 100:02d}" in text
                else:
                    ok = False
                if not ok:
                    problems.append(f"{letter.stem} {kind} {v!r}")
    assert problems == []
