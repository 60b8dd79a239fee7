"""Customers and the documents linked to them: demo data, linking by entities, earlier correspondence."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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



# ---------------------------------------------------------------- import (CSV, API)

IMPORT_COLUMNS = ("id", "name", "email", "phone", "national_id", "national_id_kind", "segment", "language",
                  "address")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass
class ImportResult:
    """What an import did: rows added and updated, or (nothing written) the problems per row (1 = first data
    row, after the header)."""

    added: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def _row_problem(row: Mapping[str, str]) -> str | None:
    if not row.get("id", "").strip():
        return "id is empty"
    if len(row["id"].strip()) > 40:
        return "id is longer than 40 characters"
    if not row.get("name", "").strip():
        return "name is empty"
    email = row.get("email", "").strip()
    if email and not _EMAIL.match(email):
        return f"email {email!r} is not an e-mail address"
    phone = re.sub(r"[\s()./-]", "", row.get("phone", ""))
    if phone and not _PHONE.match(phone):
        return f"phone {row['phone']!r} is not in international form (+48 601 234 567)"
    kind = row.get("national_id_kind", "").strip().lower()
    if kind and kind not in NATIONAL_IDS:
        return f"national_id_kind {kind!r} is not one of {', '.join(NATIONAL_IDS)}"
    if row.get("national_id", "").strip() and not kind:
        return "national_id is given without its national_id_kind"
    if row.get("segment", "").strip() not in ("", "individual", "business"):
        return f"segment {row['segment']!r} is not individual or business"
    if row.get("language", "").strip() not in ("", "pl", "cs", "ru", "en"):
        return f"language {row['language']!r} is not one of pl, cs, ru, en"
    return None


def import_customers(session: Session, rows: Iterable[Mapping[str | None, Any]],
                     progress: Callable[[int], None] | None = None) -> ImportResult:
    """Add or update customers from rows with the columns of :data:`IMPORT_COLUMNS` (``address``: its lines
    separated by ``|``; unknown columns are an error). Every row is checked first; when any has a problem,
    nothing is written and the problems are returned, one per row. Identifiers are stored as linking looks
    them up (e-mail in lower case, phone without spaces, national id as digits and letters)."""
    result = ImportResult()
    clean: list[dict[str, str]] = []
    for n, raw in enumerate(rows, start=1):
        unknown = sorted(k for k in raw if k not in IMPORT_COLUMNS and k)
        row = {k: v if isinstance(v, str) else "" for k, v in raw.items() if k}  # a short row: missing values
        if None in raw:  # csv.DictReader puts the values beyond the header under the key None
            problem: str | None = "more values than the header has columns (a stray comma or line break?)"
        elif unknown:
            problem = f"unknown columns {unknown}; use {', '.join(IMPORT_COLUMNS)}"
        else:
            problem = _row_problem(row)
        if problem:
            result.errors.append((n, problem))
        else:
            clean.append({k: (row.get(k) or "").strip() for k in IMPORT_COLUMNS})
        if progress is not None:
            progress(n)
    ids = [r["id"] for r in clean]
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        for n, cid in enumerate(ids, start=1):
            if cid in seen:
                result.errors.append((n, f"id {cid} appears twice in the file"))
            seen.add(cid)
    if result.errors:
        return result
    existing = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(ids)))} if len(ids) < 30_000 \
        else {c.id: c for c in session.scalars(select(Customer))}
    for r in clean:
        values: dict[str, Any] = {
            "name": r["name"], "email": r["email"].lower() or None,
            "phone": re.sub(r"[\s()./-]", "", r["phone"]) or None,
            "national_id": re.sub(r"[\s-]", "", r["national_id"]).upper() or None,
            "national_id_kind": r["national_id_kind"].lower() or None, "segment": r["segment"] or "individual",
            "language": r["language"] or None,
            "address": [line.strip() for line in r["address"].split("|") if line.strip()]}
        customer = existing.get(r["id"])
        if customer is None:
            session.add(Customer(id=r["id"], **values))
            result.added += 1
        else:
            for key, value in values.items():
                setattr(customer, key, value)
            result.updated += 1
    session.flush()
    return result
