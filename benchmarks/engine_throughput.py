"""Sends per second of one run_warmup process, with all its bookkeeping, beside a bare
aiosmtplib loop, both against the same aiosmtpd sink running in another process.

Usage (a scratch PostgreSQL database it may fill and empty):
    createdb -h 127.0.0.1 -U postgres warmup_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/warmup_bench \\
        .venv/bin/python benchmarks/engine_throughput.py [--sends 4000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warmup_project.settings")
# Development settings, as `make run`: keys derived from the development SECRET_KEY
# for a scratch database, localhost, and the local SMTP sink / IMAP server allowed.
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("WARMUP_ALLOW_PRIVATE_HOSTS", "true")

import django  # noqa: E402

django.setup()

import aiosmtplib  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts import crypto  # noqa: E402
from accounts.models import Mailbox, MailboxToken  # noqa: E402
from benchmarks.scratch import empty_scratch_database, open_scratch_database  # noqa: E402
from warmup.engine import content  # noqa: E402
from warmup.engine.planner import plan_cycle  # noqa: E402
from warmup.models import SendLog, SendStatus  # noqa: E402

CONCURRENCY = 20
# Any password login, and any bearer token (XOAUTH2), is taken: the client's cost alone.
SINK = (
    "import sys, time; from accounts.transport.sink import SinkServer; "
    "SinkServer('127.0.0.1', int(sys.argv[1]), keep_messages=False, any_login=True, "
    "check_token=lambda user, token: True).start(); "
    "print('ready', flush=True); time.sleep(10**6)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample_message() -> bytes:
    return content.compose(
        sender=content.Party("a@bench-a.test", "Ann"),
        recipient=content.Party("b@bench-b.test"),
        slot_id=1,
        subject="Update on the roadmap",
        topic="the roadmap",
        now=timezone.now(),
    ).data


async def bare_loop(port: int, groups: list[int]) -> float:
    """CONCURRENCY lanes; each takes a group, connects, logs in, sends the group's
    messages and quits: the engine's connection pattern without its bookkeeping.
    One group of all sends per lane is the fastest a loop can go."""
    data = sample_message()
    queue = list(groups)

    async def lane() -> None:
        while queue:
            count = queue.pop()
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
            await client.connect()
            await client.login("bench", "bench")
            for _ in range(count):
                await client.sendmail("a@bench-a.test", ["b@bench-b.test"], data)
            await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(CONCURRENCY)))
    return sum(groups) / (time.perf_counter() - started)


def engine_run(
    port: int, sends: int, mailboxes: int, auth_method: str = "password"
) -> tuple[float, int, str]:
    """Sends per second of `run_warmup --once` over `sends` due slots of `mailboxes`
    mailboxes logging in by `auth_method`: "password" (the sink takes any), or "oauth2"
    (XOAUTH2 with a stored access token, valid an hour: the engine reads and decrypts it
    as in production; no refresh falls in the run)."""
    users = get_user_model()
    owners = [users.objects.create(username=f"bench-owner-{n}") for n in range(4)]
    boxes = Mailbox.objects.bulk_create(
        Mailbox(
            owner=owners[n % 4],
            auth_method=auth_method,
            provider="gmail" if auth_method != "password" else "other",
            email=f"bench{n}@bench{n % 50}.test",
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_security="none",
            smtp_username=f"bench{n}",
            imap_host="127.0.0.1",
            imap_username=f"bench{n}",
            window_start_hour=0,
            window_end_hour=24,
            daily_max=200,
            start_volume=200,
        )
        for n in range(mailboxes)
    )
    now = timezone.now()
    if auth_method != "password":
        MailboxToken.objects.bulk_create(
            MailboxToken(
                mailbox=box,
                access_secret=crypto.encrypt(f"bench-access-token-{box.pk}"),
                refresh_secret=crypto.encrypt(f"bench-refresh-token-{box.pk}"),
                expires_at=now + dt.timedelta(hours=1),
                refresh_after=now + dt.timedelta(minutes=50),
            )
            for box in boxes
        )
    per_box = sends // mailboxes
    SendLog.objects.bulk_create(
        SendLog(
            sender=box,
            day=now.date(),
            slot_no=n,
            scheduled_at=now - dt.timedelta(minutes=1),
            timestamp=now,
        )
        for box in boxes
        for n in range(per_box)
    )
    plan_cycle(now, floor=30, margin=dt.timedelta(minutes=15))  # the worker only dispatches
    env = {
        **os.environ,
        "WARMUP_BATCH_SIZE": "500",
        "WARMUP_MAX_CONCURRENT": str(CONCURRENCY),
        "WARMUP_BATCH_DELAY_MS": "0",
        "WARMUP_STAGGER_MIN_MS": "0",
        "WARMUP_STAGGER_MAX_MS": "0",
        "WARMUP_GLOBAL_MINUTE_LIMIT": "1000000",
        "WARMUP_GLOBAL_HOURLY_LIMIT": "10000000",
        "WARMUP_USER_HOURLY_LIMIT": "1000000",
    }
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "manage.py", "run_warmup", "--once"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    wall = time.perf_counter() - started
    line = next((x for x in result.stderr.splitlines() if "cycle:" in x), result.stderr[-500:])
    sent = SendLog.objects.filter(status=SendStatus.SENT).count()
    cycle = re.search(r", ([0-9.]+)s$", line)
    return sent / float(cycle.group(1)) if cycle else sent / wall, sent, line


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sends", type=int, default=4000)
    parser.add_argument("--mailboxes", type=int, default=200)
    parser.add_argument(
        "--compare-auth",
        action="store_true",
        help="instead: the engine with passwords, then with XOAUTH2 tokens, and the ratio",
    )
    args = parser.parse_args()
    if args.compare_auth:
        compare_auth(args.sends, args.mailboxes)
        return
    open_scratch_database()
    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, "-c", SINK, str(port)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert sink.stdout and sink.stdout.readline().strip() == "ready"
        long_lived = asyncio.run(bare_loop(port, [args.sends // CONCURRENCY] * CONCURRENCY))
        # The engine's batches of 500 due slots hold ~500/200 sends per sender.
        per_sender = max(1, round(500 / args.mailboxes))
        same_pattern = asyncio.run(bare_loop(port, [per_sender] * (args.sends // per_sender)))
        print(
            f"bare loop, {CONCURRENCY} long-lived connections:            {long_lived:8.1f} sends/s"
        )
        print(
            f"bare loop, a connection per sender ({per_sender} each): {same_pattern:8.1f} sends/s"
        )
        rate, sent, line = engine_run(port, args.sends, args.mailboxes)
        print(
            f"run_warmup --once, full bookkeeping:              {rate:8.1f} sends/s ({sent} sent)"
        )
        print(
            f"engine / bare (same connection pattern): {rate / same_pattern:.0%}; "
            f"engine / bare (long-lived): {rate / long_lived:.0%}"
        )
        print(f"worker's cycle line: {line.split('INFO warmup.engine ')[-1]}")
    finally:
        sink.terminate()
        empty_scratch_database("bench-owner-")


def compare_auth(sends: int, mailboxes: int, rounds: int = 3) -> None:
    """The engine's sends/s logging in with passwords, then with XOAUTH2, alternating
    `rounds` times against the same sink (the best of each: the machine's noise aside)."""
    open_scratch_database()
    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, "-c", SINK, str(port)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    rates: dict[str, list[float]] = {"password": [], "oauth2": []}
    try:
        assert sink.stdout and sink.stdout.readline().strip() == "ready"
        for n in range(rounds):
            for method in rates:
                rate, sent, _ = engine_run(port, sends, mailboxes, method)
                rates[method].append(rate)
                print(f"round {n + 1}, {method:8}: {rate:8.1f} sends/s ({sent} sent)", flush=True)
                empty_scratch_database("bench-owner-")
    finally:
        sink.terminate()
        empty_scratch_database("bench-owner-")
    best = {method: max(values) for method, values in rates.items()}
    print(
        f"best of {rounds}: password {best['password']:.1f} sends/s, "
        f"XOAUTH2 {best['oauth2']:.1f} sends/s; XOAUTH2 / password = "
        f"{best['oauth2'] / best['password']:.2f}"
    )


if __name__ == "__main__":
    main()
