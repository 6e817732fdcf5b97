"""What showing reputation costs at 100,000 mailboxes and 50,000 checked domains: the
metrics' reputation read (each scrape), and GET /api/domains/ for staff (every domain and
address) and for an owner of 100 mailboxes, p50/p95 of 20 runs each.

The data: 100,000 mailboxes of 1,000 owners over 50,000 domains (two each); every domain
checked (mx, spf, dkim, dmarc, dnsbl), 2 % failing SPF, 1 in 7 with DMARC warning, 1 in
500 listed; 200 server addresses, 2 of them listed; 1 % of the mailboxes paused for DNS.

Usage (a scratch database it may fill and empty):
    createdb -h 127.0.0.1 -U postgres warmup_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/warmup_bench \\
        .venv/bin/python benchmarks/reputation_reads.py [--keep] [--reuse]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warmup_project.settings")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("WARMUP_ALLOW_PRIVATE_HOSTS", "true")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from accounts import crypto  # noqa: E402
from accounts import status as mailbox_status  # noqa: E402
from accounts.models import DNS_BROKEN, Mailbox  # noqa: E402
from benchmarks.scratch import empty_scratch_database, open_scratch_database  # noqa: E402
from benchmarks.timing import p50_p95  # noqa: E402
from metrics.reading import read_reputation  # noqa: E402
from warmup.models import ReputationTarget  # noqa: E402

OWNERS, MAILBOXES, DOMAINS, ADDRESSES = 1000, 100_000, 50_000, 200
PREFIX = "repbench"
AT = "2026-12-01T06:00:00+00:00"


def verdict(v: str) -> dict[str, str]:
    return {"verdict": v, "detail": "", "checked_at": AT}


def fill() -> None:
    owners = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"{PREFIX}{i}") for i in range(OWNERS)]
    )
    secret = crypto.encrypt("benchmark-password")
    boxes = [
        Mailbox(
            owner=owners[n % OWNERS],
            email=f"box{n}@dom{n % DOMAINS}.test",
            smtp_host="smtp.test",
            smtp_username="u",
            smtp_secret=secret,
            imap_host="imap.test",
            imap_username="u",
            imap_secret=secret,
            status=mailbox_status.PAUSED if n % 100 == 0 else mailbox_status.ACTIVE,
            status_reason=f"{DNS_BROKEN}: spf fails" if n % 100 == 0 else "",
        )
        for n in range(MAILBOXES)
    ]
    Mailbox.objects.bulk_create(boxes, batch_size=5000)
    ReputationTarget.objects.bulk_create(
        checked_targets(lambda n: f"dom{n}.test", DOMAINS, ADDRESSES), batch_size=5000
    )


def checked_targets(
    domain: Callable[[int], str], domains: int, addresses: int
) -> list[ReputationTarget]:
    """`domains` checked domains (named by `domain(n)`): 2 % failing SPF, 1 in 7 with a
    DMARC warning, 1 in 500 listed; and `addresses` server addresses, 2 of them listed.
    Also benchmarks/api_latency.py's."""
    since = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
    return [
        ReputationTarget(
            kind=ReputationTarget.DOMAIN,
            name=domain(n),
            checks={
                "mx": verdict("pass"),
                "spf": verdict("fail" if n % 50 == 0 else "pass"),
                "dkim": verdict("pass"),
                "dmarc": verdict("warn" if n % 7 == 0 else "pass"),
                "dnsbl": verdict("fail" if n % 500 == 0 else "pass"),
            },
            checked_at=AT,
            failing_since=since if n % 50 == 0 else None,
            failing_reason="spf: fail" if n % 50 == 0 else "",
            listed_since=since if n % 500 == 0 else None,
        )
        for n in range(domains)
    ] + [
        ReputationTarget(
            kind=ReputationTarget.ADDRESS,
            name=f"192.0.{n // 250}.{n % 250 + 1}",
            checks={"ptr": verdict("pass"), "dnsbl": verdict("fail" if n < 2 else "pass")},
            checked_at=AT,
            listed_since=since if n < 2 else None,
        )
        for n in range(addresses)
    ]


def timed(label: str, run: Callable[[], object], times: int = 20) -> None:
    run()
    spent = []
    for _ in range(times):
        start = time.perf_counter()
        run()
        spent.append((time.perf_counter() - start) * 1000)
    p50, p95 = p50_p95(spent)
    print(f"{label:<48} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", action="store_true", help="leave the data for --reuse")
    parser.add_argument("--reuse", action="store_true", help="measure a --keep run's data")
    args = parser.parse_args()
    if not open_scratch_database(args.reuse):
        fill()
    settings.ALLOWED_HOSTS = ["*"]
    user_model = get_user_model()
    staff, _ = user_model.objects.get_or_create(
        username=f"{PREFIX}-root", defaults={"is_staff": True, "is_superuser": True}
    )
    owner = user_model.objects.get(username=f"{PREFIX}5")
    counts = {"dns_paused": 0, "ramp_held": 0, "dmarc_flagged": 0}
    try:
        timed("metrics: read_reputation", lambda: read_reputation(counts))
        for who, account, last_page in (("staff", staff, 100), ("owner of 100", owner, 2)):
            client = APIClient()
            client.force_authenticate(account)
            for query in ("", "?status=failing", "?ordering=name", f"?page={last_page}"):
                url = f"/api/domains/{query}"
                timed(f"{who}: GET {url}", lambda c=client, u=url: c.get(u))  # type: ignore[misc]
            one = "/api/domains/dom5.test/"
            timed(f"{who}: GET {one}", lambda c=client, u=one: c.get(u))  # type: ignore[misc]
    finally:
        if not args.keep:
            ReputationTarget.objects.all().delete()
            empty_scratch_database(PREFIX)


if __name__ == "__main__":
    main()
