"""The training supplement (classifiers/supplement): well formed, in the right languages, and in training; its
content-free notes trained towards no category, so that a cover note alone goes to triage."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest

import classifiers.training as training
from classifiers import classify_with
from classifiers.category import classify_category
from classifiers.language import detect_language
from classifiers.model import CategoryModel, shipped_model
from classifiers.phrases import PHRASES
from classifiers.supplement import NEUTRAL, SUPPLEMENT
from classifiers.training import (
    LANGS,
    NO_CATEGORY,
    Example,
    build_model,
    fit_combination,
    neutral_examples,
    supplement_examples,
)
from ground.records import CATEGORIES
from ground.settings import CONFIG_DIR
from queues.routing import load_rules

if TYPE_CHECKING:
    from spacy.language import Language

MIN_TEXTS = 12
CONFUSABLE = ("complaint", "invoice_query", "cancellation", "service_order", "fault_report", "other")


def test_every_language_and_category_has_enough_distinct_texts() -> None:
    assert set(SUPPLEMENT) == set(LANGS)
    for lang, table in SUPPLEMENT.items():
        assert set(table) == set(CATEGORIES), lang
        for cat, items in table.items():
            assert len(items) >= MIN_TEXTS, (lang, cat, len(items))
            # up to a one-page formal letter (sender block, subject line, three paragraphs, a closing)
            assert all(isinstance(t, str) and 20 <= len(t.strip()) <= 1500 for t in items), (lang, cat)
            assert len(set(items)) == len(items), (lang, cat)
        assert all(len(table[c]) > MIN_TEXTS for c in CONFUSABLE), lang  # more for the confusable pairs
    everything = [t for table in SUPPLEMENT.values() for items in table.values() for t in items]
    assert len(set(everything)) == len(everything)  # no text filed under two categories or languages


@pytest.mark.parametrize("lang", LANGS)
def test_texts_are_detected_in_their_language(lang: str) -> None:
    texts = [t for items in SUPPLEMENT[lang].values() for t in items]
    wrong = [t for t in texts if detect_language(t)[0] != lang]
    assert len(wrong) <= len(texts) // 50, wrong  # a diacritic-free one-liner may pass for a neighbour


def test_some_texts_are_written_without_diacritics() -> None:
    for lang in ("pl", "cs"):
        texts = [t for items in SUPPLEMENT[lang].values() for t in items]
        assert sum(t.isascii() for t in texts) >= 10, lang


def test_supplement_examples_are_reproducible_labelled_and_split_in_halves() -> None:
    first = supplement_examples(3, "default")
    assert first == supplement_examples(3, "default")
    assert first != supplement_examples(4, "default")
    total = sum(len(items) for table in SUPPLEMENT.values() for items in table.values())
    assert len(first) == 3 * total  # clean, noised, inside a generated letter's frame
    clean = {(e.language, e.category, e.text) for e in first}
    for lang, table in SUPPLEMENT.items():
        for cat, items in table.items():
            assert all((lang, cat, t) in clean for t in items)
    counts = Counter((e.language, e.category) for e in first)
    assert counts == Counter({(lang, cat): 3 * len(items) for lang, table in SUPPLEMENT.items()
                              for cat, items in table.items()})
    framed = first[2::3]
    assert sum(c.text in e.text for e, c in zip(framed, first[0::3], strict=True)) > len(framed) // 3
    assert sum(len(e.text) > len(c.text) + 40 for e, c in zip(framed, first[0::3], strict=True)) > len(framed) // 2
    even = {e.text for e in supplement_examples(3, "q0", "even")[0::3]}
    odd = {e.text for e in supplement_examples(3, "q2", "odd")[0::3]}
    assert not even & odd
    assert len(even) + len(odd) == total


def test_training_includes_the_supplement_and_calibrates_on_the_half_the_probe_did_not_learn(
        monkeypatch: pytest.MonkeyPatch) -> None:
    trained: list[list[Example]] = []
    calibrated: list[list[Example]] = []
    real_train, real_fit = training.train_textcat, training.fit_combination

    def train(examples: Sequence[Example], seed: int, epochs: int = 8) -> Language:
        trained.append(list(examples))
        return real_train(examples[:60], seed, 1)

    def fit(nlp: Language, examples: Sequence[Example]) -> tuple[float, float, float]:
        calibrated.append(list(examples))
        return real_fit(nlp, examples[:30])

    monkeypatch.setattr(training, "train_textcat", train)
    monkeypatch.setattr(training, "fit_combination", fit)
    model = build_model(seed=2, split="default", per_pair=1, epochs=1, calibration_per_pair=1)
    probe, final = ({e.text for e in examples} for examples in trained)
    check = {e.text for e in calibrated[0]}
    for notes in NEUTRAL.values():  # the content-free notes are cross-fitted the same way, with no category
        assert set(notes) <= final
        assert set(notes[0::2]) <= probe and not set(notes[1::2]) & probe
        assert set(notes[1::2]) <= check and not set(notes[0::2]) & check
    assert {e.category for e in trained[1] if e.text in NEUTRAL[e.language]} == {NO_CATEGORY}
    assert model.meta["neutral"] == 3 * sum(len(n) for n in NEUTRAL.values())
    phrases = {t for table in PHRASES.values() for items in table.values() for t in items}  # learnt anyway
    for table in SUPPLEMENT.values():
        for items in table.values():
            assert set(items) <= final
            assert set(items[0::2]) <= probe and not (set(items[1::2]) - phrases) & probe
            assert set(items[1::2]) <= check and not set(items[0::2]) & check
    assert model.meta["supplement"] == 3 * sum(len(i) for t in SUPPLEMENT.values() for i in t.values())

    trained.clear()
    calibrated.clear()
    without = build_model(seed=2, split="default", per_pair=1, epochs=1, calibration_per_pair=1, supplement=False)
    texts = {e.text for examples in trained + calibrated for e in examples}
    assert not texts & ({t for table in SUPPLEMENT.values() for items in table.values() for t in items} - phrases)
    assert not texts & {t for notes in NEUTRAL.values() for t in notes}
    assert without.meta["supplement"] == 0 and without.meta["neutral"] == 0


# ---------------------------------------------------------------------------- content-free notes
def test_neutral_notes_are_distinct_new_and_free_of_category_cues() -> None:
    assert set(NEUTRAL) == set(LANGS)
    texts = {t for table in SUPPLEMENT.values() for items in table.values() for t in items}
    for lang, notes in NEUTRAL.items():
        assert len(notes) >= 15 and len(set(notes)) == len(notes), lang
        assert not set(notes) & texts, lang
        for note in notes:  # the lexicon finds nothing in them either: no word of any category
            scores = classify_category(note, lang).scores
            assert all(v == 0 for c, v in scores.items() if c != "other"), (lang, note, scores)


def test_neutral_examples_are_reproducible_uncategorised_and_split_in_halves() -> None:
    first = neutral_examples(3, "default")
    assert first == neutral_examples(3, "default") and first != neutral_examples(4, "default")
    assert len(first) == 3 * sum(len(n) for n in NEUTRAL.values())  # clean, noised, inside a letter's frame
    assert {e.category for e in first} == {NO_CATEGORY}
    assert [e.text for e in first[0::3]] == [t for lang in LANGS for t in NEUTRAL[lang]]
    framed = first[2::3]
    assert sum(len(e.text) > len(c.text) + 40 for e, c in zip(framed, first[0::3], strict=True)) > len(framed) // 2
    even = {e.text for e in neutral_examples(3, "q0", "even")[0::3]}
    odd = {e.text for e in neutral_examples(3, "q2", "odd")[0::3]}
    assert not even & odd and len(even) + len(odd) == sum(len(n) for n in NEUTRAL.values())


def test_no_category_target_is_the_uniform_target_for_the_textcat_loss() -> None:
    """spaCy's exclusive textcat takes 0/1 targets only; all zeros gives the uniform target's gradient."""
    import numpy
    from thinc.api import NumpyOps

    assert training._target(NO_CATEGORY) == {c: 0.0 for c in CATEGORIES}
    assert training._target("payment") == {c: float(c == "payment") for c in CATEGORIES}
    ops = NumpyOps()
    logits = numpy.random.default_rng(0).normal(size=(5, len(CATEGORIES))).astype("f")
    p = ops.softmax(logits)
    zero = ops.backprop_softmax(p, p - 0.0)  # d(squared error)/d(output), through the softmax
    uniform = ops.backprop_softmax(p, p - 1.0 / len(CATEGORIES))
    assert numpy.allclose(zero, uniform, atol=1e-6)


def test_calibration_scores_a_neutral_note_against_the_uniform_distribution() -> None:
    import spacy
    from spacy.training import Example as SpacyExample

    nlp = spacy.blank("xx")
    textcat = nlp.add_pipe("textcat", config={"model": {"@architectures": "spacy.TextCatBOW.v3",
                                                        "exclusive_classes": True, "ngram_size": 1,
                                                        "no_output_layer": False, "length": 2**10}})
    for c in CATEGORIES:
        textcat.add_label(c)
    nlp.initialize(lambda: [SpacyExample.from_dict(nlp.make_doc("abc"), {"cats": training._target("other")})])
    notes = [Example(t, NO_CATEGORY, lang) for lang in LANGS for t in NEUTRAL[lang][:2]]
    assert all(max(p.values()) == pytest.approx(1 / len(CATEGORIES)) for p in
               CategoryModel(nlp=nlp, version="x").textcat_probs_many([e.text for e in notes]))
    weight, _temperature, accuracy = fit_combination(nlp, notes)
    assert weight == 0.0  # the lexicon's baseline for "other" would only move them away from uniform
    assert accuracy == 0.0  # nothing to be right about


# Written for this test only: in none of classifiers/supplement, classifiers/phrases.py or the corpus pools.
# Wording the neutral notes do not hold can still score high: with textcat-9948e74e63 "Hi, following on from our
# phone call, I've attached the document" scored data_change 0.507, just above the threshold; with the larger
# supplement (textcat-c55162753a) it scores 0.293 (docs/benchmarks.md, session 8).
COVER_NOTES = [
    ("pl", "Witam, tak jak się umawialiśmy, dokumenty przesyłam w załączeniu. Miłego dnia"),
    ("pl", "Dzień dobry, zgodnie z prośbą w załączeniu przekazuję skan. Pozdrawiam, Ewa"),
    ("cs", "Dobrý den, podle naší domluvy v příloze zasílám dopis. S pozdravem"),
    ("cs", "Vážení, dle dnešního telefonátu posílám slíbený dokument v příloze. Děkuji, Jan"),
    ("ru", "Здравствуйте, во вложении направляю письмо, как договаривались. С уважением"),
    ("ru", "Добрый день! Направляю Вам документы, о которых мы договорились. Всего хорошего"),
    ("en", "Good afternoon, please find attached the letter we spoke about. Best regards"),
]


@pytest.mark.parametrize(("lang", "note"), COVER_NOTES)
def test_shipped_model_sends_a_cover_note_alone_to_triage(lang: str, note: str) -> None:
    model = shipped_model()
    assert model is not None
    assert note not in NEUTRAL[lang]
    threshold = load_rules(CONFIG_DIR / "routing.yaml").confidence_threshold
    result = classify_with(note, model)
    assert result.confidence < threshold, (result.category, result.confidence)


def test_an_example_without_a_word_does_not_stop_training() -> None:
    """An agent's correction of a letter whose text is only a phone number must not make `mailroom train` fail."""
    from classifiers.training import Example, train_textcat

    nlp = train_textcat([Example("601 234 567", "complaint", "pl"),
                         Example("Proszę o korektę faktury za październik", "invoice_query", "pl"),
                         Example("Składam reklamację usługi internetu", "complaint", "pl")], seed=1, epochs=2)
    cats = nlp("Proszę o korektę faktury").cats
    assert set(cats) == set(CATEGORIES)
