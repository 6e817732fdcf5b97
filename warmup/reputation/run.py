"""One run of the checks, the same for the scheduled task, `manage.py check_domains`, the
API's and the admin's "check now": find the targets, check them, record the results and
act on them (warmup.reputation.state).

Each domain is checked once a day. The scheduled task (every WARMUP_CRON_INTERVAL_MINUTES)
checks the domains whose last check is a day old or missing, oldest first, at most
DUE_PER_RUN of them with their servers' addresses: a task stays well inside django-q2's
timeout whatever the number of domains, and the day's checks spread over the day."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
from collections.abc import Callable, Mapping

from django.conf import settings

from warmup.models import ReputationTarget
from warmup.reputation.checks import DomainInput, check_all
from warmup.reputation.resolver import DnsResolver
from warmup.reputation.results import TargetResult
from warmup.reputation.state import act, record
from warmup.reputation.targets import build_targets, seen_selectors, sending_mailboxes

# Each domain's checks are this old at most (a day), and a scheduled run checks at most
# this many domains (about 25 s at the 80 domains/s benchmarks/dns_checks.py measured).
CHECK_EVERY = dt.timedelta(days=1)
DUE_PER_RUN = 2000


def check(
    now: dt.datetime,
    *,
    domain: str | None = None,
    on_result: Callable[[TargetResult], None] | None = None,
    keep: bool = True,
) -> list[TargetResult]:
    """Check every sending domain and self-hosted server address (or `domain` alone, and
    none of the addresses), then, with `keep`, record the results and act on them."""
    return _run(now, sending_mailboxes(domain), domain, on_result, keep)


def check_due(now: dt.datetime, *, limit: int = DUE_PER_RUN) -> list[TargetResult]:
    """The scheduled run: the sending domains not checked for CHECK_EVERY (never checked
    first, then the oldest), at most `limit`, with their servers' addresses."""
    mailboxes = sending_mailboxes()
    last = dict(
        ReputationTarget.objects.filter(kind=ReputationTarget.DOMAIN).values_list(
            "name", "checked_at"
        )
    )
    never = dt.datetime.min.replace(tzinfo=dt.UTC)
    due = sorted(
        (d for d in {d for d, _ in mailboxes} if (last.get(d) or never) <= now - CHECK_EVERY),
        key=lambda d: (last.get(d) or never, d),
    )[:limit]
    chosen = set(due)
    return _run(now, [m for m in mailboxes if m[0] in chosen], None, None, True)


def _run(
    now: dt.datetime,
    mailboxes: list[tuple[str, str]],
    domain: str | None,
    on_result: Callable[[TargetResult], None] | None,
    keep: bool,
) -> list[TargetResult]:
    results: list[TargetResult] = []
    hosts: dict[str, set[str]] = {}
    if mailboxes or domain:
        selectors = seen_selectors({d for d, _ in mailboxes} | ({domain} if domain else set()))
        results, hosts = asyncio.run(_check(mailboxes, domain, selectors, on_result))
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
    selectors: Mapping[str, tuple[str, ...]],
    on_result: Callable[[TargetResult], None] | None,
) -> tuple[list[TargetResult], dict[str, set[str]]]:
    config = settings.WARMUP
    resolver = DnsResolver.from_config(config)
    try:
        domains, addresses = await build_targets(mailboxes, resolver, selectors)
        if domain is not None:  # that domain only: its servers' addresses serve SPF
            given = domains.get(domain, DomainInput(selectors=selectors.get(domain, ())))
            domains, addresses = {domain: given}, {}
        results = await check_all(
            domains, list(addresses), config, resolver=resolver, on_result=on_result
        )
        return results, addresses
    finally:
        resolver.close()
