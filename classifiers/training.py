"""Training the category model: generated letters with OCR-like noise, agents' corrections, calibration.

Reproducible: every random choice comes from an RNG seeded with the training seed, spaCy's too.

Calibration must reflect wording the textcat has not seen (customers do not write our sentences), so the
lexicon weight and the temperature are fitted by *cross-fitting over sentence pools*: a model trained on
one part of the corpus generator's pools is scored on letters drawn from the other part, and the final
model, trained on everything it is allowed to see, keeps those two numbers.

- ``split="all"`` (``mailroom train``, the shipped model): calibrate even-pool model on odd-pool letters,
  train the final model on both halves (the widest phrasing we have).
- ``split="default"`` (``bench.classify``): calibrate on pool quarters 0 → 2, train on the even half only,
  so the benchmark's held-out corpus (odd half) stays unseen.

The training supplement (classifiers/supplement: short customer messages written by hand, apart from the
generator and the evaluation set) is training material in every split: each text as a message of its own,
clean and noised, and once inside the frame of a generated letter of the split's pools (salutation, addresses,
sign-off) in place of its paragraphs. Calibration stays cross-fitted: the probe model learns the even-indexed
supplement texts only, and the odd-indexed ones join the calibration letters; the final model learns them all.

Content-free text (the supplement's ``NEUTRAL`` notes: greetings, cover notes, sign-offs, reference lines) comes
with letters of every category, so it must carry no category evidence. Each note is trained the same three ways
(clean, noised, inside a category-free letter frame) with the *uniform* target (``NO_CATEGORY``, see
:func:`train_textcat`), and calibration scores it against the uniform distribution (:func:`fit_combination`),
cross-fitted like the rest of the supplement.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from classifiers.category import classify_category
from classifiers.model import CategoryModel, combine, feature_view
from classifiers.phrases import PHRASES
from classifiers.supplement import NEUTRAL, SUPPLEMENT
from classifiers.text import fold
from ground.errors import MailroomError, NotFound
from ground.records import CATEGORIES

if TYPE_CHECKING:
    from spacy.language import Language
    from sqlalchemy.orm import Session

    from corpus.letters import Letter

LANGS: tuple[str, ...] = ("pl", "cs", "ru", "en")
HASH_LENGTH = 2**16  # textcat feature table rows: 65536 × 11 floats ≈ 2.9 MB on disk
CORRECTION_COPIES = 4  # an agent's correction outweighs a generated letter
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
TEMPERATURES = tuple(round(0.25 * 1.25**k, 4) for k in range(18))  # 0.25 … ~11
NO_CATEGORY = ""  # Example.category of content-free text: trained and calibrated towards the uniform distribution
# Letters of these categories have frames (addresses, reference lines, sign-off) that do not depend on the category;
# a legal letter's frame names a law firm and a case, complaint/invoice/payment frames may carry an invoice number.
PLAIN_FRAME_CATEGORIES = ("cancellation", "service_order", "fault_report", "data_change", "number_porting", "other")


@dataclass(frozen=True)
class Example:
    text: str
    category: str  # one of CATEGORIES, or NO_CATEGORY for text that is evidence of none
    language: str


# ---------------------------------------------------------------------------- pool splits
_SPLITS: dict[str, Callable[[int], bool]] = {
    "default": lambda i: i % 2 == 0,
    "holdout": lambda i: i % 2 == 1,
    "all": lambda i: True,
    "q0": lambda i: i % 4 in (0, 1),  # quarters of the default half: items 0, 4, 8 … and 2, 6, 10 …
    "q2": lambda i: i % 4 in (2, 3),
}


@contextlib.contextmanager
def pool_split(name: str) -> Iterator[None]:
    """Make ``corpus.letters.compose`` draw only the pool items of one split (``holdout`` is ignored).

    Quarter splits take a quarter of each pool's default half; a pool too small for that keeps its half.
    """
    import corpus.letters as letters

    keep = _SPLITS[name]
    quarter = name in ("q0", "q2")
    original = letters.half

    def half(items: list[str], holdout: bool) -> list[tuple[int, str]]:
        if quarter:
            base = [(i, s) for i, s in enumerate(items) if i % 2 == 0]
            chosen = [(i, s) for i, s in base if keep(i)]
            return chosen or base
        return [(i, s) for i, s in enumerate(items) if keep(i)]

    letters.half = half
    try:
        yield
    finally:
        letters.half = original


# ---------------------------------------------------------------------------- OCR-like noise
_CONFUSIONS: dict[str, tuple[str, ...]] = {
    "l": ("1", "I", "i"), "i": ("l", "1"), "I": ("l", "1"), "o": ("0", "a"), "O": ("0",), "e": ("c", "o"),
    "c": ("e",), "m": ("rn", "nn"), "n": ("u", "ri"), "u": ("n", "ii"), "h": ("b", "li"), "a": ("o", "e"),
    "t": ("f",), "f": ("t",), "S": ("5",), "B": ("8",), "g": ("q",), "y": ("v",), "w": ("vv",),
    "ą": ("a", "q"), "ę": ("e", "c"), "ł": ("t", "l"), "ś": ("s",), "ż": ("z",), "ź": ("z",), "ó": ("o",),
    "č": ("c", "ć"), "ř": ("r",), "š": ("s",), "ž": ("z",), "ě": ("e",), "ů": ("u",), "ý": ("y",), "í": ("i",),
    "á": ("a",), "é": ("e",), "и": ("н", "й"), "н": ("и",), "й": ("и",), "ш": ("щ", "ш"), "щ": ("ш",),
    "е": ("с", "ё"), "ё": ("е",), "о": ("0", "с"), "п": ("л", "н"), "л": ("п",), "ь": ("ъ", "б"), "ы": ("ь",),
    "з": ("3",), "б": ("6",), "в": ("з",), "т": ("г",),
}  # fmt: skip


def noisy(text: str, rng: random.Random, level: float = 1.0) -> str:
    """Text as OCR might return it: diacritics lost, characters confused, words joined or split."""
    if rng.random() < 0.3 * level:
        text = fold(text)
    sub, join, split, drop = 0.025 * level, 0.03 * level, 0.01 * level, 0.005 * level
    out: list[str] = []
    for ch in text:
        r = rng.random()
        if ch == " ":
            if r < join:
                continue
            out.append(ch)
        elif r < sub and ch in _CONFUSIONS:
            out.append(rng.choice(_CONFUSIONS[ch]))
        elif r < sub + drop:
            continue
        elif r < sub + drop + split and ch.isalpha():
            out.append(ch + " ")
        else:
            out.append(ch)
    return "".join(out)


# ---------------------------------------------------------------------------- examples
def _with_phrases(letter: Letter, rng: random.Random) -> str:
    """The letter with classifiers/phrases.py wording: its paragraphs replaced (25 %) or extended (30 %)."""
    own = PHRASES[letter.language][letter.category]
    r = rng.random()
    if r >= 0.55:
        return letter.text
    chosen = rng.sample(own, rng.randint(1, min(3, len(own))))
    blocks = ["\n".join(b.lines) for b in letter.blocks if r >= 0.25 or b.kind != "para"]
    where = next((i + 1 for i in range(len(letter.blocks) - 1, -1, -1)
                  if letter.blocks[i].kind in ("salutation", "subject", "refs")), 0)
    where = min(where, len(blocks))
    blocks[where:where] = [" ".join(chosen)] if rng.random() < 0.5 else chosen
    return "\n\n".join(blocks)


def phrase_examples(seed: int, copies: int = 2) -> list[Example]:
    """Every phrase of classifiers/phrases.py as a short message of its own, clean and noised."""
    rng = random.Random(f"mailroom-phrases:{seed}")
    out = []
    for lang, table in PHRASES.items():
        for cat, items in table.items():
            for item in items:
                for k in range(copies):
                    out.append(Example(noisy(item, rng) if k else item, cat, lang))
    return out


def generated_examples(seed: int, per_pair: int, split: str = "default", noise_share: float = 0.5,
                       languages: Sequence[str] = LANGS, categories: Sequence[str] = CATEGORIES,
                       phrases: bool = True) -> list[Example]:
    """``per_pair`` letters per language × category drawn from one pool split; a share of them noised.

    40 % are the e-mail body form (no address blocks); with ``phrases`` about half carry wording from
    classifiers/phrases.py instead of or besides the generator's paragraphs.
    """
    from corpus.letters import compose

    examples: list[Example] = []
    with pool_split(split):
        for lang in languages:
            for cat in categories:
                for i in range(per_pair):
                    rng = random.Random(f"mailroom-train:{seed}:{split}:{lang}:{cat}:{i}")
                    letter = compose(rng, lang, cat, False)
                    if rng.random() < 0.4:
                        letter = letter.compact()
                    text = _with_phrases(letter, rng) if phrases else letter.text
                    if rng.random() < noise_share:
                        text = noisy(text, rng, level=rng.choice([0.5, 1.0, 1.5]))
                    examples.append(Example(text, cat, lang))
    return examples


_PARTS: dict[str, Callable[[int], bool]] = {"all": lambda i: True, "even": lambda i: i % 2 == 0,
                                            "odd": lambda i: i % 2 == 1}  # cross-fitting halves by index


def supplement_examples(seed: int, split: str = "default", part: str = "all",
                        languages: Sequence[str] = LANGS) -> list[Example]:
    """The supplement's texts (classifiers/supplement) as training examples: each clean, noised, and set in the
    frame of a generated letter of ``split``'s pools (same language and category, its paragraphs and subject
    replaced by the text; as an e-mail body 40 % of the time, noised half of the time).

    ``part``: ``all`` texts, or the ``even`` / ``odd`` indexed ones of each language × category (cross-fitting).
    """
    keep = _PARTS[part]
    out: list[Example] = []
    with pool_split(split):
        for lang in languages:
            for cat, items in SUPPLEMENT[lang].items():
                for i, item in enumerate(items):
                    if not keep(i):
                        continue
                    rng = random.Random(f"mailroom-supplement:{seed}:{split}:{lang}:{cat}:{i}")
                    out.append(Example(item, cat, lang))
                    out.append(Example(noisy(item, rng, level=rng.choice([0.5, 1.0, 1.5])), cat, lang))
                    out.append(Example(_in_frame(item, rng, lang, cat), cat, lang))
    return out


def _in_frame(item: str, rng: random.Random, lang: str, frame_category: str) -> str:
    """``item`` in the frame of a letter composed for ``frame_category`` (within an active :func:`pool_split`):
    its paragraphs and subject replaced by ``item``; as an e-mail body 40 % of the time, noised half of the time."""
    from corpus.letters import compose

    letter = compose(rng, lang, frame_category, False)
    if rng.random() < 0.4:
        letter = letter.compact()
    blocks = ["\n".join(b.lines) for b in letter.blocks if b.kind not in ("para", "subject")]
    kinds = [b.kind for b in letter.blocks if b.kind not in ("para", "subject")]
    where = next((k + 1 for k in range(len(kinds) - 1, -1, -1) if kinds[k] in ("salutation", "refs")), 0)
    blocks[where:where] = [item]
    text = "\n\n".join(blocks)
    if rng.random() < 0.5:
        text = noisy(text, rng, level=rng.choice([0.5, 1.0]))
    return text


def neutral_examples(seed: int, split: str = "default", part: str = "all",
                     languages: Sequence[str] = LANGS) -> list[Example]:
    """The supplement's content-free notes (``NEUTRAL``) as ``NO_CATEGORY`` examples: each clean, noised, and set
    in the frame of a generated letter of ``split``'s pools (salutation, addresses, reference lines, sign-off;
    the frame of a category whose frame says nothing of it, PLAIN_FRAME_CATEGORIES).

    ``part``: ``all`` notes, or the ``even`` / ``odd`` indexed ones of each language (cross-fitting).
    """
    keep = _PARTS[part]
    out: list[Example] = []
    with pool_split(split):
        for lang in languages:
            for i, item in enumerate(NEUTRAL[lang]):
                if not keep(i):
                    continue
                rng = random.Random(f"mailroom-neutral:{seed}:{split}:{lang}:{i}")
                out.append(Example(item, NO_CATEGORY, lang))
                out.append(Example(noisy(item, rng, level=rng.choice([0.5, 1.0, 1.5])), NO_CATEGORY, lang))
                out.append(Example(_in_frame(item, rng, lang, rng.choice(PLAIN_FRAME_CATEGORIES)), NO_CATEGORY, lang))
    return out


def corrections_from_db(session: Session) -> list[Example]:
    """Agents' reclassifications (the ``training_examples`` table), oldest first."""
    from sqlalchemy import select

    from storage.models import TrainingExample

    rows = session.scalars(select(TrainingExample).order_by(TrainingExample.id)).all()
    return [Example(r.text, r.category, r.language or "und") for r in rows if r.category in CATEGORIES]


def record_correction(session: Session, document_id: str, category: str, actor: str, now: datetime) -> None:
    """Store a document's text with the category an agent gave it, as a training example for the next model."""
    from storage.models import Document, TrainingExample

    if category not in CATEGORIES:
        raise MailroomError(f"Unknown category {category!r}; use one of: {', '.join(CATEGORIES)}.")
    doc = session.get(Document, document_id)
    if doc is None:
        raise NotFound(f"Document {document_id} does not exist.")
    session.add(TrainingExample(document_id=document_id, text=doc.text or "", language=doc.language,
                                category=category, actor=actor, created_at=now))
    session.flush()


# ---------------------------------------------------------------------------- training
def _target(category: str) -> dict[str, float]:
    """The textcat's ``cats`` for an example: one-hot, or all zeros for NO_CATEGORY, which is the uniform target.

    spaCy's exclusive textcat accepts only 0/1 values (E851), so 1/K cannot be written; but its loss is the squared
    error of the softmax output p, and on the simplex (sum p = 1) ||p - 0||^2 = ||p - 1/K||^2 + 1/K: the same
    gradient, minimal at the uniform distribution.
    """
    return {c: float(c == category) for c in CATEGORIES}


def train_textcat(examples: Sequence[Example], seed: int, epochs: int = 8) -> Language:
    """A blank multilingual pipeline with an exclusive bag-of-stems textcat trained on ``examples``
    (NO_CATEGORY examples towards the uniform distribution)."""
    import spacy
    from spacy.training import Example as SpacyExample
    from spacy.util import fix_random_seed, minibatch

    fix_random_seed(seed)
    nlp = spacy.blank("xx")
    textcat = nlp.add_pipe("textcat", config={"model": {
        "@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": True, "ngram_size": 2,
        "no_output_layer": False, "length": HASH_LENGTH}})
    for c in CATEGORIES:
        textcat.add_label(c)
    docs = ((nlp.make_doc(feature_view(e.text)), e) for e in examples)
    data = [SpacyExample.from_dict(doc, {"cats": _target(e.category)})
            for doc, e in docs if len(doc)]  # nothing to learn from a text without a word (and spaCy fails on it)
    optimizer = nlp.initialize(lambda: data[:200])
    rng = random.Random(f"mailroom-train-order:{seed}")
    for _ in range(epochs):
        order = data[:]
        rng.shuffle(order)
        losses: dict[str, float] = {}
        for batch in minibatch(order, size=32):
            nlp.update(batch, sgd=optimizer, losses=losses)
    return nlp


def lexicon_scores(text: str, language: str) -> dict[str, float]:
    return classify_category(text, language).scores


def fit_combination(nlp: Language, examples: Sequence[Example]) -> tuple[float, float, float]:
    """(lexicon weight, temperature, accuracy) minimising the log-loss of the combined model on ``examples``.

    A NO_CATEGORY example's loss is the cross-entropy against the uniform distribution (mean of -log q over the
    categories); it counts in the loss but not in the accuracy (there is no right answer to get).
    """
    model = CategoryModel(nlp=nlp, version="calibration")
    probs = model.textcat_probs_many([e.text for e in examples])
    lex = [lexicon_scores(e.text, e.language) for e in examples]
    labelled = sum(e.category != NO_CATEGORY for e in examples) or 1
    best: tuple[float, float, float, float] | None = None
    for weight in WEIGHTS:
        for temperature in TEMPERATURES:
            loss = 0.0
            correct = 0
            for p, s, e in zip(probs, lex, examples, strict=True):
                q = combine(p, s, weight, temperature)
                if e.category == NO_CATEGORY:
                    loss -= sum(math.log(max(v, 1e-9)) for v in q.values()) / len(q)
                    continue
                loss -= math.log(max(q[e.category], 1e-9))
                correct += max(q, key=q.__getitem__) == e.category
            loss /= len(examples)
            if best is None or loss < best[0]:
                best = (loss, weight, temperature, correct / labelled)
    assert best is not None
    return best[1], best[2], best[3]


def model_version(nlp: Language) -> str:
    digest = hashlib.sha256(nlp.get_pipe("textcat").to_bytes(exclude=["vocab"])).hexdigest()
    return f"textcat-{digest[:10]}"


def build_model(seed: int = 1, split: str = "all", per_pair: int = 60, corrections: Sequence[Example] = (),
                epochs: int = 8, calibration_per_pair: int = 25, log: Callable[[str], None] | None = None,
                supplement: bool = True) -> CategoryModel:
    """Calibrate by cross-fitting over pool splits, then train the final textcat (see the module docstring).

    ``supplement=False`` leaves classifiers/supplement (its category texts and its neutral notes) out, to measure
    what it brings.
    """
    say = log or (lambda _m: None)
    fit_split, check_split = ("default", "holdout") if split == "all" else ("q0", "q2")
    started = time.perf_counter()
    fit_examples = generated_examples(seed, per_pair, fit_split) + phrase_examples(seed)
    check = generated_examples(seed + 1, calibration_per_pair, check_split, phrases=False)
    if supplement:  # the probe learns half of the supplement; the other half, unseen by it, is calibrated on
        fit_examples += supplement_examples(seed, fit_split, "even") + neutral_examples(seed, fit_split, "even")
        check += supplement_examples(seed + 1, check_split, "odd") + neutral_examples(seed + 1, check_split, "odd")
    probe = train_textcat(fit_examples, seed, epochs)
    weight, temperature, accuracy = fit_combination(probe, check)
    say(f"calibration: textcat on {fit_split} pools, {len(check)} letters of {check_split} pools: "
        f"lexicon_weight={weight} temperature={temperature} accuracy={accuracy:.3f} "
        f"({time.perf_counter() - started:.0f} s)")
    final_examples = generated_examples(seed, per_pair, split) + phrase_examples(seed)
    extra = supplement_examples(seed, split) if supplement else []
    neutral = neutral_examples(seed, split) if supplement else []
    final_examples += extra + neutral
    final_examples += [c for c in corrections for _ in range(CORRECTION_COPIES)]
    nlp = train_textcat(final_examples, seed, epochs)
    meta = {"seed": seed, "split": split, "per_pair": per_pair, "epochs": epochs, "examples": len(final_examples),
            "supplement": len(extra), "neutral": len(neutral), "corrections": len(corrections),
            "calibration_accuracy": round(accuracy, 4)}
    model = CategoryModel(nlp=nlp, version=model_version(nlp), lexicon_weight=weight, temperature=temperature,
                          meta=meta)
    say(f"trained {model.version} on {len(final_examples)} examples in {time.perf_counter() - started:.0f} s")
    return model


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """Weighted mean |accuracy − confidence| over equal-width confidence bins."""
    total = len(confidences)
    if not total:
        return 0.0
    ece = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, c in enumerate(confidences) if lo < c <= hi or (b == 0 and c == 0.0)]
        if idx:
            acc = sum(correct[i] for i in idx) / len(idx)
            conf = sum(confidences[i] for i in idx) / len(idx)
            ece += len(idx) / total * abs(acc - conf)
    return ece


def save(model: CategoryModel, out: Path) -> Path:
    model.to_disk(out)
    return out
