"""SSRF (RELIABILITY.md "SSRF"): IMAP hosts (and any other outbound host: SMTP relays, webhooks go through
the same ``intake.hosts.check_host``) on loopback, link-local, private and other internal ranges are
refused before any connection is made, however the address is written, unless
``MAILROOM_ALLOW_PRIVATE_HOSTS`` names them."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from channels.mailbox import MailboxConfig, poll_once
from intake.hosts import ALLOW_ENV, HostRefused, check_host
from pipeline.context import Context

INTERNAL = ["127.0.0.1", "localhost", "LOCALHOST.", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "::1", "[::1]",
            "::ffff:127.0.0.1", "0.0.0.0", "169.254.169.254", "fe80::1", "10.0.0.5", "172.16.3.4", "192.168.1.1",
            "100.64.0.1", "fd00::1", "224.0.0.1", "240.0.0.1", "198.18.0.1", "::"]
PUBLIC = ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "185.60.216.35"]


@pytest.fixture(autouse=True)
def no_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_ENV, raising=False)


@pytest.mark.parametrize("host", INTERNAL)
def test_internal_addresses_are_refused_in_every_spelling(host: str) -> None:
    with pytest.raises(HostRefused) as refused:
        check_host(host, 993)
    assert ALLOW_ENV in refused.value.reason and "address" in refused.value.reason


@pytest.mark.parametrize("host", PUBLIC)
def test_public_addresses_pass(host: str) -> None:
    assert check_host(host, 993)


def test_a_name_resolving_to_any_internal_address_is_refused() -> None:
    def resolve(name: str, port: int, **_: object) -> list[tuple]:  # a name with a public and an internal A record
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port))]

    with pytest.raises(HostRefused, match="10.1.2.3, a private address"):
        check_host("mail.example.com", 993, resolve=resolve)
    assert check_host("mail.example.com", 993, resolve=resolve, env={ALLOW_ENV: "10.0.0.0/8"}) == ["8.8.8.8",
                                                                                                 "10.1.2.3"]
    with pytest.raises(HostRefused, match="cannot be resolved"):
        check_host("no-such-host.invalid", 993)


def test_the_allow_list_permits_exactly_what_it_names() -> None:
    assert check_host("127.0.0.1", 143, env={ALLOW_ENV: "127.0.0.1"}) == ["127.0.0.1"]
    assert check_host("localhost", 143, env={ALLOW_ENV: "localhost"}) == []
    assert check_host("10.9.8.7", 143, env={ALLOW_ENV: " 10.0.0.0/8 , mail.internal"})
    assert check_host("192.168.1.1", 143, env={ALLOW_ENV: "*"}) == []
    for host, allow in (("192.168.1.1", "10.0.0.0/8"), ("127.0.0.2", "127.0.0.1"), ("169.254.169.254", "localhost"),
                        ("::1", "127.0.0.0/8")):
        with pytest.raises(HostRefused):
            check_host(host, 143, env={ALLOW_ENV: allow})


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    """A TCP server on loopback that records every connection made to it (and speaks no IMAP)."""
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.2)
    seen: list[str] = []
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                conn, addr = srv.accept()
            except TimeoutError:
                continue
            seen.append(addr[0])
            conn.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    yield srv.getsockname()[1], seen
    stop.set()
    t.join(5)
    srv.close()


def test_imap_poll_refuses_before_connecting(ctx: Context, listener, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    port, seen = listener
    now = datetime.now(UTC)
    for host, security in (("127.0.0.1", "plain"), ("localhost", "ssl"), ("2130706433", "starttls")):
        cfg = MailboxConfig(host=host, port=port, user="u", password="p", security=security)
        with pytest.raises(HostRefused):
            poll_once(ctx, cfg, now)
    assert seen == []  # not one connection was made
    monkeypatch.setenv(ALLOW_ENV, "127.0.0.1")  # allowed on purpose: now it does connect (and fails: no IMAP)
    with pytest.raises(Exception) as failed:  # noqa: PT011 - imaplib's own errors
        poll_once(ctx, MailboxConfig(host="127.0.0.1", port=port, user="u", password="p", security="plain"), now)
    assert not isinstance(failed.value, HostRefused)
    assert seen == ["127.0.0.1"]
