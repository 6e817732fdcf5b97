"""Create or update the django-q2 schedules that run the engine under `qcluster`
(idempotent: run it at every deploy): planning and metric snapshots every
WARMUP_CRON_INTERVAL_MINUTES, one dispatch task a minute per shard (1..
WARMUP_WORKER_COUNT), IMAP engagement and the metrics' census every minute, the
reputation checks that are due every WARMUP_CRON_INTERVAL_MINUTES (each domain once a
day), maintenance and the pool figures daily. Schedules of shards beyond the count go.

With --senders-run-warmup the `run_warmup` workers plan and send (docker/compose.yaml):
qcluster then runs only engagement, the census, snapshots, maintenance and the pool
figures, and the plan and dispatch schedules go."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

PREFIX = "warmup: "


def wanted(cron_minutes: int, shards: int, *, sending: bool = True) -> dict[str, dict[str, Any]]:
    every = {"schedule_type": Schedule.MINUTES, "repeats": -1}
    schedules = {
        f"{PREFIX}plan": {"func": "warmup.tasks.plan", "minutes": cron_minutes, **every},
        f"{PREFIX}metric snapshot": {
            "func": "metrics.tasks.snapshot",
            "minutes": cron_minutes,
            **every,
        },
        # The readings' census (metrics.reading), served while under two minutes old.
        f"{PREFIX}metric census": {"func": "metrics.tasks.census", "minutes": 1, **every},
        f"{PREFIX}engage": {"func": "warmup.tasks.engage", "minutes": 1, **every},
        f"{PREFIX}reputation checks": {
            "func": "warmup.tasks.check_reputation",
            "minutes": cron_minutes,
            **every,
        },
        f"{PREFIX}maintenance": {
            "func": "warmup.tasks.maintenance",
            "schedule_type": Schedule.DAILY,
            "repeats": -1,
        },
        f"{PREFIX}pool figures": {
            "func": "warmup.tasks.refresh_pool",
            "schedule_type": Schedule.DAILY,
            "repeats": -1,
        },
    }
    if not sending:
        del schedules[f"{PREFIX}plan"]
        return schedules
    for shard in range(1, shards + 1):
        schedules[f"{PREFIX}dispatch shard {shard} of {shards}"] = {
            "func": "warmup.tasks.dispatch",
            "args": f"{shard},{shards}",
            "minutes": 1,
            **every,
        }
    return schedules


# Daily tasks that must not run together: the pool figures read the whole send log for
# a minute or two at 100,000 mailboxes, and maintenance's partition drop would wait for
# them (and give up). A new schedule's first run is put this long after its creation.
FIRST_RUN_AFTER = {f"{PREFIX}pool figures": dt.timedelta(hours=12)}


def setup_schedules(
    *, sending: bool = True, now: dt.datetime | None = None
) -> tuple[list[str], list[str], list[str]]:
    """(created, updated, removed) schedule names."""
    now = now or timezone.now()
    config = settings.WARMUP
    target = wanted(config.cron_interval_minutes, config.worker_count, sending=sending)
    created, updated = [], []
    with transaction.atomic():
        for name, fields in target.items():
            fields = {"args": None, "minutes": None, **fields}
            existing = Schedule.objects.filter(name=name).first()
            if existing is None:
                Schedule.objects.create(
                    name=name, next_run=now + FIRST_RUN_AFTER.get(name, dt.timedelta(0)), **fields
                )
                created.append(name)
            elif any(getattr(existing, k) != v for k, v in fields.items()):
                Schedule.objects.filter(pk=existing.pk).update(**fields)
                updated.append(name)
        stale = Schedule.objects.filter(name__startswith=PREFIX).exclude(name__in=target)
        removed = list(stale.values_list("name", flat=True))
        stale.delete()
    return created, updated, removed


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--senders-run-warmup",
            action="store_true",
            help="run_warmup workers plan and send: schedule no plan or dispatch tasks",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        created, updated, removed = setup_schedules(sending=not options["senders_run_warmup"])
        for verb, names in (("created", created), ("updated", updated), ("removed", removed)):
            for name in names:
                self.stdout.write(f"{verb}: {name}")
        total = Schedule.objects.filter(name__startswith=PREFIX).count()
        self.stdout.write(
            f"{total} warmup schedules in place ({len(created)} created, {len(updated)} "
            f"updated, {len(removed)} removed); `manage.py qcluster` runs them"
        )
