"""Sentence pools per language.

Every pool list is split by index parity into two disjoint halves: even items are the default
wordings, odd items the held-out ones (``holdout=True``), so a benchmark can train on one half
and evaluate on phrasing it has never seen.
"""

from __future__ import annotations

from types import ModuleType

from corpus.pools import cs, en, pl, ru

LANGUAGES: tuple[str, ...] = ("pl", "cs", "ru", "en")
POOLS: dict[str, ModuleType] = {"pl": pl, "cs": cs, "ru": ru, "en": en}


def half(items: list[str], holdout: bool) -> list[tuple[int, str]]:
    """The (index, item) pairs of one half of a pool."""
    start = 1 if holdout else 0
    return [(i, items[i]) for i in range(start, len(items), 2)]
