"""Map legacy mailbox status spellings (ACTIVE, ' Active', enabled, PAUSED, failed, Error,
empty, unknown) onto the normalised set: active, paused, error, disabled.

Idempotent: a second run changes nothing. Migration accounts.0002 runs it once."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from accounts.models import Mailbox
from accounts.status import normalize_mailbox_statuses


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="show what would change, change nothing"
        )

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        with transaction.atomic():
            changes = normalize_mailbox_statuses(Mailbox, dry_run=dry_run)
        if not changes:
            self.stdout.write("all mailbox statuses are already normalised")
            return
        width = max(len(repr(c.before)) for c in changes)
        self.stdout.write(f"{'before':<{width}}  →  {'after':<8}  mailboxes")
        for change in changes:
            self.stdout.write(f"{change.before!r:<{width}}  →  {change.after:<8}  {change.count}")
        total = sum(c.count for c in changes)
        verb = "would change" if dry_run else "changed"
        self.stdout.write(f"{verb} {total} mailboxes")
