"""Replay a whole day of the real engine on a simulated clock and report whether every
mailbox reached its quota without passing a cap or a rate limit.

It never writes to the configured database: it works in a throwaway schema, removed at
the end, unless --database names a database to use instead (its mailbox table must be
empty)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import random
import signal
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, OperationalError, connections

from accounts.models import Mailbox
from warmup import sql
from warmup.engine import simulate
from warmup.engine.cycle import CycleStats
from warmup.engine.limits import Limits
from warmup_project.config import database_of


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--mailboxes", type=int, required=True)
        parser.add_argument("--users", type=int, help="owners (default: one per 100 mailboxes)")
        parser.add_argument(
            "--owner-sizes",
            choices=simulate.OWNER_SIZES,
            default="even",
            help="even: owners of one size, mailboxes dealt in turn; zipf: owner k holds a "
            "share proportional to 1/(k+1) (at 100 owners the largest holds a fifth)",
        )
        parser.add_argument(
            "--fail-rate",
            type=float,
            default=0.0,
            help="share of sends that fail (4xx, 5xx, timeouts, no answer)",
        )
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--daily", type=int, default=30, help="each mailbox's daily quota")
        parser.add_argument(
            "--day",
            type=dt.date.fromisoformat,
            default=dt.date(2026, 6, 1),
            help="the simulated date (a Monday by default)",
        )
        parser.add_argument(
            "--tick-minutes",
            type=float,
            help="simulated minutes between cycles (default: the cron interval)",
        )
        parser.add_argument("--batch-size", type=int, help="default: WARMUP_BATCH_SIZE")
        parser.add_argument("--minute-limit", type=int, help="default: WARMUP_GLOBAL_MINUTE_LIMIT")
        parser.add_argument("--hour-limit", type=int, help="default: WARMUP_GLOBAL_HOURLY_LIMIT")
        parser.add_argument("--user-hour-limit", type=int, help="default: WARMUP_USER_HOURLY_LIMIT")
        parser.add_argument(
            "--workers", type=int, default=1, help="simulated workers, a process each"
        )
        parser.add_argument(
            "--kill-every",
            type=float,
            metavar="HOURS",
            help="kill one worker (in turn) mid-batch this often, in simulated hours; "
            "a new one takes its shard 5 simulated minutes later",
        )
        parser.add_argument("--database", metavar="URL", help="use this database instead")
        parser.add_argument("--json", action="store_true", help="end with one JSON line")
        parser.add_argument("--quiet", action="store_true", help="no progress lines")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["mailboxes"] < 2:
            raise CommandError("--mailboxes must be at least 2 (they send to each other)")
        if not 0 <= options["fail_rate"] <= 1:
            raise CommandError("--fail-rate must be between 0 and 1")
        if options["workers"] < 1:
            raise CommandError("--workers must be at least 1")
        kill_every = None
        if options["kill_every"] is not None:
            if options["kill_every"] <= 0:
                raise CommandError("--kill-every must be a positive number of hours")
            kill_every = dt.timedelta(hours=options["kill_every"])
        users = options["users"] or max(1, options["mailboxes"] // 100)
        if not 1 <= users <= options["mailboxes"]:
            raise CommandError("--users must be between 1 and --mailboxes")
        # DEBUG's query log (on in development) is a cost production does not pay.
        settings.DEBUG = False
        base = settings.WARMUP
        config = dataclasses.replace(
            base,
            batch_size=options["batch_size"] or base.batch_size,
            batch_delay_ms=0,
            stagger_min_ms=0,
            stagger_max_ms=0,
            global_minute_limit=options["minute_limit"] or base.global_minute_limit,
            global_hourly_limit=options["hour_limit"] or base.global_hourly_limit,
            user_hourly_limit=options["user_hour_limit"] or base.user_hourly_limit,
            min_daily_quota=min(base.min_daily_quota, options["daily"]),
        )
        tick = dt.timedelta(minutes=options["tick_minutes"] or config.cron_interval_minutes)
        # SIGTERM (a timeout, a closing terminal) unwinds like Ctrl-C, so the throwaway
        # schema or file is removed on the way out.
        interrupted: list[int] = []

        def interrupt(signum: int, frame: Any) -> None:
            interrupted.append(signum)
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, interrupt)
        signal.signal(signal.SIGINT, interrupt)
        try:
            with throwaway_database(options["database"], self.stderr.write):
                if Mailbox.objects.exists():
                    raise CommandError(
                        "the simulation database already holds mailboxes; use an empty one"
                    )
                self.stderr.write(f"creating {options['mailboxes']} mailboxes of {users} owners …")
                simulate.create_network(
                    options["mailboxes"],
                    users,
                    random.Random(options["seed"]),
                    daily=options["daily"],
                    owner_sizes=options["owner_sizes"],
                )

                def progress(now: dt.datetime, stats: CycleStats) -> None:
                    if not options["quiet"] and (now.minute == 0 or stats.claimed):
                        self.stderr.write(f"{now:%H:%M} {stats.line()}")

                run = simulate.run_day(
                    config=config,
                    day=options["day"],
                    fail_rate=options["fail_rate"],
                    seed=options["seed"],
                    tick=tick,
                    workers=options["workers"],
                    kill_every=kill_every,
                    progress=progress,
                )
                result = simulate.report(
                    run=run,
                    day=options["day"],
                    limits=Limits.from_config(config),
                    users=users,
                    owner_sizes=options["owner_sizes"],
                )
        except OperationalError as exc:
            if interrupted:
                raise CommandError("interrupted; the throwaway database was removed") from None
            raise CommandError(f"database unavailable: {str(exc).strip()}") from None
        except (KeyboardInterrupt, DatabaseError):
            # psycopg closes a connection whose query was interrupted, so the interruption
            # may surface as a database error from the rollback.
            if not interrupted:
                raise
            raise CommandError("interrupted; the throwaway database was removed") from None
        self.print_report(result)
        if options["json"]:
            self.stdout.write(json.dumps(result.as_json(), sort_keys=True))

    def print_report(self, r: simulate.Report) -> None:
        rows = [
            ("mailboxes", f"{r.mailboxes} ({r.users} owners, {r.owner_sizes} sizes)"),
            ("mailboxes at quota", f"{r.at_quota_pct}% ({r.behind} behind)"),
            ("cap violations", r.cap_violations),
            ("rate-window violations", ", ".join(f"{k} {v}" for k, v in r.rate_violations.items())),
            ("duplicates", r.duplicates),
            ("sends by status", ", ".join(f"{k} {v}" for k, v in r.sends_by_status.items())),
            ("attempts", r.attempts),
            ("limits", ", ".join(f"{k} {v}" for k, v in r.limits.items())),
            ("cycles", r.cycles),
            ("workers", f"{r.workers} ({r.kills} killed mid-batch)"),
            ("wall time", f"{r.wall_s}s"),
            ("pool: mailboxes", r.pool["mailboxes"]),
            (
                "pool: partners",
                f"median {r.pool['partners_median']}, 5th percentile {r.pool['partners_p5']}",
            ),
            (
                "pool: same-owner share",
                f"mean {r.pool['same_owner_share']}, "
                f"95th percentile {r.pool['same_owner_share_p95']}",
            ),
            ("pool: same-provider share", f"mean {r.pool['same_provider_share']}"),
            ("pool: reciprocity", f"mean {r.pool['reciprocity']}"),
            ("pool: refresh time", f"{r.pool_s}s"),
        ]
        width = max(len(k) for k, _ in rows)
        for key, value in rows:
            self.stdout.write(f"{key:<{width}}  {value}")


class throwaway_database:
    """Points the default connection at a database the simulation may fill and drop."""

    def __init__(self, url: str | None, say: Any) -> None:
        self.url = url
        self.say = say
        self.connection = connections["default"]
        self.saved = dict(self.connection.settings_dict)
        self.cleanup: Any = None

    def __enter__(self) -> None:
        conn = self.connection
        conn.close()
        if self.url:
            # In place, like the schema below: every thread's connection (the
            # housekeeping has its own) is made from this same settings dictionary.
            try:
                database = database_of(self.url)
            except ValueError as exc:
                raise CommandError(f"--database: {exc}") from None
            conn.settings_dict.clear()
            conn.settings_dict.update(
                connections.configure_settings({"default": database})["default"]
            )
            self.cleanup = conn.close
            self.say("simulating in the database given by --database")
        else:
            schema = f"warmup_sim_{os.getpid()}"
            with conn.cursor() as cursor:
                cursor.execute(sql.create_schema(schema))
            conn.close()
            options = dict(conn.settings_dict.get("OPTIONS", {}))
            options["options"] = f"{options.get('options', '')} -c search_path={schema}".strip()
            conn.settings_dict["OPTIONS"] = options

            def drop() -> None:
                conn.close()
                conn.settings_dict.update(self.saved)
                with conn.cursor() as cursor:
                    cursor.execute(sql.drop_schema(schema))

            self.cleanup = drop
            self.say(f"simulating in the throwaway schema {schema}")
        call_command("migrate", verbosity=0, interactive=False)

    def __exit__(self, *exc: object) -> None:
        try:
            if self.cleanup:
                self.cleanup()
        finally:
            self.connection.close()
            self.connection.settings_dict.clear()
            self.connection.settings_dict.update(self.saved)
