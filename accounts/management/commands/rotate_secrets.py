"""Re-encrypt every stored secret under the newest key of WARMUP_SECRET_KEYS: mailbox
passwords, mailbox tokens (refresh and access), OAuth credentials (the secret and the
cached access token) and the PKCE verifiers of connections under way.

Rotation: put the new key first (`NEW,OLD`), restart, run this, then drop OLD."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction

from accounts import crypto
from accounts.models import ConnectState, Mailbox, MailboxToken, OAuthCredential


@dataclass(frozen=True)
class SecretTable:
    """A table holding Fernet tokens: its rows' name in the report, the columns, and how
    each column's secret is named in an error (by the row's id, never its value)."""

    label: str  # plural, as in "re-encrypted 3 secrets of 2 mailboxes"
    model: type[models.Model]
    columns: dict[str, Callable[[Any], str]]
    row_id: Callable[[Any], str] = lambda row: str(row.pk)


TABLES = (
    SecretTable(
        "mailboxes",
        Mailbox,
        {
            "smtp_secret": lambda box: f"SMTP password of mailbox {box.pk}",
            "imap_secret": lambda box: f"IMAP password of mailbox {box.pk}",
        },
    ),
    SecretTable(
        "mailbox tokens",
        MailboxToken,
        {
            "refresh_secret": lambda row: f"refresh token of mailbox {row.pk}",
            "access_secret": lambda row: f"access token of mailbox {row.pk}",
        },
    ),
    SecretTable(
        "OAuth credentials",
        OAuthCredential,
        {
            "secret": lambda row: f"secret of OAuth credentials {row.pk}",
            "access_secret": lambda row: f"access token of OAuth credentials {row.pk}",
        },
    ),
    SecretTable(
        "connections",
        ConnectState,
        {"verifier_secret": lambda row: f"PKCE verifier of connection {row.pk[:8]}…"},
        # The key is half of what the provider's `state` names: a prefix tells an operator
        # which row it is without repeating it whole.
        row_id=lambda row: f"{row.pk[:8]}…",
    ),
)


@dataclass
class Rotated:
    rows: int = 0
    secrets: int = 0
    failed: list[str] = field(default_factory=list)  # row ids, never values


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

        problems = []
        for table in TABLES:
            rotated = self.rotate_table(table, batch_size)
            self.stdout.write(
                f"re-encrypted {rotated.secrets} secrets of {rotated.rows} {table.label} "
                "under the newest key"
            )
            failed = rotated.failed
            if failed:
                problems.append(
                    f"{len(failed)} {table.label} could not be decrypted and were left as "
                    f"they were (ids: {', '.join(failed[:20])}{' …' if len(failed) > 20 else ''})"
                )
        if problems:
            raise CommandError("; ".join(problems))

    def rotate_table(self, table: SecretTable, batch_size: int) -> Rotated:
        manager: Any = table.model._default_manager
        columns = list(table.columns)
        total = manager.count()
        result = Rotated()
        last_pk: Any = None
        while True:
            # Keyset pagination: each batch is its own short transaction, so a long
            # rotation never holds locks on the whole table. The rows are locked while
            # re-encrypted, so a concurrent write (a token refresh, a new password) is
            # either read here or waits and then writes its own value, encrypted under
            # the newest key by a process that runs with it.
            # `generation` (token rows) is left alone: a refresh under way must still win
            # its compare-and-save, or a rotated Microsoft refresh token would be lost.
            with transaction.atomic():
                rows = manager.select_for_update().order_by("pk").only("pk", *columns)
                if last_pk is not None:
                    rows = rows.filter(pk__gt=last_pk)
                batch = list(rows[:batch_size])
                if not batch:
                    break
                changed = []
                for row in batch:
                    try:
                        values = {
                            column: crypto.rotate(getattr(row, column), what=what(row))
                            for column, what in table.columns.items()
                        }
                    except crypto.UndecryptableSecretError as exc:
                        self.stderr.write(str(exc))
                        result.failed.append(table.row_id(row))
                        continue
                    for column, value in values.items():
                        setattr(row, column, value)
                    result.secrets += sum(1 for value in values.values() if value)
                    changed.append(row)
                manager.bulk_update(changed, columns)
            last_pk = batch[-1].pk
            result.rows += len(changed)
            if total > batch_size:
                self.stderr.write(f"  {result.rows + len(result.failed)}/{total} {table.label}")
        return result
