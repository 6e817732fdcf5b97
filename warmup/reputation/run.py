"""One run of the checks, the same for the daily task, `manage.py check_domains`, the API's
and the admin's "check now": find the targets, check them, record the results and act on
them (warmup.reputation.state)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
from collections.abc import Callable

from django.conf import settings

from warmup.reputation.checks import DomainInput, check_all
from warmup.reputation.resolver import DnsResolver
from warmup.reputation.results import TargetResult
from warmup.reputation.state import act, record
from warmup.reputation.targets import build_targets, seen_selectors, sending_mailboxes


def check(
    now: dt.datetime,
    *,
    domain: str | None = None,
    on_result: Callable[[TargetResult], None] | None = None,
    keep: bool = True,
) -> list[TargetResult]:
    """Check every sending domain and self-hosted server address (or `domain` alone, and
    none of the addresses), then, with `keep`, record the results and act on them."""
    results, hosts = asyncio.run(_check(sending_mailboxes(domain), domain, on_result))
    if keep:
        record(results, now, hosts=hosts)
        act(now, dt.timedelta(hours=settings.WARMUP.dns_grace_hours))
    return results


def check_now(name: str, now: dt.datetime) -> list[TargetResult]:
    """The API's and the admin's "check now" of one target: a domain (with its
    mailboxes' servers for SPF), or a server address alone; recorded and acted on."""
    try:
        address = str(ipaddress.ip_address(name))
    except ValueError:
        return check(now, domain=name)
    results = asyncio.run(_check_address(address))
    record(results, now)
    act(now, dt.timedelta(hours=settings.WARMUP.dns_grace_hours))
    return results


async def _check_address(address: str) -> list[TargetResult]:
    resolver = DnsResolver.from_config(settings.WARMUP)
    try:
        return await check_all({}, [address], settings.WARMUP, resolver=resolver)
    finally:
        resolver.close()


async def _check(
    mailboxes: list[tuple[str, str]],
    domain: str | None,
    on_result: Callable[[TargetResult], None] | None,
) -> tuple[list[TargetResult], dict[str, set[str]]]:
    config = settings.WARMUP
    resolver = DnsResolver.from_config(config)
    try:
        domains, addresses = await build_targets(mailboxes, resolver)
        if domain is not None:  # that domain only: its servers' addresses serve SPF
            given = domains.get(domain, DomainInput(selectors=tuple(seen_selectors(domain))))
            domains, addresses = {domain: given}, {}
        results = await check_all(
            domains, list(addresses), config, resolver=resolver, on_result=on_result
        )
        return results, addresses
    finally:
        resolver.close()
