"""The machine's limit for a day of sends: the bare claim and record of N slots in SQL,
with no Python bookkeeping, on the same database and the same `logs` table (its
partitions, indexes and constraints) as the engine.

Each batch is two statements, each its own transaction, as the engine's claim and record
are: the claim takes the first 1,000 due slots by `scheduled_at` through the claim index
(`FOR UPDATE SKIP LOCKED`) and marks them `sending`; the record marks those `sent`. What
the engine does besides (sender checks, rate budgets, pairing, content, counters,
failure state) is left out: the difference between this figure and `simulate_day`'s wall
time is what the engine's bookkeeping costs.

The slots belong to a network made as `simulate_day` makes it (N / 30 mailboxes); they
are planned for one day and all due when the timed loop starts.

Usage (a scratch database it fills and empties):
    createdb -h 127.0.0.1 -U postgres warmup_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/warmup_bench \\
        .venv/bin/python benchmarks/sql_limit.py [--slots 3157362] [--batch 1000] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warmup_project.settings")
os.environ.setdefault("DEBUG", "true")

import django

django.setup()

import psycopg  # noqa: E402
from django.db import connection  # noqa: E402

from accounts.models import Mailbox  # noqa: E402
from benchmarks.scratch import empty_scratch_database, open_scratch_database  # noqa: E402
from benchmarks.timing import p50_p95  # noqa: E402
from warmup import partitions, sql  # noqa: E402
from warmup.engine import simulate  # noqa: E402
from warmup.models import CLAIMABLE_STATUSES  # noqa: E402

DAY = dt.date(2026, 3, 2)
CLAIM = """
WITH due AS (
    SELECT id, day FROM logs
    WHERE status = ANY(%(claimable)s) AND day >= %(day)s AND scheduled_at <= %(now)s
    ORDER BY scheduled_at LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
)
UPDATE logs SET status = 'sending', worker = 'sql-limit', claimed_at = %(now)s,
    timestamp = %(now)s, attempts = logs.attempts + 1
FROM due WHERE logs.id = due.id AND logs.day = due.day
RETURNING logs.id
"""
RECORD = """
UPDATE logs SET status = 'sent', smtp_code = 250, timestamp = %(now)s, sent_at = %(now)s
WHERE id = ANY(%(ids)s) AND day = %(day)s AND status = 'sending'
"""


def plan(slots: int, now: dt.datetime) -> int:
    """N slots of N / 30 mailboxes, spread over the day; returns the mailboxes."""
    mailboxes = math.ceil(slots / 30)
    simulate.create_network(mailboxes, max(1, mailboxes // 100), random.Random(1), daily=30)
    partitions.ensure_around(now)
    ids = list(Mailbox.objects.order_by("id").values_list("id", flat=True))
    start = dt.datetime.combine(DAY, dt.time(), tzinfo=dt.UTC)
    step = 86_400 / slots
    chunk = 200_000
    for first in range(0, slots, chunk):
        rows = [
            (
                ids[n % mailboxes],
                DAY,
                n // mailboxes,
                start + dt.timedelta(seconds=n * step),
            )
            for n in range(first, min(slots, first + chunk))
        ]
        sql.insert_slots(rows, now)
        print(f"  planned {min(slots, first + chunk):,} of {slots:,} slots", file=sys.stderr)
    with connection.cursor() as cursor:
        cursor.execute(sql.VACUUM_ANALYZE_ENGINE_TABLES)
    return mailboxes


def run(dsn: str, batch: int, now: dt.datetime) -> tuple[int, float, list[float]]:
    """Claim and record until nothing is due: slots done, seconds, each batch's seconds."""
    params = {
        "claimable": [str(s) for s in CLAIMABLE_STATUSES],
        "day": DAY,
        "now": now,
        "batch": batch,
    }
    done = 0
    batches: list[float] = []
    with psycopg.connect(dsn, autocommit=True) as db:
        started = time.monotonic()
        while True:
            at = time.monotonic()
            ids = [row[0] for row in db.execute(CLAIM, params).fetchall()]
            if not ids:
                break
            db.execute(RECORD, {"ids": ids, "day": DAY, "now": now})
            done += len(ids)
            batches.append(time.monotonic() - at)
            if len(batches) % 500 == 0:
                print(f"  {done:,} slots claimed and recorded", file=sys.stderr)
        return done, time.monotonic() - started, batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--slots", type=int, default=3_157_362, help="a simulated day's attempts (default: 100k's)"
    )
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    open_scratch_database()
    now = dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    print(f"planning {args.slots:,} slots …", file=sys.stderr)
    mailboxes = plan(args.slots, now)
    settings = connection.settings_dict
    dsn = psycopg.conninfo.make_conninfo(
        host=settings["HOST"] or "",
        port=str(settings["PORT"] or ""),
        dbname=settings["NAME"],
        user=settings["USER"] or "",
        password=settings["PASSWORD"] or "",
    )
    connection.close()
    try:
        done, seconds, batches = run(dsn, args.batch, now)
    finally:
        empty_scratch_database("sim-owner-")
    p50, p95 = p50_p95(batches)
    figures = {
        "slots": done,
        "mailboxes": mailboxes,
        "batch": args.batch,
        "wall_s": round(seconds, 2),
        "slots_per_s": round(done / seconds) if seconds else 0,
        "batch_ms_p50": round(p50 * 1000, 2),
        "batch_ms_p95": round(p95 * 1000, 2),
    }
    print(f"slots claimed and recorded   {done:,} ({mailboxes:,} mailboxes)")
    print(f"wall time                    {seconds:.1f} s ({figures['slots_per_s']:,} slots/s)")
    print(
        f"batch of {args.batch:,} (claim + record)  "
        f"p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"
    )
    if args.json:
        print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
