"""Customers and the documents linked to them: demo data, linking by entities, earlier correspondence."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Customer, Document, SearchEntityValue
from storage.search import normalise_entity

NATIONAL_IDS: tuple[str, ...] = ("pesel", "nip", "ico", "inn", "regon", "rodne_cislo", "snils", "ogrn")

# (id, name, phone E.164, e-mail, national id, its kind, segment, language); ids, phones and checksums are valid.
DEMO_CUSTOMERS: tuple[tuple[str, str, str, str, str, str, str, str], ...] = (
    ("MR-2345678", "Anna Nowak", "+48601234567", "anna.nowak@wp.pl", "90010112349", "pesel", "individual", "pl"),
    ("MR-3456789", "Piotr Zieliński", "+48501222333", "p.zielinski@onet.pl", "", "", "individual", "pl"),
    ("MR-4567890", "Budmax Sp. z o.o.", "+48226543210", "biuro@budmax.pl", "1234563218", "nip", "business", "pl"),
    ("MR-5678901", "Jana Nováková", "+420601234567", "jana.novakova@seznam.cz", "", "", "individual", "cs"),
    ("MR-6789012", "Stavby Horák s.r.o.", "+420774233771", "info@stavbyhorak.cz", "25596641", "ico", "business",
     "cs"),
    ("MR-7890123", "Ирина Смирнова", "+79123456789", "i.smirnova@mail.ru", "", "", "individual", "ru"),
    ("MR-8901234", "ООО «Ромашка»", "+74951234567", "office@romashka.ru", "7707083893", "inn", "business", "ru"),
    ("MR-9012345", "Emma Taylor", "+447911123456", "emma.taylor@btinternet.com", "", "", "individual", "en"),
    ("MR-1234567", "Greenway Ltd", "+442079460000", "accounts@greenway.co.uk", "", "", "business", "en"),
)


def seed_demo_customers(session: Session) -> int:
    """Insert the demo customers that are missing (idempotent); returns how many were added."""
    existing = set(session.scalars(select(Customer.id)).all())
    added = 0
    for cid, name, phone, email, national_id, kind, segment, language in DEMO_CUSTOMERS:
        if cid in existing:
            continue
        session.add(Customer(id=cid, name=name, phone=phone, email=email, national_id=national_id or None,
                             national_id_kind=kind or None, segment=segment, language=language))
        added += 1
    session.flush()
    return added


def _spellings(value: str) -> list[str]:
    """How a customer number on a letter may be stored (each an exact, indexed look-up): as written, and
    upper-case with its spaces kept, removed or written as dashes, or without spaces and dashes."""
    upper = " ".join(value.split()).upper()
    forms = [value, upper, upper.replace(" ", ""), upper.replace(" ", "-"), re.sub(r"[\s-]", "", upper)]
    return list(dict.fromkeys(forms))


def link_customer(session: Session, entities: Mapping[str, Sequence[str]]) -> str | None:
    """The customer a document's entities point at: by customer number (any operator's shape, as configured in
    ground/config/entities.yaml), then national id (PESEL, NIP, REGON, IČO, rodné číslo, INN, SNILS, OGRN),
    then the contract number of an earlier letter that was linked, then e-mail, then phone.

    A customer number on the letter that is not in the table does not stop the other keys being tried.
    """
    for cid in entities.get("customer_id", []):
        found = session.scalars(select(Customer.id).where(Customer.id.in_(_spellings(cid)))
                                .order_by(Customer.id)).first()
        if found is not None:
            return found
    national = [v for kind in NATIONAL_IDS for v in entities.get(kind, [])]
    if national:
        found = session.scalars(select(Customer.id).where(Customer.national_id.in_(national))
                                .order_by(Customer.id)).first()
        if found is not None:
            return found
    contracts = {normalise_entity(v) for v in entities.get("contract_no", [])}
    if contracts:  # the same contract as an earlier letter: that letter's customer
        found = session.scalars(
            select(Document.customer_id).join(SearchEntityValue, SearchEntityValue.document_id == Document.id)
            .where(SearchEntityValue.name == "contract_no", SearchEntityValue.value.in_(contracts),
                   Document.customer_id.is_not(None))
            .order_by(Document.created_at.desc(), Document.id).limit(1)).first()
        if found is not None:
            return found
    keys: list[tuple[object, Sequence[str]]] = [
        (Customer.email, [v.lower() for v in entities.get("email", [])]),
        (Customer.phone, list(entities.get("phone", []))),
    ]
    for column, values in keys:
        if not values:
            continue
        found = session.scalars(select(Customer.id).where(column.in_(values)).order_by(Customer.id)).first()  # type: ignore[attr-defined]
        if found is not None:
            return found
    return None


def earlier_correspondence(session: Session, customer_id: str, before_document_id: str | None = None,
                           limit: int = 50) -> list[Document]:
    """The customer's documents from every channel, newest first; with ``before_document_id``, only those
    received before that document (it is excluded)."""
    query = select(Document).where(Document.customer_id == customer_id)
    if before_document_id is not None:
        current = session.get(Document, before_document_id)
        if current is not None:
            query = query.where(Document.id != before_document_id, Document.created_at <= current.created_at)
    return list(session.scalars(query.order_by(Document.created_at.desc(), Document.id).limit(limit)).all())


def customer_of(session: Session, customer_id: str | None) -> Customer | None:
    return session.get(Customer, customer_id) if customer_id else None

