"""Planning in chunks: a sweep over the mailboxes that any planner continues where the
last chunk stopped, interleaved with claims, never planning a mailbox twice, and each
mailbox's day planned before it begins."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import zoneinfo
from collections.abc import Sequence
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone as dj_timezone

from accounts.transport.smtp import Group, Outcome, Result
from warmup import tasks
from warmup.engine import cycle, planner
from warmup.engine.cycle import Engine, load_network
from warmup.engine.planner import PLAN_AHEAD, plan_chunk, plan_cycle, start_sweep
from warmup.models import DailyStat, PlanSweep, SendLog
from warmup.sql import insert_slots

MONDAY = dt.datetime(2026, 6, 1, 0, 0, tzinfo=dt.UTC)
MARGIN = dt.timedelta(minutes=15)


def chunk(now: dt.datetime, limit: int) -> planner.PlanResult | None:
    return plan_chunk(now, floor=30, margin=MARGIN, limit=limit)


def planned_ids(day: dt.date) -> set[int]:
    return set(DailyStat.objects.filter(date=day).values_list("mailbox_id", flat=True))


@pytest.mark.django_db
def test_a_chunk_plans_at_most_its_size_and_the_next_continues(make_mailbox: Any) -> None:
    boxes = [make_mailbox() for _ in range(5)]
    six = MONDAY + dt.timedelta(hours=6)
    assert chunk(six, 2) is None  # no sweep under way: nothing planned
    assert start_sweep(six)
    assert not start_sweep(six)  # one sweep at a time
    first = chunk(six, 2)
    assert first is not None and (first.mailboxes, first.slots, first.swept) == (2, 60, False)
    assert planned_ids(six.date()) == {b.pk for b in boxes[:2]}
    second = chunk(six, 2)
    assert second is not None and second.mailboxes == 2 and not second.swept
    third = chunk(six, 2)
    assert third is not None and (third.mailboxes, third.swept) == (1, True)
    assert planned_ids(six.date()) == {b.pk for b in boxes}
    assert chunk(six, 2) is None  # the sweep is over
    sweep = PlanSweep.objects.get()
    assert (sweep.next_mailbox_id, sweep.started_at, sweep.finished_at) == (None, six, six)
    assert SendLog.objects.count() == 150


@pytest.mark.django_db
def test_a_chunk_looks_through_a_bounded_span_of_ids(
    make_mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing to plan costs a chunk PLAN_SPAN ids, not every mailbox: the sweep moves on
    by the span."""
    boxes = [make_mailbox() for _ in range(3)]
    plan_cycle(MONDAY, floor=30, margin=MARGIN)
    monkeypatch.setattr(planner, "PLAN_SPAN", 2)
    start_sweep(MONDAY)
    PlanSweep.objects.update(next_mailbox_id=boxes[0].pk - 1)
    first = chunk(MONDAY, 500)
    assert first is not None and (first.mailboxes, first.swept) == (0, False)
    assert PlanSweep.objects.get().next_mailbox_id == boxes[1].pk
    second = chunk(MONDAY, 500)
    assert second is not None and (second.mailboxes, second.swept) == (0, True)


@pytest.mark.django_db
def test_a_day_is_planned_ahead_and_today_when_it_has_no_plan(make_mailbox: Any) -> None:
    """From PLAN_AHEAD before its local midnight, the next day is planned too; a mailbox
    just enabled gets today's plan as well."""
    planned = make_mailbox(window_start_hour=0, window_end_hour=24)
    new = make_mailbox(window_start_hour=0, window_end_hour=24)
    tuesday = MONDAY.date() + dt.timedelta(days=1)
    DailyStat.objects.create(mailbox=planned, date=MONDAY.date(), quota=30, reserved=30)
    early = MONDAY + dt.timedelta(days=1) - PLAN_AHEAD - dt.timedelta(minutes=1)
    plan_cycle(early, floor=30, margin=MARGIN)
    assert tuesday not in DailyStat.objects.values_list("date", flat=True)
    assert planned_ids(MONDAY.date()) == {planned.pk, new.pk}
    late = early + dt.timedelta(minutes=2)
    result = plan_cycle(late, floor=30, margin=MARGIN)
    assert (result.mailboxes, result.slots) == (2, 60)
    assert planned_ids(tuesday) == {planned.pk, new.pk}
    times = SendLog.objects.filter(day=tuesday).values_list("scheduled_at", flat=True)
    assert min(times) >= MONDAY + dt.timedelta(days=1)  # all within Tuesday's window


@pytest.mark.django_db
def test_every_mailbox_is_planned_before_its_day_begins(make_mailbox: Any) -> None:
    """Plan cycles every 15 minutes for two days: every local day after the first is
    planned before its midnight, in every time zone, windows open all day."""
    zones = ("UTC", "Pacific/Auckland", "America/Los_Angeles", "Asia/Kolkata")
    boxes = {tz: make_mailbox(timezone=tz, window_start_hour=0, window_end_hour=24) for tz in zones}
    first_seen: dict[tuple[int, dt.date], dt.datetime] = {}
    now = MONDAY
    while now < MONDAY + dt.timedelta(days=2):
        plan_cycle(now, floor=30, margin=MARGIN)
        for key in DailyStat.objects.values_list("mailbox_id", "date"):
            first_seen.setdefault(key, now)
        now += MARGIN
    for tz, box in boxes.items():
        first_day = MONDAY.astimezone(zoneinfo.ZoneInfo(tz)).date()
        for offset in (1, 2):
            day = first_day + dt.timedelta(days=offset)
            begins = dt.datetime.combine(day, dt.time(), tzinfo=zoneinfo.ZoneInfo(tz))
            assert first_seen[(box.pk, day)] <= begins - PLAN_AHEAD + MARGIN, (tz, day)
            first_slot = SendLog.objects.filter(sender=box, day=day).earliest("scheduled_at")
            assert first_slot.scheduled_at >= begins


@pytest.mark.django_db
def test_only_mailboxes_with_a_planned_day_receive(make_mailbox: Any) -> None:
    """A received count writes the recipient's day row, which would pass for its plan:
    the network leaves out mailboxes whose local day is not planned yet."""
    planned, unplanned = make_mailbox(), make_mailbox()
    DailyStat.objects.create(mailbox=planned, date=MONDAY.date(), quota=30, reserved=30, received=4)
    network = load_network(MONDAY)
    assert [(p.id, p.received) for p in network.peers] == [(planned.pk, 4)]
    assert unplanned.pk not in {p.id for p in network.peers}


class Accepting:
    async def send_batch(self, groups: Sequence[Group]) -> list[Result]:
        return [Result(e.slot_id, Outcome.SENT, 250, "250 OK") for g in groups for e in g.envelopes]


def engine_at(now: dt.datetime, **overrides: Any) -> Engine:
    config = dataclasses.replace(
        settings.WARMUP,
        batch_size=5,
        batch_delay_ms=0,
        global_minute_limit=100_000,
        global_hourly_limit=100_000,
        user_hourly_limit=100_000,
        **overrides,
    )
    return Engine(
        config=config,
        transport=Accepting(),
        clock=lambda: now,
        worker="plan-test",
        token_secret="t",
        sleep=lambda s: None,
    )


@pytest.mark.django_db
def test_a_cycle_plans_one_chunk_between_two_claims(
    make_mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With slots due all along, the worker claims a batch, plans a chunk, claims again:
    it never plans two chunks in a row, and the whole day gets planned in the cycle."""
    # Sources: their day planned, a hundred slots due now.
    sources = [
        make_mailbox(window_start_hour=0, window_end_hour=24, daily_max=100) for _ in range(2)
    ]
    for box in sources:
        DailyStat.objects.create(mailbox=box, date=MONDAY.date(), quota=50, reserved=50)
    insert_slots([(b.pk, MONDAY.date(), n, MONDAY) for b in sources for n in range(50)], MONDAY)
    rest = [make_mailbox(window_start_hour=8, window_end_hour=18) for _ in range(7)]
    monkeypatch.setattr(planner, "PLAN_CHUNK", 2)
    calls: list[str] = []
    real_claim, real_chunk = cycle.claim_slots, planner.plan_chunk

    def claim(*args: Any, **kwargs: Any) -> list[int]:
        ids = real_claim(*args, **kwargs)
        calls.append("claim" if ids else "claim nothing")
        return ids

    def plan(*args: Any, **kwargs: Any) -> planner.PlanResult | None:
        result = real_chunk(*args, **kwargs)
        calls.append("chunk" if result else "no sweep")
        return result

    monkeypatch.setattr(cycle, "claim_slots", claim)
    monkeypatch.setattr(planner, "plan_chunk", plan)
    stats = engine_at(MONDAY).run_cycle(plan=True)
    assert planned_ids(MONDAY.date()) == {b.pk for b in sources + rest}
    assert stats.planned_mailboxes == 7
    chunks = calls.count("chunk")
    assert chunks == 4  # 7 mailboxes, two a chunk
    assert calls[: 2 * chunks] == ["claim", "chunk"] * chunks
    assert stats.claimed == 100


@pytest.mark.django_db(transaction=True)
def test_two_planners_at_once_never_plan_a_mailbox_twice(make_mailbox: Any) -> None:
    boxes = [make_mailbox() for _ in range(40)]
    start_sweep(MONDAY)
    results: list[planner.PlanResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def planner_thread() -> None:
        try:
            barrier.wait()
            while (
                result := chunk(MONDAY, 3)
            ) is not None or PlanSweep.objects.get().next_mailbox_id:
                if result is not None:
                    results.append(result)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=planner_thread) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(r.mailboxes for r in results) == len(boxes)  # each planned by one chunk
    assert planned_ids(MONDAY.date()) == {b.pk for b in boxes}
    assert SendLog.objects.count() == 30 * len(boxes)


@pytest.mark.django_db(transaction=True)
def test_a_chunk_does_not_wait_for_another_planners_chunk(make_mailbox: Any) -> None:
    make_mailbox()
    start_sweep(MONDAY)
    held = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with transaction.atomic():
            PlanSweep.objects.select_for_update().get()
            held.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(10)
        assert chunk(MONDAY, 10) is None  # skipped at once, not waited for
        assert not start_sweep(MONDAY)  # under way: not begun again, not waited for
        assert not DailyStat.objects.exists()
    finally:
        release.set()
        thread.join()
    result = chunk(MONDAY, 10)
    assert result is not None and result.mailboxes == 1


@pytest.mark.django_db
def test_the_plan_task_is_time_boxed_and_dispatch_carries_the_sweep_on(
    make_mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Planned, never due: they send three days from now only.
    weekday = (dj_timezone.now().weekday() + 3) % 7
    boxes = [make_mailbox(window_weekdays=1 << weekday) for _ in range(5)]
    monkeypatch.setattr(planner, "PLAN_CHUNK", 2)
    monkeypatch.setattr(tasks, "PLAN_TIME_BOX_S", 0)
    tasks.plan()
    assert PlanSweep.objects.get().next_mailbox_id == 0  # begun; its time box was spent
    assert not DailyStat.objects.exists()
    tasks.dispatch()
    assert set(DailyStat.objects.values_list("mailbox_id", flat=True)) == {b.pk for b in boxes}
    assert PlanSweep.objects.get().next_mailbox_id is None


@pytest.mark.django_db
def test_the_network_is_refreshed_a_span_of_ids_at_a_time(
    make_mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan (here an hour after the network was read) refreshes who can receive a span
    of ids per step, between claims; the network in use serves until the refresh is
    complete."""
    a, b, c = (make_mailbox() for _ in range(3))
    for box in (a, b):
        DailyStat.objects.create(mailbox=box, date=MONDAY.date(), quota=30, reserved=30)
    engine = engine_at(MONDAY)
    engine.run_cycle(plan=False)
    assert engine.network is not None
    assert {p.id for p in engine.network.peers} == {a.pk, b.pk}
    DailyStat.objects.create(mailbox=c, date=MONDAY.date(), quota=30, reserved=30)
    monkeypatch.setattr(cycle, "NETWORK_SPAN", 2)
    engine.clock = lambda: MONDAY + cycle.NETWORK_MAX_AGE
    engine.plan(cycle.CycleStats())
    assert engine.refresh_network()  # a and b read: more to come, the old network serves
    assert {p.id for p in engine.network.peers} == {a.pk, b.pk}
    assert not engine.refresh_network()
    assert {p.id for p in engine.network.peers} == {a.pk, b.pk, c.pk}


@pytest.mark.django_db
def test_a_plan_reads_the_network_again_after_an_hour_or_a_new_date(make_mailbox: Any) -> None:
    """Reading the network is most of a plan's cost: a plan begins it again when an hour
    has passed since the last read (other workers' picks) or a time zone in use has
    begun a new date (its mailboxes' counts start again), not at every plan."""
    a, b = make_mailbox(timezone="UTC"), make_mailbox(timezone="UTC")
    DailyStat.objects.create(mailbox=a, date=MONDAY.date(), quota=30, reserved=30)
    engine = engine_at(MONDAY)

    def plan_at(minutes: int) -> bool:
        """Whether a plan at MONDAY + minutes begins a read (which is then completed)."""
        engine.clock = lambda: MONDAY + dt.timedelta(minutes=minutes)
        engine.plan(cycle.CycleStats())
        began = engine.network_refresh is not None
        while engine.refresh_network():
            pass
        return began

    assert plan_at(10 * 60)
    assert {p.id for p in engine.network.peers} == {a.pk}
    DailyStat.objects.create(mailbox=b, date=MONDAY.date(), quota=30, reserved=30)
    assert not plan_at(10 * 60 + 15)
    assert not plan_at(10 * 60 + 45)
    assert {p.id for p in engine.network.peers} == {a.pk}  # b unseen until the next read
    assert plan_at(11 * 60)
    assert {p.id for p in engine.network.peers} == {a.pk, b.pk}
    assert plan_at(23 * 60 + 50)
    assert plan_at(24 * 60 + 5)  # 15 minutes later, but Tuesday in UTC
    # A new worker reads the network whole at its first cycle: its first plan does not
    # read it again.
    worker = engine_at(MONDAY + dt.timedelta(hours=10))
    worker.run_cycle(plan=False)
    assert worker.network is not None
    worker.plan(cycle.CycleStats())
    assert worker.network_refresh is None


@pytest.mark.django_db
def test_a_plan_expires_stale_slots_when_a_local_day_has_ended_since_its_last(
    make_mailbox: Any,
) -> None:
    """Slots go stale when their sender's day ends: a worker's plan expires them when a
    time zone in use has begun a new date since its last expiry, not at every plan (the
    statement reads the day's whole partition). A slot given back in between is the
    claim's to fail (test_claim)."""
    box = make_mailbox(timezone="UTC")
    noon = MONDAY + dt.timedelta(hours=12)

    def stale_slot(n: int, day: dt.date) -> SendLog:
        at = dt.datetime.combine(day, dt.time(15), tzinfo=dt.UTC)
        return SendLog.objects.create(sender=box, day=day, slot_no=n, scheduled_at=at, timestamp=at)

    worker = engine_at(noon)

    def expired_by_plan_at(hours: int) -> int:
        worker.clock = lambda: noon + dt.timedelta(hours=hours)
        stats = cycle.CycleStats()
        worker.plan(stats)
        return stats.expired

    def status(slot: SendLog) -> str:
        slot.refresh_from_db()
        return slot.status

    sunday = MONDAY.date() - dt.timedelta(days=1)
    first = stale_slot(0, sunday)
    assert expired_by_plan_at(0) == 1
    assert status(first) == "failed"
    # Later the same day, nothing has ended since: no expiry runs.
    second = stale_slot(1, sunday)
    assert expired_by_plan_at(6) == 0
    assert status(second) == "planned"
    # After the next midnight, the expiry runs again and finds the one left over.
    assert expired_by_plan_at(13) == 1
    assert status(second) == "failed"
