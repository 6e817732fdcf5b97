"""The send log's daily partitions (warmup.partitions): made on demand and ahead, rows of a
day without one caught by the default partition and moved when it comes, old days
dropped whole by maintenance; and one reply per send without a unique index."""

from __future__ import annotations

import datetime as dt
import threading
import zoneinfo
from typing import Any

import pytest
from django.db import IntegrityError, connection, connections, transaction

from tests.sessions import holding
from warmup import partitions, sql
from warmup.engine.maintenance import LOG_RETENTION_DAYS, run_maintenance
from warmup.models import SendLog, SendStatus
from warmup_project.config import WarmupConfig

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


def slot(sender: Any, n: int, day: dt.date, **fields: Any) -> SendLog:
    return SendLog.objects.create(
        sender=sender,
        day=day,
        slot_no=n,
        scheduled_at=NOW,
        timestamp=NOW,
        **fields,
    )


def where(row: SendLog) -> str:
    """The partition holding the row."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM logs WHERE id = %s", [row.id])
        return cursor.fetchone()[0]


def days_ago(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


@pytest.mark.django_db
def test_a_day_without_a_partition_is_caught_by_the_default_one_and_moved_when_it_comes(
    make_mailbox: Any,
) -> None:
    box = make_mailbox()
    day = dt.date(2031, 3, 4)  # far from any partition made ahead
    early = slot(box, 0, day)
    assert where(early) == "logs_default"

    assert partitions.ensure([day]) == 1
    assert where(early) == "logs_20310304"  # moved, with its id
    later = slot(box, 1, day)
    assert where(later) == "logs_20310304"
    assert partitions.ensure([day]) == 0  # seen: nothing asked of the database
    partitions.forget()
    assert partitions.ensure([day]) == 0  # found in the database, not made twice
    # The day's unique key holds across the move.
    with pytest.raises(IntegrityError, match=r"logs_.*sender_id_day_slot_no"), transaction.atomic():
        slot(box, 0, day)


@pytest.mark.django_db
def test_the_planner_makes_the_days_partitions_before_their_rows() -> None:
    from warmup.engine.planner import plan_cycle

    plan_cycle(NOW, floor=30, margin=dt.timedelta(minutes=5))

    days = partitions.partition_days()
    for n in range(-1, 2 + partitions.AHEAD_DAYS):
        assert TODAY + dt.timedelta(days=n) in days


@pytest.mark.django_db
def test_retention_drops_old_days_partitions_and_keeps_recent_ones(make_mailbox: Any) -> None:
    box = make_mailbox()
    cutoff = LOG_RETENTION_DAYS
    old, recent = [days_ago(cutoff + 5), days_ago(cutoff + 1)], [days_ago(cutoff), TODAY]
    partitions.ensure([*old, *recent])
    for day in [*old, *recent]:
        for n in range(3):
            slot(box, n, day, status=SendStatus.SENT)
    stray = slot(box, 0, days_ago(cutoff + 30))  # an old day without a partition
    kept_stray = slot(box, 0, dt.date(2031, 3, 4))  # a future one, in the default too
    assert where(stray) == where(kept_stray) == "logs_default"
    reply = slot(box, 3, recent[0], in_reply_to_id=SendLog.objects.filter(day=old[1]).first().id)
    with connection.cursor() as cursor:
        # Deferred foreign-key checks of this test's inserts would block DROP TABLE (in
        # production the rows were committed days ago).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    done = run_maintenance(NOW, WarmupConfig())

    assert done.log_partitions_dropped == 2
    assert done.logs_deleted == 2 * 3 + 1
    days = partitions.partition_days()
    assert not set(old) & set(days)
    assert set(recent) <= set(days)
    assert set(SendLog.objects.values_list("day", flat=True)) == {*recent, kept_stray.day}
    assert SendLog.objects.filter(day=recent[0]).count() == 4
    # Made ahead for the coming days.
    assert TODAY + dt.timedelta(days=partitions.AHEAD_DAYS) in days
    assert done.log_partitions_created >= partitions.AHEAD_DAYS
    # A reply to a send of a dropped day keeps its link, to nothing.
    reply.refresh_from_db()
    assert reply.in_reply_to_id is not None
    assert not SendLog.objects.filter(id=reply.in_reply_to_id).exists()
    assert run_maintenance(NOW, WarmupConfig()).log_partitions_dropped == 0


@pytest.mark.django_db
def test_each_partition_keeps_the_logs_storage_settings_and_indexes(make_mailbox: Any) -> None:
    partitions.ensure([TODAY])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.reloptions FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'logs'::regclass"
        )
        options = dict(cursor.fetchall())
        cursor.execute(
            "SELECT indexrelid::regclass::text, indisunique, indpred IS NOT NULL FROM pg_index "
            "WHERE indrelid = 'logs_20260601'::regclass"
        )
        indexes = cursor.fetchall()
    assert set(options) >= {"logs_default", "logs_20260601"}
    for name, values in options.items():
        assert "autovacuum_vacuum_scale_factor=0.01" in values, name
    # The primary key, the unique key and the parent's five indexes.
    assert len(indexes) == 7
    # Every other index is partial: a slot's updates (never HOT) write an entry only in
    # those its row then matches.
    full = [name for name, unique, partial in indexes if not unique and not partial]
    assert full == []


@pytest.mark.django_db(transaction=True)
def test_a_send_is_marked_replied_to_once_whoever_asks_at_the_same_time(
    make_mailbox: Any,
) -> None:
    box = make_mailbox()
    original = slot(box, 0, TODAY, status=SendStatus.SENT)
    theirs: list[set[int]] = []
    first_marked = threading.Event()

    def other_session() -> None:
        try:
            first_marked.wait()
            # Waits on the row the first session holds, then finds it marked.
            theirs.append(sql.mark_reply_planned([(original.id, TODAY)]))
        finally:
            connections.close_all()

    other = threading.Thread(target=other_session)
    other.start()
    with transaction.atomic():
        ours = sql.mark_reply_planned([(original.id, TODAY)])
        first_marked.set()
    other.join()

    assert (ours, theirs) == ({original.id}, [set()])
    assert sql.mark_reply_planned([(original.id, TODAY)]) == set()


def test_thread_links_are_followed_over_every_day_an_original_can_lie() -> None:
    from warmup.engine import engage, threads

    seen_and_sent = engage.REPLY_LOOKBACK + engage.RECEIVED_WINDOW
    assert seen_and_sent + dt.timedelta(days=2) <= threads.ORIGINAL_DAYS_BEFORE
    # The original sent by a mailbox on UTC+14 a moment before a mailbox on UTC−12
    # replies: its local date is two days after the reply's.
    before = dt.datetime(2026, 1, 2, 10, 30, tzinfo=dt.UTC)
    east = before.astimezone(zoneinfo.ZoneInfo("Etc/GMT-14")).date()
    west = (before + dt.timedelta(minutes=5)).astimezone(zoneinfo.ZoneInfo("Etc/GMT+12")).date()
    assert east - west == dt.timedelta(days=2) <= threads.ORIGINAL_DAYS_AFTER


@pytest.mark.django_db(transaction=True)
def test_a_partition_whose_locks_are_busy_is_made_later_not_waited_for(
    make_mailbox: Any,
) -> None:
    box = make_mailbox()
    day = dt.date(2032, 5, 6)
    early = slot(box, 0, day)
    # A recording session holds mailbox rows: attaching (which locks `mailboxes` for the
    # foreign keys) cannot go on, so it gives up after its lock timeout, changing nothing.
    busy = holding(f"UPDATE mailboxes SET consecutive_failures = 0 WHERE id = {box.id}")
    try:
        assert partitions.ensure([day]) == 0
        assert where(early) == "logs_default"
    finally:
        busy.close()
    assert partitions.ensure([day]) == 1  # asked again, made
    assert where(early) == "logs_20320506"


@pytest.mark.django_db(transaction=True)
def test_retention_gives_up_on_a_busy_send_log_and_drops_the_day_later(
    make_mailbox: Any,
) -> None:
    box = make_mailbox()
    old = days_ago(LOG_RETENTION_DAYS + 5)
    partitions.ensure([old])
    slot(box, 0, old)
    reader = holding("SELECT count(*) FROM logs")  # a long read, like the pool figures
    try:
        assert partitions.drop_before(days_ago(LOG_RETENTION_DAYS)) == partitions.Dropped(0, 0)
    finally:
        reader.close()
    assert partitions.drop_before(days_ago(LOG_RETENTION_DAYS)) == partitions.Dropped(1, 1)
