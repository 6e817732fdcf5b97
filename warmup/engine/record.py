"""Recording what the transport reported, in bulk: slot statuses, DailyStat counters,
streaks, and each mailbox's failure state (with the circuit breaker that pauses it).

What one mailbox's server or settings did stays with that mailbox: a host that cannot
be used stops it at once (`error`, with the reason); an unexpected error counts toward
its circuit breaker like a hard failure; a server too slow to answer pushes its
mailbox's waiting slots back, so the next batches are not held by it again."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F

from accounts import status as mailbox_status
from accounts.models import SENDING_STATE_FIELDS, Mailbox
from accounts.sql import timezones_in_use
from accounts.transport.smtp import Outcome, Result
from warmup import partitions, sql
from warmup.engine import pacing
from warmup.engine.counters import count_attempts
from warmup.engine.planner import local_date_expression, local_dates
from warmup.models import CLAIMABLE_STATUSES, SendLog, SendStatus

_SLOT_STATUS = {
    Outcome.SENT: SendStatus.SENT,
    Outcome.FAILED: SendStatus.FAILED,
    Outcome.QUOTA: SendStatus.FAILED,
    Outcome.UNKNOWN: SendStatus.UNKNOWN,
    Outcome.DEFERRED: SendStatus.DEFERRED,
    Outcome.AUTH_FAILED: SendStatus.DEFERRED,  # nothing was sent; retried once resumed
    Outcome.HOST_REFUSED: SendStatus.DEFERRED,  # nothing was sent; retried once fixed
    Outcome.ERROR: SendStatus.DEFERRED,  # nothing handed over (else the result is unknown)
}
# Outcomes that count toward the circuit breaker: the server or the mailbox failed.
_HARD_FAILURES = (Outcome.FAILED, Outcome.ERROR)
# Outcomes after which the mailbox stops at once (circuit breaker): status, reason.
_STOPS = {
    Outcome.HOST_REFUSED: (mailbox_status.ERROR, "{}"),
    Outcome.AUTH_FAILED: (mailbox_status.PAUSED, "SMTP login refused: {}"),
    Outcome.QUOTA: (mailbox_status.PAUSED, "provider sending quota reached: {}"),
}
# What recording writes to a slot, in the order of the rows it builds.
_RECORDED = (
    "id",
    "day",
    "status",
    "smtp_code",
    "smtp_error",
    "timestamp",
    "scheduled_at",
    "recipient_id",
    "message_id",
    "thread_id",
    "sent_at",
)
_STAT_FIELD = {
    SendStatus.SENT: "sent",
    SendStatus.FAILED: "failed",
    SendStatus.UNKNOWN: "unknown",
    SendStatus.DEFERRED: "deferred",
}


@dataclass(frozen=True)
class Sent:
    """What the cycle knows of one attempted slot besides the transport's result."""

    result: Result
    day: dt.date  # the slot's: with its id, what finds it in its day's partition
    sender_id: int
    recipient_id: int | None
    message_id: str
    thread_id: str
    # The slot as claimed (attempts counts this one) and its sender's time zone: what
    # a deferral needs (its backoff, and whether it would pass the end of the day).
    attempts: int
    scheduled_at: dt.datetime
    timezone: str


def end_of_day(day: dt.date, timezone: str) -> dt.datetime:
    return pacing.sending_window(day, timezone, 0, 24).end


def record_results(now: dt.datetime, sends: Sequence[Sent], rng: random.Random) -> Counter[str]:
    """Write every outcome; returns counts by outcome for the cycle's log line. A slot no
    longer `sending` (a reaper gave it back meanwhile) is left as it is, and counts
    nowhere."""
    if not sends:
        return Counter()
    rows = []
    written: dict[int, tuple[SendStatus, Sent]] = {}
    for send in sorted(sends, key=lambda s: s.result.slot_id):
        result = send.result
        status = _SLOT_STATUS[result.outcome]
        error = "" if result.outcome is Outcome.SENT else result.text
        scheduled_at = send.scheduled_at
        if status == SendStatus.DEFERRED:
            scheduled_at = now + pacing.backoff(send.attempts, rng)
            if scheduled_at >= end_of_day(send.day, send.timezone):
                status = SendStatus.FAILED  # the day is a slot's lifetime
                error = f"{result.text} (deferred past the end of its day)".strip()
        delivered = status in (SendStatus.SENT, SendStatus.UNKNOWN)
        rows.append(
            (
                result.slot_id,
                send.day,
                status,
                result.code,
                error,
                now,
                scheduled_at,
                send.recipient_id if delivered else None,
                send.message_id if delivered else "",
                send.thread_id if delivered else "",
                now if delivered else None,
            )
        )
        written[result.slot_id] = (status, send)
    with transaction.atomic():
        # One statement finds, locks and writes the slots (no SELECT … FOR UPDATE first).
        recorded = sql.record_slots(_RECORDED, rows)
        statuses: Counter[str] = Counter()
        stat_deltas: dict[tuple[int, dt.date], Counter[str]] = defaultdict(Counter)
        mailbox_events: dict[int, list[Result]] = defaultdict(list)
        received: list[Sent] = []
        for slot_id in sorted(recorded):
            status, send = written[slot_id]
            statuses[str(status)] += 1
            stat_deltas[(send.sender_id, send.day)][_STAT_FIELD[status]] += 1
            mailbox_events[send.sender_id].append(send.result)
            if status == SendStatus.SENT:
                received.append(send)
        _count_received(now, received, stat_deltas)
        _apply_stat_deltas(stat_deltas)
        paused = _update_mailboxes(now, mailbox_events, rng)
        count_attempts(now, statuses)  # last: its few shared rows stay locked the least time
    statuses["paused"] = paused
    return statuses


def _count_received(
    now: dt.datetime, sent: Sequence[Sent], deltas: dict[tuple[int, dt.date], Counter[str]]
) -> None:
    recipients = Counter(s.recipient_id for s in sent if s.recipient_id)
    if not recipients:
        return
    zones = dict(Mailbox.objects.filter(id__any=recipients).values_list("id", "timezone"))
    for recipient_id, count in recipients.items():
        day = pacing.local_date(now, zones[recipient_id])
        deltas[(recipient_id, day)]["received"] += count


def _apply_stat_deltas(deltas: dict[tuple[int, dt.date], Counter[str]]) -> None:
    """Add the counters to the DailyStat rows, created where missing, in one statement
    whatever the number of mailboxes; a row reaching its quota gets quota_met and its
    streak (yesterday's streak + 1). Rows are taken in (mailbox, date) order, so two
    workers recording at once wait for each other instead of deadlocking."""
    sql.add_recorded_to_days(
        [
            (
                mailbox_id,
                day,
                day - dt.timedelta(days=1),
                *(delta[c] for c in sql.RECORDED_COUNTERS),
            )
            for (mailbox_id, day), delta in sorted(deltas.items())
        ]
    )


def add_to_days(counts: Counter[tuple[int, dt.date]], column: str) -> None:
    """Add to one DailyStat counter of each (mailbox, date), creating missing rows. One
    INSERT … ON CONFLICT taking the rows in (mailbox, date) order, like recording does,
    so concurrent sessions queue for shared rows instead of deadlocking; callers run
    it in a transaction of its own (no other DailyStat lock held)."""
    sql.add_to_days(column, [(m, d, n) for (m, d), n in sorted(counts.items())])


def _update_mailboxes(now: dt.datetime, events: dict[int, list[Result]], rng: random.Random) -> int:
    """Failure state, circuit breaker and slow-server backoff; returns how many mailboxes
    it stopped.

    Most mailboxes of a batch only sent: their failure count goes back to 0 in one
    statement, which also locks the few with a failure (all in id order); those are then
    loaded and judged one by one."""
    troubled = {
        mailbox_id
        for mailbox_id, results in events.items()
        if any(r.outcome not in (Outcome.SENT, Outcome.UNKNOWN) for r in results)
    }
    clean = [
        mailbox_id
        for mailbox_id, results in events.items()
        if mailbox_id not in troubled and any(r.outcome is Outcome.SENT for r in results)
    ]
    if clean:
        Mailbox.objects.count_success(clean, judged_next=sorted(troubled))
    if not troubled:
        return 0
    boxes = (
        Mailbox.objects.select_for_update(no_key=True)  # as COUNT_SUCCESS_LOCKING
        .filter(id__in=troubled)
        .only(*_MAILBOX_STATE)
        .order_by("id")
    )
    changed = []
    slow: list[tuple[int, dt.datetime]] = []
    stopped = 0
    for box in boxes:
        was_active = box.status == mailbox_status.ACTIVE
        for result in events[box.id]:
            if result.outcome is Outcome.SENT:
                box.count_success()
            elif result.outcome is not Outcome.UNKNOWN:  # unknown: not the mailbox's fault
                status, reason = _STOPS.get(result.outcome, ("", ""))
                box.count_failure(
                    result.text,
                    now,
                    hard=result.outcome in _HARD_FAILURES,
                    stop=(status, reason.format(result.text)) if status else None,
                )
        stopped += was_active and box.status != mailbox_status.ACTIVE
        changed.append(tuple(getattr(box, name) for name in _MAILBOX_STATE))
        if any(r.slow for r in events[box.id]):
            # A server that kept a batch waiting: its mailbox's waiting slots wait out the
            # backoff of its failures in a row, so the next batches are not held by it.
            slow.append((box.id, now + pacing.backoff(box.consecutive_failures, rng)))
    sql.update_rows(Mailbox, _MAILBOX_STATE, changed)
    sql.postpone_waiting_slots(slow)
    return stopped


_MAILBOX_STATE = ("id", *SENDING_STATE_FIELDS)


# What a slot left waiting when its sender's local day ended says (failed).
EXPIRED = "expired: not sent within its day"


def expire_stale_slots(now: dt.datetime, *, every_day: bool = False) -> int:
    """Slots still waiting when their sender's local day is over will never count toward
    that day: mark them failed, so they neither linger nor get sent a day late. The
    days in flight only (their partitions, not all 90): a worker's plan runs this when
    a time zone in use has begun a new date since its last run (Engine.plan; the plan
    task, a new engine each time, at every run), so a day is expired soon after it
    ends. Slots the claim never meets (a paused sender's) wait for the next date or
    the daily maintenance, `every_day`, which also finds the slots of days that ended
    while the engine was down. Not at every plan of a worker: PostgreSQL takes most of
    the day's partition to be due (it judges the status and the time apart, and most
    slots are planned and early in the day), so this reads the whole partition, 0.4 s
    at 100,000 mailboxes."""
    timezones = timezones_in_use()
    if not timezones:
        return 0
    days = {} if every_day else {"day__range": partitions.in_flight(now)}
    today = local_date_expression(local_dates(now, timezones), field="sender__timezone")
    stale = (
        # Only due slots can be stale.
        SendLog.objects.filter(status__in=CLAIMABLE_STATUSES, scheduled_at__lt=now, **days)
        .annotate(sender_today=today)
        .filter(day__lt=F("sender_today"))
        .values("id")
    )
    return SendLog.objects.filter(id__in=stale, **days).update(
        status=SendStatus.FAILED, smtp_error=EXPIRED, timestamp=now
    )
