"""Several run_warmup workers as real processes on PostgreSQL, against a real SMTP server
(aiosmtpd in this process): a worker killed with SIGKILL mid-batch, database
connections killed under the workers. What must hold: every mailbox ends at quota, no
cap is passed, nothing is delivered twice, nothing is left in `sending`."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from accounts.models import Mailbox
from accounts.transport.sink import SinkServer
from tests.clock import morning_of
from tests.test_run_warmup import ROOT, database_url, start_worker
from warmup.engine.claim import STEAL_AFTER
from warmup.engine.planner import plan_cycle
from warmup.models import DailyStat, SendLog, SendStatus, Worker

pytestmark = pytest.mark.django_db(transaction=True)

MAILBOXES = 30
QUOTA = 6
# The cap counts sends that may have been delivered (unknown). Here a mailbox's whole day
# is due at once, so one killed batch can hold all of its slots: the cap leaves room for
# them and their replacements.
CAP = 2 * QUOTA
WORKER_ENV = {
    "WARMUP_HEARTBEAT_TIMEOUT_S": "10",
    "WARMUP_MIN_DAILY_QUOTA": "0",
    "WARMUP_BATCH_SIZE": "8",
    "WARMUP_MAX_CONCURRENT": "2",
}


def behind_today() -> Any:
    """Today's days short of their quota: from 21:00 UTC the workers plan tomorrow too
    (three hours ahead), and tomorrow's days have sent nothing yet."""
    return DailyStat.objects.filter(date=timezone.now().date(), sent__lt=F("quota"))


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; {state()}")
        time.sleep(0.2)


def state() -> str:
    statuses = Counter(SendLog.objects.values_list("status", flat=True))
    behind = list(
        behind_today().values_list(
            "mailbox__email", "quota", "reserved", "sent", "failed", "unknown", "deferred"
        )[:5]
    )
    columns = "quota, reserved, sent, failed, unknown, deferred"
    return f"slots {dict(statuses)}; behind ({columns}) {behind}"


@pytest.fixture
def network(make_mailbox: Any) -> Iterator[SinkServer]:
    """30 mailboxes on 10 domains whose whole day is planned and due now (the rest of the
    day compressed into the test), and the SMTP server they all send through."""
    with SinkServer(any_login=True, data_delay_s=0.15) as server:
        for n in range(MAILBOXES):
            make_mailbox(
                email=f"m{n}@d{n % 10}.test",
                smtp_host="127.0.0.1",
                smtp_port=server.port,
                smtp_security="none",
                window_start_hour=0,
                window_end_hour=24,
                start_volume=QUOTA,
                daily_increase=0,
                daily_max=CAP,
            )
        now = timezone.now()
        plan_cycle(morning_of(now), floor=0, margin=dt.timedelta(minutes=1))
        assert SendLog.objects.count() == MAILBOXES * QUOTA
        SendLog.objects.update(scheduled_at=now - dt.timedelta(seconds=30))
        yield server


def bring_replacements_forward() -> None:
    """Replacements for lost sends are spread over the rest of the day; the test has no
    day to wait, so they become due, and overdue enough for any worker to take them.
    Today's only: from 21:00 UTC the workers plan tomorrow too (three hours ahead)."""
    now = timezone.now()
    SendLog.objects.filter(day=now.date(), status=SendStatus.PLANNED, scheduled_at__gt=now).update(
        scheduled_at=now - STEAL_AFTER
    )


def check_outcome(server: SinkServer) -> Counter[tuple[str, str]]:
    assert not SendLog.objects.filter(status=SendStatus.SENDING).exists()
    behind = behind_today()
    assert not behind.exists(), list(behind.values("mailbox__email", "sent", "quota"))
    delivered = Counter(m.mail_from for m in server.received)
    caps = dict(Mailbox.objects.values_list("email", "daily_max"))
    assert all(n <= caps[email] for email, n in delivered.items()), delivered
    # Nothing marks the messages (WARMUP_TAG_MODE=none): a slot is its sender's subject,
    # which no mailbox repeats within 100 messages, and a slot sent twice keeps it.
    return Counter((m.mail_from, m.message["Subject"]) for m in server.received)


def stop(workers: list[subprocess.Popen[str]]) -> list[str]:
    outputs = []
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGTERM)
    for w in workers:
        out, _ = w.communicate(timeout=60)
        outputs.append(out)
    return outputs


def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(
    network: SinkServer,
) -> None:
    workers = [
        start_worker(
            "--interval", "2", "--worker-id", str(i), "--worker-count", "3", env=WORKER_ENV
        )
        for i in (1, 2, 3)
    ]
    try:
        victim = workers[0]
        wait_for(
            lambda: SendLog.objects.filter(
                status=SendStatus.SENDING,
                started_at__isnull=False,
                worker__contains=f":{victim.pid}:",
            ).exists(),
            60,
            "worker 1 to be in the middle of a batch",
        )
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        in_flight = SendLog.objects.filter(
            status=SendStatus.SENDING, worker__contains=f":{victim.pid}:"
        ).count()
        assert in_flight > 0
        # The reaper (in the survivors) releases them once the heartbeat is 10 s old.
        wait_for(
            lambda: (
                not SendLog.objects.filter(worker__contains=f":{victim.pid}:")
                .filter(status=SendStatus.SENDING)
                .exists()
            ),
            40,
            "the dead worker's slots to be released",
        )
        assert not Worker.objects.filter(pid=victim.pid).exists()
        unknown = SendLog.objects.filter(
            status=SendStatus.UNKNOWN, smtp_error__startswith="its worker stopped"
        )
        released_unknown = unknown.count()
        # Engagement finds them by Message-ID (nothing else marks them): it was written
        # when the send started, not when its result came back.
        assert not unknown.filter(message_id="").exists()
        assert not unknown.filter(recipient__isnull=True).exists()

        # Then the survivors finish everything, replacements for the unknown included.
        def done() -> bool:
            bring_replacements_forward()
            return not behind_today().exists()

        wait_for(done, 90, "every mailbox at quota")
        outputs = stop(workers[1:])
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    assert all(w.returncode == 0 for w in workers[1:]), outputs
    assert any("reaper: 1 dead workers" in out for out in outputs), outputs
    tokens = check_outcome(network)
    duplicates = sum(n - 1 for n in tokens.values())
    assert duplicates <= in_flight
    assert duplicates == 0  # what was started is never resent
    # The unknown sends were replaced: more slots than the quota, within the cap.
    assert released_unknown <= in_flight
    print(
        f"killed with {in_flight} in flight; {released_unknown} became unknown; "
        f"{sum(tokens.values())} delivered, {duplicates} duplicates"
    )


def test_workers_survive_their_database_connections_being_killed(network: SinkServer) -> None:
    # Both started as worker 1 of 2 by mistake: they share shard 1 without sending
    # anything twice, and take shard 2's slots once they are overdue.
    workers = [
        start_worker("--interval", "2", "--worker-id", "1", "--worker-count", "2", env=WORKER_ENV)
        for _ in range(2)
    ]
    killed = 0
    try:
        wait_for(lambda: network.accepted >= 20, 60, "the first sends")
        for _ in range(3):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                killed += cursor.fetchone()[0]
            time.sleep(1.5)

        def done() -> bool:
            bring_replacements_forward()
            return not behind_today().exists()

        wait_for(done, 120, "every mailbox at quota")
        outputs = stop(workers)
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    assert killed >= 2
    assert all(w.returncode == 0 for w in workers), outputs
    assert any("database error" in out for out in outputs), outputs
    tokens = check_outcome(network)
    assert sum(n - 1 for n in tokens.values()) == 0


def test_qcluster_alone_keeps_every_mailbox_at_quota_and_a_redelivered_task_sends_nothing_twice(
    network: SinkServer,
) -> None:
    from django_q.models import Schedule, Task
    from django_q.tasks import async_task

    from warmup.management.commands.setup_schedules import setup_schedules

    setup_schedules()
    assert Schedule.objects.filter(func="warmup.tasks.dispatch").count() == 1
    # The same dispatch delivered twice at once, as django-q2 does when a task outlives
    # `retry`: both copies claim with SKIP LOCKED, so each slot goes out once.
    for _ in range(2):
        async_task("warmup.tasks.dispatch", 1, 1)
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url(),
            "WARMUP_STAGGER_MIN_MS": "0",
            "WARMUP_STAGGER_MAX_MS": "0",
            "WARMUP_BATCH_DELAY_MS": "0",
            **WORKER_ENV,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(
            lambda: not behind_today().exists(),
            120,
            "every mailbox at quota under qcluster",
        )
        wait_for(
            lambda: Task.objects.filter(func="warmup.tasks.dispatch").count() >= 2, 60, "tasks"
        )
    finally:
        cluster.send_signal(signal.SIGTERM)
        try:
            output, _ = cluster.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            cluster.kill()
            output, _ = cluster.communicate()
    tasks = Task.objects.filter(func="warmup.tasks.dispatch")
    assert all(t.success for t in tasks), [(t.name, t.result) for t in tasks]
    tokens = check_outcome(network)
    assert sum(n - 1 for n in tokens.values()) == 0
    assert sum(tokens.values()) == MAILBOXES * QUOTA, output[-2000:]
