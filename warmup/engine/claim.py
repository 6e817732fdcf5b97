"""Claiming due slots: one short transaction, committed before any SMTP work.

Due slots are taken oldest `scheduled_at` first (the slot furthest behind its time is
the mailbox furthest behind its pace), locked with FOR UPDATE SKIP LOCKED so concurrent
claimers never wait for or take each other's rows, filtered through the rate budgets,
and marked `sending` with the worker's name. On SQLite (one process) the lock clause is
dropped by Django and the single writer makes it safe all the same.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import F

from accounts import status as mailbox_status
from warmup.engine.limits import Limits, reserve_budget
from warmup.models import CLAIMABLE_STATUSES, SendLog, SendStatus


def claim_slots(now: dt.datetime, *, worker: str, limit: int, limits: Limits) -> list[int]:
    """Ids of the slots this worker now owns (status `sending`, attempts + 1)."""
    with transaction.atomic():
        due = list(
            SendLog.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                status__in=CLAIMABLE_STATUSES,
                scheduled_at__lte=now,
                sender__warmup_enabled=True,
                sender__status=mailbox_status.ACTIVE,
            )
            .order_by("scheduled_at")
            .values_list("id", "sender__owner_id")[:limit]
        )
        granted = reserve_budget(now, [owner for _, owner in due], limits)
        ids = [slot_id for (slot_id, _), ok in zip(due, granted, strict=True) if ok]
        if ids:
            SendLog.objects.filter(id__in=ids).update(
                status=SendStatus.SENDING,
                worker=worker,
                claimed_at=now,
                timestamp=now,
                attempts=F("attempts") + 1,
            )
    return ids
