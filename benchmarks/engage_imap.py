"""Mailboxes engaged per minute against a local Dovecot: 50 mailboxes with 20 warmup
messages each (15 delivered to the inbox through LMTP, 5 APPENDed to Junk), engaged
once with one IMAP session at a time and once with WARMUP_IMAP_CONCURRENCY's default of 10
(each run on freshly delivered mail). Every message is found, placed, flagged, filed;
30 % get a reply planned.

Usage (a scratch PostgreSQL database it may fill and empty; Dovecot installed):
    createdb -h 127.0.0.1 -U postgres warmup_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/warmup_bench \\
        .venv/bin/python benchmarks/engage_imap.py [--mailboxes 50] [--messages 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
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

from accounts.models import Mailbox, OwnerPlan  # noqa: E402
from benchmarks.scratch import empty_scratch_database, open_scratch_database  # noqa: E402
from tests import dovecot  # noqa: E402
from tests.warmup_mail import sent_message  # noqa: E402
from warmup.engine.engage import engage_pass  # noqa: E402
from warmup.models import DailyStat, SendLog  # noqa: E402
from warmup_project.db import db_now  # noqa: E402

PREFIX = "engage-bench-"


def fill(server: dovecot.Dovecot, readers: list[Mailbox], senders: list[Mailbox], n: int) -> int:
    now = db_now()
    today = now.date()
    delivered = 0
    next_slot = dict.fromkeys((s.id for s in senders), 0)
    existing = SendLog.objects.filter(sender__in=senders, day=today).values_list(
        "sender_id", "slot_no"
    )
    for sender_id, slot_no in existing:
        next_slot[sender_id] = max(next_slot[sender_id], slot_no + 1)
    for r, reader in enumerate(readers):
        for m in range(n):
            sender = senders[(r + m) % len(senders)]
            slot_no = next_slot[sender.id]
            next_slot[sender.id] += 1
            _, data = sent_message(sender, reader, day=today, slot_no=slot_no, at=now)
            if m % 4 == 3:
                server.append(reader.email, "Junk", data)
            else:
                server.deliver(reader.email, data)
            delivered += 1
    return delivered


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, default=50)
    parser.add_argument("--messages", type=int, default=20)
    args = parser.parse_args()
    if not dovecot.available():
        sys.exit("needs Dovecot: apt-get install -y dovecot-imapd dovecot-lmtpd")
    open_scratch_database()
    users = {f"reader{n}@r{n % 9}.test": f"pw-{n}" for n in range(args.mailboxes)}
    try:
        owner = get_user_model().objects.create_user(f"{PREFIX}owner")
        OwnerPlan.objects.update_or_create(owner=owner, defaults={"max_daily_quota": 1000})
        with dovecot.Dovecot(users) as server:
            readers = [
                Mailbox.objects.create(
                    owner=owner,
                    email=email,
                    smtp_host="127.0.0.1",
                    smtp_username=email,
                    smtp_password=password,
                    imap_host="127.0.0.1",
                    imap_port=server.imap_port,
                    imap_security="none",
                    imap_username=email,
                    imap_password=password,
                    daily_max=1000,
                    reply_rate=0.3,
                )
                for email, password in users.items()
            ]
            senders = [
                Mailbox.objects.create(
                    owner=owner,
                    email=f"sender{n}@s{n}.test",
                    smtp_host="127.0.0.1",
                    smtp_username="s",
                    smtp_password="s",
                    imap_host="127.0.0.1",
                    imap_username="s",
                    imap_password="s",
                    warmup_enabled=False,  # senders only: not engaged
                )
                for n in range(5)
            ]
            today = db_now().date()
            for box in readers + senders:
                DailyStat.objects.create(mailbox=box, date=today, quota=30, reserved=30)
            print(
                f"{args.mailboxes} mailboxes × {args.messages} messages "
                f"(a quarter in Junk), Dovecot on 127.0.0.1:{server.imap_port}"
            )
            for concurrency in (1, 10):
                started = time.perf_counter()
                delivered = fill(server, readers, senders, args.messages)
                fill_s = time.perf_counter() - started
                Mailbox.objects.filter(id__in=[b.id for b in readers]).update(engaged_at=None)
                started = time.perf_counter()
                stats = engage_pass(
                    db_now(),
                    settings.SECRET_KEY,
                    concurrency=concurrency,
                    every=dt.timedelta(minutes=15),
                    allow_private=True,  # Dovecot on loopback
                )
                took = time.perf_counter() - started
                errors = [r.error for r in stats.results if r.error]
                print(
                    f"concurrency {concurrency:>2}: {stats.mailboxes} mailboxes in {took:.1f} s = "
                    f"{stats.mailboxes / took * 60:,.0f} mailboxes/min, "
                    f"{delivered / took:,.0f} messages/s; placed {stats.total('placed')}, "
                    f"rescued {stats.total('spam')}, filed {stats.total('filed')}, "
                    f"replies {stats.total('replies')}, errors {len(errors)} "
                    f"(delivery took {fill_s:.1f} s)"
                )
                if errors:
                    print("   first error:", errors[0])
    finally:
        empty_scratch_database(PREFIX)


if __name__ == "__main__":
    main()
