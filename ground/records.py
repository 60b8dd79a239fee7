"""Typed records that flow between the stages (intake → storage → ocr → classifiers → queues).

Stages are plain functions over these records; they never touch Redis, the database or the
blob store themselves. Everything here is serialisable to JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Channel(StrEnum):
    SCAN = "scan"
    FAX = "fax"
    EMAIL = "email"
    UPLOAD = "upload"


CATEGORIES: tuple[str, ...] = (
    "complaint",
    "invoice_query",
    "payment",
    "cancellation",
    "service_order",
    "fault_report",
    "data_change",
    "number_porting",
    "legal",
    "gdpr_request",
    "other",
)

ENTITY_NAMES: tuple[str, ...] = (
    "customer_id",
    "phone",
    "invoice_no",
    "amount",
    "iban",
    "pesel",
    "nip",
    "ico",
    "inn",
    "email",
    "date",
    "contract_no",
    "regon",
    "rodne_cislo",
    "snils",
    "ogrn",
)


@dataclass(frozen=True)
class Part:
    """One document-bearing part of an arrival: the file itself, an e-mail body or attachment."""

    name: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass
class PageText:
    number: int  # 1-based page number inside the source file
    text: str
    method: str  # "text-layer" | "ocr" | "email-body"
    blank: bool = False
    flags: list[str] = field(default_factory=list)  # e.g. "ocr-timeout", "separator"


@dataclass
class OcrResult:
    pages: list[PageText]

    @property
    def text(self) -> str:
        return "\n\f\n".join(p.text for p in self.pages if not p.blank).strip()

    @property
    def page_count(self) -> int:
        return sum(1 for p in self.pages if not p.blank)


@dataclass
class Classification:
    language: str  # ISO 639-1; "und" when undetermined
    category: str  # one of CATEGORIES
    confidence: float  # 0..1 for the category
    entities: dict[str, list[str]]  # ENTITY_NAMES → normalised values
    segment: str = "individual"  # "business" | "individual"
    reasons: list[str] = field(default_factory=list)  # why: matched words, scores
    model_version: str = ""


@dataclass
class Routing:
    queue: str
    priority: int
    rule: str  # name of the rule that matched ("default" when none did)


@dataclass
class SlaTarget:
    policy: str  # name of the SLA policy that applied
    due: datetime  # timezone-aware resolution deadline
    first_response_due: datetime | None = None
    warn_at: datetime | None = None
    calendar: str = "24x7"
