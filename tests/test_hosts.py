"""The host policy: names by RFC 1123 / IDNA, addresses after resolution."""

from __future__ import annotations

import asyncio

import pytest

from warmup_project.hosts import HostRefused, address_problem, host_problem, resolve, resolve_async


@pytest.mark.parametrize(
    "host",
    [
        "smtp.gmail.com",
        "outlook.office365.com",
        "mail-1.example.co.uk",
        "a.com.",  # fully qualified
        "bücher.example",  # IDNA
        "localhost",
        "127.0.0.1",
        "::1",
        "[2001:db8::1]",
        "x" * 63 + ".example",
    ],
)
def test_host_names_and_addresses_that_are_accepted(host: str) -> None:
    assert host_problem(host) is None


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("", "empty"),
        ("a..b", "not a host name"),
        ("x" * 64 + ".example", "not a host name"),
        ("smtp.example.com\r\nRCPT TO:<x@y>", "control character"),
        ("smtp.example.com\n", "control character"),
        ("exa mple.com", "whitespace"),
        ("smtp\x00.example.com", "control character"),
        ("-smtp.example.com", "not a host name"),
        ("smtp_1.example.com", "not a host name"),
        ("2130706433", "last label is a number"),
        ("127.1", "last label is a number"),
        ("1.2.3.4.5", "last label is a number"),
        (("a" * 60 + ".") * 5 + "com", "longer than 253"),
    ],
)
def test_host_names_that_are_refused(host: str, why: str) -> None:
    problem = host_problem(host)
    assert problem is not None and why in problem


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("192.168.1.1", "private"),
        ("172.16.0.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 (an address checked, not bound)
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
    ],
)
def test_addresses_that_are_refused(address: str, kind: str) -> None:
    assert address_problem(address) == kind


@pytest.mark.parametrize("address", ["8.8.8.8", "142.250.1.108", "2001:4860:4860::8888"])
def test_public_addresses(address: str) -> None:
    assert address_problem(address) is None


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0x7f000001", "::1", "[::1]"])
def test_every_spelling_of_loopback_is_refused_after_resolution(host: str) -> None:
    with pytest.raises(HostRefused, match="loopback"):
        resolve(host, 25, allow_private=False)
    with pytest.raises(HostRefused, match="loopback"):
        asyncio.run(resolve_async(host, 25, allow_private=False))


@pytest.mark.parametrize("host", ["2130706433", "0177.0.0.1", "127.1", "0x7f.1"])
def test_numeric_spellings_are_refused_before_resolution(host: str) -> None:
    with pytest.raises(HostRefused, match="not a host name"):
        resolve(host, 25, allow_private=True)


def test_private_hosts_when_allowed_resolve_to_the_address_connected_to() -> None:
    (target,) = resolve("127.0.0.1", 2525, allow_private=True)
    assert (target.host, target.address, target.port) == ("127.0.0.1", "127.0.0.1", 2525)
    assert {t.address for t in resolve("localhost", 25, allow_private=True)} <= {"127.0.0.1", "::1"}


def test_a_refusal_names_no_address() -> None:
    with pytest.raises(HostRefused) as refused:
        resolve("localhost", 25, allow_private=False)
    assert "127.0.0.1" not in str(refused.value)


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_ports_out_of_range_are_refused(port: int) -> None:
    with pytest.raises(HostRefused, match="port"):
        resolve("127.0.0.1", port, allow_private=True)


def test_a_name_that_does_not_resolve_is_a_network_error_not_a_refusal() -> None:
    with pytest.raises(OSError):
        resolve("no-such-host.invalid", 25, allow_private=False)
