"""Which servers a mailbox may point at, and the address a connection goes to.

Two checks, one for what a person types and one for where a connection goes:

- `host_problem` reads a host as written (API, admin, CSV import, the model): an IP address,
  or a host name by RFC 1123 and IDNA — labels of 1–63 letters, digits and hyphens
  (after IDNA encoding), no empty label, at most 253 characters, no whitespace or control
  character, a last label that is not all digits (so `2130706433` or `127.1` is not taken
  for a name).
- `resolve` / `resolve_async` turn a host into the addresses to connect to, and refuse
  loopback, private, link-local, multicast, reserved, unspecified and other non-public
  addresses (IPv4-mapped IPv6 read as IPv4) unless private hosts are allowed
  (`WARMUP_ALLOW_PRIVATE_HOSTS`, for a lab or the local sink). The transports connect to
  the address that was checked, never to the name again, so a name cannot answer one
  address to the check and another to the connection (DNS rebinding).

Messages never include the resolved address: an owner learns that a host is refused and
why, not how the service's own network resolves names.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass

MAX_NAME = 253
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
ALLOW_PRIVATE_HINT = "WARMUP_ALLOW_PRIVATE_HOSTS=true allows it, for a lab"


class HostRefused(Exception):
    """The host cannot be used: not a host name, or an address of a kind that is refused.
    Retrying does not help; the mailbox's settings must change."""


@dataclass(frozen=True)
class Target:
    """Where to connect: the checked `address`, and the `host` as written (TLS checks the
    certificate against it and sends it as SNI)."""

    host: str
    address: str
    port: int
    family: int


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


def host_problem(value: str) -> str | None:
    """Why `value` is not a host name or IP address, or None when it is one."""
    if not value:
        return "is empty"
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        return "contains whitespace or a control character"
    if _ip(value) is not None:
        return None
    name = value.removesuffix(".")  # one trailing dot: the fully qualified spelling
    if len(name) > MAX_NAME:
        return f"is longer than {MAX_NAME} characters"
    try:
        ascii_name = name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return "is not a host name (an empty label, a label over 63 characters, or a bad character)"
    labels = ascii_name.split(".")
    if len(ascii_name) > MAX_NAME:
        return f"is longer than {MAX_NAME} characters once encoded"
    for label in labels:
        if not _LABEL.match(label):
            return (
                f"is not a host name: {label[:20]!r} is not a label of 1-63 letters, "
                "digits and inner hyphens"
            )
    if labels[-1].isdigit():
        return "is not a host name (its last label is a number; write an address as a.b.c.d)"
    return None


def address_problem(address: str) -> str | None:
    """The kind of a refused address ("loopback", "private", …), or None when public."""
    ip = _ip(address.split("%", 1)[0])  # an IPv6 scope (fe80::1%eth0) is link-local anyway
    if ip is None:
        return "unreadable"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for attribute, kind in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_reserved", "reserved"),
        ("is_private", "private"),
    ):
        if getattr(ip, attribute):
            return kind
    return None if ip.is_global else "non-public"


def _targets(
    host: str,
    port: int,
    infos: Sequence[tuple[int, int, int, str, tuple[object, ...]]],
    allow_private: bool,
) -> list[Target]:
    targets: list[Target] = []
    refused: list[str] = []
    for family, _, _, _, sockaddr in infos:
        address = str(sockaddr[0])
        kind = None if allow_private else address_problem(address)
        if kind is not None:
            refused.append(kind)
        elif all(t.address != address for t in targets):
            targets.append(Target(host, address, port, family))
    if refused:
        # One refused address refuses the host: a name that mixes a public address with
        # an internal one is a probe, or a mistake to fix.
        raise HostRefused(
            f"{host} resolves to a {refused[0]} address: refused ({ALLOW_PRIVATE_HINT})"
        )
    if not targets:
        raise OSError(f"{host} has no address")
    return targets


def _checked_name(host: str, port: int) -> str:
    problem = host_problem(host)
    if problem is not None:
        raise HostRefused(f"host {host[:60]!r} {problem}")
    if not 1 <= port <= 65535:
        raise HostRefused(f"port {port} is not between 1 and 65535")
    return host.removeprefix("[").removesuffix("]")


def resolve(host: str, port: int, *, allow_private: bool) -> list[Target]:
    """The addresses to connect to for `host`, each checked. Raises HostRefused (the
    host can never be used as it is) or OSError (name resolution failed: may pass)."""
    name = _checked_name(host, port)
    infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    return _targets(host, port, infos, allow_private)


async def resolve_async(host: str, port: int, *, allow_private: bool) -> list[Target]:
    """`resolve` for asyncio code: the lookup runs in the loop's executor."""
    name = _checked_name(host, port)
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    return _targets(host, port, infos, allow_private)
