"""Business or individual sender: company ids or a legal-form word in the letter.

A letter that only names the operator's own legal form in the address block ("Orange Polska
S.A.") is still read as business; callers that know the operator's name should strip it first.
"""

from __future__ import annotations

import re

BUSINESS = "business"
INDIVIDUAL = "individual"

_LEGAL_FORM = re.compile(
    r"(?<!\w)(?:sp\.?\s?z\s?o\.?\s?o\.?|sp\.\s?[jkp]\.|s\.\s?a\.|spółk\w*|"  # pl
    r"s\.\s?r\.\s?o\.|spol\.\s?s\s?r\.\s?o\.|a\.\s?s\.|v\.\s?o\.\s?s\.|k\.\s?s\.|"  # cs
    r"ООО|ОАО|ЗАО|ПАО|АО|ИП|"  # ru (case kept: "ао"/"ип" are also plain syllables)
    r"ltd\.?|limited|llc|plc|inc\.|gmbh|corp\.)(?!\w)",
    re.IGNORECASE,
)
_RUSSIAN_FORMS = frozenset({"ООО", "ОАО", "ЗАО", "ПАО", "АО", "ИП"})


def detect_segment(text: str, entities: dict[str, list[str]]) -> str:
    """ "business" when a company id (NIP, IČO, 10-digit INN) or a legal-form word appears."""
    if entities.get("nip") or entities.get("ico") or any(len(v) == 10 for v in entities.get("inn", [])):
        return BUSINESS
    for m in _LEGAL_FORM.finditer(text):
        word = m.group(0)
        if word.upper() in _RUSSIAN_FORMS and word != word.upper():
            continue
        return BUSINESS
    return INDIVIDUAL
