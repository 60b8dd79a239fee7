"""Compose one customer letter: identity, layout blocks, filled sentences and the entities they carry."""

from __future__ import annotations

import random
import re
import string
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta

from corpus import entities as ent
from corpus.entities import Value
from corpus.pools import POOLS, half

_GENDER = re.compile(r"\[([^\[\]|]*)\|([^\[\]]*)\]")
_RU_TRANSLIT = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                        ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r",
                         "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"],
                        strict=True))
_LEGAL_FORM_WORDS = {"kancelaria", "kancelář", "advokátní", "adwokacka", "prawna", "partneři", "wspólnicy",
                     "коллегия", "адвокатов", "юридическая", "фирма", "адвокатское", "бюро", "solicitors", "legal"}
MAIL_DOMAINS = {"pl": ["wp.pl", "onet.pl", "gmail.com", "interia.pl", "o2.pl"],
                "cs": ["seznam.cz", "email.cz", "gmail.com", "centrum.cz"],
                "ru": ["mail.ru", "yandex.ru", "gmail.com", "rambler.ru"],
                "en": ["gmail.com", "outlook.com", "btinternet.com", "yahoo.co.uk"]}
TLD = {"pl": "pl", "cs": "cz", "ru": "ru", "en": "co.uk"}
OPERATOR_MAIL = {"pl": "obsluga@telewave.pl", "cs": "pece@telewave.cz", "ru": "info@telewave.ru",
                 "en": "customercare@telewave.co.uk"}
AMOUNT_RANGE = {"pl": (19, 1900), "cs": (99, 9500), "ru": (290, 24000), "en": (9, 950)}
FEE_RANGE = {"pl": (29, 199), "cs": (199, 1299), "ru": (350, 1900), "en": (10, 75)}
DATE_OFFSETS = {  # days relative to the letter's date
    "date_inv": (-45, -8), "date_event": (-30, -2), "date_from": (-40, -20), "date_to": (-18, -3),
    "date_due": (5, 30), "date_pay": (-25, -2), "date_end": (14, 60), "date_start": (3, 30),
    "date_port": (5, 21),
}


def ascii_slug(text: str) -> str:
    text = text.lower().replace("ł", "l")
    text = "".join(_RU_TRANSLIT.get(c, c) for c in text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", text)


@dataclass
class Block:
    """A run of lines that is laid out together. ``lines`` are never wrapped except for paragraphs."""

    kind: str  # sender | recipient | placedate | refs | subject | salutation | para | signoff | signature
    lines: list[str]
    align: str = "left"  # left | right | indent | center
    bold: bool = False
    ents: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class Letter:
    language: str
    category: str
    segment: str
    gender: str
    when: date
    blocks: list[Block]
    sender_name: str
    sender_email: str
    subject: str
    pool_items: list[str]

    @property
    def text(self) -> str:
        return "\n\n".join("\n".join(b.lines) for b in self.blocks)

    @property
    def entities(self) -> dict[str, list[str]]:
        out: dict[str, set[str]] = {}
        for block in self.blocks:
            for name, norm in block.ents:
                out.setdefault(name, set()).add(norm)
        return {k: sorted(v) for k, v in sorted(out.items())}

    def compact(self) -> Letter:
        """The same letter as an e-mail body: without address blocks and place/date line."""
        keep = [b for b in self.blocks if b.kind not in ("sender", "recipient", "placedate", "subject")]
        return Letter(self.language, self.category, self.segment, self.gender, self.when, keep, self.sender_name,
                      self.sender_email, self.subject, self.pool_items)


class Filler:
    """Fills ``{placeholders}``; each key gets one value per letter, generated on first use."""

    def __init__(self, rng: random.Random, lang: str, when: date, fixed: dict[str, Value]) -> None:
        self.rng = rng
        self.lang = lang
        self.when = when
        self.values: dict[str, Value] = dict(fixed)

    def value(self, key: str) -> Value:
        if key not in self.values:
            self.values[key] = self._make(key)
        return self.values[key]

    def _make(self, key: str) -> Value:
        rng, lang = self.rng, self.lang
        pool = POOLS[lang]
        if key.startswith("invoice_no"):
            no = ent.invoice_no(rng, lang, self.when - timedelta(days=rng.randint(5, 60)))
            return Value(no, "invoice_no", no)
        if key == "amount2":
            return ent.amount(rng, lang, *FEE_RANGE[lang])
        if key.startswith("amount"):
            return ent.amount(rng, lang, *AMOUNT_RANGE[lang])
        if key.startswith("phone"):
            return ent.phone(rng, lang)
        if key == "email_new":
            first, last = rng.choice(pool.PEOPLE_M + pool.PEOPLE_F)[:2]
            addr = f"{ascii_slug(first)[0]}.{ascii_slug(last)}{rng.randint(1, 99)}@{rng.choice(MAIL_DOMAINS[lang])}"
            return Value(addr, "email", addr.lower())
        if key.startswith("iban"):
            compact = ent.make_iban(rng, ent.REGION[lang])
            return Value(ent.written_iban(rng, compact), "iban", compact)
        if key.startswith("date_"):
            lo, hi = DATE_OFFSETS.get(key, (-20, -1))
            day = self.when + timedelta(days=rng.randint(lo, hi))
            return Value(ent.written_date(rng, lang, day), "date", day.isoformat())
        if key == "period":
            first = self.when.replace(day=1) - timedelta(days=1)
            text = f"{ent.MONTHS_NOM[lang][first.month - 1]} {first.year}"
            return Value(text + (" г." if lang == "ru" else ""))
        if key == "tariff":
            return Value(rng.choice(pool.TARIFFS))
        if key == "donor":
            return Value(rng.choice(pool.DONORS))
        if key == "case_no":
            return Value(rng.choice(pool.CASE_NO).format(n=rng.randint(120, 9999)))
        if key == "address":
            return Value(make_address(rng, lang, one_line=True))
        raise KeyError(key)

    def fill(self, template: str, gender: str) -> tuple[str, set[tuple[str, str]]]:
        text = _GENDER.sub(lambda m: m.group(1) if gender == "m" else m.group(2), template)
        keys = [f for _, f, _, _ in string.Formatter().parse(text) if f]
        values = {k: self.value(k) for k in keys}
        ents = {(v.entity, v.norm) for v in values.values() if v.entity and v.norm}
        return text.format_map({k: v.written for k, v in values.items()}), ents


def make_address(rng: random.Random, lang: str, one_line: bool = False) -> str:
    return make_address_city(rng, lang, one_line)[0]


def make_address_city(rng: random.Random, lang: str, one_line: bool = False) -> tuple[str, str]:
    """An address (lines joined by newlines, or one line) and its town."""
    pool = POOLS[lang]
    street = rng.choice(pool.STREETS)
    city, postcode = rng.choice(pool.CITIES)
    num = rng.randint(1, 120)
    if lang == "pl":
        lines = [f"{street} {num}" + (f"/{rng.randint(1, 60)}" if rng.random() < 0.6 else ""), f"{postcode} {city}"]
    elif lang == "cs":
        lines = [f"{street} {rng.randint(100, 2999)}/{num}", f"{postcode} {city}"]
    elif lang == "ru":
        flat = f", кв. {rng.randint(1, 240)}" if rng.random() < 0.8 else ""
        lines = [f"{street}, д. {num}{flat}", f"{postcode}, г. {city}"]
        if one_line:
            return f"{postcode}, г. {city}, {street}, д. {num}{flat}", city
    else:
        flat = f"Flat {rng.randint(1, 30)}, " if rng.random() < 0.3 else ""
        lines = [f"{flat}{num} {street}", f"{city} {postcode}"]
    return (", ".join(lines) if one_line else "\n".join(lines)), re.sub(r" \d+$", "", city)


def _pick(rng: random.Random, items: list[str], holdout: bool, tag: str, used: list[str]) -> str:
    idx, item = rng.choice(half(items, holdout))
    used.append(f"{tag}/{idx}")
    return item


def _pick_many(rng: random.Random, items: list[str], holdout: bool, tag: str, used: list[str], n: int) -> list[str]:
    chosen = rng.sample(half(items, holdout), min(n, len(half(items, holdout))))
    used.extend(f"{tag}/{i}" for i, _ in chosen)
    return [s for _, s in chosen]


def compose(rng: random.Random, lang: str, category: str, holdout: bool = False) -> Letter:
    """One letter in ``lang`` of ``category``; ``holdout`` draws wordings from the other half of each pool."""
    pool = POOLS[lang]
    cat = pool.CATEGORIES[category]
    used: list[str] = []
    when = date(2025, 9, 1) + timedelta(days=rng.randint(0, 450))
    legal = category == "legal"
    segment = "business" if legal else ("individual" if category == "gdpr_request" or rng.random() < 0.65
                                        else "business")
    gender = rng.choice("mf")
    person = rng.choice(pool.PEOPLE_M if gender == "m" else pool.PEOPLE_F)
    name = f"{person[0]} {person[1]}"
    company = rng.choice(pool.LAW_FIRMS if legal else pool.COMPANIES) if segment == "business" else ""
    if legal:  # the writer is a lawyer; grammatical gender follows the represented client
        signer = rng.choice(pool.PEOPLE_M + pool.PEOPLE_F)
        signer_name = f"{signer[0]} {signer[1]}"
    else:
        signer, signer_name = person, name
    words = [w for w in re.findall(r"\w+", company) if len(w) > 2 and w.lower() not in _LEGAL_FORM_WORDS] \
        or company.split()
    domain = f"{ascii_slug(words[-1] if legal else words[0])}.{TLD[lang]}" if company else \
        rng.choice(MAIL_DOMAINS[lang])
    local = f"{ascii_slug(signer[0])}.{ascii_slug(signer[1])}" if rng.random() < 0.7 else \
        f"{ascii_slug(signer[0])[0]}{ascii_slug(signer[1])}{rng.randint(1, 99) if not company else ''}"
    email_addr = f"{local}@{domain}"
    written_email = email_addr if rng.random() < 0.85 else email_addr.capitalize()
    fixed: dict[str, Value] = {
        "email": Value(written_email, "email", email_addr),
        "company": Value(company),
        "client": Value(name),
    }
    cid = f"{rng.randint(1000000, 9999999)}"
    fixed["customer_id"] = Value(ent.written_customer_id(rng, cid), "customer_id", f"MR-{cid}")
    fixed["date_letter"] = Value(ent.written_date(rng, lang, when), "date", when.isoformat())
    if lang == "pl":
        pesel = ent.make_pesel(rng, gender == "f")
        fixed["pesel"] = Value(pesel, "pesel", pesel)
        nip = ent.make_nip(rng)
        fixed["nip"] = Value(ent.written_nip(rng, nip), "nip", nip)
    elif lang == "cs":
        ico = ent.make_ico(rng)
        fixed["ico"] = Value(ico, "ico", ico)
    elif lang == "ru":
        inn = ent.make_inn(rng, 10)
        fixed["inn"] = Value(inn, "inn", inn)
    filler = Filler(rng, lang, when, fixed)

    def block(kind: str, templates: list[str], align: str = "left", bold: bool = False) -> Block:
        lines, ents = [], set()
        for t in templates:
            text, e = filler.fill(t, gender)
            lines.append(text)
            ents |= e
        return Block(kind, lines, align, bold, ents)

    labels = pool.LABELS
    # ---- sender block
    sender: list[str] = []
    if lang == "ru":
        person_gen = f"{person[4]} {person[3]} {person[5]}"
        if legal:  # firm names decline ("от Коллегии адвокатов"), so the block carries the name alone
            sender.append(company)
        elif segment == "business":
            sender.append(f"от {company}")
            sender.append(f"в лице {rng.choice(['представителя', 'менеджера'])} {person[4]} {person[3][0]}. "
                          f"{person[5][0]}.")
        else:
            sender.append(f"от {person_gen}")
        address, home = make_address_city(rng, lang)
        sender.extend(address.split("\n"))
    else:
        sender.append(company if company else name)
        if company and not legal and rng.random() < 0.5:
            sender.append(name)
        address, home = make_address_city(rng, lang)
        sender.extend(address.split("\n"))
    if company and labels["business_id"]:
        id_key = {"pl": "nip", "cs": "ico", "ru": "inn"}[lang]
        sender.append(f"{rng.choice(labels['business_id'])} {{{id_key}}}")
    if rng.random() < 0.7:
        sender.append(f"{rng.choice(labels['phone'])} {{phone}}")
    if rng.random() < 0.5 or legal:
        sender.append(f"{rng.choice(labels['email'])} {{email}}")
    if lang == "pl" and segment == "individual" and rng.random() < 0.4:
        sender.append(f"{rng.choice(labels['pesel'])} {{pesel}}")
    sender_block = block("sender", sender, "right" if lang == "ru" else ("right" if lang == "en" and
                                                                          rng.random() < 0.5 else "left"))
    operator = rng.choice(pool.OPERATORS)
    recipient_block = Block("recipient", list(operator), "right" if lang == "ru" else "indent")
    city = home if rng.random() < 0.85 else re.sub(r" \d+$", "", rng.choice(pool.CITIES)[0])
    placedate_block = block("placedate", [rng.choice(pool.PLACE_DATE).replace("{city}", city)
                                          .replace("{date}", "{date_letter}")], "right")

    head: list[Block]
    if lang == "ru":
        head = [recipient_block, sender_block]
    elif rng.random() < 0.5:
        head = [sender_block, placedate_block, recipient_block]
    else:
        head = [placedate_block, sender_block, recipient_block]

    # ---- reference lines
    refs: list[str] = []
    if legal:
        refs.append(f"{rng.choice(labels['client'])} {{client}}")
        if rng.random() < 0.5:
            refs.append(f"{rng.choice(labels['case_no'])} {{case_no}}")
    if rng.random() < 0.55:
        refs.append(f"{rng.choice(labels['customer_id'])} {{customer_id}}")
    if category in ("complaint", "invoice_query", "payment") and rng.random() < 0.35:
        refs.append(f"{rng.choice(labels['invoice_no'])} {{invoice_no}}")
    body: list[Block] = []
    if refs:
        body.append(block("refs", refs))
    # ---- subject
    subject_text = ""
    if rng.random() < 0.85 or lang == "ru":
        subj = _pick(rng, cat["subject"], holdout, f"{lang}/{category}/subject", used)
        prefix = {"pl": ["", "Dotyczy: ", "Temat: "], "cs": ["Věc: ", "Věc: ", ""], "ru": [""],
                  "en": ["", "Re: ", "Subject: "]}[lang]
        sb = block("subject", [rng.choice(prefix) + subj], "center" if lang == "ru" else "left", bold=True)
        subject_text = filler.fill(subj, gender)[0]  # without "Dotyczy:"/"Věc:", as an e-mail Subject
        body.append(sb)
    # ---- salutation and paragraphs
    salutation = ""
    if lang != "ru" or rng.random() < 0.6:
        salutation = _pick(rng, pool.COMMON["salutation"], holdout, f"{lang}/common/salutation", used)
        body.append(block("salutation", [salutation]))
    paras: list[str] = []
    openings = cat.get("opening", pool.COMMON["opening"])
    if legal or rng.random() < 0.6:
        paras.append(_pick(rng, openings, holdout, f"{lang}/{category if legal else 'common'}/opening", used))
    if segment == "business" and not legal and rng.random() < 0.8:
        paras.append(_pick(rng, pool.COMMON["business_intro"], holdout, f"{lang}/common/business_intro", used))
    paras.extend(_pick_many(rng, cat["request"], holdout, f"{lang}/{category}/request", used,
                            1 if rng.random() < 0.7 else 2))
    details = _pick_many(rng, cat["detail"], holdout, f"{lang}/{category}/detail", used, rng.randint(1, 3))
    if len(details) > 1 and rng.random() < 0.5:  # some writers put details in one paragraph
        details = [" ".join(details)]
    paras.extend(details)
    if rng.random() < 0.75:
        paras.append(_pick(rng, cat["ending"], holdout, f"{lang}/{category}/ending", used))
    if not legal and rng.random() < 0.6:
        paras.append(_pick(rng, pool.COMMON["closing"], holdout, f"{lang}/common/closing", used))
    if len(paras) > 2 and rng.random() < 0.3:  # merge the first two paragraphs
        paras[0:2] = [paras[0] + " " + paras[1]]
    for i, p in enumerate(paras):
        p = p[0].upper() + p[1:]
        if i == 0 and lang == "cs" and salutation.endswith(","):
            p = p[0].lower() + p[1:]
        body.append(block("para", [p]))
    # ---- sign-off and signature
    body.append(block("signoff", [_pick(rng, pool.COMMON["signoff"], holdout, f"{lang}/common/signoff", used)]))
    sig: list[str] = []
    if legal:
        title = rng.choice(pool.LAWYER_TITLE)
        sig = [f"{title} {signer_name}"] if lang in ("pl", "cs") else [signer_name, title]
        sig.append(company)
    elif lang == "ru":
        initials = f"{person[0][0]}. {person[2][0]}."
        sig = [rng.choice([f"{person[1]} {initials}", f"{initials} {person[1]}", f"/{person[1]} {initials}/"])]
        if company:
            sig.append(company)
    else:
        sig = [name]
        if company:
            sig.append(company)
    body.append(block("signature", sig))
    if lang == "ru":  # Russian letters carry the date at the foot
        body.append(block("placedate", [rng.choice(pool.PLACE_DATE[:2]).replace("{city}", city)
                                        .replace("{date}", "{date_letter}")]))
    plain = [s for _, s in half(cat["subject"], holdout) if "{" not in s] or cat["subject"]
    fallback_subject = subject_text or filler.fill(rng.choice(plain), gender)[0]
    return Letter(lang, category, segment, gender, when, head + body, signer_name if legal else name, email_addr,
                  fallback_subject, used)
