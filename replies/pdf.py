"""A letter as a PDF/A for the post: HTML/CSS (``templates/letter.html``, ``letter.css``) laid out by WeasyPrint.

The sheet is an A4 letter folded for a DL window envelope, DIN 5008 form B: the address field (85 × 45 mm,
20 mm from the left, 45 mm from the top) holds the sender's return line, the "registered" mark and the
recipient; fold marks at 105 and 210 mm. After layout the recipient's lines are measured: a line that does not
fit the window is set again smaller and condensed, and a letter that still does not fit is refused
(:class:`~ground.errors.InvalidRequest`) rather than printed with half an address behind the envelope.

Labels are translated with the project's gettext catalogs (context ``letter``); the body is the agent's text,
escaped by Jinja2 and never translated. Nothing is fetched while rendering: fonts come from fontconfig (DejaVu)
and every URL is refused.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator
from importlib import resources
from typing import Any

from babel.dates import format_date
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ground.errors import Disposition, InvalidRequest, MailroomError
from ground.i18n import LANGUAGES, pgettext, use
from replies.letter import LetterContent

PDF_VARIANT = "pdf/a-3b"
MM = 96 / 25.4  # CSS px per millimetre (WeasyPrint lays out in CSS px)
# The part of the address field that is seen through a DL window (90 × 45 mm at 20 mm from the left); the
# field itself is 85 mm wide, so a line that stays in the field stays in the window with 5 mm to spare.
FIELD_MM = (20.0, 45.0, 105.0, 90.0)  # left, top, right, bottom
MAX_RECIPIENT_LINES = 6
FITS = ("", "compact")  # the address as set normally, then smaller and condensed

log = logging.getLogger(__name__)


class RenderFailed(MailroomError):
    """WeasyPrint could not lay out or write a letter (a bug or a broken installation, not the letter)."""

    code = "render_failed"
    disposition = Disposition.NEEDS_HUMAN
    http_status = 500


# ---------------------------------------------------------------- WeasyPrint set-up


@functools.cache
def load_weasyprint() -> None:
    """Import WeasyPrint once and undo what its import does to the whole process: it sets Pillow's
    ``ImageFile.LOAD_TRUNCATED_IMAGES``, after which a worker that also reads scans would OCR half of a truncated
    image as if it were whole instead of calling the file damaged."""
    import weasyprint  # noqa: F401 - imported for its side effect, undone below
    from PIL import ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = False


def refusing_fetcher() -> Any:
    """A WeasyPrint URL fetcher that fetches nothing: the templates need no resource, and a URL that slipped into
    a letter must never reach the network or the file system."""
    load_weasyprint()
    from weasyprint.urls import URLFetcher

    class RefusingFetcher(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            raise ValueError(f"letters fetch no resources (refused {url[:80]!r})")

    return RefusingFetcher(allowed_protocols=())


@functools.cache
def environment() -> Environment:
    return Environment(loader=PackageLoader("replies", "templates"), autoescape=select_autoescape(["html"]),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


@functools.cache
def stylesheet(name: str) -> Any:
    """A packaged stylesheet (``letter.css``), parsed once per process."""
    load_weasyprint()
    from weasyprint import CSS

    text = (resources.files("replies") / "templates" / name).read_text(encoding="utf-8")
    return CSS(string=text, url_fetcher=refusing_fetcher())


def css_string(text: str) -> str:
    """``text`` as a CSS string literal, every character that is not a letter, digit or space hex-escaped."""
    return '"' + "".join(c if c.isalnum() or c == " " else f"\\{ord(c):06x} " for c in text) + '"'


@functools.cache
def page_number_css(label: str, prefix: str = "", first_page: bool = False) -> Any:
    """A ``@page`` rule printing ``label`` (a translated "Page %(page)s of %(pages)s") bottom right, after
    ``prefix``; on the first page too when ``first_page``."""
    load_weasyprint()
    from weasyprint import CSS

    parts = []
    for token in re.split(r"(%\((?:page|pages)\)s)", prefix + label):
        if token == "%(page)s":
            parts.append("counter(page)")
        elif token == "%(pages)s":
            parts.append("counter(pages)")
        elif token:
            parts.append(css_string(token))
    rule = "@page { @bottom-right { content: " + " ".join(parts or ['""']) + "; } }"
    if not first_page:
        rule += "\n@page :first { @bottom-right { content: none; } }"
    return CSS(string=rule, url_fetcher=refusing_fetcher())


def html_to_pdf(html: str, stylesheets: list[Any], what: str) -> Any:
    """Lay out ``html`` (a WeasyPrint ``Document``); a WeasyPrint failure becomes :class:`RenderFailed`."""
    load_weasyprint()
    from weasyprint import HTML

    try:
        return HTML(string=html, url_fetcher=refusing_fetcher(), base_url=None).render(stylesheets=stylesheets)
    except MailroomError:
        raise
    except Exception as exc:  # WeasyPrint raises anything from pango to fontTools
        raise RenderFailed(f"{what} could not be laid out ({type(exc).__name__}: {exc}); check that WeasyPrint, "
                           f"pango and fonts-dejavu-core are installed (make install) and report it") from exc


def write_pdf(document: Any, what: str) -> bytes:
    """The PDF/A bytes of a laid-out ``document``."""
    try:
        data = document.write_pdf(pdf_variant=PDF_VARIANT)
    except Exception as exc:
        raise RenderFailed(f"{what} could not be written as {PDF_VARIANT} ({type(exc).__name__}: {exc}); "
                           f"check the WeasyPrint installation (make install) and report it") from exc
    assert isinstance(data, bytes)
    return data


# ---------------------------------------------------------------- the letter


def labels(language: str) -> dict[str, str]:
    """The letter's printed labels in ``language`` (gettext context ``letter``)."""
    with use(language):
        return {
            "our_reference": pgettext("letter", "Our reference"),
            "their_reference": pgettext("letter", "Your reference"),
            "registered": pgettext("letter", "Registered"),
            "attachments": pgettext("letter", "Attachments"),
            "phone": pgettext("letter", "Phone"),
            "email": pgettext("letter", "E-mail"),
            "page": pgettext("letter", "Page %(page)s of %(pages)s"),
        }


def paragraphs(body: str) -> list[str]:
    """The body's paragraphs: a blank line starts a new one; single line breaks stay (CSS ``pre-line``)."""
    text = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    return [p.strip("\n") for p in re.split(r"\n[ \t]*\n\s*", text) if p.strip()]


def _check(content: LetterContent) -> tuple[str, ...]:
    if content.language not in LANGUAGES:
        raise InvalidRequest(f"letter {content.reference}: language {content.language!r} is not one of "
                             f"{', '.join(LANGUAGES)}; set LetterContent.language to one of them")
    recipient = tuple(" ".join(line.split()) for line in content.recipient.lines)
    recipient = tuple(line for line in recipient if line)
    if not recipient:
        raise InvalidRequest(f"letter {content.reference}: the recipient's address is empty; "
                             f"give the name and postal address before posting it")
    if len(recipient) > MAX_RECIPIENT_LINES:
        raise InvalidRequest(f"letter {content.reference}: the recipient's address has {len(recipient)} lines, "
                             f"the envelope window holds {MAX_RECIPIENT_LINES}; join or drop lines")
    return recipient


def _html(content: LetterContent, recipient: tuple[str, ...], words: dict[str, str], fit: str) -> str:
    date_text = format_date(content.letter_date, format="long", locale=content.language)
    place_date = f"{content.place}, {date_text}" if content.place.strip() else date_text
    return environment().get_template("letter.html").render(
        lang=content.language, fit=fit, labels=words, sender=content.sender, recipient=recipient,
        registered=content.registered, reference=content.reference, their_reference=content.their_reference,
        place_date=place_date, subject=content.subject, paragraphs=paragraphs(content.body),
        signature=content.signature, attachments=[a.filename for a in content.attachments])


def _boxes(box: Any) -> Iterator[Any]:
    yield box
    for child in getattr(box, "children", ()):
        yield from _boxes(child)


def _classes(box: Any) -> set[str]:
    element = getattr(box, "element", None)
    return set((element.get("class") or "").split()) if element is not None else set()


def overflowing_lines(document: Any) -> list[str]:
    """The address-field lines of the first page whose text reaches outside the field (85 × 45 mm)."""
    left, top, right, bottom = (v * MM for v in FIELD_MM)
    slack = 0.2 * MM
    out = []
    for box in _boxes(document.pages[0]._page_box):
        classes = _classes(box)
        if not classes & {"recipient-line", "return-line", "registered"}:
            continue
        for text in (b for b in _boxes(box) if getattr(b, "text", None)):
            x0, y0 = text.position_x, text.position_y
            x1, y1 = x0 + text.width, y0 + text.height
            if x0 < left - slack or x1 > right + slack or y0 < top - slack or y1 > bottom + slack:
                out.append("".join(box.element.itertext()).strip())
                break
    return out


def render_letter(content: LetterContent) -> bytes:
    """The letter as PDF/A bytes (A4, DIN 5008 form B for a DL window envelope).

    Raises :class:`~ground.errors.InvalidRequest` when the letter cannot be posted as it is (unknown language,
    no address, an address that does not fit the window) and :class:`RenderFailed` when WeasyPrint fails.
    """
    recipient = _check(content)
    words = labels(content.language)
    sheets = [stylesheet("letter.css"), page_number_css(words["page"], prefix=f"{content.reference} · ")]
    what = f"letter {content.reference}"
    for fit in FITS:
        document = html_to_pdf(_html(content, recipient, words, fit), sheets, what)
        outside = overflowing_lines(document)
        if not outside:
            return write_pdf(document, what)
        log.info("letter %s: address set %s does not fit the window: %s", content.reference, fit or "normal",
                 outside)
    raise InvalidRequest(f"letter {content.reference}: these address lines are too long for the envelope window "
                         f"(80 mm): {', '.join(repr(t) for t in outside)}; shorten them or split them over two "
                         f"lines (at most {MAX_RECIPIENT_LINES} lines in all)")
