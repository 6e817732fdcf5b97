"""The Prometheus text exposition of a Reading, through one collector in its own
registry (django-prometheus's registry and its multiprocess mode stay out of it): every
scrape reads the database, so any web process answers the same.

No series carries a mailbox or user label, except `warmup_mailbox_quota_fill`, which
exists only with WARMUP_ENABLE_DETAILED_METRICS.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Iterator
from operator import attrgetter

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from metrics.health import RULES
from metrics.reading import Reading, quota_fill, read
from warmup_project.config import WarmupConfig

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _last_cycle_age(r: Reading) -> float:
    return -1 if r.last_cycle_age_s is None else r.last_cycle_age_s


# The one-sample gauges: name, help, and the reading's attribute (dotted) or a function of
# the reading. The first seven are the seed's names.
GAUGES: tuple[tuple[str, str, str | Callable[[Reading], float]], ...] = (
    ("warmup_total_mailboxes", "Mailboxes in the system.", "total_mailboxes"),
    (
        "warmup_active_mailboxes",
        "Mailboxes with warmup enabled and status active.",
        "active_mailboxes",
    ),
    (
        "warmup_emails_sent_today",
        "Sends accepted by SMTP on each mailbox's local today.",
        "sent_today",
    ),
    (
        "warmup_emails_failed_today",
        "Sends failed for good on each mailbox's local today.",
        "failed_today",
    ),
    ("warmup_throughput_per_hour", "Sends accepted by SMTP in the last hour.", "sent_last_hour"),
    (
        "warmup_quota_completion_rate",
        "Share of today's quotas already met (0-1).",
        "quota_completion_rate",
    ),
    (
        "warmup_system_health",
        "2 healthy, 1 degraded, 0 critical (warmup_health_rule shows which rule).",
        "health.level",
    ),
    (
        "warmup_emails_deferred_today",
        "Sends deferred (to be retried) on each mailbox's local today.",
        "deferred_today",
    ),
    (
        "warmup_emails_unknown_today",
        "Sends with no answer after DATA today (maybe delivered, never resent).",
        "unknown_today",
    ),
    ("warmup_quotas_today", "Mailboxes with a quota today.", "quotas_today"),
    ("warmup_on_pace_rate", "Share of today's quotas not behind their pace (0-1).", "on_pace_rate"),
    (
        "warmup_failure_rate_last_hour",
        "Failed share of the last hour's send attempts (0-1).",
        "failure_rate_last_hour",
    ),
    ("warmup_send_attempts_last_hour", "Send attempts in the last hour.", "attempts_last_hour"),
    ("warmup_slots_due", "Planned or deferred sends whose time has come.", "slots_due"),
    ("warmup_slots_overdue", "Due sends still waiting after 10 minutes.", "slots_overdue"),
    (
        "warmup_workers_registered",
        "Workers registered (alive or not yet reaped).",
        "workers_registered",
    ),
    ("warmup_workers_alive", "Workers whose heartbeat is recent.", "workers_alive"),
    ("warmup_shards_expected", "Shards the live workers declare.", "shards_expected"),
    ("warmup_shards_alive", "Shards with a live worker.", "shards_alive"),
    ("warmup_engine_running", "1 unless stopped through the control API.", "engine_running"),
    (
        "warmup_last_cycle_age_seconds",
        "Seconds since the last engine cycle (-1: none yet).",
        _last_cycle_age,
    ),
    (
        "warmup_census_age_seconds",
        "Seconds since the mailboxes, today's counters and the domains were counted.",
        lambda r: max((r.at - r.counted_at).total_seconds(), 0.0),
    ),
    (
        "warmup_capacity_demand",
        "Sum of today's quotas of the mailboxes that send.",
        "capacity.demand",
    ),
    (
        "warmup_capacity_shortfall",
        "Sends a day today's quotas exceed what the limits and windows allow.",
        "capacity.shortfall",
    ),
    (
        "warmup_mailboxes_spam_flagged",
        "Mailboxes with over 25 % of their last 7 days' mail in spam (10+ seen).",
        "spam_flagged",
    ),
    (
        "warmup_engagement_paused_mailboxes",
        "Mailboxes whose engagement is paused (IMAP login refused).",
        "engagement_paused",
    ),
    (
        "warmup_mailboxes_reconnect_needed",
        "Mailboxes paused until their owner connects them again (token refresh refused).",
        "reconnect_needed",
    ),
    (
        "warmup_domains_failing",
        "Sending domains whose SPF, DKIM or DMARC fails (in the grace period or past it).",
        "reputation.domains_failing",
    ),
    (
        "warmup_listed_domains",
        "Sending domains on a DNS blacklist.",
        "reputation.listed_domains",
    ),
    (
        "warmup_listed_servers",
        "SMTP server addresses on a DNS blacklist.",
        "reputation.listed_servers",
    ),
    (
        "warmup_mailboxes_dns_paused",
        "Mailboxes paused because their domain's SPF, DKIM or DMARC failed past the grace "
        "period (they resume when it passes).",
        "reputation.mailboxes_dns_paused",
    ),
    (
        "warmup_mailboxes_ramp_held",
        "Mailboxes whose ramp is held at its volume while their domain or server is listed.",
        "reputation.mailboxes_ramp_held",
    ),
    (
        "warmup_mailboxes_dmarc_flagged",
        "Mailboxes whose mail the receivers judge to fail DMARC (last 7 days).",
        "reputation.mailboxes_dmarc_flagged",
    ),
)

# The one-sample counters: name (without _total), help, and the reading's attribute.
# Totals since the install (accounts.TokenTotal): they never go down.
COUNTERS: tuple[tuple[str, str, str], ...] = (
    (
        "warmup_token_refreshes",
        "Access tokens got for the mailboxes that log in with one (refreshes, delegations, "
        "app-only tokens).",
        "token_refreshes",
    ),
    (
        "warmup_token_refresh_failures",
        "Token grants that failed: refused, or the provider unreachable.",
        "token_refresh_failures",
    ),
)


def _health_rules(r: Reading) -> list[tuple[str, float]]:
    by_rule = {check.rule: check.level for check in r.health.checks}
    return [(rule, by_rule[rule]) for rule in RULES]


# The gauges with one label: name, help, the label, and the reading's (value, sample) pairs.
LABELLED_GAUGES: tuple[
    tuple[str, str, str, Callable[[Reading], Iterable[tuple[str, float]]]], ...
] = (
    (
        "warmup_worker_heartbeat_age_seconds",
        "Seconds since the freshest heartbeat of a shard's workers.",
        "shard",
        lambda r: [(str(shard), age) for shard, age in r.heartbeat_age_by_shard.items()],
    ),
    (
        "warmup_placements_today",
        "Warmup messages the recipients found today, by folder (inbox or spam).",
        "placement",
        lambda r: [("inbox", r.inbox_today), ("spam", r.spam_today)],
    ),
    ("warmup_health_rule", "Each health rule's verdict: 2, 1 or 0.", "rule", _health_rules),
    (
        "warmup_mailboxes_by_auth_method",
        "Mailboxes by how they log in (password, oauth2, google_delegated, microsoft_app).",
        "auth_method",
        lambda r: list(r.by_auth_method.items()),
    ),
)


# The pool's shape over the last 7 days (warmup.engine.pool), of the mailboxes with at
# least one partner, as the daily task last refreshed it: name, help, the figure (NaN while no
# mailbox has one).
POOL_GAUGES: tuple[tuple[str, str, str], ...] = (
    (
        "warmup_pool_mailboxes",
        "Mailboxes that sent or received warmup mail in the last 7 days.",
        "mailboxes",
    ),
    (
        "warmup_pool_partners_median",
        "Median of the distinct mailboxes each mailbox mailed with in the last 7 days.",
        "partners_median",
    ),
    (
        "warmup_pool_partners_p5",
        "5th percentile of the distinct mailboxes each mailbox mailed with in the last 7 days.",
        "partners_p5",
    ),
    (
        "warmup_pool_same_owner_share",
        "Mean share of a mailbox's received warmup mail sent by its own owner's mailboxes "
        "(7 days, 0-1).",
        "same_owner_share",
    ),
    (
        "warmup_pool_same_owner_share_p95",
        "95th percentile of the mailboxes' same-owner shares (7 days, 0-1).",
        "same_owner_share_p95",
    ),
    (
        "warmup_pool_same_provider_share",
        "Mean share of a mailbox's received warmup mail sent from its own provider (7 days, 0-1).",
        "same_provider_share",
    ),
    (
        "warmup_pool_reciprocity",
        "Mean share of a mailbox's partners it both sent to and received from (7 days, 0-1).",
        "reciprocity",
    ),
)


def _value(r: Reading, source: str | Callable[[Reading], float]) -> float:
    return attrgetter(source)(r) if isinstance(source, str) else source(r)


def families(r: Reading) -> Iterator[Metric]:
    for name, doc, source in GAUGES:
        yield GaugeMetricFamily(name, doc, value=_value(r, source))
    for name, doc, figure in POOL_GAUGES:
        value = getattr(r.pool, figure)
        yield GaugeMetricFamily(name, doc, value=math.nan if value is None else value)
    for name, doc, label, samples in LABELLED_GAUGES:
        family = GaugeMetricFamily(name, doc, labels=[label])
        for label_value, sample in samples(r):
            family.add_metric([label_value], sample)
        yield family
    for name, doc, attribute in COUNTERS:
        yield CounterMetricFamily(name, doc, value=attrgetter(attribute)(r))
    domains = GaugeMetricFamily(
        "warmup_domains",
        "Sending domains by check (mx, spf, dkim, dmarc, dnsbl) and its last verdict.",
        labels=["check", "result"],
    )
    for check, verdicts in r.reputation.domains_by_check.items():
        for verdict, n in verdicts.items():
            domains.add_metric([check, verdict], n)
    yield domains
    sends = CounterMetricFamily(
        "warmup_sends", "Send attempts recorded since the install, by outcome.", labels=["status"]
    )
    for status, total in sorted(r.sends_total.items()):
        sends.add_metric([str(status)], total)
    yield sends
    yield HistogramMetricFamily(
        "warmup_deliverability_score",
        "Deliverability scores (0-100) of the mailboxes that have one.",
        buckets=[(str(le), n) for le, n in r.score_buckets.items()] + [("+Inf", r.scored)],
        sum_value=r.score_sum,
    )


class DatabaseCollector(Collector):
    """Reads the system at each scrape (`clock` gives the instant: the database's)."""

    def __init__(self, clock: Callable[[], dt.datetime], config: WarmupConfig) -> None:
        self._clock = clock
        self._config = config

    def collect(self) -> Iterator[Metric]:
        yield from families(read(self._clock(), self._config))


def registry(clock: Callable[[], dt.datetime], config: WarmupConfig) -> CollectorRegistry:
    """A registry holding only the database collector."""
    own = CollectorRegistry(auto_describe=False)
    own.register(DatabaseCollector(clock, config))
    return own


FILL = "warmup_mailbox_quota_fill"


def quota_fill_lines(fill: list[tuple[int, float]]) -> bytes:
    """The detailed family, written out directly: 100,000 samples take about a second
    through prometheus_client and a tenth of that as plain lines (ids need no escaping)."""
    head = (
        f"# HELP {FILL} Sent / quota of one mailbox today (WARMUP_ENABLE_DETAILED_METRICS).\n"
        f"# TYPE {FILL} gauge\n"
    )
    body = "".join(f'{FILL}{{mailbox_id="{i}"}} {float(v)!r}\n' for i, v in fill)
    return (head + body).encode()


def exposition(clock: Callable[[], dt.datetime], config: WarmupConfig) -> bytes:
    """The text exposition of one scrape: the collector's families, then the per-mailbox
    series when WARMUP_ENABLE_DETAILED_METRICS is on."""
    now = clock()
    text = generate_latest(registry(lambda: now, config))
    if config.enable_detailed_metrics:
        text += quota_fill_lines(quota_fill(now))
    return text
