"""Recording what the transport reported, in bulk: slot statuses, DailyStat counters,
streaks, and each mailbox's failure state (with the circuit breaker that pauses it)."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F

from accounts import status as mailbox_status
from accounts.models import Mailbox
from warmup.engine import pacing
from warmup.engine.planner import local_date_expression, local_dates
from warmup.engine.sql import bulk_set
from warmup.models import CLAIMABLE_STATUSES, DailyStat, SendLog, SendStatus
from warmup.transport.smtp import Outcome, Result

# Consecutive failed sends after which a mailbox is paused instead of hammered.
FAILURES_BEFORE_PAUSE = 10

_SLOT_STATUS = {
    Outcome.SENT: SendStatus.SENT,
    Outcome.FAILED: SendStatus.FAILED,
    Outcome.QUOTA: SendStatus.FAILED,
    Outcome.UNKNOWN: SendStatus.UNKNOWN,
    Outcome.DEFERRED: SendStatus.DEFERRED,
    Outcome.AUTH_FAILED: SendStatus.DEFERRED,  # nothing was sent; retried once resumed
}
_RECORDED = (
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
    sender_id: int
    recipient_id: int | None
    message_id: str
    thread_id: str


def end_of_day(day: dt.date, timezone: str) -> dt.datetime:
    return pacing.sending_window(day, timezone, 0, 24).end


def record_results(now: dt.datetime, sends: Sequence[Sent], rng: random.Random) -> Counter[str]:
    """Write every outcome; returns counts by outcome for the cycle's log line."""
    if not sends:
        return Counter()
    by_slot = {s.result.slot_id: s for s in sends}
    with transaction.atomic():
        slots = list(
            SendLog.objects.select_for_update(of=("self",))
            .filter(id__in=by_slot, status=SendStatus.SENDING)
            .select_related("sender")
            # Every field written below is loaded: a deferred one would cost a query a row.
            .only(*_RECORDED, "day", "attempts", "sender_id", "sender__timezone")
        )
        stat_deltas: dict[tuple[int, dt.date], Counter[str]] = defaultdict(Counter)
        mailbox_events: dict[int, list[Result]] = defaultdict(list)
        for slot in slots:
            send = by_slot[slot.id]
            result = send.result
            status = _SLOT_STATUS[result.outcome]
            slot.smtp_code = result.code
            slot.smtp_error = "" if result.outcome is Outcome.SENT else result.text
            slot.timestamp = now
            if status == SendStatus.DEFERRED:
                retry_at = now + pacing.backoff(slot.attempts, rng)
                if retry_at >= end_of_day(slot.day, slot.sender.timezone):
                    status = SendStatus.FAILED  # the day is a slot's lifetime
                    slot.smtp_error = f"{result.text} (deferred past the end of its day)".strip()
                slot.scheduled_at = retry_at
            slot.status = status
            if status in (SendStatus.SENT, SendStatus.UNKNOWN):
                slot.recipient_id = send.recipient_id
                slot.message_id = send.message_id
                slot.thread_id = send.thread_id
                slot.sent_at = now
            stat_deltas[(slot.sender_id, slot.day)][_STAT_FIELD[status]] += 1
            mailbox_events[slot.sender_id].append(result)
        bulk_set(SendLog, slots, _RECORDED)
        _count_received(
            now, [by_slot[s.id] for s in slots if s.status == SendStatus.SENT], stat_deltas
        )
        _apply_stat_deltas(stat_deltas)
        paused = _update_mailboxes(now, mailbox_events)
    counts = Counter(str(slot.status) for slot in slots)
    counts["paused"] = paused
    return counts


def _count_received(
    now: dt.datetime, sent: Sequence[Sent], deltas: dict[tuple[int, dt.date], Counter[str]]
) -> None:
    recipients = Counter(s.recipient_id for s in sent if s.recipient_id)
    if not recipients:
        return
    zones = dict(Mailbox.objects.filter(id__in=recipients).values_list("id", "timezone"))
    for recipient_id, count in recipients.items():
        day = now.astimezone(zoneinfo.ZoneInfo(zones[recipient_id])).date()
        deltas[(recipient_id, day)]["received"] += count


def _apply_stat_deltas(deltas: dict[tuple[int, dt.date], Counter[str]]) -> None:
    """Add the counters to the DailyStat rows (created where missing), in two statements
    whatever the number of mailboxes, and carry quota_met and the streak."""
    DailyStat.objects.bulk_create(
        [DailyStat(mailbox_id=m, date=d) for m, d in deltas], ignore_conflicts=True
    )
    mailbox_ids = {m for m, _ in deltas}
    dates = {d for _, d in deltas}
    rows = {
        (row.mailbox_id, row.date): row
        for row in DailyStat.objects.select_for_update()
        .filter(mailbox_id__in=mailbox_ids, date__in=dates)
        .order_by("mailbox_id", "date")
    }
    newly_met = []
    changed = []
    for key, delta in deltas.items():
        row = rows[key]
        for name, count in delta.items():
            setattr(row, name, getattr(row, name) + count)
        if not row.quota_met and row.quota > 0 and row.sent >= row.quota:
            row.quota_met = True
            newly_met.append(row)
        changed.append(row)
    if newly_met:
        yesterday = {
            (s.mailbox_id, s.date): s.streak
            for s in DailyStat.objects.filter(
                mailbox_id__in={r.mailbox_id for r in newly_met},
                date__in={r.date - dt.timedelta(days=1) for r in newly_met},
                quota_met=True,
            )
        }
        for row in newly_met:
            row.streak = yesterday.get((row.mailbox_id, row.date - dt.timedelta(days=1)), 0) + 1
    bulk_set(
        DailyStat,
        changed,
        ["sent", "failed", "deferred", "unknown", "received", "quota_met", "streak"],
    )


def _update_mailboxes(now: dt.datetime, events: dict[int, list[Result]]) -> int:
    """Failure state and circuit breaker; returns how many mailboxes it stopped."""
    boxes = (
        Mailbox.objects.select_for_update()
        .filter(id__in=events)
        .only(
            "id",
            "status",
            "status_reason",
            "status_changed_at",
            "consecutive_failures",
            "last_error",
            "last_error_at",
        )
        .order_by("id")
    )
    changed = []
    stopped = 0
    for box in boxes:
        was_active = box.status == mailbox_status.ACTIVE
        for result in events[box.id]:
            if result.outcome is Outcome.SENT:
                box.consecutive_failures = 0
                continue
            if result.outcome is Outcome.UNKNOWN:
                continue  # not the mailbox's fault as far as we know
            box.consecutive_failures += 1
            box.last_error = result.text
            box.last_error_at = now
            if box.status != mailbox_status.ACTIVE:
                continue
            if result.outcome is Outcome.AUTH_FAILED:
                box.set_status(mailbox_status.PAUSED, f"SMTP login refused: {result.text}", now)
            elif result.outcome is Outcome.QUOTA:
                box.set_status(
                    mailbox_status.PAUSED, f"provider sending quota reached: {result.text}", now
                )
            elif (
                result.outcome is Outcome.FAILED
                and box.consecutive_failures >= FAILURES_BEFORE_PAUSE
            ):  # 4xx replies are the backoff's business; only hard failures trip it
                box.set_status(
                    mailbox_status.ERROR,
                    f"{box.consecutive_failures} sends failed in a row; last: {result.text}",
                    now,
                )
        stopped += was_active and box.status != mailbox_status.ACTIVE
        changed.append(box)
    bulk_set(
        Mailbox,
        changed,
        [
            "status",
            "status_reason",
            "status_changed_at",
            "consecutive_failures",
            "last_error",
            "last_error_at",
        ],
    )
    return stopped


def expire_stale_slots(now: dt.datetime) -> int:
    """Slots still waiting when their sender's local day is over will never count toward
    that day: mark them failed, so they neither linger nor get sent a day late."""
    timezones = list(Mailbox.objects.values_list("timezone", flat=True).distinct())
    if not timezones:
        return 0
    today = local_date_expression(local_dates(now, timezones), field="sender__timezone")
    stale = (
        # Only due slots can be stale: the partial claim index keeps this scan small.
        SendLog.objects.filter(status__in=CLAIMABLE_STATUSES, scheduled_at__lt=now)
        .annotate(sender_today=today)
        .filter(day__lt=F("sender_today"))
        .values("id")
    )
    return SendLog.objects.filter(id__in=stale).update(
        status=SendStatus.FAILED, smtp_error="expired: not sent within its day", timestamp=now
    )
