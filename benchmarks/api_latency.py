"""Latency of every GET endpoint of the API at 100,000 mailboxes (1,000 users, in 14 time
zones) with 30 days of DailyStat and 50,000 checked domains (plus 200 server addresses):
p50 and p95 as a staff user and as an ordinary user (100 mailboxes), with every value of
every enumerated query parameter the OpenAPI schema gives (each ordering in both
directions × each filter), the last page of each list, and SQL queries per request.

The endpoints come from the schema (drf-spectacular), so a new one is measured without
editing this file; the GETs outside it (/api/schema/, /api/docs/, /healthz, /metrics) are
listed here. The metrics and control readings take their counts over every mailbox from
the census (metrics.reading) that the `warmup: metric census` schedule keeps every
minute: this script keeps one as that schedule does (again before an endpoint once the
last is a minute old) and prints what counting it takes. Requests go through Django's full
stack in this process (middleware, JWT authentication, views, serialisation), without an
HTTP server in front.

Usage (a scratch database it may fill and empty; filling takes a few minutes):
    createdb -h 127.0.0.1 -U postgres warmup_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/warmup_bench \\
        .venv/bin/python benchmarks/api_latency.py [--keep] [--reuse] [--requests 30] \\
        [--only quota]
(`--keep` leaves the data in place; a later `--reuse` run measures it again, adding the
rows of a local today that has begun since.)
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

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
from drf_spectacular.generators import SchemaGenerator  # noqa: E402
from rest_framework_simplejwt.tokens import AccessToken  # noqa: E402

from accounts.models import Mailbox  # noqa: E402
from benchmarks.reputation_reads import checked_targets  # noqa: E402
from benchmarks.scratch import empty_scratch_database, open_scratch_database  # noqa: E402
from benchmarks.timing import p50_p95  # noqa: E402
from metrics.reading import keep_census, take_census  # noqa: E402
from warmup.engine import simulate  # noqa: E402
from warmup.models import DailyStat, ReputationTarget  # noqa: E402
from warmup_project.db import db_now  # noqa: E402

DAYS = 30
PREFIX = "sim-owner-"
GOAL_MS = 50.0
# UTC-11 to UTC+14: at any instant the mailboxes' local todays fall on two or three dates.
ZONES = (
    "Pacific/Pago_Pago",
    "America/Los_Angeles",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Africa/Nairobi",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Kiritimati",
)
DOMAINS, ADDRESSES = 50_000, 200
# The GETs the schema leaves out.
OUTSIDE_SCHEMA = ("/api/schema/", "/api/docs/", "/healthz", "/metrics")
CENSUS_EVERY_S = 60


# --- the data ------------------------------------------------------------------------


def spread_time_zones() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE mailboxes SET timezone = (%s::text[])[id %% %s + 1]", [list(ZONES), len(ZONES)]
        )


def fill_daily_stats(ages: range) -> None:
    """The counters of each mailbox's local dates `ages` days before its local today (as
    the database's clock has it), random as a day's counters are; rows that exist stay."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.2)")
        cursor.execute(
            "INSERT INTO warmup_logs (mailbox_id, date, quota, reserved, sent, failed, deferred, "
            "unknown, received, replied, inbox, spam, dmarc_pass, dmarc_fail, quota_met, streak) "
            "SELECT id, day, 30, 30, sent, failed, 0, 0, sent, 0, 0, 0, 0, 0, sent >= 30, "
            "CASE WHEN sent >= 30 THEN 1 ELSE 0 END "
            "FROM (SELECT m.id, (now() AT TIME ZONE m.timezone)::date - age AS day, "
            "  CASE WHEN age = 0 THEN floor(random() * 31)::int "
            "       ELSE 20 + floor(random() * 11)::int END AS sent, "
            "  floor(random() * 3)::int AS failed "
            "  FROM mailboxes m, generate_series(%s, %s) AS age) AS s "
            "ON CONFLICT (mailbox_id, date) DO NOTHING",
            [ages.start, ages.stop - 1],
        )


def fill_targets() -> None:
    """The checked domains and server addresses of benchmarks/reputation_reads.py. The
    mailboxes' domains are d0.sim … d33333.sim; the others are domains no mailbox sends
    from now."""
    ReputationTarget.objects.bulk_create(
        checked_targets(lambda n: f"d{n}.sim", DOMAINS, ADDRESSES), batch_size=5000
    )


def fill(mailboxes: int, users: int) -> None:
    """What is missing of the data, so that --reuse also completes an older run's."""
    if not Mailbox.objects.exists():
        simulate.create_network(mailboxes, users, random.Random(1), daily=30)
    if not Mailbox.objects.exclude(timezone="UTC").exists():
        spread_time_zones()
    fill_daily_stats(range(1) if DailyStat.objects.exists() else range(DAYS))
    if not ReputationTarget.objects.exists():
        fill_targets()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE warmup_logs, mailboxes, reputation_targets")


# --- what to measure -----------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    path: str  # as in the schema: /api/domains/{name}/
    query: dict[str, str]
    first: bool  # the path's first variant: its queries are counted at two page sizes

    def url(self, ids: dict[str, str]) -> str:
        label = self.label()
        for name, value in ids.items():
            label = label.replace(name, value)
        return label

    def label(self) -> str:
        return self.path + ("?" + urlencode(self.query, safe="{}") if self.query else "")


def calls() -> list[Call]:
    """Each GET of the schema with every combination of its enumerated query parameters'
    values (the default left out), with `id` for an endpoint that takes one, and the last
    page of each paginated one."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, operations in schema["paths"].items():
        if "get" not in operations:
            continue
        params = {
            p["name"]: p for p in operations["get"].get("parameters", []) if p["in"] == "query"
        }
        enums = {
            name: [None, *(v for v in p["schema"]["enum"] if v != p["schema"].get("default"))]
            for name, p in params.items()
            if "enum" in p.get("schema", {})
        }
        variants = [
            {name: value for name, value in zip(enums, values, strict=True) if value is not None}
            for values in itertools.product(*enums.values())
        ]
        if "id" in params:  # one object rather than the page
            variants.append({"id": "{id}"})
        if "page" in params:
            variants.append({"page": "last"})
        found += [Call(path, query, n == 0) for n, query in enumerate(variants)]
    return found + [Call(path, {}, False) for path in OUTSIDE_SCHEMA]


@dataclass(frozen=True)
class Figures:
    status: int
    p50: float
    p95: float
    queries: int


def measure(client: Client, token: str, url: str, n: int) -> Figures:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    for _ in range(2):  # warm caches and connections
        response = client.get(url, **headers)
        assert response.status_code in (200, 403), (
            url,
            response.status_code,
            response.content[:300],
        )
    times = []
    for _ in range(n):
        started = time.perf_counter()
        client.get(url, **headers)
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(url, **headers)
    return Figures(response.status_code, *p50_p95(times), len(queries))


@dataclass
class CensusSchedule:
    """The `warmup: metric census` schedule's work, done here: a census kept every
    CENSUS_EVERY_S at most."""

    kept_at: float = -float("inf")

    def keep(self) -> float | None:
        """Keep a census if the last is a minute old; how long counting it took (ms)."""
        if time.perf_counter() - self.kept_at < CENSUS_EVERY_S:
            return None
        started = time.perf_counter()
        keep_census(take_census(db_now(), settings.WARMUP))
        self.kept_at = time.perf_counter()
        return (self.kept_at - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--only", default="", help="measure only the paths containing this")
    parser.add_argument("--keep", action="store_true", help="leave the data for a --reuse run")
    parser.add_argument("--reuse", action="store_true", help="measure the data a --keep run left")
    args = parser.parse_args()
    logging.getLogger("django.request").setLevel(logging.ERROR)  # the users' 403s
    open_scratch_database(reuse=args.reuse)
    users = max(1, args.mailboxes // 100)
    try:
        started = time.perf_counter()
        fill(args.mailboxes, users)
        print(
            f"data: {Mailbox.objects.count()} mailboxes of {users} users, "
            f"{DailyStat.objects.count()} DailyStat rows, "
            f"{ReputationTarget.objects.count()} checked domains and addresses "
            f"({time.perf_counter() - started:.0f} s to create or complete)"
        )
        staff, _ = get_user_model().objects.get_or_create(
            username=f"{PREFIX}staff",
            # A superuser: staff see every owner's mailboxes, the engine and the metrics
            # only with the model permissions, and a superuser holds them all.
            defaults={"is_staff": True, "is_superuser": True},
        )
        ordinary = get_user_model().objects.get(username=f"{PREFIX}0")
        own = Mailbox.objects.filter(owner=ordinary).order_by("id").first()
        assert own is not None
        ids = {"{id}": str(own.id), "{name}": own.email.rsplit("@", 1)[1]}
        client = Client(SERVER_NAME="127.0.0.1")  # a host ALLOWED_HOSTS has
        census = CensusSchedule()
        print(f"census (the schedule's task, every minute): {census.keep():.0f} ms")
        print(
            f"\n{'endpoint and query':<62} {'who':<5} {'code':>4} {'p50 ms':>7} {'p95 ms':>7} "
            f"{'queries':>7} {'q@10':>5} {'q@100':>5}"
        )
        worst: tuple[float, str] = (0.0, "")
        over: list[str] = []
        total = 0
        for call in calls():
            if args.only not in call.path:
                continue
            census.keep()
            for who, account in (("staff", staff), ("user", ordinary)):
                token = str(AccessToken.for_user(account))
                url = call.url(ids)
                got = measure(client, token, url, args.requests)
                sizes = ""
                if call.first and "{" not in call.path and got.status == 200:
                    join = "&" if "?" in url else "?"
                    small = measure(client, token, f"{url}{join}page_size=10", 1).queries
                    large = measure(client, token, f"{url}{join}page_size=100", 1).queries
                    sizes = f"{small:>5} {large:>5}"
                total += 1
                if got.p95 > GOAL_MS:
                    over.append(f"{call.label()} ({who}) {got.p95:.0f} ms")
                worst = max(worst, (got.p95, f"{call.label()} ({who})"))
                print(
                    f"{call.label():<62} {who:<5} {got.status:>4} {got.p50:7.1f} {got.p95:7.1f} "
                    f"{got.queries:7d} {sizes}",
                    flush=True,
                )
        print(f"\nabove {GOAL_MS:.0f} ms p95:" if over else "", *over, sep="\n  ")
        print(
            f"worst p95 {worst[0]:.1f} ms: {worst[1]}; "
            f"{len(over)} of {total} above {GOAL_MS:.0f} ms"
        )
    finally:
        if not args.keep:
            empty_scratch_database(PREFIX)
            ReputationTarget.objects.all().delete()
        settings.DEBUG = False


if __name__ == "__main__":
    main()
