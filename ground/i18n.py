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


_current: ContextVar[Local] = ContextVar("mailroom_local", default=Local())


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
    "complaint": N_("Complaint"),
    "invoice_query": N_("Invoice query"),
    "payment": N_("Payment"),
    "cancellation": N_("Cancellation"),
    "service_order": N_("Service order"),
    "fault_report": N_("Fault report"),
    "data_change": N_("Change of customer data"),
    "number_porting": N_("Number porting"),
    "legal": N_("Legal matter"),
    "gdpr_request": N_("Personal data request (GDPR)"),
    "other": N_("Other"),
}

# Envelope (a batch, file or e-mail), document (a letter in it) and work item states, each in its context.
ENVELOPE_STATES = {
    "received": N_("waiting for OCR"),
    "processed": N_("routed to queues"),
    "quarantined": N_("in quarantine"),
    "needs_human": N_("needs manual handling"),
}
DOCUMENT_STATES = {
    "read": N_("read, being classified"),
    "routed": N_("routed"),
}
ITEM_STATES = {
    "new": N_("new"),
    "claimed": N_("in progress"),
    "on_hold": N_("on hold"),
    "done": N_("done"),
}
SLA_STATES = {
    "ok": N_("on time"),
    "risk": N_("at risk"),
    "breached": N_("overdue"),
}
CHANNEL_NAMES = {"scan": N_("Scan"), "fax": N_("Fax"), "email": N_("E-mail"), "upload": N_("Upload")}
ROLE_NAMES = {
    "scanner": N_("mailroom staff"),
    "agent": N_("agent"),
    "supervisor": N_("supervisor"),
    "auditor": N_("auditor"),
    "admin": N_("administrator"),
}
OUTCOME_NAMES = {
    "resolved": N_("resolved"),
    "answered": N_("answered"),
    "rejected": N_("rejected"),
    "no_action": N_("no action needed"),
    "forwarded": N_("forwarded"),
    "duplicate": N_("duplicate"),
    "duplicate_of_case": N_("duplicate of a case"),
}
ENTITY_NAMES = {
    "customer_id": N_("Customer number"),
    "phone": N_("Phone"),
    "invoice_no": N_("Invoice number"),
    "amount": N_("Amount"),
    "iban": N_("Bank account (IBAN)"),
    "pesel": N_("PESEL"),
    "nip": N_("Tax number (NIP)"),
    "ico": N_("Company number (IČO)"),
    "inn": N_("Tax number (INN)"),
    "email": N_("E-mail address"),
    "date": N_("Date"),
    "contract_no": N_("Contract number"),
    "regon": N_("REGON"),
    "rodne_cislo": N_("Birth number (rodné číslo)"),
    "snils": N_("SNILS"),
    "ogrn": N_("OGRN"),
}
# The shipped queues (ground/config/routing.yaml) by their configured English name; a queue a supervisor
# adds or renames shows the name as configured.
QUEUE_NAMES = (
    N_("Legal & regulators"),
    N_("Privacy (GDPR / personal data)"),
    N_("Business complaints"),
    N_("Complaints"),
    N_("Billing"),
    N_("Retention"),
    N_("Sales"),
    N_("Technical support"),
    N_("Customer data"),
    N_("Escalations"),
    N_("Triage"),
)
AUDIT_ACTIONS = {
    "agent.skills_set": N_("skills set"),
    "archive.exported": N_("archive exported"),
    "archive.searched": N_("archive searched"),
    "document.classified": N_("letter classified"),
    "document.read": N_("letter read (OCR)"),
    "document.reclassified": N_("letter reclassified"),
    "document.trail_exported": N_("audit trail exported"),
    "document.viewed": N_("letter viewed"),
    "envelope.accepted": N_("received and stored"),
    "envelope.duplicate": N_("received again (duplicate)"),
    "envelope.folded": N_("folded into an earlier arrival"),
    "envelope.legal_hold_set": N_("legal hold changed"),
    "envelope.original_downloaded": N_("original downloaded"),
    "original.downloaded": N_("original downloaded"),
    "envelope.processed": N_("routed to queues"),
    "envelope.quarantined": N_("put in quarantine"),
    "envelope.needs_human": N_("set aside for manual handling"),
    "envelope.purged": N_("purged (retention)"),
    "envelope.received": N_("received"),
    "envelope.retry": N_("sent for processing again"),
    "queue.members_set": N_("queue members set"),
    "sla.case_clock_moved": N_("case deadline moved"),
    "sla.started": N_("SLA clock started"),
    "user.signed_in": N_("signed in"),
    "user.signed_out": N_("signed out"),
    "user.preferences_set": N_("language and time zone set"),
    "work_item.attached_to_case": N_("attached to a case"),
    "work_item.claimed": N_("claimed"),
    "work_item.completed": N_("completed"),
    "work_item.routed": N_("routed"),
    "work_item.held": N_("put on hold"),
    "work_item.resumed": N_("resumed"),
    "work_item.transferred": N_("transferred"),
    "work_item.reclassified": N_("reclassified"),
    "work_item.escalated": N_("escalated"),
    "work_item.released": N_("released"),
    "work_item.renewed": N_("claim renewed"),
    "work_item.dispatched": N_("reply dispatched"),
    "work_item.lease_expired": N_("claim expired"),
}


def _named(table: dict[str, str], code: str | None, context: str) -> str:
    if not code:
        return ""
    english = table.get(code)
    return pgettext(context, english) if english else code


def category_name(code: str | None) -> str:
    return _named(CATEGORY_NAMES, code, "category")


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
