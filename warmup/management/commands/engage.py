"""Engagement: log in to the warmup-enabled mailboxes over IMAP and do what a reader
does with warmup mail (warmup.engine.engage): find, record placement, rescue from spam,
flag, reply to a share, file; then file its own Sent-folder copies and delete warmup mail
older than WARMUP_MAIL_RETENTION_DAYS. Each mailbox at most once every
WARMUP_CRON_INTERVAL_MINUTES, WARMUP_IMAP_CONCURRENCY sessions at once.

    manage.py engage              # keeps going: a pass over what is due, then the next
    manage.py engage --once       # one pass over the mailboxes due now
    manage.py engage --mailbox 42 # that mailbox now, whatever its schedule

Several of these (and django-q2's "warmup: engage" task) may run at once: each claims
the mailboxes it engages. The first SIGTERM (or Ctrl-C) lets the pass in flight finish,
then the command exits 0; a second one exits at once (warmup_project.loop)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from accounts.models import Mailbox
from warmup.engine.engage import engage_pass
from warmup_project.db import db_now
from warmup_project.loop import StopSignals, run_until_stopped

log = logging.getLogger("warmup.engage")
IDLE_S = 10  # between two passes that found nothing due


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
        self.every, self.once = every, options["once"]
        with StopSignals(log, "the pass in flight") as stop:
            run_until_stopped(self.handle_one_pass, stop, once=self.once)

    def handle_one_pass(self) -> float:
        """One pass over the mailboxes due; the seconds to wait before the next (none
        when this one found work)."""
        config = settings.WARMUP
        try:
            stats = engage_pass(
                db_now(),
                settings.SECRET_KEY,
                concurrency=config.imap_concurrency,
                every=self.every,
                allow_private=config.allow_private_hosts,
            )
        except DatabaseError as exc:
            if self.once:
                raise CommandError(f"engagement pass failed: {exc}") from None
            log.error("engagement pass failed: %s", exc)
            return IDLE_S
        if stats.mailboxes or self.once:
            self._report(stats)
        return 0 if stats.mailboxes else IDLE_S

    def _report(self, stats: Any) -> None:
        self.stdout.write(f"engaged {stats.line()}")
        for result in stats.results:
            if result.error:
                state = "paused" if result.paused else "error"
                self.stdout.write(f"  mailbox {result.mailbox_id}: {state}: {result.error}")
