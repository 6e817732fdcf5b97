"""MetricSnapshot: the system's counts at one moment, taken every interval.

Health (0/1/2 and the rule that decided it) comes with the metrics collector; until
then a snapshot says `unevaluated` rather than claim the system is healthy."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q, Sum

from accounts import status as mailbox_status
from accounts.models import Mailbox
from metrics.models import MetricSnapshot
from warmup.engine.maintenance import delete_in_batches
from warmup.models import DailyStat, SendLog, SendStatus


def measure(now: dt.datetime) -> dict[str, Any]:
    """The system's counts now (what a snapshot stores and the metrics API shows)."""
    boxes = Mailbox.objects.aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(warmup_enabled=True, status=mailbox_status.ACTIVE)),
    )
    # "Today" is the UTC date here; each mailbox's own local day is the planner's.
    today = DailyStat.objects.filter(date=now.date()).aggregate(
        sent=Sum("sent"),
        failed=Sum("failed"),
        quotas=Count("id", filter=Q(quota__gt=0)),
        met=Count("id", filter=Q(quota__gt=0, quota_met=True)),
    )
    last_hour = SendLog.objects.filter(
        status=SendStatus.SENT, sent_at__gte=now - dt.timedelta(hours=1), sent_at__lte=now
    ).count()
    return {
        "total_mailboxes": boxes["total"],
        "active_mailboxes": boxes["active"],
        "sent_today": today["sent"] or 0,
        "failed_today": today["failed"] or 0,
        "throughput_per_hour": last_hour,
        "quota_completion_rate": today["met"] / today["quotas"] if today["quotas"] else 0.0,
    }


def take_snapshot(now: dt.datetime) -> MetricSnapshot:
    return MetricSnapshot.objects.create(taken_at=now, health_rule="unevaluated", **measure(now))


def prune_snapshots(now: dt.datetime, keep_days: int) -> int:
    """Delete snapshots older than `keep_days` (WARMUP_METRICS_RETENTION_DAYS)."""
    return delete_in_batches(
        MetricSnapshot.objects.filter(taken_at__lt=now - dt.timedelta(days=keep_days))
    )
