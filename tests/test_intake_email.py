"""E-mail intake: charsets, rejected office attachments, a real Dovecot IMAP server, a real SMTP/LMTP
client against the aiosmtpd endpoint, and the CLI import of .eml and mbox files."""

from __future__ import annotations

import email.policy
import mailbox
import random
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from imap_tools import MailBoxUnencrypted
from sqlalchemy import func, select

from channels.mailbox import MailboxConfig, poll_once, store_message
from channels.receive import inline, receive
from channels.smtp import start_endpoint
from corpus import render
from corpus.letters import compose
from ground.errors import StorageError
from intake.parts import decode_text, email_summary, explode
from mailroom.cli import main
from pipeline.context import Context
from storage.db import session_scope
from storage.models import AuditEvent, Document, Envelope, EnvelopeState
from tests.support.servers import free_port

NOW = datetime(2026, 10, 12, 9, 30, tzinfo=UTC)


def _docx() -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


def _letter_pdf(seed: int = 1) -> bytes:
    letter = compose(random.Random(seed), "pl", "complaint")
    return render.text_pdf(render.layout(letter.blocks, "sans", 11.0, pages=1), letter.subject, letter.sender_name)


def mail(body: str, *, subject: str = "Reklamacja", msgid: str = "<m1@example.pl>", charset: str = "utf-8",
         attachments: list[tuple[str, bytes, str]] = (), headers: dict[str, str] | None = None) -> bytes:  # type: ignore[assignment]
    msg = EmailMessage()
    msg["From"] = "Jan Kowalski <jan@example.pl>"
    msg["To"] = "obsluga@telewave.pl"
    msg["Subject"] = subject
    msg["Message-ID"] = msgid
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(body, charset=charset, cte="8bit" if charset != "utf-8" else None)
    for name, data, ctype in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes(policy=email.policy.SMTP)  # CRLF, as on the wire


# ------------------------------------------------------------------ parts: charsets, office files


@pytest.mark.parametrize(("charset", "text"), [
    ("utf-8", "Składam reklamację — żółć"),
    ("iso-8859-2", "Składam reklamację, żółć i gęś"),
    ("windows-1250", "Žádám o opravu faktury, příliš žluťoučký kůň"),
    ("windows-1251", "Прошу пересчитать счёт за октябрь"),
    ("koi8-r", "Прошу расторгнуть договор, ёлка"),
])
def test_declared_charsets_are_decoded(charset: str, text: str) -> None:
    raw = mail(text, charset=charset)
    assert charset.encode() in raw.lower() and text.encode("utf-8") not in raw or charset == "utf-8"
    [part] = explode(raw, "message/rfc822", "m.eml")
    assert text in part.data.decode("utf-8")


def test_undeclared_8bit_cyrillic_and_raw_subject_are_guessed() -> None:
    body = "Здравствуйте! Прошу пересчитать счёт за октябрь, сумма неверная. С уважением, Иван Петров."
    raw = (b"From: ivan@example.ru\r\nTo: info@telewave.ru\r\nSubject: " + "Жалоба на счёт".encode("windows-1251")
           + b"\r\nMessage-ID: <r1@example.ru>\r\nContent-Type: text/plain\r\n\r\n" + body.encode("windows-1251"))
    [part] = explode(raw, "message/rfc822", "m.eml")
    assert body in part.data.decode("utf-8")
    assert email_summary(raw, "message/rfc822")["subject"] == "Жалоба на счёт"
    assert decode_text("Žluťoučký kůň úpěl".encode("cp1250"), "iso-8859-1") == "Žluťoučký kůň úpěl"


def test_alternative_html_is_not_a_second_document() -> None:
    msg = EmailMessage()
    msg["From"], msg["Subject"], msg["Message-ID"] = "a@b.pl", "Faktura", "<alt@b.pl>"
    msg.set_content("Proszę o korektę faktury FV/2026/10/004512.")
    msg.add_alternative("<p>Proszę o korektę <b>faktury</b> FV/2026/10/004512.</p>", subtype="html")
    parts = explode(msg.as_bytes(), "message/rfc822", "m.eml")
    assert len(parts) == 1 and "FV/2026/10/004512" in parts[0].data.decode()


def test_office_attachment_is_rejected_with_a_reason_kept_in_meta(ctx: Context) -> None:
    raw = mail("W załączniku pismo.", attachments=[("pismo.docx", _docx(), "application/octet-stream"),
                                                   ("skan.pdf", _letter_pdf(), "application/pdf")],
               headers={"In-Reply-To": "<case-17@telewave.pl>", "References": "<a@x.pl> <case-17@telewave.pl>"})
    summary = email_summary(raw, "message/rfc822")
    [rej] = summary["rejected_attachments"]
    assert rej["name"] == "pismo.docx" and "Word document" in rej["reason"] and "PDF" in rej["reason"]
    parts = explode(raw, "message/rfc822", "m.eml")
    assert [(p.name, p.content_type) for p in parts] == [
        ("body", "text/plain"), ("skan.pdf", "application/pdf"), ("attachments not read", "text/plain")]
    assert "pismo.docx" in parts[-1].data.decode()  # the agent sees what was not read
    got = receive(ctx, raw, "m.eml", NOW, dispatch=inline(ctx))
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, got.envelope_id)
        assert env.state == EnvelopeState.PROCESSED and env.message_id == "<m1@example.pl>"
        meta = env.meta["email"]
        assert meta["from"] == "Jan Kowalski <jan@example.pl>" and meta["subject"] == "Reklamacja"
        assert meta["in_reply_to"] == "<case-17@telewave.pl>"
        assert meta["references"] == ["<a@x.pl>", "<case-17@telewave.pl>"]
        assert meta["rejected_attachments"][0]["name"] == "pismo.docx"
        [letter] = env.documents  # body, the PDF's page, and the note on the Word file: one letter
        assert letter.pages == 2 and "W załączniku pismo." in letter.text and "pismo.docx" in letter.text


def test_same_message_id_by_another_route_is_a_duplicate(ctx: Context) -> None:
    first = receive(ctx, mail("Treść listu.", msgid="<same@x.pl>"), "a.eml", NOW)
    again = receive(ctx, mail("Treść listu.", msgid="<same@x.pl>", headers={"Received": "from mx2"}), "b.eml", NOW)
    assert not first.duplicate and again.duplicate and again.envelope_id == first.envelope_id
    with session_scope(ctx.db_url) as s:
        assert s.scalar(select(func.count()).select_from(Envelope)) == 1
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.envelope_id == first.envelope_id)).all()
        assert "envelope.duplicate" in actions


# ------------------------------------------------------------------ a real Dovecot IMAP server


@dataclass
class Imap:
    port: int
    user: str = "mailroom"
    password: str = "secret"

    def config(self, **kw: object) -> MailboxConfig:
        return MailboxConfig(host="127.0.0.1", port=self.port, user=self.user, password=self.password,
                             security="plain", **kw)  # type: ignore[arg-type]

    def client(self) -> MailBoxUnencrypted:
        return MailBoxUnencrypted("127.0.0.1", self.port).login(self.user, self.password)

    def append(self, raw: bytes) -> None:
        with self.client() as mb:
            mb.append(raw, "INBOX", dt=None, flag_set=())

    def count(self, folder: str, criteria: str = "ALL") -> int:
        with self.client() as mb:
            if not mb.folder.exists(folder):
                return 0
            mb.folder.set(folder)
            return len(mb.uids(criteria))


@pytest.fixture
def imap(monkeypatch: pytest.MonkeyPatch) -> Iterator[Imap]:
    """A private Dovecot on a loopback port (its auth process runs as ``dovecot``: a directory it can enter)."""
    monkeypatch.setenv("MAILROOM_ALLOW_PRIVATE_HOSTS", "127.0.0.1")  # intake/hosts.py refuses loopback otherwise
    if not shutil.which("dovecot"):
        pytest.fail("dovecot is not installed; `make test` installs the Debian package dovecot-imapd")
    root = Path(tempfile.mkdtemp(prefix="mailroom-dovecot-"))
    root.chmod(0o755)
    port = free_port()
    for d in ("base", "state", "mail"):
        (root / d).mkdir()
    shutil.chown(root / "mail", "dovecot", "dovecot")
    (root / "users").write_text("mailroom:{PLAIN}secret\n")
    (root / "dovecot.conf").write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/base
state_dir = {root}/state
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
log_path = {root}/dovecot.log
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/mail/%u
}}
""")
    # the daemon keeps inherited pipes open: send its output to the log file, not to a pipe
    subprocess.run(["dovecot", "-c", str(root / "dovecot.conf")], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=30)
    pidfile = root / "base" / "master.pid"
    deadline = time.monotonic() + 10
    server = Imap(port)
    while True:
        try:
            with server.client():
                break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    try:
        yield server
    finally:
        pid = int(pidfile.read_text().strip())
        subprocess.run(["kill", str(pid)], check=False)
        for _ in range(50):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.1)
        shutil.rmtree(root, ignore_errors=True)


class FailingBlobs:
    """A disk that is full: every put fails (what FsBlobStore raises then)."""

    def put(self, data: bytes) -> str:
        raise StorageError("No space left on device; free some space, then retry.")

    def get(self, key: str) -> bytes:
        raise StorageError("unavailable")

    def exists(self, key: str) -> bool:
        return False


@pytest.mark.slow
def test_imap_messages_with_attachments_become_documents_and_move_only_after_storage(
        ctx: Context, imap: Imap) -> None:
    imap.append(mail("Proszę o rozwiązanie umowy nr 123. " * 20, msgid="<body@x.pl>"))
    imap.append(mail("W załączniku pismo.", msgid="<att@x.pl>",
                     attachments=[("pismo.pdf", _letter_pdf(2), "application/pdf")]))
    broken = Context(ctx.settings)
    broken.blobs = FailingBlobs()  # type: ignore[misc]
    cfg = imap.config()
    with pytest.raises(StorageError):  # crash between fetch and store
        poll_once(broken, cfg, NOW)
    assert imap.count("INBOX") == 2 and imap.count("INBOX", "SEEN") == 0  # untouched: peeked, not moved
    with session_scope(ctx.db_url) as s:
        assert s.scalar(select(func.count()).select_from(Envelope)) == 0
    res = poll_once(ctx, cfg, NOW, dispatch=inline(ctx))  # the next poll fetches them again
    assert res.fetched == 2 and len(res.accepted) == 2
    assert imap.count("INBOX") == 0 and imap.count("Mailroom-Stored") == 2
    with session_scope(ctx.db_url) as s:
        envs = {e.message_id: e for e in s.scalars(select(Envelope))}
        assert set(envs) == {"<body@x.pl>", "<att@x.pl>"}
        assert all(e.state == EnvelopeState.PROCESSED and e.channel == "email" for e in envs.values())
        [letter] = envs["<att@x.pl>"].documents  # one letter: the cover note, then the PDF's pages
        assert letter.part_name == "body" and letter.work_item is not None and letter.pages == 2
        assert "W załączniku pismo." in letter.text and "Reklamuję" in letter.text
        assert len(envs["<body@x.pl>"].documents) == 1
        for e in envs.values():
            assert ctx.blobs.get(e.sha256) and e.meta["imap"]["mailbox"].endswith("/INBOX")
    assert poll_once(ctx, cfg, NOW).fetched == 0


def test_imap_connects_to_the_checked_address_not_a_rebound_one(ctx: Context, imap: Imap,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: the name resolves to the allowed server when checked, then to another address.
    The poll must connect to the address that was checked (nothing listens on 127.0.0.2's port)."""
    real = socket.getaddrinfo
    answers: list[str] = []

    def rebinding(host: str, *args: object, **kw: object) -> list:  # type: ignore[type-arg]
        if host != "imap.rebind.test":
            return real(host, *args, **kw)  # type: ignore[arg-type]
        answer = "127.0.0.1" if not answers else "127.0.0.2"
        answers.append(answer)
        return real(answer, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setenv("MAILROOM_ALLOW_PRIVATE_HOSTS", "127.0.0.1")  # the server, not its 127.0.0.2 twin
    imap.append(mail("Proszę o rozwiązanie umowy nr 77. " * 10, msgid="<rebind@x.pl>"))
    cfg = MailboxConfig(host="imap.rebind.test", port=imap.port, user=imap.user, password=imap.password,
                        security="plain")
    res = poll_once(ctx, cfg, NOW)
    assert res.fetched == 1 and len(res.accepted) == 1
    assert answers == ["127.0.0.1"]  # resolved once, by the check; the connection used that answer


@pytest.mark.slow
def test_imap_crash_between_store_and_move_refetches_without_duplicating(ctx: Context, imap: Imap) -> None:
    raw = mail("Zmiana danych adresowych. " * 10, msgid="<crash@x.pl>")
    imap.append(raw)
    cfg = imap.config(after="flag")
    with imap.client() as mb:  # what the poller did before dying: fetched and stored, not yet flagged
        mb.folder.set("INBOX")
        [msg] = list(mb.fetch(mark_seen=False))
    first = store_message(ctx, cfg, raw, msg.uid or "", NOW)
    assert not first.duplicate and msg.subject == "Reklamacja"
    res = poll_once(ctx, cfg, NOW)
    assert res.fetched == 1 and res.duplicates == [first.envelope_id] and not res.accepted
    assert imap.count("INBOX") == 1 and imap.count("INBOX", "KEYWORD $MailroomStored") == 1
    assert poll_once(ctx, cfg, NOW).fetched == 0  # flagged: not fetched again
    with session_scope(ctx.db_url) as s:
        assert s.scalar(select(func.count()).select_from(Envelope)) == 1


# ------------------------------------------------------------------ a real SMTP/LMTP client


@pytest.mark.slow
def test_smtp_answers_250_only_after_storage_and_dedupes(ctx: Context) -> None:
    port = free_port()
    controller = start_endpoint(ctx, "127.0.0.1", port)
    try:
        raw = mail("Awaria internetu od wczoraj. " * 10, msgid="<smtp1@x.pl>",
                   attachments=[("faks.pdf", _letter_pdf(3), "application/pdf")])
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.ehlo()
            client.mail("jan@example.pl")
            client.rcpt("obsluga@telewave.pl")
            code, answer = client.data(raw)
            assert code == 250, answer
            env_id = answer.decode().rsplit(" ", 1)[-1]
            with session_scope(ctx.db_url) as s:  # at the moment of the 250: stored and committed
                env = s.get(Envelope, env_id)
                assert env is not None and ctx.blobs.get(env.sha256) == raw
                assert env.meta["smtp"]["mail_from"] == "jan@example.pl" and env.message_id == "<smtp1@x.pl>"
            code, answer = client.sendmail("jan@example.pl", ["obsluga@telewave.pl"], raw) or (250, b"")
        with session_scope(ctx.db_url) as s:
            assert s.scalar(select(func.count()).select_from(Envelope)) == 1
    finally:
        controller.stop()
    broken = Context(ctx.settings)
    broken.blobs = FailingBlobs()  # type: ignore[misc]
    port = free_port()  # a new port: the old one may linger in TIME_WAIT after the stop
    controller = start_endpoint(broken, "127.0.0.1", port)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client, pytest.raises(smtplib.SMTPDataError) as err:
            client.sendmail("jan@example.pl", ["obsluga@telewave.pl"], mail("x", msgid="<smtp2@x.pl>"))
        assert err.value.smtp_code == 451
    finally:
        controller.stop()
    with session_scope(ctx.db_url) as s:
        assert s.scalar(select(func.count()).select_from(Envelope)) == 1


@pytest.mark.slow
def test_lmtp_answers_once_per_recipient_and_stores_once(ctx: Context) -> None:
    port = free_port()
    controller = start_endpoint(ctx, "127.0.0.1", port, lmtp=True, dispatch=inline(ctx))
    try:
        with smtplib.LMTP("127.0.0.1", port) as client:  # smtplib reads one answer only: read the second
            client.ehlo()
            client.mail("gw@fax.example")
            client.rcpt("a@telewave.pl")
            client.rcpt("b@telewave.pl")
            first = client.data(mail("Prośba o fakturę korygującą. " * 10, msgid="<lmtp@x.pl>"))
            second = client.getreply()
        assert first[0] == second[0] == 250 and first[1] == second[1]
    finally:
        controller.stop()
    with session_scope(ctx.db_url) as s:
        [env] = s.scalars(select(Envelope)).all()
        assert env.meta["smtp"]["rcpt_tos"] == ["a@telewave.pl", "b@telewave.pl"]
        assert env.state == EnvelopeState.PROCESSED and len(env.documents) == 1


# ------------------------------------------------------------------ CLI import


def test_cli_imports_eml_and_mbox_with_progress_and_dedupe(ctx: Context, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    box = mailbox.mbox(str(tmp_path / "archive.mbox"))
    for i in range(3):
        box.add(mail(f"List numer {i}. Proszę o kontakt w sprawie faktury.", msgid=f"<mbox{i}@x.pl>"))
    box.flush()
    box.close()
    (tmp_path / "one.eml").write_bytes(mail("Osobny list.", msgid="<mbox1@x.pl>"))  # same Message-ID as #2
    (tmp_path / "empty.pdf").write_bytes(b"")
    code = main(["import", str(tmp_path / "archive.mbox"), str(tmp_path / "one.eml"), str(tmp_path / "empty.pdf")])
    out = capsys.readouterr()
    assert code == 1  # one file went to quarantine
    assert "imported 5: new 3, duplicates 1, quarantined 1" in out.out
    assert "empty.pdf: QUARANTINED" in out.out and "0 bytes" in out.out
    assert "5/5" not in out.err  # a progress bar only for a person at a terminal, never into a pipe or a log
    with session_scope(ctx.db_url) as s:
        states = sorted(s.scalars(select(Envelope.state)).all())
        assert states == ["processed", "processed", "processed", "quarantined"]
        assert s.scalar(select(func.count()).select_from(Document)) == 3
    (tmp_path / "two.eml").write_bytes(mail("Drugi list.", msgid="<tty@x.pl>"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys.stderr, "isatty", lambda: True)  # as if a person ran it at a terminal
        assert main(["import", str(tmp_path / "two.eml")]) == 0
    assert "1/1" in capsys.readouterr().err


def _outlook(raw: bytes) -> bytes:
    """An Outlook .msg (OLE compound file) of the same message, written by aspose-email-foss."""
    from aspose.email_foss.msg import MapiMessage

    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    return MapiMessage.from_email_message(parsed).to_bytes()  # type: ignore[arg-type]


def test_outlook_msg_import_reads_its_attachments_and_dedupes(ctx: Context, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    raw = mail("Dzień dobry, w załączniku reklamacja faktury.", subject="Reklamacja — faktura",
               msgid="<outlook1@x.pl>", attachments=[("pismo.pdf", _letter_pdf(3), "application/pdf"),
                                                     ("umowa.docx", _docx(), docx)])
    path = tmp_path / "reklamacja.msg"
    path.write_bytes(_outlook(raw))
    assert path.read_bytes()[:8] == bytes.fromhex("d0cf11e0a1b11ae1")  # an OLE file, not the RFC 822 bytes
    assert main(["import", str(path)]) == 0
    assert "new 1," in capsys.readouterr().out
    with session_scope(ctx.db_url) as s:
        [env] = s.scalars(select(Envelope)).all()
        docs = [(d.part_name, d.text or "", d.work_item is not None) for d in env.documents]
        channel, state, message_id, meta = env.channel, env.state, env.message_id, env.meta["email"]
    assert (channel, state, message_id) == ("email", EnvelopeState.PROCESSED, "<outlook1@x.pl>")
    assert meta["subject"] == "Reklamacja — faktura"
    assert [a["name"] for a in meta["attachments"]] == ["pismo.pdf", "umowa.docx"]
    assert [r["name"] for r in meta["rejected_attachments"]] == ["umowa.docx"]  # Word: a reason, no document
    [(name, text, routed)] = docs  # one letter: the body, then the attachment's pages, then the note
    assert (name, routed) == ("body", True)
    assert "Reklamuję fakturę" in text  # the attached letter was read from its text layer
    assert text.index("w załączniku reklamacja") < text.index("Reklamuję fakturę") < text.index("umowa.docx")
    # the same .msg again (another file name) is recognised by its bytes and its Message-ID
    (tmp_path / "copy.msg").write_bytes(path.read_bytes())
    assert main(["import", str(tmp_path / "copy.msg")]) == 0
    assert "duplicates 1," in capsys.readouterr().out


def test_outlook_msg_with_an_embedded_message_is_one_letter(ctx: Context, tmp_path: Path) -> None:
    """Forwarded inside Outlook: the embedded message's body and its attachment are further pages."""
    from aspose.email_foss.msg import MapiMessage

    inner = MapiMessage.create("Skarga klienta", "Wiadomość przekazana: proszę o naprawę łącza od tygodnia.")
    inner.add_attachment("pismo.pdf", _letter_pdf(4), mime_type="application/pdf")
    outer = MapiMessage.create("FW: Skarga klienta", "Przekazuję do załatwienia.")
    outer.add_embedded_message_attachment(inner, filename="Skarga klienta.msg")
    data = outer.to_bytes()
    parts = explode(data, "application/vnd.ms-outlook", "fw.msg")
    assert [p.name for p in parts] == ["body", "forwarded", "pismo.pdf"]
    got = receive(ctx, data, "fw.msg", NOW, dispatch=inline(ctx))
    with session_scope(ctx.db_url) as s:
        env = s.get(Envelope, got.envelope_id)
        assert env.state == EnvelopeState.PROCESSED and env.channel == "email"
        [letter] = env.documents
        text = letter.text
    assert text.index("Przekazuję do załatwienia") < text.index("naprawę łącza") < text.index("błędne naliczenie")


def test_same_message_as_outlook_msg_after_the_eml_is_a_duplicate(ctx: Context) -> None:
    """An Outlook .msg has no header block to read before storing; its Message-ID is known after exploring,
    and the same message already received as .eml is recognised then (and not routed twice)."""
    raw = mail("Treść listu w obu postaciach.", msgid="<both@x.pl>")
    first = receive(ctx, raw, "a.eml", NOW, dispatch=inline(ctx))
    again = receive(ctx, _outlook(raw), "a.msg", NOW, dispatch=inline(ctx))
    assert again.duplicate and again.envelope_id == first.envelope_id
    with session_scope(ctx.db_url) as s:
        assert s.scalar(select(func.count()).select_from(Envelope)) == 1
        details = [e.detail for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "envelope.duplicate"))]
        assert details and details[0]["message_id"] == "<both@x.pl>"
