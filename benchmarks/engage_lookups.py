"""Engagement's database look-ups at scale: a send log of 2,000 mailboxes × 30 sends a day ×
40 days (2.4 M rows, SQL-generated), then the median of 7 runs of what one mailbox's
pass asks — the sends it may still find in its inbox (expected_received), its own recent
sends for the Sent copies (expected_sent), which of 100 Message-IDs of its Warmup folder
are its mail (recorded_message_ids) — with the partial index (recipient, sent_at) and
without it.

Usage (a scratch PostgreSQL database it may fill and empty):
    createdb -h 127.0.0.1 -U postgres warmup_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/warmup_bench \\
        .venv/bin/python benchmarks/engage_lookups.py [--mailboxes 2000] [--days 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warmup_project.settings")
os.environ.setdefault("DEBUG", "true")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402

from accounts.models import Mailbox  # noqa: E402
from benchmarks.scratch import empty_scratch_database, open_scratch_database  # noqa: E402
from warmup.engine.engage import (  # noqa: E402
    expected_received,
    expected_sent,
    recorded_message_ids,
)
from warmup_project.db import db_now  # noqa: E402

PREFIX = "lookups-bench-"
INDEX = "idx_logs_recipient_sent"


def fill(mailboxes: int, days: int) -> tuple[int, int]:
    owner = get_user_model().objects.create_user(f"{PREFIX}owner")
    Mailbox.objects.bulk_create(
        Mailbox(
            owner=owner,
            email=f"box{n}@d{n % 500}.test",
            smtp_host="smtp.test",
            smtp_username="u",
            imap_host="imap.test",
            imap_username="u",
        )
        for n in range(mailboxes)
    )
    first = Mailbox.objects.filter(owner=owner).order_by("id").values_list("id", flat=True)[0]
    with connection.cursor() as cursor:
        # Sends of day d, slot k, from mailbox s to another; seen (inbox) but today's.
        cursor.execute(
            """
            INSERT INTO logs (sender_id, day, slot_no, recipient_id, status, attempts,
                smtp_code, smtp_error, message_id, thread_id, worker, scheduled_at, sent_at,
                placement, placement_seen_at, auth_spf, auth_dkim, auth_dmarc, auth_receiver,
                timestamp)
            SELECT %(first)s + s, (now() - d * interval '1 day')::date, k,
                %(first)s + (s + 1 + k * 37) %% %(n)s, 'sent', 1, 250, '',
                '<' || s || '.' || d || '.' || k || '@bench.test>', '', '',
                now() - d * interval '1 day',
                now() - d * interval '1 day' + k * interval '1 minute',
                CASE WHEN d > 0 THEN 'inbox' ELSE '' END,
                CASE WHEN d > 0 THEN now() - d * interval '1 day' END, '', '', '', '',
                now() - d * interval '1 day' + k * interval '1 minute'
            FROM generate_series(0, %(n)s - 1) s, generate_series(0, %(days)s - 1) d,
                generate_series(0, 29) k
            """,
            {"first": first, "n": mailboxes, "days": days},
        )
        cursor.execute("ANALYZE logs")
        cursor.execute("SELECT count(*) FROM logs")
        return first, cursor.fetchone()[0]


def median_ms(call: Callable[[], Any]) -> float:
    times = []
    for _ in range(7):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, default=2000)
    parser.add_argument("--days", type=int, default=40)
    args = parser.parse_args()
    open_scratch_database()
    try:
        started = time.perf_counter()
        first, rows = fill(args.mailboxes, args.days)
        print(f"send log: {rows:,} rows (filled in {time.perf_counter() - started:.0f} s)")
        box = first + args.mailboxes // 3
        now = db_now()
        ids = [f"<{n}.20.3@bench.test>" for n in range(box - first, box - first + 100)]
        calls = {
            "expected_received": lambda: expected_received(box, now),
            "expected_sent": lambda: expected_sent(box, now),
            "recorded_message_ids": lambda: recorded_message_ids(box, ids),
        }
        with connection.cursor() as cursor:
            for label in ("with", "without"):
                if label == "without":
                    cursor.execute(f"DROP INDEX {INDEX}")
                print(
                    f"{label} {INDEX}: "
                    + ", ".join(f"{name} {median_ms(call):.1f} ms" for name, call in calls.items())
                )
            cursor.execute(
                f"CREATE INDEX {INDEX} ON logs (recipient_id, sent_at) WHERE sent_at IS NOT NULL"
            )
    finally:
        empty_scratch_database(PREFIX)


if __name__ == "__main__":
    main()
