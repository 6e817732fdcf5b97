"""Run the warmup engine: plan every WARMUP_CRON_INTERVAL_MINUTES (or --interval), and
dispatch what is due every 20 seconds in between.

Any number of workers may run against one PostgreSQL database: --worker-id I of
--worker-count N (or WARMUP_WORKER_ID / WARMUP_WORKER_COUNT) makes this one prefer the
mailboxes with id % N == I - 1; it takes other shards' overdue slots when its own has
nothing due. Each worker heartbeats; any worker's reaper releases a dead one's slots.
`manage.py engine stop|start|trigger` reaches every worker within one loop.

First SIGTERM (or Ctrl-C): the batch in flight is finished and recorded, then the
process exits 0. A second one exits at once."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, close_old_connections, connection

from warmup.engine import workers
from warmup.engine.claim import Shard
from warmup.engine.cycle import Engine
from warmup.models import EngineState
from warmup.tasks import smtp_engine
from warmup.transport.sink import SinkServer

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
        self.signals = 0
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)

        server = None
        if sink:
            host, port = parse_address(sink)
            server = SinkServer(host, port, keep_messages=False, any_login=True).start()
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
            last_plan = -float("inf")
            while not self.engine.stopping:
                plan = time.monotonic() - last_plan >= interval or self.triggered()
                if self.run_one_cycle(plan=plan) and plan:
                    last_plan = time.monotonic()
                if server is not None and plan:
                    log.info("sink: %d messages accepted so far", server.accepted)
                if once:
                    break
                self.pause(min(DISPATCH_EVERY_S, interval))
        finally:
            beat.stop()
            self.unregister()
            if server is not None:
                server.stop()
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

    def run_one_cycle(self, *, plan: bool) -> bool:
        """One cycle; an error is logged and waited out, never fatal."""
        close_old_connections()
        try:
            stats = self.engine.run_cycle(plan=plan)
        except DatabaseError as exc:
            pause = self.error_pause()
            log.error("database error, retrying in %ds: %s", pause, str(exc).strip())
            connection.close()
            self.pause(pause)
            return False
        except Exception:
            pause = self.error_pause()
            log.exception("cycle failed, retrying in %ds", pause)
            self.pause(pause)
            return False
        self.errors = 0
        if plan or stats.claimed:
            log.info(stats.line())
        return True

    def error_pause(self) -> int:
        self.errors = getattr(self, "errors", 0) + 1
        return min(ERROR_PAUSE_MAX_S, 2 ** (self.errors - 1))

    def pause(self, seconds: float) -> None:
        """Sleep in short steps so a SIGTERM is noticed at once."""
        deadline = time.monotonic() + seconds
        while not self.engine.stopping and time.monotonic() < deadline:
            time.sleep(min(0.2, max(deadline - time.monotonic(), 0)))

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1
        if self.signals > 1:
            os._exit(128 + signum)
        log.info("signal %d: finishing the batch in flight, then exiting", signum)
        self.engine.stopping = True
