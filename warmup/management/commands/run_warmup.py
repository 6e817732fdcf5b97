"""Run the warmup engine: plan every WARMUP_CRON_INTERVAL_MINUTES (or --interval), and
dispatch what is due every 20 seconds in between.

First SIGTERM (or Ctrl-C): the batch in flight is finished and recorded, then the
process exits 0. A second one exits at once."""

from __future__ import annotations

import logging
import os
import random
import secrets
import signal
import socket
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from warmup.engine.cycle import Engine
from warmup.transport.sink import SinkServer
from warmup.transport.smtp import SmtpTransport

log = logging.getLogger("warmup.engine")

# After an unexpected error, wait before the next cycle instead of crash-looping.
ERROR_PAUSE_S = 30
# Due slots are claimed this often between two plans, so a rate budget left unused in
# one minute serves the next, and slots go out close to their time.
DISPATCH_EVERY_S = 20


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def parse_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise CommandError(f"--sink takes HOST:PORT, not {value!r}")
    return host, int(port)


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
            "--sink",
            metavar="HOST:PORT",
            help="also run a local SMTP sink that accepts all mail (demo: `make run`)",
        )

    def handle(
        self, *args: Any, once: bool, interval: float | None, sink: str | None, **options: Any
    ) -> None:
        config = settings.WARMUP
        interval = interval if interval is not None else config.cron_interval_minutes * 60
        if interval <= 0:
            raise CommandError("--interval must be positive")
        rng = random.Random()
        self.engine = Engine(
            config=config,
            transport=SmtpTransport(
                max_concurrent=config.max_concurrent,
                stagger_ms=(config.stagger_min_ms, config.stagger_max_ms),
                rng=rng,
            ),
            clock=timezone.now,
            worker=worker_name(),
            token_secret=settings.SECRET_KEY,
            rng=rng,
        )
        self.signals = 0
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)

        server = None
        if sink:
            host, port = parse_address(sink)
            server = SinkServer(host, port, keep_messages=False, any_login=True).start()
            self.stdout.write(f"SMTP sink listening on {host}:{port} (accepts all mail)")
        self.stdout.write(
            f"worker {self.engine.worker}: a cycle every {interval:g}s "
            f"({'once' if once else 'until SIGTERM'})"
        )
        try:
            last_plan = -float("inf")
            while not self.engine.stopping:
                plan = time.monotonic() - last_plan >= interval
                if self.run_one_cycle(plan=plan) and plan:
                    last_plan = time.monotonic()
                if server is not None and plan:
                    log.info("sink: %d messages accepted so far", server.accepted)
                if once:
                    break
                self.pause(min(DISPATCH_EVERY_S, interval))
        finally:
            if server is not None:
                server.stop()
        self.stdout.write(f"worker {self.engine.worker} stopped")

    def run_one_cycle(self, *, plan: bool) -> bool:
        """One cycle; an error is logged and waited out, never fatal."""
        close_old_connections()
        try:
            stats = self.engine.run_cycle(plan=plan)
        except DatabaseError as exc:
            log.error("database error, retrying in %ds: %s", ERROR_PAUSE_S, exc)
            close_old_connections()
            self.pause(ERROR_PAUSE_S)
            return False
        except Exception:
            log.exception("cycle failed, retrying in %ds", ERROR_PAUSE_S)
            self.pause(ERROR_PAUSE_S)
            return False
        if plan or stats.claimed:
            log.info(stats.line())
        return True

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
