"""The domain and server checks (README: Reputation) of every sending domain and every
self-hosted SMTP server address, now: MX, SPF, DKIM, DMARC and DNS blacklists of the
domains, PTR (forward-confirmed) and blacklists of the addresses.

    manage.py check_domains                      # everything, as a table (progress on stderr)
    manage.py check_domains --domain example.com # that domain only, mailboxes or not
    manage.py check_domains --json               # one JSON object per line, per target

`--json` prints exactly {"domain": D, "checks": {NAME: {"verdict": V, "detail": …}}} or
{"address": IP, "checks": {…}} per line, V one of pass, warn, fail, error (a contract).
The results are then recorded (the grace period, pauses, listings) unless --no-record.
The exit status is 0 whenever the checks could be run, whatever their verdicts."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from warmup.reputation import run
from warmup.reputation.results import TargetResult
from warmup_project.config import is_domain_name
from warmup_project.db import db_now


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--domain", help="check this domain only (with or without mailboxes)")
        parser.add_argument("--json", action="store_true", help="one JSON object per target")
        parser.add_argument(
            "--no-record", action="store_true", help="print the results, record nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        domain = options["domain"]
        if domain is not None:
            domain = domain.strip().rstrip(".").lower()
            if not is_domain_name(domain):
                raise CommandError(f"{options['domain']!r} is not a domain name")
        self.as_json = options["json"]
        self.done = 0
        try:
            results = run.check(
                db_now(), domain=domain, on_result=self._progress, keep=not options["no_record"]
            )
        except DatabaseError as error:
            raise CommandError(f"the database failed: {error}") from error
        if not self.as_json and self.done:
            self.stderr.write("")  # the end of the progress line
        for result in results:
            self._show(result)

    def _progress(self, result: TargetResult) -> None:
        self.done += 1
        if self.as_json:
            return
        self.stderr.write(f"\r{self.done} targets checked", ending="")
        self.stderr.flush()

    def _show(self, result: TargetResult) -> None:
        if self.as_json:
            self.stdout.write(json.dumps(result.as_json(), ensure_ascii=False))
            return
        self.stdout.write(result.name)
        for name, check in result.checks.items():
            self.stdout.write(f"  {name:<6} {check.verdict:<6} {check.detail}")
