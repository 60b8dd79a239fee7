"""Entities of a letter, normalised (amount "149.99 PLN", phone E.164, date ISO, national ids as digits, …).

Customer, contract and invoice numbers are each operator's own: their labels and shapes are configuration
(``ground/config/entities.yaml``, see classifiers/entity_config.py) and values are reported as written.
National ids (PESEL, NIP, REGON, IČO, rodné číslo, INN, SNILS, OGRN) and IBANs are reported only when their
checksum is valid.

Extraction runs in an order that lets each finder blank what it took, so the digits of an e-mail, IBAN,
invoice, customer or contract number, date, national id or amount are never read again as a phone number:
e-mails, IBANs, configured shapes (MR-1234567, FV/2026/10/004512), SNILS in its written form, labelled
numbers ("Nr klienta: …"), dates, national ids, amounts, phones. Work happens on a copy of the text where
O/l between digits read as 0/1; that copy keeps every offset of the original.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal, InvalidOperation

import phonenumbers
from stdnum import iban as std_iban
from stdnum.cz import dic as cz_dic
from stdnum.cz import rc as cz_rc
from stdnum.pl import nip as pl_nip
from stdnum.pl import pesel as pl_pesel
from stdnum.pl import regon as pl_regon
from stdnum.ru import inn as ru_inn
from stdnum.ru import ogrn as ru_ogrn

from classifiers.entity_config import CONFIGURABLE, REGEX_TIMEOUT, EntityConfig, EntitySpec, entity_config
from classifiers.text import digit_view, fold
from ground.records import ENTITY_NAMES

PHONE_REGION = {"pl": "PL", "cs": "CZ", "ru": "RU", "en": "GB"}
# Where a number in national format may also be from, after the letter's own country: English letters come
# from Ireland as well as Britain ("085 064 0762" is no British number).
PHONE_ALSO = {"en": ("IE",)}
MAX_CHARS = 100000  # bound the work on very long documents
MAX_PHONES = 50


class _Text:
    """The text being mined, with the spans already taken blanked out (same length throughout)."""

    def __init__(self, text: str) -> None:
        self.original = text
        self.view = digit_view(text)

    def take(self, start: int, end: int) -> None:
        self.view = self.view[:start] + " " * (end - start) + self.view[end:]

    def masked(self) -> str:
        """The original text with the spans already taken blanked out (values as written, not as read)."""
        return "".join(" " if v == " " else o for o, v in zip(self.original, self.view, strict=True))


# ---------------------------------------------------------------------------- e-mail
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+[ ]?@[ ]?[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,24}(?![\w-])")


# OCR reads "@" as "©", "®" or "Q"; after an e-mail label a lone space stands for it too.
_AT_LOOKALIKE = re.compile(r"(?<=[\w.])[©®](?=[\w])")
_LABELLED_EMAIL = re.compile(
    r"(?:e-?mail|email|эл\. ?почта|e-?mailu?|adres e-mail)\s*:?\s*([\w.+-]+)(Q|[ ])([\w-]+(?:\.[\w-]+)*\.[a-z]{2,24})"
    r"(?![\w@-])",
    re.IGNORECASE,
)


def _emails(doc: _Text) -> list[str]:
    found = []
    doc.view = _AT_LOOKALIKE.sub("@", doc.view)
    for m in _LABELLED_EMAIL.finditer(doc.view):
        if "@" not in m.group(0) and (m.group(2) == " " or m.group(1).count("Q") == 0):
            doc.view = doc.view[: m.start(2)] + "@" + doc.view[m.end(2) :]
    for m in _EMAIL.finditer(doc.view):
        found.append(m.group(0).replace(" ", "").strip(".").lower())
        doc.take(m.start(), m.end())
    return found


# ---------------------------------------------------------------------------- IBAN
# Between two characters of an account number: nothing, a space, or a line wrap (a PDF's or a scan's lines end
# inside it); the checksum (and for an IBAN its country's length) decides where the number ends.
_GAP = r"(?:[ ]|[ \t]*\r?\n[ \t]*)?"
_IBAN = re.compile(rf"(?<![A-Za-z0-9])([A-Z]{{2}}[ ]?\d{{2}}(?:{_GAP}[A-Z0-9]){{11,32}})")
# A Polish account number written without "PL" (NRB: 26 digits, usually grouped 2+4×6).
_NRB = re.compile(rf"(?<![\w/-])(\d{{2}}(?:{_GAP}\d{{4}}){{6}})(?![\w/-])")
_ACCOUNT_LABEL = re.compile(r"(?:konto|konta|rachun\w*|account|účet|účtu|счет|счёт)\W", re.IGNORECASE)


def _valid_iban_prefix(chunk: str, start: int) -> tuple[str, int] | None:
    """Longest prefix of chunk that is a valid IBAN: (compact value, end offset in the text)."""
    positions = [i for i, ch in enumerate(chunk) if ch.isalnum()]
    compact = "".join(chunk[i] for i in positions)
    for length in range(min(len(compact), 34), 14, -1):
        if std_iban.is_valid(compact[:length]):
            return compact[:length], start + positions[length - 1] + 1
    return None


def _ibans(doc: _Text, language: str) -> list[str]:
    found = []
    for m in _IBAN.finditer(doc.view):
        hit = _valid_iban_prefix(m.group(1), m.start(1))
        if hit:
            found.append(hit[0])
            doc.take(m.start(1), hit[1])
    for m in _NRB.finditer(doc.view):
        labelled = _ACCOUNT_LABEL.search(doc.original[max(0, m.start() - 40) : m.start()]) is not None
        value = "PL" + re.sub(r"\D", "", m.group(1))
        if (language == "pl" or labelled) and std_iban.is_valid(value):
            found.append(value)
            doc.take(m.start(), m.end())
    return found


# ---------------------------------------------------------------------------- customer, contract, invoice numbers
# Labels and shapes are configuration (ground/config/entities.yaml, classifiers/entity_config.py).
_TOKEN = re.compile(r"[^\W_](?:[^\W_]|[/-](?=[^\W_]))*")
_NUMBER_GOES_ON = re.compile(r"[.,:]\d")  # "12.03.2026", "1,5": a date or a decimal, not an id
_LINE_WRAP = re.compile(r"[ \t]*\r?\n[ \t]*(?=\S)")  # a line wrapped inside a grouped id (a PDF's or a scan's)
_YEAR = re.compile(r"(?:19|20)\d\d")  # "umowa z 2019", "faktury 2024 r.": a year alone is no id
# "faktura nr 1500 zł": a number followed by its currency is an amount, not an id
_CURRENCY_FOLLOWS = re.compile(r"[ \u00a0]?(?:zł|zl|złotych|pln|kč|kc|korun|czk|руб|р\.|₽|rub|eur|euro|€|usd|\$|"
                               r"gbp|£)(?![^\W\d_])", re.IGNORECASE)


def _is_prefix(token: str) -> bool:
    """A short capital prefix written apart from its number ("WK 07731", "FVS 0389/10/2025")."""
    return token.isalpha() and token.isupper() and len(token) <= 5


def _id_after(text: str, pos: int, spec: EntitySpec) -> tuple[int, int] | None:
    """The span of the id that starts at ``pos`` (the built-in ``id`` value shape), or None."""
    first = _TOKEN.match(text, pos)
    if first is None or _NUMBER_GOES_ON.match(text, first.end()):
        return None
    spans = [(first.start(), first.end())]
    while True:
        end = spans[-1][1]
        wrap = _LINE_WRAP.match(text, end)
        if text[end : end + 1] != " " and wrap is None:
            break
        nxt = _TOKEN.match(text, wrap.end() if wrap else end + 1)
        if nxt is None or _NUMBER_GOES_ON.match(text, nxt.end()):
            break
        prev, word = text[slice(*spans[-1])], nxt.group(0)
        if not any(ch.isdigit() for ch in word):
            break
        after_prefix = len(spans) == 1 and _is_prefix(prev)
        next_group = prev.isdigit() and word.isdigit()
        if wrap is not None:  # a line break continues a prefix ("FA⏎2025/07/…") or a group of the same size
            next_group = next_group and len(spans) > 1 and len(word) == len(prev)  # ("ZU 7700⏎6659")
        if not (after_prefix or next_group):
            break
        spans.append((nxt.start(), nxt.end()))
    while len(spans) > 1 and spans[-1][1] - spans[0][0] > spec.max_length:
        spans.pop()
    start, end = spans[0][0], spans[-1][1]
    value = text[start:end]
    if not any(ch.isdigit() for ch in text[slice(*spans[0])]) and len(spans) == 1:
        return None
    if not any(ch.isdigit() for ch in value) or not spec.min_length <= len(value) <= spec.max_length:
        return None
    if _YEAR.fullmatch(value) or _CURRENCY_FOLLOWS.match(text, end):
        return None
    return start, end


def _value_after(text: str, pos: int, spec: EntitySpec) -> tuple[int, int] | None:
    if spec.value_regex is None:
        return _id_after(text, pos, spec)
    try:
        m = spec.value_regex.match(text, pos, timeout=REGEX_TIMEOUT)
    except TimeoutError:
        return None
    if m is None:
        return None
    group = "value" if "value" in spec.value_regex.groupindex else 0
    start, end = m.span(group)
    while end > start and text[end - 1] in _TRAILING:
        end -= 1
    if not spec.min_length <= end - start <= spec.max_length:
        return None
    return start, end


_TRAILING = ".,;:!?)]}»\"'/-–— \t"


def _claimed(folded: str, start: int, config: EntityConfig) -> set[str]:
    """The entities whose label is written right before ``start`` (past a between word, ":" or a dash)."""
    owners: set[str] = set()
    for name, m in config.matcher.find(folded, max(0, start - _CLAIM_WINDOW), start):
        gap = config.matcher.between.match(folded, m.end())
        if (gap.end() if gap else m.end()) == start:
            owners.add(name)
    return owners


_CLAIM_WINDOW = 80  # characters before a shape where its label may begin


def _configured_shapes(doc: _Text, config: EntityConfig, out: dict[str, list[str]]) -> None:
    """Values recognised by their shape alone (MR-1234567, FV/2026/10/004512, INV-2025-004418); a shape
    written right after another entity's label ("umowa nr 1234/05/2023") is left to that label."""
    folded: str | None = None
    for name in CONFIGURABLE:
        spec = config.entities.get(name)
        for pattern in spec.patterns if spec else ():
            try:
                found = list(pattern.compiled.finditer(doc.view, timeout=REGEX_TIMEOUT))
            except TimeoutError:
                continue
            for m in found:
                folded = fold(doc.masked()) if folded is None else folded
                owners = _claimed(folded, m.start(), config)
                if owners and name not in owners:
                    continue
                value = pattern.value(m).strip(_TRAILING)
                if value:
                    out[name].append(value)
                    doc.take(m.start(), m.end())


# "faktury nr 18812/2025 i 18813/2025", "invoices INV-1433 and INV-1434", "по счетам № 4471-Б и № 4502-Б",
# "квитанциям №№ 0000119044, 0000121377": a list after one label goes on with values of the same shape
_LIST_NEXT = re.compile(r"[ \t]*(?:[,;&+]|[ \t](?:i|a|oraz|lub|and|or|и|или|nebo)(?=[ \t]))[ \t]*\r?\n?[ \t]*"
                        r"(?:(?:№|nr\.?|č\.|no\.|#)[ \t]?)?", re.IGNORECASE)
MAX_LISTED = 10  # values after one label


def _shape(value: str) -> str:
    """"KV2025-01302" → "KV9999-99999": digits as 9, letters and separators as written."""
    return re.sub(r"\d", "9", value)


def _listed(text: str, end: int, spec: EntitySpec, first: str) -> Iterator[tuple[int, int]]:
    """The spans of further values of ``first``'s shape listed right after it (it ends at ``end``)."""
    for _ in range(MAX_LISTED):
        joint = _LIST_NEXT.match(text, end)
        if joint is None:
            return
        span = _id_after(text, joint.end(), spec)
        if span is None or _shape(text[span[0] : span[1]]) != _shape(first):
            return
        yield span
        end = span[1]


def _take(doc: _Text, text: str, span: tuple[int, int], spec: EntitySpec, values: list[str]) -> int:
    """Take the value at ``span`` and every value of its shape listed after it; the end of the last one."""
    first = text[span[0] : span[1]]
    end = span[1]
    for start, stop in [span, *_listed(text, span[1], spec, first)]:
        values.append(" ".join(text[start:stop].split()))
        doc.take(start, stop)
        end = stop
    return end


def _labelled(doc: _Text, config: EntityConfig, out: dict[str, list[str]]) -> None:
    """Values written after one of their labels ("Nr klienta: 40117235", "číslo smlouvy 7731/2022/B")."""
    matcher = config.matcher
    if matcher.empty:
        return
    masked = doc.masked()
    folded = fold(masked)
    done = 0  # end of the last value read: a label inside it is part of that value
    # every word start is tried: a label that has no value after it ("…UMOWY\nNr klienta: 123") hides none
    for name, m in matcher.find(folded):
        if m.start() < done or matcher.gap_hides_label(folded, m):
            continue
        span = None
        for pos in matcher.value_starts(folded, m.end()):
            span = _value_after(masked, pos, config.entities[name])
            if span is not None:
                break
        if span is None:
            continue
        done = _take(doc, masked, span, config.entities[name], out[name])


_DATE_LIKE = re.compile(r"\d{1,2}[/.-]\d{1,2}(?:[/.-]\d{2,4})?|\d{1,2}[/.-](?:19|20)\d\d|(?:19|20)\d\d[/.-]\d{1,2}"
                        r"(?:[/.-]\d{1,2})?")


def _looks_like_code(value: str, language: str) -> bool:
    """A value a bare label may take: letters and digits mixed ("NH250311", "KF/INV/250934"), digits joined
    by "/" or "-" that are not a date ("0019/0730/02"), or 6 to 12 digits alone ("41200957") that are not a
    phone number of the letter's country ("абонентский номер 89161234567")."""
    compact = value.replace(" ", "")
    if any(ch.isalpha() for ch in compact):
        return True
    if "/" in compact or "-" in compact:
        return not _DATE_LIKE.fullmatch(compact)
    if not 6 <= len(compact) <= 12:
        return False
    number = _phone_number(compact, language)
    if number is None:
        return True
    # a phone as people write it: in the national format (trunk prefix included) or the international one
    # without "+"; "7004402215" is a valid British number only once its 0 is added, so it is a code here
    written = {re.sub(r"\D", "", phonenumbers.format_number(number, fmt))
               for fmt in (phonenumbers.PhoneNumberFormat.NATIONAL, phonenumbers.PhoneNumberFormat.E164)}
    return compact not in written


def _phone_number(digits: str, language: str) -> phonenumbers.PhoneNumber | None:
    """``digits`` as a valid phone number of the letter's country, else None."""
    try:
        number = phonenumbers.parse(digits, PHONE_REGION.get(language, "ZZ"))
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def _bare(doc: _Text, language: str, config: EntityConfig, out: dict[str, list[str]]) -> None:
    """Values right after a bare label ("faktura FV/WT/25/0918231", "account 7004402215"), looked for after
    every other label has taken its value."""
    matcher = config.bare_matcher
    if matcher.empty:
        return
    masked = doc.masked()
    folded = fold(masked)
    done = 0
    for name, m in matcher.find(folded):
        if m.start() < done or config.bare_blocked(name, folded, m.start()):
            continue
        gap = matcher.between.match(folded, m.end())
        if gap is None:
            continue
        span = _id_after(masked, gap.end(), config.entities[name])
        if span is None or not _looks_like_code(masked[span[0] : span[1]], language):
            continue
        done = _take(doc, masked, span, config.entities[name], out[name])


# ---------------------------------------------------------------------------- dates
def _month_table() -> dict[str, int]:
    names = {
        # pl: nominative and genitive; cs: nominative and genitive; ru: nominative and genitive; en
        1: "styczeń stycznia leden ledna январь января january jan",
        2: "luty lutego únor února февраль февраля february feb",
        3: "marzec marca březen března март марта march mar",
        4: "kwiecień kwietnia duben dubna апрель апреля april apr",
        5: "maj maja květen května май мая may",
        6: "czerwiec czerwca červen června июнь июня june jun",
        7: "lipiec lipca červenec července июль июля july jul",
        8: "sierpień sierpnia srpen srpna август августа august aug",
        9: "wrzesień września září сентябрь сентября september sep sept",
        10: "październik października říjen října октябрь октября october oct",
        11: "listopad listopada listopadu ноябрь ноября november nov",
        12: "grudzień grudnia prosinec prosince декабрь декабря december dec",
    }
    return {fold(n): month for month, words in names.items() for n in words.split()}


_MONTHS = _month_table()
_MONTH_ALT = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10,
          "xi": 11, "xii": 12}  # fmt: skip
_DATE_DMY = re.compile(r"(?<![\d.,/-])(\d{1,2})[ ]?([./-])[ ]?(\d{1,2})[ ]?\2[ ]?((?:19|20)\d{2})(?![\d])")
_DATE_ISO = re.compile(r"(?<![\d.,/-])((?:19|20)\d{2})-(\d{1,2})-(\d{1,2})(?![\d-])")
_DATE_NAMED = re.compile(
    rf"(?<![\w.])(\d{{1,2}})\.?[ ]?(?:(?:of|de)[ ])?({_MONTH_ALT})\.?,?[ ]?((?:19|20)\d{{2}})(?!\d)", re.IGNORECASE
)
_DATE_NAMED_US = re.compile(
    rf"(?<![\w.])({_MONTH_ALT})\.?[ ](\d{{1,2}})(?:st|nd|rd|th)?,?[ ]((?:19|20)\d{{2}})(?!\d)", re.IGNORECASE
)
_DATE_ROMAN = re.compile(
    r"(?<![\w.])(\d{1,2})[ ]?\.?[ ]?(XII|XI|IX|X|VIII|VII|VI|IV|V|III|II|I)[ ]?\.?[ ]?((?:19|20)\d{2})(?!\d)"
)


def _iso(year: str | int, month: str | int, day: str | int) -> str | None:
    try:
        return dt.date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


def _dates(doc: _Text) -> list[str]:
    found: list[str] = []
    folded = fold(doc.view)  # same length as the view, month names without diacritics

    def keep(m: re.Match[str], value: str | None) -> None:
        if value:
            found.append(value)
            doc.take(m.start(), m.end())

    for m in _DATE_ISO.finditer(folded):
        keep(m, _iso(m.group(1), m.group(2), m.group(3)))
    for m in _DATE_DMY.finditer(folded):
        keep(m, _iso(m.group(4), m.group(3), m.group(1)))
    for m in _DATE_NAMED.finditer(folded):
        keep(m, _iso(m.group(3), _MONTHS[m.group(2).casefold()], m.group(1)))
    for m in _DATE_NAMED_US.finditer(folded):
        keep(m, _iso(m.group(3), _MONTHS[m.group(1).casefold()], m.group(2)))
    for m in _DATE_ROMAN.finditer(folded):
        keep(m, _iso(m.group(3), _ROMAN[m.group(2).lower()], m.group(1)))
    return found


# ---------------------------------------------------------------------------- national ids
def _ico_valid(number: str) -> bool:
    """Czech IČO: 8 digits, mod-11 weights 8..2 (python-stdnum has it only inside cz.dic)."""
    return len(number) == 8 and number.isdigit() and cz_dic.calc_check_digit_legal(number[:-1]) == number[-1]


def _snils_valid(number: str) -> bool:
    """Russian SNILS: 9 digits and a 2-digit check, sum of digits × weights 9..1, mod 101 (100 → 00).

    Numbers up to 001-001-998 were issued without a check; they are not reported (too weak to tell)."""
    if len(number) != 11 or not number.isdigit() or int(number[:9]) <= 1001998:
        return False
    check = sum(int(d) * w for d, w in zip(number[:9], range(9, 0, -1), strict=True)) % 101
    return (0 if check == 100 else check) == int(number[9:])


_VALIDATORS: dict[str, Callable[[str], bool]] = {
    "pesel": lambda n: len(n) == 11 and pl_pesel.is_valid(n),
    "nip": lambda n: len(n) == 10 and pl_nip.is_valid(n),
    "ico": _ico_valid,
    "inn": lambda n: len(n) in (10, 12) and ru_inn.is_valid(n),
    "regon": lambda n: len(n) in (9, 14) and pl_regon.is_valid(n),
    "rodne_cislo": lambda n: len(n) in (9, 10) and cz_rc.is_valid(n),
    "snils": _snils_valid,
    "ogrn": lambda n: len(n) in (13, 15) and ru_ogrn.is_valid(n),
}
_ID_LABEL = re.compile(
    r"(?<!\w)(pesel|nip|vat(?: id| no)?|ico|ic|dic|инн|inn|regon|krs|ogrnip|ogrn|огрнип|огрн|кпп|снилс|snils"
    r"|rodne cislo|rodneho cisla|rod\. ?c\.|r\. ?c\.|rc)(?!\w)"
)
_LABEL_TYPES: dict[str, tuple[str, ...]] = {
    "pesel": ("pesel",), "nip": ("nip",), "vat": ("nip",), "vat id": ("nip",), "vat no": ("nip",),
    "ico": ("ico",), "ic": ("ico",), "dic": ("ico",), "инн": ("inn",), "inn": ("inn",), "regon": ("regon",),
    "ogrn": ("ogrn",), "ogrnip": ("ogrn",), "огрн": ("ogrn",), "огрнип": ("ogrn",), "снилс": ("snils",),
    "snils": ("snils",), "rodne cislo": ("rodne_cislo",), "rodneho cisla": ("rodne_cislo",),
    "rc": ("rodne_cislo",), "rodc": ("rodne_cislo",),
}  # fmt: skip
_OTHER_REGISTERS = ("krs", "кпп")
_LENGTHS: dict[str, tuple[int, ...]] = {"pesel": (11,), "nip": (10,), "ico": (8,), "inn": (10, 12),
                                        "regon": (9, 14), "rodne_cislo": (9, 10), "snils": (11,),
                                        "ogrn": (13, 15)}  # fmt: skip
# Unlabelled digit runs are read by length, only as the ids of the letter's country. REGON (9 digits, like
# a phone number), SNILS and a rodné číslo without its slash need their label (or their written form).
_BY_LANGUAGE: dict[str, tuple[str, ...]] = {"pl": ("pesel", "nip"), "cs": ("ico",), "ru": ("inn", "ogrn"),
                                            "en": ()}  # fmt: skip
_ANY_LANGUAGE: tuple[str, ...] = ("pesel", "nip", "ico", "inn")
_RUN = re.compile(r"(?<![\w.,/])(?:(?:PL|CZ|RU)[ ]?)?(\d+(?:[ -]\d+)*)(?![\w]|[.,]\d)")
_LABEL_WINDOW = 24
_PHONE_GROUPS = re.compile(r"\d{2,4}(?:[ -]\d{2,4}){2,4}")  # digits in groups of 2 to 4, as phone numbers are written
# Written forms that say what they are: SNILS "112-233-445 95", rodné číslo "850101/1234".
_SNILS_FORM = re.compile(r"(?<![\w.,/-])(\d{3})-(\d{3})-(\d{3})[ -](\d{2})(?![\w]|[.,/-]\d)")
_RC_FORM = re.compile(r"(?<![\w.,/-])(\d{6})[ ]?/[ ]?(\d{3,4})(?![\w/]|[.,-]\d)")


def _label_of(before: str) -> str | None:
    """The id label written just before a number ("PESEL:", "NIP nr", "IČO", "ИНН/КПП", "r. č."), folded."""
    before = re.split(r"[\d\n]", before)[-1]  # only the label of this number, not the previous line's
    labels = [re.sub(r"[.\s]", "", label) if "." in label else label
              for label in _ID_LABEL.findall(fold(before).casefold())]  # "r. c." → "rc", "rod. c." → "rodc"
    if not labels:
        return None
    if labels[-1] in _OTHER_REGISTERS and any(label in _LABEL_TYPES for label in labels):
        return next(label for label in reversed(labels) if label in _LABEL_TYPES)  # "ИНН/КПП 77…"
    return labels[-1]


def _label_kinds(doc: _Text, start: int) -> tuple[str, ...]:
    label = _label_of(doc.original[max(0, start - _LABEL_WINDOW) : start])
    return _LABEL_TYPES.get(label or "", ())


def _written_forms(doc: _Text, language: str, out: dict[str, list[str]]) -> None:
    """SNILS in its written form (before the labelled numbers: "…лицевого счёта: 112-233-445 95" is a SNILS)."""
    for m in list(_SNILS_FORM.finditer(doc.view)):
        number = "".join(m.groups())
        if (language in ("ru", "und") or "snils" in _label_kinds(doc, m.start())) and _snils_valid(number):
            out["snils"].append(number)
            doc.take(m.start(), m.end())


def _birth_numbers(doc: _Text, language: str, out: dict[str, list[str]]) -> None:
    """Rodné číslo written with its slash: in a Czech letter, or after its label ("RČ", "rodné číslo")."""
    for m in list(_RC_FORM.finditer(doc.view)):
        number = "".join(m.groups())
        labelled = "rodne_cislo" in _label_kinds(doc, m.start())
        if (labelled or (language == "cs" and len(number) == 10)) and _VALIDATORS["rodne_cislo"](number):
            out["rodne_cislo"].append(number)
            doc.take(m.start(), m.end())


def _national_ids(doc: _Text, language: str, out: dict[str, list[str]]) -> None:
    _birth_numbers(doc, language, out)
    for m in list(_RUN.finditer(doc.view)):
        groups = re.findall(r"\d+", m.group(1))
        digits = "".join(groups)
        if len(digits) < 8 or len(digits) > 40:
            continue
        label = _label_of(doc.original[max(0, m.start() - _LABEL_WINDOW) : m.start()])
        if label in _OTHER_REGISTERS:
            doc.take(m.start(), m.end())  # another register's number: not ours, and not a phone
            continue
        if not label and _PHONE_GROUPS.fullmatch(m.group(1)) and _phone_number(digits, language) is not None:
            continue  # "980 006 93 43": written in groups as phones are, and one: the phone finder's, not an INN
        kinds = _LABEL_TYPES[label] if label else _BY_LANGUAGE.get(language, _ANY_LANGUAGE)
        starts = [0] if label else range(len(groups))
        taken = False
        i = 0
        while i < len(groups) and i in starts:
            hit: tuple[str, str, int] | None = None
            for j in range(len(groups), i, -1):
                candidate = "".join(groups[i:j])
                valid = [k for k in kinds if len(candidate) in _LENGTHS[k] and _VALIDATORS[k](candidate)]
                if len(valid) == 1:
                    hit = (valid[0], candidate, j)
                    break
                if valid:  # valid as two kinds (a 10-digit NIP and INN): say nothing
                    break
            if hit:
                out[hit[0]].append(hit[1])
                taken = True
                i = hit[2]
            else:
                i += 1
        if taken or label:
            doc.take(m.start(), m.end())


# ---------------------------------------------------------------------------- amounts
_CURRENCIES: tuple[tuple[str, str], ...] = (
    (r"zł|zl|złotych|zlotych|PLN", "PLN"),
    (r"Kč|Kc|korun|CZK", "CZK"),
    (r"руб(?:\.|лей|ля|ль)?|р\.|₽|RUB|RUR|(?-i:Р)(?!\w)", "RUB"),  # OCR reads ₽ as a capital Р
    (r"€|EUR|euro", "EUR"),
    (r"\$|USD", "USD"),
    (r"£|GBP", "GBP"),
)
_NUMBER = r"\d{1,3}(?:(?:[ \u00a0]|(?<=\d)[.,'](?=\d{3}))\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_CUR_ALT = "|".join(f"(?P<c{i}>{pattern})" for i, (pattern, _) in enumerate(_CURRENCIES))
_AMOUNT_AFTER = re.compile(
    rf"(?<![\w.,])(?P<n>{_NUMBER})(?:[.,]-{{1,2}})?[ \u00a0]?(?:{_CUR_ALT})(?![^\W\d_])", re.IGNORECASE
)
_AMOUNT_BEFORE = re.compile(rf"(?<![^\W\d_])(?:{_CUR_ALT})[ \u00a0]?(?P<n>{_NUMBER})(?![\d]|[.,]\d)", re.IGNORECASE)


def _parse_number(raw: str) -> Decimal | None:
    raw = raw.replace("\u00a0", " ").strip()
    m = re.search(r"[.,](\d{1,2})$", raw)
    whole, cents = (raw[: m.start()], m.group(1)) if m else (raw, "0")
    whole = re.sub(r"[ .,']", "", whole)
    try:
        return (Decimal(whole or "0") + Decimal(cents.ljust(2, "0")) / 100).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def _amounts(doc: _Text) -> list[str]:
    found = []
    for regex in (_AMOUNT_AFTER, _AMOUNT_BEFORE):
        for m in regex.finditer(doc.view):
            code = next(_CURRENCIES[int(k[1:])][1] for k, v in m.groupdict().items() if k.startswith("c") and v)
            value = _parse_number(m.group("n"))
            if value is not None:
                found.append(f"{value} {code}")
                doc.take(m.start(), m.end())
    return found


# ---------------------------------------------------------------------------- phones
# A phone number wrapped at a line's end by a PDF or a scan ("pod numerem 882⏎699 005"): after a word that says
# a phone number follows, the line break between its digit groups is read as a space (the view keeps its length)
_PHONE_WORDS = r"tel|phone|mobil|numer|number|номер|телефон|číslo|cislo|kontakt"  # words that say a phone follows
_PHONE_WRAP = re.compile(rf"(?i)(?:{_PHONE_WORDS})[^\n\d]{{0,24}}"
                         r"[\d() -]{2,14}?[\d)]([ \t]*\r?\n)(?=[ \t]*[\d(])")


def _unwrap(match: re.Match[str]) -> str:
    cut = match.start(1) - match.start(0)
    return match.group(0)[:cut] + " " * len(match.group(1))


_PHONE_LABEL = re.compile(rf"(?i)(?:{_PHONE_WORDS}|call|ring|zadzwo)")


def _phones(doc: _Text, language: str) -> list[str]:
    """Valid numbers of the letter's country (then of PHONE_ALSO's, where the first found none). Digits joined
    by "/" are a phone only after a word that says so: without one they are a case or file reference
    ("sygn. VI Nc-e 1442187/25") or part of an id ("EL/2024/55821")."""
    found: list[str] = []
    spans: list[tuple[int, int]] = []
    view = _PHONE_WRAP.sub(_unwrap, doc.view)
    for region in (PHONE_REGION.get(language, "ZZ"), *PHONE_ALSO.get(language, ())):
        matcher = phonenumbers.PhoneNumberMatcher(view, region, leniency=phonenumbers.Leniency.VALID)
        for match in matcher:
            if len(found) >= MAX_PHONES:
                return found
            if any(match.start < end and start < match.end for start, end in spans):
                continue
            if "/" in match.raw_string and (view[match.start - 1 : match.start] in ("/", "-")
                                            or not _PHONE_LABEL.search(view[max(0, match.start - 24) : match.start])):
                continue
            spans.append((match.start, match.end))
            found.append(phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164))
    return found


def _clean(values: Iterable[str]) -> list[str]:
    return sorted(set(values))


def extract_entities(text: str, language: str, config: EntityConfig | None = None) -> dict[str, list[str]]:
    """Every name of ENTITY_NAMES → sorted, deduplicated normalised values (empty list if none).

    ``config``: the customer/contract/invoice number labels and shapes (default: the ``entities`` setting)."""
    doc = _Text(text[:MAX_CHARS])
    out: dict[str, list[str]] = {name: [] for name in ENTITY_NAMES}
    out["email"] = _emails(doc)
    out["iban"] = _ibans(doc, language)
    config = config if config is not None else entity_config()
    _configured_shapes(doc, config, out)
    _written_forms(doc, language, out)
    _labelled(doc, config, out)
    _bare(doc, language, config, out)
    out["date"] = _dates(doc)
    _national_ids(doc, language, out)
    out["amount"] = _amounts(doc)
    out["phone"] = _phones(doc, language)
    return {name: _clean(values) for name, values in out.items()}
