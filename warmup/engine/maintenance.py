"""Daily upkeep: what is past its day or its retention goes, in batches so no statement
holds locks for long.

The send log goes a day at a time: partitions of days past retention are dropped
(warmup.partitions), then the stray rows of such days that the default partition caught
are deleted in batches; the coming days' partitions are made ahead. Send logs, day
counters, per-minute send counts and the pool's daily shapes are kept LOG_RETENTION_DAYS
(90), rate windows two days, started OAuth connections a day (metric snapshots are the
metrics app's: metrics.tasks.snapshot prunes them). Streaks need no rollup: they are
carried as sends are recorded (a day that ends below quota keeps streak 0)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from accounts.models import ConnectState
from warmup import partitions
from warmup.engine import workers
from warmup.engine.deliverability import update_deliverability
from warmup.engine.record import expire_stale_slots
from warmup.models import DailyStat, PoolShape, RateWindow, SendCount, SendLog
from warmup_project.config import WarmupConfig
from warmup_project.db import delete_in_batches

LOG_RETENTION_DAYS = 90


@dataclass(frozen=True)
class Maintenance:
    expired: int
    reaped: workers.Reaped
    log_partitions_created: int
    log_partitions_dropped: int
    logs_deleted: int  # rows of the dropped partitions and strays of the default one
    stats_deleted: int
    counts_deleted: int
    deliverability_updated: int
    windows_deleted: int
    connections_deleted: int
    pool_shapes_deleted: int


def run_maintenance(now: dt.datetime, config: WarmupConfig) -> Maintenance:
    log_cutoff = (now - dt.timedelta(days=LOG_RETENTION_DAYS)).date()
    dropped = partitions.drop_before(log_cutoff)
    return Maintenance(
        expired=expire_stale_slots(now, every_day=True),
        reaped=workers.reap(now, dt.timedelta(seconds=config.heartbeat_timeout_s), every_day=True),
        log_partitions_created=partitions.ensure_around(now),
        log_partitions_dropped=dropped.partitions,
        logs_deleted=dropped.rows + delete_in_batches(SendLog.objects.filter(day__lt=log_cutoff)),
        stats_deleted=delete_in_batches(DailyStat.objects.filter(date__lt=log_cutoff)),
        counts_deleted=delete_in_batches(
            SendCount.objects.filter(minute__lt=now - dt.timedelta(days=LOG_RETENTION_DAYS))
        ),
        deliverability_updated=update_deliverability(now),
        windows_deleted=delete_in_batches(
            RateWindow.objects.filter(window_start__lt=now - dt.timedelta(days=2))
        ),
        # Started connections (OAuth consent) are good for minutes; a day keeps the
        # recent ones for a look in the database.
        connections_deleted=delete_in_batches(
            ConnectState.objects.filter(created_at__lt=now - dt.timedelta(days=1))
        ),
        pool_shapes_deleted=delete_in_batches(
            PoolShape.objects.filter(refreshed_at__lt=now - dt.timedelta(days=LOG_RETENTION_DAYS))
        ),
    )
