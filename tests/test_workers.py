"""Worker registration, the reaper, shard preference and engine control, on whichever
database the suite runs on (the advisory-lock test needs PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from accounts.models import AuditEvent
from warmup.engine import control, workers
from warmup.engine.claim import STEAL_AFTER, Shard, claim_slots
from warmup.engine.cycle import Engine
from warmup.engine.limits import Limits
from warmup.models import (
    DailyStat,
    EngineState,
    SendCount,
    SendLog,
    SendStatus,
    SendTotal,
    Worker,
)
from warmup_project.config import WarmupConfig
from warmup_project.db import db_now

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
TIMEOUT = dt.timedelta(seconds=120)
OPEN = Limits(10_000, 10_000, 10_000)


def slot(sender: Any, n: int, **fields: Any) -> SendLog:
    values = {
        "sender": sender,
        "day": NOW.date(),
        "slot_no": n,
        "scheduled_at": NOW - dt.timedelta(minutes=10),
        "timestamp": NOW,
    }
    values.update(fields)
    return SendLog.objects.create(**values)


@pytest.mark.django_db
def test_reaper_releases_a_dead_workers_slots_and_leaves_the_living_alone(
    make_mailbox: Any,
) -> None:
    box = make_mailbox()
    DailyStat.objects.create(mailbox=box, date=NOW.date(), quota=5, reserved=5)
    workers.register("dead", 1, 2, NOW - dt.timedelta(minutes=10))
    workers.register("alive", 2, 2, NOW - dt.timedelta(minutes=10))
    workers.heartbeat("alive", NOW - dt.timedelta(seconds=30))
    claimed = NOW - dt.timedelta(minutes=5)
    waiting = slot(box, 0, status=SendStatus.SENDING, worker="dead", attempts=1, claimed_at=claimed)
    started = slot(
        box,
        1,
        status=SendStatus.SENDING,
        worker="dead",
        attempts=1,
        claimed_at=claimed,
        started_at=claimed,
    )
    living = slot(
        box,
        2,
        status=SendStatus.SENDING,
        worker="alive",
        attempts=1,
        claimed_at=claimed,
        started_at=claimed,
    )
    orphan = slot(box, 3, status=SendStatus.SENDING, worker="gone", attempts=1, claimed_at=claimed)
    fresh_orphan = slot(
        box, 4, status=SendStatus.SENDING, worker="gone", attempts=1, claimed_at=NOW
    )

    reaped = workers.reap(NOW, TIMEOUT)

    assert reaped == workers.Reaped(workers=1, replanned=2, unknown=1)
    rows = {s.id: s for s in SendLog.objects.all()}
    assert (rows[waiting.id].status, rows[waiting.id].attempts) == (SendStatus.PLANNED, 0)
    assert rows[waiting.id].worker == ""
    assert rows[started.id].status == SendStatus.UNKNOWN  # may have been delivered
    assert "never resent" in rows[started.id].smtp_error
    assert rows[living.id].status == SendStatus.SENDING
    assert rows[orphan.id].status == SendStatus.PLANNED  # no worker row at all
    assert rows[fresh_orphan.id].status == SendStatus.SENDING  # claimed too recently
    assert DailyStat.objects.get(mailbox=box).unknown == 1  # so top-up replaces it
    assert SendTotal.objects.get(status="unknown").total == 1  # an attempt, for the metrics
    assert SendCount.objects.get(status="unknown").count == 1
    assert set(Worker.objects.values_list("name", flat=True)) == {"alive"}
    assert not workers.reap(NOW, TIMEOUT)  # nothing left to do


@pytest.mark.django_db
def test_a_reaped_worker_registers_again_on_its_next_heartbeat() -> None:
    workers.register("w", 2, 3, NOW)
    Worker.objects.all().delete()
    workers.heartbeat("w", NOW, shard=2, shard_count=3)
    w = Worker.objects.get()
    assert (w.name, w.shard, w.shard_count, w.heartbeat_at) == ("w", 2, 3, NOW)


@pytest.mark.django_db(transaction=True)
def test_one_reaper_at_a_time(make_mailbox: Any) -> None:
    box = make_mailbox()
    workers.register("dead", 1, 1, NOW - dt.timedelta(minutes=10))
    slot(box, 0, status=SendStatus.SENDING, worker="dead", claimed_at=NOW - dt.timedelta(hours=1))
    held, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [workers.REAPER_LOCK])
                held.set()
                release.wait(10)
                cursor.execute("COMMIT")
        finally:
            other.close()

    thread = threading.Thread(target=hold_lock)
    thread.start()
    try:
        assert held.wait(10)
        assert not workers.reap(NOW, TIMEOUT)  # someone else is reaping
        assert SendLog.objects.get().status == SendStatus.SENDING
    finally:
        release.set()
        thread.join()
    assert workers.reap(NOW, TIMEOUT).replanned == 1


@pytest.mark.django_db
def test_a_worker_prefers_its_shard_and_takes_others_only_when_overdue(
    make_mailbox: Any,
) -> None:
    boxes = [make_mailbox() for _ in range(4)]
    mine = [b for b in boxes if b.id % 2 == 0]
    theirs = [b for b in boxes if b.id % 2 == 1]
    for b in mine:
        slot(b, 0, scheduled_at=NOW - dt.timedelta(seconds=10))
    for b in theirs:
        slot(b, 0, scheduled_at=NOW - dt.timedelta(seconds=10))  # due, not overdue
        slot(b, 1, scheduled_at=NOW - STEAL_AFTER - dt.timedelta(seconds=1))  # overdue
    ids = claim_slots(NOW, worker="w1", limit=100, limits=OPEN, shard=Shard(1, 2))
    taken = SendLog.objects.filter(id__in=ids)
    assert {s.sender_id for s in taken.filter(slot_no=0)} == {b.id for b in mine}
    assert {s.sender_id for s in taken.filter(slot_no=1)} == {b.id for b in theirs}
    assert not taken.filter(slot_no=0, sender__in=theirs).exists()
    # Its own shard first: with room for only its own, it takes only its own.
    SendLog.objects.update(status=SendStatus.PLANNED, worker="")
    ids = claim_slots(NOW, worker="w1", limit=len(mine), limits=OPEN, shard=Shard(1, 2))
    assert set(SendLog.objects.filter(id__in=ids).values_list("sender_id", flat=True)) == {
        b.id for b in mine
    }


@pytest.mark.django_db
def test_a_claim_clears_the_started_mark_of_an_earlier_attempt(make_mailbox: Any) -> None:
    s = slot(make_mailbox(), 0, status=SendStatus.DEFERRED, attempts=1, started_at=NOW)
    assert claim_slots(NOW, worker="w", limit=10, limits=OPEN) == [s.id]
    s.refresh_from_db()
    assert (s.status, s.started_at, s.attempts) == (SendStatus.SENDING, None, 2)


class NoTransport:
    async def send_batch(self, groups: Any) -> list[Any]:
        raise AssertionError("a stopped engine must not send")


@pytest.mark.django_db
def test_a_stopped_engine_claims_nothing_and_control_is_audited(make_mailbox: Any) -> None:
    slot(make_mailbox(window_start_hour=0, window_end_hour=24), 0)
    control.apply("stop", NOW, actor_name="tester", reason="maintenance")
    engine = Engine(
        config=WarmupConfig(batch_delay_ms=0),
        transport=NoTransport(),
        clock=lambda: NOW,
        worker="w",
        token_secret="t",
    )
    stats = engine.run_cycle(plan=True)
    assert stats.claimed == 0
    assert SendLog.objects.get().status == SendStatus.PLANNED
    assert Worker.objects.filter(name="w").exists()  # it still heartbeats
    control.apply("trigger", NOW, actor_name="tester")
    state = EngineState.load()
    assert (state.running, state.reason, state.trigger_requested_at) == (False, "maintenance", NOW)
    events = list(AuditEvent.objects.order_by("id").values_list("action", "actor_name"))
    assert events == [("engine.stop", "tester"), ("engine.trigger", "tester")]
    with pytest.raises(ValueError, match="unknown action"):
        control.apply("explode", NOW)


@pytest.mark.django_db
def test_a_worker_id_outside_the_count_is_refused() -> None:
    with pytest.raises(CommandError, match="between 1 and --worker-count"):
        call_command("run_warmup", "--once", "--worker-id", "4", "--worker-count", "3")


@pytest.mark.django_db
def test_run_warmup_notices_each_trigger_once() -> None:
    from warmup.management.commands.run_warmup import Command

    command = Command()
    assert not command.triggered()  # an old trigger does not fire at start
    control.apply("trigger", NOW, actor_name="tester")
    assert command.triggered()
    assert not command.triggered()
    control.apply("trigger", NOW + dt.timedelta(seconds=1), actor_name="tester")
    assert command.triggered()


@pytest.mark.django_db
def test_a_trigger_right_after_a_workers_first_cycle_is_not_lost() -> None:
    """The first cycle plans anyway; a trigger made before the second must still fire
    there (scripts/container-check found it swallowed: the first look only notes)."""
    from warmup.management.commands.run_warmup import Command

    class Engine:
        def __init__(self) -> None:
            self.plans: list[bool] = []

        def run_cycle(self, *, plan: bool) -> Any:
            self.plans.append(plan)
            return type("Stats", (), {"claimed": 0, "line": lambda self: ""})()

    command = Command()
    command.engine, command.interval, command.last_plan = Engine(), 900.0, -float("inf")
    command.server = None
    command.handle_one_cycle()
    control.apply("trigger", db_now(), actor_name="tester")
    command.handle_one_cycle()
    command.handle_one_cycle()
    assert command.engine.plans == [True, True, False]


@pytest.mark.django_db
def test_setup_schedules_is_idempotent_and_follows_the_worker_count(settings: Any) -> None:
    from django_q.models import Schedule

    from warmup.management.commands.setup_schedules import setup_schedules

    settings.WARMUP = WarmupConfig(worker_count=3, cron_interval_minutes=10)
    now = dt.datetime(2026, 12, 6, 3, 0, tzinfo=dt.UTC)
    created, updated, removed = setup_schedules(now=now)
    assert len(created) == 10 and not updated and not removed
    # The two daily tasks half a day apart: maintenance's partition drop never waits
    # for the pool figures' read of the whole send log.
    daily = dict(Schedule.objects.filter(schedule_type="D").values_list("name", "next_run"))
    assert daily == {
        "warmup: maintenance": now,
        "warmup: pool figures": now + dt.timedelta(hours=12),
    }
    assert setup_schedules() == ([], [], [])
    engage = Schedule.objects.get(name="warmup: engage")
    assert (engage.func, engage.minutes) == ("warmup.tasks.engage", 1)
    plan = Schedule.objects.get(name="warmup: plan")
    assert (plan.func, plan.schedule_type, plan.minutes) == ("warmup.tasks.plan", "I", 10)
    dispatch = Schedule.objects.filter(func="warmup.tasks.dispatch").order_by("name")
    assert [d.args for d in dispatch] == ["1,3", "2,3", "3,3"]
    settings.WARMUP = WarmupConfig(worker_count=1, cron_interval_minutes=15)
    created, updated, removed = setup_schedules()
    assert created == ["warmup: dispatch shard 1 of 1"]
    assert sorted(updated) == [
        "warmup: metric snapshot",
        "warmup: plan",
        "warmup: reputation checks",
    ]
    assert len(removed) == 3
    # run_warmup workers send (compose): qcluster keeps engagement, the census,
    # snapshots, the reputation checks, maintenance and the pool figures.
    created, updated, removed = setup_schedules(sending=False)
    assert not created and not updated
    assert sorted(removed) == ["warmup: dispatch shard 1 of 1", "warmup: plan"]
    assert sorted(Schedule.objects.values_list("func", flat=True)) == [
        "metrics.tasks.census",
        "metrics.tasks.snapshot",
        "warmup.tasks.check_reputation",
        "warmup.tasks.engage",
        "warmup.tasks.maintenance",
        "warmup.tasks.refresh_pool",
    ]


@pytest.mark.django_db
def test_setup_schedules_points_a_schedule_of_a_moved_task_at_its_new_home(
    settings: Any,
) -> None:
    """The snapshot task moved from warmup.tasks to metrics.tasks: a deployment's
    existing schedule still names the old path until setup_schedules (run at every
    deploy) updates it."""
    from django_q.models import Schedule

    from warmup.management.commands.setup_schedules import setup_schedules

    settings.WARMUP = WarmupConfig(cron_interval_minutes=10)
    Schedule.objects.create(
        name="warmup: metric snapshot",
        func="warmup.tasks.snapshot",
        schedule_type=Schedule.MINUTES,
        minutes=10,
        repeats=-1,
    )
    created, updated, _ = setup_schedules()
    assert "warmup: metric snapshot" in updated and "warmup: metric snapshot" not in created
    snapshot = Schedule.objects.get(name="warmup: metric snapshot")
    assert snapshot.func == "metrics.tasks.snapshot"
    assert not Schedule.objects.filter(func__startswith="warmup.tasks.snapshot").exists()


@pytest.mark.django_db
def test_the_snapshot_task_takes_one_and_deletes_those_past_retention(settings: Any) -> None:
    from django.utils.module_loading import import_string

    from metrics.models import MetricSnapshot

    settings.WARMUP = WarmupConfig(metrics_retention_days=30)
    now = db_now()  # the task's clock: the transaction's start, within this test
    for days in (31, 29):
        MetricSnapshot.objects.create(taken_at=now - dt.timedelta(days=days))
    # As django-q2 finds it: by the path its schedule names.
    line = import_string("metrics.tasks.snapshot")()
    assert "1 metric snapshots deleted" in line
    ages = sorted((now - s.taken_at).days for s in MetricSnapshot.objects.all())
    assert ages == [0, 29]


@pytest.mark.django_db
def test_maintenance_deletes_only_what_is_past_retention(make_mailbox: Any) -> None:
    from accounts.models import ConnectState
    from metrics.models import MetricSnapshot
    from metrics.snapshot import prune_snapshots
    from warmup.engine.maintenance import run_maintenance
    from warmup.models import PoolShape, RateWindow

    box = make_mailbox()
    old_day = (NOW - dt.timedelta(days=91)).date()
    recent_day = (NOW - dt.timedelta(days=89)).date()
    for day in (old_day, recent_day):
        slot(box, 0, day=day, status=SendStatus.SENT)
        DailyStat.objects.create(mailbox=box, date=day)
    reply = slot(box, 1, day=recent_day, status=SendStatus.SENT)
    reply.in_reply_to = SendLog.objects.get(day=old_day)
    reply.save()
    RateWindow.objects.create(key="global:hour", window_start=NOW - dt.timedelta(days=3))
    RateWindow.objects.create(key="global:hour", window_start=NOW)
    for days in (31, 29):
        MetricSnapshot.objects.create(taken_at=NOW - dt.timedelta(days=days))
    for days in (91, 89):
        SendCount.objects.create(minute=NOW - dt.timedelta(days=days), status="sent", count=1)
        PoolShape.objects.create(refreshed_at=NOW - dt.timedelta(days=days))
    for n, hours in enumerate((25, 23)):
        ConnectState.objects.create(
            key=f"k{n}",
            owner=box.owner,
            provider="google",
            redirect_uri="http://x.test/cb",
            verifier_secret="",
            nonce="n",
            created_at=NOW - dt.timedelta(hours=hours),
        )

    done = run_maintenance(NOW, WarmupConfig())

    assert (done.logs_deleted, done.stats_deleted, done.windows_deleted) == (1, 1, 1)
    assert done.counts_deleted == done.connections_deleted == done.pool_shapes_deleted == 1
    assert PoolShape.objects.get().refreshed_at == NOW - dt.timedelta(days=89)
    assert ConnectState.objects.get().key == "k1"
    assert SendCount.objects.get().minute == NOW - dt.timedelta(days=89)
    assert set(SendLog.objects.values_list("day", flat=True)) == {recent_day}
    reply.refresh_from_db()
    assert reply.in_reply_to is None  # the link to the deleted send is cleared
    assert list(DailyStat.objects.values_list("date", flat=True)) == [recent_day]
    assert RateWindow.objects.get().window_start == NOW
    assert prune_snapshots(NOW, 30) == 1
    assert MetricSnapshot.objects.count() == 1
