"""The trained category model: a spaCy ``textcat`` (bag of stems and stem bigrams) combined with the lexicon.

The text is first reduced to a *feature view*: casefolded, diacritics folded, common OCR slips undone
(``classifiers.text.category_view``), digits dropped and every word cut to its first ``STEM`` letters, so
"reklamację", "reklamacji" and an OCRed "reklamacje" are one feature. A blank multilingual spaCy pipeline
with an exclusive ``textcat`` (``spacy.TextCatBOW.v3``) reads that view.

The category decision combines both signals in logit space and is temperature-scaled::

    z_c = log p_textcat(c) + lexicon_weight * lexicon_score(c);  p = softmax(z / temperature)

``lexicon_weight`` and ``temperature`` are fitted on letters whose wording the textcat never saw (see
classifiers/training.py), so the confidence is calibrated for new phrasing, not for memorised sentences.
The model directory holds the spaCy pipeline plus ``mailroom.json`` (version, combination parameters).
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifiers.text import category_view
from ground.errors import ConfigError
from ground.records import CATEGORIES

if TYPE_CHECKING:
    from spacy.language import Language

MODEL_DIR = Path(__file__).resolve().parent / "model"
META_FILE = "mailroom.json"
STEM = 6
MAX_CHARS = 20000
_WORD = re.compile(r"[^\W\d_]{2,}")


def feature_view(text: str) -> str:
    """Words of the letter as folded stems, in order (the textcat's tokens)."""
    view = category_view(text[:MAX_CHARS])
    return " ".join(w[:STEM] for w in _WORD.findall(view))


@dataclass
class CategoryModel:
    nlp: Language
    version: str
    lexicon_weight: float = 1.0
    temperature: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)

    def textcat_probs(self, text: str) -> dict[str, float]:
        doc = self.nlp(feature_view(text))
        return {c: float(doc.cats.get(c, 0.0)) for c in CATEGORIES}

    def textcat_probs_many(self, texts: list[str]) -> list[dict[str, float]]:
        docs = self.nlp.pipe([feature_view(t) for t in texts], batch_size=64)
        return [{c: float(d.cats.get(c, 0.0)) for c in CATEGORIES} for d in docs]

    def combine(self, textcat: dict[str, float], lexicon: dict[str, float]) -> dict[str, float]:
        return combine(textcat, lexicon, self.lexicon_weight, self.temperature)

    def to_disk(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.nlp.to_disk(path)
        meta = {**self.meta, "version": self.version, "lexicon_weight": self.lexicon_weight,
                "temperature": self.temperature}
        (path / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def combine(textcat: dict[str, float], lexicon: dict[str, float], weight: float, temperature: float
            ) -> dict[str, float]:
    """Softmax over log textcat probability plus weighted lexicon score, divided by the temperature."""
    z = {c: (math.log(max(textcat.get(c, 0.0), 1e-6)) + weight * lexicon.get(c, 0.0)) / temperature
         for c in CATEGORIES}
    top = max(z.values())
    exps = {c: math.exp(v - top) for c, v in z.items()}
    total = sum(exps.values())
    return {c: e / total for c, e in exps.items()}


def load_model(path: Path) -> CategoryModel:
    """Load a model directory written by :meth:`CategoryModel.to_disk`."""
    import spacy

    meta_path = path / META_FILE
    if not meta_path.exists():
        raise ConfigError(f"{path} is no Mailroom category model (no {META_FILE}); run `mailroom train`.")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    nlp = spacy.load(path)
    return CategoryModel(nlp=nlp, version=meta["version"], lexicon_weight=float(meta["lexicon_weight"]),
                         temperature=float(meta["temperature"]), meta=meta)


_lock = threading.Lock()
_default: CategoryModel | None = None
_default_missing = False


_active: CategoryModel | None = None  # a model promoted in the service (pipeline.models), else the shipped one


def use_model(model: CategoryModel | None) -> None:
    """Classify with ``model`` from now on in this process; None: the shipped model again."""
    global _active
    _active = model


def default_model() -> CategoryModel | None:
    """The model in force in this process: the one given to :func:`use_model`, else the shipped one."""
    return _active if _active is not None else shipped_model()


def shipped_model() -> CategoryModel | None:
    """The model in the package, loaded once per process; None when the package carries none."""
    global _default, _default_missing
    if _default is None and not _default_missing:
        with _lock:
            if _default is None and not _default_missing:
                if (MODEL_DIR / META_FILE).exists():
                    _default = load_model(MODEL_DIR)
                else:
                    _default_missing = True
    return _default
