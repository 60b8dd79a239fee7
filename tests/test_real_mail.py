"""Mail as it really arrives (issue 14): CPython's own e-mail test messages, and hand-made messages the
way other clients and gateways write them (a logo with a short complaint, HTML only with an inline logo,
8-bit KOI8-R and windows-1250 with and without a declared charset, forwarded and nested messages, TNEF
winmail.dat, a delivery-status report). Every one goes through receive and the whole pipeline."""

from __future__ import annotations

import base64
import email
import email.encoders
import email.message
import email.policy
import glob
import io
import logging
import random
import struct
import sysconfig
from email.message import EmailMessage
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from channels.receive import receive
from corpus import render
from corpus.letters import compose
from ground.errors import MailroomError
from ground.settings import Settings
from pipeline.context import Context, get_context
from pipeline.runner import run_inline
from storage.db import session_scope
from storage.models import Envelope, EnvelopeState

NOW_ISO = "2026-10-12T09:30:00+00:00"


def _now() -> Any:
    from datetime import datetime

    return datetime.fromisoformat(NOW_ISO)


def cpython_mail_dir() -> Path:
    """CPython's test_email data: in the interpreter's stdlib, or Debian's libpython3.x-testsuite."""
    candidates = [Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data",
                  *map(Path, sorted(glob.glob("/usr/lib/python3*/test/test_email/data")))]
    for path in candidates:
        if (path / "msg_01.txt").is_file():
            return path
    pytest.fail("CPython's test_email data is missing (looked in " + ", ".join(map(str, candidates)) +
                "); install Debian's libpython3.11-testsuite (make install does)")


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _process(ctx: Context, raw: bytes, name: str) -> dict[str, Any]:
    """receive + the whole pipeline; the envelope's end state, documents and meta."""
    got = receive(ctx, raw, name, _now(), submitted_by="test")
    assert not got.duplicate, f"{name} is a duplicate of an earlier message"
    if got.ok and not got.duplicate:
        run_inline(ctx, got.envelope_id)
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, got.envelope_id)
        assert env is not None
        docs = sorted(env.documents, key=lambda d: (d.part_index, d.doc_index))
        return {"state": env.state, "error": env.error, "meta": env.meta, "channel": env.channel,
                "problem": got.problem,
                "docs": [{"text": d.text or "", "pages": d.pages, "category": d.category, "language": d.language,
                          "queue": d.work_item.queue if d.work_item else None,
                          "rule": d.work_item.routing_rule if d.work_item else None,
                          "flags": sorted({f for p in d.page_flags for f in p.get("flags", [])})}
                         for d in docs]}


def _text_body(raw: bytes) -> str | None:
    """The message's plain-text body as the standard library finds it (None when it has none)."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    try:
        body = msg.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else None
    except (LookupError, KeyError, ValueError, AttributeError):
        return None
    return text if isinstance(text, str) and text.strip() else None


# ------------------------------------------------------------------ CPython's test_email messages


def test_cpython_test_email_messages(ctx: Context, settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    """Every message with a text body gives a document that contains that body; every message gives a
    document or a clear error; no traceback anywhere."""
    folder = cpython_mail_dir()
    files = sorted(folder.glob("msg_*.txt"))
    assert len(files) >= 45
    caplog.set_level(logging.WARNING)
    problems: list[str] = []
    outcomes: dict[str, dict[str, Any]] = {}
    with_body = 0
    seen: set[str] = set()
    for path in files:
        raw = path.read_bytes()
        # several share a Message-ID (msg_03 and msg_14 …): in one mailroom the later would rightly be a
        # duplicate of the first, so each of those is read in a mailroom of its own
        message_id = email.message_from_bytes(raw).get("message-id")
        here = ctx
        if message_id in seen:
            here = get_context(settings.model_copy(update={"data": settings.data.parent / path.stem}))
        seen.add(message_id)
        try:
            out = _process(here, raw, path.name)
        except MailroomError as exc:
            problems.append(f"{path.name}: raised {exc.reason}")
            continue
        except Exception as exc:  # noqa: BLE001 - a traceback is the failure this test looks for
            problems.append(f"{path.name}: traceback {type(exc).__name__}: {exc}")
            continue
        outcomes[path.name] = out
        if out["state"] == EnvelopeState.PROCESSED:
            if not out["docs"] or not all(d["text"].strip() for d in out["docs"]):
                problems.append(f"{path.name}: processed without a document with text")
        elif not (out["error"] or "").strip():
            problems.append(f"{path.name}: ended {out['state']} without a reason")
        body = _text_body(raw)
        if body is not None:
            with_body += 1
            texts = [_collapse(d["text"]) for d in out["docs"]]
            if not any(_collapse(body) in t for t in texts):
                problems.append(f"{path.name}: the body is not in a document ({out['state']}, {out['error']})")
    tracebacks = [r.getMessage() for r in caplog.records if r.exc_info]
    assert not tracebacks, tracebacks
    assert not problems, "\n".join(problems)
    assert with_body >= 30  # the check above really ran over the messages with a text body (31 of 48)
    for name in ("msg_07.txt", "msg_13.txt", "msg_15.txt", "msg_22.txt"):  # body + GIF or JPEG (issue 14)
        out = outcomes[name]
        assert out["state"] == EnvelopeState.PROCESSED and len(out["docs"]) == 1, (name, out["error"])
    # the images of msg_07 (dingusfish.gif) and msg_22 are decoration, listed but not read
    assert outcomes["msg_07.txt"]["meta"]["email"]["skipped_attachments"][0]["name"] == "dingusfish.gif"
    # the delivery-status reports among them are kept apart from customer letters
    for name in ("msg_05.txt", "msg_16.txt", "msg_43.txt"):
        out = outcomes[name]
        assert "bounce" in out["meta"], name
        assert [(d["queue"], d["rule"], d["category"]) for d in out["docs"]] == [
            ("triage", "delivery-status", "other")], name


# ------------------------------------------------------------------ hand-made messages


def _png(width: int, height: int, text: str = "") -> bytes:
    image = Image.new("RGB", (width, height), (20, 80, 160))
    if text:
        ImageDraw.Draw(image).text((10, height // 3), text, fill=(255, 255, 255))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _letter_pdf(seed: int, language: str = "pl", category: str = "complaint") -> tuple[bytes, str]:
    letter = compose(random.Random(seed), language, category)
    pdf = render.text_pdf(render.layout(letter.blocks, "sans", 11.0, pages=1), letter.subject, letter.sender_name)
    return pdf, letter.subject


COMPLAINT_PL = ("Dzień dobry,\nskładam reklamację faktury FV/2026/10/004512. Naliczono mi opłatę za usługę, "
                "której nie zamawiałem, i proszę o korektę oraz zwrot nadpłaty.\nZ poważaniem\nJan Kowalski")


def test_short_polish_complaint_with_a_logo_is_one_letter(ctx: Context) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"] = "Jan Kowalski <jan@example.pl>", "bok@telewave.pl"
    msg["Subject"], msg["Message-ID"] = "Reklamacja", "<logo-1@example.pl>"
    msg.set_content(COMPLAINT_PL)
    msg.add_attachment(_png(220, 60, "ACME"), maintype="image", subtype="png", filename="logo.png")
    msg.add_attachment(_png(600, 400, "Kowalski & Syn"), maintype="image", subtype="png", filename="stopka.png")
    out = _process(ctx, msg.as_bytes(), "reklamacja.eml")
    assert out["state"] == EnvelopeState.PROCESSED, out["error"]
    [doc] = out["docs"]
    assert _collapse(COMPLAINT_PL) in _collapse(doc["text"])
    assert doc["category"] == "complaint" and doc["queue"] != "triage"
    meta = out["meta"]["email"]
    assert [s["name"] for s in meta["skipped_attachments"]] == ["logo.png"]  # small: decoration, never read
    assert "low-confidence" not in doc["flags"]  # the big image with three words added no page and no flag
    assert "stopka.png" in doc["text"] and "no readable text" in doc["text"]  # … but the agent is told


def test_html_only_complaint_with_inline_cid_logo(ctx: Context) -> None:
    related = MIMEMultipart("related")
    html = ("<html><head><style>p {color: red}</style><script>alert('x')</script></head><body>"
            "<img src=\"cid:logo-telewave@x\" alt=\"logo\"><p>Dzień dobry,</p><p>składam <b>reklamację</b> "
            "faktury FV/2026/10/004512.<br>Proszę o korektę naliczonej opłaty.</p>"
            "<table><tr><td>Nr klienta</td><td>MR-1234567</td></tr></table><p>Jan Kowalski</p></body></html>")
    related.attach(MIMEText(html, "html", "utf-8"))
    logo = MIMEImage(_png(500, 400, "TELEWAVE"), "png")  # big enough, but shown inside the text: decoration
    logo.add_header("Content-ID", "<logo-telewave@x>")
    logo.add_header("Content-Disposition", "inline", filename="image001.png")
    related.attach(logo)
    related["From"], related["Subject"], related["Message-ID"] = "jan@example.pl", "Reklamacja", "<html-1@x.pl>"
    out = _process(ctx, related.as_bytes(), "html.eml")
    assert out["state"] == EnvelopeState.PROCESSED, out["error"]
    [doc] = out["docs"]
    text = doc["text"]
    assert "składam reklamację faktury FV/2026/10/004512.\nProszę o korektę" in text  # <br> is a line break
    assert "Nr klienta\tMR-1234567" in text  # table cells stay apart
    assert "color" not in text and "alert" not in text and "<" not in text  # style, script, markup dropped
    assert [s["name"] for s in out["meta"]["email"]["skipped_attachments"]] == ["image001.png"]
    assert doc["category"] == "complaint"


RU_BODY = ("Здравствуйте!\nПрошу расторгнуть договор на услуги связи с 1 ноября. Лицевой счёт 4471230. "
           "Прошу подтвердить расторжение письменно.\nС уважением, Иван Петров")


def _rfc2047(text: str, charset: str) -> bytes:
    return ("=?" + charset + "?B?" + base64.b64encode(text.encode(charset)).decode() + "?=").encode()


def _delivered(body: bytes, content_type: bytes, subject: bytes, msgid: bytes) -> bytes:
    return (b"Return-Path: <ivan@example.ru>\r\n"
            b"Received: from mx.example.ru (mx.example.ru [192.0.2.7]) by mail.telewave.ru with ESMTP id 4f1;"
            b"\r\n\tMon, 12 Oct 2026 11:30:00 +0300\r\n"
            b"From: " + _rfc2047("Иван Петров", "koi8-r") + b" <ivan@example.ru>\r\n"
            b"To: info@telewave.ru\r\nSubject: " + subject + b"\r\nMessage-ID: " + msgid + b"\r\n"
            b"MIME-Version: 1.0\r\n" + content_type + b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body)


@pytest.mark.parametrize("declared", [True, False], ids=["declared-koi8-r", "undeclared"])
def test_delivered_koi8r_message(ctx: Context, declared: bool) -> None:
    ctype = b"Content-Type: text/plain; charset=koi8-r\r\n" if declared else b"Content-Type: text/plain\r\n"
    subject = _rfc2047("Просьба", "koi8-r") if declared else "Расторжение договора".encode("koi8-r")  # raw 8-bit
    raw = _delivered(RU_BODY.encode("koi8-r"), ctype, subject, b"<ru-%d@example.ru>" % declared)
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # what made intake reject it as "not a PDF, image, TIFF fax or e-mail"
    out = _process(ctx, raw, "delivered")
    assert out["state"] == EnvelopeState.PROCESSED, out["error"]
    assert out["channel"] == "email"
    [doc] = out["docs"]
    assert _collapse(RU_BODY) in _collapse(doc["text"]) and doc["language"] == "ru"
    meta = out["meta"]["email"]
    assert meta["from"] == "Иван Петров <ivan@example.ru>"
    assert meta["subject"] == ("Просьба" if declared else "Расторжение договора")


def test_undeclared_cp1250_czech_body(ctx: Context) -> None:
    body = ("Dobrý den,\nžádám o opravu faktury č. 2026104512, účtovali jste mi službu, kterou jsem si "
            "neobjednal. Prosím o vrácení přeplatku na účet.\nS pozdravem\nPetr Dvořák, číslo zákazníka 88120045")
    raw = (b"Received: from smtp.seznam.cz by mail.telewave.cz; Mon, 12 Oct 2026 10:00:00 +0200\r\n"
           b"From: petr@seznam.cz\r\nTo: podpora@telewave.cz\r\nSubject: " + "Reklamace vyúčtování".encode("cp1250")
           + b"\r\nMessage-ID: <cz-1250@seznam.cz>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body.encode("cp1250"))
    out = _process(ctx, raw, "cz.eml")
    assert out["state"] == EnvelopeState.PROCESSED, out["error"]
    [doc] = out["docs"]
    assert _collapse(body) in _collapse(doc["text"]) and doc["language"] == "cs"
    assert out["meta"]["email"]["subject"] == "Reklamace vyúčtování"


def test_forwarded_nested_message_is_further_pages(ctx: Context) -> None:
    pdf, subject = _letter_pdf(5)
    innermost = EmailMessage()
    innermost["From"], innermost["Subject"], innermost["Date"] = "klient@example.pl", "Skarga", "Fri, 9 Oct 2026 08:00"
    innermost.set_content("Najstarsza wiadomość: brak internetu od tygodnia, proszę o naprawę.")
    innermost.add_attachment(pdf, maintype="application", subtype="pdf", filename="pismo.pdf")
    middle = EmailMessage()
    middle["From"], middle["Subject"] = "dzial@telewave.pl", "Fwd: Skarga"
    middle.set_content("Przekazuję skargę klienta, proszę o zajęcie się sprawą.")
    middle.add_attachment(innermost)  # message/rfc822
    outer = EmailMessage()
    outer["From"], outer["Subject"], outer["Message-ID"] = "kierownik@telewave.pl", "Fwd: Fwd: Skarga", "<fw@x.pl>"
    outer.set_content("Do pilnego załatwienia.")
    outer.add_attachment(middle)
    out = _process(ctx, outer.as_bytes(), "fwd.eml")
    assert out["state"] == EnvelopeState.PROCESSED, out["error"]
    [doc] = out["docs"]  # one letter: the cover note, then what was forwarded, nested, with its PDF
    text = doc["text"]
    order = [text.find(s) for s in ("Do pilnego załatwienia", "Przekazuję skargę klienta",
                                    "Najstarsza wiadomość", subject)]
    assert all(i >= 0 for i in order) and order == sorted(order), order
    assert doc["pages"] >= 4


def tnef(body: str, attachments: list[tuple[str, bytes]], codepage: int = 1250) -> bytes:
    """A winmail.dat as Outlook writes it (the attributes tnefparse reads)."""
    def obj(level: int, name: int, typ: int, data: bytes) -> bytes:
        return (struct.pack("<BHHI", level, name, typ, len(data)) + data
                + struct.pack("<H", sum(data) & 0xFFFF))
    out = struct.pack("<IH", 0x223E9F78, 0x0001)
    out += obj(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000))
    out += obj(1, 0x9007, 0x0006, struct.pack("<II", codepage, 0))
    out += obj(1, 0x8004, 0x0007, "Reklamace".encode(f"cp{codepage}") + b"\x00")
    out += obj(1, 0x800C, 0x0002, body.encode(f"cp{codepage}"))
    for name, data in attachments:
        out += obj(2, 0x9002, 0x0006, bytes(14))
        out += obj(2, 0x8010, 0x0001, name.encode("ascii") + b"\x00")
        out += obj(2, 0x800F, 0x0006, data)
    return out


def test_tnef_winmail_dat(ctx: Context) -> None:
    pdf, subject = _letter_pdf(7, "cs")
    tnef_body = "Dobrý den, v příloze posílám reklamaci vyúčtování za září. Děkuji, Jana Nováková."
    msg = MIMEMultipart()
    msg["From"], msg["Subject"], msg["Message-ID"] = "jana@firma.cz", "Reklamace", "<tnef-1@firma.cz>"
    msg.attach(MIMEText("Viz příloha.", "plain", "utf-8"))
    winmail = MIMEBase("application", "ms-tnef")
    winmail.set_payload(tnef(tnef_body, [("reklamace.pdf", pdf), ("logo.png", _png(120, 40))]))
    email.encoders.encode_base64(winmail)
    winmail.add_header("Content-Disposition", "attachment", filename="winmail.dat")
    msg.attach(winmail)
    out = _process(ctx, msg.as_bytes(), "tnef.eml")
    assert out["state"] == EnvelopeState.PROCESSED, out["error"]
    [doc] = out["docs"]
    assert "Viz příloha." in doc["text"] and tnef_body in doc["text"] and subject in doc["text"]
    meta = out["meta"]["email"]
    assert {a["name"] for a in meta["attachments"]} >= {"winmail.dat", "reklamace.pdf", "logo.png"}
    assert [s["name"] for s in meta["skipped_attachments"]] == ["logo.png"]


def test_delivery_status_report_is_kept_apart(ctx: Context) -> None:
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"], report["To"] = "Mail Delivery System <MAILER-DAEMON@mx.telewave.pl>", "bok@telewave.pl"
    report["Subject"], report["Message-ID"] = "Undelivered Mail Returned to Sender", "<bounce-1@mx.telewave.pl>"
    report.attach(MIMEText("This is the mail system at host mx.telewave.pl.\n\nI'm sorry to have to inform you "
                           "that your message could not be delivered to one or more recipients.\n"
                           "<jan@example.pl>: host mx.example.pl said: 550 5.1.1 User unknown", "plain"))
    status = MIMEBase("message", "delivery-status")
    blocks = []
    for fields in ({"Reporting-MTA": "dns; mx.telewave.pl"},
                   {"Final-Recipient": "rfc822; jan@example.pl", "Action": "failed", "Status": "5.1.1",
                    "Diagnostic-Code": "smtp; 550 5.1.1 User unknown"}):
        block = email.message.Message()
        for key, value in fields.items():
            block[key] = value
        blocks.append(block)
    status.set_payload(blocks)
    report.attach(status)
    original = EmailMessage()
    original["From"], original["To"] = "bok@telewave.pl", "jan@example.pl"
    original["Subject"], original["Message-ID"] = "Odpowiedź na reklamację", "<reply-42@telewave.pl>"
    original.set_content("Szanowny Panie, reklamacja została uwzględniona.")
    report.attach(MIMEMessage(original))
    raw = report.as_bytes()
    assert email.message_from_bytes(raw).get_payload(1).get_content_type() == "message/delivery-status"
    out = _process(ctx, raw, "bounce.eml")
    bounce = out["meta"]["bounce"]
    assert bounce["original_message_id"] == "<reply-42@telewave.pl>"
    assert (bounce["status"], bounce["action"]) == ("5.1.1", "failed")
    assert bounce["recipients"][0]["recipient"] == "jan@example.pl"
    assert out["state"] == EnvelopeState.PROCESSED
    [doc] = out["docs"]  # a document a person sees in triage, never a customer complaint
    assert (doc["queue"], doc["rule"], doc["category"]) == ("triage", "delivery-status", "other")
    assert "delivery-status" in doc["flags"] and "<reply-42@telewave.pl>" in doc["text"]
