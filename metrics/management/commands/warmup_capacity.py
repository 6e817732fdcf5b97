"""Do today's quotas fit the rate limits and the sending windows? Prints Σ today's
quotas, what the global and per-owner limits allow in today's window hours, the
shortfall, and the smallest limits that would fit them (metrics.capacity).

`--hourly/--minute/--user-hourly` ask "what if" with other limits; `--json` prints the
figures for a script. Exit status 0 when the quotas fit, 3 when they do not."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Mailbox
from metrics.capacity import assess
from metrics.reading import todays_demands
from warmup.engine.limits import Limits
from warmup_project.db import db_now

SHORT_EXIT = 3


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--hourly", type=int, help="WARMUP_GLOBAL_HOURLY_LIMIT to assume")
        parser.add_argument("--minute", type=int, help="WARMUP_GLOBAL_MINUTE_LIMIT to assume")
        parser.add_argument("--user-hourly", type=int, help="WARMUP_USER_HOURLY_LIMIT to assume")
        parser.add_argument("--json", action="store_true", help="print the figures as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        limits = Limits.from_config(settings.WARMUP)
        for option, field in (
            ("hourly", "per_hour"),
            ("minute", "per_minute"),
            ("user_hourly", "per_user_hour"),
        ):
            value = options[option]
            if value is not None:
                if value < 1:
                    raise CommandError(f"--{option.replace('_', '-')} must be at least 1")
                limits = dataclasses.replace(limits, **{field: value})
        now = db_now()
        demands = todays_demands(now, settings.WARMUP.min_daily_quota)
        c = assess(demands, limits)
        owners = len({d.owner_id for d in demands})
        figures = {
            "at": now.isoformat(),
            "owners": owners,
            "demand": c.demand,
            "limits": dataclasses.asdict(limits),
            "hourly_ceiling": c.hourly_ceiling,
            "owner_ceiling": c.owner_ceiling,
            "possible": c.possible,
            "shortfall": c.shortfall,
            "owners_short": c.owners_short,
            "needed": dataclasses.asdict(c.needed),
        }
        if options["json"]:
            self.stdout.write(json.dumps(figures, indent=2))
        else:
            self._report(c, limits, owners, now)
        if c.shortfall:
            raise SystemExit(SHORT_EXIT)

    def _report(self, c: Any, limits: Any, owners: int, now: Any) -> None:
        out = self.stdout.write
        sending = Mailbox.objects.filter(warmup_enabled=True, status="active").count()
        out(f"Capacity at {now:%Y-%m-%d %H:%M} UTC, each mailbox's local today")
        out(f"  mailboxes sending          {sending:>12,} of {owners:,} owners")
        out(f"  today's quotas             {c.demand:>12,} sends")
        out(
            f"  limits                     {limits.per_hour:,}/hour, {limits.per_minute:,}/minute, "
            f"{limits.per_user_hour:,}/owner/hour"
        )
        out(f"  global limits allow        {c.hourly_ceiling:>12,} in today's window hours")
        out(
            f"  owner limit allows         {c.owner_ceiling:>12,} ({c.owners_short:,} owners short)"
        )
        if not c.shortfall:
            out(self.style.SUCCESS(f"Today's quotas fit: {c.demand:,} of at most {c.possible:,}."))
            return
        share = c.shortfall / c.demand
        out(
            self.style.ERROR(
                f"Shortfall: {c.shortfall:,} sends ({share:.1%} of today's quotas) cannot be "
                "sent today: mailboxes end the day behind their quota."
            )
        )
        out("Limits that would fit them (each the smallest, given the ones above it):")
        for name, now_value, needed in (
            ("WARMUP_USER_HOURLY_LIMIT", limits.per_user_hour, c.needed.per_user_hour),
            ("WARMUP_GLOBAL_HOURLY_LIMIT", limits.per_hour, c.needed.per_hour),
            ("WARMUP_GLOBAL_MINUTE_LIMIT", limits.per_minute, c.needed.per_minute),
        ):
            verdict = "enough already" if needed <= now_value else f"now {now_value:,}"
            out(f"  {name}={needed}  ({verdict})")
        out(
            "Raise them only as far as your SMTP providers allow; otherwise lower quotas "
            "(daily_max, plans) or widen sending windows."
        )
