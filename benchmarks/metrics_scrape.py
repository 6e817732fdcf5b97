"""Scrape time of /api/warmup/metrics?format=prometheus at 100,000 mailboxes, with the
detailed per-mailbox series off and on (goal < 250 ms off), `promtool check metrics` on
both expositions, and the JSON metrics, control and admin dashboard render times.

The data: 100,000 mailboxes of 1,000 owners, 30 days of DailyStat, today's 3,000,000
slots spread over the 24 hours around now (those up to 15 minutes ahead done: sent, 3 %
failed, 1 % unknown, 1 % deferred to two hours later; the rest planned, as a worker that
keeps up leaves them), their per-minute counts, 24 hours of snapshots, 3 workers.

Requests go through Django's full stack in this process (middleware, authentication,
views, rendering), without an HTTP server in front.

Usage (a scratch database it may fill and empty):
    createdb -h 127.0.0.1 -U postgres warmup_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/warmup_bench \\
        .venv/bin/python benchmarks/metrics_scrape.py [--mailboxes 100000] [--keep] [--reuse]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
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
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from rest_framework_simplejwt.tokens import AccessToken  # noqa: E402

from accounts.models import Mailbox  # noqa: E402
from benchmarks.api_latency import PREFIX, fill_daily_stats  # noqa: E402
from benchmarks.scratch import empty_scratch_database, open_scratch_database  # noqa: E402
from benchmarks.timing import p50_p95  # noqa: E402
from metrics.models import MetricSnapshot  # noqa: E402
from metrics.reading import read  # noqa: E402
from metrics.snapshot import take_snapshot  # noqa: E402
from warmup.engine import simulate  # noqa: E402
from warmup.models import SendLog, Worker  # noqa: E402
from warmup_project.db import db_now  # noqa: E402

TOKEN = "benchmark-metrics-token-0123456789abcdef"


def fill_send_logs(now: dt.datetime) -> int:
    """Today's 30 slots of every mailbox, in one INSERT … SELECT."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO logs (day, slot_no, status, attempts, smtp_error, message_id, thread_id,
                              worker, scheduled_at, timestamp, placement, sender_id,
                              recipient_id, sent_at)
            SELECT %(day)s, s, x.status, CASE WHEN x.status = 'planned' THEN 0 ELSE 1 END, '',
                   '', '', 'bench',
                   CASE WHEN x.status = 'deferred' THEN x.at + interval '2 hours' ELSE x.at END,
                   LEAST(x.at, %(now)s), '', m.id,
                   CASE WHEN x.status IN ('sent', 'unknown') THEN m.id END,
                   CASE WHEN x.status IN ('sent', 'unknown') THEN x.at END
            FROM mailboxes m CROSS JOIN generate_series(0, 29) s
            CROSS JOIN LATERAL (
                SELECT at, CASE WHEN at > %(now)s + interval '15 minutes' THEN 'planned'
                                WHEN r < 0.03 THEN 'failed'
                                WHEN r < 0.04 THEN 'unknown'
                                WHEN r < 0.05 THEN 'deferred'
                                ELSE 'sent' END AS status
                FROM (SELECT %(now)s - interval '12 hours'
                             + random() * interval '24 hours' + (s + m.id) * interval '0' AS at,
                             random() AS r) t
            ) x
            """,
            {"day": now.date(), "now": now},
        )
        rows = cursor.rowcount
        cursor.execute(
            "INSERT INTO send_counts (minute, status, count) "
            "SELECT date_trunc('minute', timestamp), status, count(*) FROM logs "
            "WHERE status IN ('sent', 'failed', 'unknown', 'deferred') GROUP BY 1, 2"
        )
        cursor.execute("VACUUM ANALYZE logs, send_counts")
    return rows


def fill_snapshots_and_workers(now: dt.datetime) -> None:
    MetricSnapshot.objects.bulk_create(
        MetricSnapshot(
            taken_at=now - dt.timedelta(minutes=15 * n),
            total_mailboxes=100_000,
            active_mailboxes=100_000,
            throughput_per_hour=120_000 + 500 * (n % 7),
            detail={"failed_last_hour": 3_000 + 100 * (n % 5)},
        )
        for n in range(96)
    )
    for shard in (1, 2, 3):
        Worker.objects.create(
            name=f"bench:{shard}",
            shard=shard,
            shard_count=3,
            host="bench",
            pid=shard,
            started_at=now - dt.timedelta(hours=1),
            heartbeat_at=now,
        )


def timed(call: Callable[[], object], n: int) -> tuple[float, float]:
    for _ in range(2):
        call()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return p50_p95(times)


def promtool_check(text: bytes) -> str:
    tool = shutil.which("promtool")
    if not tool:
        return "promtool not installed"
    done = subprocess.run([tool, "check", "metrics"], input=text, capture_output=True, timeout=300)
    out = (done.stdout + done.stderr).decode().strip()
    return "passed" if done.returncode == 0 and not out else f"FAILED: {out[:500]}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="leave the data for a --reuse run")
    parser.add_argument("--reuse", action="store_true", help="measure the data a --keep run left")
    args = parser.parse_args()
    filled = open_scratch_database(reuse=args.reuse)
    users = max(1, args.mailboxes // 100)
    now = db_now()
    try:
        started = time.perf_counter()
        if not filled:
            simulate.create_network(args.mailboxes, users, random.Random(1), daily=30)
            fill_daily_stats(now.date(), random.Random(2))
        if not SendLog.objects.exists():
            print(f"filling today's slots… ({Mailbox.objects.count() * 30:,})", flush=True)
            fill_send_logs(now)
            fill_snapshots_and_workers(now)
        print(
            f"data: {Mailbox.objects.count():,} mailboxes, {SendLog.objects.count():,} slots "
            f"({time.perf_counter() - started:.0f} s to create)"
        )
        print(f"\n{'what':<52} {'p50 ms':>8} {'p95 ms':>8}")
        base = settings.WARMUP
        # What the snapshot task does every interval: a reading that assesses capacity
        # afresh, kept; scrapes then take capacity from it.
        p50, p95 = timed(lambda: read(db_now(), base, fresh=True), 5)
        take_snapshot(read(db_now(), base, fresh=True))
        print(f"\n{'snapshot task (read with a fresh capacity)':<52} {p50:8.1f} {p95:8.1f}")
        scraper = Client(SERVER_NAME="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        for detailed in (False, True):
            settings.WARMUP = dataclasses.replace(
                base, metrics_token=TOKEN, enable_detailed_metrics=detailed
            )
            label = "on" if detailed else "off"
            if not detailed:
                p50, p95 = timed(lambda: read(db_now(), settings.WARMUP), 10)
                print(f"{'read() alone':<52} {p50:8.1f} {p95:8.1f}")

            def scrape() -> bytes:
                response = scraper.get("/api/warmup/metrics?format=prometheus")
                assert response.status_code == 200, response.content[:300]
                return response.content

            p50, p95 = timed(scrape, args.requests)
            text = scrape()
            series = sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))
            print(f"{'?format=prometheus, detailed ' + label:<52} {p50:8.1f} {p95:8.1f}")
            print(
                f"    {len(text):,} bytes, {series:,} series; promtool check metrics: "
                f"{promtool_check(text)}"
            )
        settings.WARMUP = dataclasses.replace(base, metrics_token=TOKEN)
        staff, _ = get_user_model().objects.get_or_create(
            username=f"{PREFIX}staff",
            # A superuser: staff see every owner's mailboxes, the engine and the metrics
            # only with the model permissions, and a superuser holds them all.
            defaults={"is_staff": True, "is_superuser": True},
        )
        jwt = Client(
            SERVER_NAME="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(staff)}"
        )
        for url in ("/api/warmup/metrics", "/api/warmup/control"):
            p50, p95 = timed(lambda u=url: jwt.get(u), args.requests)
            print(f"{url + ' (JSON, staff)':<52} {p50:8.1f} {p95:8.1f}")
        browser = Client(SERVER_NAME="127.0.0.1")
        browser.force_login(staff)
        assert b'id="sends-chart"' in browser.get("/admin/dashboard/").content
        p50, p95 = timed(lambda: browser.get("/admin/dashboard/"), args.requests)
        print(f"{'/admin/dashboard/ (server render)':<52} {p50:8.1f} {p95:8.1f}")
    finally:
        settings.WARMUP = base
        if not args.keep:
            empty_scratch_database(PREFIX)
            MetricSnapshot.objects.all().delete()
            Worker.objects.all().delete()


if __name__ == "__main__":
    main()
