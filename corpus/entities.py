"""Synthetic entity values: valid national ids and IBANs by computation, and their written forms.

Every generator returns the value as it is *written* in a letter together with its normalised
form from the shared conventions (``customer_id`` → ``MR-1234567``, phone → E.164, ...).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

import phonenumbers
from stdnum import iban as std_iban
from stdnum.cz import dic as std_cz_dic
from stdnum.pl import nip as std_nip
from stdnum.pl import pesel as std_pesel
from stdnum.ru import inn as std_inn

from corpus.errors import CorpusError

REGION = {"pl": "PL", "cs": "CZ", "ru": "RU", "en": "GB"}
CURRENCY = {"pl": "PLN", "cs": "CZK", "ru": "RUB", "en": "GBP"}

MONTHS_GEN = {
    "pl": ["stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia", "września",
           "października", "listopada", "grudnia"],
    "cs": ["ledna", "února", "března", "dubna", "května", "června", "července", "srpna", "září", "října",
           "listopadu", "prosince"],
    "ru": ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
           "ноября", "декабря"],
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
}
MONTHS_NOM = {
    "pl": ["styczeń", "luty", "marzec", "kwiecień", "maj", "czerwiec", "lipiec", "sierpień", "wrzesień",
           "październik", "listopad", "grudzień"],
    "cs": ["leden", "únor", "březen", "duben", "květen", "červen", "červenec", "srpen", "září", "říjen",
           "listopad", "prosinec"],
    "ru": ["январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь",
           "ноябрь", "декабрь"],
    "en": MONTHS_GEN["en"],
}
INVOICE_PREFIX = {"pl": "FV", "cs": "FA", "ru": "SF", "en": "IN"}


@dataclass(frozen=True)
class Value:
    """One entity occurrence: ``written`` goes into the letter, ``norm`` into the ground truth."""

    written: str
    entity: str | None = None  # key of ``entities`` or None for plain filler text
    norm: str | None = None


def _digits(rng: random.Random, n: int) -> list[int]:
    return [rng.randrange(10) for _ in range(n)]


# ---------------------------------------------------------------- national identifiers
def make_pesel(rng: random.Random, female: bool) -> str:
    while True:
        year = rng.randint(1950, 2004)
        month = rng.randint(1, 12) + (20 if year >= 2000 else 0)
        day = rng.randint(1, 28)
        serial = _digits(rng, 3)
        sex = rng.choice([0, 2, 4, 6, 8] if female else [1, 3, 5, 7, 9])
        d = [int(c) for c in f"{year % 100:02d}{month:02d}{day:02d}"] + serial + [sex]
        check = (10 - sum(w * x for w, x in zip((1, 3, 7, 9, 1, 3, 7, 9, 1, 3), d, strict=True)) % 10) % 10
        value = "".join(map(str, d + [check]))
        if std_pesel.is_valid(value):
            return value


def make_nip(rng: random.Random) -> str:
    while True:
        d = [rng.randint(1, 9)] + _digits(rng, 8)
        check = sum(w * x for w, x in zip((6, 5, 7, 2, 3, 4, 5, 6, 7), d, strict=True)) % 11
        if check == 10:
            continue
        value = "".join(map(str, d + [check]))
        if std_nip.is_valid(value):
            return value


def make_ico(rng: random.Random) -> str:
    while True:
        d = [rng.randint(1, 8)] + _digits(rng, 6)
        check = (11 - sum(w * x for w, x in zip(range(8, 1, -1), d, strict=True)) % 11) % 10
        value = "".join(map(str, d + [check]))
        if std_cz_dic.is_valid(value):
            return value


def make_inn(rng: random.Random, digits: int = 10) -> str:
    w10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    w11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
    w12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
    while True:
        region = rng.choice(["77", "78", "16", "66", "54", "52", "63", "36", "50"])
        if digits == 10:
            d = [int(c) for c in region] + _digits(rng, 7)
            d.append(sum(w * x for w, x in zip(w10, d, strict=True)) % 11 % 10)
        else:
            d = [int(c) for c in region] + _digits(rng, 8)
            d.append(sum(w * x for w, x in zip(w11, d, strict=True)) % 11 % 10)
            d.append(sum(w * x for w, x in zip(w12, d, strict=True)) % 11 % 10)
        value = "".join(map(str, d))
        if std_inn.is_valid(value):
            return value


def make_iban(rng: random.Random, country: str) -> str:
    """A mod-97 valid IBAN (compact) for PL, CZ or GB."""
    for _ in range(1000):
        if country == "PL":
            bban = "".join(map(str, _digits(rng, 24)))
        elif country == "CZ":
            bank = rng.choice(["0100", "0300", "0800", "2010", "5500", "0600"])
            bban = bank + "000000" + "".join(map(str, _digits(rng, 10)))
        elif country == "GB":
            bban = rng.choice(["NWBK", "BARC", "LOYD", "MIDL"]) + "".join(map(str, _digits(rng, 14)))
        else:
            raise CorpusError(f"no IBAN scheme for {country}")
        rearranged = bban + country + "00"
        numeric = "".join(str(int(c, 36)) for c in rearranged)
        check = 98 - int(numeric) % 97
        value = f"{country}{check:02d}{bban}"
        if std_iban.is_valid(value):
            return value
    raise CorpusError(f"could not make a valid IBAN for {country}")


# ---------------------------------------------------------------- written forms
def written_nip(rng: random.Random, nip: str) -> str:
    return rng.choice([nip, f"{nip[:3]}-{nip[3:6]}-{nip[6:8]}-{nip[8:]}", f"{nip[:3]}-{nip[3:5]}-{nip[5:7]}-{nip[7:]}"])


def written_iban(rng: random.Random, iban: str) -> str:
    if rng.random() < 0.75:
        return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    return iban


def written_customer_id(rng: random.Random, number: str) -> str:
    return rng.choices([f"MR-{number}", f"MR {number}", f"MR{number}"], weights=[6, 2, 2])[0]


def invoice_no(rng: random.Random, lang: str, when: date) -> str:
    return f"{INVOICE_PREFIX[lang]}/{when.year}/{when.month:02d}/{rng.randint(1, 999999):06d}"


def written_date(rng: random.Random, lang: str, when: date) -> str:
    numeric = f"{when.day:02d}.{when.month:02d}.{when.year}"
    iso = when.isoformat()
    month = MONTHS_GEN[lang][when.month - 1]
    named = {
        "pl": [f"{when.day} {month} {when.year} r.", f"{when.day} {month} {when.year}"],
        "cs": [f"{when.day}. {month} {when.year}"],
        "ru": [f"{when.day} {month} {when.year} г."],
        "en": [f"{when.day} {month} {when.year}"],
    }[lang]
    options = [numeric, numeric, *named, *named]
    if lang in ("pl", "en"):
        options.append(iso)
    return rng.choice(options)


def _group_thousands(n: int, sep: str) -> str:
    return f"{n:,}".replace(",", sep)


def amount(rng: random.Random, lang: str, low: float, high: float) -> Value:
    """A money amount written the local way; roubles are sometimes whole."""
    cents = rng.choice([0, 0, 50, 99, rng.randrange(100)])
    whole = rng.randint(int(low), int(high))
    if lang == "ru" and rng.random() < 0.5:
        cents = 0
    norm = f"{whole}.{cents:02d} {CURRENCY[lang]}"
    if lang == "pl":
        written = f"{_group_thousands(whole, ' ')},{cents:02d} zł"
    elif lang == "cs":
        written = f"{_group_thousands(whole, ' ')},{cents:02d} Kč"
    elif lang == "ru":
        if cents == 0 and rng.random() < 0.6:
            written = f"{_group_thousands(whole, ' ')} руб."
        else:
            written = f"{_group_thousands(whole, ' ')},{cents:02d} ₽"
    else:
        style = rng.random()
        if style < 0.7:
            written = f"£{_group_thousands(whole, ',')}.{cents:02d}"
        elif style < 0.85:
            written = f"€{_group_thousands(whole, ',')}.{cents:02d}"
            norm = f"{whole}.{cents:02d} EUR"
        else:
            written = f"{_group_thousands(whole, ',')}.{cents:02d} EUR"
            norm = f"{whole}.{cents:02d} EUR"
    return Value(written, "amount", norm)


def phone(rng: random.Random, lang: str) -> Value:
    """A valid mobile number for the letter's region, written in one of the local styles."""
    region = REGION[lang]
    for _ in range(1000):
        if lang == "pl":
            nat = rng.choice(["50", "51", "53", "60", "66", "69", "72", "73", "78", "79", "88"]) + "".join(
                map(str, _digits(rng, 7)))
        elif lang == "cs":
            nat = rng.choice(["60", "72", "73", "77", "79"]) + "".join(map(str, _digits(rng, 7)))
        elif lang == "ru":
            nat = "9" + rng.choice(["12", "16", "03", "26", "85", "99", "05"]) + "".join(map(str, _digits(rng, 7)))
        else:
            nat = "7" + rng.choice(["4", "5", "7", "8", "9"]) + "".join(map(str, _digits(rng, 8)))
        parsed = phonenumbers.parse(nat, region)
        if phonenumbers.is_valid_number(parsed):
            e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            break
    else:
        raise CorpusError(f"could not make a valid phone number for {region}")
    if lang == "pl":
        written = rng.choice([f"+48 {nat[:3]} {nat[3:6]} {nat[6:]}", f"{nat[:3]}-{nat[3:6]}-{nat[6:]}",
                              f"{nat[:3]} {nat[3:6]} {nat[6:]}"])
    elif lang == "cs":
        written = rng.choice([f"+420 {nat[:3]} {nat[3:6]} {nat[6:]}", f"{nat[:3]} {nat[3:6]} {nat[6:]}"])
    elif lang == "ru":
        written = rng.choice([f"+7 ({nat[:3]}) {nat[3:6]}-{nat[6:8]}-{nat[8:]}",
                              f"8 {nat[:3]} {nat[3:6]} {nat[6:8]} {nat[8:]}",
                              f"8 ({nat[:3]}) {nat[3:6]}-{nat[6:8]}-{nat[8:]}"])
    else:
        written = rng.choice([f"0{nat[:4]} {nat[4:]}", f"+44 {nat[:4]} {nat[4:]}"])
    return Value(written, "phone", e164)
