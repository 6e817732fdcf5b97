"""Create a demo superuser and three demo owners with mailboxes (for `make run`).

Idempotent: what exists is left alone. The superuser's password is printed once, when
it is created; `manage.py changepassword admin` sets a new one."""

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from accounts.models import Mailbox, OwnerPlan

# (domain, provider) of each owner's mailboxes, so pairing has providers to spread over.
DEMO_OWNERS = {
    "alice": [("alice-agency.demo", "gmail"), ("alice-mail.demo", "outlook")],
    "bob": [("bob-leads.demo", "outlook"), ("bob-mail.demo", "yahoo")],
    "carol": [("carol-outreach.demo", "yahoo"), ("carol-mail.demo", "gmail")],
}
# Demo mailboxes send all day, 200 a day, so a new user sees sends within a minute.
DEMO_DAILY = 200


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--mailboxes-per-owner", type=int, default=4)
        parser.add_argument("--smtp-host", default="127.0.0.1")
        parser.add_argument("--smtp-port", type=int, default=2525)

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model()
        if not users.objects.filter(username="admin").exists():
            password = secrets.token_urlsafe(12)
            users.objects.create_superuser("admin", "admin@warmup.demo", password)
            self.stdout.write(
                self.style.SUCCESS(
                    "demo superuser created — log in at http://127.0.0.1:8000/admin/ as "
                    f"admin / {password}  (shown once; `manage.py changepassword admin` resets it)"
                )
            )
        created = 0
        for username, domains in DEMO_OWNERS.items():
            owner, _ = users.objects.get_or_create(
                username=username, defaults={"email": f"{username}@warmup.demo"}
            )
            OwnerPlan.objects.get_or_create(owner=owner, defaults={"max_daily_quota": DEMO_DAILY})
            for n in range(options["mailboxes_per_owner"]):
                domain, provider = domains[n % len(domains)]
                email = f"{username}.{n + 1}@{domain}"
                if Mailbox.objects.filter(email=email).exists():
                    continue
                # The passwords go through Mailbox's property setters, which Model.__init__
                # takes; the django-stubs plugin knows only the fields.
                Mailbox.objects.create(  # type: ignore[misc]
                    owner=owner,
                    email=email,
                    display_name=f"{username.capitalize()} {n + 1}",
                    provider=provider,
                    start_volume=DEMO_DAILY,
                    daily_max=DEMO_DAILY,
                    window_start_hour=0,
                    window_end_hour=24,
                    smtp_host=options["smtp_host"],
                    smtp_port=options["smtp_port"],
                    smtp_security="none",
                    smtp_username=email,
                    smtp_password=secrets.token_urlsafe(12),
                    imap_host="127.0.0.1",
                    imap_port=1143,
                    imap_security="none",
                    imap_username=email,
                    imap_password=secrets.token_urlsafe(12),
                )
                created += 1
        total = Mailbox.objects.count()
        self.stdout.write(f"demo data: {created} mailboxes created, {total} in all")
