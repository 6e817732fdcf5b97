"""Workers sharing one database: registration, heartbeats, and the reaper that gives
back what a dead worker had claimed.

Everything goes through PostgreSQL: a worker is a row with a heartbeat (database
clock), and any worker's reaper, one at a time (`pg_try_advisory_xact_lock`), releases
the slots of workers whose heartbeat is older than WARMUP_HEARTBEAT_TIMEOUT_S:

- not started (`started_at` empty: claimed, not yet handed to SMTP) → planned again;
- started → `unknown`: the message may have been delivered, so it is never resent; it
  counts in the day's `unknown`, and the planner's top-up replaces it within the cap.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
from collections import Counter
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Greatest

from warmup import partitions, sql
from warmup.engine.counters import count_attempts
from warmup.engine.record import add_to_days
from warmup.models import SendLog, SendStatus, Worker

log = logging.getLogger("warmup.workers")

# Key of the advisory lock that makes one reaper run at a time ("warmup" in ASCII).
REAPER_LOCK = 0x7761726D7570


def worker_name(prefix: str = "") -> str:
    return f"{prefix}{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def register(name: str, shard: int, shard_count: int, now: dt.datetime) -> None:
    Worker.objects.update_or_create(
        name=name,
        defaults={
            "shard": shard,
            "shard_count": shard_count,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": now,
            "heartbeat_at": now,
        },
    )


def heartbeat(name: str, now: dt.datetime, *, shard: int = 1, shard_count: int = 1) -> None:
    """Say this worker is alive; a worker reaped while it was silent registers again."""
    if not Worker.objects.filter(name=name).update(heartbeat_at=now):
        log.warning("worker %s was presumed dead; registering again", name)
        register(name, shard, shard_count, now)


def unregister(name: str) -> None:
    Worker.objects.filter(name=name).delete()


@dataclass(frozen=True)
class Reaped:
    workers: int = 0
    replanned: int = 0
    unknown: int = 0

    def __bool__(self) -> bool:
        return bool(self.workers or self.replanned or self.unknown)


def reap(now: dt.datetime, timeout: dt.timedelta, *, every_day: bool = False) -> Reaped:
    """Release the slots of dead workers (see the module's docstring). Returns what it did;
    nothing when another worker's reaper holds the lock. Each cycle looks at the days in
    flight only (their partitions, not all 90); the daily maintenance, `every_day`, also
    finds the slots of a worker that died before those days (the engine was down)."""
    cutoff = now - timeout
    days = (
        {}
        if every_day
        else {"day__range": (partitions.in_flight_since(cutoff), partitions.latest_due_day(now))}
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql.TRY_REAPER_LOCK, [REAPER_LOCK])
            if not cursor.fetchone()[0]:
                return Reaped()
        dead = list(Worker.objects.filter(heartbeat_at__lt=cutoff).values_list("name", flat=True))
        alive = Worker.objects.filter(heartbeat_at__gte=cutoff).values("name")
        # Slots of dead workers, and of workers no longer registered at all (reaped
        # earlier, or removed by hand), once their claim is older than the timeout.
        orphaned = SendLog.objects.filter(
            status=SendStatus.SENDING,
            claimed_at__lt=cutoff,
            **days,
        ).filter(Q(worker__in=dead) | ~Q(worker__in=alive))
        result = release(orphaned, now, why="its worker stopped")
        Worker.objects.filter(name__in=dead).delete()
    result = Reaped(len(dead), result.replanned, result.unknown)
    if result:
        log.warning(
            "reaper: %d dead workers; %d slots planned again, %d unknown (may have been sent)",
            result.workers,
            result.replanned,
            result.unknown,
        )
    return result


def release(slots: QuerySet[SendLog], now: dt.datetime, *, why: str) -> Reaped:
    """Give back claimed slots (`sending` rows): not started → planned, started →
    unknown with the day's counter. Call inside a transaction."""
    locked = slots.select_for_update(skip_locked=True, of=("self",))
    started = list(locked.filter(started_at__isnull=False).values_list("id", "sender_id", "day"))
    waiting = list(locked.filter(started_at__isnull=True).values_list("id", "day"))
    # By id and day: the send log's partitions of those days only.
    replanned = SendLog.objects.filter(
        id__in=[i for i, _ in waiting], day__in={d for _, d in waiting}
    ).update(
        status=SendStatus.PLANNED,
        attempts=Greatest(F("attempts") - 1, Value(0)),  # nothing reached a server
        worker="",
        claimed_at=None,
        timestamp=now,
    )
    if started:
        SendLog.objects.filter(
            id__in=[s[0] for s in started], day__in={s[2] for s in started}
        ).update(
            status=SendStatus.UNKNOWN,
            smtp_error=f"{why} during the send: it may have been delivered, never resent",
            timestamp=now,
        )
        add_to_days(Counter((sender, day) for _, sender, day in started), "unknown")
        count_attempts(now, {SendStatus.UNKNOWN: len(started)})
    return Reaped(0, replanned, len(started))
