"""Time of the pool figures' refresh (warmup.engine.pool.update_pool: one statement over
the week's sends, then one update of every mailbox) and of the network figures a scrape
reads (one PoolShape row), at 100,000 mailboxes × 30 accepted sends a day × 7 days = 21 million
sends in the window.

The data: mailboxes of owners of Zipf sizes (simulate.create_network), each sending 30
a day to recipients drawn at random (so nearly every send is a new (mailbox, partner)
pair: the most groups the statement can meet), over the 7 days before now and
`--older-days` days before those (outside the window, as the 90 days of retention are).

Usage (a scratch database it may fill and empty):
    createdb -h 127.0.0.1 -U postgres warmup_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/warmup_bench \\
        .venv/bin/python benchmarks/pool_figures.py [--mailboxes 100000] [--keep] [--reuse]
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
os.environ.setdefault("DEBUG", "true")

import django

django.setup()

from django.db import connection  # noqa: E402

from benchmarks.scratch import empty_scratch_database, open_scratch_database  # noqa: E402
from warmup.engine import simulate  # noqa: E402
from warmup.engine.pool import (  # noqa: E402
    POOL_SHAPE_FIELDS,
    pool_counts,
    record_pool_shape,
    update_pool,
)
from warmup.models import PoolShape, SendLog  # noqa: E402
from warmup_project.db import db_now  # noqa: E402

SENDS_A_DAY = 30


def fill_sends(now: dt.datetime, days: int) -> int:
    """`days` days of SENDS_A_DAY accepted sends per mailbox before `now`, one INSERT …
    SELECT a day; recipients drawn at random among the others."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), count(*) FROM mailboxes")
        first, n = cursor.fetchone()
        for d in range(days):
            cursor.execute(
                """
                INSERT INTO logs (day, slot_no, status, attempts, smtp_error, message_id,
                                  thread_id, worker, scheduled_at, timestamp, placement,
                                  auth_spf, auth_dkim, auth_dmarc, auth_receiver, sender_id,
                                  recipient_id, sent_at)
                SELECT (%(now)s - make_interval(days => %(d)s))::date, s, 'sent', 1, '', '',
                       '', 'bench', x.at, x.at, '', '', '', '', '', m.id,
                       %(first)s + (m.id - %(first)s + 1 + floor(random() * (%(n)s - 1))::int)
                           %% %(n)s,
                       x.at
                FROM mailboxes m CROSS JOIN generate_series(0, %(per_day)s - 1) s
                CROSS JOIN LATERAL (
                    SELECT %(now)s - make_interval(days => %(d)s)
                           - random() * interval '1 day' + s * interval '0 s' AS at
                ) x
                """,
                {"first": first, "n": n, "per_day": SENDS_A_DAY, "now": now, "d": d},
            )
        cursor.execute("VACUUM ANALYZE logs, mailboxes")
    return SendLog.objects.count()


def timed(label: str, work: object) -> float:
    started = time.monotonic()
    result = work() if callable(work) else None
    elapsed = time.monotonic() - started
    print(f"{label}: {elapsed:.2f}s" + (f" ({result})" if isinstance(result, int) else ""))
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, default=100_000)
    parser.add_argument("--owners", type=int, help="default: one per 100 mailboxes")
    parser.add_argument("--older-days", type=int, default=7, help="sends before the window")
    parser.add_argument("--keep", action="store_true", help="leave the data for a --reuse run")
    parser.add_argument("--reuse", action="store_true", help="measure the data a --keep run left")
    args = parser.parse_args()
    owners = args.owners or max(1, args.mailboxes // 100)
    filled = open_scratch_database(reuse=args.reuse)
    now = db_now()
    try:
        if not filled:
            simulate.create_network(
                args.mailboxes, owners, random.Random(1), daily=30, owner_sizes="zipf"
            )
            timed("fill", lambda: fill_sends(now, 7 + args.older_days))
        else:
            with connection.cursor() as cursor:
                cursor.execute("SELECT max(timestamp) FROM logs")
                now = cursor.fetchone()[0]
        timed("pool_counts (the statement; mailboxes with figures)", lambda: len(pool_counts(now)))
        timed("update_pool (statement + update of every mailbox)", lambda: update_pool(now))
        timed("record_pool_shape (the network's figures)", lambda: record_pool_shape(now))
        scrape = [timed("PoolShape.latest (a scrape's read)", PoolShape.latest) for _ in range(5)]
        print(f"PoolShape.latest best of 5: {min(scrape) * 1000:.1f} ms")
        shape = PoolShape.latest()
        print({name: getattr(shape, name) for name in POOL_SHAPE_FIELDS})
    finally:
        if not args.keep:
            empty_scratch_database("sim-owner-")


if __name__ == "__main__":
    main()
