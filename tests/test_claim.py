"""Claiming due slots under rate budgets, alone and with concurrent claimers."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from warmup import partitions
from warmup.engine.claim import Shard, claim_slots
from warmup.engine.limits import Limits, grant
from warmup.engine.record import EXPIRED
from warmup.models import RateWindow, SendLog, SendStatus

NOW = dt.datetime(2026, 11, 28, 12, 30, 15, tzinfo=dt.UTC)
WIDE = Limits(per_minute=10_000, per_hour=10_000, per_user_hour=10_000)


@given(
    owners=st.lists(st.integers(1, 5), max_size=60),
    minute=st.integers(0, 40),
    hour=st.integers(0, 40),
    user=st.integers(0, 10),
)
def test_grant_respects_every_budget(owners, minute, hour, user):
    granted = grant(
        owners, minute_left=minute, hour_left=hour, user_left=dict.fromkeys(owners, user)
    )
    taken = [o for o, ok in zip(owners, granted, strict=True) if ok]
    assert len(taken) <= min(minute, hour)
    assert all(taken.count(o) <= user for o in set(taken))
    # greedy in priority order: a refused candidate had no budget left at its turn
    assert len(taken) == min(len(owners), minute, hour) or user < len(owners)


def make_slots(mailboxes, per_mailbox, scheduled_at=NOW - dt.timedelta(minutes=5)):
    SendLog.objects.bulk_create(
        SendLog(sender=box, day=NOW.date(), slot_no=n, scheduled_at=scheduled_at, timestamp=NOW)
        for box in mailboxes
        for n in range(per_mailbox)
    )


def test_claims_only_due_slots_oldest_first(db, make_mailbox):
    box = make_mailbox()
    make_slots([box], 3)
    SendLog.objects.filter(slot_no=2).update(scheduled_at=NOW + dt.timedelta(minutes=1))
    SendLog.objects.filter(slot_no=1).update(scheduled_at=NOW - dt.timedelta(hours=1))
    ids = claim_slots(NOW, worker="w1", limit=10, limits=WIDE)
    claimed = SendLog.objects.filter(id__in=ids).order_by("scheduled_at")
    assert [s.slot_no for s in claimed] == [1, 0]
    assert all(
        s.status == SendStatus.SENDING and s.attempts == 1 and s.worker == "w1" for s in claimed
    )
    assert claim_slots(NOW, worker="w2", limit=10, limits=WIDE) == []  # nothing left due


def test_paused_mailboxes_are_not_claimed(db, make_mailbox):
    make_slots([make_mailbox(status="paused"), make_mailbox(warmup_enabled=False)], 2)
    assert claim_slots(NOW, worker="w", limit=10, limits=WIDE) == []


def test_a_slot_whose_day_is_over_for_its_sender_is_failed_not_claimed(db, make_mailbox):
    """A slot given back after its sender's day ended (a release, the reaper) is still due
    on its day: the claim fails it as expired instead of sending it a day late, and it
    takes no budget."""
    here = make_mailbox(timezone="UTC")
    # At 12:30 UTC it is already 02:30 on the next day on Kiritimati (UTC+14).
    ahead = make_mailbox(timezone="Pacific/Kiritimati")
    make_slots([here], 2)
    # More stale slots than a batch, due before the others: the claim still takes these.
    make_slots([ahead], 3, scheduled_at=NOW - dt.timedelta(minutes=10))
    ids = claim_slots(NOW, worker="w", limit=2, limits=WIDE)
    assert set(ids) == set(SendLog.objects.filter(sender=here).values_list("id", flat=True))
    stale = SendLog.objects.filter(sender=ahead)
    assert {(s.status, s.smtp_error, s.attempts) for s in stale} == {
        (SendStatus.FAILED, EXPIRED, 0)
    }
    assert RateWindow.objects.get(key="global:minute").used == 2


def test_budgets_hold_back_what_they_do_not_allow(db, make_mailbox, django_user_model):
    other = django_user_model.objects.create_user("other")
    mine, theirs = make_mailbox(), make_mailbox(owner=other)
    make_slots([mine, theirs], 10)
    limits = Limits(per_minute=8, per_hour=100, per_user_hour=5)
    ids = claim_slots(NOW, worker="w", limit=100, limits=limits)
    assert len(ids) == 8
    by_owner = SendLog.objects.filter(id__in=ids).values_list("sender__owner_id", flat=True)
    assert max(list(by_owner).count(o) for o in set(by_owner)) <= 5
    assert SendLog.objects.filter(status=SendStatus.PLANNED).count() == 12  # held back, not lost
    assert claim_slots(NOW, worker="w", limit=100, limits=limits) == []  # minute spent
    later = NOW + dt.timedelta(minutes=1)
    assert len(claim_slots(later, worker="w", limit=100, limits=limits)) == 2  # user-hour spent
    assert RateWindow.objects.get(key="global:hour").used == 10


@pytest.mark.django_db(transaction=True)
def test_concurrent_claimers_never_share_a_slot_nor_pass_the_limit(make_mailbox, django_user_model):
    owners = [django_user_model.objects.create_user(f"o{i}") for i in range(4)]
    boxes = [make_mailbox(owner=owners[i % 4]) for i in range(40)]
    make_slots(boxes, 10)  # 400 due slots
    limits = Limits(per_minute=50, per_hour=100_000, per_user_hour=100_000)
    claimed: list[list[int]] = [[] for _ in range(8)]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def claimer(n: int) -> None:
        try:
            start.wait()
            for minute in range(3):  # three minutes, each worker claiming repeatedly
                at = NOW + dt.timedelta(minutes=minute)
                for _ in range(5):
                    claimed[n].extend(claim_slots(at, worker=f"w{n}", limit=7, limits=limits))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    every = [i for ids in claimed for i in ids]
    assert len(every) == len(set(every))  # no slot claimed twice
    assert len(every) == 150  # 50 a minute for three minutes, no more
    per_minute = {}
    for claimed_at in SendLog.objects.filter(status=SendStatus.SENDING).values_list(
        "claimed_at", flat=True
    ):
        key = claimed_at.replace(second=0, microsecond=0)
        per_minute[key] = per_minute.get(key, 0) + 1
    assert sorted(per_minute.values()) == [50, 50, 50]
    rows = SendLog.objects.filter(id__in=every)
    assert {r.worker for r in rows} <= {f"w{n}" for n in range(8)}
    assert all(r.attempts == 1 for r in rows)


def test_the_claim_reads_the_claim_index_in_order_and_stops_at_its_batch(db, make_mailbox):
    """The plan of the claim as it runs (its SET LOCAL before it): the claim index in
    `scheduled_at` order, no sort nor hash join, however few rows PostgreSQL expects
    (here: a handful of the day's slots left due, as late in a busy hour), and only the
    partitions of days in flight."""
    partitions.ensure(NOW.date() + dt.timedelta(days=k) for k in range(-3, 4))
    boxes = [make_mailbox() for _ in range(30)]
    make_slots(boxes, 100)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE logs")  # every slot due: then most are claimed and sent
    SendLog.objects.exclude(slot_no=0).update(status=SendStatus.SENT)
    with CaptureQueriesContext(connection) as queries:
        assert len(claim_slots(NOW, worker="w", limit=1000, limits=WIDE, shard=Shard(1, 2))) == 30
    sent = [q["sql"] for q in queries.captured_queries]
    first = next(i for i, s in enumerate(sent) if "SKIP LOCKED" in s)
    with connection.cursor() as cursor:
        for statement in sent[: first + 1]:
            if statement.startswith("SET LOCAL"):
                cursor.execute(statement)
        cursor.execute(f"EXPLAIN {sent[first]}")
        plan = "\n".join(row for (row,) in cursor.fetchall())
    nodes = [line.strip().removeprefix("->  ").split("  (")[0] for line in plan.splitlines()]
    assert not [n for n in nodes if n == "Sort" or "Hash" in n], plan
    assert "Index Scan using" in plan and "scheduled_at_idx" in plan, plan
    # Only the days whose slots can be due: not the older ones, nor the days ahead.
    read = {name for name in partitions.partition_days().values() if f"{name} " in plan}
    days = {NOW.date() + dt.timedelta(days=k) for k in (-1, 0, 1)}
    assert read == {partitions.partition_name(day) for day in days}
