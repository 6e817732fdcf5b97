"""The run_warmup worker as a real process: SIGTERM finishes and records the batch in flight."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Mailbox
from accounts.transport.sink import SinkServer
from warmup.models import SendLog, SendStatus, Worker

ROOT = Path(__file__).resolve().parent.parent


def database_url(name: str | None = None) -> str:
    """The test database (or `name` on its server) for the processes a test starts."""
    s = connection.settings_dict
    name = name or s["NAME"]
    if s["HOST"].startswith("/"):  # a Unix socket's folder: the embedded server's
        return f"postgres://{s['USER']}@/{name}?host={quote(s['HOST'], safe='/')}"
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"


def start_worker(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "WARMUP_BATCH_DELAY_MS": "0",
        "WARMUP_STAGGER_MIN_MS": "0",
        "WARMUP_STAGGER_MAX_MS": "0",
        "WARMUP_MAX_CONCURRENT": "4",
        "WARMUP_BATCH_SIZE": "40",
        **(env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_warmup", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.django_db(transaction=True)
def test_sigterm_finishes_and_records_the_batch_in_flight(make_mailbox):
    with SinkServer(any_login=True, data_delay_s=0.3) as server:
        for n in range(8):
            make_mailbox(
                email=f"w{n}@d{n}.test",
                smtp_host="127.0.0.1",
                smtp_port=server.port,
                smtp_security="none",
                window_start_hour=0,
                window_end_hour=24,
            )
        # 10 slots each, all due now: more than one batch of 40.
        now = timezone.now()
        SendLog.objects.bulk_create(
            SendLog(
                sender=box,
                day=now.date(),
                slot_no=n,
                scheduled_at=now - dt.timedelta(minutes=1),
                timestamp=now,
            )
            for box in Mailbox.objects.all()
            for n in range(10)
        )
        worker = start_worker("--interval", "3600")
        deadline = time.monotonic() + 60
        while server.accepted == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.accepted > 0, "the worker never sent"
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0, output
        assert "finishing the batch in flight" in output

    assert not Worker.objects.exists()  # it unregistered on the way out
    statuses = list(SendLog.objects.values_list("status", flat=True))
    assert SendStatus.SENDING not in statuses  # nothing left claimed
    sent = statuses.count(SendStatus.SENT)
    assert sent == server.accepted  # every accepted message is recorded
    assert 0 < sent < 80  # it stopped after the batch in flight, not after all of them
    # the rest of the due slots wait for the next worker (the planner added later ones,
    # and from 21:00 UTC tomorrow's too: planned three hours ahead)
    waiting = SendLog.objects.filter(
        day=now.date(), slot_no__lt=10, status=SendStatus.PLANNED
    ).count()
    assert waiting == 80 - sent
