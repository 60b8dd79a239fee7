"""Category of a letter from weighted cues (see classifiers/lexicon.py for the cue syntax).

Each cue found adds its weight to its category: doubled when it is in a subject line
("Dotyczy:", "Věc:", "Тема:", "Subject:", "Re:", …), a little more when it repeats, full for
the letter's language and reduced for the other three (OCR or a misdetected language must not
blind the classifier). When nothing clear is found, a one-edit fuzzy pass over long stems
catches OCR slips ("rekIamacja"). Confidence is a softmax (temperature 2) over the category
scores with "other" held at a baseline of 1, so a letter with no cue gets "other" at ~0.14.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

from classifiers.lexicon import LEXICON
from classifiers.text import category_view
from ground.records import CATEGORIES

OTHER = "other"
OTHER_BASELINE = 1.0
TEMPERATURE = 2.0
SUBJECT_FACTOR = 2.0
REPEAT_BONUS = 0.25  # per extra occurrence, at most two counted
FOREIGN_FACTOR = 0.4  # cues of the other three languages
UNDETERMINED_FACTOR = 0.7  # all cues when the language is unknown
FUZZY_FACTOR = 0.75
FUZZY_BELOW = 3.0  # run the fuzzy pass only when no category scored this much
FUZZY_MIN_STEM = 7
MAX_CHARS = 30000  # bound the work on very long documents
PRIORITY = ("legal", "gdpr_request")  # win ties: these letters go first

_SUBJECT = re.compile(
    r"^[ \t>*#-]*(?:dotyczy|dot\.|w sprawie|temat|sprawa|vec|predmet|ve veci|тема|по вопросу|касательно"
    r"|subject|regarding|re|fw|fwd|ref|aw|wg)(?!\w)[ \t]*[:.]?(.*)$",
    re.MULTILINE,
)
_WORD = re.compile(r"[^\W\d_]{6,}")


@dataclass
class CategoryResult:
    category: str
    confidence: float
    reasons: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Cue:
    category: str
    label: str  # the cue as written in the lexicon
    pattern: re.Pattern[str]
    weight: float
    stem: str | None  # a single long stem, eligible for the fuzzy pass
    needle: str  # the longest literal piece every match contains: a letter without it is not searched


def _word_regex(word: str) -> str:
    whole = word.endswith("=")
    word = word.rstrip("=")
    pieces = [re.escape(p) for p in re.split(r"[^\w]+", word) if p]
    body = r"\W?".join(pieces)  # "e-faktur" also matches "efaktura" and "e faktura"
    return body + (r"(?!\w)" if whole else r"\w*")


def _compile(label: str, category: str, weight: float) -> _Cue:
    text = label
    inside = True
    if text.startswith("^"):
        text, inside = text[1:], False
    norm = category_view(text)
    words = norm.split()
    single = len(words) == 1 and not words[0].endswith("=") and re.fullmatch(r"\w+", words[0]) is not None
    inside = inside and single and len(words[0]) >= FUZZY_MIN_STEM
    source = r"\W+(?:\w+\W+){0,2}?".join(_word_regex(w) for w in words)
    pattern = re.compile(source if inside else r"(?<!\w)" + source)
    stem = words[0] if single and len(words[0]) >= FUZZY_MIN_STEM else None
    pieces = [p for w in words for p in re.split(r"[^\w]+", w.rstrip("=")) if p]
    return _Cue(category, label.lstrip("^"), pattern, weight, stem, max(pieces, key=len, default=""))


@lru_cache(maxsize=1)
def _all_cues() -> dict[str, tuple[_Cue, ...]]:
    cues: dict[str, tuple[_Cue, ...]] = {}
    for lang, table in LEXICON.items():
        compiled: list[_Cue] = []
        for category, block in table.items():
            if category not in CATEGORIES:
                raise ValueError(f"lexicon {lang}: unknown category {category!r}")
            for item in block.split(","):
                item = " ".join(item.split())
                if not item:
                    continue
                label, _, weight = item.partition("|")
                compiled.append(_compile(label.strip(), category, float(weight) if weight else 1.0))
        cues[lang] = tuple(compiled)
    return cues


@lru_cache(maxsize=8)
def _cues_for(language: str) -> tuple[tuple[_Cue, float], ...]:
    """The cues to try with their language factor; one entry per distinct pattern and category."""
    chosen: dict[tuple[str, str], tuple[_Cue, float]] = {}
    for lang, cues in _all_cues().items():
        if language in LEXICON:
            factor = 1.0 if lang == language else FOREIGN_FACTOR
        else:
            factor = UNDETERMINED_FACTOR
        for cue in cues:
            if factor < 1.0 and language in LEXICON and (cue.stem is None and len(cue.label) < 6):
                continue  # short whole words ("sąd=", "cv=") mean other things in other languages
            key = (cue.category, cue.pattern.pattern)
            if key not in chosen or chosen[key][1] < factor:
                chosen[key] = (cue, factor)
    return tuple(chosen.values())


def _one_edit(a: str, b: str) -> bool:
    """True when a and b differ by at most one insertion, deletion or substitution."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :]
    return a[i:] == b[i + 1 :]


def _fuzzy_hit(stem: str, word: str) -> bool:
    n = len(stem)
    return any(_one_edit(stem, word[:k]) for k in (n - 1, n, n + 1) if k <= len(word))


def _softmax(scores: dict[str, float]) -> dict[str, float]:
    top = max(scores.values())
    exps = {c: math.exp((s - top) / TEMPERATURE) for c, s in scores.items()}
    total = sum(exps.values())
    return {c: e / total for c, e in exps.items()}


def classify_category(text: str, language: str) -> CategoryResult:
    """Score every category on the letter's cues; "other" with low confidence when none is found."""
    view = category_view(text[:MAX_CHARS])
    subject = "\n".join(m.group(1) for m in _SUBJECT.finditer(view))
    scores: dict[str, float] = {c: 0.0 for c in CATEGORIES}
    scores[OTHER] = OTHER_BASELINE
    hits: list[tuple[float, str]] = []
    matched_words: set[str] = set()
    for cue, factor in _cues_for(language):
        # a substring test is ~50x cheaper than the regex, and most of the ~670 cues are absent from a letter
        found = cue.pattern.findall(view) if cue.needle in view else []
        if not found:
            continue
        in_subject = bool(subject) and cue.pattern.search(subject) is not None
        gain = cue.weight * factor * (SUBJECT_FACTOR if in_subject else 1.0)
        gain *= 1.0 + REPEAT_BONUS * min(len(found) - 1, 2)
        scores[cue.category] += gain
        matched_words.update(found)
        where = " in subject" if in_subject else ""
        hits.append((gain, f"{cue.category}: '{found[0].strip()}' ~ {cue.label} ×{len(found)}{where} +{gain:.2f}"))

    if max(s for c, s in scores.items() if c != OTHER) < FUZZY_BELOW:
        words = {w for w in _WORD.findall(view) if not any(w in m for m in matched_words)}
        for cue, factor in _cues_for(language):
            if cue.stem is None:
                continue
            fuzzy = sorted(w for w in words if w[0] == cue.stem[0] or w[1] == cue.stem[1])
            fuzzy = [w for w in fuzzy if _fuzzy_hit(cue.stem, w)]
            if fuzzy:
                gain = cue.weight * factor * FUZZY_FACTOR
                scores[cue.category] += gain
                hits.append((gain, f"{cue.category}: '{fuzzy[0]}' ≈ {cue.label} (one edit) +{gain:.2f}"))

    probs = _softmax(scores)
    # Highest score wins; on a tie legal/GDPR first, then any real category before "other".
    rank = {c: (scores[c], c in PRIORITY, c != OTHER) for c in CATEGORIES}
    best = max(CATEGORIES, key=lambda c: rank[c])
    confidence = round(probs[best], 4)
    ranked = sorted(((s, c) for c, s in scores.items() if s > 0), reverse=True)
    reasons = [f"category {best} {confidence:.2f}; scores " + ", ".join(f"{c} {s:.2f}" for s, c in ranked[:4])]
    reasons += [why for _, why in sorted(hits, key=lambda h: -h[0])[:12]]
    if len(hits) <= 0:
        reasons.append("no category cue found")
    return CategoryResult(best, confidence, reasons, {c: round(s, 3) for c, s in scores.items()})
