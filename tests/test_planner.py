"""Planning: idempotent, inside the window, ramped, and topped up within the cap."""

import datetime as dt

import pytest

from accounts.models import Mailbox, OwnerPlan
from warmup.engine.planner import plan_cycle
from warmup.models import DailyStat, SendLog, SendStatus

MONDAY = dt.datetime(2026, 6, 1, 0, 0, tzinfo=dt.UTC)
MARGIN = dt.timedelta(minutes=15)


def plan(now=MONDAY, floor=30):
    return plan_cycle(now, floor=floor, margin=MARGIN)


def test_planning_twice_changes_nothing(db, make_mailbox):
    boxes = [make_mailbox(timezone=tz) for tz in ("UTC", "Europe/Berlin", "America/New_York")]
    six = MONDAY + dt.timedelta(hours=6)  # before every window: 08:00 Berlin, 02:00 New York
    first = plan(six)
    assert first.mailboxes == 3 and first.slots == 90
    assert plan(six).slots == 0 and SendLog.objects.count() == 90
    for box in boxes:
        stat = DailyStat.objects.get(mailbox=box)
        assert (stat.quota, stat.reserved) == (30, 30)


def test_slots_follow_the_local_window_and_weekdays(db, make_mailbox):
    berlin = make_mailbox(timezone="Europe/Berlin", window_start_hour=9, window_end_hour=17)
    weekend_only = make_mailbox(window_weekdays=0b1100000)  # Saturday and Sunday
    plan(MONDAY + dt.timedelta(hours=2))  # 04:00 in Berlin (summer time)
    times = list(SendLog.objects.filter(sender=berlin).values_list("scheduled_at", flat=True))
    assert len(times) == 30
    assert min(times) >= dt.datetime(2026, 6, 1, 7, 0, tzinfo=dt.UTC)  # 09:00 CEST
    assert max(times) < dt.datetime(2026, 6, 1, 15, 0, tzinfo=dt.UTC) - MARGIN
    assert not SendLog.objects.filter(sender=weekend_only).exists()
    assert DailyStat.objects.get(mailbox=weekend_only).quota == 0


def test_quota_follows_the_ramp_and_the_plan(db, make_mailbox, owner):
    OwnerPlan.objects.create(owner=owner, max_daily_quota=40)
    young = make_mailbox(
        start_volume=30, daily_increase=5, daily_max=100, warmup_started_on=dt.date(2026, 5, 30)
    )  # day 2: 40
    old = make_mailbox(
        start_volume=30, daily_increase=5, daily_max=100, warmup_started_on=dt.date(2026, 1, 1)
    )  # plan caps at 40
    fresh = make_mailbox(start_volume=10, daily_increase=5, daily_max=100)  # floor: 30
    plan()
    quotas = dict(DailyStat.objects.values_list("mailbox_id", "quota"))
    assert quotas == {young.pk: 40, old.pk: 40, fresh.pk: 30}


def test_planned_late_spreads_over_what_is_left(db, make_mailbox):
    box = make_mailbox(window_start_hour=8, window_end_hour=18)
    noon = MONDAY + dt.timedelta(hours=12)
    plan(noon)
    times = list(SendLog.objects.filter(sender=box).values_list("scheduled_at", flat=True))
    assert len(times) == 30 and min(times) >= noon


@pytest.mark.parametrize(
    ("failed", "unknown", "daily_max", "added"),
    [
        (2, 0, 50, 2),  # replaced one for one
        (0, 3, 50, 3),  # unknown sends count as spent but not as accepted
        (5, 5, 30, 5),  # the cap: unknown 5 + live 20 + new ≤ 30 allows five of ten
        (0, 0, 50, 0),  # nothing to replace
    ],
)
def test_top_up_replaces_failures_within_the_cap(
    db, make_mailbox, failed, unknown, daily_max, added
):
    box = make_mailbox(daily_max=daily_max, window_start_hour=0, window_end_hour=24)
    plan()
    slots = list(SendLog.objects.filter(sender=box).order_by("slot_no"))
    for slot in slots[:failed]:
        slot.status = SendStatus.FAILED
    for slot in slots[failed : failed + unknown]:
        slot.status = SendStatus.UNKNOWN
    SendLog.objects.bulk_update(slots, ["status"])
    DailyStat.objects.filter(mailbox=box).update(failed=failed, unknown=unknown)

    result = plan(MONDAY + dt.timedelta(hours=6))
    assert result.topped_up == added
    assert SendLog.objects.filter(sender=box).count() == 30 + added
    assert DailyStat.objects.get(mailbox=box).reserved == 30 + added
    new = SendLog.objects.filter(sender=box, slot_no__gte=30)
    assert all(s.scheduled_at >= MONDAY + dt.timedelta(hours=6) for s in new)
    assert plan(MONDAY + dt.timedelta(hours=6)).topped_up == 0  # and only once


def test_the_search_for_unplanned_days_looks_each_mailbox_up(db, make_mailbox, owner):
    """A mailbox's planned days are looked up in the (mailbox, date) index, not found by
    hashing the whole DailyStat table (every day kept: 90 of them) at every chunk."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from warmup.engine.planner import PLAN_AHEAD, unplanned_mailboxes

    now = MONDAY + dt.timedelta(hours=22)  # three hours ahead is Tuesday
    boxes = [make_mailbox(timezone="UTC") for _ in range(3)]
    plan(now)
    DailyStat.objects.filter(mailbox=boxes[1]).delete()
    DailyStat.objects.filter(mailbox=boxes[2], date=now.date()).delete()
    # A network of some size, every other day planned: PostgreSQL would hash the table.
    many = Mailbox.objects.bulk_create(
        Mailbox(owner=owner, email=f"m{n}@many{n}.test", timezone="UTC", smtp_host="h")
        for n in range(1000)
    )
    DailyStat.objects.bulk_create(
        DailyStat(mailbox=box, date=day, quota=30)
        for box in many
        for day in (now.date(), (now + PLAN_AHEAD).date())
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE mailboxes; ANALYZE warmup_logs")
    with CaptureQueriesContext(connection) as queries:
        found = unplanned_mailboxes(now, ahead=PLAN_AHEAD, limit=200)
    later = (now + PLAN_AHEAD).date()
    assert {b["id"]: b["days"] for b in found} == {
        boxes[1].pk: sorted({now.date(), later}),
        boxes[2].pk: [now.date()],
    }
    (search,) = [q["sql"] for q in queries.captured_queries if "plan_cap" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + search)
        explained = "\n".join(row[0] for row in cursor.fetchall())
    assert "hashed SubPlan" not in explained
