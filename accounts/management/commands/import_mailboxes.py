"""Create or update one owner's mailboxes from a CSV file (UTF-8, header row first).

Columns: email, smtp_host, smtp_port, smtp_security, smtp_username, smtp_password,
imap_host, imap_port, imap_security, imap_username, imap_password; optional:
auth_method, warmup_enabled, daily_max, timezone. Rows are matched by email
(case-insensitive): an existing mailbox of the owner is updated, a new address is created.
A blank username means the email; a blank password keeps the stored one (required for new
mailboxes); a blank warmup_enabled means true; a blank daily_max or timezone keeps the
stored value (new mailboxes get the defaults), and so does an optional column left out of
the file.

auth_method is password (the default, blank included), google_delegated or microsoft_app.
With an auth_method column only email is required: google_delegated and microsoft_app rows
leave the server and password columns blank (or out of the file) and get their provider's
servers; enabled OAuth credentials of that kind must serve the address's domain. oauth2
mailboxes are connected by their owner's consent, not imported.

Rejected rows are listed on stderr with their line number and change nothing; the other
rows are imported. Exit status: 0 when every row was imported; 1 when any row was
rejected (after importing the valid ones and printing the summary), or when the file
cannot be imported at all (then nothing is imported)."""

import io
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import crypto, importing


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE.csv", help="the CSV file to import")
        parser.add_argument(
            "--owner", required=True, metavar="USERNAME", help="the user who owns the mailboxes"
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=importing.BATCH_SIZE,
            help=f"mailboxes per INSERT/UPDATE statement (default {importing.BATCH_SIZE})",
        )

    def handle(
        self, *args: Any, file: str, owner: str, batch_size: int, verbosity: int, **options: Any
    ) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        user_model = get_user_model()
        try:
            user = user_model._default_manager.get_by_natural_key(owner)
        except user_model.DoesNotExist:
            raise CommandError(f"no user with username {owner!r}") from None
        try:
            crypto.current_fernet()
        except crypto.SecretError as exc:
            raise CommandError(str(exc)) from None
        text = self._read(Path(file))

        try:
            report = importing.import_mailboxes(
                user,
                io.StringIO(text, newline=""),
                batch_size=batch_size,
                progress=self.stderr.write if verbosity >= 1 else None,
            )
        except (importing.ImportFileError, importing.ImportConflictError) as exc:
            raise CommandError(f"{file}: {exc}; nothing was imported") from None

        for rejection in report.rejections:
            self.stderr.write(str(rejection))
        self.stdout.write(report.summary)
        if report.rejections:
            # Non-zero exit so that scripts notice, even though the valid rows went in.
            raise CommandError(
                f"{report.rejected} of {report.total} rows rejected (listed above); "
                "the other rows were imported"
            )

    def _read(self, path: Path) -> str:
        # The whole file is read first (10,000 rows are about 2 MB) so that an encoding
        # error stops the import before anything is written. utf-8-sig drops the byte
        # order mark spreadsheet programs put at the start.
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise CommandError(
                f'{path}: line {line} is not UTF-8 text (save the file as "CSV UTF-8"); '
                "nothing was imported"
            ) from None
