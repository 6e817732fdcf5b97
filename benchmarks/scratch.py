"""The scratch PostgreSQL database the engine benchmarks fill and empty."""

import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from accounts.models import Mailbox


def open_scratch_database(reuse: bool = False) -> bool:
    """Refuse anything but an empty database (or, with `reuse`, one a `--keep` run left
    filled); migrate it. Returns whether it holds data already."""
    settings.DEBUG = False  # DEBUG's query log is a cost production does not pay
    call_command("migrate", verbosity=0)
    filled = Mailbox.objects.exists()
    if filled and not reuse:
        sys.exit("the database holds mailboxes: use an empty scratch database (or --reuse)")
    return filled


def empty_scratch_database(owner_prefix: str) -> None:
    # Emptied wholesale: a cascading ORM delete of millions of slots would take longer
    # than the benchmark.
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE logs, warmup_logs, rate_windows, owner_plans, mailbox_tokens, mailboxes "
            "CASCADE"
        )
    get_user_model().objects.filter(username__startswith=owner_prefix).delete()
