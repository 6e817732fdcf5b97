"""Recording outcomes in bulk: slot rows, DailyStat counters, quota_met and streaks, and
the mailbox's failure state. Runs on whichever database the suite runs on."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from django.db import connection

from accounts import status as mailbox_status
from accounts.models import FAILURES_BEFORE_ERROR
from accounts.transport.smtp import Outcome, Result
from tests.sessions import holding
from warmup.engine.record import Sent, record_results
from warmup.models import DailyStat, SendCount, SendLog, SendStatus, SendTotal

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


def claimed(sender: Any, count: int, first: int = 0) -> list[SendLog]:
    return [
        SendLog.objects.create(
            sender=sender,
            day=TODAY,
            slot_no=first + n,
            status=SendStatus.SENDING,
            attempts=1,
            scheduled_at=NOW - dt.timedelta(minutes=5),
            timestamp=NOW,
        )
        for n in range(count)
    ]


def outcome(slot: SendLog, recipient: Any, kind: Outcome, code: int | None, text: str) -> Sent:
    return Sent(
        Result(slot.id, kind, code, text),
        slot.day,
        slot.sender_id,
        recipient.id,
        f"<{slot.id}@example.test>",
        f"<{slot.id}@example.test>",
        slot.attempts,
        slot.scheduled_at,
        slot.sender.timezone,
    )


def test_slots_counters_and_received(make_mailbox: Any) -> None:
    sender, recipient = make_mailbox(), make_mailbox()
    sent, deferred, failed, unknown = claimed(sender, 4)
    counts = record_results(
        NOW,
        [
            outcome(sent, recipient, Outcome.SENT, 250, "250 OK"),
            outcome(deferred, recipient, Outcome.DEFERRED, 421, "421 try later"),
            outcome(failed, recipient, Outcome.FAILED, 550, "550 refused"),
            outcome(unknown, recipient, Outcome.UNKNOWN, None, "no reply to DATA"),
        ],
        random.Random(1),
    )
    assert counts == {"sent": 1, "deferred": 1, "failed": 1, "unknown": 1, "paused": 0}
    rows = {s.id: s for s in SendLog.objects.all()}
    assert rows[sent.id].status == SendStatus.SENT
    assert rows[sent.id].recipient_id == recipient.id
    assert rows[sent.id].message_id == f"<{sent.id}@example.test>"
    assert rows[sent.id].sent_at == NOW
    assert rows[sent.id].smtp_error == ""
    assert rows[deferred.id].status == SendStatus.DEFERRED
    assert rows[deferred.id].scheduled_at > NOW
    assert rows[deferred.id].recipient_id is None
    assert rows[deferred.id].smtp_error == "421 try later"
    assert rows[failed.id].status == SendStatus.FAILED
    assert rows[failed.id].smtp_code == 550
    assert rows[unknown.id].status == SendStatus.UNKNOWN
    assert rows[unknown.id].recipient_id == recipient.id  # it may have arrived
    stat = DailyStat.objects.get(mailbox=sender, date=TODAY)
    assert (stat.sent, stat.deferred, stat.failed, stat.unknown) == (1, 1, 1, 1)
    # Only an accepted send counts as received, on a row created for the recipient.
    assert DailyStat.objects.get(mailbox=recipient, date=TODAY).received == 1
    sender.refresh_from_db()
    # In slot order: the success resets, the 421 and the 550 count, unknown does not.
    assert sender.consecutive_failures == 2
    assert sender.last_error == "550 refused"
    assert sender.status == mailbox_status.ACTIVE


def test_a_row_reaching_its_quota_gets_quota_met_and_continues_the_streak(
    make_mailbox: Any,
) -> None:
    sender, recipient = make_mailbox(), make_mailbox()
    DailyStat.objects.create(
        mailbox=sender, date=TODAY - dt.timedelta(days=1), quota=3, sent=3, quota_met=True, streak=4
    )
    DailyStat.objects.create(mailbox=sender, date=TODAY, quota=3, reserved=3, sent=1)
    first, second = claimed(sender, 2, first=1)
    record_results(NOW, [outcome(first, recipient, Outcome.SENT, 250, "OK")], random.Random(1))
    stat = DailyStat.objects.get(mailbox=sender, date=TODAY)
    assert (stat.sent, stat.quota_met, stat.streak) == (2, False, 0)
    record_results(NOW, [outcome(second, recipient, Outcome.SENT, 250, "OK")], random.Random(1))
    stat.refresh_from_db()
    assert (stat.sent, stat.quota_met, stat.streak) == (3, True, 5)


def test_a_streak_starts_at_one_after_a_day_below_quota(make_mailbox: Any) -> None:
    sender, recipient = make_mailbox(), make_mailbox()
    DailyStat.objects.create(
        mailbox=sender, date=TODAY - dt.timedelta(days=1), quota=3, sent=2, streak=0
    )
    DailyStat.objects.create(mailbox=sender, date=TODAY, quota=1, reserved=1)
    (slot,) = claimed(sender, 1)
    record_results(NOW, [outcome(slot, recipient, Outcome.SENT, 250, "OK")], random.Random(1))
    stat = DailyStat.objects.get(mailbox=sender, date=TODAY)
    assert (stat.quota_met, stat.streak) == (True, 1)


def test_only_slots_still_sending_are_recorded(make_mailbox: Any) -> None:
    sender, recipient = make_mailbox(), make_mailbox()
    (slot,) = claimed(sender, 1)
    SendLog.objects.filter(id=slot.id).update(status=SendStatus.UNKNOWN)  # a reaper got it
    counts = record_results(
        NOW, [outcome(slot, recipient, Outcome.SENT, 250, "OK")], random.Random(1)
    )
    assert counts["sent"] == 0
    assert SendLog.objects.get(id=slot.id).status == SendStatus.UNKNOWN
    assert not DailyStat.objects.filter(mailbox=sender).exists()


def test_a_success_clears_the_failure_count_and_repeated_hard_failures_stop_the_mailbox(
    make_mailbox: Any,
) -> None:
    healthy, failing, recipient = make_mailbox(), make_mailbox(), make_mailbox()
    healthy.consecutive_failures = 3
    healthy.save()
    sends = [outcome(s, recipient, Outcome.SENT, 250, "OK") for s in claimed(healthy, 1)]
    sends += [
        outcome(s, recipient, Outcome.FAILED, 550, "550 no such user")
        for s in claimed(failing, FAILURES_BEFORE_ERROR)
    ]
    counts = record_results(NOW, sends, random.Random(1))
    assert counts["paused"] == 1
    healthy.refresh_from_db()
    failing.refresh_from_db()
    assert healthy.consecutive_failures == 0
    assert healthy.status == mailbox_status.ACTIVE
    assert failing.status == mailbox_status.ERROR
    assert failing.consecutive_failures == FAILURES_BEFORE_ERROR
    assert "550 no such user" in failing.status_reason
    assert failing.status_changed_at == NOW


def test_lifetime_totals_add_up_across_batches(make_mailbox: Any) -> None:
    sender, recipient = make_mailbox(), make_mailbox()
    first = claimed(sender, 3)
    record_results(
        NOW,
        [
            outcome(first[0], recipient, Outcome.SENT, 250, "250 OK"),
            outcome(first[1], recipient, Outcome.SENT, 250, "250 OK"),
            outcome(first[2], recipient, Outcome.FAILED, 550, "550 refused"),
        ],
        random.Random(1),
    )
    second = claimed(sender, 2, first=3)
    record_results(
        NOW,
        [
            outcome(second[0], recipient, Outcome.SENT, 250, "250 OK"),
            outcome(second[1], recipient, Outcome.UNKNOWN, None, "no reply to DATA"),
        ],
        random.Random(1),
    )
    totals = dict(SendTotal.objects.values_list("status", "total"))
    assert totals == {"sent": 3, "failed": 1, "unknown": 1}
    # The same attempts per minute of recording (both batches at NOW: one minute).
    minute = NOW.replace(second=0, microsecond=0)
    assert dict(SendCount.objects.filter(minute=minute).values_list("status", "count")) == totals
    record_results(
        NOW + dt.timedelta(minutes=3),
        [outcome(s, recipient, Outcome.SENT, 250, "250 OK") for s in claimed(sender, 1, first=5)],
        random.Random(1),
    )
    assert SendCount.objects.get(minute=minute + dt.timedelta(minutes=3)).count == 1
    assert SendTotal.objects.get(status="sent").total == 4
    # Pruning the day's rows does not take anything back.
    SendLog.objects.all().delete()
    DailyStat.objects.all().delete()
    assert SendTotal.objects.get(status="sent").total == 4


def test_a_slot_given_back_meanwhile_is_left_as_it_is_and_counts_nowhere(
    make_mailbox: Any,
) -> None:
    """A reaper may give back a slot between its send and its record (its worker was
    presumed dead): recording writes only the slots still `sending`, in the statement
    that locks them, and counts only those."""
    sender, recipient = make_mailbox(), make_mailbox()
    kept, given_back = claimed(sender, 2)
    SendLog.objects.filter(id=given_back.id).update(status=SendStatus.UNKNOWN)
    counts = record_results(
        NOW,
        [
            outcome(kept, recipient, Outcome.SENT, 250, "250 OK"),
            outcome(given_back, recipient, Outcome.SENT, 250, "250 OK"),
        ],
        random.Random(1),
    )
    assert counts["sent"] == 1
    given_back.refresh_from_db()
    assert (given_back.status, given_back.message_id, given_back.sent_at) == (
        SendStatus.UNKNOWN,
        "",
        None,
    )
    kept.refresh_from_db()
    assert kept.status == SendStatus.SENT
    assert DailyStat.objects.get(mailbox=sender).sent == 1
    assert DailyStat.objects.get(mailbox=recipient).received == 1


@pytest.mark.django_db(transaction=True)
def test_recording_does_not_wait_for_another_sessions_foreign_key_locks(
    make_mailbox: Any,
) -> None:
    """Another worker's transaction that sent to these mailboxes (its slots' and days'
    foreign keys hold key-share locks on them) must not hold up recording's locks on the
    same mailboxes: recording took FOR UPDATE there, which waits for key-share locks, and
    two workers recording at once deadlocked (simulate_day --workers 2 found it)."""
    healthy, failing, recipient = make_mailbox(), make_mailbox(), make_mailbox()
    healthy.consecutive_failures = 3
    healthy.save()
    sends = [outcome(s, recipient, Outcome.SENT, 250, "OK") for s in claimed(healthy, 1)]
    sends += [outcome(s, recipient, Outcome.FAILED, 550, "550 no") for s in claimed(failing, 1)]
    # What a foreign-key check takes on each mailbox, held in an open transaction.
    other = holding(
        "SELECT 1 FROM mailboxes WHERE id = ANY(%s) FOR KEY SHARE",
        [[healthy.id, failing.id, recipient.id]],
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
        record_results(NOW, sends, random.Random(1))  # a lock timeout fails the test
    finally:
        other.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    healthy.refresh_from_db()
    failing.refresh_from_db()
    assert healthy.consecutive_failures == 0
    assert failing.consecutive_failures == 1


def test_slots_left_when_their_day_ended_expire_recent_days_at_a_plan_all_at_maintenance(
    make_mailbox: Any,
) -> None:
    """A plan expires the stale slots of the days in flight (their partitions only); the
    daily maintenance also those of days that ended while the engine was down."""
    from warmup.engine.record import expire_stale_slots

    box = make_mailbox(timezone="UTC")

    def waiting(day: dt.date) -> SendLog:
        return SendLog.objects.create(
            sender=box,
            day=day,
            slot_no=0,
            status=SendStatus.PLANNED,
            scheduled_at=dt.datetime.combine(day, dt.time(15), tzinfo=dt.UTC),
            timestamp=NOW,
        )

    today, yesterday, long_ago = (
        waiting(TODAY),
        waiting(TODAY - dt.timedelta(days=1)),
        waiting(TODAY - dt.timedelta(days=5)),
    )
    assert expire_stale_slots(NOW) == 1
    assert expire_stale_slots(NOW, every_day=True) == 1
    statuses = dict(SendLog.objects.values_list("id", "status"))
    assert statuses[today.id] == SendStatus.PLANNED  # its day is not over
    assert statuses[yesterday.id] == statuses[long_ago.id] == SendStatus.FAILED
