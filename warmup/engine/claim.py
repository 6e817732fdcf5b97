"""Claiming due slots: one short transaction, committed before any SMTP work.

Due slots are taken oldest `scheduled_at` first (the slot furthest behind its time is
the mailbox furthest behind its pace), locked with FOR UPDATE SKIP LOCKED so concurrent
claimers never wait for or take each other's rows, filtered through the rate budgets,
and marked `sending` with the worker's name.

With several workers each has a shard (`sender_id % count == id - 1`) it takes first,
which keeps a mailbox's sends on one worker and its SMTP connections reused. The shard is
only a preference: when its own shard has nothing more due, a worker takes other
shards' slots that have waited `STEAL_AFTER`, so a dead or slow worker's mailboxes keep
sending.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import BigIntegerField, ExpressionWrapper, F, QuerySet
from django.db.models.functions import Mod

from accounts import status as mailbox_status
from warmup import partitions, sql
from warmup.engine import pacing
from warmup.engine.limits import Limits, reserve_budget
from warmup.engine.record import EXPIRED
from warmup.models import CLAIMABLE_STATUSES, SendLog, SendStatus

STEAL_AFTER = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Shard:
    id: int  # 1..count
    count: int


def claim_slots(
    now: dt.datetime, *, worker: str, limit: int, limits: Limits, shard: Shard | None = None
) -> list[int]:
    """Ids of the slots this worker now owns (status `sending`, attempts + 1)."""
    due = SendLog.objects.select_for_update(skip_locked=True, of=("self",)).filter(
        status__in=CLAIMABLE_STATUSES,
        # Older days' slots are stale (expire_stale_slots fails them), later days' not
        # due yet: the claim reads the partitions of the days in flight only. Within
        # them, a slot whose sender's day is over is failed, not taken (_expire_stale).
        day__range=partitions.in_flight(now),
        sender__warmup_enabled=True,
        sender__status=mailbox_status.ACTIVE,
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql.CLAIM_IN_SCHEDULED_ORDER)
        # Stale candidates are failed and the take runs again, past them (they are no
        # longer due): a batch of them ahead of the due ones never makes an empty claim.
        while True:
            found = _candidates(due, now, limit, shard)
            candidates = _expire_stale(found, now)
            if len(candidates) == len(found):
                break
        granted = reserve_budget(now, [owner for _, _, owner, _ in candidates], limits)
        taken = [
            (slot_id, day)
            for (slot_id, day, _, _), ok in zip(candidates, granted, strict=True)
            if ok
        ]
        ids = [slot_id for slot_id, _ in taken]
        if ids:
            # The days too: the send log's partitions of those days only.
            SendLog.objects.filter(id__any=ids, day__in={day for _, day in taken}).update(
                status=SendStatus.SENDING,
                worker=worker,
                claimed_at=now,
                started_at=None,
                timestamp=now,
                attempts=F("attempts") + 1,
            )
    return ids


_Candidate = tuple[int, dt.date, int, str]  # slot id, day, owner id, sender's time zone


def _candidates(
    due: QuerySet[SendLog], now: dt.datetime, limit: int, shard: Shard | None
) -> list[_Candidate]:
    """The first `limit` due slots: the shard's own, then others' that waited."""
    if shard is None or shard.count == 1:
        return _take(due.filter(scheduled_at__lte=now), limit)
    # An integer (Mod of integers is a float to Django: a cast on every row).
    shard_no = ExpressionWrapper(Mod("sender_id", shard.count), BigIntegerField())
    mine = due.alias(shard_no=shard_no)
    candidates = _take(mine.filter(scheduled_at__lte=now, shard_no=shard.id - 1), limit)
    if len(candidates) < limit:
        candidates += _take(
            mine.filter(scheduled_at__lte=now - STEAL_AFTER).exclude(shard_no=shard.id - 1),
            limit - len(candidates),
        )
    return candidates


def _take(slots: QuerySet[SendLog], limit: int) -> list[_Candidate]:
    """The first `limit` slots by scheduled time."""
    return list(
        slots.order_by("scheduled_at").values_list(
            "id", "day", "sender__owner_id", "sender__timezone"
        )[:limit]
    )


def _expire_stale(candidates: list[_Candidate], now: dt.datetime) -> list[_Candidate]:
    """The candidates whose day is not over in their sender's time zone; the others are
    failed here as expired. A slot goes stale when its sender's local day ends; the
    plan expires such slots when a date begins (record.expire_stale_slots), and any the
    claim meets first (due before that plan, or given back later: a release, the
    reaper) are failed here, so none is ever sent a day late."""
    today = {tz: pacing.local_date(now, tz) for tz in {c[3] for c in candidates}}
    fresh = [c for c in candidates if c[1] >= today[c[3]]]
    if len(fresh) < len(candidates):
        stale = [c for c in candidates if c[1] < today[c[3]]]
        SendLog.objects.filter(id__any=[c[0] for c in stale], day__in={c[1] for c in stale}).update(
            status=SendStatus.FAILED, smtp_error=EXPIRED, timestamp=now
        )
    return fresh
