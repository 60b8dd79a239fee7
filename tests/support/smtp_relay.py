"""A real SMTP relay for tests (aiosmtpd on a loopback port): plain, STARTTLS or implicit TLS, optional AUTH,
and a chosen answer to DATA. The TLS certificate is issued at test time by a throw-away CA whose certificate
file the relay's ``url`` names (``?cafile=…``), so the client verifies it as it would a private relay's.

    with relay(tls="starttls", auth=("mailroom", "s3cret")) as r:
        send(raw, mail_from=..., rcpt=[...], url=r.url, timeout=10, ...)
        assert r.messages[0].tls and r.messages[0].login == "mailroom"
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import ssl
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.servers import free_port

Tls = Literal["none", "starttls", "implicit"]
ANSWERS = {421: "421 4.3.2 Service shutting down", 451: "451 4.3.0 Local error in processing, try again later",
           452: "452 4.3.1 Insufficient system storage", 550: "550 5.7.1 Message rejected as spam",
           552: "552 5.3.4 Message too big for system", 554: "554 5.6.0 Transaction failed"}


@dataclass(frozen=True)
class ReceivedMessage:
    """One message the relay answered 250 (or ``answer_code``) to: the envelope and the bytes as sent."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    tls: bool  # the session was encrypted (STARTTLS or implicit TLS) when DATA came
    login: str | None  # the AUTH user of the session, if any
    mail_options: tuple[str, ...] = ()


@dataclass
class Relay:
    url: str  # smtp:// | smtp+starttls:// | smtps://[user:password@]127.0.0.1:PORT[?cafile=…]
    host: str
    port: int
    cafile: str | None
    messages: list[ReceivedMessage] = field(default_factory=list)  # answered 250 (or answer_code)
    auth_attempts: list[tuple[str, str]] = field(default_factory=list)  # every AUTH (user, password) seen
    rejected: list[ReceivedMessage] = field(default_factory=list)  # DATA answered with answer_code


@dataclass(frozen=True)
class _Pki:
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes


@lru_cache(maxsize=1)
def _pki() -> _Pki:
    """A CA and a server certificate for ``localhost`` / 127.0.0.1 / ::1 signed by it (made once per process)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Mailroom test relay CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
          .not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    san = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                       x509.IPAddress(ipaddress.ip_address("::1"))])
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])).issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(san, critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return _Pki(ca.public_bytes(pem), cert.public_bytes(pem),
                key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


class _Handler:
    def __init__(self, relay: Relay, answer_code: int | None, refuse_rcpt: Mapping[str, int]) -> None:
        self.relay, self.answer_code, self.refuse_rcpt = relay, answer_code, refuse_rcpt

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:
        code = self.refuse_rcpt.get(address.lower())
        if code is not None:
            return f"{code} {code // 100}.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        transport = server.transport
        got = ReceivedMessage(
            mail_from=envelope.mail_from or "", rcpt_tos=tuple(envelope.rcpt_tos),
            raw=envelope.original_content or b"",
            tls=transport is not None and transport.get_extra_info("ssl_object") is not None,
            login=getattr(session.auth_data, "login", b"").decode() if session.authenticated else None,
            mail_options=tuple(envelope.mail_options))
        if self.answer_code is not None:
            self.relay.rejected.append(got)
            return ANSWERS.get(self.answer_code, f"{self.answer_code} {self.answer_code // 100}.0.0 Test answer")
        self.relay.messages.append(got)
        return f"250 2.0.0 Ok: queued as T{len(self.relay.messages):05d}"


@contextmanager
def relay(tls: Tls = "none", auth: tuple[str, str] | None = None, answer_code: int | None = None, *,
          refuse_rcpt: Mapping[str, int] | None = None, auth_require_tls: bool = True) -> Iterator[Relay]:
    """A running relay on 127.0.0.1; ``answer_code`` (e.g. 451, 550) answers DATA instead of 250;
    ``refuse_rcpt`` maps recipient addresses to the code RCPT TO answers them with. With ``auth`` the relay
    requires AUTH (only over TLS unless ``auth_require_tls=False``) and the url carries the credentials."""
    if tls not in ("none", "starttls", "implicit"):
        raise ValueError(f"tls must be none, starttls or implicit, not {tls!r}")
    root = Path(tempfile.mkdtemp(prefix="mailroom-relay-"))
    port = free_port()
    cafile: str | None = None
    server_ctx: ssl.SSLContext | None = None
    if tls != "none":
        pki = _pki()
        (root / "ca.pem").write_bytes(pki.ca_pem)
        (root / "cert.pem").write_bytes(pki.cert_pem)
        (root / "key.pem").write_bytes(pki.key_pem)
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(root / "cert.pem", root / "key.pem")
        cafile = str(root / "ca.pem")
    scheme = {"none": "smtp", "starttls": "smtp+starttls", "implicit": "smtps"}[tls]
    userinfo = f"{quote(auth[0], safe='')}:{quote(auth[1], safe='')}@" if auth else ""
    query = f"?cafile={quote(cafile)}" if cafile else ""
    state = Relay(url=f"{scheme}://{userinfo}127.0.0.1:{port}{query}", host="127.0.0.1", port=port, cafile=cafile)

    def authenticator(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        state.auth_attempts.append((login, password))
        return AuthResult(success=auth is not None and (login, password) == auth, handled=False, auth_data=auth_data)

    kwargs: dict[str, Any] = {"server_hostname": "relay.test", "data_size_limit": 64 * 1024 * 1024}
    # aiosmtpd counts only STARTTLS as TLS: with implicit TLS the whole session is encrypted anyway
    kwargs.update(authenticator=authenticator, auth_required=auth is not None,
                  auth_require_tls=auth_require_tls and tls != "implicit")
    if tls == "starttls":
        kwargs.update(tls_context=server_ctx, require_starttls=True)
    elif tls == "implicit":
        kwargs.update(ssl_context=server_ctx)
    controller = Controller(_Handler(state, answer_code, {k.lower(): v for k, v in (refuse_rcpt or {}).items()}),
                            hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield state
    finally:
        controller.stop()
        shutil.rmtree(root, ignore_errors=True)
