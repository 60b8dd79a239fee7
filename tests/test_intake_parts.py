"""Splitting an e-mail into its letter's parts: body first, then further pages; decoration skipped;
what cannot be read listed with its reason; headers and file names in any charset; HTML through a parser;
type sniffing of mail in any encoding."""

from __future__ import annotations

import base64
import io
import random
import zipfile
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest
from PIL import Image

from corpus import render
from corpus.letters import compose
from ground.errors import CorruptInput, TooLarge
from ground.records import Channel, OcrResult, PageText, Part
from intake.html import html_to_text
from intake.letter import NoReadableText
from intake.letter import compose as compose_letter
from intake.mail import message_id_of
from intake.office import office_kind
from intake.parts import MAX_PARTS, email_summary, explode, guess_channel
from intake.tnef import rtf_to_text
from ocr import sniff_type


def _mail(body: str, attachments: list[tuple[str, bytes, str, str]] = ()) -> bytes:  # type: ignore[assignment]
    msg = EmailMessage()
    msg["From"] = "Jan Kowalski <jan@example.pl>"
    msg["To"] = "bok@operator.pl"
    msg["Subject"] = "Reklamacja faktury"
    msg.set_content(body)
    for name, data, maintype, subtype in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def _pdf(seed: int = 1) -> bytes:
    letter = compose(random.Random(seed), "pl", "complaint")
    return render.text_pdf(render.layout(letter.blocks, "sans", 11.0, pages=1), letter.subject, letter.sender_name)


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buf, "PNG")
    return buf.getvalue()


def _names(parts: list[Part]) -> list[str]:
    return [p.name for p in parts]


def test_plain_email_is_one_text_part_with_subject() -> None:
    parts = explode(_mail("Składam reklamację faktury FV/2026/10/004512."), "message/rfc822", "m.eml")
    assert len(parts) == 1
    assert parts[0].content_type == "text/plain"
    text = parts[0].data.decode()
    assert "Reklamacja faktury" in text and "reklamację" in text


def test_a_short_cover_note_stays_the_first_part_before_the_attachment() -> None:
    pdf = _pdf()
    parts = explode(_mail("W załączeniu pismo.", [("../../etc/passwd.pdf", pdf, "application", "pdf")]),
                    "message/rfc822", "m.eml")
    assert [(p.name, p.content_type) for p in parts] == [("body", "text/plain"),
                                                         ("../../etc/passwd.pdf", "application/pdf")]
    assert "W załączeniu pismo." in parts[0].data.decode()  # the body is never dropped for an attachment
    assert parts[1].data == pdf  # the name is only a label; storage keys are hashes


def test_unreadable_and_damaged_attachments_are_listed_with_their_reason() -> None:
    raw = _mail("Krótka notka.", [("x.exe", b"MZ\x90\x00binary", "application", "octet-stream"),
                                  ("skan.pdf", b"%PDF-1.4\n%truncated", "application", "pdf"),
                                  ("zdjecie.jpg", b"\xff\xd8\xff\xe0broken", "image", "jpeg"),
                                  ("pusty.pdf", b"", "application", "pdf")])
    parts = explode(raw, "message/rfc822", "m.eml")
    assert _names(parts) == ["body", "attachments not read"]
    notes = parts[-1].data.decode()
    assert "x.exe" in notes and "damaged" in notes and "zdjecie.jpg" in notes and "0 bytes" in notes
    rejected = {r["name"]: r["reason"] for r in email_summary(raw, "message/rfc822")["rejected_attachments"]}
    assert set(rejected) == {"x.exe", "skan.pdf", "zdjecie.jpg", "pusty.pdf"}
    assert "PDF is damaged" in rejected["skan.pdf"]


def test_decoration_is_skipped_and_listed() -> None:
    msg = MIMEMultipart()
    msg["From"], msg["Subject"] = "jan@example.pl", "Reklamacja"
    msg.attach(MIMEText("Proszę o korektę faktury.", "plain", "utf-8"))
    for name, data, ctype in [("kontakt.vcf", b"BEGIN:VCARD\r\nFN:Jan\r\nEND:VCARD\r\n", "text/vcard"),
                              ("spotkanie.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "text/calendar"),
                              ("smime.p7s", b"\x30\x82\x01\x00", "application/pkcs7-signature"),
                              ("pixel.gif", _gif(1, 1), "image/gif"),
                              ("logo.png", _png(300, 100), "image/png"),
                              ("skan.png", _png(1240, 1754), "image/png")]:
        part = MIMEApplication(data)
        part.replace_header("Content-Type", ctype)
        part.add_header("Content-Disposition", "attachment", filename=name)
        msg.attach(part)
    raw = msg.as_bytes()
    parts = explode(raw, "message/rfc822", "m.eml")
    assert _names(parts) == ["body", "skan.png"]  # only the page-sized image is read
    summary = email_summary(raw, "message/rfc822")
    assert [s["name"] for s in summary["skipped_attachments"]] == [
        "kontakt.vcf", "spotkanie.ics", "smime.p7s", "pixel.gif", "logo.png"]
    assert summary["rejected_attachments"] == []
    assert all(a.get("skipped") for a in summary["attachments"] if a["name"] != "skan.png")


def test_the_size_threshold_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from ground.settings import get_settings

    raw = _mail("Notka.", [("foto.png", _png(300, 300), "image", "png")])
    assert _names(explode(raw, "message/rfc822", "m.eml")) == ["body"]  # 90,000 pixels: below the default
    monkeypatch.setenv("MAILROOM_MIN_ATTACHMENT_IMAGE_PIXELS", "50000")
    get_settings.cache_clear()
    try:
        assert _names(explode(raw, "message/rfc822", "m.eml")) == ["body", "foto.png"]
    finally:
        get_settings.cache_clear()


def _gif(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("P", (width, height)).save(buf, "GIF")
    return buf.getvalue()


def test_too_many_parts_is_refused() -> None:
    msg = EmailMessage()
    msg["Subject"] = "bomb"
    msg.set_content("x")
    for i in range(MAX_PARTS + 5):
        msg.add_attachment(b"%PDF-1.4\n", maintype="application", subtype="pdf", filename=f"{i}.pdf")
    with pytest.raises(TooLarge, match="MIME parts"):
        explode(msg.as_bytes(), "message/rfc822", "bomb.eml")


def test_headerless_bytes_are_not_an_email() -> None:
    with pytest.raises(CorruptInput):
        explode(b"\n\njust text", "message/rfc822", "x.eml")


def test_channel_guess() -> None:
    assert guess_channel(b"II*\x00", "image/tiff") == Channel.FAX
    assert guess_channel(b"", "message/rfc822") == Channel.EMAIL
    assert guess_channel(b"\x89PNG", "image/png") == Channel.SCAN
    assert guess_channel(b"%PDF-1.4 broken", "application/pdf") == Channel.SCAN


# ------------------------------------------------------------------ headers and file names in any charset


def test_rfc2047_and_rfc2231_file_names_and_raw_8bit_names() -> None:
    pdf = _pdf(2)
    subject = b"=?utf-8?B?" + base64.b64encode("Reklamacja żółć".encode()) + b"?="
    koi8 = b"=?koi8-r?B?" + base64.b64encode("Письмо".encode("koi8-r")) + b"?="
    raw = (b"From: =?iso-8859-2?Q?Pawe=B3_=AFak?= <pz@example.pl>\r\nSubject: " + subject + b""
           b"\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n\r\nW za\xc5\x82\xc4\x85czeniu.\r\n--B\r\n"
           b"Content-Type: application/pdf\r\n"
           b"Content-Disposition: attachment; filename*=iso-8859-2''%BFa%B3oba.pdf\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n" + _b64(pdf) + b"\r\n--B\r\n"
           b"Content-Type: application/pdf; name=\"" + koi8 + b".pdf\"\r\n"
           b"Content-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n\r\n" + _b64(pdf) + b"\r\n--B\r\n"
           b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\""
           + "Reklamacja_łódź.pdf".encode("cp1250") + b"\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + _b64(pdf) + b"\r\n--B--\r\n")
    summary = email_summary(raw, "message/rfc822")
    assert summary["from"] == "Paweł Żak <pz@example.pl>" and summary["subject"] == "Reklamacja żółć"
    assert [a["name"] for a in summary["attachments"]] == ["żałoba.pdf", "Письмо.pdf", "Reklamacja_łódź.pdf"]


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


# ------------------------------------------------------------------ HTML, RTF


def test_html_body_through_a_parser() -> None:
    markup = ("<html><head><title>t</title><style>p{x:y}</style></head><body><div>Dzień dobry,</div>"
              "<p>proszę o <b>korektę</b>&nbsp;faktury<br/>nr FV/1 &amp; FV/2.</p><script>var a='<p>';</script>"
              "<table><tr><th>Kwota</th><th>Termin</th></tr><tr><td>120,00 zł</td><td>2026-10-30</td></tr>"
              "</table><ul><li>pierwszy</li><li>drugi</li></ul><!-- comment --><img src=\"cid:LOGO@x\"></body>")
    got = html_to_text(markup)
    assert got.text == ("Dzień dobry,\n\nproszę o korektę faktury\nnr FV/1 & FV/2.\n\nKwota\tTermin\n"
                        "120,00 zł\t2026-10-30\n\npierwszy\ndrugi")
    assert got.cids == {"logo@x"}
    assert html_to_text("a < b and c > d, <<<").text == "a < b and c > d, <<<"  # text, not markup
    assert html_to_text("<" * 1000).text == "<" * 1000


def test_html_deeper_than_the_parser_allows_still_gives_all_its_text() -> None:
    markup = "<font>x" * 3000 + "KONIEC"
    assert html_to_text(markup).text.endswith("KONIEC")


def test_html_only_mail_with_alternative_prefers_text_and_reads_html_when_alone() -> None:
    msg = EmailMessage()
    msg["From"], msg["Subject"] = "a@b.pl", "Faktura"
    msg.set_content("")
    msg.add_alternative("<p>Proszę o korektę <b>faktury</b> FV/2026/10/004512.</p>", subtype="html")
    [part] = explode(msg.as_bytes(), "message/rfc822", "m.eml")  # the empty plain rendering is not chosen
    assert "Proszę o korektę faktury FV/2026/10/004512." in part.data.decode()


def test_rtf_body() -> None:
    rtf = (rb"{\rtf1\ansi\ansicpg1250{\fonttbl{\f0 Arial;}}{\*\generator Msftedit;}\f0 Dzie\'f1 dobry,\par "
           rb"prosz\u281? o korekt\'ea.\tab Kwota\par}")
    assert rtf_to_text(rtf) == "Dzień dobry,\nproszę o korektę.\tKwota"


# ------------------------------------------------------------------ office files and zip bombs


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_office_kind_reads_the_directory_and_a_tiny_mimetype_only() -> None:
    assert office_kind(_zip({"word/document.xml": b"<w/>"})) == "a Word document"
    odt = _zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"})
    assert office_kind(odt) == "an OpenDocument file"
    big = _zip({"mimetype": b"application/vnd.oasis.opendocument.text" + b" " * 100_000})
    assert office_kind(big) is None  # declared 100 kB: never decompressed, whatever it says
    assert office_kind(_zip({"a.txt": b"x"})) is None


# ------------------------------------------------------------------ the letter of an e-mail


def _page(text: str, flags: list[str] | None = None, blank: bool = False) -> PageText:
    return PageText(number=1, text=text, method="test", blank=blank, flags=flags or [])


def test_an_email_is_one_letter_and_a_batch_attachment_splits() -> None:
    parts = [Part("body", "text/plain", b""), Part("a.pdf", "application/pdf", b""),
             Part("batch.pdf", "application/pdf", b""), Part("logo.png", "image/png", b""),
             Part("bad.pdf", "application/pdf", b"")]
    readings = [OcrResult([_page("Subject: R\nFrom: j\n\nW załączniku.")]),
                OcrResult([_page("Strona pierwsza"), _page("", blank=True), _page("Strona druga")]),
                OcrResult([_page("List A"), _page("", ["separator"]), _page("List B")]),
                OcrResult([_page("ACME", ["low-confidence"])]),
                CorruptInput("The PDF is damaged.")]
    docs = list(compose_letter(parts, readings))
    assert [(d.part_index, d.doc_index) for d in docs] == [(0, 0), (2, 0), (2, 1)]
    letter = docs[0].ocr
    assert [p.number for p in letter.pages] == [1, 2, 3]  # the body, then the attachment's two pages
    assert letter.text.startswith("Subject: R") and letter.pages[2].text.startswith("Strona druga")
    assert "bad.pdf" in letter.pages[-1].text and "damaged" in letter.pages[-1].text  # notes end the letter
    assert "logo.png" in letter.pages[-1].text  # noted, but no page and no low-confidence flag
    assert not any("low-confidence" in p.flags for p in letter.pages)
    assert [d.ocr.text for d in docs[1:]] == ["List A", "List B"]


def test_an_empty_body_adds_no_page_but_its_subject_opens_the_letter() -> None:
    parts = [Part("body", "text/plain", b""), Part("a.pdf", "application/pdf", b"")]
    [doc] = compose_letter(parts, [OcrResult([_page("Subject: Reklamacja\nFrom: j@x.pl\n\n")]),
                                   OcrResult([_page("Strona pierwsza"), _page("Strona druga")])])
    assert [p.text for p in doc.ocr.pages] == ["Subject: Reklamacja\nFrom: j@x.pl\n\nStrona pierwsza", "Strona druga"]


def test_a_letter_without_any_readable_text_goes_to_a_person() -> None:
    parts = [Part("body", "text/plain", b""), Part("scan.pdf", "application/pdf", b"")]
    with pytest.raises(NoReadableText, match="scan.pdf") as caught:
        list(compose_letter(parts, [OcrResult([_page("Subject: \nFrom: x\n\n")]),
                                    OcrResult([_page("", blank=True)])]))
    assert caught.value.disposition == "needs_human"


# ------------------------------------------------------------------ sniffing, and the Message-ID before storing


def test_mail_is_recognised_by_its_header_block_in_any_encoding() -> None:
    body = "Прошу расторгнуть договор".encode("koi8-r")
    delivered = (b"Return-Path: <a@b.ru>\r\nReceived: from x by y;\r\n Mon, 12 Oct 2026\r\n"
                 b"Subject: " + "Жалоба".encode("koi8-r") + b"\r\n\r\n" + body)
    assert sniff_type(delivered, "") == "message/rfc822"
    assert sniff_type(b"From MAILER-DAEMON Mon Oct 12 09:00:00 2026\n" + delivered, "") == "message/rfc822"
    assert sniff_type(b"\xef\xbb\xbfFrom: a@b.cz\r\nTo: c@d.cz\r\n\r\n" + "Žádost".encode("cp1250"), "") \
        == "message/rfc822"
    assert sniff_type("Zwykły tekst: bez nagłówków.\n".encode(), "a.txt") == "text/plain"


def test_message_id_is_read_from_the_header_block_only() -> None:
    raw = _mail("treść")
    msg_raw = raw.replace(b"Subject:", b"Message-ID: <m-1@x.pl>\nSubject:")
    assert message_id_of(msg_raw) == "<m-1@x.pl>"
    huge = b"X-Junk: " + b"a" * 70_000 + b"\r\nMessage-ID: <late@x.pl>\r\n\r\nbody"
    assert message_id_of(huge) is None  # beyond the limit: found after storing, by the full parse
    assert message_id_of(b"Message-ID: <no-end@x.pl>") is None
