"""E-mailed replies (replies/email_out.py) against a real SMTP relay (aiosmtpd, tests/support/smtp_relay.py):
threading headers, the fixed Message-ID, UTF-8 text and the PDF as received; plain, STARTTLS (+AUTH) and
implicit TLS with a certificate issued at test time; 4xx/5xx/closed port as typed errors; the SSRF check
before connecting; bounces (RFC 3464 DSNs built the way Postfix builds them), also with a 20 MB returned
message."""

from __future__ import annotations

import email.policy
import socket
import time
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage

import pytest

from ground.errors import Disposition, MailroomError
from intake.hosts import ALLOW_ENV
from replies.email_out import (
    Accepted,
    RelayMisconfigured,
    RelayRefused,
    RelayUnavailable,
    build_message,
    message_id_for,
    parse_relay_url,
    send,
)
from replies.letter import Attachment, LetterContent, PostalAddress, Sender
from tests.support.servers import free_port
from tests.support.smtp_relay import ANSWERS, relay

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
WHEN = datetime(2026, 12, 7, 10, 15, tzinfo=UTC)
CUSTOMER_ID = "<CAF=k3x9Qm-7@mail.example.pl>"
CUSTOMER_REFS = ("<first.1@mail.example.pl>", "<agent-ack-77@mailroom.example.com>")
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
BODY_PL = "Szanowny Panie,\n\nreklamacja została uwzględniona; zwrot 49,99 zł otrzyma Pan w ciągu 14 dni."
BODY_RU = "Уважаемый клиент!\n\nВаша жалоба рассмотрена, деньги вернут в течение 14 дней."
SENDER = Sender(name="Telewave S.A. — Dział Reklamacji", address=PostalAddress(("Telewave S.A.", "ul. Prosta 1")),
                return_line="Telewave S.A., ul. Prosta 1, 00-001 Warszawa", email="reklamacje@telewave.example.com")


def content(body: str = BODY_PL + "\n\n" + BODY_RU, *, language: str = "pl",
            attachments: tuple[Attachment, ...] = ()) -> LetterContent:
    return LetterContent(language=language, sender=SENDER, recipient=PostalAddress(("Jan Kowalski",)),
                         reference="MR-C-000123", letter_date=date(2026, 12, 7), place="Warszawa",
                         subject="Odpowiedź na reklamację — Ответ на жалобу", body=body,
                         signature=("Anna Wiśniewska", "Specjalistka ds. reklamacji"), attachments=attachments)


def reply(reply_id: str = "7001", **kw: object) -> bytes:
    return build_message(content(), to="Jan Kowalski <jan.kowalski@example.pl>",
                         message_id=message_id_for(reply_id, "mailroom.example.com"), in_reply_to=CUSTOMER_ID,
                         references=CUSTOMER_REFS, pdf=PDF, date=WHEN, **kw)  # type: ignore[arg-type]


def text_of(msg: EmailMessage) -> str:
    """The text/plain body, decoded, with LF line ends (the transfer encoding keeps the CRLFs)."""
    part = msg.get_body(("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content()).replace("\r\n", "\n")


def parsed(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def deliver(raw: bytes, url: str, *, rcpt: tuple[str, ...] = ("jan.kowalski@example.pl",),
            timeout: float = 10) -> Accepted:
    return send(raw, mail_from="bounces+7001@mailroom.example.com", rcpt=rcpt, url=url, timeout=timeout)


@pytest.fixture(autouse=True)
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_ENV, "127.0.0.1")  # the relays of these tests are on loopback


# --- the message ----------------------------------------------------------------------------------------------


def test_message_id_is_fixed_per_reply_and_refuses_header_injection() -> None:
    assert message_id_for("7001", "Mailroom.Example.com.") == "<reply-7001@mailroom.example.com>"
    assert message_id_for("7001", "mailroom.example.com") != message_id_for("7002", "mailroom.example.com")
    assert message_id_for("7001", "poczta.żółw.pl") == "<reply-7001@poczta.xn--w-uga1v8h.pl>"
    for bad_id, domain in (("1>\r\nBcc: x@evil.test", "a.example"), ("7 1", "a.example"), ("1", "a b.example"),
                           ("", "a.example"), ("1", "")):
        with pytest.raises(ValueError):
            message_id_for(bad_id, domain)


def test_the_message_threads_and_carries_text_language_and_attachments() -> None:
    extra = Attachment("regulamin usług.txt", "text/plain", "§ 1. Zażółć gęślą jaźń.".encode())
    raw = build_message(content(attachments=(extra,)), to="Jan Kowalski <jan.kowalski@example.pl>",
                        message_id=message_id_for("7001", "mailroom.example.com"), in_reply_to=CUSTOMER_ID,
                        references=CUSTOMER_REFS, pdf=PDF, date=WHEN)
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    assert max(raw) < 128  # 7-bit: no 8BITMIME needed
    msg = parsed(raw)
    assert msg["Message-ID"] == "<reply-7001@mailroom.example.com>"
    assert msg["In-Reply-To"] == CUSTOMER_ID
    assert msg["References"].split() == [*CUSTOMER_REFS, CUSTOMER_ID]
    assert msg["Subject"] == "Odpowiedź na reklamację — Ответ на жалобу"
    assert msg["From"].addresses[0].display_name == SENDER.name
    assert msg["From"].addresses[0].addr_spec == SENDER.email
    assert msg["Date"].datetime == WHEN and msg["Content-Language"] == "pl" and "Auto-Submitted" not in msg
    body = text_of(msg)
    assert BODY_PL in body and BODY_RU in body
    assert body.index(BODY_RU) < body.index("Anna Wiśniewska") < body.index("Specjalistka") < body.index(
        "Nasz znak: MR-C-000123")
    files = {a.get_filename(): a.get_content() for a in msg.iter_attachments()}
    assert files == {"regulamin usług.txt": "§ 1. Zażółć gęślą jaźń.", "MR-C-000123.pdf": PDF}


def test_acknowledgements_are_marked_automatic_and_long_ids_stay_intact() -> None:
    long_id = "<" + "x" * 120 + "@mail.example.pl>"
    refs = [f"<{i}.chain@mail.example.pl>" for i in range(40)]
    raw = build_message(content(language="ru"), to="jan@example.pl", message_id=message_id_for("9", "m.example"),
                        in_reply_to=long_id, references=refs, date=WHEN, auto=True)
    msg = parsed(raw)
    assert msg["Auto-Submitted"] == "auto-generated" and msg["Content-Language"] == "ru"
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    threading = head[head.index("In-Reply-To:"):head.index("\r\nAuto-Submitted:")]
    assert msg["In-Reply-To"] == long_id and "References:" in threading and "=?" not in threading
    chain = msg["References"].split()
    assert chain[0] == refs[0] and chain[-2:] == [refs[-1], long_id] and len(chain) <= 20
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert "Наш исх. №: MR-C-000123" in text_of(msg)
    assert not list(msg.iter_attachments())


def test_relay_urls() -> None:
    cfg = parse_relay_url("smtp+starttls://mail%40telewave:p%C3%A4ss%3A%2Fw@Relay.Example.com?cafile=/etc/ca.pem")
    assert (cfg.scheme, cfg.host, cfg.port, cfg.user, cfg.password, cfg.cafile) == (
        "smtp+starttls", "relay.example.com", 587, "mail@telewave", "päss:/w", "/etc/ca.pem")
    assert parse_relay_url("smtp://relay.example.com").port == 25
    assert parse_relay_url("smtps://relay.example.com").port == 465
    assert parse_relay_url("smtp://[2001:db8::1]:2525").port == 2525
    assert "secret" not in parse_relay_url("smtps://u:secret@relay.example.com").where
    for bad in ("", "   ", "http://relay.example.com", "smtp://", "smtp://relay.example.com:99999",
                "smtp://relay.example.com/x", "smtp://relay.example.com?cafle=/x", "smtp://user@relay.example.com"):
        with pytest.raises(RelayMisconfigured) as err:
            parse_relay_url(bad)
        assert "MAILROOM_SMTP_URL" in err.value.reason
    assert issubclass(RelayMisconfigured, MailroomError) and RelayMisconfigured.code == "relay_misconfigured"


# --- the relay ------------------------------------------------------------------------------------------------


def test_plain_relay_receives_the_threaded_message_and_envelope() -> None:
    raw = reply()
    with relay() as r:
        before = datetime.now(UTC)
        accepted = deliver(raw, r.url, rcpt=("jan.kowalski@example.pl", "kopia@example.pl"))
        after = datetime.now(UTC)
    assert len(r.messages) == 1
    got = r.messages[0]
    assert got.mail_from == "bounces+7001@mailroom.example.com"
    assert got.rcpt_tos == ("jan.kowalski@example.pl", "kopia@example.pl") and not got.tls and got.login is None
    assert accepted.answer == "2.0.0 Ok: queued as T00001" and accepted.refused == ()
    assert before <= accepted.at <= after and accepted.at.tzinfo is not None
    msg = parsed(got.raw)
    assert msg["Message-ID"] == "<reply-7001@mailroom.example.com>" and msg["In-Reply-To"] == CUSTOMER_ID
    assert msg["References"].split()[-1] == CUSTOMER_ID and msg["Content-Language"] == "pl"
    assert BODY_PL in text_of(msg) and BODY_RU in text_of(msg)
    (pdf,) = list(msg.iter_attachments())
    assert pdf.get_filename() == "MR-C-000123.pdf" and pdf.get_content_type() == "application/pdf"
    assert pdf.get_content() == PDF


def test_sending_the_same_reply_twice_gives_the_same_message_id() -> None:
    with relay() as r:
        deliver(reply("7001"), r.url)
        deliver(build_message(content(), to="jan.kowalski@example.pl", in_reply_to=CUSTOMER_ID, pdf=PDF,
                              message_id=message_id_for("7001", "mailroom.example.com"),
                              date=WHEN + timedelta(minutes=5)), r.url)  # the retry after a crash
        deliver(reply("7002"), r.url)
    ids = [parsed(m.raw)["Message-ID"] for m in r.messages]
    assert ids[0] == ids[1] == "<reply-7001@mailroom.example.com>" and ids[2] == "<reply-7002@mailroom.example.com>"


def test_starttls_with_auth_sends_the_credentials_over_tls() -> None:
    user, password = "mailroom@telewave", "pä ss:/@wörd%"
    with relay(tls="starttls", auth=(user, password)) as r:
        assert r.url.startswith("smtp+starttls://") and "%40" in r.url  # percent-encoded in the URL
        deliver(reply(), r.url)
        opportunistic = r.url.replace("smtp+starttls://", "smtp://", 1)  # smtp:// uses STARTTLS when offered
        deliver(reply("7002"), opportunistic)
        with pytest.raises(RelayMisconfigured, match="refused the user"):
            deliver(reply(), r.url.replace("%40w", "%40W", 1))  # a wrong password
        without_ca = r.url.split("?", 1)[0]  # the system store does not know the test CA
        with pytest.raises(RelayMisconfigured, match="does not verify"):
            deliver(reply(), without_ca)
        with pytest.raises(RelayMisconfigured, match="requires authentication"):
            deliver(reply(), f"smtp+starttls://127.0.0.1:{r.port}?cafile={r.cafile}")
    assert [(m.tls, m.login) for m in r.messages] == [(True, user), (True, user)]
    assert r.auth_attempts[:2] == [(user, password), (user, password)]
    assert parsed(r.messages[0].raw)["Message-ID"] == "<reply-7001@mailroom.example.com>"


def test_starttls_required_but_not_offered_sends_no_password() -> None:
    with relay(tls="none", auth=("mailroom", "secret"), auth_require_tls=False) as r:
        url = r.url.replace("smtp://", "smtp+starttls://", 1)
        with pytest.raises(RelayMisconfigured, match="offers no STARTTLS") as err:
            deliver(reply(), url)
        assert "secret" not in err.value.reason
        with pytest.raises(RelayMisconfigured, match="in clear"):  # smtp:// with credentials, no TLS on offer
            deliver(reply(), r.url)
    assert r.auth_attempts == [] and r.messages == []


def test_implicit_tls() -> None:
    with relay(tls="implicit", auth=("mailroom", "secret")) as r:
        assert r.url.startswith("smtps://")
        accepted = deliver(reply(), r.url)
        with pytest.raises(RelayMisconfigured):  # smtps:// against a STARTTLS port: no TLS from the start
            with relay(tls="starttls") as plain:
                deliver(reply(), plain.url.replace("smtp+starttls://", "smtps://", 1))
    assert [(m.tls, m.login) for m in r.messages] == [(True, "mailroom")]
    assert accepted.answer.startswith("2.0.0 Ok")


@pytest.mark.parametrize(("code", "error", "disposition"), [(451, RelayUnavailable, Disposition.RETRY),
                                                            (452, RelayUnavailable, Disposition.RETRY),
                                                            (550, RelayRefused, Disposition.NEEDS_HUMAN),
                                                            (554, RelayRefused, Disposition.NEEDS_HUMAN)])
def test_relay_answers_become_typed_errors(code: int, error: type[Exception], disposition: Disposition) -> None:
    with relay(answer_code=code) as r:
        with pytest.raises(error) as err:
            deliver(reply(), r.url)
    assert err.value.smtp_code == code and err.value.disposition == disposition  # type: ignore[attr-defined]
    assert str(code) in err.value.reason  # type: ignore[attr-defined]
    assert err.value.answer == ANSWERS[code].split(" ", 1)[1]  # type: ignore[attr-defined]
    assert len(r.rejected) == 1 and r.messages == []


def test_recipients_refused() -> None:
    with relay(refuse_rcpt={"gone@example.pl": 550, "full@example.pl": 452}) as r:
        accepted = deliver(reply(), r.url, rcpt=("gone@example.pl", "jan.kowalski@example.pl"))
        with pytest.raises(RelayRefused, match="gone@example.pl"):
            deliver(reply(), r.url, rcpt=("gone@example.pl",))
        with pytest.raises(RelayUnavailable):  # one of them may work later
            deliver(reply(), r.url, rcpt=("gone@example.pl", "full@example.pl"))
    assert [(x.address, x.code) for x in accepted.refused] == [("gone@example.pl", 550)]
    assert [m.rcpt_tos for m in r.messages] == [("jan.kowalski@example.pl",)]


def test_unreachable_relays_are_transient() -> None:
    port = free_port()  # nobody listens
    with pytest.raises(RelayUnavailable) as err:
        deliver(reply(), f"smtp://127.0.0.1:{port}")
    assert err.value.disposition == Disposition.RETRY and err.value.http_status == 503
    with socket.socket() as silent:  # accepts the connection (backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        started = time.monotonic()
        with pytest.raises(RelayUnavailable):
            deliver(reply(), f"smtp://127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)
        assert time.monotonic() - started < 5


def test_empty_url_names_the_setting() -> None:
    with pytest.raises(RelayMisconfigured, match="MAILROOM_SMTP_URL"):
        deliver(reply(), "")


def test_a_loopback_relay_is_refused_before_connecting_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_ENV)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        listener.setblocking(False)
        with pytest.raises(RelayMisconfigured, match=ALLOW_ENV) as err:
            deliver(reply(), f"smtp://127.0.0.1:{listener.getsockname()[1]}")
        assert "loopback" in err.value.reason
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing connected
    with relay() as r:
        with pytest.raises(RelayMisconfigured, match=ALLOW_ENV):
            deliver(reply(), r.url)
        monkeypatch.setenv(ALLOW_ENV, "127.0.0.1")
        deliver(reply(), r.url)
    assert len(r.messages) == 1


def test_only_the_vetted_address_is_connected_to() -> None:
    seen: list[tuple[str, int]] = []

    def vetted(host: str, port: int) -> list[str]:  # the name does not resolve; the check says where it is
        seen.append((host, port))
        return ["127.0.0.1"]

    with relay() as r:
        send(reply(), mail_from="a@mailroom.example.com", rcpt=["b@example.pl"],
             url=f"smtp://relay.invalid:{r.port}", timeout=10, check_host=vetted)
    assert seen == [("relay.invalid", r.port)] and len(r.messages) == 1
