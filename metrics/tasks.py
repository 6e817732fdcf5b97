"""The metrics app's django-q2 tasks (warmup's are in warmup.tasks);
`manage.py setup_schedules` creates their schedules, `warmup: metric snapshot` and
`warmup: metric census`."""

from __future__ import annotations

from django.conf import settings

from metrics.reading import keep_census, read, take_census
from metrics.snapshot import prune_snapshots, take_snapshot
from warmup_project.db import db_now


def snapshot() -> str:
    """A MetricSnapshot, and those past WARMUP_METRICS_RETENTION_DAYS deleted: every
    WARMUP_CRON_INTERVAL_MINUTES."""
    now = db_now()
    taken = take_snapshot(read(now, settings.WARMUP, fresh=True))
    pruned = prune_snapshots(now, settings.WARMUP.metrics_retention_days)
    return f"{taken}; {pruned} metric snapshots deleted"


def census() -> str:
    """The readings' census (metrics.reading) counted and kept: every minute, so the
    metrics, the control API and the dashboard answer without counting every mailbox."""
    census = take_census(db_now(), settings.WARMUP)
    keep_census(census)
    return f"census of {census.boxes['total']} mailboxes at {census.at:%H:%M:%S}"
