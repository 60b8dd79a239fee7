"""E-mailed replies: the MIME message of one outbound letter and its delivery to the SMTP relay.

- :func:`message_id_for` gives every reply a fixed Message-ID, so a crash between the relay's 250 and our
  commit at worst sends the same message again, which receivers de-duplicate.
- :func:`build_message` renders a :class:`~replies.letter.LetterContent` as an RFC 5322 message threaded to
  the customer's (In-Reply-To, References), 7-bit clean (no 8BITMIME needed).
- :func:`send` hands the bytes to the relay of ``MAILROOM_SMTP_URL`` (``smtp://``, ``smtp+starttls://``,
  ``smtps://``), after the SSRF check, connecting only to the addresses that check approved.

Bounces of our e-mails arrive like any mail: intake reads the delivery-status report (``intake.mail``, the
original Message-ID) and ``replies.service.record_bounce`` puts the letter's item back before its agent.
"""

from __future__ import annotations

import base64
import re
import smtplib
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage, Message
from email.utils import format_datetime
from urllib.parse import parse_qs, unquote, urlsplit

from ground.errors import Disposition, MailroomError
from intake.hosts import ALLOW_ENV, HostRefused
from intake.hosts import check_host as ssrf_check
from replies.letter import LetterContent

SMTP_URL_ENV = "MAILROOM_SMTP_URL"


class _MsgIdsHeader(UnstructuredHeader):
    """In-Reply-To / References, folded between msg-ids only: Python's own folding RFC 2047-encodes a msg-id
    longer than a line, which breaks threading."""

    def fold(self, *, policy: policy.Policy) -> str:  # type: ignore[override]
        width = policy.max_line_length or 998
        lines, line = [], f"{self.name}:"
        for mid in str(self).split():
            if len(line) + 1 + len(mid) > width and line != f"{self.name}:":
                lines.append(line)
                line = ""
            line += " " + mid
        lines.append(line)
        return policy.linesep.join(lines) + policy.linesep


_registry = HeaderRegistry()
_registry.map_to_type("in-reply-to", _MsgIdsHeader)
_registry.map_to_type("references", _MsgIdsHeader)
# A private header registry (the default one is shared by every policy); cte_type 7bit: text bodies go
# quoted-printable or base64, so the relay needs no 8BITMIME.
POLICY = policy.SMTP.clone(header_factory=_registry, cte_type="7bit")
MAX_REFERENCES = 20  # RFC 5322 §3.6.4 allows trimming: the first and the most recent ones are kept
MAX_ID_LENGTH = 250
HEADER_LIMIT = 64 * 1024  # a header block read from a bounce, at most
STATUS_LIMIT = 256 * 1024  # the message/delivery-status part, at most
LABELS = {"pl": ("Nasz znak", "Wasz znak"), "cs": ("Naše značka", "Vaše značka"),
          "ru": ("Наш исх. №", "Ваш исх. №"), "en": ("Our reference", "Your reference")}

HostCheck = Callable[[str, int], list[str]]  # intake.hosts.check_host: the vetted addresses, [] = allowed by name

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_MSG_ID = re.compile(r"<[^<>\s\x00-\x1f\x7f]+@[^<>\s\x00-\x1f\x7f]+>")
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


# --- errors ---------------------------------------------------------------------------------------------------


class RelayError(MailroomError):
    """Base of the relay's failures; ``smtp_code`` and ``answer`` are the relay's reply, when there was one."""

    def __init__(self, reason: str, *, smtp_code: int | None = None, answer: str = "") -> None:
        super().__init__(reason)
        self.smtp_code, self.answer = smtp_code, answer


class RelayUnavailable(RelayError):
    """Connection refused or timed out, or a 4xx answer: the message was not taken; try again later."""

    code = "relay_unavailable"
    http_status = 503
    disposition = Disposition.RETRY


class RelayRefused(RelayError):
    """A 5xx answer for the message or for every recipient: sending it again will not help."""

    code = "relay_refused"
    http_status = 422
    disposition = Disposition.NEEDS_HUMAN


class RelayMisconfigured(RelayError):
    """``MAILROOM_SMTP_URL`` is missing or wrong, TLS cannot be had as required, or authentication failed."""

    code = "relay_misconfigured"
    http_status = 500
    disposition = Disposition.NEEDS_HUMAN


# --- the message ----------------------------------------------------------------------------------------------


def message_id_for(reply_id: str, domain: str) -> str:
    """The fixed Message-ID of one reply: ``<reply-{reply_id}@{domain}>``."""
    reply_id, domain = str(reply_id).strip(), domain.strip().rstrip(".").lower()
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"{domain!r} is not a domain name") from exc
    if not _DOT_ATOM.fullmatch(reply_id):
        raise ValueError(f"{reply_id!r} cannot be part of a Message-ID (letters, digits, dots and hyphens)")
    if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*", domain):
        raise ValueError(f"{domain!r} is not a domain name")
    return f"<reply-{reply_id}@{domain}>"


def _msg_ids(text: str | None) -> list[str]:
    """The well-formed ``<id@host>`` tokens of a header value, in order (anything else is dropped)."""
    if not text:
        return []
    found = _MSG_ID.findall(str(text))
    if not found and "<" not in text and "@" in text and not any(c.isspace() for c in text.strip()):
        found = _MSG_ID.findall(f"<{text.strip()}>")  # an id given without its angle brackets
    return [m for m in found if len(m) <= MAX_ID_LENGTH]


def _references(chain: Sequence[str], parent: str | None) -> list[str]:
    """References of a reply: the parent's chain then the parent's own id (RFC 5322 §3.6.4), trimmed."""
    ids: list[str] = []
    for item in [*chain, parent or ""]:
        for mid in _msg_ids(item):
            if mid in ids:
                ids.remove(mid)
            ids.append(mid)
    if len(ids) > MAX_REFERENCES:
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1):]]
    return ids


def body_text(content: LetterContent) -> str:
    """The text/plain body: the letter's text, the signature lines, then the reference line(s)."""
    ours, theirs = LABELS.get(content.language, LABELS["en"])
    body = content.body.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    blocks = [body]
    if content.signature:
        blocks.append("\n".join(content.signature))
    refs = [f"{ours}: {content.reference}"]
    if content.their_reference:
        refs.append(f"{theirs}: {content.their_reference}")
    blocks.append("\n".join(refs))
    return "\n\n".join(b for b in blocks if b) + "\n"


def _safe_filename(name: str) -> str:
    name = re.sub(r"[\x00-\x1f\x7f/\\]+", "_", name).strip(" .")
    return name or "attachment"


def _content_type(value: str, data: bytes) -> tuple[str, str, dict[str, str]]:
    """(maintype, subtype, params) of an attachment; a text without a charset gets utf-8 when it is UTF-8."""
    head = Message()
    head["Content-Type"] = value or "application/octet-stream"
    maintype, subtype = head.get_content_maintype(), head.get_content_subtype()
    params = {k: v for k, v in head.get_params(failobj=[])[1:] if isinstance(v, str)}
    if maintype == "text" and "charset" not in {k.lower() for k in params}:
        try:
            data.decode("utf-8")
            params["charset"] = "utf-8"
        except UnicodeDecodeError:
            maintype, subtype = "application", "octet-stream"  # a text of unknown charset: keep it byte-exact
    return maintype, subtype, params


def build_message(content: LetterContent, *, to: str, message_id: str, in_reply_to: str | None = None,
                  references: Sequence[str] = (), pdf: bytes | None = None, date: datetime,
                  auto: bool = False) -> bytes:
    """The reply as RFC 5322 bytes (CRLF, 7-bit): From the sender, To ``to``, threaded to ``in_reply_to``
    (the customer's Message-ID) and ``references`` (their References chain); ``auto`` marks an automatic
    message (acknowledgements) ``Auto-Submitted: auto-generated``. Attachments: the content's, then ``pdf``
    as ``{reference}.pdf``."""
    if date.tzinfo is None or date.utcoffset() is None:
        raise ValueError("date must be timezone-aware")
    if not _MSG_ID.fullmatch(message_id):
        raise ValueError(f"{message_id!r} is not a Message-ID (<id@domain>)")
    if not content.sender.email:
        raise ValueError("the sender has no e-mail address (Sender.email)")
    msg = EmailMessage(policy=POLICY)
    msg["From"] = Address(display_name=content.sender.name, addr_spec=content.sender.email)
    msg["To"] = to
    msg["Subject"] = " ".join(content.subject.split())
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    parent = _msg_ids(in_reply_to)
    if parent:
        msg["In-Reply-To"] = parent[0]
    chain = _references(references, parent[0] if parent else None)
    if chain:
        msg["References"] = " ".join(chain)
    if auto:
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"  # no out-of-office answers to an acknowledgement (Exchange)
    msg.set_content(body_text(content), charset="utf-8")
    for att in content.attachments:
        maintype, subtype, params = _content_type(att.content_type, att.data)
        msg.add_attachment(att.data, maintype=maintype, subtype=subtype, params=params,
                           filename=_safe_filename(att.filename))
    if pdf is not None:
        name = _safe_filename(f"{content.reference}.pdf")
        msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=name)
    del msg["Content-Language"]  # set last: set_content and the move to multipart/mixed would take it away
    msg["Content-Language"] = content.language
    return msg.as_bytes(policy=POLICY)


# --- the relay ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    address: str
    code: int
    answer: str


@dataclass(frozen=True)
class Accepted:
    """The relay took the message: ``at`` (UTC) its 250 to DATA, ``answer`` its text ("2.0.0 Ok: queued as …"),
    ``refused`` the recipients it refused while accepting the others."""

    at: datetime
    answer: str
    refused: tuple[Refusal, ...] = ()


@dataclass(frozen=True)
class RelayConfig:
    scheme: str  # smtp | smtp+starttls | smtps
    host: str
    port: int
    user: str | None = None
    password: str | None = None
    cafile: str | None = None

    @property
    def where(self) -> str:
        """The relay as it may be shown (no credentials)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_relay_url(url: str) -> RelayConfig:
    """``smtp://[user:password@]host[:port][?cafile=/path]`` (also ``smtp+starttls://``, ``smtps://``)."""
    if not url or not url.strip():
        raise RelayMisconfigured(f"No SMTP relay is configured: set {SMTP_URL_ENV} "
                                 "(smtp://, smtp+starttls:// or smtps://[user:password@]host[:port]).")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise RelayMisconfigured(f"{SMTP_URL_ENV} is not a valid URL ({exc}).") from None
    scheme = parts.scheme.lower()
    defaults = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
    if scheme not in defaults:
        raise RelayMisconfigured(f"{SMTP_URL_ENV} must start with smtp://, smtp+starttls:// or smtps://, "
                                 f"not {scheme + '://' if scheme else 'nothing'}.")
    host = parts.hostname or ""
    if not host:
        raise RelayMisconfigured(f"{SMTP_URL_ENV} names no host.")
    if parts.path not in ("", "/") or parts.fragment:
        raise RelayMisconfigured(f"{SMTP_URL_ENV} has a path or fragment; only ?cafile=/path may follow the host.")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"cafile"})
    if unknown:
        raise RelayMisconfigured(f"{SMTP_URL_ENV} has unknown parameters: {', '.join(unknown)} (only cafile).")
    cafile = query["cafile"][-1] if query.get("cafile") else None
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if user is not None and password is None:
        raise RelayMisconfigured(f"{SMTP_URL_ENV} names a user but no password (user:password@host).")
    return RelayConfig(scheme, host, port or defaults[scheme], user or None, password if user else None,
                       cafile or None)


def _tls_context(cfg: RelayConfig) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=cfg.cafile)
    except (OSError, ssl.SSLError) as exc:
        raise RelayMisconfigured(f"The CA file {cfg.cafile!r} of {SMTP_URL_ENV} cannot be used ({exc}).") from None


class _PinnedSMTP(smtplib.SMTP):
    """Connects to the address the SSRF check approved; TLS still checks the certificate against the host name."""

    def __init__(self, address: str | None, **kwargs: object) -> None:
        self._address = address
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:  # type: ignore[override]
        return socket.create_connection((self._address or host, port), timeout, self.source_address)


class _PinnedSMTPS(smtplib.SMTP_SSL, _PinnedSMTP):
    def __init__(self, address: str | None, **kwargs: object) -> None:
        self._address = address
        smtplib.SMTP_SSL.__init__(self, **kwargs)  # type: ignore[arg-type]


def _answer(resp: bytes | str) -> str:
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)
    return " ".join(text.split())


def _by_code(code: int, what: str, resp: bytes | str, cfg: RelayConfig) -> RelayError:
    """A relay's non-success answer as a typed error: 5xx permanent, anything else (4xx) transient."""
    answer = _answer(resp)
    if not 500 <= code < 600:
        return RelayUnavailable(f"The relay {cfg.where} answered {what} with {code} {answer}: try again later.",
                                smtp_code=code, answer=answer)
    return RelayRefused(f"The relay {cfg.where} refused {what}: {code} {answer}", smtp_code=code, answer=answer)


def _vetted(cfg: RelayConfig, check_host: HostCheck) -> list[str]:
    try:
        return check_host(cfg.host, cfg.port)
    except HostRefused as exc:
        cause = exc.__cause__
        if isinstance(cause, socket.gaierror) and cause.errno == socket.EAI_AGAIN:
            raise RelayUnavailable(f"The relay {cfg.where} cannot be resolved now ({cause}).") from exc
        hint = "" if ALLOW_ENV in exc.reason else f" (an internal relay is allowed with {ALLOW_ENV})"
        raise RelayMisconfigured(f"The SMTP relay of {SMTP_URL_ENV} is refused: {exc.reason}{hint}") from exc


def _connect(cfg: RelayConfig, addresses: list[str], timeout: float, context: ssl.SSLContext,
             helo: str | None) -> smtplib.SMTP:
    errors: list[str] = []
    for address in addresses or [None]:  # type: ignore[list-item]
        try:
            if cfg.scheme == "smtps":
                client: smtplib.SMTP = _PinnedSMTPS(address, timeout=timeout, context=context,
                                                    local_hostname=helo)
            else:
                client = _PinnedSMTP(address, timeout=timeout, local_hostname=helo)
            client._host = cfg.host  # the name TLS checks the certificate against (smtplib keeps "" otherwise)
            client.connect(cfg.host, cfg.port)
            return client
        except smtplib.SMTPConnectError as exc:  # a greeting other than 220
            raise _by_code(exc.smtp_code, "the connection", exc.smtp_error, cfg) from None
        except ssl.SSLCertVerificationError as exc:
            raise RelayMisconfigured(f"The certificate of the relay {cfg.where} does not verify "
                                     f"({exc.verify_message}); a private CA is named with ?cafile=/path in "
                                     f"{SMTP_URL_ENV}.") from None
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError) as exc:
            errors.append(f"{address or cfg.host}: {exc}")
        except ssl.SSLError as exc:
            raise RelayMisconfigured(f"No TLS with the relay {cfg.where} ({exc.reason or exc}); does it speak "
                                     "implicit TLS (smtps://, port 465) or STARTTLS (smtp+starttls://)?") from None
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            errors.append(f"{address or cfg.host}: {exc or type(exc).__name__}")
    raise RelayUnavailable(f"The relay {cfg.where} cannot be reached ({'; '.join(errors)}): try again later.")


def _secure_and_login(client: smtplib.SMTP, cfg: RelayConfig, context: ssl.SSLContext) -> None:
    code, resp = client.ehlo()
    if not 200 <= code < 300:
        code, resp = client.helo()
        if not 200 <= code < 300:
            raise _by_code(code, "EHLO/HELO", resp, cfg)
    encrypted = cfg.scheme == "smtps"
    if not encrypted and client.has_extn("starttls"):
        try:
            client.starttls(context=context)
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise _by_code(exc.smtp_code, "STARTTLS", exc.smtp_error, cfg) from None
            raise RelayMisconfigured(f"The relay {cfg.where} offers STARTTLS but refuses it: {exc.smtp_code} "
                                     f"{_answer(exc.smtp_error)}", smtp_code=exc.smtp_code) from None
        client.ehlo()
        encrypted = True
    if cfg.scheme == "smtp+starttls" and not encrypted:
        raise RelayMisconfigured(f"The relay {cfg.where} offers no STARTTLS, which smtp+starttls:// requires; "
                                 "nothing (no password) was sent.")
    if cfg.user is None:
        return
    if not encrypted:
        raise RelayMisconfigured(f"The relay {cfg.where} offers no TLS: the password would travel in clear, so it "
                                 "was not sent. Use a relay with STARTTLS or smtps://.")
    if not client.has_extn("auth"):
        raise RelayMisconfigured(f"The relay {cfg.where} offers no AUTH, but {SMTP_URL_ENV} has credentials.")
    try:
        _login(client, cfg.user, cfg.password or "")
    except smtplib.SMTPAuthenticationError as exc:
        if 400 <= exc.smtp_code < 500:
            raise _by_code(exc.smtp_code, "AUTH", exc.smtp_error, cfg) from None
        raise RelayMisconfigured(f"The relay {cfg.where} refused the user {cfg.user!r}: {exc.smtp_code} "
                                 f"{_answer(exc.smtp_error)}", smtp_code=exc.smtp_code,
                                 answer=_answer(exc.smtp_error)) from None
    except smtplib.SMTPException as exc:  # no common AUTH mechanism
        raise RelayMisconfigured(f"No authentication with the relay {cfg.where}: {exc}") from None


def _reset(client: smtplib.SMTP) -> None:
    try:
        client.rset()
    except (OSError, smtplib.SMTPException):
        pass


def _login(client: smtplib.SMTP, user: str, password: str) -> None:
    """AUTH; non-ASCII credentials go as UTF-8 over AUTH PLAIN (RFC 4616), which smtplib cannot do."""
    if user.isascii() and password.isascii():
        client.login(user, password)
        return
    if "PLAIN" not in client.esmtp_features.get("auth", "").upper().split():
        raise smtplib.SMTPException("non-ASCII credentials need AUTH PLAIN, which the relay does not offer")
    token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode("ascii")
    code, resp = client.docmd("AUTH", f"PLAIN {token}")
    if code == 334:  # the relay wants the credentials after an empty challenge
        code, resp = client.docmd(token)
    if code not in (235, 503):
        raise smtplib.SMTPAuthenticationError(code, resp)


def _transaction(client: smtplib.SMTP, raw: bytes, mail_from: str, rcpt: Sequence[str],
                 cfg: RelayConfig) -> Accepted:
    options: list[str] = []
    if client.has_extn("size"):
        options.append(f"SIZE={len(raw)}")
    if not all(a.isascii() for a in [mail_from, *rcpt]):
        if not client.has_extn("smtputf8"):
            raise RelayRefused(f"The relay {cfg.where} does not take internationalized addresses (no SMTPUTF8).")
        options.append("SMTPUTF8")
    code, resp = client.mail(mail_from, options)
    if code == 530:
        raise RelayMisconfigured(f"The relay {cfg.where} requires authentication ({code} {_answer(resp)}): give "
                                 f"user:password@ in {SMTP_URL_ENV}.", smtp_code=code, answer=_answer(resp))
    if code != 250:
        _reset(client)
        raise _by_code(code, f"the sender <{mail_from}>", resp, cfg)
    refused: list[Refusal] = []
    for address in rcpt:
        code, resp = client.rcpt(address)
        if code not in (250, 251):
            refused.append(Refusal(address, code, _answer(resp)))
    if len(refused) == len(rcpt):
        _reset(client)
        transient = next((r for r in refused if r.code < 500), None)  # one may succeed later: not permanent
        raise _by_code((transient or refused[0]).code, "every recipient",
                       "; ".join(f"<{r.address}> {r.code} {r.answer}" for r in refused), cfg)
    try:
        code, resp = client.data(raw)
    except smtplib.SMTPDataError as exc:  # DATA itself or the message refused
        raise _by_code(exc.smtp_code, "the message", exc.smtp_error, cfg) from None
    at = datetime.now(UTC)
    if code != 250:
        raise _by_code(code, "the message", resp, cfg)
    return Accepted(at=at, answer=_answer(resp), refused=tuple(refused))


def send(raw: bytes, *, mail_from: str, rcpt: Sequence[str], url: str, timeout: float,
         helo: str | None = None, check_host: HostCheck = ssrf_check) -> Accepted:
    """Deliver ``raw`` to the relay of ``url`` for ``rcpt`` (envelope ``MAIL FROM:<mail_from>``).

    ``check_host`` is the SSRF guard (``intake.hosts.check_host``), called before any connection; only the
    addresses it approved are connected to. ``helo``: the name to greet with (default: this host's FQDN);
    ``timeout`` applies to each network operation. Raises :class:`RelayUnavailable` (try again later),
    :class:`RelayRefused` (permanent) or :class:`RelayMisconfigured`."""
    rcpt = list(rcpt)
    if not rcpt:
        raise ValueError("no recipients")
    if any(c in a for a in [mail_from, *rcpt] for c in "\r\n<>"):
        raise ValueError("an envelope address contains a line break or angle brackets")
    cfg = parse_relay_url(url)
    context = _tls_context(cfg)
    addresses = _vetted(cfg, check_host)
    client = _connect(cfg, addresses, timeout, context, helo)
    accepted: Accepted | None = None
    try:
        _secure_and_login(client, cfg, context)
        accepted = _transaction(client, raw, mail_from, rcpt, cfg)
    except RelayError:
        raise
    except smtplib.SMTPResponseException as exc:
        raise _by_code(exc.smtp_code, "a command", exc.smtp_error, cfg) from None
    except ssl.SSLCertVerificationError as exc:
        raise RelayMisconfigured(f"The certificate of the relay {cfg.where} does not verify ({exc.verify_message});"
                                 f" a private CA is named with ?cafile=/path in {SMTP_URL_ENV}.") from None
    except (ssl.SSLEOFError, ssl.SSLZeroReturnError) as exc:
        raise RelayUnavailable(f"The relay {cfg.where} closed the TLS session ({exc}): try again later.") from None
    except ssl.SSLError as exc:
        raise RelayMisconfigured(f"TLS with the relay {cfg.where} failed ({exc.reason or exc}).") from None
    except (OSError, smtplib.SMTPServerDisconnected) as exc:  # timeouts, resets, a dropped connection
        raise RelayUnavailable(f"The relay {cfg.where} dropped the connection ({exc or type(exc).__name__}) "
                               "before it took the message: try again later.") from None
    except smtplib.SMTPException as exc:
        raise RelayUnavailable(f"The relay {cfg.where} failed: {exc}") from None
    finally:
        try:
            if accepted is not None:
                client.quit()  # the message is taken: whatever QUIT meets changes nothing
            else:
                client.close()
        except (OSError, smtplib.SMTPException):
            client.close()
    assert accepted is not None
    return accepted
