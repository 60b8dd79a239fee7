"""Classifiers: language, category, entities and segment of a recognised letter.

``classify(text)`` composes them into a :class:`ground.records.Classification`; each part is a
plain function that can be replaced on its own (the category lexicon is the first to go).
"""

from __future__ import annotations

from classifiers.category import CategoryResult, classify_category
from classifiers.entities import extract_entities
from classifiers.language import detect_language
from classifiers.model import CategoryModel, default_model
from classifiers.segment import detect_segment
from ground.records import Classification

MODEL_VERSION = "lexicon-1"  # the version recorded when no trained model is shipped

__all__ = [
    "MODEL_VERSION",
    "CategoryResult",
    "classify",
    "classify_with",
    "classify_category",
    "detect_language",
    "detect_segment",
    "extract_entities",
]


def classify(text: str) -> Classification:
    """Language, category with confidence and reasons, entities and segment of one document's text."""
    return classify_with(text, default_model())


def classify_with(text: str, model: CategoryModel | None) -> Classification:
    """:func:`classify` with a given category model (None: the lexicon alone)."""
    language, language_score = detect_language(text)
    lexicon = classify_category(text, language)
    category, confidence, version = lexicon.category, lexicon.confidence, MODEL_VERSION
    reasons = [f"language {language} {language_score:.2f}"]
    if model is not None:
        textcat = model.textcat_probs(text)
        probs = model.combine(textcat, lexicon.scores)
        category = max(probs, key=probs.__getitem__)
        confidence, version = round(probs[category], 4), model.version
        top = sorted(textcat.items(), key=lambda kv: -kv[1])[:3]
        reasons.append(f"category {category} {confidence:.2f} ({model.version}: textcat "
                       + ", ".join(f"{c} {p:.2f}" for c, p in top) + f"; lexicon ×{model.lexicon_weight})")
    reasons += lexicon.reasons
    entities = extract_entities(text, language)
    segment = detect_segment(text, entities)
    reasons.append(f"segment {segment}")
    return Classification(
        language=language,
        category=category,
        confidence=confidence,
        entities=entities,
        segment=segment,
        reasons=reasons,
        model_version=version,
    )
