"""Time `manage.py import_mailboxes` on a 10,000-row file: a fresh import (all creations),
then the same file again (all updates).

It writes to the database: point DATABASE_URL at a scratch database, e.g.

    createdb -h 127.0.0.1 -U postgres warmup_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/warmup_bench \\
        .venv/bin/python benchmarks/import_mailboxes.py [--rows 10000]

It runs migrate, creates the user "bench-import-owner" with a plan allowing 20,000
mailboxes, and deletes that user and its mailboxes at the end.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from io import StringIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warmup_project.settings")
# Development settings, as `make run`: keys derived from the development SECRET_KEY
# for a scratch database, localhost, and the local SMTP sink / IMAP server allowed.
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("WARMUP_ALLOW_PRIVATE_HOSTS", "true")

BENCH_USERNAME = "bench-import-owner"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    return parser.parse_args()


def check_database() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        sys.exit(
            "DATABASE_URL is not set. Point it at a scratch database this script may write "
            "to, e.g. `createdb warmup_bench` and "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/warmup_bench"
        )


def write_csv(path: Path, rows: int) -> None:
    from accounts.importing import OPTIONAL_COLUMNS, REQUIRED_COLUMNS  # after django.setup()

    header = [*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS]
    zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for i in range(rows):
            domain = f"bench{i % 50}.import.test"
            writer.writerow(
                [
                    f"box{i}@{domain}",
                    f"smtp.{domain}",
                    587,
                    "starttls",
                    "",
                    f"smtp-password-{i}",
                    f"imap.{domain}",
                    993,
                    "ssl",
                    "",
                    f"imap-password-{i}",
                    "yes",
                    50,
                    zones[i % len(zones)],
                ]
            )


def main() -> None:
    args = parse_args()
    check_database()

    import django

    django.setup()

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Mailbox, OwnerPlan

    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    user_model.objects.filter(username=BENCH_USERNAME).delete()  # a crashed earlier run
    owner = user_model.objects.create(username=BENCH_USERNAME)
    OwnerPlan.objects.create(owner=owner, max_mailboxes=20_000, max_daily_quota=100)

    print(f"database: PostgreSQL {connection.settings_dict['NAME']}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "mailboxes.csv"
            write_csv(path, args.rows)
            for label in ("fresh import (creates)", "second run (updates)"):
                out = StringIO()
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    call_command(
                        "import_mailboxes", str(path), owner=BENCH_USERNAME, stdout=out, verbosity=0
                    )
                    seconds = time.perf_counter() - started
                print(
                    f"{label:<24} {args.rows} rows in {seconds:6.2f} s = "
                    f"{args.rows / seconds:8.0f} rows/s, {len(queries)} queries; "
                    f"{out.getvalue().strip()}"
                )
        assert Mailbox.objects.filter(owner=owner).count() == args.rows
    finally:
        Mailbox.objects.filter(owner=owner).delete()
        owner.delete()


if __name__ == "__main__":
    main()
