"""What the daily checks look at: every sending domain (the distinct email domains of
warmup-enabled mailboxes) and the SMTP server addresses of self-hosted mailboxes (those
not at a big provider, whose servers are the provider's business), with what each
domain's checks need: the DKIM selectors seen in its mail and its servers' addresses
(SPF must pass for them)."""

from __future__ import annotations

import asyncio
import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Mapping

from accounts.models import TOKEN_METHODS, Mailbox, email_domain
from warmup.models import ReputationTarget
from warmup.reputation.checks import DomainInput
from warmup.reputation.resolver import ANSWER, DnsResolver

# Providers that run their own sending servers (PTR, blacklists and SPF are theirs).
HOSTED_PROVIDERS = ("gmail", "outlook", "yahoo", "zoho", "icloud")


def seen_selectors(domains: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The DKIM selectors (s=) seen in the DKIM-Signature of each domain's received warmup
    mail, as engagement keeps them on the domain's target (ReputationTarget.dkim_selectors),
    in one query; the DKIM check adds the providers' usual ones."""
    found = ReputationTarget.objects.filter(
        kind=ReputationTarget.DOMAIN, name__in=list(domains)
    ).values_list("name", "dkim_selectors")
    return {name: tuple(str(s) for s in selectors or ()) for name, selectors in found}


def sending_mailboxes(domain: str | None = None) -> list[tuple[str, str]]:
    """(email domain, SMTP host or "" when not self-hosted) of every warmup-enabled
    mailbox (of `domain` only, when given)."""
    rows = Mailbox.objects.filter(warmup_enabled=True)
    if domain is not None:
        rows = rows.filter(email__iendswith=f"@{domain}")
    found = []
    for email, provider, method, smtp_host in rows.values_list(
        "email", "provider", "auth_method", "smtp_host"
    ).iterator():
        self_hosted = provider not in HOSTED_PROVIDERS and method not in TOKEN_METHODS
        found.append((email_domain(email), smtp_host.strip().lower() if self_hosted else ""))
    return found


async def _addresses_of(host: str, resolver: DnsResolver) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    found = await asyncio.gather(resolver.lookup(host, "A"), resolver.lookup(host, "AAAA"))
    return [address for lookup in found if lookup.status == ANSWER for address in lookup.records]


async def build_targets(
    mailboxes: Iterable[tuple[str, str]],
    resolver: DnsResolver,
    selectors: Mapping[str, tuple[str, ...]],
) -> tuple[dict[str, DomainInput], dict[str, set[str]]]:
    """The domain inputs (sorted by domain), and the server addresses to check (sorted)
    with the SMTP host names that resolve to each (how a listing finds its mailboxes)."""
    hosts_of: dict[str, set[str]] = defaultdict(set)
    for domain, smtp_host in mailboxes:
        hosts = hosts_of[domain]  # the domain is checked even with no self-hosted server
        if smtp_host:
            hosts.add(smtp_host)
    all_hosts = sorted({h for hs in hosts_of.values() for h in hs})
    resolved = dict(
        zip(
            all_hosts,
            await asyncio.gather(*(_addresses_of(h, resolver) for h in all_hosts)),
            strict=True,
        )
    )
    domains = {
        domain: DomainInput(
            selectors=selectors.get(domain, ()),
            server_addresses=tuple(sorted({a for h in hosts_of[domain] for a in resolved[h]})),
        )
        for domain in sorted(hosts_of)
    }
    addresses: dict[str, set[str]] = defaultdict(set)
    for host, found in resolved.items():
        for address in found:
            addresses[address].add(host)
    return domains, {address: addresses[address] for address in sorted(addresses)}
