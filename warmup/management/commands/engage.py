"""Engagement: log in to the warmup-enabled mailboxes over IMAP and do what a reader
does with warmup mail (warmup.engine.engage): find, record placement, rescue from spam,
flag, reply to a share, file. Each mailbox at most once every
WARMUP_CRON_INTERVAL_MINUTES, WARMUP_IMAP_CONCURRENCY sessions at once.

    manage.py engage              # keeps going: a pass over what is due, then the next
    manage.py engage --once       # one pass over the mailboxes due now
    manage.py engage --mailbox 42 # that mailbox now, whatever its schedule

Several of these (and django-q2's "warmup: engage" task) may run at once: each claims
the mailboxes it engages."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, close_old_connections

from accounts.models import Mailbox
from warmup.engine.engage import engage_pass
from warmup_project.db import db_now

log = logging.getLogger("warmup.engage")
IDLE_S = 10  # between two passes that found nothing due
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--mailbox", type=int, help="engage this mailbox id now")

    def handle(self, *args: Any, **options: Any) -> None:
        config = settings.WARMUP
        every = dt.timedelta(minutes=config.cron_interval_minutes)
        if options["mailbox"] is not None:
            if not Mailbox.objects.filter(id=options["mailbox"]).exists():
                raise CommandError(f"no mailbox with id {options['mailbox']}")
            stats = engage_pass(
                db_now(),
                settings.SECRET_KEY,
                concurrency=1,
                every=every,
                allow_private=config.allow_private_hosts,
                mailbox_id=options["mailbox"],
            )
            self._report(stats)
            return
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in STOP_SIGNALS}
        try:
            self._loop(stop, every, once=options["once"])
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _loop(self, stop: threading.Event, every: dt.timedelta, *, once: bool) -> None:
        """Passes until stopped (SIGTERM or Ctrl-C end it after the pass in flight)."""
        config = settings.WARMUP
        passes = 0
        while not stop.is_set():
            if passes:
                close_old_connections()  # between passes: a restarted database is reconnected
            passes += 1
            try:
                stats = engage_pass(
                    db_now(),
                    settings.SECRET_KEY,
                    concurrency=config.imap_concurrency,
                    every=every,
                    allow_private=config.allow_private_hosts,
                )
            except DatabaseError as exc:
                if once:
                    raise CommandError(f"engagement pass failed: {exc}") from None
                log.error("engagement pass failed: %s", exc)
                stop.wait(IDLE_S)
                continue
            if stats.mailboxes or once:
                self._report(stats)
            if once:
                return
            if not stats.mailboxes:
                stop.wait(IDLE_S)

    def _report(self, stats: Any) -> None:
        self.stdout.write(f"engaged {stats.line()}")
        for result in stats.results:
            if result.error:
                state = "paused" if result.paused else "error"
                self.stdout.write(f"  mailbox {result.mailbox_id}: {state}: {result.error}")
