"""`manage.py engine status --check`: the health check of the worker and qcluster
containers (docker/compose.yaml), on the database's clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django_q.models import Schedule

from warmup.engine import workers
from warmup.management.commands.engine import check_schedules, check_worker
from warmup.management.commands.setup_schedules import setup_schedules
from warmup.models import Worker
from warmup_project.config import WarmupConfig
from warmup_project.db import db_now

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
TIMEOUT = dt.timedelta(seconds=120)

pytestmark = pytest.mark.django_db


def register(name: str, host: str, heartbeat_at: dt.datetime) -> None:
    Worker.objects.create(
        name=name, host=host, pid=1, started_at=heartbeat_at, heartbeat_at=heartbeat_at
    )


def test_a_worker_is_healthy_while_its_heartbeat_is_younger_than_the_timeout() -> None:
    assert check_worker("box-a", NOW, TIMEOUT) == (
        False,
        "unhealthy: no worker registered from box-a",
    )
    register("box-a:7:aa", "box-a", NOW - dt.timedelta(seconds=119))
    assert check_worker("box-a", NOW, TIMEOUT) == (True, "healthy: box-a:7:aa heartbeat 119s ago")
    healthy, line = check_worker("box-a", NOW + dt.timedelta(seconds=2), TIMEOUT)
    assert not healthy and line == ("unhealthy: box-a:7:aa last heartbeat 121s ago (timeout 120s)")


def test_only_this_hosts_workers_count_and_a_restarted_one_is_healthy() -> None:
    register("box-b:1:bb", "box-b", NOW)  # another container's worker, alive
    assert not check_worker("box-a", NOW, TIMEOUT)[0]
    # box-a's process was killed (its row waits for the reaper) and restarted.
    register("box-a:7:aa", "box-a", NOW - dt.timedelta(minutes=10))
    assert not check_worker("box-a", NOW, TIMEOUT)[0]
    register("box-a:8:cc", "box-a", NOW - dt.timedelta(seconds=5))
    assert check_worker("box-a", NOW, TIMEOUT) == (True, "healthy: box-a:8:cc heartbeat 5s ago")


def test_the_command_exits_with_an_error_when_this_hosts_worker_is_silent(
    capsys: Any, settings: Any
) -> None:
    settings.WARMUP = WarmupConfig(heartbeat_timeout_s=60)
    with pytest.raises(CommandError, match="no worker registered from"):
        call_command("engine", "status", "--check")
    name = workers.worker_name()
    workers.register(name, 1, 1, db_now())  # from this host, as run_warmup does
    call_command("engine", "status", "--check")
    assert capsys.readouterr().out.startswith(f"healthy: {name} heartbeat ")
    Worker.objects.update(heartbeat_at=db_now() - dt.timedelta(seconds=61))
    with pytest.raises(CommandError, match=r"last heartbeat 61s ago \(timeout 60s\)"):
        call_command("engine", "status", "--check")
    with pytest.raises(CommandError, match="with `status` only"):
        call_command("engine", "stop", "--check")


def test_qclusters_check_fails_when_a_schedule_is_overdue(settings: Any) -> None:
    assert check_schedules(NOW, TIMEOUT) == (
        False,
        "unhealthy: no schedules (run `manage.py setup_schedules`)",
    )
    settings.WARMUP = WarmupConfig(worker_count=3)
    setup_schedules(sending=False)
    Schedule.objects.update(next_run=NOW + dt.timedelta(minutes=1))
    Schedule.objects.filter(name="warmup: engage").update(next_run=NOW - TIMEOUT)
    count = Schedule.objects.count()  # qcluster's own: engagement, snapshots, maintenance…
    assert count >= 4
    assert check_schedules(NOW, TIMEOUT) == (True, f"healthy: {count} schedules on time")
    Schedule.objects.filter(name="warmup: engage").update(
        next_run=NOW - TIMEOUT - dt.timedelta(seconds=1)
    )
    assert check_schedules(NOW, TIMEOUT) == (
        False,
        "unhealthy: schedule 'warmup: engage' is 121s overdue",
    )
    # The command reads the database's clock: every schedule is in the past of today.
    with pytest.raises(CommandError, match="overdue"):
        call_command("engine", "status", "--check", "qcluster")
    Schedule.objects.update(next_run=db_now() + dt.timedelta(minutes=1))
    call_command("engine", "status", "--check", "qcluster")
