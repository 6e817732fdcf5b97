"""Planning and claiming at 100,000 mailboxes on PostgreSQL.

Usage (a scratch database it may fill and empty):
    createdb -h 127.0.0.1 -U postgres warmup_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/warmup_bench \\
        .venv/bin/python benchmarks/plan_claim.py [--mailboxes 100000]

Prints: the day-start plan (every mailbox's day planned at once: the worst cycle, when
all mailboxes share a time zone), a steady-state plan (nothing new to plan: the anti-join
and the top-up scan), and claims of one batch with budgets, at 08:00 and at 13:00.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warmup_project.settings")
# Development settings, as `make run`: keys derived from the development SECRET_KEY
# for a scratch database, localhost, and the local SMTP sink / IMAP server allowed.
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("WARMUP_ALLOW_PRIVATE_HOSTS", "true")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from benchmarks.scratch import empty_scratch_database, open_scratch_database  # noqa: E402
from warmup.engine import simulate  # noqa: E402
from warmup.engine.claim import claim_slots  # noqa: E402
from warmup.engine.limits import Limits  # noqa: E402
from warmup.engine.planner import plan_cycle  # noqa: E402
from warmup.models import SendLog, SendStatus  # noqa: E402

DAY = dt.date(2026, 6, 1)


def timed(label: str, fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    print(f"{label:<48} {time.perf_counter() - started:8.3f} s   {result}")
    return result


def vacuum() -> None:
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE logs, warmup_logs, mailboxes, rate_windows")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    open_scratch_database()
    floor = settings.WARMUP.min_daily_quota
    margin = dt.timedelta(minutes=settings.WARMUP.cron_interval_minutes)
    limits = Limits(per_minute=10**6, per_hour=10**7, per_user_hour=10**6)
    try:
        timed(
            f"create {args.mailboxes} mailboxes",
            simulate.create_network,
            args.mailboxes,
            max(1, args.mailboxes // 100),
            random.Random(1),
            daily=30,
        )
        vacuum()
        start = dt.datetime.combine(DAY, dt.time(), tzinfo=dt.UTC)
        timed(
            "day-start plan (all mailboxes, one time zone)",
            plan_cycle,
            start,
            floor=floor,
            margin=margin,
        )
        vacuum()
        timed(
            "steady-state plan (nothing new)",
            plan_cycle,
            start + dt.timedelta(minutes=15),
            floor=floor,
            margin=margin,
        )
        for hour in (8, 13):
            now = start + dt.timedelta(hours=hour)
            timed(
                f"claim {args.batch} at {hour:02}:00 (budgets included)",
                lambda n=now: len(claim_slots(n, worker="bench", limit=args.batch, limits=limits)),
            )
            timed(
                f"plan + claim a cycle at {hour:02}:00",
                lambda n=now: (
                    plan_cycle(n, floor=floor, margin=margin),
                    len(claim_slots(n, worker="bench", limit=args.batch, limits=limits)),
                ),
            )
        print(
            f"slots: {SendLog.objects.count()}, sending: "
            f"{SendLog.objects.filter(status=SendStatus.SENDING).count()}"
        )
    finally:
        empty_scratch_database("sim-owner-")


if __name__ == "__main__":
    main()
