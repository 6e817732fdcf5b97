"""The domain and server checks (issue 17): MX, SPF, DKIM, DMARC and DNSBL of a sending
domain; PTR (forward-confirmed) and DNSBL of an SMTP server's address.

Each check returns a `CheckResult`: `pass`, `warn`, `fail` (the DNS says something is
wrong), or `error` (the check could not be made: a timeout, SERVFAIL, a blacklist refusing
us). NXDOMAIN and "no such record" are answers, never errors.

SPF and DMARC records are read and validated by checkdmarc (one v=spf1 record, its syntax,
the 10-lookup limit; the DMARC tags); whether SPF passes for a server address is pyspf's
evaluation (the RFC 7208 reference implementation). Both are synchronous: they run in the
resolver's threads, on its synchronous face (same nameservers, lifetime and cache).

`check_all` runs every target with bounded concurrency; a target whose checks raise gets
`error` verdicts of its own and the others go on.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextvars
import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import checkdmarc.dmarc
import checkdmarc.spf
import checkdmarc.utils
import dns.exception
import dns.resolver
import dns.reversename
import spf
from cryptography.hazmat.primitives.serialization import load_der_public_key

from warmup.models import ReputationTarget, Verdict
from warmup.reputation.resolver import ANSWER, NXDOMAIN, DnsResolver
from warmup.reputation.results import ADDRESS_CHECKS, DOMAIN_CHECKS, CheckResult, TargetResult

if TYPE_CHECKING:
    from warmup_project.config import WarmupConfig

# Selectors tried on every domain besides those seen in its received mail: Google
# Workspace's and Microsoft 365's.
DEFAULT_DKIM_SELECTORS = ("google", "selector1", "selector2")

# Spamhaus answers in 127.255.255.0/24 say the query was refused, never that the target
# is listed (https://www.spamhaus.org/faqs/dnsbl-usage/#200).
DNSBL_REFUSALS = {
    "127.255.255.252": "typing error in the DNSBL name",
    "127.255.255.254": "query through a public or open resolver refused",
    "127.255.255.255": "excessive number of queries",
}
# Other answers that are not listings: Spamhaus DBL's "IP queries prohibited" and SURBL's
# "public resolver / over the free limit".
DNSBL_ZONE_REFUSALS = {
    ("dbl.spamhaus.org", "127.0.1.255"): "an IP address queried on a domain list",
    ("multi.surbl.org", "127.0.0.1"): "query refused (public resolver or over the free limit)",
}
SPAMHAUS_SUFFIX = ".spamhaus.org"

# SPF is evaluated for MAIL FROM postmaster@domain (the record of the domain itself).
_SPF_SENDER_LOCALPART = "postmaster"


@dataclass(frozen=True)
class Blacklists:
    """The DNSBL zones asked, by the names operators know (shown in `listed_on`); with a
    Spamhaus DQS key, Spamhaus's zones are asked through DQS instead (the key never shows)."""

    address_zones: tuple[str, ...] = ()
    domain_zones: tuple[str, ...] = ()
    spamhaus_dqs_key: str = ""

    @classmethod
    def from_config(cls, config: WarmupConfig) -> Blacklists:
        return cls(config.dnsbl_address_zones, config.dnsbl_domain_zones, config.spamhaus_dqs_key)

    def query_zone(self, zone: str) -> str:
        """zen.spamhaus.org → KEY.zen.dq.spamhaus.net with a DQS key."""
        if self.spamhaus_dqs_key and zone.endswith(SPAMHAUS_SUFFIX):
            return f"{self.spamhaus_dqs_key}.{zone.removesuffix(SPAMHAUS_SUFFIX)}.dq.spamhaus.net"
        return zone


@dataclass(frozen=True)
class DomainInput:
    """What the checks of one domain take besides its name: the DKIM selectors seen in
    its mail, and its mailboxes' outgoing server addresses (SPF must pass for them)."""

    selectors: tuple[str, ...] = ()
    server_addresses: tuple[str, ...] = ()


def _error(detail: str) -> CheckResult:
    return CheckResult(Verdict.ERROR, detail)


# --- MX ----------------------------------------------------------------------------------


async def check_mx(domain: str, resolver: DnsResolver) -> CheckResult:
    found = await resolver.lookup(domain, "MX")
    if found.failed:
        return _error(f"MX lookup: {found.error}")
    if found.status == NXDOMAIN:
        return CheckResult(Verdict.FAIL, f"{domain} does not exist (NXDOMAIN).")
    if found.status != ANSWER:
        return CheckResult(Verdict.FAIL, f"No MX record: {domain} cannot receive replies.")
    if any(r.endswith(" .") for r in found.records):
        return CheckResult(Verdict.FAIL, "Null MX (RFC 7505): the domain accepts no mail.")
    return CheckResult(Verdict.PASS, "MX " + ", ".join(sorted(found.records)))


# --- SPF ---------------------------------------------------------------------------------

# pyspf looks names up through its module-level `DNSLookup`, on dnspython's default
# resolver. `_pyspf_lookup` takes its place and asks the resolver of the run that set
# `_spf_resolver` (in the thread doing the evaluation), so SPF is evaluated against the
# configured nameservers, with their lifetime and cache; unset, pyspf's own.
_spf_resolver: contextvars.ContextVar[dns.resolver.Resolver | None] = contextvars.ContextVar(
    "spf_resolver", default=None
)
_pyspf_original_lookup = spf.DNSLookup


def _pyspf_lookup(name: str, qtype: str, *args: Any, **kwargs: Any) -> list[Any]:
    resolver = _spf_resolver.get()
    if resolver is None:
        return list(_pyspf_original_lookup(name, qtype, *args, **kwargs))
    found: list[Any] = []
    try:
        answer = resolver.resolve(name, qtype, search=False)
    except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
        return found
    except dns.exception.DNSException as error:
        raise spf.TempError(f"DNS {error}") from error
    for rdata in answer:
        if qtype in ("A", "AAAA"):
            found.append(((name, qtype), rdata.address))
        elif qtype == "MX":
            found.append(((name, qtype), (rdata.preference, rdata.exchange)))
        elif qtype == "PTR":
            found.append(((name, qtype), rdata.target.to_text(True)))
        elif qtype in ("TXT", "SPF"):
            found.append(((name, qtype), rdata.strings))
    return found


spf.DNSLookup = _pyspf_lookup


def _evaluate_spf(address: str, domain: str, resolver: dns.resolver.Resolver) -> tuple[str, str]:
    token = _spf_resolver.set(resolver)
    try:
        result, explanation = spf.check2(i=address, s=f"{_SPF_SENDER_LOCALPART}@{domain}", h=domain)
    finally:
        _spf_resolver.reset(token)
    return str(result), str(explanation)


def _read_spf(domain: str, resolver: DnsResolver) -> Any:
    return checkdmarc.spf.get_spf_record(
        domain, resolver=resolver.sync, timeout=resolver.timeout_s, retries=0
    )


async def check_spf(
    domain: str, resolver: DnsResolver, server_addresses: Sequence[str] = ()
) -> CheckResult:
    # Our own lookup first: it tells a timeout or SERVFAIL (error) from an absent record
    # (fail), which checkdmarc's exceptions blur; checkdmarc then reads it from the cache.
    txt = await resolver.lookup(domain, "TXT")
    if txt.failed:
        return _error(f"TXT lookup: {txt.error}")
    try:
        parsed = await resolver.run_sync(_read_spf, domain, resolver)
    except checkdmarc.spf.SPFRecordNotFound as missing:
        if isinstance(missing.error, dns.exception.DNSException) and not isinstance(
            missing.error, dns.resolver.NXDOMAIN | dns.resolver.NoAnswer
        ):
            return _error(f"SPF lookup: {missing}")
        return CheckResult(Verdict.FAIL, f"No SPF record (v=spf1): {missing}")
    except checkdmarc.spf.MultipleSPFRTXTRecords:
        return CheckResult(
            Verdict.FAIL, "More than one v=spf1 record: receivers treat that as a permanent error."
        )
    except checkdmarc.spf.SPFTooManyDNSLookups as error:
        return CheckResult(Verdict.FAIL, f"Too many DNS lookups (limit 10): {error}")
    except checkdmarc.spf.SPFError as error:
        return CheckResult(Verdict.FAIL, f"Invalid SPF record: {error}")
    record = parsed.get("record", "")
    lookups = parsed.get("dns_lookups", "?")
    warnings = [str(w) for w in parsed.get("warnings", [])]
    for address in server_addresses:
        result, explanation = await resolver.run_sync(_evaluate_spf, address, domain, resolver.sync)
        if result == "temperror":
            return _error(f"SPF for {address}: {explanation}")
        if result != "pass":
            return CheckResult(
                Verdict.FAIL,
                f"SPF gives {result} for the server address {address} (record {record!r}): "
                f"add it to the record, e.g. ip{ipaddress.ip_address(address).version}:{address}.",
            )
    detail = f"{record} ({lookups} DNS lookups"
    if server_addresses:
        detail += "; passes for " + ", ".join(server_addresses)
    detail += ")"
    if warnings:
        return CheckResult(Verdict.WARN, detail + ". " + " ".join(warnings))
    return CheckResult(Verdict.PASS, detail)


# --- DMARC -------------------------------------------------------------------------------


def _read_dmarc(domain: str, resolver: DnsResolver) -> Any:
    return checkdmarc.dmarc.get_dmarc_record(
        domain, resolver=resolver.sync, timeout=resolver.timeout_s, retries=0
    )


async def check_dmarc(domain: str, resolver: DnsResolver) -> CheckResult:
    txt = await resolver.lookup(f"_dmarc.{domain}", "TXT")
    if txt.failed:
        return _error(f"_dmarc TXT lookup: {txt.error}")
    try:
        found = await resolver.run_sync(_read_dmarc, domain, resolver)
    except checkdmarc.dmarc.DMARCRecordNotFound as missing:
        text = str(missing)
        if "timed out" in text or "SERVFAIL" in text or "lifetime expired" in text:
            return _error(f"DMARC lookup: {text}")
        return CheckResult(Verdict.FAIL, f"No DMARC record at _dmarc.{domain}: {text}")
    except checkdmarc.dmarc.DMARCError as error:
        return CheckResult(Verdict.FAIL, f"Malformed DMARC record at _dmarc.{domain}: {error}")
    tags = found["parsed"]["tags"]

    def tag(name: str) -> Any:
        return tags.get(name, {}).get("value")

    policy = tag("p")
    shown = (
        f"p={policy}, adkim={tag('adkim') or 'r'}, aspf={tag('aspf') or 'r'}"
        + (f", pct={tag('pct')}" if tag("pct") not in (None, 100) else "")
        + (f" (at {found['location']})" if found["location"] != domain else "")
    )
    rua = tag("rua") or []
    if policy == "none":
        return CheckResult(
            Verdict.WARN,
            f"{shown}: policy none asks receivers to do nothing with mail that fails; "
            "move to quarantine or reject once reports are clean.",
        )
    if not rua:
        return CheckResult(Verdict.WARN, f"{shown}: no rua, so no aggregate reports reach you.")
    return CheckResult(Verdict.PASS, shown)


# --- DKIM --------------------------------------------------------------------------------


def dkim_key_problem(record: str) -> str | None:
    """None when `record` is a usable DKIM key record (RFC 6376 3.6.1), else what is wrong."""
    tags = {}
    for part in record.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags[name.strip()] = "".join(value.split())
    if tags.get("v", "DKIM1") != "DKIM1":
        return f"v={tags['v']} is not DKIM1"
    key = tags.get("p")
    if key is None:
        return "no p= tag"
    if key == "":
        return "p= is empty: the key is revoked"
    try:
        der = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        return "p= is not base64"
    if tags.get("k", "rsa") == "ed25519":
        return None if len(der) == 32 else "p= is not a 32-byte Ed25519 key"
    try:
        load_der_public_key(der)
    except (ValueError, TypeError):
        return "p= is not a public key"
    return None


async def check_dkim(
    domain: str, resolver: DnsResolver, selectors: Iterable[str] = ()
) -> CheckResult:
    wanted = list(dict.fromkeys([*selectors, *DEFAULT_DKIM_SELECTORS]))
    found = await asyncio.gather(
        *(resolver.lookup(f"{s}._domainkey.{domain}", "TXT") for s in wanted)
    )
    valid: list[str] = []
    broken: list[str] = []
    errors: list[str] = []
    missing: list[str] = []
    for selector, lookup in zip(wanted, found, strict=True):
        if lookup.failed:
            errors.append(f"{selector}: {lookup.error}")
            continue
        if lookup.status != ANSWER:
            missing.append(selector)
            continue
        problems = [dkim_key_problem(r) for r in lookup.records]
        if None in problems:
            valid.append(selector)
        else:
            broken.append(f"{selector}: {'; '.join(p for p in problems if p)}")
    if valid:
        detail = "Key found for " + ", ".join(valid)
        if broken:
            detail += "; broken: " + ", ".join(broken)
        return CheckResult(Verdict.PASS, detail + ". No key: " + (", ".join(missing) or "—"))
    if errors:
        return _error("DKIM lookups failed: " + "; ".join(errors))
    detail = f"No DKIM key at {', '.join(wanted)} (selector._domainkey.{domain})"
    if broken:
        detail += "; broken: " + ", ".join(broken)
    return CheckResult(Verdict.FAIL, detail + ".")


# --- DNSBL -------------------------------------------------------------------------------


def dnsbl_name(target: str) -> str:
    """The label a DNSBL is asked under: reversed octets (IPv4) or nibbles (IPv6) for an
    address, the name itself for a domain."""
    try:
        address = ipaddress.ip_address(target)
    except ValueError:
        return target.rstrip(".").lower()
    return (
        dns.reversename.from_address(str(address))
        .to_text(omit_final_dot=True)
        .rsplit(".in-addr.arpa" if address.version == 4 else ".ip6.arpa", 1)[0]
    )


async def check_dnsbl(
    target: str, zones: Sequence[str], resolver: DnsResolver, blacklists: Blacklists
) -> CheckResult:
    if not zones:
        return CheckResult(Verdict.PASS, "No blacklist configured.")
    label = dnsbl_name(target)
    found = await asyncio.gather(
        *(resolver.lookup(f"{label}.{blacklists.query_zone(z)}", "A") for z in zones)
    )
    listed: list[str] = []
    shown: list[str] = []
    errors: list[str] = []
    for zone, lookup in zip(zones, found, strict=True):
        if lookup.failed:
            errors.append(f"{zone}: {lookup.error}")
            continue
        if lookup.status != ANSWER:
            continue  # NXDOMAIN (or no A record): not listed
        refusals = [
            DNSBL_REFUSALS.get(a) or DNSBL_ZONE_REFUSALS.get((zone, a)) for a in lookup.records
        ]
        if any(refusals):
            meaning = next(r for r in refusals if r)
            errors.append(f"{zone} answered {', '.join(lookup.records)}: {meaning}")
        elif all(
            ipaddress.ip_address(a) in ipaddress.ip_network("127.0.0.0/8") for a in lookup.records
        ):
            listed.append(zone)
            shown.append(f"{zone} ({', '.join(sorted(lookup.records))})")
        else:
            errors.append(f"{zone} answered {', '.join(lookup.records)}: not a DNSBL answer")
    if listed:
        return CheckResult(
            Verdict.FAIL,
            "Listed on "
            + ", ".join(shown)
            + (". Not checked: " + "; ".join(errors) if errors else ""),
            listed_on=tuple(listed),
        )
    if errors:
        return _error("; ".join(errors))
    return CheckResult(Verdict.PASS, f"Not listed on {', '.join(zones)}.")


# --- PTR ---------------------------------------------------------------------------------


async def check_ptr(address: str, resolver: DnsResolver) -> CheckResult:
    ip = ipaddress.ip_address(address)
    reverse = dns.reversename.from_address(str(ip)).to_text(omit_final_dot=True)
    ptr = await resolver.lookup(reverse, "PTR")
    if ptr.failed:
        return _error(f"PTR lookup: {ptr.error}")
    if ptr.status != ANSWER:
        return CheckResult(
            Verdict.FAIL, f"No PTR record for {address}: ask the server's host to set one."
        )
    family = "A" if ip.version == 4 else "AAAA"
    forward = await asyncio.gather(*(resolver.lookup(name, family) for name in ptr.records))
    for name, lookup in zip(ptr.records, forward, strict=True):
        if lookup.status == ANSWER and any(ipaddress.ip_address(a) == ip for a in lookup.records):
            return CheckResult(Verdict.PASS, f"PTR {name}, which resolves back to {address}.")
    errors = [f"{n}: {lk.error}" for n, lk in zip(ptr.records, forward, strict=True) if lk.failed]
    if errors:
        return _error("Forward lookup of the PTR name: " + "; ".join(errors))
    seen = ", ".join(
        f"{n} → {', '.join(lk.records) or lk.status}"
        for n, lk in zip(ptr.records, forward, strict=True)
    )
    return CheckResult(
        Verdict.FAIL,
        f"PTR is not forward-confirmed: {seen}, not {address}. Give the PTR name an "
        f"{family} record of {address}.",
    )


# --- Targets -----------------------------------------------------------------------------


async def check_domain(
    domain: str,
    *,
    resolver: DnsResolver,
    selectors: Sequence[str] = (),
    server_addresses: Sequence[str] = (),
    blacklists: Blacklists | None = None,
) -> TargetResult:
    domain = domain.rstrip(".").lower()
    blacklists = blacklists or Blacklists()
    mx, spf_result, dkim, dmarc, dnsbl = await asyncio.gather(
        check_mx(domain, resolver),
        check_spf(domain, resolver, server_addresses),
        check_dkim(domain, resolver, selectors),
        check_dmarc(domain, resolver),
        check_dnsbl(domain, blacklists.domain_zones, resolver, blacklists),
    )
    return TargetResult(
        ReputationTarget.DOMAIN,
        domain,
        {"mx": mx, "spf": spf_result, "dkim": dkim, "dmarc": dmarc, "dnsbl": dnsbl},
    )


async def check_address(
    address: str, *, resolver: DnsResolver, blacklists: Blacklists | None = None
) -> TargetResult:
    address = str(ipaddress.ip_address(address))
    blacklists = blacklists or Blacklists()
    ptr, dnsbl = await asyncio.gather(
        check_ptr(address, resolver),
        check_dnsbl(address, blacklists.address_zones, resolver, blacklists),
    )
    return TargetResult(ReputationTarget.ADDRESS, address, {"ptr": ptr, "dnsbl": dnsbl})


def _failed_target(kind: str, name: str, error: BaseException) -> TargetResult:
    names = DOMAIN_CHECKS if kind == ReputationTarget.DOMAIN else ADDRESS_CHECKS
    reason = (
        "the checks took too long"
        if isinstance(error, TimeoutError)
        else f"{type(error).__name__}: {error}"
    )
    return TargetResult(kind, name, {n: _error(f"Not checked: {reason}") for n in names})


async def check_all(
    domains: Mapping[str, DomainInput],
    addresses: Sequence[str],
    config: WarmupConfig,
    *,
    resolver: DnsResolver | None = None,
    blacklists: Blacklists | None = None,
    on_result: Callable[[TargetResult], None] | None = None,
) -> list[TargetResult]:
    """Every domain, then every address, in the order given (`on_result` hears of each as
    it is done, for progress). At most
    WARMUP_DNS_CONCURRENCY targets are checked at once (and as many lookups are in
    flight); one target's failure or slowness becomes its own `error` verdicts."""
    own_resolver = resolver is None
    resolver = resolver or DnsResolver.from_config(config)
    blacklists = blacklists or Blacklists.from_config(config)
    # checkdmarc keeps its answers for 30 minutes in a process-wide cache of its own; a run
    # (an operator's "check again" after fixing a record) must see the DNS as it is now.
    # Within the run, the resolver's TTL cache does the caching.
    checkdmarc.utils.DNS_CACHE.clear()
    targets = asyncio.Semaphore(config.dns_concurrency)
    # A target's checks make a bounded number of lookups, each within the lifetime; this
    # bounds the whole, counted from when the target starts (not while it queues).
    deadline = resolver.timeout_s * 12

    async def one(kind: str, name: str, check: Any) -> TargetResult:
        async with targets:
            try:
                result: TargetResult = await asyncio.wait_for(check(), deadline)
            except Exception as error:  # any failure is this target's, never the run's
                result = _failed_target(kind, name, error)
        if on_result is not None:
            on_result(result)
        return result

    jobs = [
        one(
            ReputationTarget.DOMAIN,
            domain,
            lambda d=domain, i=given: check_domain(
                d,
                resolver=resolver,
                selectors=i.selectors,
                server_addresses=i.server_addresses,
                blacklists=blacklists,
            ),
        )
        for domain, given in domains.items()
    ] + [
        one(
            ReputationTarget.ADDRESS,
            address,
            lambda a=address: check_address(a, resolver=resolver, blacklists=blacklists),
        )
        for address in addresses
    ]
    try:
        return list(await asyncio.gather(*jobs))
    finally:
        if own_resolver:
            resolver.close()
