"""Show or change the engine's state for every worker: `engine status`, `engine stop
[--reason TEXT]`, `engine start`, `engine trigger` (a full cycle now on every worker).

`engine status --check` is a container's health check: it exits non-zero unless a worker
of this host (the container's host name, as `run_warmup` registers it) has heartbeated
within WARMUP_HEARTBEAT_TIMEOUT_S. `--check qcluster` is qcluster's: non-zero when a
repeating django-q2 schedule is overdue by that long, as when no cluster is scheduling."""

from __future__ import annotations

import datetime as dt
import getpass
import socket
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_q.models import Schedule

from warmup.engine import control
from warmup.models import EngineState, Worker
from warmup_project.db import db_now


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=("status", *control.ACTIONS))
        parser.add_argument("--reason", default="", help="why (stop/start): kept in the audit")
        parser.add_argument(
            "--check",
            nargs="?",
            const="worker",
            choices=("worker", "qcluster"),
            help="status only: exit 1 unless this host's worker (or the qcluster) is alive",
        )

    def handle(
        self, *args: Any, action: str, reason: str, check: str | None, **options: Any
    ) -> None:
        if check is not None:
            if action != "status":
                raise CommandError("--check goes with `status` only")
            timeout = dt.timedelta(seconds=settings.WARMUP.heartbeat_timeout_s)
            if check == "worker":
                healthy, line = check_worker(socket.gethostname(), db_now(), timeout)
            else:
                healthy, line = check_schedules(db_now(), timeout)
            if not healthy:
                raise CommandError(line)
            self.stdout.write(line)
            return
        if action != "status":
            control.apply(
                action,
                db_now(),
                actor_name=f"manage.py ({getpass.getuser()})",
                reason=reason,
            )
            self.stdout.write(f"engine {action}: done; every worker notices within one loop")
        state = EngineState.load()
        now = db_now()
        self.stdout.write(
            f"engine: {'running' if state.running else 'stopped'}"
            + (f" ({state.reason})" if state.reason else "")
        )
        self.stdout.write(f"last cycle: {_ago(state.last_cycle_at, now)}")
        self.stdout.write(f"last trigger: {_ago(state.trigger_requested_at, now)}")
        rows = list(Worker.objects.order_by("shard", "name"))
        self.stdout.write(f"workers: {len(rows)}")
        for w in rows:
            self.stdout.write(
                f"  {w.name}  shard {w.shard}/{w.shard_count}  "
                f"heartbeat {_ago(w.heartbeat_at, now)}  last cycle {_ago(w.last_cycle_at, now)}"
            )


def check_worker(host: str, now: dt.datetime, timeout: dt.timedelta) -> tuple[bool, str]:
    """Whether a worker registered from `host` heartbeated within `timeout`. A restarted
    container keeps its host name: the dead process's row (until reaped) does not count."""
    latest = (
        Worker.objects.filter(host=host).order_by("-heartbeat_at").only("name", "heartbeat_at")
    ).first()
    if latest is None:
        return False, f"unhealthy: no worker registered from {host}"
    age = (now - latest.heartbeat_at).total_seconds()
    if latest.heartbeat_at < now - timeout:
        return False, (
            f"unhealthy: {latest.name} last heartbeat {age:.0f}s ago "
            f"(timeout {timeout.total_seconds():.0f}s)"
        )
    return True, f"healthy: {latest.name} heartbeat {age:.0f}s ago"


def check_schedules(now: dt.datetime, timeout: dt.timedelta) -> tuple[bool, str]:
    """Whether django-q2's scheduler is running: no repeating schedule is overdue by more
    than `timeout` (the scheduler moves next_run on as it enqueues; catch_up is off)."""
    schedules = Schedule.objects.exclude(repeats=0).exclude(next_run=None)
    if not schedules.exists():
        return False, "unhealthy: no schedules (run `manage.py setup_schedules`)"
    overdue = schedules.filter(next_run__lt=now - timeout).order_by("next_run").first()
    if overdue is not None:
        late = (now - overdue.next_run).total_seconds()
        return False, f"unhealthy: schedule {overdue.name!r} is {late:.0f}s overdue"
    return True, f"healthy: {schedules.count()} schedules on time"


def _ago(at: Any, now: Any) -> str:
    if at is None:
        return "never"
    return f"{at:%Y-%m-%d %H:%M:%S} ({(now - at).total_seconds():.0f}s ago)"
