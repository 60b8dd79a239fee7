"""An e-mail is one letter: its body (the cover note) first, then the text of each attachment as
further pages of the same document.

The exception is an attachment that is itself a batch with separator sheets: it splits as a scan does,
each letter in it a document of its own. Attachments that turn out blank or unreadable when they are
read (damaged pages, OCR failures) are noted at the end of the letter with their reason; the body
stays. Image attachments in which OCR finds next to no text (a logo that slipped past the size
threshold) add no page and no warning flag. A letter with no readable text at all (empty body, nothing
readable attached) is not dropped: :class:`NoReadableText` sends it to a person with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from ground.errors import Disposition, MailroomError
from ground.records import OcrResult, PageText, Part
from intake.mail import BOUNCE_PART, NOTES_PART, body_of
from intake.office import label_of
from ocr.extract import SEPARATOR, split_documents

BOUNCE_FLAG = "delivery-status"  # page flag: the letter is a delivery-status report, not a customer's letter
MIN_IMAGE_LETTERS = 20  # an attached image with fewer letters recognised is decoration, not a page
_KEEP_FLAGS = frozenset({"ocr-timeout", "ocr-failed"})  # a page a person must look at, even without text


class NoReadableText(MailroomError):
    """The e-mail has no readable text at all: a person must look at it."""

    code = "no_text"
    disposition = Disposition.NEEDS_HUMAN


@dataclass
class LetterDocument:
    part_index: int  # the part the document is kept with (0: the body, for the letter itself)
    doc_index: int
    ocr: OcrResult


Reading = OcrResult | MailroomError  # what reading one part gave: its pages, or why it could not be read


def compose(parts: list[Part], readings: list[Reading]) -> Iterator[LetterDocument]:
    """The documents of an e-mail from what each of its parts read as: the letter (body, then attachment
    pages, then notes), and one document per letter of any attached batch with separator sheets."""
    pages: list[PageText] = []
    notes: list[str] = []
    batches: list[LetterDocument] = []
    readable, body_empty = False, False
    for index, (part, reading) in enumerate(zip(parts, readings, strict=True)):
        if part.name == NOTES_PART and index == len(parts) - 1:
            notes[:0] = [line.strip("[]") for line in part.data.decode("utf-8", "replace").splitlines() if line]
            continue
        if isinstance(reading, MailroomError):
            if index == 0:
                raise reading
            notes.append(f"{label_of(part.name)} could not be read: {reading.reason}")
            continue
        if index > 0 and any(SEPARATOR in p.flags for p in reading.pages):
            found = split_documents(reading)
            batches.extend(LetterDocument(index, n, doc) for n, doc in enumerate(found))
            if not found:
                notes.append(f"{label_of(part.name)} holds only separator sheets and blank pages.")
            continue
        kept = _pages_of(part, reading, index)
        if index == 0:
            body_empty = not body_of(_text(kept)).strip()
            readable = readable or not body_empty
        elif kept:
            readable = readable or any(p.text.strip() for p in kept) or any(_KEEP_FLAGS & set(p.flags) for p in kept)
        else:
            notes.append(f"{label_of(part.name)} has no readable text (blank, or only a picture).")
        pages.extend(kept)
    if not readable and not batches:
        reasons = "; ".join(notes) or "the body is empty and nothing readable is attached"
        raise NoReadableText(f"The e-mail has no readable text: {reasons}. A person must look at the original.")
    if readable:
        if body_empty and len(pages) > 1:  # an empty body adds no page: its subject and sender open the first
            pages = [replace(pages[1], text=pages[0].text.rstrip() + "\n\n" + pages[1].text), *pages[2:]]
        if notes:  # at the end of the last page: the person handling the letter reads what was not read
            note = "\n".join(f"[{n}]" for n in notes)
            pages[-1] = replace(pages[-1], text=f"{pages[-1].text.rstrip()}\n\n{note}".lstrip())
        bounce = bool(parts) and parts[0].name == BOUNCE_PART
        letter = [replace(p, number=n, flags=[*p.flags, BOUNCE_FLAG] if bounce else list(p.flags))
                  for n, p in enumerate((p for p in pages if not p.blank), start=1)]
        yield LetterDocument(0, 0, OcrResult(pages=letter))
    yield from batches


def _text(pages: list[PageText]) -> str:
    return "\n".join(p.text for p in pages)


def _pages_of(part: Part, reading: OcrResult, index: int) -> list[PageText]:
    """The part's pages that belong in the letter: not blank; of an attached image, only with text."""
    kept = []
    for page in reading.pages:
        if page.blank or SEPARATOR in page.flags:
            continue
        if index > 0 and part.content_type.startswith("image/") and not (_KEEP_FLAGS & set(page.flags)):
            if sum(ch.isalpha() for ch in page.text) < MIN_IMAGE_LETTERS:
                continue  # a logo or picture: no page, and no low-confidence flag on the letter
        kept.append(page)
    return kept
