"""IMAP polling of shared mailboxes with imap-tools.

Per message: fetch (without setting \\Seen) → store the original and commit its envelope →
only then move it to the done folder (or add a keyword). A crash or storage failure between
fetch and store leaves the message untouched on the server, so the next poll fetches it again;
a crash between store and move makes the next poll find it again, and intake recognises it
(same bytes, same Message-ID) as a duplicate, which is then moved without a second item.
"""

from __future__ import annotations

import imaplib
import logging
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from imap_tools import AND, MailBox, MailBoxStartTls, MailBoxUnencrypted, MailMessage
from imap_tools.errors import MailboxFolderCreateError, MailboxStarttlsError
from imap_tools.utils import check_command_status

from channels.receive import Dispatch, Received, receive
from ground.records import Channel
from intake.hosts import check_host
from pipeline.context import Context

log = logging.getLogger(__name__)


class RawMailMessage(MailMessage):
    """imap-tools parses the message; intake needs the exact bytes (their sha256 is the identity)."""

    def __init__(self, fetch_data: list) -> None:
        super().__init__(fetch_data)
        self.raw: bytes = self._get_message_data_parts(fetch_data)[0]


def _open_pinned(addresses: list[str], port: int, timeout: float | None) -> socket.socket:
    """A TCP connection to one of the addresses the SSRF check approved (in its order).

    Connecting by name would resolve it again, and a DNS answer that changed since the check (DNS
    rebinding) could point the connection at an internal address after all. TLS still verifies the
    certificate against the configured host name (``server_hostname``)."""
    failure: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            failure = exc
    raise failure or OSError(f"no address to connect to on port {port}")


class _PinnedIMAP4(imaplib.IMAP4):
    def __init__(self, host: str, port: int, addresses: list[str], timeout: float | None = None) -> None:
        self._pinned = addresses
        super().__init__(host, port, timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        if not self._pinned:  # allowed by name in MAILROOM_ALLOW_PRIVATE_HOSTS: nothing was resolved to pin
            return super()._create_socket(timeout)
        return _open_pinned(self._pinned, self.port, timeout)


class _PinnedIMAP4SSL(imaplib.IMAP4_SSL):
    def __init__(self, host: str, port: int, addresses: list[str], ssl_context: ssl.SSLContext | None,
                 timeout: float | None = None) -> None:
        self._pinned = addresses
        super().__init__(host, port, ssl_context=ssl_context or ssl.create_default_context(), timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        # TCP first (to a checked address, or as plain IMAP4 resolves it when none is pinned), then TLS
        sock = _open_pinned(self._pinned, self.port, timeout) if self._pinned else \
            imaplib.IMAP4._create_socket(self, timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


class _RawMailbox:
    """imap-tools mailbox mix-in: keeps the exact message bytes and the addresses to connect to."""

    email_message_class = RawMailMessage

    def __init__(self, host: str, port: int, addresses: list[str]) -> None:
        self._pinned = addresses
        super().__init__(host, port)  # type: ignore[call-arg]


class _Plain(_RawMailbox, MailBoxUnencrypted):
    def _get_mailbox_client(self) -> imaplib.IMAP4:
        return _PinnedIMAP4(self._host, self._port, self._pinned, self._timeout)


class _Tls(_RawMailbox, MailBox):
    def _get_mailbox_client(self) -> imaplib.IMAP4:
        return _PinnedIMAP4SSL(self._host, self._port, self._pinned, self._ssl_context, self._timeout)


class _StartTls(_RawMailbox, MailBoxStartTls):
    def _get_mailbox_client(self) -> imaplib.IMAP4:
        client = _PinnedIMAP4(self._host, self._port, self._pinned, self._timeout)
        check_command_status(client.starttls(self._ssl_context), MailboxStarttlsError)
        return client


@dataclass(frozen=True)
class MailboxConfig:
    host: str
    user: str
    password: str = field(repr=False)
    port: int = 993
    folder: str = "INBOX"
    security: str = "ssl"  # "ssl" | "starttls" | "plain" (plain only on loopback or a trusted network)
    after: str = "move"  # "move" to done_folder | "flag" with keyword (the message stays in folder)
    done_folder: str = "Mailroom-Stored"
    keyword: str = "$MailroomStored"
    channel: Channel = Channel.EMAIL

    @property
    def label(self) -> str:
        return f"imap://{self.user}@{self.host}:{self.port}/{self.folder}"


@dataclass
class PollResult:
    fetched: int = 0
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)


@contextmanager
def connect(cfg: MailboxConfig) -> Iterator[Any]:
    cls = {"ssl": _Tls, "starttls": _StartTls, "plain": _Plain}[cfg.security]
    # SSRF: internal addresses are refused before connecting (intake/hosts.py), and the connection goes to
    # the addresses that were checked, not to a second resolution of the name.
    addresses = check_host(cfg.host, cfg.port)
    with cls(cfg.host, cfg.port, addresses).login(cfg.user, cfg.password) as mailbox:
        yield mailbox


def store_message(ctx: Context, cfg: MailboxConfig, raw: bytes, uid: str, now: datetime) -> Received:
    """Accept one fetched message (stored, committed); the caller acknowledges it on the server afterwards."""
    return receive(ctx, raw, f"{cfg.label}#{uid}", now, channel=cfg.channel, submitted_by=f"imap:{cfg.user}",
                   meta={"imap": {"mailbox": cfg.label, "uid": uid}})


def acknowledge(mailbox: Any, cfg: MailboxConfig, uid: str) -> None:
    if cfg.after == "move":
        mailbox.move(uid, cfg.done_folder)
    else:
        mailbox.flag(uid, cfg.keyword, True)


def _ensure_done_folder(mailbox: Any, cfg: MailboxConfig) -> None:
    if cfg.after != "move" or mailbox.folder.exists(cfg.done_folder):
        return
    try:
        mailbox.folder.create(cfg.done_folder)
    except MailboxFolderCreateError:  # created meanwhile by another poller
        if not mailbox.folder.exists(cfg.done_folder):
            raise


def poll_once(ctx: Context, cfg: MailboxConfig, now: datetime, dispatch: Dispatch | None = None,
              limit: int | None = None) -> PollResult:
    """Fetch what is waiting, store each message, then acknowledge it; new ones go to ``dispatch``.

    Any failure (storage, database, network) stops the poll: what was not acknowledged is fetched again
    next time, and what was stored is recognised as a duplicate.
    """
    result = PollResult()
    with connect(cfg) as mailbox:
        _ensure_done_folder(mailbox, cfg)
        mailbox.folder.set(cfg.folder)
        criteria = "ALL" if cfg.after == "move" else AND(no_keyword=cfg.keyword)
        for msg in mailbox.fetch(criteria, mark_seen=False, limit=limit):
            result.fetched += 1
            got = store_message(ctx, cfg, msg.raw, msg.uid or "", now)
            acknowledge(mailbox, cfg, msg.uid or "")
            if got.duplicate:
                result.duplicates.append(got.envelope_id)
            elif not got.ok:
                result.quarantined.append(got.envelope_id)
            else:
                result.accepted.append(got.envelope_id)
                if dispatch is not None:
                    dispatch(got.envelope_id)
    return result


def poll_forever(ctx: Context, configs: list[MailboxConfig], interval: float, dispatch: Dispatch | None,
                 stop: threading.Event) -> None:
    """The polling loop of ``mailroom imap``: a failing mailbox is logged and tried again next round."""
    while not stop.is_set():
        for cfg in configs:
            try:
                res = poll_once(ctx, cfg, datetime.now(UTC), dispatch)
                if res.fetched:
                    log.info("%s: %d fetched, %d new, %d duplicates, %d quarantined", cfg.label, res.fetched,
                             len(res.accepted), len(res.duplicates), len(res.quarantined))
            except Exception as exc:  # noqa: BLE001 - network, auth, storage: retried next round, never lost
                log.warning("%s: poll failed (%s: %s); retrying in %.0f s", cfg.label, type(exc).__name__, exc,
                            interval)
        stop.wait(interval)
