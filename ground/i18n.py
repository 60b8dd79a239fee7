"""Languages and local time for what people read: the pages, flash messages, CSV headers and the CLI.

Every such string goes through gettext with the catalogs in ``ground/locale/<lang>/LC_MESSAGES/mailroom.po``
(Babel: ``make i18n-extract`` collects the strings, ``make i18n-update`` merges them into the catalogs,
``make install`` compiles the ``.mo`` files). A checkout or an image without compiled catalogs still
works: a missing or older ``.mo`` is compiled from its ``.po`` in memory on first use.

The language and time zone in force are per request (or per CLI run): :func:`use` sets them for the
code that runs inside it, and :func:`gettext`, :func:`ngettext`, :func:`pgettext`, :func:`format_datetime`
and friends read them. Letters' own text is never translated; only the names of categories, states,
queues, channels, roles, outcomes and entities are (``*_name`` below).

Choice of language: the user's own (profile page, ``mailroom users add --language``), else the browser's
``Accept-Language``, else the site's ``MAILROOM_LANGUAGE``. Time zone: the user's own, else
``MAILROOM_TIME_ZONE`` (default Europe/Warsaw).
"""

from __future__ import annotations

import functools
import gettext as _gettext
import io
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers

DOMAIN = "mailroom"
LANGUAGES: tuple[str, ...] = ("en", "pl", "cs", "ru")
# Each language in its own words: the language menu shows these whatever the page's language is.
ENDONYMS = {"en": "English", "pl": "Polski", "cs": "Čeština", "ru": "Русский"}
DEFAULT_LANGUAGE = "en"
DEFAULT_ZONE = "Europe/Warsaw"
LOCALE_DIR = Path(str(resources.files("ground") / "locale"))


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """Mark ``message`` for the catalogs without translating it now (tables built at import time)."""
    return message


def NC_(context: str, message: str) -> str:  # noqa: N802
    """:func:`N_` with a context (``pgettext(context, message)`` translates it): the same English word may
    need different words in another language as a category, a state or a column header."""
    return message


# ---------------------------------------------------------------- catalogs


def _catalog_bytes(po: Path) -> bytes:
    """A ``.po`` compiled in memory (when ``make`` has not compiled it, e.g. an image built with pip)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as f:
        catalog = read_po(f, locale=po.parent.parent.name, domain=DOMAIN)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


@functools.cache
def translations(language: str) -> _gettext.NullTranslations:
    """The compiled catalog of ``language`` (an unknown one: the strings as written, in English)."""
    if language not in LANGUAGES:
        return _gettext.NullTranslations()
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    mo, po = folder / f"{DOMAIN}.mo", folder / f"{DOMAIN}.po"
    if mo.is_file() and (not po.is_file() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as f:
            return _gettext.GNUTranslations(f)
    if po.is_file():
        return _gettext.GNUTranslations(io.BytesIO(_catalog_bytes(po)))
    return _gettext.NullTranslations()


# ---------------------------------------------------------------- the language and zone in force


@dataclass(frozen=True)
class Local:
    language: str = DEFAULT_LANGUAGE
    zone: str = DEFAULT_ZONE

    @property
    def tz(self) -> ZoneInfo:
        return _zone(self.zone)

    @property
    def locale(self) -> Locale:
        return _locale(self.language)


_SITE = Local()  # frozen: a safe default
_current: ContextVar[Local] = ContextVar("mailroom_local", default=_SITE)


@functools.cache
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


@functools.cache
def _locale(language: str) -> Locale:
    return Locale.parse(language if language in LANGUAGES else DEFAULT_LANGUAGE)


def current() -> Local:
    return _current.get()


def current_language() -> str:
    return _current.get().language


@contextmanager
def use(language: str | None = None, zone: str | None = None) -> Iterator[Local]:
    """Translate and show times for ``language`` in ``zone`` inside the block (each None: as it was)."""
    was = _current.get()
    local = Local(language if language in LANGUAGES else was.language, zone if valid_zone(zone) else was.zone)
    token = _current.set(local)
    try:
        yield local
    finally:
        _current.reset(token)


def set_default(language: str | None = None, zone: str | None = None) -> None:
    """For a whole process (the CLI): the language and zone outside any :func:`use` block."""
    was = _current.get()
    _current.set(Local(language if language in LANGUAGES else was.language, zone if valid_zone(zone) else was.zone))


def valid_zone(name: str | None) -> bool:
    if not name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def supported(tag: str | None) -> str | None:
    """``pl``, ``pl-PL``, ``pl_PL.UTF-8`` → ``pl``; a language we have no catalog for → None."""
    if not tag:
        return None
    code = re.split(r"[-_.@]", tag.strip().lower(), maxsplit=1)[0]
    return code if code in LANGUAGES else None


def negotiate(accept_language: str | None) -> str | None:
    """The best of our languages for an ``Accept-Language`` header (q-values honoured), or None."""
    choices: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")[:40]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        m = re.search(r"q\s*=\s*([0-9.]+)", params)
        if m:
            try:
                q = float(m.group(1))
            except ValueError:
                q = 0.0
        code = supported(tag)
        if code and q > 0:
            choices.append((-q, i, code))
    return min(choices)[2] if choices else None


def choose_language(own: str | None, accept_language: str | None, site_default: str) -> str:
    """The user's own language, else the browser's best match, else the site's default."""
    return supported(own) or negotiate(accept_language) or supported(site_default) or DEFAULT_LANGUAGE


def cli_language(site_default: str) -> str:
    """For a command in a terminal: the person's locale (LANGUAGE, LC_ALL, LC_MESSAGES, LANG) when we speak
    it, else the site's default (MAILROOM_LANGUAGE)."""
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            for tag in value.split(":"):
                code = supported(tag)
                if code:
                    return code
            if var != "LANGUAGE":  # the first of LC_ALL, LC_MESSAGES, LANG that is set decides (POSIX)
                break
    return supported(site_default) or DEFAULT_LANGUAGE


# ---------------------------------------------------------------- translating


def gettext(message: str) -> str:
    return translations(_current.get().language).gettext(message)


_ = gettext


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get().language).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return translations(_current.get().language).pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return translations(_current.get().language).npgettext(context, singular, plural, n)


# ---------------------------------------------------------------- local time and numbers


def local_time(value: datetime) -> datetime:
    return value.astimezone(_current.get().tz)


def format_datetime(value: datetime | None, width: str = "medium") -> str:
    """Date and time in the zone and language in force: ``short`` (no seconds) or ``medium`` (seconds)."""
    if value is None:
        return ""
    local = _current.get()
    fmt = babel_dates.get_datetime_format("short", locale=local.locale).format(
        babel_dates.get_time_format("medium" if width == "medium" else "short", locale=local.locale).pattern,
        babel_dates.get_date_format("medium", locale=local.locale).pattern)
    return babel_dates.format_datetime(value, fmt, tzinfo=local.tz, locale=local.locale)


def format_date(value: datetime | date | None) -> str:
    if value is None:
        return ""
    local = _current.get()
    if isinstance(value, datetime):
        value = value.astimezone(local.tz).date()
    return babel_dates.format_date(value, "medium", locale=local.locale)


def format_time(value: datetime | None) -> str:
    if value is None:
        return ""
    local = _current.get()
    return babel_dates.format_time(value, "short", tzinfo=local.tz, locale=local.locale)


def zone_abbreviation(value: datetime) -> str:
    """``CET``, ``MSK``, ``GMT+1``: what a reader needs to place a time shown in the zone in force."""
    return local_time(value).tzname() or ""


# How each language writes a date in a form: the Babel pattern a date field shows its value in, and the
# hint its label gives (what people of that language see in their own software).
DATE_INPUT = {"en": ("MM/dd/yyyy", "mm/dd/yyyy"), "pl": ("dd.MM.yyyy", "dd.mm.rrrr"),
              "cs": ("d. M. yyyy", "dd. mm. rrrr"), "ru": ("dd.MM.yyyy", "дд.мм.гггг")}


def date_hint() -> str:
    """The expected way to write a date in the language in force, for a date field's label."""
    return DATE_INPUT.get(_current.get().language, DATE_INPUT["en"])[1]


def format_date_input(value: date | None) -> str:
    """A date as a date field shows it in the language in force (``24.12.2026``, ``12/24/2026``)."""
    if value is None:
        return ""
    pattern = DATE_INPUT.get(_current.get().language, DATE_INPUT["en"])[0]
    return babel_dates.format_date(value, pattern, locale=_current.get().locale)


def parse_date_input(text: str) -> date | None:
    """What a person typed in a date field: ISO ``2026-12-24``, or the language's own order (day first, US
    English month first) with any separators; None when it is no date."""
    text = (text or "").strip()
    try:
        return date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else _local_date(text)
    except ValueError:
        return None


def _local_date(text: str) -> date | None:
    parts = re.findall(r"\d+", text)
    if len(parts) != 3 or len(parts[2]) not in (2, 4):
        return None
    a, b, year = (int(p) for p in parts)
    year += 2000 if year < 100 else 0
    month, day = (a, b) if _current.get().language == "en" else (b, a)
    return date(year, month, day)


def format_decimal(value: float | int, digits: int | None = None) -> str:
    fmt = None if digits is None else "#,##0." + "0" * digits if digits else "#,##0"
    return babel_numbers.format_decimal(value, format=fmt, locale=_current.get().locale)


def format_age(delta: timedelta) -> str:
    """``3 hours``, ``2 dni``, ``5 минут``: how long ago, rounded as people say it."""
    seconds = max(delta.total_seconds(), 0)
    return babel_dates.format_timedelta(timedelta(seconds=seconds), threshold=1.5, locale=_current.get().locale)


HOURS_FORMAT = N_("%(hours)d h %(minutes)02d min")


def format_hours(seconds: int) -> str:
    """Working time as hours and minutes (``27 h 05 min``): the form the SLA clock ticks in."""
    seconds = max(int(seconds), 0)
    return gettext(HOURS_FORMAT) % {"hours": seconds // 3600, "minutes": seconds % 3600 // 60}


# ---------------------------------------------------------------- names of codes


CATEGORY_NAMES = {
    "complaint": NC_("category", "Complaint"),
    "invoice_query": NC_("category", "Invoice query"),
    "payment": NC_("category", "Payment"),
    "cancellation": NC_("category", "Cancellation"),
    "service_order": NC_("category", "Service order"),
    "fault_report": NC_("category", "Fault report"),
    "data_change": NC_("category", "Change of customer data"),
    "number_porting": NC_("category", "Number porting"),
    "legal": NC_("category", "Legal matter"),
    "gdpr_request": NC_("category", "Personal data request (GDPR)"),
    "other": NC_("category", "Other"),
}

# Envelope (a batch, file or e-mail), document (a letter in it) and work item states, each in its context.
ENVELOPE_STATES = {
    "received": NC_("envelope state", "waiting for OCR"),
    "processed": NC_("envelope state", "routed to queues"),
    "quarantined": NC_("envelope state", "in quarantine"),
    "needs_human": NC_("envelope state", "needs manual handling"),
}
DOCUMENT_STATES = {
    "read": NC_("document state", "read, being classified"),
    "routed": NC_("document state", "routed"),
}
ITEM_STATES = {
    "new": NC_("item state", "new"),
    "claimed": NC_("item state", "in progress"),
    "on_hold": NC_("item state", "on hold"),
    "done": NC_("item state", "done"),
}
SLA_STATES = {
    "ok": NC_("sla", "on time"),
    "risk": NC_("sla", "at risk"),
    "breached": NC_("sla", "overdue"),
}
CHANNEL_NAMES = {"scan": NC_("channel", "Scan"), "fax": NC_("channel", "Fax"), "email": NC_("channel", "E-mail"),
                 "upload": NC_("channel", "Upload")}
ROLE_NAMES = {
    "scanner": NC_("role", "mailroom staff"),
    "agent": NC_("role", "agent"),
    "supervisor": NC_("role", "supervisor"),
    "auditor": NC_("role", "auditor"),
    "admin": NC_("role", "administrator"),
}
OUTCOME_NAMES = {
    "resolved": NC_("outcome", "resolved"),
    "answered": NC_("outcome", "answered"),
    "rejected": NC_("outcome", "rejected"),
    "no_action": NC_("outcome", "no action needed"),
    "forwarded": NC_("outcome", "forwarded"),
    "duplicate": NC_("outcome", "duplicate"),
    "duplicate_of_case": NC_("outcome", "duplicate of a case"),
    "superseded_by_correction": NC_("outcome", "replaced by a correction in the mailroom"),
}
FLAG_NAMES = {  # what an item carries (queues, replies): shown on the item page with words, not only colour
    "escalated": NC_("flag", "escalated"),
    "new_letter": NC_("flag", "new letter from the customer"),
    "reply_bounced": NC_("flag", "our e-mail bounced"),
    "reply_returned": NC_("flag", "our letter came back"),
    "acknowledgement_due": NC_("flag", "acknowledge receipt in writing"),
    "first_response_warned": NC_("flag", "first response due soon"),
    "first_response_breached": NC_("flag", "first response overdue"),
    "statutory_risk": NC_("flag", "statutory deadline near"),
    "statutory_breached": NC_("flag", "statutory deadline passed"),
    "deemed_accepted_risk": NC_("flag", "silence would mean the complaint is accepted"),
    "deemed_accepted": NC_("flag", "deemed accepted"),
    "duplicate_of_case": NC_("flag", "copy of a case"),
}
ENTITY_NAMES = {
    "customer_id": NC_("entity", "Customer number"),
    "phone": NC_("entity", "Phone"),
    "invoice_no": NC_("entity", "Invoice number"),
    "amount": NC_("entity", "Amount"),
    "iban": NC_("entity", "Bank account (IBAN)"),
    "pesel": NC_("entity", "PESEL"),
    "nip": NC_("entity", "Tax number (NIP)"),
    "ico": NC_("entity", "Company number (IČO)"),
    "inn": NC_("entity", "Tax number (INN)"),
    "email": NC_("entity", "E-mail address"),
    "date": NC_("entity", "Date"),
    "contract_no": NC_("entity", "Contract number"),
    "regon": NC_("entity", "REGON"),
    "rodne_cislo": NC_("entity", "Birth number (rodné číslo)"),
    "snils": NC_("entity", "SNILS"),
    "ogrn": NC_("entity", "OGRN"),
}
# The shipped queues (ground/config/routing.yaml) by their configured English name; a queue a supervisor
# adds or renames shows the name as configured.
QUEUE_NAMES = (
    NC_("queue", "Legal & regulators"),
    NC_("queue", "Privacy (GDPR / personal data)"),
    NC_("queue", "Business complaints"),
    NC_("queue", "Complaints"),
    NC_("queue", "Billing"),
    NC_("queue", "Retention"),
    NC_("queue", "Sales"),
    NC_("queue", "Technical support"),
    NC_("queue", "Customer data"),
    NC_("queue", "Escalations"),
    NC_("queue", "Triage"),
)
AUDIT_ACTIONS = {
    "agent.skills_set": NC_("audit", "skills set"),
    "archive.exported": NC_("audit", "archive exported"),
    "archive.searched": NC_("audit", "archive searched"),
    "document.classified": NC_("audit", "letter classified"),
    "document.read": NC_("audit", "letter read (OCR)"),
    "document.reclassified": NC_("audit", "letter reclassified"),
    "document.trail_exported": NC_("audit", "audit trail exported"),
    "document.viewed": NC_("audit", "letter viewed"),
    "envelope.accepted": NC_("audit", "received and stored"),
    "envelope.duplicate": NC_("audit", "received again (duplicate)"),
    "envelope.folded": NC_("audit", "folded into an earlier arrival"),
    "envelope.legal_hold_set": NC_("audit", "legal hold changed"),
    "envelope.original_downloaded": NC_("audit", "original downloaded"),
    "original.downloaded": NC_("audit", "original downloaded"),
    "envelope.processed": NC_("audit", "routed to queues"),
    "envelope.quarantined": NC_("audit", "put in quarantine"),
    "envelope.needs_human": NC_("audit", "set aside for manual handling"),
    "envelope.purged": NC_("audit", "purged (retention)"),
    "envelope.received": NC_("audit", "received"),
    "envelope.retry": NC_("audit", "sent for processing again"),
    "queue.members_set": NC_("audit", "queue members set"),
    "sla.case_clock_moved": NC_("audit", "case deadline moved"),
    "sla.started": NC_("audit", "SLA clock started"),
    "user.signed_in": NC_("audit", "signed in"),
    "user.signed_out": NC_("audit", "signed out"),
    "user.preferences_set": NC_("audit", "language and time zone set"),
    "work_item.attached_to_case": NC_("audit", "attached to a case"),
    "work_item.claimed": NC_("audit", "claimed"),
    "work_item.completed": NC_("audit", "completed"),
    "work_item.routed": NC_("audit", "routed"),
    "work_item.held": NC_("audit", "put on hold"),
    "work_item.resumed": NC_("audit", "resumed"),
    "work_item.transferred": NC_("audit", "transferred"),
    "work_item.reclassified": NC_("audit", "reclassified"),
    "work_item.escalated": NC_("audit", "escalated"),
    "work_item.released": NC_("audit", "released"),
    "work_item.renewed": NC_("audit", "claim renewed"),
    "work_item.dispatched": NC_("audit", "reply dispatched"),
    "work_item.lease_expired": NC_("audit", "claim expired"),
    "work_item.first_response": NC_("audit", "first response recorded"),
    "work_item.assigned": NC_("audit", "handed over to a colleague"),
    "work_item.note_added": NC_("audit", "internal note added"),
    "document.entity_corrected": NC_("audit", "value corrected"),
    "document.customer_linked": NC_("audit", "customer link set"),
    "envelope.corrected": NC_("audit", "letters corrected in the mailroom"),
    "document.superseded": NC_("audit", "replaced by a correction"),
    "work_item.superseded": NC_("audit", "closed: its letter was replaced by a correction"),
    "document.derived": NC_("audit", "made by a correction"),
    "document.page_reread": NC_("audit", "page read again"),
}


def _named(table: dict[str, str], code: str | None, context: str) -> str:
    if not code:
        return ""
    english = table.get(code)
    return pgettext(context, english) if english else code


def category_name(code: str | None) -> str:
    return _named(CATEGORY_NAMES, code, "category")


def flag_name(code: str | None) -> str:
    return _named(FLAG_NAMES, code, "flag")


def envelope_state_name(code: str | None) -> str:
    return _named(ENVELOPE_STATES, code, "envelope state")


def document_state_name(code: str | None) -> str:
    return _named(DOCUMENT_STATES, code, "document state")


def item_state_name(code: str | None) -> str:
    return _named(ITEM_STATES, code, "item state")


def sla_state_name(code: str | None) -> str:
    return _named(SLA_STATES, code, "sla")


def channel_name(code: str | None) -> str:
    return _named(CHANNEL_NAMES, code, "channel")


def role_name(code: str | None) -> str:
    return _named(ROLE_NAMES, code, "role")


def outcome_name(code: str | None) -> str:
    return _named(OUTCOME_NAMES, code, "outcome")


def entity_name(code: str | None) -> str:
    return _named(ENTITY_NAMES, code, "entity")


def audit_action_name(code: str | None) -> str:
    return _named(AUDIT_ACTIONS, code, "audit")


def queue_name(name: str | None) -> str:
    """A queue's configured name in the language in force (the shipped ones are in the catalogs)."""
    return pgettext("queue", name) if name else ""


def language_name(code: str | None) -> str:
    """``cs`` → ``czeski`` on a Polish page; ``und`` (undetermined) → a word for it."""
    if not code:
        return ""
    if code == "und":
        return gettext("undetermined")
    name = _current.get().locale.languages.get(code)
    return name or code


# Reasons the lower layers give in fixed words that pages show: in the catalogs, so ``gettext(reason)`` finds
# them; a reason with values in it is shown as given.
KNOWN_REASONS = (
    N_("A query needs at least one word that must occur, not only excluded words."),
    N_("Not found."),
)
