from __future__ import annotations

from email.message import EmailMessage

import pytest

from ground.errors import CorruptInput, TooLarge
from ground.records import Channel
from intake.parts import MAX_PARTS, explode, guess_channel


def _mail(body: str, attachments: list[tuple[str, bytes, str, str]] = ()) -> bytes:  # type: ignore[assignment]
    msg = EmailMessage()
    msg["From"] = "Jan Kowalski <jan@example.pl>"
    msg["To"] = "bok@operator.pl"
    msg["Subject"] = "Reklamacja faktury"
    msg.set_content(body)
    for name, data, maintype, subtype in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def test_plain_email_is_one_text_part_with_subject() -> None:
    parts = explode(_mail("Składam reklamację faktury FV/2026/10/004512."), "message/rfc822", "m.eml")
    assert len(parts) == 1
    assert parts[0].content_type == "text/plain"
    text = parts[0].data.decode()
    assert "Reklamacja faktury" in text and "reklamację" in text


def test_cover_note_with_pdf_attachment_yields_the_attachment() -> None:
    pdf = b"%PDF-1.4\n%fake but sniffed as pdf\n"
    parts = explode(_mail("W załączeniu pismo.", [("../../etc/passwd.pdf", pdf, "application", "pdf")]),
                    "message/rfc822", "m.eml")
    assert [p.content_type for p in parts] == ["application/pdf"]
    assert parts[0].data == pdf
    assert parts[0].name == "../../etc/passwd.pdf"  # kept only as a label; storage keys are hashes


def test_unreadable_attachments_are_skipped() -> None:
    parts = explode(_mail("Krótka notka.", [("x.exe", b"MZ\x90\x00binary", "application", "octet-stream")]),
                    "message/rfc822", "m.eml")
    assert [p.content_type for p in parts] == ["text/plain"]


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
