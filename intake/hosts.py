"""Outbound hosts (IMAP mailboxes, SMTP relays, webhooks) must be public addresses (SSRF guard).

A host name given in a configuration could point a Mailroom process at the cloud metadata service
(169.254.169.254), the database, Redis or an admin interface on the internal network. Every address
the name resolves to is checked *before* connecting; loopback, private, link-local, shared (CGNAT),
multicast, reserved and unspecified addresses are refused, also when written in another form
(``2130706433``, ``0x7f.1``, ``::ffff:127.0.0.1``).

``MAILROOM_ALLOW_PRIVATE_HOSTS`` permits internal hosts on purpose: a comma-separated list of host
names, addresses or networks (``mail.internal, 10.20.0.0/16, 127.0.0.1``), or ``*`` for any (a lab).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Mapping
from typing import Any

from ground.errors import Disposition, MailroomError

ALLOW_ENV = "MAILROOM_ALLOW_PRIVATE_HOSTS"
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[..., list[Any]]


class HostRefused(MailroomError):
    """The configured host is internal (or cannot be resolved); nothing was connected to."""

    code = "host_refused"
    http_status = 422
    disposition = Disposition.NEEDS_HUMAN


def _kind(ip: IpAddress) -> str | None:
    """What makes ``ip`` internal, or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _kind(ip.ipv4_mapped)
    for kind, flag in (("loopback", ip.is_loopback), ("unspecified", ip.is_unspecified),
                       ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
                       ("private", ip.is_private), ("reserved", ip.is_reserved)):
        if flag:
            return kind
    return None if ip.is_global else "non-public"  # e.g. 100.64.0.0/10 (CGNAT), documentation ranges


def allowed(env: Mapping[str, str] | None = None) -> tuple[bool, set[str], list[IpNetwork]]:
    """(everything allowed, allowed host names, allowed networks) from ``MAILROOM_ALLOW_PRIVATE_HOSTS``."""
    raw = (os.environ if env is None else env).get(ALLOW_ENV, "")
    names: set[str] = set()
    nets: list[IpNetwork] = []
    for entry in (e.strip().lower() for e in raw.split(",")):
        if not entry:
            continue
        if entry in ("*", "all"):
            return True, names, nets
        try:
            nets.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            names.add(entry.rstrip("."))
    return False, names, nets


def check_host(host: str, port: int, *, env: Mapping[str, str] | None = None,
               resolve: Resolver | None = None) -> list[str]:
    """The addresses ``host`` resolves to, if all of them may be connected to; else :class:`HostRefused`."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if not name:
        raise HostRefused("No host is configured.")
    anything, names, nets = allowed(env)
    if anything or name in names:
        return []
    try:
        infos = (resolve or socket.getaddrinfo)(name, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise HostRefused(f"The host {host!r} cannot be resolved ({exc}); check its name.") from exc
    addresses: list[str] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 scope id
        ip = ipaddress.ip_address(text)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        kind = _kind(ip)
        if kind is not None and not any(ip.version == net.version and ip in net for net in nets):
            raise HostRefused(
                f"The host {host!r} is {ip}, a {kind} address: Mailroom does not connect to internal addresses. "
                f"If this server is yours, allow it with {ALLOW_ENV}={name} (names, addresses or networks, "
                "comma-separated).")
        addresses.append(text)
    if not addresses:
        raise HostRefused(f"The host {host!r} has no address.")
    return addresses
