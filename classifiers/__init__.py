"""Classifiers: language, category, entities and segment of a recognised letter.

``classify(text)`` composes them into a :class:`mailroom.records.Classification`; each part is a
plain function that can be replaced on its own (the category lexicon is the first to go).
"""

from __future__ import annotations

from classifiers.category import CategoryResult, classify_category
from classifiers.entities import extract_entities
from classifiers.language import detect_language
from classifiers.segment import detect_segment
from mailroom.records import Classification

MODEL_VERSION = "lexicon-1"

__all__ = [
    "MODEL_VERSION",
    "CategoryResult",
    "classify",
    "classify_category",
    "detect_language",
    "detect_segment",
    "extract_entities",
]


def classify(text: str) -> Classification:
    """Language, category with confidence and reasons, entities and segment of one document's text."""
    language, language_score = detect_language(text)
    category = classify_category(text, language)
    entities = extract_entities(text, language)
    segment = detect_segment(text, entities)
    reasons = [f"language {language} {language_score:.2f}", *category.reasons, f"segment {segment}"]
    return Classification(
        language=language,
        category=category.category,
        confidence=category.confidence,
        entities=entities,
        segment=segment,
        reasons=reasons,
        model_version=MODEL_VERSION,
    )
