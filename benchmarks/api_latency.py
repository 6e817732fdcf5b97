"""Latency of every GET endpoint of the API at 100,000 mailboxes (1,000 users) with 30
days of DailyStat, on PostgreSQL: p50 and p95 as a staff user and as an ordinary user,
and SQL queries per request at two page sizes (the count must not grow with the page).

Requests go through Django's full stack in this process (middleware, JWT
authentication, views, serialisation), without an HTTP server in front.

Usage (a scratch database it may fill and empty):
    createdb -h 127.0.0.1 -U postgres warmup_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/warmup_bench \\
        .venv/bin/python benchmarks/api_latency.py [--mailboxes 100000] [--requests 50]
(`--keep` leaves the data in place; a later `--reuse` run measures it again.)
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
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework_simplejwt.tokens import AccessToken  # noqa: E402

from accounts.models import Mailbox  # noqa: E402
from benchmarks.scratch import empty_scratch_database, open_scratch_database  # noqa: E402
from benchmarks.timing import p50_p95  # noqa: E402
from warmup.engine import simulate  # noqa: E402
from warmup.models import DailyStat  # noqa: E402

DAYS = 30
PREFIX = "sim-owner-"


def fill_daily_stats(today: dt.date, rng: random.Random) -> int:
    """30 days of counters for every mailbox, through COPY."""
    ids = list(Mailbox.objects.values_list("id", flat=True))
    rows = 0
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            "COPY warmup_logs (mailbox_id, date, quota, reserved, sent, failed, deferred, unknown, "
            "received, replied, inbox, spam, quota_met, streak) FROM STDIN"
        ) as copy,
    ):
        for age in range(DAYS):
            day = today - dt.timedelta(days=age)
            for box in ids:
                sent = rng.randint(20, 30) if age else rng.randint(0, 30)
                failed = rng.randint(0, 2)
                copy.write_row((box, day, 30, 30, sent, failed, 0, 0, sent, 0, 0, 0, sent >= 30, 0))
                rows += 1
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE warmup_logs, mailboxes")
    return rows


def measure(client: Client, token: str, url: str, n: int) -> tuple[float, float, int]:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    for _ in range(3):  # warm caches and connections
        response = client.get(url, **headers)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    times = []
    for _ in range(n):
        started = time.perf_counter()
        client.get(url, **headers)
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(url, **headers)
    return (*p50_p95(times), len(queries))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="leave the data for a --reuse run")
    parser.add_argument("--reuse", action="store_true", help="measure the data a --keep run left")
    args = parser.parse_args()
    filled = open_scratch_database(reuse=args.reuse)
    users = max(1, args.mailboxes // 100)
    try:
        started = time.perf_counter()
        if not filled:
            simulate.create_network(args.mailboxes, users, random.Random(1), daily=30)
            fill_daily_stats(dt.datetime.now(dt.UTC).date(), random.Random(2))
        print(
            f"data: {Mailbox.objects.count()} mailboxes of {users} users, "
            f"{DailyStat.objects.count()} DailyStat rows "
            f"({time.perf_counter() - started:.0f} s to create)"
        )
        staff, _ = get_user_model().objects.get_or_create(
            username=f"{PREFIX}staff",
            # A superuser: staff see every owner's mailboxes, the engine and the metrics
            # only with the model permissions, and a superuser holds them all.
            defaults={"is_staff": True, "is_superuser": True},
        )
        ordinary = get_user_model().objects.get(username=f"{PREFIX}0")
        own = Mailbox.objects.filter(owner=ordinary).order_by("id").first()
        endpoints = [
            "/api/warmup/quota",
            "/api/warmup/quota?status=behind",
            "/api/warmup/quota?status=met&ordering=-streak",
            "/api/warmup/quota?ordering=-remaining",
            "/api/warmup/mailbox",
            f"/api/warmup/mailbox?id={own.id}",
            "/api/mailboxes/",
            f"/api/mailboxes/{own.id}/",
        ]
        staff_only = ["/api/warmup/control", "/api/warmup/metrics"]
        client = Client(SERVER_NAME="127.0.0.1")  # a host ALLOWED_HOSTS has
        print(
            f"\n{'endpoint':<48} {'who':<6} {'p50 ms':>8} {'p95 ms':>8} "
            f"{'queries':>8} {'q@10':>5} {'q@100':>5}"
        )
        for who, account, urls in (
            ("staff", staff, staff_only + endpoints),
            ("user", ordinary, endpoints),
        ):
            token = str(AccessToken.for_user(account))
            for url in urls:
                p50, p95, queries = measure(client, token, url, args.requests)
                sizes = ""
                if "id=" not in url and not url.rstrip("/").split("/")[-1].isdigit():
                    join = "&" if "?" in url else "?"
                    small = measure(client, token, f"{url}{join}page_size=10", 1)[2]
                    large = measure(client, token, f"{url}{join}page_size=100", 1)[2]
                    sizes = f"{small:>5} {large:>5}"
                print(f"{url:<48} {who:<6} {p50:8.1f} {p95:8.1f} {queries:8d} {sizes}")
    finally:
        if not args.keep:
            empty_scratch_database(PREFIX)
        settings.DEBUG = False


if __name__ == "__main__":
    main()
