"""Language of a letter: pl, cs, ru or en, else "und".

lingua restricted to the four languages does the work. It always answers one of the four, so
a cheap function-word check turns text that has almost none of their common words (German,
Hungarian, a page of numbers) into "und".
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING

from classifiers.text import fold

if TYPE_CHECKING:
    from lingua import LanguageDetector

LANGUAGES: tuple[str, ...] = ("pl", "cs", "ru", "en")
UNDETERMINED = "und"

MIN_LETTERS = 3  # fewer letters than this: nothing to decide on
MIN_CONFIDENCE = 0.40  # lingua's top value below this (of four summing to 1): undecidable
MAX_CHARS = 6000  # bound the work on very long documents; the opening carries the language
# With this many words, a text in one of the four languages has some of their function words.
MIN_WORDS_FOR_STOPWORD_CHECK = 12
MIN_STOPWORD_SHARE = 0.06

# Common function words (diacritics folded, casefolded).
_STOPWORDS: frozenset[str] = frozenset(
    fold(w)
    for w in """
    i w z na do nie sie ze jest to o od za po jak ale czy a tak dla przez oraz moj moje mojej
    prosze pan pani panstwa ktory ktora ktore jako tym tego juz bo przy dnia umowy
    a v ve se na je to ze z do o k s za pro jako ale jsem jste bych by po od tak nebo ktery
    ktera ktere dobry den vas vasi mne muj moje prosim dekuji smlouvy
    и в не на я что с по к у о от за из как а но же бы вы мне мой моя мои для это или
    прошу вас ваш от до при уважаемые договора
    the a an of to and in is it for on with as be by this that at from or my i you your
    we our please dear regards have has not are was am would
    """.split()
)

_lock = threading.Lock()
_detector_instance: LanguageDetector | None = None
_CODES: dict[str, str] = {"POLISH": "pl", "CZECH": "cs", "RUSSIAN": "ru", "ENGLISH": "en"}
_WORD = re.compile(r"[^\W\d_]+")


def _detector() -> LanguageDetector:
    """Built once per process on first use (lingua loads its models lazily, ~23 MB in low-accuracy mode)."""
    global _detector_instance
    if _detector_instance is None:
        with _lock:
            if _detector_instance is None:
                from lingua import Language, LanguageDetectorBuilder

                _detector_instance = (
                    LanguageDetectorBuilder.from_languages(
                        Language.POLISH, Language.CZECH, Language.RUSSIAN, Language.ENGLISH
                    )
                    .with_low_accuracy_mode()
                    .build()
                )
    return _detector_instance


def _looks_foreign(words: list[str]) -> bool:
    if len(words) < MIN_WORDS_FOR_STOPWORD_CHECK:
        return False
    hits = sum(1 for w in words if fold(w.casefold()) in _STOPWORDS)
    return hits / len(words) < MIN_STOPWORD_SHARE


def detect_language(text: str) -> tuple[str, float]:
    """Return (code, confidence); ("und", 0.0) for empty or undecidable text."""
    sample = text[:MAX_CHARS]
    words = _WORD.findall(sample)
    if sum(len(w) for w in words) < MIN_LETTERS:
        return UNDETERMINED, 0.0
    values = _detector().compute_language_confidence_values(sample)
    if not values:
        return UNDETERMINED, 0.0
    top = values[0]
    confidence = round(float(top.value), 4)
    if confidence < MIN_CONFIDENCE:
        return UNDETERMINED, confidence
    if _looks_foreign(words):
        return UNDETERMINED, round(min(confidence, 0.2), 4)
    return _CODES[top.language.name], confidence
