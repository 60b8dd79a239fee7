"""Training supplement: short customer messages written apart from the corpus generator and the evaluation set.

The generator composes letters from its own sentence pools (corpus/pools), and classifiers/phrases.py adds one
sentence per request. Real customers write differently: two-line e-mails, formal letters in three sentences,
no diacritics, typos, and a letter about one thing that mentions another in passing (a complaint that names an
invoice, a cancellation because of a fault, thanks for a repair). These texts, written by hand for each
category × language, are training examples in every split of classifiers/training.py; they are never used for
evaluation, and calibration only sees the half of them that its probe model did not learn (cross-fitting).

``SUPPLEMENT[language][category]`` is a list of whole messages (a message may hold line breaks).

``NEUTRAL[language]``: content-free notes (greetings, cover notes such as "w załączniku przesyłam pismo",
sign-offs, "as discussed on the phone", reference lines). Such text says nothing about the letter's category,
yet it comes with letters of every category, so classifiers/training.py trains it towards the uniform
distribution over the categories: the model must learn that it is no evidence, for ``other`` either.
"""

from __future__ import annotations

from classifiers.supplement import cs, en, pl, ru

SUPPLEMENT: dict[str, dict[str, list[str]]] = {"pl": pl.TEXTS, "cs": cs.TEXTS, "ru": ru.TEXTS, "en": en.TEXTS}
NEUTRAL: dict[str, list[str]] = {"pl": pl.NEUTRAL, "cs": cs.NEUTRAL, "ru": ru.NEUTRAL, "en": en.NEUTRAL}

__all__ = ["NEUTRAL", "SUPPLEMENT"]
