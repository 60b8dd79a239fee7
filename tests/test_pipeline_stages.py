"""The pure stages of the recipe, without database or Redis."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

from ground.settings import Settings
from pipeline.context import Context
from pipeline.stages import decide, read

LETTER = ("Dotyczy: reklamacja faktury FV/2026/10/004512\n\nSzanowni Państwo,\n"
          "składam reklamację faktury za październik, naliczono opłatę 149,99 zł za usługę, której nie zamawiałem. "
          "Proszę o korektę faktury i zwrot nadpłaty.\nZ poważaniem\nJan Kowalski, nr klienta MR-1234567")
RECEIVED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_decide_classifies_routes_and_times(ctx: Context) -> None:
    d = decide(LETTER, "scan", RECEIVED, ctx.rules, ctx.policies)
    assert d.classification.language == "pl"
    assert d.classification.category == "complaint"
    assert d.classification.entities["invoice_no"] == ["FV/2026/10/004512"]
    assert d.routing.queue != ctx.rules.low_confidence_queue
    assert d.sla.due > RECEIVED


def test_unread_pages_send_the_letter_to_a_person(ctx: Context) -> None:
    normal = decide(LETTER, "scan", RECEIVED, ctx.rules, ctx.policies)
    flagged = decide(LETTER, "scan", RECEIVED, ctx.rules, ctx.policies, frozenset({"ocr-timeout"}))
    assert flagged.routing.queue == ctx.rules.low_confidence_queue
    assert flagged.routing.rule == "ocr-quality"
    assert normal.routing.queue in flagged.routing.reasons[0]
    assert flagged.classification.category == normal.classification.category


def test_read_splits_an_email_into_its_documents(settings: Settings) -> None:
    msg = EmailMessage()
    msg["From"], msg["Subject"] = "jan@example.pl", "Wypowiedzenie umowy"
    msg.set_content("Szanowni Państwo, wypowiadam umowę o świadczenie usług telekomunikacyjnych. " * 10)
    found = list(read(msg.as_bytes(), "message/rfc822", "m.eml", settings))
    assert [(f.part_index, f.doc_index) for f in found] == [(0, 0)]
    assert found[0].ocr.pages[0].method == "email-body"
    assert "Wypowiedzenie umowy" in found[0].ocr.text


def test_separator_payload_is_configurable() -> None:
    import random

    import numpy as np
    import segno
    from PIL import Image

    from corpus.render import separator_page
    from ocr.triage import is_separator, work_copy

    sheet = separator_page(random.Random(3))
    assert is_separator(work_copy(sheet), sheet)
    assert not is_separator(work_copy(sheet), sheet, payloads=["ACME-SEP"])
    other = Image.new("L", sheet.size, 255)
    matrix = np.array([list(r) for r in segno.make_qr("ACME-SEP", error="m").matrix], dtype=np.uint8)
    code = Image.fromarray(np.where(matrix == 1, 0, 255).astype(np.uint8), "L")
    other.paste(code.resize((code.width * 22, code.height * 22), Image.Resampling.NEAREST), (800, 800))
    assert is_separator(work_copy(other), other, payloads=["ACME-SEP"])
    assert not is_separator(work_copy(other), other)


def test_qr_detector_assertion_on_noise_is_not_a_failure(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Regression: OpenCV's QR detector asserted (convexHull, -215) on this generated scan attachment,
    which quarantined a good letter after three attempts (found by bench/load)."""
    from corpus.generate import generate
    from intake.parts import explode
    from ocr import extract, sniff_type

    generate(tmp_path, seed=3, count=48, forms=["eml", "text_pdf"])
    source = sorted(p for p in tmp_path.iterdir() if p.suffix in (".eml", ".pdf"))[30]
    data = source.read_bytes()
    scanned = [p for p in explode(data, sniff_type(data, source.name), source.name) if p.content_type != "text/plain"]
    assert scanned
    result = extract(scanned[0].data, scanned[0].content_type)
    assert result.page_count >= 1 and result.text.strip()
