"""The metrics app's django-q2 task (warmup's are in warmup.tasks);
`manage.py setup_schedules` creates its schedule, `warmup: metric snapshot`."""

from __future__ import annotations

from django.conf import settings

from metrics.reading import read
from metrics.snapshot import prune_snapshots, take_snapshot
from warmup_project.db import db_now


def snapshot() -> str:
    """A MetricSnapshot, and those past WARMUP_METRICS_RETENTION_DAYS deleted: every
    WARMUP_CRON_INTERVAL_MINUTES."""
    now = db_now()
    taken = take_snapshot(read(now, settings.WARMUP, fresh_capacity=True))
    pruned = prune_snapshots(now, settings.WARMUP.metrics_retention_days)
    return f"{taken}; {pruned} metric snapshots deleted"
