"""The domain and server checks against a real authoritative DNS server on loopback
(tests/dns_server.py), the checker pointed at it through WARMUP_DNS_RESOLVERS' shape."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import dns.reversename
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import CommandError, call_command

from tests.dns_server import TestDNSServer, ZoneResolver, point_at
from warmup.reputation import checks
from warmup.reputation.checks import (
    Blacklists,
    DomainInput,
    check_address,
    check_domain,
    dnsbl_name,
)
from warmup.reputation.resolver import ANSWER, ERROR, NODATA, NXDOMAIN, DnsResolver
from warmup.reputation.results import ADDRESS_CHECKS, DOMAIN_CHECKS
from warmup_project import config


def txt(text: str) -> str:
    """A TXT record's data as zone text, in strings of at most 255 bytes."""
    return " ".join(f'"{text[i : i + 200]}"' for i in range(0, len(text), 200))


def dkim_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def reverse(address: str) -> str:
    return dns.reversename.from_address(address).to_text(omit_final_dot=True)


KEY = dkim_key()
DQS_KEY = "abcdefghij0123456789abcdef"
INCLUDES = " ".join(f"include:i{n}.lookups.test" for n in range(11))

ZONE = (
    f"""
good.test.                 300 IN MX  10 mx.good.test.
mx.good.test.              300 IN A   192.0.2.10
good.test.                 300 IN TXT "v=spf1 ip4:192.0.2.0/25 -all"
good.test.                 300 IN TXT "google-site-verification=abc123"
_dmarc.good.test.          300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@good.test"
google._domainkey.good.test. 300 IN TXT {txt("v=DKIM1; k=rsa; p=" + KEY)}
s2026._domainkey.good.test. 300 IN TXT {txt("v=DKIM1; k=rsa; p=" + KEY)}

nothing.test.              300 IN A   192.0.2.50

dup.test.                  300 IN MX  10 mx.good.test.
dup.test.                  300 IN TXT "v=spf1 ip4:192.0.2.10 -all"
dup.test.                  300 IN TXT "v=spf1 include:good.test -all"
_dmarc.dup.test.           300 IN TXT "v=DMARC1; p=none; rua=mailto:dmarc@good.test"
selector1._domainkey.dup.test. 300 IN TXT "v=DKIM1; p=not*base64!"

invalid.test.              300 IN MX  10 mx.good.test.
invalid.test.              300 IN TXT "v=spf1 ip4:192.0.2.300 frobnicate:x -all"
_dmarc.invalid.test.       300 IN TXT "v=DMARC1; p=sometimes; rua=mailto:dmarc@good.test"

lookups.test.              300 IN MX  10 mx.good.test.
lookups.test.              300 IN TXT {txt(f"v=spf1 {INCLUDES} -all")}
_dmarc.lookups.test.       300 IN TXT "v=DMARC1; p=quarantine"
"""
    + "\n".join(
        f'i{n}.lookups.test. 300 IN TXT "v=spf1 ip4:198.51.100.{n} -all"' for n in range(11)
    )
    + f"""
10.2.0.192.in-addr.arpa.   300 IN PTR mx.good.test.
20.2.0.192.in-addr.arpa.   300 IN PTR liar.good.test.
liar.good.test.            300 IN A   192.0.2.99

66.2.0.192.zen.spamhaus.org. 300 IN A 127.0.0.2
66.2.0.192.zen.spamhaus.org. 300 IN A 127.0.0.4
77.2.0.192.zen.spamhaus.org. 300 IN A 127.255.255.254
listed.test.dbl.spamhaus.org. 300 IN A 127.0.1.2
10.2.0.192.abcdefghij0123456789abcdef.zen.dq.spamhaus.net. 300 IN A 127.0.0.3

short.test.                1 IN TXT "v=spf1 -all"
mx6.good.test.             300 IN AAAA 2001:db8::25
{reverse("2001:db8::25")}. 300 IN PTR mx6.good.test.
{dnsbl_name("2001:db8::66")}.zen.spamhaus.org. 300 IN A 127.0.0.2
"""
)


@pytest.fixture(scope="module")
def dns_server():
    zone = ZoneResolver(
        ZONE,
        servfail=("broken.test", "_dmarc.broken.test"),
        silent=("silent.test", "_dmarc.silent.test"),
        slow=tuple(f"slow{n}.test" for n in range(12)),
    )
    server = TestDNSServer(zone).start()
    yield server
    server.stop()


@pytest.fixture
def resolver(dns_server):
    parsed = config.parse_nameserver(dns_server.nameserver)
    assert parsed is not None
    made = DnsResolver([parsed], timeout_s=1, concurrency=10)
    yield made
    made.close()


BLACKLISTS = Blacklists(address_zones=("zen.spamhaus.org",), domain_zones=("dbl.spamhaus.org",))


def domain(name, resolver, **kwargs):
    return asyncio.run(check_domain(name, resolver=resolver, blacklists=BLACKLISTS, **kwargs))


def address(ip, resolver, blacklists=BLACKLISTS):
    return asyncio.run(check_address(ip, resolver=resolver, blacklists=blacklists))


def verdicts(result):
    return {name: check.verdict for name, check in result.checks.items()}


# --- The resolver ----------------------------------------------------------------------


def test_lookups_tell_answers_nxdomain_nodata_and_errors_apart(resolver):
    async def run():
        return await asyncio.gather(
            resolver.lookup("good.test", "MX"),
            resolver.lookup("absent.test", "MX"),
            resolver.lookup("nothing.test", "MX"),
            resolver.lookup("broken.test", "MX"),
            resolver.lookup("silent.test", "MX"),
        )

    answer, nxdomain, nodata, servfail, timeout = asyncio.run(run())
    assert (answer.status, answer.records, answer.ttl) == (ANSWER, ("10 mx.good.test",), 300)
    assert nxdomain.status == NXDOMAIN
    assert nodata.status == NODATA
    assert servfail.status == ERROR and "SERVFAIL" in servfail.error
    assert timeout.status == ERROR and "timeout" in timeout.error


def test_answers_are_cached_for_their_ttl(dns_server, resolver):
    async def ask():
        return await resolver.lookup("short.test", "TXT")

    before = dns_server.queries
    asyncio.run(ask())
    asyncio.run(ask())
    assert dns_server.queries == before + 1  # the second came from the cache
    time.sleep(1.1)  # the record's TTL is 1 s
    asyncio.run(ask())
    assert dns_server.queries == before + 2


def test_concurrency_is_bounded(dns_server):
    bounded = DnsResolver([("127.0.0.1", dns_server.port)], timeout_s=5, concurrency=3)
    dns_server.resolver.most_in_flight = 0

    async def run():
        return await asyncio.gather(*(bounded.lookup(f"slow{n}.test", "A") for n in range(12)))

    found = asyncio.run(run())
    bounded.close()
    assert {f.status for f in found} == {NXDOMAIN}
    assert dns_server.resolver.most_in_flight == 3


# --- MX, SPF, DMARC, DKIM --------------------------------------------------------------


def test_a_good_domain_passes_every_check(resolver):
    result = domain("good.test", resolver, server_addresses=["192.0.2.10"])
    assert verdicts(result) == dict.fromkeys(DOMAIN_CHECKS, "pass")
    assert "passes for 192.0.2.10" in result.checks["spf"].detail
    assert "google" in result.checks["dkim"].detail
    assert "p=reject" in result.checks["dmarc"].detail
    assert list(result.as_json()) == ["domain", "checks"]
    assert list(result.as_json()["checks"]) == list(DOMAIN_CHECKS)


def test_missing_records_fail(resolver):
    result = domain("nothing.test", resolver)
    assert verdicts(result) == {
        "mx": "fail",
        "spf": "fail",
        "dkim": "fail",
        "dmarc": "fail",
        "dnsbl": "pass",
    }
    assert "No SPF record" in result.checks["spf"].detail
    assert "No DMARC record" in result.checks["dmarc"].detail
    assert "google, selector1, selector2" in result.checks["dkim"].detail


def test_a_domain_that_does_not_exist_fails(resolver):
    result = domain("absent.test", resolver)
    assert result.checks["mx"].verdict == "fail"
    assert "NXDOMAIN" in result.checks["mx"].detail


def test_two_spf_records_fail(resolver):
    result = domain("dup.test", resolver)
    assert result.checks["spf"].verdict == "fail"
    assert "More than one v=spf1" in result.checks["spf"].detail


def test_invalid_spf_fails(resolver):
    check = domain("invalid.test", resolver).checks["spf"]
    assert check.verdict == "fail"
    assert check.detail.startswith("Invalid SPF record")


def test_spf_with_more_than_ten_lookups_fails(resolver):
    check = domain("lookups.test", resolver).checks["spf"]
    assert check.verdict == "fail"
    assert "Too many DNS lookups" in check.detail


def test_spf_must_pass_for_the_mailboxes_server_address(resolver):
    check = domain("good.test", resolver, server_addresses=["192.0.2.10", "192.0.2.200"]).checks[
        "spf"
    ]
    assert check.verdict == "fail"
    assert "192.0.2.200" in check.detail and "fail" in check.detail


def test_dmarc_policy_none_and_missing_rua_are_warnings(resolver):
    none = domain("dup.test", resolver).checks["dmarc"]
    assert none.verdict == "warn" and "policy none" in none.detail
    no_rua = domain("lookups.test", resolver).checks["dmarc"]
    assert no_rua.verdict == "warn" and "no rua" in no_rua.detail


def test_malformed_dmarc_fails(resolver):
    check = domain("invalid.test", resolver).checks["dmarc"]
    assert check.verdict == "fail"
    assert check.detail.startswith("Malformed DMARC record")


def test_dkim_key_of_a_seen_selector(resolver):
    check = domain("good.test", resolver, selectors=["s2026"]).checks["dkim"]
    assert check.verdict == "pass"
    assert "s2026" in check.detail.split(".")[0]


def test_dkim_key_that_is_not_a_key_fails(resolver):
    check = domain("dup.test", resolver).checks["dkim"]
    assert check.verdict == "fail"
    assert "selector1: p= is not base64" in check.detail


def test_dkim_record_reading():
    assert checks.dkim_key_problem(f"v=DKIM1; k=rsa; p={KEY}") is None
    assert checks.dkim_key_problem(f"p={KEY}") is None  # v= is optional
    assert checks.dkim_key_problem("v=DKIM1; p=") == "p= is empty: the key is revoked"
    assert checks.dkim_key_problem("v=DKIM1; k=rsa") == "no p= tag"
    assert checks.dkim_key_problem("v=DKIM1; p=" + base64.b64encode(b"x" * 40).decode()) == (
        "p= is not a public key"
    )


def test_servfail_and_timeouts_are_errors_not_failures(resolver):
    for name in ("broken.test", "silent.test"):
        result = domain(name, resolver)
        for check in ("mx", "spf", "dmarc"):
            assert result.checks[check].verdict == "error", (name, check, result.checks[check])


# --- PTR and DNSBL ---------------------------------------------------------------------


def test_ptr_forward_confirmed_passes(resolver):
    check = address("192.0.2.10", resolver).checks["ptr"]
    assert check.verdict == "pass"
    assert "mx.good.test" in check.detail


def test_ptr_not_forward_confirmed_fails(resolver):
    check = address("192.0.2.20", resolver).checks["ptr"]
    assert check.verdict == "fail"
    assert "liar.good.test → 192.0.2.99" in check.detail


def test_no_ptr_fails(resolver):
    assert address("192.0.2.30", resolver).checks["ptr"].verdict == "fail"


def test_ipv6_address_ptr_and_dnsbl(resolver):
    good = address("2001:db8::25", resolver)
    assert verdicts(good) == {"ptr": "pass", "dnsbl": "pass"}
    listed = address("2001:db8::66", resolver).checks["dnsbl"]
    assert listed.verdict == "fail" and listed.listed_on == ("zen.spamhaus.org",)


def test_dnsbl_lists_an_address_and_a_domain(resolver):
    listed = address("192.0.2.66", resolver).checks["dnsbl"]
    assert listed.verdict == "fail"
    assert listed.listed_on == ("zen.spamhaus.org",)
    assert "127.0.0.2, 127.0.0.4" in listed.detail
    assert listed.as_json()["listed_on"] == ["zen.spamhaus.org"]
    domain_listed = domain("listed.test", resolver).checks["dnsbl"]
    assert domain_listed.verdict == "fail"
    assert domain_listed.listed_on == ("dbl.spamhaus.org",)
    assert address("192.0.2.10", resolver).checks["dnsbl"].verdict == "pass"


def test_spamhaus_refusal_is_an_error_not_a_listing(resolver):
    check = address("192.0.2.77", resolver).checks["dnsbl"]
    assert check.verdict == "error"
    assert check.listed_on == ()
    assert "public or open resolver" in check.detail


def test_spamhaus_dqs_key_asks_the_dqs_zones(resolver):
    with_key = Blacklists(address_zones=("zen.spamhaus.org",), spamhaus_dqs_key=DQS_KEY)
    check = address("192.0.2.10", resolver, with_key).checks["dnsbl"]
    # Listed in the DQS zone only: the key's zone was asked, under the name operators know.
    assert check.verdict == "fail"
    assert check.listed_on == ("zen.spamhaus.org",)
    assert DQS_KEY not in check.detail
    assert with_key.query_zone("bl.spamcop.net") == "bl.spamcop.net"


def test_dnsbl_names():
    assert checks.dnsbl_name("192.0.2.66") == "66.2.0.192"
    assert checks.dnsbl_name("2001:db8::1") == ".".join(reversed("20010db8" + "0" * 23 + "1"))
    assert checks.dnsbl_name("Example.TEST.") == "example.test"


# --- A whole run -----------------------------------------------------------------------


def test_one_targets_failure_holds_up_no_other(dns_server):
    warmup = config.load(
        {"WARMUP_DNS_RESOLVERS": dns_server.nameserver, "WARMUP_DNS_TIMEOUT_S": "1"}
    ).warmup
    results = asyncio.run(
        checks.check_all(
            {"silent.test": DomainInput(), "good.test": DomainInput(selectors=("s2026",))},
            ["192.0.2.10", "not-an-address"],
            warmup,
            blacklists=BLACKLISTS,
        )
    )
    by_name = {r.name: r for r in results}
    assert [r.name for r in results] == ["silent.test", "good.test", "192.0.2.10", "not-an-address"]
    assert verdicts(by_name["good.test"]) == dict.fromkeys(DOMAIN_CHECKS, "pass")
    assert verdicts(by_name["192.0.2.10"]) == dict.fromkeys(ADDRESS_CHECKS, "pass")
    assert by_name["silent.test"].checks["mx"].verdict == "error"
    assert verdicts(by_name["not-an-address"]) == dict.fromkeys(ADDRESS_CHECKS, "error")
    assert "Not checked: ValueError" in by_name["not-an-address"].checks["ptr"].detail


# --- manage.py check_domains -----------------------------------------------------------


@pytest.fixture
def dns_settings(settings, dns_server):
    point_at(
        dns_server,
        settings,
        address_zones=("zen.spamhaus.org",),
        domain_zones=("dbl.spamhaus.org",),
    )
    return settings


@pytest.mark.django_db
def test_check_domains_json_prints_one_object_per_target(dns_settings, make_mailbox, capsys):
    make_mailbox(email="a@good.test", smtp_host="mx.good.test", provider="other")
    make_mailbox(email="b@good.test", smtp_host="mx.good.test", provider="other")
    make_mailbox(email="c@dup.test", smtp_host="smtp.gmail.com", provider="gmail")
    make_mailbox(email="d@nothing.test", warmup_enabled=False)
    call_command("check_domains", "--json", "--no-record")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line.get("domain") or line.get("address") for line in lines] == [
        "dup.test",
        "good.test",
        "192.0.2.10",
    ]
    good = lines[1]
    assert set(good) == {"domain", "checks"}
    assert list(good["checks"]) == list(DOMAIN_CHECKS)
    assert good["checks"]["spf"]["verdict"] == "pass"
    assert "passes for 192.0.2.10" in good["checks"]["spf"]["detail"]
    assert lines[2] == {
        "address": "192.0.2.10",
        "checks": {
            "ptr": {"verdict": "pass", "detail": lines[2]["checks"]["ptr"]["detail"]},
            "dnsbl": {"verdict": "pass", "detail": "Not listed on zen.spamhaus.org."},
        },
    }


@pytest.mark.django_db
def test_check_domains_one_domain_without_mailboxes(dns_settings, capsys):
    call_command("check_domains", "--domain", "Lookups.Test", "--no-record")
    out = capsys.readouterr()
    assert "lookups.test" in out.out
    assert "spf" in out.out and "fail" in out.out
    assert "Too many DNS lookups" in out.out


@pytest.mark.django_db
def test_check_domains_refuses_what_is_not_a_domain(dns_settings):
    with pytest.raises(CommandError, match="not a domain name"):
        call_command("check_domains", "--domain", "not a domain", "--no-record")


@pytest.mark.django_db
def test_check_domains_table_shows_progress_on_stderr(dns_settings, make_mailbox, capsys):
    make_mailbox(email="a@good.test", smtp_host="mx.good.test", provider="other")
    call_command("check_domains", "--no-record")
    out = capsys.readouterr()
    assert out.out.splitlines()[0] == "good.test"
    assert out.out.splitlines()[1].split()[:2] == ["mx", "pass"]
    assert "\r1 targets checked" in out.err and "\r2 targets checked" in out.err
    assert out.err.endswith("\n")


@pytest.mark.django_db
def test_the_selectors_engagement_saw_are_the_ones_checked(dns_settings, capsys):
    """s2026 is no provider's usual selector: found only because the domain's target
    says engagement saw it signing (ReputationTarget.dkim_selectors)."""
    from warmup.models import ReputationTarget
    from warmup.reputation.targets import seen_selectors

    call_command("check_domains", "--domain", "good.test", "--json", "--no-record")
    before = json.loads(capsys.readouterr().out.splitlines()[0])["checks"]["dkim"]["detail"]
    ReputationTarget.objects.create(kind="domain", name="good.test", dkim_selectors=["s2026"])
    assert seen_selectors(["good.test", "other.test"]) == {"good.test": ("s2026",)}
    call_command("check_domains", "--domain", "good.test", "--json", "--no-record")
    after = json.loads(capsys.readouterr().out.splitlines()[0])["checks"]["dkim"]["detail"]
    assert "s2026" not in before and "s2026" in after
