"""Show or change the engine's state for every worker: `engine status`, `engine stop
[--reason TEXT]`, `engine start`, `engine trigger` (a full cycle now on every worker)."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from warmup.engine import control
from warmup.models import EngineState, Worker
from warmup_project.db import db_now


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=("status", *control.ACTIONS))
        parser.add_argument("--reason", default="", help="why (stop/start): kept in the audit")

    def handle(self, *args: Any, action: str, reason: str, **options: Any) -> None:
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


def _ago(at: Any, now: Any) -> str:
    if at is None:
        return "never"
    return f"{at:%Y-%m-%d %H:%M:%S} ({(now - at).total_seconds():.0f}s ago)"
