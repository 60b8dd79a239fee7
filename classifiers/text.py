"""Text views shared by the classifiers: diacritics folding and OCR clean-up.

``fold`` keeps the text length (one character in, one out) so that offsets found in a folded
view point at the same place in the original; the category view does not need that.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Letters that have no Unicode decomposition but are routinely written or OCRed without their mark.
_EXTRA_FOLDS = {"ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "ı": "i"}


@lru_cache(maxsize=1)
def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for start, end in ((0x00C0, 0x0250), (0x0400, 0x0500), (0x1E00, 0x1F00)):
        for code in range(start, end):
            char = chr(code)
            base = unicodedata.normalize("NFD", char)[0]
            if base != char and base.isalpha():
                table[code] = base
    for char, base in _EXTRA_FOLDS.items():
        table[ord(char)] = base
    return table


def fold(text: str) -> str:
    """Strip diacritics one character for one (ą→a, ř→r, й→и, ё→е); length is preserved."""
    return text.translate(_fold_table())


_HYPHEN_BREAK = re.compile(r"(\w)-[ \t]*\r?\n[ \t]*(\w)")
_STRAY_IN_WORD = re.compile(r"(?<=[^\W\d_])[.'’`´\"|*~^](?=[^\W\d_])")
_DIGIT_IN_WORD = re.compile(r"(?<=[^\W\d_])[01](?=[^\W\d_])")
_DIGIT_LOOKALIKE = {"0": "o", "1": "l"}


def category_view(text: str) -> str:
    """Casefolded, diacritics-free text with the commonest OCR slips undone.

    Joins words hyphenated at a line end, drops a stray punctuation mark inside a word
    ("rekla.macja") and reads 0/1 inside a word as o/l ("rek1amacja").
    """
    view = fold(text.casefold())
    view = _HYPHEN_BREAK.sub(r"\1\2", view)
    view = _STRAY_IN_WORD.sub("", view)
    return _DIGIT_IN_WORD.sub(lambda m: _DIGIT_LOOKALIKE[m.group(0)], view)


_DIGIT_LIKE = re.compile(r"(?<=\d)[OoIl|](?=[OoIl|]*[ -]?\d)|(?<=\d[ -])[OoIl|](?=\d)")
_AS_DIGIT = str.maketrans("OoIl|", "00111")


def digit_view(text: str) -> str:
    """Read O/o and I/l/| next to digits as 0 and 1 ("44O5l4Ol359"); length is preserved."""
    for _ in range(3):  # a look-alike next to another look-alike is settled on the next pass
        changed = _DIGIT_LIKE.sub(lambda m: m.group(0).translate(_AS_DIGIT), text)
        if changed == text:
            break
        text = changed
    return text
