"""One bad mailbox among good ones, at the production settings: what the good ones lose.

1. An engine cycle: good mailboxes of three owners on a local SMTP server, and, owned by
   a fourth, a poison host (a..b), a server answering every line --slow-s late (40 s), a
   silent one, a 10 MB greeting, a flood and another service's banner. The transport as
   deployed (WARMUP_SEND_DEADLINE_S, command timeout min(60 s, deadline), 20 lanes),
   without the stagger. Prints every batch's duration, the good sends due and sent (and
   unknown), each hostile mailbox's outcome, and the process's peak memory.
2. An engagement pass: three Dovecot readers with warmup mail among IMAP servers that
   trickle a line a second, stay silent, greet with 10 MB, flood or answer a banner, and
   a poison host; the production time box (45 s).
3. The connection test (API, in process) at every private spelling of the loopback
   address, with private hosts refused: the status, whether any byte of the target's
   banner came back, and whether the target saw a connection.
4. gunicorn as deployed (2 processes × 4 threads): eight connection tests at once at a
   silent server, and /healthz asked every 20 ms meanwhile: its latency.

Usage (a scratch PostgreSQL database it may fill and empty; Dovecot for part 2):
    createdb -h 127.0.0.1 -U postgres warmup_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/warmup_bench \\
        .venv/bin/python benchmarks/hostile_servers.py [--good 30] [--slow-s 40] \\
        [--deadline S] [--parts engine,engage,spellings,healthz]

At the defaults a server answering every 40 s is cut by the 20 s connect timeout (its
greeting comes too late); `--slow-s 15` lets it through the greeting and the batch
deadline cuts it.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import random
import resource
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warmup_project.settings")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("WARMUP_ALLOW_PRIVATE_HOSTS", "true")  # the servers are on loopback

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.hashers import PBKDF2PasswordHasher  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from accounts.models import Mailbox, OwnerPlan  # noqa: E402
from accounts.transport.sink import SinkServer  # noqa: E402
from accounts.transport.smtp import SmtpTransport  # noqa: E402
from benchmarks.scratch import empty_scratch_database, open_scratch_database  # noqa: E402
from benchmarks.timing import p50_p95  # noqa: E402
from tests import dovecot  # noqa: E402
from tests.hostile import (  # noqa: E402
    HostileServer,
    hostile_mailboxes,
    hostile_set,
    loopback_mailbox,
)
from tests.test_deployment import bearer, gunicorn, request  # noqa: E402
from tests.warmup_mail import sent_message  # noqa: E402
from warmup.engine.cycle import Engine  # noqa: E402
from warmup.engine.engage import engage_pass  # noqa: E402
from warmup.engine.planner import plan_cycle  # noqa: E402
from warmup.models import SendLog, SendStatus  # noqa: E402
from warmup_project.db import db_now  # noqa: E402

PREFIX = "hostile-bench-"
PASSWORD = "a-long-benchmark-password-42"
PRIVATE_SPELLINGS = ("127.0.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "localhost", "::1")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def owner(name: str) -> object:
    user = get_user_model().objects.create_user(f"{PREFIX}{name}")
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, "benchsalt0123")
    user.save()
    OwnerPlan.objects.update_or_create(owner=user, defaults={"max_daily_quota": 1000})
    return user


class Timed:
    def __init__(self, inner: SmtpTransport) -> None:
        self.inner, self.durations = inner, []

    async def send_batch(self, groups):  # type: ignore[no-untyped-def]
        started = time.monotonic()
        try:
            return await self.inner.send_batch(groups)
        finally:
            self.durations.append(time.monotonic() - started)


def engine_cycle(good_count: int, slow_s: float, deadline: int) -> None:
    config = dataclasses.replace(
        settings.WARMUP,
        send_deadline_s=deadline,
        batch_delay_ms=0,
        global_minute_limit=1_000_000,
        global_hourly_limit=1_000_000,
        user_hourly_limit=1_000_000,
    )
    owners = [owner(f"owner{n}") for n in range(3)]
    mallory = owner("mallory")
    with SinkServer() as good_server, hostile_set(slow_s=slow_s) as servers:
        goods = [
            loopback_mailbox(owners[n % 3], f"good{n}@g{n}.test", smtp_port=good_server.port)
            for n in range(good_count)
        ]
        hostile = hostile_mailboxes(mallory, servers, "smtp")
        now = db_now()
        start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        plan_cycle(start_of_day, floor=30, margin=dt.timedelta(minutes=15))
        SendLog.objects.filter(status=SendStatus.PLANNED).update(scheduled_at=now)
        due = SendLog.objects.filter(sender__in=goods).count()
        inner = SmtpTransport(
            max_concurrent=config.max_concurrent,
            stagger_ms=(0, 0),
            rng=random.Random(1),
            command_timeout=min(60, deadline),
            deadline_s=deadline,
            allow_private=True,
        )
        timed = Timed(inner)
        cycle = Engine(
            config=config,
            transport=timed,
            clock=db_now,
            worker=f"{PREFIX}worker",
            token_secret=settings.SECRET_KEY,
            sleep=lambda s: None,
        )
        print(
            f"engine: {good_count} good mailboxes of 3 owners ({due} sends due), "
            f"6 hostile ones; deadline {deadline} s, slow server {slow_s:g} s a line"
        )
        started = time.monotonic()
        stats = cycle.run_cycle(plan=False)
        took = time.monotonic() - started
    good_status = Counter(SendLog.objects.filter(sender__in=goods).values_list("status", flat=True))
    print(f"  cycle {took:.1f} s: {stats.line()}")
    print(
        f"  {len(timed.durations)} batches; longest {max(timed.durations):.1f} s, "
        f"the others {sorted(timed.durations)[-2] if len(timed.durations) > 1 else 0:.2f} s "
        f"at most"
    )
    print(
        f"  good sends: {good_status[SendStatus.SENT]} of {due} sent, "
        f"{good_status[SendStatus.UNKNOWN]} unknown, {good_server.accepted} received"
    )
    for name, box in hostile.items():
        box.refresh_from_db()
        slots = Counter(SendLog.objects.filter(sender=box).values_list("status", flat=True))
        why = box.status_reason or box.last_error
        print(f"  {name:>12}: mailbox {box.status} ({why[:70]}); slots {dict(slots)}")
    print(f"  peak memory of this process: {peak_rss_mb():.0f} MB")


def engagement_pass() -> None:
    if not dovecot.available():
        print("engagement: skipped (needs Dovecot)")
        return
    user = owner("readers")
    sender_owner = owner("senders")
    mallory = owner("imap-mallory")
    readers = {f"reader{n}@inbox{n}.test": f"pass-{n}" for n in range(3)}
    with dovecot.Dovecot(readers) as good, hostile_set("imap") as servers:
        goods = []
        for email, password in readers.items():
            box = loopback_mailbox(user, email, imap_port=good.imap_port)
            box.imap_password = password
            box.save()
            goods.append(box)
        senders = [
            loopback_mailbox(sender_owner, f"s{n}@out{n}.test", warmup_enabled=False)
            for n in range(2)
        ]
        now = db_now()
        for n, reader in enumerate(goods):
            for k in range(10):
                _, data = sent_message(
                    senders[k % 2], reader, day=now.date(), slot_no=n * 10 + k, at=now
                )
                good.deliver(reader.email, data)
        hostile = hostile_mailboxes(mallory, servers, "imap")
        started = time.monotonic()
        stats = engage_pass(
            now,
            settings.SECRET_KEY,
            concurrency=settings.WARMUP.imap_concurrency,
            every=dt.timedelta(minutes=15),
            allow_private=True,
        )
        took = time.monotonic() - started
    results = {r.mailbox_id: r for r in stats.results}
    print(
        f"engagement: 3 Dovecot readers (10 messages each) among 6 hostile mailboxes "
        f"(a line a second, silent, 10 MB greeting, flood, banner, poison host): {took:.1f} s"
    )
    for box in goods:
        r = results[box.id]
        print(f"  {box.email:>22}: placed {r.placed}, filed {r.filed}, error {r.error!r}")
    for name, box in hostile.items():
        print(f"  {name:>22}: {results[box.id].error[:90]}")


def private_spellings() -> None:
    settings.WARMUP = dataclasses.replace(settings.WARMUP, allow_private_hosts=False)
    try:
        user = owner("spellings")
        client = APIClient(HTTP_HOST="127.0.0.1")
        client.force_authenticate(user)
        print("connection test at the loopback address, private hosts refused:")
        with (
            HostileServer("banner") as smtp_side,
            HostileServer("banner", protocol="imap") as imap_side,
        ):
            box = loopback_mailbox(
                user, "spell@spell.test", smtp_port=smtp_side.port, imap_port=imap_side.port
            )
            for host in PRIVATE_SPELLINGS:
                Mailbox.objects.filter(id=box.id).update(smtp_host=host, imap_host=host)
                response = client.post(f"/api/mailboxes/{box.id}/test/")
                leaked = b"NATS" in response.content or b"INFO" in response.content
                print(
                    f"  {host:>12}: {response.status_code}, banner bytes in the answer: "
                    f"{'yes' if leaked else 'none'}; {json.loads(response.content)['detail'][:70]}"
                )
            print(f"  connections the targets saw: {smtp_side.connections + imap_side.connections}")
    finally:
        settings.WARMUP = dataclasses.replace(settings.WARMUP, allow_private_hosts=True)


def healthz_under_tests() -> None:
    user = owner("gunicorn")
    with (
        HostileServer("silent") as smtp_side,
        HostileServer("silent", protocol="imap") as imap_side,
        gunicorn(
            overrides={
                "WARMUP_ALLOW_PRIVATE_HOSTS": "true",
                "WARMUP_SECRET_KEYS": ",".join(settings.WARMUP.secret_keys),
            }
        ) as port,
    ):
        box = loopback_mailbox(
            user, "gunicorn@g.test", smtp_port=smtp_side.port, imap_port=imap_side.port
        )
        auth = bearer(port, user.username, PASSWORD)
        quiet = []
        for _ in range(200):
            started = time.perf_counter()
            request(port, "GET", "/healthz")
            quiet.append(time.perf_counter() - started)
        answers: list[tuple[int, float]] = []

        def test_once() -> None:
            started = time.perf_counter()
            code = request(port, "POST", f"/api/mailboxes/{box.id}/test/", headers=auth)[0]
            answers.append((code, time.perf_counter() - started))

        callers = [threading.Thread(target=test_once) for _ in range(8)]
        for caller in callers:
            caller.start()
        busy = []
        while len(answers) < 8:
            started = time.perf_counter()
            assert request(port, "GET", "/healthz")[0] == 200
            busy.append(time.perf_counter() - started)
            time.sleep(0.02)
        for caller in callers:
            caller.join()
    codes = Counter(code for code, _ in answers)
    print("gunicorn (2 processes × 4 threads), 8 connection tests at once at a silent server:")
    print(
        "  the tests: "
        + ", ".join(f"{n} × {code}" for code, n in sorted(codes.items()))
        + f"; the longest took {max(t for _, t in answers):.1f} s; the 429s took "
        + ", ".join(f"{t * 1000:.0f}" for code, t in sorted(answers) if code == 429)
        + " ms"
    )
    for label, times in (("idle", quiet), ("during the tests", busy)):
        p50, p95 = p50_p95(times)
        slowest = sorted(range(len(times)), key=times.__getitem__)[-3:]
        print(
            f"  /healthz {label}: {len(times)} requests, p50 {p50 * 1000:.1f} ms, "
            f"p95 {p95 * 1000:.1f} ms, max {max(times) * 1000:.1f} ms (slowest: "
            + ", ".join(f"#{i + 1} {times[i] * 1000:.0f} ms" for i in reversed(slowest))
            + ")"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--good", type=int, default=30, help="good mailboxes in the cycle")
    parser.add_argument("--slow-s", type=float, default=40, help="the slow server's delay")
    parser.add_argument(
        "--deadline", type=int, default=None, help="WARMUP_SEND_DEADLINE_S (default: settings)"
    )
    parser.add_argument(
        "--parts", default="engine,engage,spellings,healthz", help="which parts, comma-separated"
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    open_scratch_database()
    deadline = args.deadline or settings.WARMUP.send_deadline_s
    try:
        if "engine" in parts:
            engine_cycle(args.good, args.slow_s, deadline)
            empty_scratch_database(PREFIX)
        if "engage" in parts:
            engagement_pass()
        if "spellings" in parts:
            private_spellings()
        if "healthz" in parts:
            healthz_under_tests()
    finally:
        empty_scratch_database(PREFIX)


if __name__ == "__main__":
    main()
