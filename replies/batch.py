"""The daily post batch: the letters of one day as one PDF to print, and the posting list of the registered ones.

The print file is duplex-aware: a letter with an odd number of pages is followed by a blank page, so that every
letter begins on the front of a new sheet and no letter is printed on the back of another customer's. The
posting list (``templates/posting_list.html``, a "książka nadawcza") names each registered letter's recipient,
address and reference, with its registered number where it is known and an empty box to write it in where not.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import pikepdf
from babel.dates import format_date

from ground.errors import CorruptInput, InvalidRequest
from ground.i18n import LANGUAGES, npgettext, pgettext, use
from replies.letter import PostalAddress, Sender
from replies.pdf import environment, html_to_pdf, page_number_css, stylesheet, write_pdf


@dataclass(frozen=True)
class BatchLetter:
    """One letter of the batch, already rendered (``replies.pdf.render_letter``)."""

    reference: str
    pdf: bytes
    recipient: PostalAddress
    registered: bool = False
    registered_number: str | None = None  # the post's number (label) when it is already known


@dataclass(frozen=True)
class PostBatch:
    print_pdf: bytes  # every letter, each starting on a front side
    posting_list_pdf: bytes  # the registered letters, one row each
    pages: int  # pages of print_pdf, blank ones included
    sheets: int  # sheets of paper when printed on both sides
    blank_pages: int  # pages added so that each letter starts on a front side
    starts: tuple[int, ...]  # the page (1-based) of print_pdf on which each letter starts, in order
    registered: int  # letters on the posting list


def _check(letters: Sequence[BatchLetter], language: str) -> None:
    if language not in LANGUAGES:
        raise InvalidRequest(f"post batch: language {language!r} is not one of {', '.join(LANGUAGES)}")
    if not letters:
        raise InvalidRequest("post batch: no letters; build a batch only when letters are waiting for the post")
    for letter in letters:
        if letter.registered_number and not letter.registered:
            raise InvalidRequest(f"post batch: letter {letter.reference} has a registered number "
                                 f"({letter.registered_number}) but is not registered; mark it registered or "
                                 f"drop the number")


def join_for_duplex(letters: Sequence[BatchLetter], title: str = "") -> tuple[bytes, int, tuple[int, ...], int]:
    """The letters' PDFs as one, a blank page after each letter with an odd page count: the PDF, its page count,
    the page each letter starts on (1-based) and the number of blank pages added."""
    out = pikepdf.Pdf.new()
    sources: list[pikepdf.Pdf] = []
    starts: list[int] = []
    blanks = 0
    try:
        for letter in letters:
            try:
                source = pikepdf.open(io.BytesIO(letter.pdf))
            except (pikepdf.PdfError, ValueError) as exc:
                raise CorruptInput(f"post batch: the PDF of letter {letter.reference} cannot be read ({exc}); "
                                   f"render it again (replies.pdf.render_letter) before batching") from exc
            sources.append(source)
            count = len(source.pages)
            if count == 0:
                raise CorruptInput(f"post batch: the PDF of letter {letter.reference} has no pages; "
                                   f"render it again (replies.pdf.render_letter) before batching")
            starts.append(len(out.pages) + 1)
            out.pages.extend(source.pages)
            if count % 2:
                box = [float(v) for v in source.pages[-1].mediabox]
                out.add_blank_page(page_size=(box[2] - box[0], box[3] - box[1]))
                blanks += 1
        if title:
            out.docinfo["/Title"] = title
        pages = len(out.pages)
        buffer = io.BytesIO()
        out.save(buffer)
    finally:
        for source in sources:
            source.close()
        out.close()
    return buffer.getvalue(), pages, tuple(starts), blanks


def posting_list(letters: Sequence[BatchLetter], *, language: str, batch_date: date, title: str,
                 sender: Sender | None = None) -> bytes:
    """The posting list of the registered ``letters`` (the others are left out) as PDF/A."""
    rows = [{"no": i, "address": letter.recipient.lines, "reference": letter.reference,
             "number": (letter.registered_number or "").strip()}
            for i, letter in enumerate((x for x in letters if x.registered), start=1)]
    date_text = format_date(batch_date, format="long", locale=language)
    with use(language):
        heading = pgettext("letter", "Posting list of registered letters")
        words = {
            "sender": pgettext("letter", "Sender"),
            "date": pgettext("letter", "Date"),
            "number": pgettext("letter", "No."),
            "recipient": pgettext("letter", "Recipient"),
            "reference": pgettext("letter", "Our reference"),
            "registered_number": pgettext("letter", "Registered number"),
        }
        count = npgettext("letter", "%(count)d registered letter", "%(count)d registered letters",
                          len(rows)) % {"count": len(rows)}
        page = pgettext("letter", "Page %(page)s of %(pages)s")
    sender_lines = (sender.name, *sender.address.lines) if sender else ()
    html = environment().get_template("posting_list.html").render(
        lang=language, heading=heading, title=title, labels=words, sender=sender_lines, date=date_text,
        count=count, rows=rows)
    sheets = [stylesheet("posting_list.css"), page_number_css(page, prefix=f"{date_text} · ", first_page=True)]
    document = html_to_pdf(html, sheets, "the posting list")
    return write_pdf(document, "the posting list")


def build_batch(letters: Sequence[BatchLetter], *, language: str, batch_date: date, title: str,
                sender: Sender | None = None) -> PostBatch:
    """The post batch of ``letters`` in their order: the duplex print file and the posting list (its labels in
    ``language``, headed by ``title``, ``sender`` and ``batch_date``)."""
    _check(letters, language)
    print_pdf, pages, starts, blanks = join_for_duplex(letters, title)
    listing = posting_list(letters, language=language, batch_date=batch_date, title=title, sender=sender)
    return PostBatch(print_pdf=print_pdf, posting_list_pdf=listing, pages=pages, sheets=pages // 2,
                     blank_pages=blanks, starts=starts, registered=sum(1 for x in letters if x.registered))
