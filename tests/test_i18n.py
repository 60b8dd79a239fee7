"""Pages, flash messages, CSV headers and CLI messages in Polish, Czech, Russian and English (issue #16):
the catalogs are complete and in step with the code, plural forms are right, every page of every role
renders in the language asked for with ``<html lang>`` to match and none of the English labels left, the
user's own language and time zone win, and times show in the reader's zone."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from ground import i18n
from mailroom.cli import main
from pipeline.context import Context
from storage.db import session_scope
from storage.models import Role, User, WorkItem
from storage.users import hash_password, upsert_user
from tests.support.agents import join_every_queue
from tests.test_web import routed_letter, sign_in
from web.app import create_app
from web.pages import sla_view

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "ground" / "locale"
USERS = {"scan": Role.SCANNER, "anna": Role.AGENT, "boss": Role.SUPERVISOR, "audit": Role.AUDITOR,
         "root": Role.ADMIN}
# What a person clicks or reads to find their way: none of it may stay English on a pl/cs/ru page.
ENGLISH_LABELS = [
    "My queues", "Dashboard", "Archive", "Sign out", "Signed in as", "Next item", "Claimed by me", "Claim",
    "Complete", "Put on hold", "Resume", "Transfer", "Reclassify", "Zoom", "Recognised text", "Fields",
    "Search", "Export CSV", "Previous", "Download the original", "Audit trail", "Choose files", "Retry",
    "Quarantine", "Recent arrivals", "Save", "Time zone", "Sign in", "User name", "Password", "Queue",
    "Category", "State", "Channel", "Received", "Language", "Letters", "Oldest open", "At risk", "Overdue",
    "Skip to the content", "on time", "waiting for OCR", "routed", "new", "in progress", "Complaint",
    "Invoice query", "Billing", "Complaints", "Technical support", "Triage", "Routing rules in force",
    "SLA policies in force", "Agents", "Queue dashboard", "Upload scans", "Words in the text", "any",
]


# ---------------------------------------------------------------- the catalogs


def _catalog(language: str):  # type: ignore[no-untyped-def]
    with (LOCALE / language / "LC_MESSAGES" / "mailroom.po").open("rb") as f:
        return read_po(f, locale=language, domain="mailroom")


def _template():  # type: ignore[no-untyped-def]
    with (LOCALE / "mailroom.pot").open("rb") as f:
        return read_po(f)


def _key(m) -> tuple:  # type: ignore[no-untyped-def]
    return m.context, m.id


def test_the_catalogs_hold_every_string_the_code_marks(tmp_path: Path) -> None:
    """`make i18n-extract` run now finds exactly the msgids of the committed template and catalogs: a string
    added to the code without `make i18n-extract i18n-update` (and a translation) fails here."""
    out = tmp_path / "fresh.pot"
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "-q", "extract", "-F", "babel.cfg", "-k", "N_",
                    "-k", "NC_:1c,2", "-o", str(out), "ground", "web", "mailroom", "replies"], cwd=ROOT, check=True,
                   timeout=300)
    with out.open("rb") as f:
        fresh = {_key(m) for m in read_po(f) if m.id}
    committed = {_key(m) for m in _template() if m.id}
    assert fresh == committed, {"not in the catalogs": fresh - committed, "no longer in the code": committed - fresh}
    for language in i18n.LANGUAGES:
        assert {_key(m) for m in _catalog(language) if m.id} == committed, language


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_msgid_has_a_translation_with_every_plural_form(language: str) -> None:
    catalog = _catalog(language)
    assert catalog.num_plurals == (2 if language == "en" else 3), catalog.plural_forms
    problems = []
    for m in catalog:
        if not m.id:
            continue
        forms = m.string if isinstance(m.string, tuple | list) else (m.string,)
        if isinstance(m.id, tuple) and len(forms) != catalog.num_plurals:
            problems.append(f"{m.id!r}: {len(forms)} plural forms, the language has {catalog.num_plurals}")
        if not all(s and s.strip() for s in forms):
            problems.append(f"{m.context or ''} {m.id!r}: no translation")
        if m.fuzzy:
            problems.append(f"{m.id!r}: fuzzy (not used until reviewed)")
        problems += [f"{m.id!r}: {e}" for e in m.check(catalog)]  # placeholders as in the msgid
    assert not problems, "\n".join(problems)


def test_plural_forms_are_right_for_each_language() -> None:
    expected = {
        "pl": {1: "1 list", 2: "2 listy", 4: "4 listy", 5: "5 listów", 12: "12 listów", 22: "22 listy",
               25: "25 listów", 101: "101 listów"},
        "cs": {1: "1 dopis", 2: "2 dopisy", 4: "4 dopisy", 5: "5 dopisů", 22: "22 dopisů"},
        "ru": {1: "1 письмо", 2: "2 письма", 5: "5 писем", 11: "11 писем", 21: "21 письмо", 22: "22 письма",
               111: "111 писем"},
        "en": {1: "1 letter", 2: "2 letters"},
    }
    for language, cases in expected.items():
        with i18n.use(language):
            for n, text in cases.items():
                assert i18n.ngettext("%(num)d letter", "%(num)d letters", n) % {"num": n} == text


def test_names_of_categories_states_and_queues_are_translated_but_letters_are_not() -> None:
    with i18n.use("pl"):
        assert i18n.category_name("complaint") == "Reklamacja"
        assert i18n.gettext("Complete") == "Zakończ" and i18n.gettext("Put on hold") == "Wstrzymaj"
        assert i18n.gettext("Next item") == "Następny list"
        assert i18n.queue_name("Complaints") == "Reklamacje"
        assert i18n.queue_name("A queue a supervisor added") == "A queue a supervisor added"
        assert i18n.language_name("cs") == "czeski"
    with i18n.use("cs"):
        assert (i18n.category_name("complaint"), i18n.gettext("Next item"), i18n.gettext("Complete")) == \
            ("Reklamace", "Další dopis", "Dokončit")
    with i18n.use("ru"):
        assert (i18n.category_name("complaint"), i18n.gettext("Next item"), i18n.gettext("Complete")) == \
            ("Претензия", "Следующее письмо", "Завершить")
    for code in i18n.CATEGORY_NAMES:
        names = set()
        for language in i18n.LANGUAGES:
            with i18n.use(language):
                names.add(i18n.category_name(code))
        assert len(names) == 4 or code == "other", (code, names)


def test_a_catalog_without_its_compiled_file_is_compiled_in_memory(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """An image built with `pip install .` has the .po files only: the pages still speak the language."""
    folder = tmp_path / "pl" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "mailroom.po").write_bytes((LOCALE / "pl" / "LC_MESSAGES" / "mailroom.po").read_bytes())
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.translations.cache_clear()
    try:
        assert i18n.translations("pl").gettext("Next item") == "Następny list"
    finally:
        i18n.translations.cache_clear()


# ---------------------------------------------------------------- choosing the language


def test_choice_of_language_user_then_browser_then_site() -> None:
    assert i18n.negotiate("cs-CZ,cs;q=0.9,en;q=0.8") == "cs"
    assert i18n.negotiate("de-DE, ru;q=0.5, pl;q=0.7") == "pl"
    assert i18n.negotiate("de, fr") is None and i18n.negotiate("") is None and i18n.negotiate("pl;q=0") is None
    assert i18n.choose_language("ru", "pl", "cs") == "ru"
    assert i18n.choose_language(None, "pl-PL", "cs") == "pl"
    assert i18n.choose_language(None, "de", "cs") == "cs"
    assert i18n.choose_language(None, None, "xx") == "en"


def test_settings_language_and_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from ground.settings import Settings

    assert (Settings().language, Settings().time_zone) == ("en", "Europe/Warsaw")
    monkeypatch.setenv("MAILROOM_TIME_ZONE", "Europe/Prague")
    monkeypatch.setenv("MAILROOM_LANGUAGE", "pl-PL")
    assert (Settings().language, Settings().time_zone, Settings().timezone) == ("pl", "Europe/Prague", "Europe/Prague")
    monkeypatch.delenv("MAILROOM_TIME_ZONE")
    monkeypatch.setenv("MAILROOM_TIMEZONE", "Europe/Moscow")  # the earlier name still works
    assert Settings().time_zone == "Europe/Moscow"
    monkeypatch.setenv("MAILROOM_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValidationError, match="MAILROOM_TIME_ZONE"):
        Settings()
    monkeypatch.delenv("MAILROOM_TIMEZONE")
    monkeypatch.setenv("MAILROOM_LANGUAGE", "de")
    with pytest.raises(ValidationError, match="MAILROOM_LANGUAGE"):
        Settings()


# ---------------------------------------------------------------- every page of every role


@pytest.fixture(scope="module")
def letters(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    from corpus.generate import generate

    out = tmp_path_factory.mktemp("letters")
    return out, generate(out, seed=5, count=2, forms=["text_pdf"])


@pytest.fixture
def web(ctx: Context) -> Iterator[TestClient]:
    with session_scope(ctx.db_url) as s:
        for name, role in USERS.items():
            upsert_user(s, name, f"{name}-password", role, name.title())
        join_every_queue(s, ctx.rules)
    with TestClient(create_app(ctx), follow_redirects=False) as client:
        yield client


class _Visible(HTMLParser):
    """The text a person reads or hears: text nodes, and labels given in attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.lang = ""
        self._skip = 0
        self._open: list[bool] = []  # per open element: whether it starts a skipped subtree

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang") or ""
        # not the page's words: scripts, codes, and data (letters' text in their own language, file names,
        # audit details); void elements never close, so they are not counted
        classes = set((values.get("class") or "").split())
        skip = tag in ("script", "style", "code") or (tag != "html" and "lang" in values) or bool(
            classes & {"ocr", "snippet", "name", "detail"})
        if tag not in ("input", "img", "meta", "link", "br", "hr", "meter"):
            self._open.append(skip)
            self._skip += skip
        for name in ("aria-label", "title", "placeholder", "alt", "data-uploading", "data-accepted",
                     "data-rejected", "data-duplicate", "data-open", "data-breached"):
            if values.get(name):
                self.parts.append(values[name] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag not in ("input", "img", "meta", "link", "br", "hr", "meter") and self._open:
            self._skip -= self._open.pop()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _english_left(html: str, letter_text: str = "") -> list[str]:
    parser = _Visible()
    parser.feed(html)
    text = " ".join(parser.parts).replace(letter_text, " ")
    return [label for label in ENGLISH_LABELS if re.search(rf"(?<![\w-]){re.escape(label)}(?![\w-])", text)]


def _pages(ctx: Context, item: WorkItem) -> dict[str, list[str]]:
    doc, env = item.document_id, None
    with session_scope(ctx.db_url) as s:
        env = s.get(WorkItem, item.id).document.envelope_id  # type: ignore[union-attr]
    mailroom = ["/mailroom", "/mailroom/batches", "/mailroom/quarantine", f"/mailroom/batches/{env}", "/profile"]
    agent = ["/agent", "/agent/queues", f"/agent/items/{item.id}", "/profile"]
    auditor = ["/auditor", "/auditor?q=faktura&date_from=2020-01-01", f"/auditor/documents/{doc}", "/profile"]
    supervisor = ["/supervisor", "/supervisor/queues", *mailroom[:-1], *agent]
    return {"scan": mailroom, "anna": agent, "boss": supervisor, "audit": auditor,
            "root": [*supervisor, *auditor]}


@pytest.mark.parametrize("language", ["pl", "cs", "ru"])
def test_every_page_of_every_role_renders_in_the_language_asked_for(web: TestClient, ctx: Context, letters,  # type: ignore[no-untyped-def]
                                                                    language: str) -> None:
    item, truth = routed_letter(ctx, letters, 0)
    login = web.get("/login", headers={"Accept-Language": f"{language},en;q=0.5"})
    assert f'<html lang="{language}">' in login.text and not _english_left(login.text)
    for user, urls in _pages(ctx, item).items():
        web.cookies.clear()
        sign_in(web, user)
        for url in urls:
            for lang, expect_english in ((language, False), ("en", True)):
                page = web.get(url, headers={"Accept-Language": lang})
                assert page.status_code == 200, (user, url, page.status_code)
                assert page.headers["content-language"] == lang
                if not url.endswith(("/queues", "/batches", "/quarantine")):  # htmx fragments have no <html>
                    assert f'<html lang="{lang}">' in page.text, (user, url)
                left = _english_left(page.text, truth["text"])
                if expect_english:
                    if "<html" in page.text:
                        assert left, (user, url)  # the check itself can see English labels
                else:
                    assert not left, (language, user, url, left)


def test_flash_messages_and_csv_headers_follow_the_language(web: TestClient, ctx: Context, letters) -> None:  # type: ignore[no-untyped-def]
    item, truth = routed_letter(ctx, letters, 1)
    csrf = sign_in(web, "anna")
    pl = {"Accept-Language": "pl"}
    r = web.post(f"/agent/items/{item.id}/claim", data={"csrf_token": csrf}, headers=pl)
    assert "Zg%C5%82oszenie+jest+teraz+Twoje" in r.headers["location"]
    assert "Zgłoszenie jest teraz Twoje." in web.get(r.headers["location"], headers=pl).text
    # a refused action is said on the page, in the reader's language (here: a hold needs a reason or not,
    # and a claim of a claimed item by someone else is a conflict)
    with session_scope(ctx.db_url) as s:
        upsert_user(s, "bob", "bob-password", Role.AGENT, "Bob")
        join_every_queue(s, ctx.rules, ["bob"])
    web.cookies.clear()
    csrf = sign_in(web, "bob")
    r = web.post(f"/agent/items/{item.id}/complete", data={"csrf_token": csrf, "outcome": "answered"},
                 headers={"Accept-Language": "cs"})
    assert r.status_code == 303 and "message=" in r.headers["location"]
    web.cookies.clear()
    sign_in(web, "audit")
    word = next(w for w in re.findall(r"\w{7,}", truth["text"]) if not w.isdigit())
    export = web.get("/auditor/export.csv", params={"q": word}, headers={"Accept-Language": "ru"})
    header = next(csv.reader(io.StringIO(export.text)))
    assert header[:3] == ["Документ", "Получено", "Канал"]
    assert "+00:00" in export.text  # values stay ISO 8601 with their offset


def test_login_errors_are_translated(web: TestClient) -> None:
    page = web.get("/login", headers={"Accept-Language": "cs"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = web.post("/login", data={"username": "anna", "password": "wrong", "csrf_token": token, "next": "/"},
                 headers={"Accept-Language": "cs"})
    assert r.status_code == 401 and "Nesprávné uživatelské jméno nebo heslo." in r.text
    assert '<html lang="cs">' in r.text


def test_a_translated_page_still_escapes_what_came_from_outside(web: TestClient, ctx: Context, letters) -> None:  # type: ignore[no-untyped-def]
    item, _ = routed_letter(ctx, letters, 0, name='<img src=x onerror=alert(1)>%(x)s.pdf')
    sign_in(web, "audit")
    page = web.get(f"/auditor/documents/{item.document_id}", headers={"Accept-Language": "pl"})
    assert page.status_code == 200 and "<img src=x" not in page.text and "&lt;img src=x" in page.text


# ---------------------------------------------------------------- the user's own language and zone


def test_profile_sets_language_and_zone_which_win_over_the_browser(web: TestClient, ctx: Context) -> None:
    csrf = sign_in(web, "anna")
    page = web.get("/profile", headers={"Accept-Language": "pl"})
    assert "Język i strefa czasowa" in page.text and 'value="Europe/Moscow"' in page.text
    r = web.post("/profile", data={"csrf_token": csrf, "language": "ru", "time_zone": "Europe/Moscow"},
                 headers={"Accept-Language": "pl"})
    assert r.status_code == 303
    saved = web.get(r.headers["location"], headers={"Accept-Language": "pl"})
    assert '<html lang="ru">' in saved.text and "Настройки сохранены." in saved.text
    assert '<html lang="ru">' in web.get("/agent", headers={"Accept-Language": "pl"}).text
    with session_scope(ctx.db_url) as s:
        anna = s.scalars(select(User).where(User.username == "anna")).one()
        assert (anna.language, anna.time_zone) == ("ru", "Europe/Moscow")
    assert web.post("/profile", data={"csrf_token": csrf, "language": "de"}).status_code == 422
    assert web.post("/profile", data={"csrf_token": csrf, "time_zone": "Poland/Nowhere"}).status_code == 422
    r = web.post("/profile", data={"csrf_token": csrf, "language": "", "time_zone": ""})  # back to automatic
    assert '<html lang="cs">' in web.get("/agent", headers={"Accept-Language": "cs"}).text
    ctx.settings.language = "pl"
    assert '<html lang="pl">' in web.get("/agent").text  # no preference, no header: MAILROOM_LANGUAGE


def test_a_december_deadline_of_17_utc_shows_in_each_users_zone(web: TestClient, ctx: Context, letters) -> None:  # type: ignore[no-untyped-def]
    item, _ = routed_letter(ctx, letters, 0)
    due = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
    with session_scope(ctx.db_url) as s:
        s.execute(update(WorkItem).where(WorkItem.id == item.id).values(sla_due=due, warn_at=due))
    shown = {}
    for zone, language in (("Europe/Warsaw", "pl"), ("Europe/Prague", "cs"), ("Europe/Moscow", "ru"),
                           (None, "en")):
        with session_scope(ctx.db_url) as s:
            s.execute(update(User).where(User.username == "anna").values(time_zone=zone, language=language))
        web.cookies.clear()
        sign_in(web, "anna")
        page = web.get(f"/agent/items/{item.id}").text
        shown[zone] = re.search(r'<time datetime="2026-12-03T17:00:00\+00:00"[^>]*>([^<]+)</time>', page).group(1)  # type: ignore[union-attr]
    assert "18:00" in shown["Europe/Warsaw"] and "18:00" in shown["Europe/Prague"]
    assert "20:00" in shown["Europe/Moscow"]
    assert re.sub(r"\s", " ", shown[None]).endswith("6:00 PM")  # no zone of her own: MAILROOM_TIME_ZONE (Europe/Warsaw)
    assert "gru 2026" in shown["Europe/Warsaw"] and "12. 2026" in shown["Europe/Prague"]
    assert "дек. 2026" in shown["Europe/Moscow"]
    # the API keeps ISO 8601 with its offset, whoever asks
    api = web.get(f"/api/work-items/{item.id}", auth=("anna", "anna-password")).json()
    assert datetime.fromisoformat(api["sla_due"]) == due and api["sla_due"].endswith(("Z", "+00:00"))


def _item(due: datetime, policy: str = "internal:standard", language: str = "pl", state: str = "claimed",
          holds: list | None = None) -> SimpleNamespace:
    return SimpleNamespace(sla_due=due, warn_at=due - timedelta(hours=1), state=state, holds=holds or [],
                           sla_policy=policy, document=SimpleNamespace(language=language))


def test_time_left_counts_on_the_business_calendar_of_the_clock(ctx: Context) -> None:
    waw, msk = ZoneInfo("Europe/Warsaw"), ZoneInfo("Europe/Moscow")
    friday_17 = datetime(2026, 12, 4, 17, 0, tzinfo=waw)
    monday_10 = datetime(2026, 12, 7, 10, 0, tzinfo=waw)
    view = sla_view(_item(monday_10), ctx.policies, friday_17)  # pl-business: Mon-Fri 08:00-18:00
    assert view.seconds_left == 3 * 3600 and view.open_seconds == 3600 and view.state == "ok"
    assert view.left == "3 h 00 min"
    with i18n.use("pl"):
        assert view.left == "3 godz. 00 min"
    saturday = datetime(2026, 12, 5, 12, 0, tzinfo=waw)
    closed = sla_view(_item(monday_10), ctx.policies, saturday)
    assert closed.seconds_left == 2 * 3600 and closed.open_seconds == 0  # the clock stands still
    # a Russian letter counts on the Russian calendar (09:00-18:00 Moscow)
    ru = sla_view(_item(datetime(2026, 12, 7, 10, 0, tzinfo=msk), language="ru"), ctx.policies,
                  datetime(2026, 12, 4, 17, 0, tzinfo=msk))
    assert ru.seconds_left == 2 * 3600
    # a 24x7 target (fault reports) and a statutory deadline count every hour
    assert sla_view(_item(monday_10, policy="internal:fault-report"), ctx.policies, friday_17).seconds_left \
        == int((monday_10 - friday_17).total_seconds())
    assert sla_view(_item(monday_10, policy="statutory:pl-telecom-complaint"), ctx.policies,
                    friday_17).seconds_left == int((monday_10 - friday_17).total_seconds())
    # on hold: the clock stopped when the hold began
    held = _item(monday_10, state="on_hold", holds=[[datetime(2026, 12, 4, 16, 0, tzinfo=UTC).isoformat(), None]])
    assert sla_view(held, ctx.policies, datetime(2026, 12, 7, 9, 0, tzinfo=waw)).seconds_left == 3 * 3600
    breached = sla_view(_item(friday_17), ctx.policies, monday_10)
    assert breached.state == "breached" and breached.seconds_left == 0


def test_date_fields_take_the_languages_own_format(web: TestClient, ctx: Context, letters) -> None:  # type: ignore[no-untyped-def]
    routed_letter(ctx, letters, 0)
    sign_in(web, "audit")
    today = datetime.now(UTC).date()
    page = web.get("/auditor", params={"q": "", "date_from": today.strftime("%d.%m.%Y")},
                   headers={"Accept-Language": "pl"})
    assert "(dd.mm.rrrr)" in page.text and f'value="{today.strftime("%d.%m.%Y")}"' in page.text
    page = web.get("/auditor", params={"date_from": f"{today:%Y-%m-%d}"}, headers={"Accept-Language": "en"})
    assert f'value="{today:%m/%d/%Y}"' in page.text and "(mm/dd/yyyy)" in page.text
    page = web.get("/auditor", params={"date_from": f"{today.day}. {today.month}. {today.year}"},
                   headers={"Accept-Language": "cs"})
    assert "1 dopis" in page.text or "dopisy" in page.text or "dopisů" in page.text


# ---------------------------------------------------------------- the command line


def test_users_add_sets_a_users_language_and_zone(ctx: Context, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "pl_PL.UTF-8")
    assert main(["users", "add", "ewa", "--role", "agent", "--password", "long-enough-1", "--language", "cs",
                 "--time-zone", "Europe/Prague"]) == 0
    assert "zapisano użytkownika ewa (agent)" in capsys.readouterr().out
    with session_scope(ctx.db_url) as s:
        ewa = s.scalars(select(User).where(User.username == "ewa")).one()
        assert (ewa.language, ewa.time_zone) == ("cs", "Europe/Prague")
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert main(["users", "add", "ewa", "--role", "agent", "--password", "long-enough-1", "--language", "de"]) == 2
    assert "--language: use one of en, pl, cs, ru" in capsys.readouterr().err
    assert main(["users", "add", "ewa", "--role", "agent", "--password", "long-enough-1", "--time-zone", "X/Y"]) == 2
    monkeypatch.setenv("LANG", "ru_RU.UTF-8")
    assert main(["users", "add", "ewa", "--role", "agent", "--password", "short"]) == 2
    assert "Пароль должен содержать не менее 8 символов." in capsys.readouterr().err
    assert main(["users", "add", "ewa", "--role", "agent", "--password", "x" * 501]) == 2  # the pages' rule too
    assert "500" in capsys.readouterr().err


def test_every_command_exits_quietly_when_its_output_pipe_closes(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`mailroom users list | head -1`: no BrokenPipeError traceback, the exit status of a closed pipe."""
    from storage.db import migrate

    migrate(settings.db_url)
    with session_scope(settings.db_url) as s:
        mark = hash_password("x")
        s.add_all([User(username=f"user{n:05d}", display_name=f"User {n}", role="agent", password_hash=mark)
                   for n in range(6000)])
    env = dict(os.environ, MAILROOM_DATA=str(settings.data))
    for command in (["users", "list"], ["search", "--help"]):
        proc = subprocess.Popen([sys.executable, "-m", "mailroom.cli", *command], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, cwd=ROOT)
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()  # `| head -1` has what it wanted and goes away
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=120)
        assert first, command
        assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err
        assert code in (0, 141), (command, code, err)
