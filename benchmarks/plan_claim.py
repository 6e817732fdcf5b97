"""Planning and claiming at 100,000 (or 1,000,000) mailboxes on PostgreSQL.

Usage (a scratch database it may fill and empty):
    createdb -h 127.0.0.1 -U postgres warmup_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/warmup_bench \\
        .venv/bin/python benchmarks/plan_claim.py [--mailboxes 100000]

Every mailbox shares one time zone, so a whole day begins at once: the worst case for
the planner. A hundredth of the mailboxes (1,000 at least), the "sources", have their day
planned beforehand with every slot due, so there is always something to claim. Prints:

- the worker's own view: one engine worker (a transport that accepts everything at once)
  runs its cycles from the day's start until every mailbox's day is planned; the longest
  stretch in which it claimed nothing, and how long the day took to plan;
- other workers' view: the next day's plan (the first day's with --view others)
  runs while another process claims batches of due slots without pause; the longest gap
  between two claims, claim times (p50, p99, max), and the plan's wall time;
- a steady-state plan (nothing new to plan: the anti-join and the top-up scan), and
  claims of one batch with budgets, at 08:00 and at 13:00.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import itertools
import multiprocessing
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warmup_project.settings")
# Development settings, as `make run`: keys derived from the development SECRET_KEY
# for a scratch database, localhost, and the local SMTP sink / IMAP server allowed.
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("WARMUP_ALLOW_PRIVATE_HOSTS", "true")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from accounts.models import Mailbox  # noqa: E402
from accounts.transport.smtp import Group, Outcome, Result  # noqa: E402
from benchmarks.scratch import empty_scratch_database, open_scratch_database  # noqa: E402
from warmup import partitions  # noqa: E402
from warmup.engine import cycle, simulate  # noqa: E402
from warmup.engine.claim import claim_slots  # noqa: E402
from warmup.engine.limits import Limits  # noqa: E402
from warmup.engine.planner import (  # noqa: E402
    PlanResult,
    plan_chunk,
    plan_cycle,
    start_sweep,
    top_up,
)
from warmup.engine.record import expire_stale_slots  # noqa: E402
from warmup.models import DailyStat, PlanSweep, SendLog, SendStatus  # noqa: E402
from warmup.sql import insert_slots  # noqa: E402

DAY = dt.date(2026, 6, 1)
SOURCE_SLOTS = 300  # each source mailbox's due slots on DAY
# Above this, mailboxes are created by the ORM up to it, then copied in SQL.
ORM_MAILBOXES = 100_000
LIMITS = Limits(per_minute=10**9, per_hour=10**9, per_user_hour=10**9)


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def timed(label: str, fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    print(f"{label:<48} {time.perf_counter() - started:8.3f} s   {result}", flush=True)
    return result


def vacuum() -> None:
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE logs, warmup_logs, mailboxes, rate_windows")


def fill(mailboxes: int) -> None:
    """`mailboxes` mailboxes in one time zone: the simulator's network, its first
    ORM_MAILBOXES made by the ORM and the rest copies of them made in SQL (each copy a
    new address on a new domain)."""
    made = min(mailboxes, ORM_MAILBOXES)
    simulate.create_network(made, max(1, made // 100), random.Random(1), daily=30)
    copies = -(-mailboxes // made) - 1
    if not copies:
        return
    fields = [f.column for f in Mailbox._meta.concrete_fields if not f.primary_key]
    values = ["'c' || g || '.' || email" if c == "email" else c for c in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO mailboxes ({', '.join(fields)}) "
            f"SELECT {', '.join(values)} FROM mailboxes, generate_series(1, %s) g "
            f"ORDER BY g, id LIMIT %s",
            [copies, mailboxes - made],
        )


def prepare_sources(day: dt.date, count: int) -> list[int]:
    """The first `count` mailboxes get `day` planned with SOURCE_SLOTS slots each, all
    due at its start, and room to receive them all."""
    ids = list(Mailbox.objects.order_by("id").values_list("id", flat=True)[:count])
    Mailbox.objects.filter(id__in=ids).update(daily_max=10**6)
    DailyStat.objects.bulk_create(
        [DailyStat(mailbox_id=i, date=day, quota=SOURCE_SLOTS, reserved=SOURCE_SLOTS) for i in ids]
    )
    insert_slots(
        [(i, day, n, midnight(day)) for i in ids for n in range(SOURCE_SLOTS)], midnight(day)
    )
    return ids


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0.0


def longest_gap(ends: Sequence[float], start: float, stop: float) -> float:
    """The longest stretch within [start, stop] in which no claim ended."""
    marks = [start, *sorted(e for e in ends if start < e < stop), stop]
    return max(b - a for a, b in itertools.pairwise(marks))


# --- another worker: claims without pause in its own process ---------------------------


def claimer(now: dt.datetime, batch: int, ready, stop, out) -> None:
    settings.DEBUG = False
    claims = []
    ready.set()
    while not stop.is_set():
        started = time.monotonic()
        n = len(claim_slots(now, worker="bench-claimer", limit=batch, limits=LIMITS))
        claims.append((started, time.monotonic(), n))
    connection.close()
    out.put(claims)


def plan_for(now: dt.datetime, seconds: float, floor: int, margin: dt.timedelta) -> PlanResult:
    """The sweep's chunks for `seconds` at most, as workers plan them."""
    started = time.monotonic()
    start_sweep(now)
    mailboxes = slots = 0
    while time.monotonic() - started < seconds:
        chunk = plan_chunk(now, floor=floor, margin=margin)
        if chunk is None or chunk.swept:
            break
        mailboxes, slots = mailboxes + chunk.mailboxes, slots + chunk.slots
    return PlanResult(mailboxes, slots, swept=False)


def other_workers_view(
    day: dt.date, batch: int, floor: int, margin: dt.timedelta, plan_seconds: float | None
) -> None:
    """The day's plan in this process while another claims batches of due slots (with
    `plan_seconds`, the plan's first chunks only, for that long)."""
    context = multiprocessing.get_context("spawn")
    ready, stop, out = context.Event(), context.Event(), context.Queue()
    process = context.Process(target=claimer, args=(midnight(day), batch, ready, stop, out))
    process.start()
    try:
        ready.wait()
        time.sleep(2)  # a few claims before the plan: the claimer's pace when undisturbed
        started = time.monotonic()
        if plan_seconds is None:
            result = plan_cycle(midnight(day), floor=floor, margin=margin)
        else:
            result = plan_for(midnight(day), plan_seconds, floor, margin)
        finished = time.monotonic()
        time.sleep(2)
        stop.set()
        claims = out.get()
    finally:
        stop.set()
        process.join(timeout=30)
        if process.is_alive():
            process.terminate()
    during = [(s, e, n) for s, e, n in claims if e > started and s < finished]
    before = [e - s for s, e, _ in claims if e <= started]
    times = [e - s for s, e, _ in during]
    gap = longest_gap([e for _, e, _ in claims], started, finished)
    rate = result.mailboxes / (finished - started)
    print(
        f"other workers' view, plan of {day} (all mailboxes, one time zone): "
        f"plan wall time {finished - started:.2f} s ({result}; {rate:.0f} mailboxes/s); "
        f"{len(during)} claims of up to {batch} during it, {sum(n for *_, n in during)} slots; "
        f"longest gap between claims {gap:.3f} s; "
        f"claim time p50 {percentile(times, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(times, 0.99) * 1000:.1f} ms, max {max(times, default=0) * 1000:.1f} ms "
        f"(undisturbed p50 {percentile(before, 0.5) * 1000:.1f} ms)",
        flush=True,
    )


# --- the planning worker's own view ---------------------------------------------------


class InstantTransport:
    """Accepts every message at once."""

    async def send_batch(self, groups: Sequence[Group]) -> list[Result]:
        return [Result(e.slot_id, Outcome.SENT, 250, "250 OK") for g in groups for e in g.envelopes]


def planning_worker_view(day: dt.date, mailboxes: int) -> None:
    """One engine worker's cycles from the start of `day` until every mailbox's day is
    planned: how long it went without claiming."""
    claims: list[tuple[float, float]] = []
    real_claim = cycle.claim_slots

    def timed_claim(*args, **kwargs):
        started = time.monotonic()
        try:
            return real_claim(*args, **kwargs)
        finally:
            claims.append((started, time.monotonic()))

    cycle.claim_slots = timed_claim
    config = dataclasses.replace(
        settings.WARMUP,
        batch_delay_ms=0,
        global_minute_limit=LIMITS.per_minute,
        global_hourly_limit=LIMITS.per_hour,
        user_hourly_limit=LIMITS.per_user_hour,
    )
    engine = cycle.Engine(
        config=config,
        transport=InstantTransport(),
        clock=lambda: midnight(day),
        worker="bench-worker",
        token_secret="bench",
        sleep=lambda s: None,
    )
    sends: list[tuple[float, float]] = []
    real_send = engine.send_batch

    def timed_send(*args, **kwargs):
        started = time.monotonic()
        try:
            return real_send(*args, **kwargs)
        finally:
            sends.append((started, time.monotonic()))

    engine.send_batch = timed_send  # type: ignore[method-assign]
    engine.run_cycle(plan=False, time_box_s=0)  # a worker already running: its network read
    started = time.monotonic()
    sent = 0
    first = True
    # Stretches within the cycles without a claim under way, and the same without the
    # sending of the batches in them (what planning and the cycle's bookkeeping cost).
    idle: list[float] = []
    not_sending: list[float] = []
    try:
        while DailyStat.objects.filter(date=day).count() < mailboxes:
            claims.clear()
            sends.clear()
            cycle_started = time.monotonic()
            stats = engine.run_cycle(plan=first, time_box_s=30)
            marks = [cycle_started, *(m for c in claims for m in c), time.monotonic()]
            for a, b in zip(marks[::2], marks[1::2], strict=True):
                idle.append(b - a)
                not_sending.append(
                    b - a - sum(min(b, e) - max(a, s) for s, e in sends if s < b and e > a)
                )
            sent += stats.outcomes["sent"]
            first = False
    finally:
        cycle.claim_slots = real_claim
    print(
        f"planning worker's view, day {day}: planned in {time.monotonic() - started:.2f} s "
        f"of cycles; {sent} sent meanwhile; longest stretch without a claim {max(idle):.3f} s "
        f"(the first, the plan's start: {idle[0]:.3f} s); without the batches' sending "
        f"{max(not_sending):.3f} s (p99 {percentile(not_sending, 0.99):.3f} s)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000, help="the one-batch claims")
    parser.add_argument(
        "--plan-seconds",
        type=float,
        help="other workers' view: stop the plan after this long (at 1,000,000 mailboxes)",
    )
    parser.add_argument(
        "--view",
        choices=("both", "worker", "others"),
        default="both",
        help="the planning worker's view, other workers' view, or both (default)",
    )
    args = parser.parse_args()
    sources = max(1000, args.mailboxes // 100)
    open_scratch_database()
    floor = settings.WARMUP.min_daily_quota
    margin = dt.timedelta(minutes=settings.WARMUP.cron_interval_minutes)
    try:
        timed(f"create {args.mailboxes} mailboxes", fill, args.mailboxes)
        # A running system has its days' partitions made days ahead (the planner, the
        # daily maintenance): the sources' slots go to their day's, not to the default
        # one, which the plan would otherwise empty into a new partition while it holds
        # the default's lock (claims of the days with no partition wait on it).
        partitions.ensure_around(midnight(DAY))
        timed(
            f"{sources} mailboxes with {SOURCE_SLOTS} due slots each",
            lambda: len(prepare_sources(DAY, sources)),
        )
        vacuum()
        planned = DAY
        if args.view != "others":
            planning_worker_view(DAY, args.mailboxes)
            vacuum()
        if args.view != "worker":
            if args.view == "both":
                planned += dt.timedelta(days=1)
                # The first day's leftovers are stale at the next midnight (the plan
                # there expires them, and a claim would fail rather than send them):
                # the sources get that day's due slots too.
                expire_stale_slots(midnight(planned))
                # What autovacuum does after so many rows changed (the partitions' scale
                # factor is 0.01): the first day's 2.9 M expired slots are dead entries
                # of the claim index, which the next claim would walk one by one (8 s).
                # A real day ends with few slots unsent.
                vacuum()
                prepare_sources(planned, sources)
            other_workers_view(
                planned, settings.WARMUP.batch_size, floor, margin, args.plan_seconds
            )
            vacuum()
        start = midnight(planned)
        if args.plan_seconds is not None:
            # The day is partly planned: what a worker does between two claims, measured
            # on the planned part.
            PlanSweep.objects.update(next_mailbox_id=0)
            timed(
                "a chunk with nothing to plan (planned ids)",
                plan_chunk,
                start + dt.timedelta(minutes=15),
                floor=floor,
                margin=margin,
            )
            PlanSweep.objects.update(next_mailbox_id=None)
            timed("top-up scan", top_up, start + dt.timedelta(minutes=15), margin)
            refresh = cycle.NetworkRefresh()
            timed(
                "a step of the network's refresh", lambda: refresh.step(start) or len(refresh.peers)
            )
            timed("the network read at once", lambda: len(cycle.load_network(start)))
        partly = args.plan_seconds is not None  # planning the rest would take an hour
        if not partly:
            timed(
                "steady-state plan (nothing new)",
                plan_cycle,
                start + dt.timedelta(minutes=15),
                floor=floor,
                margin=margin,
            )
        for hour in (8, 13):
            now = start + dt.timedelta(hours=hour)
            timed(
                f"claim {args.batch} at {hour:02}:00 (budgets included)",
                lambda n=now: len(claim_slots(n, worker="bench", limit=args.batch, limits=LIMITS)),
            )
            if not partly:
                timed(
                    f"plan + claim a cycle at {hour:02}:00",
                    lambda n=now: (
                        plan_cycle(n, floor=floor, margin=margin),
                        len(claim_slots(n, worker="bench", limit=args.batch, limits=LIMITS)),
                    ),
                )
        print(
            f"slots: {SendLog.objects.count()}, sending: "
            f"{SendLog.objects.filter(status=SendStatus.SENDING).count()}"
        )
    finally:
        empty_scratch_database("sim-owner-")


if __name__ == "__main__":
    main()
