"""One reading of the whole system from the database: what the Prometheus collector,
the JSON metrics, the control API, the snapshots and the admin dashboard show.

"Today" is each mailbox's own local date. Every query is an aggregate or reads a few
rows. The aggregates over every mailbox and domain (the Census: today's DailyStat rows,
the mailboxes, the domains' verdicts, the capacity) take 0.5-1 s at 100,000 mailboxes,
so django-q2's `metric census` schedule counts them every minute and keeps them in the
shared cache; a reading takes them from there while they are younger than
CENSUS_MAX_AGE, and counts them itself otherwise (`fresh`, a missing or older census).
The rest (engine, workers, the last hour, due slots, totals) is read at each reading.
Only `quota_fill`, for the detailed per-mailbox series (WARMUP_ENABLE_DETAILED_METRICS),
reads one row per mailbox.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any

from django.core.cache import cache
from django.db.models import Case, Count, F, FloatField, IntegerField, Q, Sum, Value, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Floor

from accounts import status as mailbox_status
from accounts.models import AUTH_METHODS, DNS_BROKEN, RECONNECT_NEEDED, Mailbox, TokenTotal
from accounts.sql import timezones_in_use
from metrics.capacity import Capacity, Demand, assess
from metrics.health import Facts, Verdict, evaluate
from metrics.models import MetricSnapshot
from warmup.engine import pacing, planner
from warmup.engine.limits import Limits
from warmup.models import (
    CLAIMABLE_STATUSES,
    DailyStat,
    EngineState,
    PoolShape,
    ReputationTarget,
    SendCount,
    SendLog,
    SendStatus,
    SendTotal,
    Worker,
)
from warmup.models import Verdict as CheckVerdict
from warmup.reputation.results import DOMAIN_CHECKS
from warmup_project.config import WarmupConfig

# Upper bounds of the deliverability score histogram's buckets (and +Inf).
SCORE_BUCKETS = (20, 40, 60, 80, 90, 100)
# A due slot still waiting after this long is overdue.
OVERDUE_AFTER = dt.timedelta(minutes=10)
ATTEMPT_STATUSES = (SendStatus.SENT, SendStatus.FAILED, SendStatus.UNKNOWN, SendStatus.DEFERRED)
_WINDOW = ("mailbox__timezone", "mailbox__window_start_hour", "mailbox__window_end_hour")
# A census older than this is counted again by the reading that needs it: the schedule
# counts one every minute, and django-q2 may start it late.
CENSUS_MAX_AGE = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class WorkerState:
    worker: Worker
    heartbeat_age_s: float
    alive: bool  # heard from within WARMUP_HEARTBEAT_TIMEOUT_S (the reaper's own rule)


@dataclass(frozen=True)
class Reputation:
    """The checked domains and servers (warmup.reputation), and the mailboxes their
    state holds back."""

    # Domains by check and its last verdict: every check of DOMAIN_CHECKS × every verdict,
    # 0 included (a domain not yet checked for one counts in none of its verdicts).
    domains_by_check: dict[str, dict[str, int]]
    domains_failing: int  # an authentication record failing (in its grace period or past)
    listed_domains: int
    listed_servers: int
    mailboxes_dns_paused: int  # paused for their domain's setup (DNS_BROKEN)
    mailboxes_ramp_held: int  # a listing holds their ramp
    mailboxes_dmarc_flagged: int  # receivers judge their mail to fail DMARC


def read_reputation(boxes: dict[str, Any]) -> Reputation:
    """Two reads of the targets. The domains grouped by the verdicts of all their checks
    at once (one pass, a few dozen groups; some 30 ms at 50,000 domains, where a filtered
    count per check and verdict reads each row's JSON 25 times), summed per check here;
    then the failing and listed ones, through their partial indexes. The mailbox counts
    come from the reading's mailbox aggregate."""
    by_check: dict[str, Counter[str]] = {check: Counter() for check in DOMAIN_CHECKS}
    groups = (
        ReputationTarget.objects.filter(kind=ReputationTarget.DOMAIN)
        .annotate(
            **{
                f"verdict_{check}": KeyTextTransform.from_lookup(f"checks__{check}__verdict")
                for check in DOMAIN_CHECKS
            }
        )
        .values_list(*(f"verdict_{check}" for check in DOMAIN_CHECKS))
        .annotate(n=Count("id"))
        .order_by()
    )
    for *verdicts, n in groups:
        for check, verdict in zip(DOMAIN_CHECKS, verdicts, strict=True):
            by_check[check][verdict] += n
    domain = Q(kind=ReputationTarget.DOMAIN)
    listed = Q(listed_since__isnull=False)
    targets = ReputationTarget.objects.filter(Q(failing_since__isnull=False) | listed).aggregate(
        failing=Count("id", filter=domain & Q(failing_since__isnull=False)),
        listed_domains=Count("id", filter=domain & listed),
        listed_servers=Count("id", filter=Q(kind=ReputationTarget.ADDRESS) & listed),
    )
    return Reputation(
        domains_by_check={
            check: {verdict: by_check[check][verdict] for verdict in CheckVerdict.values}
            for check in DOMAIN_CHECKS
        },
        domains_failing=targets["failing"],
        listed_domains=targets["listed_domains"],
        listed_servers=targets["listed_servers"],
        mailboxes_dns_paused=boxes["dns_paused"],
        mailboxes_ramp_held=boxes["ramp_held"],
        mailboxes_dmarc_flagged=boxes["dmarc_flagged"],
    )


@dataclass(frozen=True)
class Reading:
    at: dt.datetime
    counted_at: dt.datetime  # when the Census was counted (mailboxes, today, domains)
    total_mailboxes: int
    active_mailboxes: int  # warmup enabled and status active: the ones that send
    # Today's DailyStat rows (each mailbox's local date).
    quotas_today: int  # mailboxes with a quota today
    met_today: int
    on_pace_today: int  # met, ahead or on pace (warmup.engine.pacing.pace)
    sent_today: int
    failed_today: int
    deferred_today: int
    unknown_today: int
    # The last hour, from the slots' last attempt.
    sent_last_hour: int
    attempts_last_hour: int
    failed_last_hour: int
    sends_total: dict[str, int]  # since the install, by outcome (SendTotal)
    slots_due: int
    slots_overdue: int
    engine_running: bool
    last_cycle_at: dt.datetime | None
    workers: list[WorkerState]  # by shard, then name
    workers_alive: int
    shards_expected: int
    shards_alive: int
    capacity: Capacity
    capacity_at: dt.datetime  # when it was assessed
    # Engagement: placements seen today (by the senders' days), and deliverability.
    inbox_today: int
    spam_today: int
    engagement_paused: int  # mailboxes whose IMAP login was refused
    # Logins: mailboxes by auth method (every method, 0 included), the tokens got and
    # the grants that failed since the install (TokenTotal), and the mailboxes paused
    # until their owner connects them again.
    by_auth_method: dict[str, int]
    token_refreshes: int
    token_refresh_failures: int
    reconnect_needed: int
    spam_flagged: int
    scored: int  # mailboxes with a deliverability score
    score_sum: int
    score_buckets: dict[int, int]  # upper bound → mailboxes at or below it
    reputation: Reputation
    pool: PoolShape  # the network's pool figures at the last daily refresh
    health: Verdict
    # Today's sending windows by (timezone, start hour, end hour), for furthest_behind.
    windows: dict[Any, pacing.Window] = field(default_factory=dict, repr=False)

    @property
    def workers_registered(self) -> int:
        return len(self.workers)

    @property
    def heartbeat_age_by_shard(self) -> dict[int, float]:
        """The freshest heartbeat's age, per shard."""
        ages: dict[int, float] = {}
        for state in self.workers:
            shard = state.worker.shard
            ages[shard] = min(ages.get(shard, state.heartbeat_age_s), state.heartbeat_age_s)
        return ages

    @property
    def quota_completion_rate(self) -> float:
        return self.met_today / self.quotas_today if self.quotas_today else 0.0

    @property
    def on_pace_rate(self) -> float:
        return self.on_pace_today / self.quotas_today if self.quotas_today else 1.0

    @property
    def failure_rate_last_hour(self) -> float:
        return self.failed_last_hour / self.attempts_last_hour if self.attempts_last_hour else 0.0

    @property
    def average_score(self) -> float | None:
        """Of the mailboxes with a deliverability score."""
        return self.score_sum / self.scored if self.scored else None

    @property
    def last_cycle_age_s(self) -> float | None:
        if self.last_cycle_at is None:
            return None
        return max((self.at - self.last_cycle_at).total_seconds(), 0.0)


def _windows(now: dt.datetime, keys: set[tuple[str, int, int]]) -> dict[Any, pacing.Window]:
    return {
        (tz, start, end): pacing.sending_window(pacing.local_date(now, tz), tz, start, end)
        for tz, start, end in keys
    }


def today_rows(now: dt.datetime) -> Any:
    return DailyStat.objects.filter(planner.on_local_today(now, timezones_in_use()))


def _today(now: dt.datetime) -> tuple[Counter[str], frozenset[tuple[str, int, int]]]:
    """Counters of today's rows, and how many quotas are met and on pace: grouped by
    window, quota and sent, so pace is judged by pacing.pace itself on a few hundred
    groups rather than per mailbox. With the windows' keys (timezone, start, end hour)."""
    groups = list(
        today_rows(now)
        .values(*_WINDOW, "quota", "sent", "quota_met")
        .annotate(
            n=Count("id"),
            failed_sum=Sum("failed"),
            deferred_sum=Sum("deferred"),
            unknown_sum=Sum("unknown"),
            inbox_sum=Sum("inbox"),
            spam_sum=Sum("spam"),
        )
        .order_by()
    )
    windows = _windows(now, {tuple(g[k] for k in _WINDOW) for g in groups})
    totals: Counter[str] = Counter()
    for g in groups:
        totals["sent"] += g["sent"] * g["n"]
        totals["failed"] += g["failed_sum"]
        totals["deferred"] += g["deferred_sum"]
        totals["unknown"] += g["unknown_sum"]
        totals["inbox"] += g["inbox_sum"]
        totals["spam"] += g["spam_sum"]
        if g["quota"] <= 0:
            continue
        totals["quotas"] += g["n"]
        totals["met"] += g["n"] if g["quota_met"] else 0
        window = windows[tuple(g[k] for k in _WINDOW)]
        if pacing.pace(now, window, g["quota"], g["sent"]) != "behind":
            totals["on_pace"] += g["n"]
    return totals, frozenset(windows)


def todays_demands(now: dt.datetime, floor: int, sending: int | None = None) -> list[Demand]:
    """Today's quotas of the mailboxes that send, by owner and window: the planned days'
    rows, and what the planner will give the days it has not planned yet (a mailbox
    just enabled, a new local day since the last cycle)."""
    groups = list(
        today_rows(now)
        .filter(mailbox__warmup_enabled=True, mailbox__status=mailbox_status.ACTIVE)
        .values("mailbox__owner_id", *_WINDOW)
        .annotate(quota_sum=Sum("quota"), n=Count("id"))
        .order_by()
    )
    # With `sending` (how many mailboxes send) known, the search for unplanned days is
    # skipped when every one of them has today's row: the usual case after a cycle.
    planned = sum(g["n"] for g in groups)
    unplanned = (
        []
        if sending is not None and planned >= sending
        else [(box, planner.day_quota(box, floor)) for box in planner.unplanned_mailboxes(now)]
    )
    keys = {tuple(g[k] for k in _WINDOW) for g in groups}
    keys |= {(b["timezone"], b["window_start_hour"], b["window_end_hour"]) for b, _ in unplanned}
    windows = _windows(now, keys)
    demands = []
    for g in groups:
        window = windows[tuple(g[k] for k in _WINDOW)]
        demands.append(Demand(g["mailbox__owner_id"], window.start, window.end, g["quota_sum"]))
    for box, quota in unplanned:
        window = windows[(box["timezone"], box["window_start_hour"], box["window_end_hour"])]
        demands.append(Demand(box["owner_id"], window.start, window.end, quota))
    return demands


def quota_fill(now: dt.datetime) -> list[tuple[int, float]]:
    """(mailbox id, sent / quota) of every mailbox with a quota today."""
    return [
        (mailbox_id, round(sent / quota, 4))
        for mailbox_id, quota, sent in today_rows(now)
        .filter(quota__gt=0)
        .order_by("mailbox_id")
        .values_list("mailbox_id", "quota", "sent")
    ]


@dataclass(frozen=True)
class Census:
    """What a reading counts over every mailbox and domain, at `at`: the mailboxes'
    aggregate, today's DailyStat counters (pace judged at `at`) and their windows' keys,
    the capacity, and the domains' verdicts."""

    at: dt.datetime
    boxes: dict[str, Any]
    today: Counter[str]
    window_keys: frozenset[tuple[str, int, int]]
    capacity_at: dt.datetime
    capacity: Capacity
    reputation: Reputation


# The cache key names the shapes it holds, so that a census pickled by the code before a
# deploy is never read by the code after it (the key changes with any field's name).
_SHAPES = " ".join(
    f.name for shape in (Census, Capacity, Limits, Reputation) for f in fields(shape)
)
CENSUS_KEY = f"metrics.census:{zlib.crc32(_SHAPES.encode()):08x}"


def take_census(now: dt.datetime, config: WarmupConfig, *, fresh: bool = False) -> Census:
    """Count the census now. Capacity takes two scans of today's rows and changes only
    with quotas and limits: it comes from the last snapshot when that is younger than two
    intervals (snapshots assess it afresh, `fresh`), else it is assessed here."""
    boxes = Mailbox.objects.aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(warmup_enabled=True, status=mailbox_status.ACTIVE)),
        engagement_paused=Count("id", filter=~Q(engagement_paused_reason="")),
        spam_flagged=Count("id", filter=Q(spam_flagged=True)),
        reconnect_needed=Count(
            "id",
            filter=Q(status=mailbox_status.PAUSED, status_reason__startswith=RECONNECT_NEEDED),
        ),
        **{f"auth_{method}": Count("id", filter=Q(auth_method=method)) for method in AUTH_METHODS},
        dns_paused=Count(
            "id", filter=Q(status=mailbox_status.PAUSED, status_reason__startswith=DNS_BROKEN)
        ),
        ramp_held=Count("ramp_held_since"),
        dmarc_flagged=Count("id", filter=Q(dmarc_flagged=True)),
        scored=Count("deliverability_score"),
        score_sum=Sum("deliverability_score"),
        **{
            f"score_le_{le}": Count("id", filter=Q(deliverability_score__lte=le))
            for le in SCORE_BUCKETS
        },
    )
    today, window_keys = _today(now)
    capacity_at, capacity = (None, None) if fresh else recent_capacity(now, config)
    if capacity is None or capacity_at is None:
        demands = todays_demands(now, config.min_daily_quota, sending=boxes["active"])
        capacity_at, capacity = now, assess(demands, Limits.from_config(config))
    return Census(
        at=now,
        boxes=boxes,
        today=today,
        window_keys=window_keys,
        capacity_at=capacity_at,
        capacity=capacity,
        reputation=read_reputation(boxes),
    )


def keep_census(census: Census) -> None:
    """Keep `census` in the shared cache (the database's: every process reads the same
    one) for the readings of the next CENSUS_MAX_AGE. The cache's own expiry, on the
    web processes' clocks, only clears it away; freshness is judged on the database's."""
    cache.set(CENSUS_KEY, census, timeout=10 * CENSUS_MAX_AGE.total_seconds())


def recent_census(now: dt.datetime) -> Census | None:
    """The kept census, if it was counted within CENSUS_MAX_AGE before `now`."""
    census = cache.get(CENSUS_KEY)
    if isinstance(census, Census) and now - CENSUS_MAX_AGE <= census.at <= now:
        return census
    return None


def read(now: dt.datetime, config: WarmupConfig, *, fresh: bool = False) -> Reading:
    """The system now: the census kept by the `metric census` schedule when it is younger
    than CENSUS_MAX_AGE, else counted here (and always with `fresh`, as snapshots do);
    the rest read now."""
    census = None if fresh else recent_census(now)
    if census is None:
        census = take_census(now, config, fresh=fresh)
    boxes, today = census.boxes, census.today
    tokens = dict(TokenTotal.objects.values_list("name", "total"))
    last_hour = dict(
        SendCount.objects.filter(minute__gt=now - dt.timedelta(hours=1), minute__lte=now)
        .values_list("status")
        .annotate(n=Sum("count"))
        .order_by()
    )
    # Counting the indexed column lets PostgreSQL answer from the partial claim index
    # alone; it cannot tell that few of the claimable rows are due, and would otherwise
    # scan the table.
    slots = SendLog.objects.filter(status__in=CLAIMABLE_STATUSES, scheduled_at__lte=now).aggregate(
        due=Count("scheduled_at"),
        overdue=Count("scheduled_at", filter=Q(scheduled_at__lte=now - OVERDUE_AFTER)),
    )
    state = EngineState.load()
    timeout = dt.timedelta(seconds=config.heartbeat_timeout_s)
    workers = [
        WorkerState(
            w, max((now - w.heartbeat_at).total_seconds(), 0.0), w.heartbeat_at >= now - timeout
        )
        for w in Worker.objects.order_by("shard", "name")
    ]
    alive = [s.worker for s in workers if s.alive]
    totals = dict(SendTotal.objects.values_list("status", "total"))
    facts = Facts(
        engine_running=state.running,
        last_cycle_age_s=(
            None
            if state.last_cycle_at is None
            else max((now - state.last_cycle_at).total_seconds(), 0.0)
        ),
        interval_s=config.cron_interval_minutes * 60,
        workers_registered=len(workers),
        workers_alive=len(alive),
        shards_expected=max((w.shard_count for w in alive), default=0),
        shards_alive=len({w.shard for w in alive}),
        attempts_last_hour=sum(last_hour.values()),
        failed_last_hour=last_hour.get(SendStatus.FAILED, 0),
        quotas_today=today["quotas"],
        on_pace_today=today["on_pace"],
        capacity_shortfall=census.capacity.shortfall,
    )
    return Reading(
        at=now,
        counted_at=census.at,
        total_mailboxes=boxes["total"],
        active_mailboxes=boxes["active"],
        quotas_today=today["quotas"],
        met_today=today["met"],
        on_pace_today=today["on_pace"],
        sent_today=today["sent"],
        failed_today=today["failed"],
        deferred_today=today["deferred"],
        unknown_today=today["unknown"],
        sent_last_hour=last_hour.get(SendStatus.SENT, 0),
        attempts_last_hour=facts.attempts_last_hour,
        failed_last_hour=facts.failed_last_hour,
        sends_total={status: totals.get(status, 0) for status in ATTEMPT_STATUSES},
        slots_due=slots["due"],
        slots_overdue=slots["overdue"],
        engine_running=state.running,
        last_cycle_at=state.last_cycle_at,
        workers=workers,
        workers_alive=facts.workers_alive,
        shards_expected=facts.shards_expected,
        shards_alive=facts.shards_alive,
        capacity=census.capacity,
        capacity_at=census.capacity_at,
        inbox_today=today["inbox"],
        spam_today=today["spam"],
        engagement_paused=boxes["engagement_paused"],
        spam_flagged=boxes["spam_flagged"],
        by_auth_method={method: boxes[f"auth_{method}"] for method in AUTH_METHODS},
        token_refreshes=tokens.get("refreshes", 0),
        token_refresh_failures=tokens.get("failures", 0),
        reconnect_needed=boxes["reconnect_needed"],
        scored=boxes["scored"],
        score_sum=boxes["score_sum"] or 0,
        score_buckets={le: boxes[f"score_le_{le}"] for le in SCORE_BUCKETS},
        reputation=census.reputation,
        pool=PoolShape.latest(),
        health=evaluate(facts),
        # At `now`, not at the census: a local day may have begun since.
        windows=_windows(now, set(census.window_keys)),
    )


def furthest_behind(reading: Reading, limit: int = 10) -> list[dict[str, Any]]:
    """The mailboxes most sends behind their pace now (expected by now − sent), with
    the expected count computed in SQL from each window's elapsed share."""
    now = reading.at
    if not reading.windows:
        return []
    elapsed = Case(
        *(
            When(
                mailbox__timezone=tz,
                mailbox__window_start_hour=start,
                mailbox__window_end_hour=end,
                then=Value(pacing.elapsed_share(now, window)),
            )
            for (tz, start, end), window in reading.windows.items()
        ),
        default=Value(0.0),
        output_field=FloatField(),
    )
    rows = (
        today_rows(now)
        .filter(quota__gt=0, quota_met=False)
        .annotate(expected=Floor(F("quota") * elapsed, output_field=IntegerField()))
        .annotate(lag=F("expected") - F("sent"))
        .filter(lag__gt=0)
        .order_by("-lag", "mailbox_id")
        .values("mailbox_id", "mailbox__email", "quota", "sent", "expected", "lag")[:limit]
    )
    return [
        {
            "mailbox_id": r["mailbox_id"],
            "email": r["mailbox__email"],
            "quota": r["quota"],
            "sent": r["sent"],
            "expected": int(r["expected"]),
            "behind": int(r["lag"]),
        }
        for r in rows
    ]


def capacity_detail(capacity: Capacity) -> dict[str, Any]:
    """What a snapshot keeps of a capacity assessment."""
    return {
        "demand": capacity.demand,
        "hourly_ceiling": capacity.hourly_ceiling,
        "owner_ceiling": capacity.owner_ceiling,
        "owners_short": capacity.owners_short,
        "needed": [
            capacity.needed.per_minute,
            capacity.needed.per_hour,
            capacity.needed.per_user_hour,
        ],
    }


def recent_capacity(
    now: dt.datetime, config: WarmupConfig
) -> tuple[dt.datetime, Capacity] | tuple[None, None]:
    """The last snapshot's capacity, if it is younger than two intervals."""
    since = now - dt.timedelta(minutes=2 * config.cron_interval_minutes)
    snapshot = (
        MetricSnapshot.objects.filter(taken_at__gt=since, taken_at__lte=now)
        .order_by("-taken_at")
        .values("taken_at", "detail")
        .first()
    )
    kept = snapshot["detail"].get("capacity") if snapshot else None
    if snapshot is None or not kept:
        return None, None
    minute, hour, user = kept["needed"]
    return snapshot["taken_at"], Capacity(
        demand=kept["demand"],
        hourly_ceiling=kept["hourly_ceiling"],
        owner_ceiling=kept["owner_ceiling"],
        owners_short=kept["owners_short"],
        needed=Limits(per_minute=minute, per_hour=hour, per_user_hour=user),
    )
