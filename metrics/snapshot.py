"""MetricSnapshot: one reading of the system kept every interval (django-q2's "metric
snapshot" schedule, WARMUP_CRON_INTERVAL_MINUTES) for WARMUP_METRICS_RETENTION_DAYS; the
admin dashboard draws its 24-hour chart from them."""

from __future__ import annotations

import datetime as dt

from metrics.models import MetricSnapshot
from metrics.reading import Reading, capacity_detail
from warmup_project.db import delete_in_batches


def take_snapshot(reading: Reading) -> MetricSnapshot:
    return MetricSnapshot.objects.create(
        taken_at=reading.at,
        total_mailboxes=reading.total_mailboxes,
        active_mailboxes=reading.active_mailboxes,
        sent_today=reading.sent_today,
        failed_today=reading.failed_today,
        throughput_per_hour=reading.sent_last_hour,
        quota_completion_rate=reading.quota_completion_rate,
        health=reading.health.level,
        health_rule=reading.health.rule,
        detail={
            "failed_last_hour": reading.failed_last_hour,
            "attempts_last_hour": reading.attempts_last_hour,
            "on_pace_rate": round(reading.on_pace_rate, 4),
            "slots_overdue": reading.slots_overdue,
            "workers_alive": reading.workers_alive,
            "capacity": capacity_detail(reading.capacity),
            "health_detail": reading.health.detail,
        },
    )


def prune_snapshots(now: dt.datetime, keep_days: int) -> int:
    """Delete snapshots older than `keep_days` (WARMUP_METRICS_RETENTION_DAYS)."""
    return delete_in_batches(
        MetricSnapshot.objects.filter(taken_at__lt=now - dt.timedelta(days=keep_days))
    )
