"""Run the warmup engine: start a planning sweep every WARMUP_CRON_INTERVAL_MINUTES (or
--interval), and dispatch what is due every 20 seconds in between, planning the sweep's
chunks between batches (a chunk is a fraction of a second: sends are never held up long).

Any number of workers may run against one PostgreSQL database: --worker-id I of
--worker-count N (or WARMUP_WORKER_ID / WARMUP_WORKER_COUNT) makes this one prefer the
mailboxes with id % N == I - 1; it takes other shards' overdue slots when its own has
nothing due. Each worker heartbeats; any worker's reaper releases a dead one's slots.
`manage.py engine stop|start|trigger` reaches every worker within one loop.

First SIGTERM (or Ctrl-C): the batch in flight is finished and recorded, then the
process exits 0. A second one exits at once (warmup_project.loop)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection

from accounts.transport.sink import SinkServer
from warmup.engine import workers
from warmup.engine.claim import Shard
from warmup.engine.cycle import Engine
from warmup.engine.production import smtp_engine
from warmup.models import EngineState
from warmup_project.loop import StopSignals, run_until_stopped

log = logging.getLogger("warmup.engine")

# After an error the worker waits 1 s, then 2, 4, … up to this, until a cycle succeeds:
# a restarting database is retried quickly, a dead one is not hammered.
ERROR_PAUSE_MAX_S = 30
# Due slots are claimed this often between two plans, so a rate budget left unused in
# one minute serves the next, and slots go out close to their time.
DISPATCH_EVERY_S = 20


def parse_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise CommandError(f"--sink takes HOST:PORT, not {value!r}")
    return host, int(port)


class HeartbeatThread(threading.Thread):
    """Heartbeats on its own connection while the main thread is busy: a batch with the
    seed's stagger (1–5 s between starts) can take minutes."""

    def __init__(self, engine: Engine, every_s: float) -> None:
        super().__init__(name="heartbeat", daemon=True)
        self.engine = engine
        self.every_s = every_s
        self.done = threading.Event()

    def run(self) -> None:
        try:
            while not self.done.wait(self.every_s):
                try:
                    self.engine.heartbeat()
                except DatabaseError as exc:
                    log.warning("heartbeat failed, retrying: %s", exc)
                    connection.close()
        finally:
            connection.close()

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=5)


class Command(BaseCommand):
    help = __doc__
    last_trigger: dt.datetime | None  # unset until triggered() first looks (and only notes it)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="run one cycle and exit")
        parser.add_argument(
            "--interval",
            type=float,
            help="seconds between cycles (default: WARMUP_CRON_INTERVAL_MINUTES × 60)",
        )
        parser.add_argument(
            "--worker-id", type=int, help="this worker's shard, 1..count (WARMUP_WORKER_ID)"
        )
        parser.add_argument(
            "--worker-count", type=int, help="number of shards (WARMUP_WORKER_COUNT)"
        )
        parser.add_argument(
            "--sink",
            metavar="HOST:PORT",
            help="also run a local SMTP sink that accepts all mail (demo: `make run`)",
        )

    def handle(
        self,
        *args: Any,
        once: bool,
        interval: float | None,
        sink: str | None,
        worker_id: int | None,
        worker_count: int | None,
        **options: Any,
    ) -> None:
        config = settings.WARMUP
        interval = interval if interval is not None else config.cron_interval_minutes * 60
        if interval <= 0:
            raise CommandError("--interval must be positive")
        shard = Shard(worker_id or config.worker_id, worker_count or config.worker_count)
        if not 1 <= shard.id <= shard.count:
            raise CommandError(
                f"--worker-id must be between 1 and --worker-count ({shard.count}), not {shard.id}"
            )
        self.engine = smtp_engine(shard=shard)
        self.interval = interval
        self.last_plan = -float("inf")
        self.server: SinkServer | None = None
        with StopSignals(log, "the batch in flight", on_stop=self.stop_engine) as stop:
            if sink:
                host, port = parse_address(sink)
                self.server = SinkServer(host, port, keep_messages=False, any_login=True).start()
                self.stdout.write(f"SMTP sink listening on {host}:{port} (accepts all mail)")
            self.stdout.write(
                f"worker {self.engine.worker} (shard {shard.id} of {shard.count}): "
                f"a cycle every {interval:g}s ({'once' if once else 'until SIGTERM'})"
            )
            try:
                self.engine.heartbeat()  # registers: the thread below only heartbeats
            except DatabaseError as exc:
                raise CommandError(f"database unavailable: {str(exc).strip()}") from None
            beat = HeartbeatThread(self.engine, config.heartbeat_timeout_s / 4)
            beat.start()
            try:
                run_until_stopped(self.handle_one_cycle, stop, once=once)
            finally:
                beat.stop()
                self.unregister()
                if self.server is not None:
                    self.server.stop()
        self.stdout.write(f"worker {self.engine.worker} stopped")

    def triggered(self) -> bool:
        """True once for each `engine trigger` newer than the last one this worker saw."""
        try:
            at = EngineState.load().trigger_requested_at
        except DatabaseError:
            return False  # the cycle will meet the same error and report it
        first = not hasattr(self, "last_trigger")
        new = not first and at is not None and at != self.last_trigger
        self.last_trigger = at
        if new:
            log.info("trigger requested at %s: running a full cycle now", at)
        return new

    def unregister(self) -> None:
        try:
            workers.unregister(self.engine.worker)
        except DatabaseError as exc:
            log.warning("could not unregister (the reaper will): %s", exc)

    def handle_one_cycle(self) -> float:
        """One cycle, planning when the interval has passed or a trigger asks; the
        seconds to wait before the next. An error is logged and waited out, never fatal."""
        # triggered() every cycle, the first included: its first call only notes the last
        # trigger, and a trigger made after it must fire even when this cycle plans anyway.
        triggered = self.triggered()
        plan = time.monotonic() - self.last_plan >= self.interval or triggered
        try:
            stats = self.engine.run_cycle(plan=plan)
        except DatabaseError as exc:
            pause = self.error_pause()
            log.error("database error, retrying in %ds: %s", pause, str(exc).strip())
            connection.close()
            return pause
        except Exception:
            pause = self.error_pause()
            log.exception("cycle failed, retrying in %ds", pause)
            return pause
        self.errors = 0
        if plan or stats.claimed:
            log.info(stats.line())
        if plan:
            self.last_plan = time.monotonic()
            if self.server is not None:
                log.info("sink: %d messages accepted so far", self.server.accepted)
        return min(DISPATCH_EVERY_S, self.interval)

    def error_pause(self) -> int:
        self.errors = getattr(self, "errors", 0) + 1
        return min(ERROR_PAUSE_MAX_S, 2 ** (self.errors - 1))

    def stop_engine(self) -> None:
        self.engine.stopping = True  # checked between batches: the one in flight finishes
