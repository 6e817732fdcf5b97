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
import multiprocessing
import pickle
import random
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, connections
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


@dataclass
class Ledger:
    """What reached the servers, as the report counts it: attempts by minute and by
    owner and hour, deliveries (sent or unknown: it may have been delivered) by slot and
    by sender. Counts only, so a worker process hands its ledger back in one piece and
    the ledgers of several add up."""

    attempts: int = 0
    per_minute: Counter[dt.datetime] = field(default_factory=Counter)
    per_owner_hour: Counter[tuple[int, dt.datetime]] = field(default_factory=Counter)
    deliveries: Counter[int] = field(default_factory=Counter)  # slot id → deliveries
    delivered_by: Counter[str] = field(default_factory=Counter)  # sender address → deliveries

    def add(self, other: Ledger) -> None:
        self.attempts += other.attempts
        self.per_minute.update(other.per_minute)
        self.per_owner_hour.update(other.per_owner_hour)
        self.deliveries.update(other.deliveries)
        self.delivered_by.update(other.delivered_by)


class SimTransport:
    """Answers every send at once: a failure with probability `fail_rate`, else 250.
    Every attempt goes into its ledger (`owner_of`: each sender address's owner)."""

    def __init__(
        self,
        fail_rate: float,
        rng: random.Random,
        clock: Callable[[], dt.datetime],
        owner_of: dict[str, int],
    ):
        self.fail_rate = fail_rate
        self.rng = rng
        self.clock = clock
        self.owner_of = owner_of
        self.ledger = Ledger()
        weights = [w for *_, w in FAILURE_MIX]
        self._choices = (FAILURE_MIX, weights)

    async def send_batch(self, groups: Sequence[Group]) -> list[Result]:
        minute = self.clock().replace(second=0, microsecond=0)
        hour = minute.replace(minute=0)
        ledger = self.ledger
        results = []
        for group in groups:
            for envelope in group.envelopes:
                if self.rng.random() < self.fail_rate:
                    outcome, code, text, _ = self.rng.choices(*self._choices)[0]
                else:
                    outcome, code, text = Outcome.SENT, 250, "250 OK"
                ledger.attempts += 1
                ledger.per_minute[minute] += 1
                ledger.per_owner_hour[(self.owner_of[envelope.mail_from], hour)] += 1
                if outcome in (Outcome.SENT, Outcome.UNKNOWN):
                    ledger.deliveries[envelope.slot_id] += 1
                    ledger.delivered_by[envelope.mail_from] += 1
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


def housekeeping(now: dt.datetime) -> None:
    """What autovacuum does, on the simulated clock: a simulated day passes in minutes,
    far too fast for autovacuum, and without fresh statistics and with the claim index
    full of dead entries PostgreSQL plans the claim badly. Every simulated minute (its
    naptime), the tables that changed enough since their last ANALYZE are analyzed, as
    the day's new partition once its plan is written; every hour the engine's tables
    are vacuumed too."""
    with connection.cursor() as cursor:
        if now.minute == 0:
            cursor.execute(sql.VACUUM_ANALYZE_ENGINE_TABLES)
            return
        cursor.execute(sql.STALE_STATISTICS)
        for (table,) in cursor.fetchall():
            cursor.execute(sql.analyze(table))


class Housekeeper:
    """The housekeeping beside the workers, as autovacuum runs beside real ones: a thread
    with a connection of its own. A minute whose last run is still going skips its
    own; an error is raised by `finish`."""

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def minute(self, now: dt.datetime) -> None:
        if self.thread is not None and self.thread.is_alive():
            return
        self.thread = threading.Thread(
            target=self._run, args=(now,), name="housekeeping", daemon=True
        )
        self.thread.start()

    def _run(self, now: dt.datetime) -> None:
        try:
            housekeeping(now)
        except BaseException as exc:  # raised in the worker by finish()
            self.error = exc
        finally:
            connections.close_all()  # this thread's

    def finish(self) -> None:
        if self.thread is not None:
            self.thread.join()
        if self.error is not None:
            raise self.error


@dataclass
class Day:
    """What run_day hands to the report."""

    ledger: Ledger
    cycles: int
    wall_s: float
    workers: int
    kills: int


@dataclass(frozen=True)
class _DayPlan:
    """What every simulated worker of a day needs to know (and a process inherits)."""

    config: WarmupConfig
    start: dt.datetime
    fail_rate: float
    seed: int
    tick: dt.timedelta
    workers: int
    kill_every: dt.timedelta | None
    restart_after: dt.timedelta
    progress: Callable[[dt.datetime, CycleStats], None]


@dataclass
class _WorkerDay:
    """One simulated worker's day, as its process hands it back."""

    ledger: Ledger
    cycles: int = 0
    kills: int = 0


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
    """Cycles every simulated minute from the day's 00:00 UTC to the next 00:00 with
    `workers` simulated workers (shards 1..workers) sharing the database, each in a
    process of its own (forked: one worker runs in this process), as run_warmup's
    workers do: they claim at the same time, each minute in step with the others. With
    `kill_every`, one worker in turn dies that often in the middle of a batch (sent, not
    recorded) and a new one takes its shard `restart_after` later."""
    plan = _DayPlan(
        config=config,
        start=dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC),
        fail_rate=fail_rate,
        seed=seed,
        tick=tick,
        workers=workers,
        kill_every=kill_every,
        restart_after=restart_after,
        progress=progress,
    )
    started = time.monotonic()
    days = [_work_day(plan, 1, None)] if workers == 1 else _in_processes(plan)
    ledger = Ledger()
    for worker_day in days:
        ledger.add(worker_day.ledger)
    return Day(
        ledger=ledger,
        cycles=days[0].cycles,
        wall_s=time.monotonic() - started,
        workers=workers,
        kills=sum(d.kills for d in days),
    )


def _in_processes(plan: _DayPlan) -> list[_WorkerDay]:
    """Each worker's day in a forked process, in step at every simulated minute; the
    first failure stops them all and is raised here."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(plan.workers)
    connections.close_all()  # each process opens its own
    processes = []
    pipes = []
    try:
        for shard in range(1, plan.workers + 1):
            receiving, sending = context.Pipe(duplex=False)
            process = context.Process(
                target=_worker_process, args=(plan, shard, barrier, sending), daemon=True
            )
            process.start()
            sending.close()
            processes.append(process)
            pipes.append(receiving)
        outcomes = []
        for receiving in pipes:
            try:
                outcomes.append(receiving.recv())
            except EOFError:
                outcomes.append(RuntimeError("a simulated worker's process died"))
        for process in processes:
            process.join()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    if failures:
        # A worker that failed broke the others' barrier: its own error says why.
        raise next(
            (f for f in failures if not isinstance(f, threading.BrokenBarrierError)), failures[0]
        )
    return outcomes


def _worker_process(
    plan: _DayPlan, shard: int, barrier: threading.Barrier, pipe: Connection
) -> None:
    """A forked worker: its day, or the exception that ended it, back through `pipe`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops its workers
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        outcome: _WorkerDay | BaseException = _work_day(plan, shard, barrier)
    except BaseException as exc:
        barrier.abort()
        outcome = exc if _picklable(exc) else RuntimeError(f"{type(exc).__name__}: {exc}")
    finally:
        connections.close_all()
    pipe.send(outcome)
    pipe.close()


def _picklable(exc: BaseException) -> bool:
    try:
        pickle.dumps(exc)
    except Exception:
        return False
    return True


def _work_day(plan: _DayPlan, shard: int, barrier: threading.Barrier | None) -> _WorkerDay:
    """Worker `shard`'s day: a cycle every simulated minute (planning every `tick`), in
    step with the other workers through `barrier`. Worker 1 also starts the
    housekeeping, which runs beside the workers."""
    clock_now = [plan.start]
    rng = random.Random(plan.seed + 7919 * (shard - 1))
    transport = SimTransport(
        plan.fail_rate,
        random.Random(plan.seed + 1 + 7919 * (shard - 1)),
        lambda: clock_now[0],
        dict(Mailbox.objects.values_list("email", "owner_id")),
    )
    generation = 0

    def start_worker() -> tuple[Engine, KillSwitch]:
        nonlocal generation
        generation += 1
        switch = KillSwitch(transport)
        engine = Engine(
            config=plan.config,
            transport=switch,
            clock=lambda: clock_now[0],
            worker=f"sim-worker-{shard}.{generation}",
            token_secret="simulation",  # noqa: S106 - tokens of a simulation, not a secret
            rng=rng,
            sleep=lambda s: None,
            shard=Shard(shard, plan.workers),
        )
        return engine, switch

    def in_step() -> None:
        if barrier is not None:
            barrier.wait()

    housekeeper = Housekeeper()
    live: tuple[Engine, KillSwitch] | None = start_worker()
    restart_at = plan.start
    end = plan.start + dt.timedelta(days=1)
    day = _WorkerDay(transport.ledger)
    victim = 0
    minute = dt.timedelta(minutes=1)
    while clock_now[0] < end:
        now = clock_now[0]
        # Plan every `tick` (the cron interval), dispatch every simulated minute: what
        # run_warmup does with its dispatch cadence.
        planning = (now - end).total_seconds() % plan.tick.total_seconds() == 0
        if shard == 1:
            housekeeper.minute(now)
        if (
            plan.kill_every
            and now > plan.start
            and (now - plan.start) % plan.kill_every == dt.timedelta(0)
        ):
            victim = victim % plan.workers + 1
            if victim == shard and live is not None:
                live[1].armed = True
        if live is None and now >= restart_at:
            live = start_worker()
        if live is not None:
            try:
                stats = live[0].run_cycle(plan=planning)
            except WorkerKilled:
                day.kills += 1
                live = None
                restart_at = now + plan.restart_after
            else:
                if planning or stats.claimed:
                    plan.progress(now, stats)
        day.cycles += planning
        in_step()  # every worker has done this minute
        clock_now[0] += minute
    housekeeper.finish()
    return day


def report(
    *, run: Day, day: dt.date, limits: Limits, users: int, owner_sizes: str = "even"
) -> Report:
    ledger = run.ledger
    started = time.monotonic()
    update_pool(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC))
    pool_s = time.monotonic() - started
    shape = PoolShape.latest()
    stats = DailyStat.objects.filter(date=day, quota__gt=0)
    total = stats.count()
    met = stats.filter(sent__gte=F("quota")).count()
    cap_of = dict(Mailbox.objects.values_list("email", "daily_max"))
    cap_violations = sum(1 for email, n in ledger.delivered_by.items() if n > cap_of[email])
    hour: Counter[dt.datetime] = Counter()
    for at, n in ledger.per_minute.items():
        hour[at.replace(minute=0)] += n
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
            "per_minute": sum(1 for n in ledger.per_minute.values() if n > limits.per_minute),
            "per_hour": sum(1 for n in hour.values() if n > limits.per_hour),
            "per_user_hour": sum(
                1 for n in ledger.per_owner_hour.values() if n > limits.per_user_hour
            ),
        },
        duplicates=sum(n - 1 for n in ledger.deliveries.values() if n > 1),
        sends_by_status=dict(sorted(by_status.items())),
        attempts=ledger.attempts,
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
