"""Lemmas for archive search: the dictionary form of every word, so that ``umowa`` finds ``umowy``.

One lemmatiser per language, chosen by measuring recall and precision of dictionary-form queries on the
independent evaluation set and their speed (docs/benchmarks.md, "Inflection-aware search"):

- Polish: Morfeusz 2 with the SGJP dictionary (``morfeusz2``; the dictionary is inside the wheel).
- Russian: pymorphy3 with the OpenCorpora dictionary (``pymorphy3-dicts-ru``, a package: no download).
- Czech and English: simplemma's lemma tables (shipped in the package).

Each package loads its dictionary on first use, not on import. simplemma's own tables are front-coded
streams that take about 0.4 s of pure Python to decode in every process; ``make`` (and the image) turn them
into MARISA tries once (``python -m storage.lemmas``: ``lemma_tries/simplemma-<version>/``, simplemma's
``TrieDictionaryFactory``), which a process maps in milliseconds and which give the same lemmas. Without
them (or without ``marisa-trie``) the tables are decoded in memory as before.

A document is lemmatised in its own language (``Document.language``), one lemma per word, so the lemma
stream runs parallel to the folded stream (same number of words, same positions: a phrase of lemmas is a
phrase of forms). A Cyrillic word is Russian whatever the letter's language; a Latin word in a letter of
another language (a Russian letter, or one whose language is not known) keeps its own form. A word with a
digit is never lemmatised (numbers, invoice numbers, ids).

An analyser may offer several lemmas for one form (Polish ``danych``: ``dane``, ``dany``, ``dać``). The
document keeps one. Polish: nouns before adjectives before the rest (people search for nouns), then the lemma
the other readings lead to as well (see ``_polish``), then Morfeusz's order. Russian: pymorphy3's most
probable parse. Czech, English: simplemma has one lemma per form.

A query word, which has no context, is lemmatised in every language its script allows (Latin: Polish,
Czech, English; Cyrillic: Russian) and keeps every lemma the analysers offer, plus its own folded form: the
search matches a word whose lemma is any of them.

Lemmas are folded like the text (``storage.search.fold_token``: lower case, no diacritics, ``ł``→``l``,
``ё``→``е``), so ``zazalenie`` typed without diacritics finds ``zażaleniu`` too.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

LANGUAGES: tuple[str, ...] = ("pl", "cs", "ru", "en")
LATIN_LANGUAGES: tuple[str, ...] = ("pl", "cs", "en")
TOKEN = re.compile(r"[^\W_]+")  # = storage.search.TOKEN (search imports this module, not the other way)
_CYRILLIC = re.compile("[\u0400-\u04ff]")
_DIGIT = re.compile(r"\d")
_POS_ORDER = {"subst": 0, "depr": 0, "adj": 1}  # Morfeusz tags: nouns, then adjectives, then the rest
_lock = threading.Lock()
_morfeusz_lock = threading.Lock()  # a Morfeusz object is not safe to share between threads
_loaded: dict[str, Any] = {}


def _load(name: str, make: Callable[[], Any]) -> Any:
    if name not in _loaded:
        with _lock:
            if name not in _loaded:
                _loaded[name] = make()
    return _loaded[name]


def _morfeusz() -> Any:
    import morfeusz2

    return _load("pl", lambda: morfeusz2.Morfeusz(generate=False))


def _pymorphy() -> Any:
    import pymorphy3

    return _load("ru", pymorphy3.MorphAnalyzer)


@lru_cache(maxsize=100_000)
def _polish_readings(word: str) -> tuple[tuple[int, int, str], ...]:
    """Morfeusz's readings of ``word``: (part-of-speech rank, analyser order, lemma)."""
    analyser = _morfeusz()
    with _morfeusz_lock:
        interpretations = analyser.analyse(word)
    found: list[tuple[int, int, str]] = []
    for n, (start, _end, (_orth, lemma, tag, *_)) in enumerate(interpretations):
        if start != 0 or tag == "ign":  # "zrobiłem" = zrobił + em: the first segment carries the lemma
            continue
        found.append((_POS_ORDER.get(tag.split(":", 1)[0], 2), n, lemma.split(":", 1)[0]))  # "mama:Sf" → mama
    return tuple(found)


def _polish(word: str) -> list[str]:
    """Nouns first; then the lemma that the other readings' own forms lead to as well (``usług``: usługa or
    usługi; ``usługi`` is also a form of usługa, so usługa serves a query for either); then Morfeusz's order."""
    readings = _polish_readings(word)
    lemmas = {lemma for _, _, lemma in readings}

    def reached_from_others(lemma: str) -> int:
        return sum(1 for other in lemmas if other != lemma
                   and any(r[2] == lemma for r in _polish_readings(other)))

    ranked = sorted(readings, key=lambda r: (r[0], -reached_from_others(r[2]), r[1]))
    return [lemma for _, _, lemma in ranked]


def _russian(word: str) -> list[str]:
    return [p.normal_form for p in _pymorphy().parse(word)]


SIMPLEMMA_LANGUAGES: tuple[str, ...] = ("cs", "en")  # the languages simplemma lemmatises here
_TRIES = Path(__file__).with_name("lemma_tries")


def tries_dir() -> Path:
    """Where ``make`` keeps the tries for the installed simplemma (a new version gets new tries)."""
    from simplemma.__metadata__ import __version__

    return _TRIES / f"simplemma-{__version__}"


def build_tries(directory: Path | None = None) -> Path:
    """Build the missing tries of SIMPLEMMA_LANGUAGES in ``directory`` (default :func:`tries_dir`); each file
    appears whole or not at all (built aside, then renamed), so a process never maps half a trie."""
    from simplemma.strategies.dictionaries.trie_dictionary_factory import TrieDictionaryFactory

    directory = directory or tries_dir()
    directory.mkdir(parents=True, exist_ok=True)
    for lang in SIMPLEMMA_LANGUAGES:
        target = directory / f"{lang}.dic"
        if target.is_file():
            continue
        with tempfile.TemporaryDirectory(dir=directory) as scratch:
            TrieDictionaryFactory(disk_cache_dir=scratch).get_dictionary(lang)  # builds and saves <lang>.dic
            os.replace(Path(scratch) / f"{lang}.dic", target)
    return directory


def trie_factory() -> Any:
    """simplemma's dictionary factory over the prebuilt tries; None when one is missing (or marisa-trie is)."""
    directory = tries_dir()
    if not all((directory / f"{lang}.dic").is_file() for lang in SIMPLEMMA_LANGUAGES):
        return None
    try:
        from simplemma.strategies.dictionaries.trie_dictionary_factory import TrieDictionaryFactory

        return TrieDictionaryFactory(disk_cache_dir=str(directory))
    except ImportError:
        return None


def _simplemma_lemmatizer() -> Any:
    """simplemma over the prebuilt tries when they are there, else over its tables decoded in memory."""
    from simplemma import Lemmatizer
    from simplemma.strategies import DefaultStrategy

    factory = trie_factory()
    if factory is None:
        return Lemmatizer()
    return Lemmatizer(lemmatization_strategy=DefaultStrategy(dictionary_factory=factory))


def _simplemma(language: str) -> Callable[[str], list[str]]:
    def lemmatise(word: str) -> list[str]:
        return [_load("simplemma", _simplemma_lemmatizer).lemmatize(word, lang=language)]

    return lemmatise


_ANALYSERS: dict[str, Callable[[str], list[str]]] = {
    "pl": _polish, "ru": _russian, "cs": _simplemma("cs"), "en": _simplemma("en"),
}


def _fold(word: str) -> str:
    from storage.search import fold_token

    return fold_token(word)


@lru_cache(maxsize=300_000)
def analyses(word: str, language: str) -> tuple[str, ...]:
    """Every lemma ``language``'s lemmatiser gives ``word`` (lower case), folded, most likely first; () if none.

    Only a lemma that is one word in the index's sense (letters and digits) is kept: the lemma stream must
    have exactly one word per word of the text.
    """
    analyse = _ANALYSERS.get(language)
    if analyse is None or _DIGIT.search(word):
        return ()
    out: list[str] = []
    for lemma in analyse(word):
        parts = TOKEN.findall(lemma)
        if len(parts) == 1:
            folded = _fold(parts[0])
            if folded and folded not in out:
                out.append(folded)
    return tuple(out)


def token_language(word: str, language: str | None) -> str | None:
    """The lemmatiser for one word of a letter in ``language``: Cyrillic is Russian; Latin keeps the letter's."""
    if _CYRILLIC.search(word):
        return "ru"
    return language if language in LATIN_LANGUAGES else None


@lru_cache(maxsize=300_000)
def lemma(word: str, language: str | None) -> str:
    """The folded lemma the index keeps for ``word`` (a token of a letter in ``language``)."""
    lang = token_language(word, language)
    found = analyses(word.lower(), lang) if lang else ()
    return found[0] if found else _fold(word)


def lemma_words(text: str, language: str | None) -> list[str]:
    """One folded lemma per word of ``text`` (the words of ``storage.search.tokens``)."""
    return [lemma(w, language) for w in TOKEN.findall(text or "")]


def lemma_stream(text: str, language: str | None) -> str:
    """What ``search_entries.lemmas`` holds: the lemmas of ``text``, parallel to ``storage.search.fold(text)``."""
    return " ".join(lemma_words(text, language))


@lru_cache(maxsize=50_000)
def query_lemmas(word: str) -> tuple[str, ...]:
    """The folded lemmas a query word may stand for: its own folded form first, then every lemma in every
    language its script allows. A word with a digit is only itself."""
    own = _fold(word)
    out = [own] if own else []
    if _DIGIT.search(word):
        return tuple(out)
    languages = ("ru",) if _CYRILLIC.search(word) else LATIN_LANGUAGES
    for lang in languages:
        for found in analyses(word.lower(), lang):
            if found not in out:
                out.append(found)
    return tuple(out)


def warm_up(languages: tuple[str, ...] = LANGUAGES) -> None:
    """Load the lemmatisers' dictionaries now (about a second) instead of at the first letter or query."""
    for lang in languages:
        analyses("test", lang)


if __name__ == "__main__":  # `make install`: python -m storage.lemmas [DIRECTORY]
    print(build_tries(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
