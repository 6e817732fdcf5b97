"""Re-encrypt every stored mailbox secret under the newest key of WARMUP_SECRET_KEYS.

Rotation: put the new key first (`NEW,OLD`), restart, run this, then drop OLD."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts import crypto
from accounts.models import Mailbox


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            crypto.current_fernet()
        except crypto.SecretError as exc:
            raise CommandError(str(exc)) from None

        total = Mailbox.objects.count()
        done = secrets = 0
        failed: list[int] = []
        last_pk = 0
        while True:
            # Keyset pagination: each batch is its own short transaction, so a long
            # rotation never holds locks on the whole table.
            with transaction.atomic():
                batch = list(
                    Mailbox.objects.select_for_update()
                    .filter(pk__gt=last_pk)
                    .order_by("pk")
                    .only("pk", "smtp_secret", "imap_secret")[:batch_size]
                )
                if not batch:
                    break
                changed = []
                for box in batch:
                    try:
                        smtp = crypto.rotate(
                            box.smtp_secret, what=f"SMTP password of mailbox {box.pk}"
                        )
                        imap = crypto.rotate(
                            box.imap_secret, what=f"IMAP password of mailbox {box.pk}"
                        )
                    except crypto.UndecryptableSecretError as exc:
                        self.stderr.write(str(exc))
                        failed.append(box.pk)
                        continue
                    secrets += bool(smtp) + bool(imap)
                    box.smtp_secret, box.imap_secret = smtp, imap
                    changed.append(box)
                Mailbox.objects.bulk_update(changed, ["smtp_secret", "imap_secret"])
            last_pk = batch[-1].pk
            done += len(changed)
            if total > batch_size:
                self.stderr.write(f"  {done + len(failed)}/{total} mailboxes")

        self.stdout.write(
            f"re-encrypted {secrets} secrets of {done} mailboxes under the newest key"
        )
        if failed:
            raise CommandError(
                f"{len(failed)} mailboxes could not be decrypted and were left as they were "
                f"(ids: {', '.join(map(str, failed[:20]))}{' …' if len(failed) > 20 else ''})"
            )
