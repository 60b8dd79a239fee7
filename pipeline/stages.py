"""The stages as plain functions over typed records: no database, no Redis.

read:   bytes of an arrival → the documents found in it (text per page)
decide: a document's text   → classification, routing and SLA deadline
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime

import classifiers
import ocr
from ground.errors import Disposition, MailroomError
from ground.records import Classification, OcrResult, PageText, Part, Routing, SlaTarget
from ground.settings import Settings
from intake.letter import BOUNCE_FLAG, Reading, compose
from intake.parts import explode, is_email
from queues.routing import RoutingDecision, RuleSet, route
from queues.sla import SlaPolicies, compute_sla


@dataclass
class FoundDocument:
    part_index: int
    doc_index: int
    part: Part
    ocr: OcrResult


@dataclass
class Decision:
    classification: Classification
    routing: Routing
    sla: SlaTarget


def read(data: bytes, content_type: str, name: str, settings: Settings) -> Iterator[FoundDocument]:
    """Every document of an arrival: an e-mail is one letter (intake.letter), batches split at separators."""
    return read_parts(explode(data, content_type, name), settings, letter=is_email(content_type))


def read_parts(parts: list[Part], settings: Settings, letter: bool = False) -> Iterator[FoundDocument]:
    """``letter``: the parts of an e-mail (body first), made one document; else each part on its own."""
    if letter:
        yield from letter_documents(parts, [_reading(part, settings) for part in parts])
        return
    for part_index, part in enumerate(parts):
        yield from documents_of(part_index, part, read_part(part, settings))


def _reading(part: Part, settings: Settings) -> Reading:
    """A part of a letter that cannot be read is noted on the letter, not a failure of it."""
    try:
        return read_part(part, settings)
    except MailroomError as exc:
        if exc.disposition == Disposition.RETRY:
            raise
        return exc


def letter_documents(parts: list[Part], readings: list[Reading]) -> Iterator[FoundDocument]:
    for doc in compose(parts, readings):
        yield FoundDocument(part_index=doc.part_index, doc_index=doc.doc_index, part=parts[doc.part_index],
                            ocr=doc.ocr)


def read_part(part: Part, settings: Settings, pages: range | None = None) -> OcrResult:
    """The pages of one part, not yet split into documents; ``pages``: only those (0-based) of a PDF or TIFF."""
    if part.content_type == "text/plain":
        text = part.data.decode("utf-8", errors="replace")
        return OcrResult(pages=[PageText(number=1, text=text, method="email-body")] if text.strip() else [])
    return ocr.extract(part.data, part.content_type, settings=settings, pages=pages)


def documents_of(part_index: int, part: Part, pages: OcrResult) -> Iterator[FoundDocument]:
    """The documents in the pages of a part: split at separator sheets, blank pages dropped."""
    for doc_index, doc in enumerate(ocr.split_documents(pages)):
        yield FoundDocument(part_index=part_index, doc_index=doc_index, part=part, ocr=doc)


# Page flags meaning part of the letter may be unread: a person must look before it is routed.
NEEDS_A_PERSON = frozenset({"ocr-timeout", "ocr-failed", "low-confidence"})


def decide(text: str, channel: str, received_at: datetime, rules: RuleSet, policies: SlaPolicies,
           page_flags: frozenset[str] = frozenset()) -> Decision:
    classification = classifiers.classify(text)
    routing = route(classification, channel, text, rules)
    if BOUNCE_FLAG in page_flags:  # a delivery-status report: kept apart from customer letters (README, Intake)
        classification = replace(classification, category="other", confidence=1.0,
                                 reasons=["delivery-status report (a bounce), not a customer letter",
                                          *classification.reasons])
        routing = RoutingDecision(rules.low_confidence_queue, rules.default_priority, "delivery-status",
                                  ["delivery-status report: a message could not be delivered; "
                                   "a person checks the address of the case it answers"])
    unread = sorted(page_flags & NEEDS_A_PERSON)
    if unread and routing.queue != rules.low_confidence_queue:
        prio = rules.low_confidence_priority if rules.low_confidence_priority is not None else rules.default_priority
        routing = RoutingDecision(rules.low_confidence_queue, max(prio, routing.priority), "ocr-quality",
                                  [f"pages flagged {', '.join(unread)}: a person must check the text "
                                   f"(would have gone to {routing.queue} by rule {routing.rule})"])
    sla = compute_sla(received_at, classification.category, classification.language, routing.queue, policies)
    return Decision(classification=classification, routing=routing, sla=sla)
