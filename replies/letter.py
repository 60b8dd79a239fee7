"""The typed records a letter is rendered from: what the PDF (``replies.pdf``) and the e-mail
(``replies.email_out``) of one outbound letter are made of. Plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class PostalAddress:
    """An address block as printed, one line per entry: name, (company,) street, postcode and city, country."""

    lines: tuple[str, ...]


@dataclass(frozen=True)
class Sender:
    """The operator's unit that answers (configured per queue)."""

    name: str  # "Telewave S.A. — Dział Reklamacji"
    address: PostalAddress  # the sender block (top right of the letter)
    return_line: str  # one short line printed above the window address ("Telewave S.A., ul. Prosta 1, 00-001 Warszawa")
    email: str = ""  # From: of e-mailed replies
    phone: str = ""
    web: str = ""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class LetterContent:
    """One outbound letter, ready to render. ``body`` is the text as the agent approved it: paragraphs
    separated by a blank line; it is never translated. Labels (the reference, the date line) are printed
    in ``language``."""

    language: str  # pl | cs | ru | en
    sender: Sender
    recipient: PostalAddress
    reference: str  # the case reference, e.g. "MR-C-000123"
    letter_date: date
    place: str  # where the letter is dated ("Warszawa")
    subject: str
    body: str
    signature: tuple[str, ...] = ()  # the employee's name, then their position
    their_reference: str = ""  # the customer's reference or the date of their letter, if any
    registered: bool = False  # registered mail (polecony / doporučeně / заказное): printed above the address
    attachments: tuple[Attachment, ...] = field(default=())
