"""Customers and the documents linked to them: demo data, linking (the stored link first, then the letter's
identifiers), earlier correspondence, a customer's history across channels (letters in and out), look-up by
number or name, and a person's correction of an entity value read on a letter."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ground.errors import Conflict, InvalidRequest
from ground.logging import mask
from ground.records import ENTITY_NAMES
from storage.audit import record
from storage.models import (
    AuditEvent,
    Case,
    Customer,
    Document,
    EntityCorrection,
    Envelope,
    OutboundLetter,
    SearchEntityValue,
    WorkItem,
)
from storage.search import index_document, normalise_entity

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


def link_customer(session: Session, entities: Mapping[str, Sequence[str]], stored: str | None = None) -> str | None:
    """The customer a document belongs to: the link already stored on it (``stored``: the pipeline's, or a
    person's correction) while that customer exists; else the customer its entities point at: by customer
    number (any operator's shape, as configured in ground/config/entities.yaml), then national id (PESEL, NIP,
    REGON, IČO, rodné číslo, INN, SNILS, OGRN), then the contract number of an earlier letter that was linked,
    then e-mail, then phone.

    A customer number on the letter that is not in the table does not stop the other keys being tried.
    """
    if stored and session.get(Customer, stored) is not None:
        return stored
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


def customer_by_number(session: Session, number: str) -> Customer | None:
    """The customer with this number in any spelling (``mr 1234567``, ``MR-1234567``)."""
    text = " ".join(number.split())
    if not text:
        return None
    return session.scalars(select(Customer).where(Customer.id.in_(_spellings(text))).order_by(Customer.id)).first()


def customer_for_document(session: Session, doc: Document) -> str | None:
    """The customer of a letter: its stored link first, then its identifiers (:func:`link_customer`)."""
    return link_customer(session, doc.entities or {}, stored=doc.customer_id)


# ---------------------------------------------------------------- a customer's history and look-up


@dataclass
class HistoryEntry:
    """One letter of a customer's history: in (a document and its work item) or out (an outbound letter)."""

    at: datetime
    direction: str  # in | out
    channel: str  # in: scan, fax, email, upload; out: email, post
    document_id: str | None = None
    work_item_id: int | None = None
    case_id: int | None = None
    category: str | None = None
    queue: str | None = None
    state: str | None = None  # in: the work item's state; out: the letter's
    kind: str | None = None  # out: reply, acknowledgement, request_to_complete, extension
    letter_id: str | None = None
    subject: str = ""


def customer_visible(session: Session, customer_id: str, queues: Collection[str] | None) -> bool:
    """Whether someone who works ``queues`` (None: every queue) may see the customer: an agent only a customer
    with a letter in one of their queues."""
    if queues is None:
        return session.get(Customer, customer_id) is not None
    if not queues:
        return False
    return session.scalar(select(WorkItem.id).join(Document, Document.id == WorkItem.document_id)
                          .where(Document.customer_id == customer_id, WorkItem.queue.in_(list(queues)))
                          .limit(1)) is not None


def customer_history(session: Session, customer_id: str, queues: Collection[str] | None = None,
                     limit: int = 500) -> list[HistoryEntry]:
    """The customer's letters in (every channel) and out (replies, acknowledgements, requests to complete,
    extension notices; cancelled drafts left out), oldest first, the newest ``limit`` of each. Linked by the
    stored link (documents.customer_id). With ``queues`` (an agent's), only the letters of those queues."""
    query = (select(Document.id, WorkItem.id, WorkItem.case_id, Envelope.received_at, Envelope.channel,
                    Document.category, WorkItem.queue, WorkItem.state, Envelope.meta)
             .join(Envelope, Envelope.id == Document.envelope_id)
             .outerjoin(WorkItem, WorkItem.document_id == Document.id)
             .where(Document.customer_id == customer_id))
    superseded = getattr(Document, "superseded_by", None)  # a letter a mailroom correction replaced (0017)
    if superseded is not None:
        query = query.where(superseded.is_(None))
    rows = session.execute(query.order_by(Envelope.received_at.desc(), Document.id).limit(limit)).all()
    allowed = None if queues is None else set(queues)
    out: list[HistoryEntry] = []
    for doc_id, item_id, case_id, received, channel, category, queue, state, meta in rows:
        if allowed is not None and queue not in allowed:
            continue
        subject = str(((meta or {}).get("email") or {}).get("subject") or "")[:200]
        out.append(HistoryEntry(at=received, direction="in", channel=channel, document_id=doc_id,
                                work_item_id=item_id, case_id=case_id, category=category, queue=queue, state=state,
                                subject=subject))
    letters = session.execute(
        select(OutboundLetter, WorkItem.queue, Document.category)
        .join(WorkItem, WorkItem.id == OutboundLetter.work_item_id)
        .join(Document, Document.id == WorkItem.document_id)
        .where(Document.customer_id == customer_id, OutboundLetter.state != "cancelled")
        .order_by(OutboundLetter.created_at.desc(), OutboundLetter.id).limit(limit)).all()
    for letter, queue, category in letters:
        if allowed is not None and queue not in allowed:
            continue
        out.append(HistoryEntry(at=letter.dispatched_at or letter.created_at, direction="out", channel=letter.channel,
                                work_item_id=letter.work_item_id, case_id=letter.case_id, category=category,
                                queue=queue, state=letter.state, kind=letter.kind, letter_id=letter.id,
                                subject=letter.subject[:200]))
    out.sort(key=lambda e: (e.at, 0 if e.direction == "in" else 1, e.work_item_id or 0))
    return out


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def find_customers(session: Session, query: str, limit: int = 50) -> list[Customer]:
    """Customers by number (any spelling, or its beginning), name (a part of it; case does not matter for
    Latin letters), e-mail, phone or national id; exact number matches first."""
    text = " ".join(query.split())[:200]
    if not text:
        return []
    exact = list(session.scalars(select(Customer).where(Customer.id.in_(_spellings(text))).order_by(Customer.id)))
    phone = re.sub(r"[\s()./-]", "", text)
    conditions = [Customer.id.like(_like(text.upper()).removeprefix("%"), escape="\\"),
                  Customer.name.ilike(_like(text), escape="\\"), Customer.email == text.lower(),
                  Customer.national_id == re.sub(r"[\s-]", "", text).upper()]
    if phone.startswith("+") or phone.isdigit():
        conditions.append(Customer.phone == phone)
    seen = {c.id for c in exact}
    more = session.scalars(select(Customer).where(or_(*conditions)).order_by(Customer.name, Customer.id)
                           .limit(limit + len(seen)))
    return (exact + [c for c in more if c.id not in seen])[:limit]


# ---------------------------------------------------------------- a person corrects an entity value

# Entities that say who the customer is: correcting one of them links the letter anew (unless a person chose
# the customer by hand).
LINKING_ENTITIES = frozenset({"customer_id", *NATIONAL_IDS, "contract_no", "email", "phone"})
# Entities that identify a person: the audit trail (kept after retention purges the letter) keeps them masked.
PERSONAL_ENTITIES = frozenset({"pesel", "rodne_cislo", "snils", "iban", "email", "phone"})
CORRECTABLE = ENTITY_NAMES


def _trail_value(name: str, value: str | None) -> str | None:
    if value is None or name not in PERSONAL_ENTITIES:
        return value
    masked = mask(value)
    return masked if masked != value else (value[:2] + "•" * max(0, len(value) - 4) + value[-2:])


def linked_by_person(session: Session, document_id: str) -> bool:
    """Whether a person chose the letter's customer by hand (``document.customer_linked`` by a person)."""
    details = session.scalars(select(AuditEvent.detail).where(AuditEvent.document_id == document_id,
                                                              AuditEvent.action == "document.customer_linked")
                              .order_by(AuditEvent.id.desc()).limit(1)).first()
    return bool(details) and (details or {}).get("by") == "person"


@dataclass
class EntityChange:
    name: str
    old: str | None
    new: str | None
    customer_before: str | None
    customer_after: str | None


def correct_entity(session: Session, doc: Document, name: str, old: str | None, new: str | None, actor: str,
                   now: datetime, *, work_item_id: int | None = None, reason: str = "") -> EntityChange:
    """A person corrects one entity value of a letter: ``old`` (None: add a value the reading missed) becomes
    ``new`` (None: remove a value read where there is none). Values come normalised (as the extraction stores
    them). Recorded as training data (``entity_corrections``) and in the audit trail
    (``document.entity_corrected``: the entity, the values — personal ones masked — never the letter's text).
    The search index follows; a letter whose customer a person did not choose by hand is linked anew when a
    linking entity changed; the case keeps the corrected customer and invoice number when it is the case's
    first letter."""
    if name not in CORRECTABLE:
        raise InvalidRequest(f"unknown entity {name!r}; use one of: {', '.join(CORRECTABLE)}")
    old, new = (old or None), (new or None)
    if old is None and new is None:
        raise InvalidRequest("give the value as it should read, or the value to remove")
    if old == new:
        raise InvalidRequest("the new value is the same as the old one")
    entities = {k: list(v) if isinstance(v, list) else v for k, v in (doc.entities or {}).items()}
    values = [str(v) for v in entities.get(name) or []]
    if old is not None and old not in values:
        raise Conflict(f"the letter no longer carries {name} {old!r}; reload the page")
    if new is not None and new in values and old is None:
        raise InvalidRequest(f"the letter carries {name} {new!r} already")
    changed = [new if v == old else v for v in values] if old is not None else [*values, new]
    entities[name] = sorted(dict.fromkeys(v for v in changed if v))
    doc.entities = entities
    session.add(EntityCorrection(document_id=doc.id, work_item_id=work_item_id, name=name, old_value=old,
                                 new_value=new, language=doc.language, actor=actor, created_at=now))
    before = doc.customer_id
    if name in LINKING_ENTITIES and not linked_by_person(session, doc.id):
        doc.customer_id = link_customer(session, entities)
    record(session, actor, "document.entity_corrected", envelope_id=doc.envelope_id, document_id=doc.id,
           work_item_id=work_item_id, at=now,
           detail={"entity": name, "from": _trail_value(name, old), "to": _trail_value(name, new),
                   "reason": reason[:500], "training": True})
    if doc.customer_id != before:
        record(session, actor, "document.customer_linked", envelope_id=doc.envelope_id, document_id=doc.id,
               work_item_id=work_item_id, at=now,
               detail={"from": before, "to": doc.customer_id, "by": "entity_correction", "entity": name})
    item = doc.work_item
    case = session.get(Case, item.case_id) if item is not None and item.case_id is not None else None
    if case is not None and case.primary_item_id == item.id and name in ("customer_id", "invoice_no"):
        first = entities[name][0] if entities[name] else None
        if name == "customer_id":
            case.customer_id = first
        else:
            case.invoice_no = first
    session.flush()
    index_document(session, doc)
    return EntityChange(name, old, new, before, doc.customer_id)



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
