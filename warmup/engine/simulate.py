"""A day of the real engine (planner, claims, budgets, pairing, content, recording)
on a simulated clock, with an in-process transport that fails at given rates.

The transport keeps its own ledger of every attempt, so the report checks the
engine's promises against what "reached a server", not against the engine's own books:
caps, rate windows and duplicates are counted from the ledger.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import F

from accounts.models import Mailbox, OwnerPlan
from accounts.transport.smtp import Group, Outcome, Result
from warmup import sql
from warmup.engine.claim import Shard
from warmup.engine.cycle import CycleStats, Engine
from warmup.engine.limits import Limits
from warmup.engine.pool import POOL_SHAPE_FIELDS, update_pool
from warmup.models import DailyStat, PoolShape, SendLog
from warmup_project.config import WarmupConfig

PROVIDERS = ("gmail", "outlook", "yahoo", "zoho", "other")
WINDOWS = ((8, 18), (9, 17), (7, 20), (0, 24), (6, 22))
# How the failures of --fail-rate split: 4xx, 5xx, network timeouts, no answer to DATA.
FAILURE_MIX = (
    (Outcome.DEFERRED, 421, "421 4.7.0 try again later", 0.4),
    (Outcome.FAILED, 550, "550 5.7.1 message refused", 0.2),
    (Outcome.DEFERRED, None, "connection timed out", 0.3),
    (Outcome.UNKNOWN, None, "no reply to DATA", 0.1),
)


@dataclass(frozen=True)
class Attempt:
    at: dt.datetime
    slot_id: int
    sender_email: str
    outcome: Outcome


class SimTransport:
    """Answers every send at once: a failure with probability `fail_rate`, else 250."""

    def __init__(self, fail_rate: float, rng: random.Random, clock: Callable[[], dt.datetime]):
        self.fail_rate = fail_rate
        self.rng = rng
        self.clock = clock
        self.ledger: list[Attempt] = []
        weights = [w for *_, w in FAILURE_MIX]
        self._choices = (FAILURE_MIX, weights)

    async def send_batch(self, groups: Sequence[Group]) -> list[Result]:
        now = self.clock()
        results = []
        for group in groups:
            for envelope in group.envelopes:
                if self.rng.random() < self.fail_rate:
                    outcome, code, text, _ = self.rng.choices(*self._choices)[0]
                else:
                    outcome, code, text = Outcome.SENT, 250, "250 OK"
                self.ledger.append(Attempt(now, envelope.slot_id, envelope.mail_from, outcome))
                results.append(Result(envelope.slot_id, outcome, code, text))
        return results


class WorkerKilled(BaseException):
    """Raised through the engine like a SIGKILL: nothing after it runs, not even except."""


class KillSwitch:
    """One simulated worker's transport: when armed, the batch reaches the servers (the
    ledger records it) and then the worker dies before recording anything."""

    def __init__(self, transport: SimTransport) -> None:
        self.transport = transport
        self.armed = False

    async def send_batch(self, groups: Sequence[Group]) -> list[Result]:
        results = await self.transport.send_batch(groups)
        if self.armed:
            self.armed = False
            raise WorkerKilled
        return results


@dataclass
class Report:
    mailboxes: int
    users: int
    at_quota_pct: float
    behind: int
    cap_violations: int
    rate_violations: dict[str, int]
    duplicates: int
    sends_by_status: dict[str, int]
    attempts: int
    cycles: int
    wall_s: float
    limits: dict[str, int] = field(default_factory=dict)
    workers: int = 1
    kills: int = 0
    owner_sizes: str = "even"
    # The pool's shape after the day (warmup.models.PoolShape), and how long its
    # refresh of every mailbox took.
    pool: dict[str, float | None] = field(default_factory=dict)
    pool_s: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


OWNER_SIZES = ("even", "zipf")


def owners_of(mailboxes: int, users: int, sizes: str) -> list[int]:
    """Each mailbox's owner (0 … users-1). "even": in turn, so owners are the same size
    and a domain's three mailboxes have three owners. "zipf": owner k holds a share
    proportional to 1 / (k + 1), in one block (at 100 owners the largest holds a fifth,
    the smallest a five-hundredth): agencies beside single users."""
    if sizes == "even":
        return [n % users for n in range(mailboxes)]
    weights = [1 / (k + 1) for k in range(users)]
    total = sum(weights)
    # At least one mailbox each; the rounding's remainder goes to the largest owner.
    counts = [max(1, math.floor(mailboxes * w / total)) for w in weights]
    counts[0] += mailboxes - sum(counts)
    return [owner for owner, count in enumerate(counts) for _ in range(count)]


def create_network(
    mailboxes: int, users: int, rng: random.Random, *, daily: int, owner_sizes: str = "even"
) -> None:
    """`mailboxes` mailboxes spread over `users` owners (`owners_of`), providers and
    windows (UTC); three mailboxes a domain, a domain one owner's with "zipf"."""
    user_model = get_user_model()
    owners = user_model.objects.bulk_create(
        [user_model(username=f"sim-owner-{n}") for n in range(users)]
    )
    OwnerPlan.objects.bulk_create(
        [OwnerPlan(owner=o, max_mailboxes=mailboxes, max_daily_quota=daily * 2) for o in owners]
    )
    owner_of = owners_of(mailboxes, users, owner_sizes)
    first: dict[int, int] = {}  # each owner's first mailbox
    for n, owner in enumerate(owner_of):
        first.setdefault(owner, n)
    boxes = []
    for n in range(mailboxes):
        start, end = WINDOWS[n % len(WINDOWS)]
        owner = owner_of[n]
        domain = f"d{n // 3}.sim"
        if owner_sizes != "even":
            domain = f"o{owner}d{(n - first[owner]) // 3}.sim"
        boxes.append(
            Mailbox(
                owner=owners[owner],
                email=f"sim{n}@{domain}",
                provider=PROVIDERS[n % len(PROVIDERS)],
                smtp_host="sim.invalid",
                smtp_port=587,
                smtp_username=f"sim{n}",
                imap_host="sim.invalid",
                imap_username=f"sim{n}",
                start_volume=daily,
                daily_increase=0,
                # Headroom above the quota: a send that ended unknown may have been
                # delivered, so it uses the cap but not the quota.
                daily_max=math.ceil(daily * 1.2),
                window_start_hour=start,
                window_end_hour=end,
                timezone="UTC",
            )
        )
    Mailbox.objects.bulk_create(boxes, batch_size=5000)


def housekeeping() -> None:
    """What autovacuum does over a real hour, done at each simulated hour: a simulated
    day passes in minutes, far too fast for autovacuum, and without fresh statistics
    and with the claim index full of dead entries PostgreSQL plans the claim badly."""
    with connection.cursor() as cursor:
        cursor.execute(sql.VACUUM_ANALYZE_ENGINE_TABLES)


@dataclass
class Day:
    """What run_day hands to the report."""

    transport: SimTransport
    cycles: int
    wall_s: float
    workers: int
    kills: int


def run_day(
    *,
    config: WarmupConfig,
    day: dt.date,
    fail_rate: float,
    seed: int,
    tick: dt.timedelta,
    workers: int = 1,
    kill_every: dt.timedelta | None = None,
    restart_after: dt.timedelta = dt.timedelta(minutes=5),
    progress: Callable[[dt.datetime, CycleStats], None] = lambda now, stats: None,
) -> Day:
    """Cycles every `tick` from the day's 00:00 UTC to the next 00:00 with `workers`
    simulated workers (shards 1..workers) sharing the database. With `kill_every`, one
    worker in turn dies that often in the middle of a batch (sent, not recorded) and a
    new one takes its shard `restart_after` later."""
    clock_now = [dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)]
    rng = random.Random(seed)
    transport = SimTransport(fail_rate, random.Random(seed + 1), lambda: clock_now[0])
    generation = Counter[int]()

    def start_worker(shard: int) -> tuple[Engine, KillSwitch]:
        generation[shard] += 1
        switch = KillSwitch(transport)
        engine = Engine(
            config=config,
            transport=switch,
            clock=lambda: clock_now[0],
            worker=f"sim-worker-{shard}.{generation[shard]}",
            token_secret="simulation",  # noqa: S106 - tokens of a simulation, not a secret
            rng=rng,
            sleep=lambda s: None,
            shard=Shard(shard, workers),
        )
        return engine, switch

    live = {shard: start_worker(shard) for shard in range(1, workers + 1)}
    dead: dict[int, dt.datetime] = {}  # shard → when its replacement starts
    start = clock_now[0]
    end = start + dt.timedelta(days=1)
    cycles = kills = 0
    victim = 0
    started = time.monotonic()
    minute = dt.timedelta(minutes=1)
    while clock_now[0] < end:
        now = clock_now[0]
        # Plan every `tick` (the cron interval), dispatch every simulated minute: what
        # run_warmup does with its dispatch cadence.
        plan = (now - end).total_seconds() % tick.total_seconds() == 0
        if now.minute == 0:
            housekeeping()
        if kill_every and now > start and (now - start) % kill_every == dt.timedelta(0):
            victim = victim % workers + 1
            if victim in live:
                live[victim][1].armed = True
        for shard, at in list(dead.items()):
            if now >= at:
                live[shard] = start_worker(shard)
                del dead[shard]
        for shard, (engine, _) in list(live.items()):
            try:
                stats = engine.run_cycle(plan=plan)
            except WorkerKilled:
                kills += 1
                del live[shard]
                dead[shard] = now + restart_after
                continue
            if plan or stats.claimed:
                progress(now, stats)
        cycles += plan
        clock_now[0] += minute
    return Day(transport, cycles, time.monotonic() - started, workers, kills)


def report(
    *, run: Day, day: dt.date, limits: Limits, users: int, owner_sizes: str = "even"
) -> Report:
    transport = run.transport
    started = time.monotonic()
    update_pool(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC))
    pool_s = time.monotonic() - started
    shape = PoolShape.latest()
    stats = DailyStat.objects.filter(date=day, quota__gt=0)
    total = stats.count()
    met = stats.filter(sent__gte=F("quota")).count()
    cap_of = dict(Mailbox.objects.values_list("email", "daily_max"))
    delivered = Counter(
        a.sender_email for a in transport.ledger if a.outcome in (Outcome.SENT, Outcome.UNKNOWN)
    )
    cap_violations = sum(1 for email, n in delivered.items() if n > cap_of[email])
    owner_of = dict(Mailbox.objects.values_list("email", "owner_id"))
    minute: Counter[dt.datetime] = Counter()
    hour: Counter[dt.datetime] = Counter()
    user_hour: Counter[tuple[int, dt.datetime]] = Counter()
    for a in transport.ledger:
        m = a.at.replace(second=0, microsecond=0)
        minute[m] += 1
        hour[m.replace(minute=0)] += 1
        user_hour[(owner_of[a.sender_email], m.replace(minute=0))] += 1
    slot_deliveries = Counter(
        a.slot_id for a in transport.ledger if a.outcome in (Outcome.SENT, Outcome.UNKNOWN)
    )
    by_status = defaultdict(int)
    for status, n in Counter(
        SendLog.objects.filter(day=day).values_list("status", flat=True)
    ).items():
        by_status[status] = n
    return Report(
        mailboxes=Mailbox.objects.count(),
        users=users,
        at_quota_pct=round(100 * met / total, 3) if total else 0.0,
        behind=total - met,
        cap_violations=cap_violations,
        rate_violations={
            "per_minute": sum(1 for n in minute.values() if n > limits.per_minute),
            "per_hour": sum(1 for n in hour.values() if n > limits.per_hour),
            "per_user_hour": sum(1 for n in user_hour.values() if n > limits.per_user_hour),
        },
        duplicates=sum(n - 1 for n in slot_deliveries.values() if n > 1),
        sends_by_status=dict(sorted(by_status.items())),
        attempts=len(transport.ledger),
        cycles=run.cycles,
        wall_s=round(run.wall_s, 2),
        workers=run.workers,
        kills=run.kills,
        owner_sizes=owner_sizes,
        pool={
            name: None if (v := getattr(shape, name)) is None else round(v, 4)
            for name in POOL_SHAPE_FIELDS
        },
        pool_s=round(pool_s, 2),
        limits={
            "per_minute": limits.per_minute,
            "per_hour": limits.per_hour,
            "per_user_hour": limits.per_user_hour,
        },
    )
