"""What the checks lead to. `record` keeps each target's last results and the two states
the engine acts on — since when a domain's SPF, DKIM or DMARC fails, since when a domain or
server address is listed — and `act` applies them to the mailboxes:

- a failing domain is a warning at once (logged, and shown by the API, the admin and the
  metrics); its mailboxes go on sending through the grace period (WARMUP_DNS_GRACE_HOURS),
  then pause with a reason that names the record and what is wrong
  (`domain setup broken: spf: …`);
- a listed domain or server address holds its mailboxes' ramp (no daily increase);
- when the checks pass again, both undo themselves: the paused mailboxes resume, the ramp
  goes on from where it was held.

A check that could not be made (`error`: a timeout, a DNSBL refusing us) changes neither
state: the last known one stands until a check says otherwise."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Func, JSONField, Q, Value

from accounts import status as mailbox_status
from accounts.models import DNS_BROKEN, Mailbox, MailboxQuerySet, email_domain
from warmup.models import ReputationTarget, Verdict
from warmup.reputation.results import AUTHENTICATION_CHECKS, TargetResult

log = logging.getLogger("warmup.reputation")


@dataclass(frozen=True)
class Recorded:
    targets: int
    failing: int  # domains whose SPF, DKIM or DMARC fails now
    listed: int  # domains and addresses listed now


@dataclass(frozen=True)
class Acted:
    paused: int
    resumed: int
    held: int
    released: int


def record(
    results: Sequence[TargetResult],
    now: dt.datetime,
    *,
    hosts: Mapping[str, Collection[str]] | None = None,
) -> Recorded:
    """Keep `results` (one per target) and move each target's failing and listed states.
    `hosts`: for server addresses, the SMTP host names that resolve to each (how a
    listing is traced back to mailboxes)."""
    hosts = hosts or {}
    failing = listed = 0
    kept: list[ReputationTarget] = []
    with transaction.atomic():
        existing = {
            (t.kind, t.name): t
            for t in ReputationTarget.objects.select_for_update()
            .filter(name__in=[r.name for r in results])
            .order_by("pk")
        }
        for result in results:
            target = existing.get((result.kind, result.name)) or ReputationTarget(
                kind=result.kind, name=result.name
            )
            target.checks = {
                **target.checks,
                **{
                    name: {**check.as_json(), "checked_at": now.isoformat()}
                    for name, check in result.checks.items()
                },
            }
            target.checked_at = now
            if result.name in hosts:
                target.hosts = sorted(hosts[result.name])
            _move_failing(target, result, now)
            _move_listed(target, result, now)
            failing += target.failing_since is not None
            listed += target.listed_since is not None
            kept.append(target)
        # One upsert per batch, not a save per target (a scheduled run keeps 2,000); the
        # DKIM selectors are engagement's and stay as they are.
        ReputationTarget.objects.bulk_create(
            kept,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["kind", "name"],
            update_fields=RECORDED_FIELDS,
        )
    return Recorded(len(results), failing, listed)


# What `record` writes of a target.
RECORDED_FIELDS = (
    "checks",
    "checked_at",
    "hosts",
    "failing_since",
    "failing_reason",
    "listed_since",
    "listed_on",
)


def _move_failing(target: ReputationTarget, result: TargetResult, now: dt.datetime) -> None:
    checks = {n: c for n, c in result.checks.items() if n in AUTHENTICATION_CHECKS}
    failed = [f"{n}: {c.detail or 'fails'}" for n, c in checks.items() if c.verdict == Verdict.FAIL]
    if failed:
        reason = "; ".join(failed)
        if target.failing_since is None:
            target.failing_since = now
            log.warning("%s %s: authentication records fail: %s", target.kind, target.name, reason)
        target.failing_reason = reason[:1000]
    elif checks and not any(c.verdict == Verdict.ERROR for c in checks.values()):
        if target.failing_since is not None:
            log.info("%s %s: authentication records pass again", target.kind, target.name)
        target.failing_since, target.failing_reason = None, ""


def _move_listed(target: ReputationTarget, result: TargetResult, now: dt.datetime) -> None:
    dnsbl = result.checks.get("dnsbl")
    if dnsbl is None or dnsbl.verdict == Verdict.ERROR:
        return
    if dnsbl.listed_on:
        if target.listed_since is None:
            target.listed_since = now
            log.warning("%s %s listed on %s", target.kind, target.name, ", ".join(dnsbl.listed_on))
        target.listed_on = ", ".join(dnsbl.listed_on)
    elif dnsbl.verdict == Verdict.PASS:
        target.listed_since, target.listed_on = None, ""


def act(now: dt.datetime, grace: dt.timedelta) -> Acted:
    """Apply the targets' states to the mailboxes (see the module's docstring)."""
    broken = {
        t.name: t.failing_reason
        for t in ReputationTarget.objects.filter(
            kind=ReputationTarget.DOMAIN, failing_since__lte=now - grace
        )
    }
    paused = sum(
        _of_domain(domain).pause_for_dns(
            f"{reason} (failing since more than {grace_text(grace)})", now
        )
        for domain, reason in broken.items()
    )
    waiting = Mailbox.objects.filter(
        status=mailbox_status.PAUSED, status_reason__startswith=DNS_BROKEN
    ).only("pk", "email")
    fixed = [box.pk for box in waiting if email_domain(box.email) not in broken]
    resumed = Mailbox.objects.filter(pk__in=fixed).resume_after_dns(now)

    listed = ReputationTarget.objects.filter(listed_since__isnull=False)
    held_domains = [t.name for t in listed if t.kind == ReputationTarget.DOMAIN]
    held_hosts = {h for t in listed if t.kind == ReputationTarget.ADDRESS for h in t.hosts}
    on_lists = Q(smtp_host__in=held_hosts)
    for domain in held_domains:
        on_lists |= Q(email__iendswith=f"@{domain}")
    held = Mailbox.objects.filter(on_lists).hold_ramp(now) if held_domains or held_hosts else 0
    released = (
        Mailbox.objects.filter(ramp_held_since__isnull=False).exclude(on_lists).release_ramp(now)
        if held_domains or held_hosts
        else Mailbox.objects.filter(ramp_held_since__isnull=False).release_ramp(now)
    )
    if paused or resumed or held or released:
        log.info(
            "reputation: %d mailboxes paused, %d resumed, %d ramps held, %d released",
            paused,
            resumed,
            held,
            released,
        )
    return Acted(paused, resumed, held, released)


def _of_domain(domain: str) -> MailboxQuerySet:
    return Mailbox.objects.filter(email__iendswith=f"@{domain}")


def grace_text(grace: dt.timedelta) -> str:
    hours = grace.total_seconds() / 3600
    return f"{hours:g} hours"


def note_dkim_selectors(seen: Iterable[tuple[str, str]]) -> int:
    """Keep the DKIM selectors (domain, s=) engagement saw signing our domains' mail at
    receivers on the domains' targets (made if missing), where the DKIM check looks for
    them; one appending UPDATE per new selector (a selector is new rarely), no lock held
    over anything else. Returns how many were new."""
    by_domain: dict[str, set[str]] = {}
    for domain, selector in seen:
        if domain and selector and len(selector) <= 63:
            by_domain.setdefault(domain.lower(), set()).add(selector.lower())
    if not by_domain:
        return 0
    known = dict(
        ReputationTarget.objects.filter(
            kind=ReputationTarget.DOMAIN, name__in=list(by_domain)
        ).values_list("name", "dkim_selectors")
    )
    added = 0
    for domain, selectors in by_domain.items():
        if domain not in known:
            ReputationTarget.objects.get_or_create(kind=ReputationTarget.DOMAIN, name=domain)
        for selector in sorted(selectors - set(known.get(domain) or ())):
            added += (
                ReputationTarget.objects.filter(kind=ReputationTarget.DOMAIN, name=domain)
                .exclude(dkim_selectors__contains=[selector])
                .update(
                    dkim_selectors=Func(
                        F("dkim_selectors"),
                        Value([selector], JSONField()),
                        function="",
                        template="%(expressions)s",
                        arg_joiner=" || ",
                    )
                )
            )
    return added
