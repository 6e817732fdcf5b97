"""Bulk onboarding: create or update one owner's mailboxes from a CSV file.

Two steps, so that a broken file changes nothing. `parse_csv` checks the header and every
row without touching the database. `import_mailboxes` then decides each row against the
database (create, update, or reject: another owner's address, missing passwords, the
plan's mailbox limit, no OAuth credentials for the domain), reading the existing mailboxes
in a few chunked queries and the OAuth credentials in one, and writing in batches inside
one transaction: the number of queries depends on the number of batches, never on the
number of rows.

How each row logs in is its `auth_method` column (optional; blank or absent means
`password`):
- `password`: the SMTP and IMAP columns and both passwords (required for a new mailbox).
  A file without an `auth_method` column must have all of these columns.
- `google_delegated`, `microsoft_app`: only `email` (and the optional columns). The servers
  and logins are the provider's preset (Mailbox.apply_preset) and there is no password, so
  those cells must be blank; a row is rejected unless enabled OAuth credentials of that
  kind serve its domain (admin: OAuth credentials). A mailbox switched to one of these
  loses its stored passwords.
- `oauth2` is refused: a consent is given by the owner (POST /api/mailboxes/connect/…).

Values go through the model's own validators (hosts, single-line usernames and passwords),
and an update that moves a mailbox to another server or login without that side's password
is rejected, as in the API and the admin (Mailbox.moved_without_password).

Messages name the line and the column and may quote a rejected value, but never a
password: the password columns are only ever reported as "required" or by what is wrong
with them, never by their value.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import CharField
from django.db.models.functions import Lower

from accounts.models import (
    AUTH_METHODS,
    AUTH_OAUTH2,
    AUTH_PASSWORD,
    CREDENTIAL_METHODS,
    ENDPOINT_FIELDS,
    SECURITY_MODES,
    Mailbox,
    OAuthCredential,
    OwnerPlan,
    email_domain,
    guess_provider,
    validate_host,
    validate_one_line,
    validate_timezone,
)

# The columns of a `password` row: all required in a file without an auth_method column.
REQUIRED_COLUMNS = (
    "email",
    *ENDPOINT_FIELDS["smtp"],
    "smtp_password",
    *ENDPOINT_FIELDS["imap"],
    "imap_password",
)
OPTIONAL_COLUMNS = ("warmup_enabled", "daily_max", "timezone")
# Optional too, and it changes which of the others are required (read_header, parse_row).
# Kept apart from OPTIONAL_COLUMNS, whose order files written from it rely on (benchmarks).
METHOD_COLUMN = "auth_method"
PASSWORD_COLUMNS = ("smtp_password", "imap_password")
# What an operator's credentials row needs: the preset gives the rest.
CREDENTIAL_ROW_COLUMNS = ("email",)
_IMPORTED_METHODS = (AUTH_PASSWORD, *CREDENTIAL_METHODS)

BATCH_SIZE = 1000
# Addresses per lookup query: a bounded IN list.
READ_CHUNK = 900
# Large files report progress every this many rows; small ones stay quiet.
PROGRESS_EVERY = 5000

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})

# Written on every update. Fields the row leaves alone (a blank password, an absent
# optional column) are written back as read, which is safe because the rows are locked.
# updated_at is set by the field's auto_now.
UPDATE_FIELDS = (
    "email",
    "provider",
    "auth_method",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_username",
    "smtp_secret",
    "imap_host",
    "imap_port",
    "imap_security",
    "imap_username",
    "imap_secret",
    # A new IMAP password lifts an engagement pause, as in the API and the admin
    # (Mailbox.imap_password's setter clears it); otherwise written back as read.
    "engagement_paused_reason",
    "warmup_enabled",
    "daily_max",
    "timezone",
    "updated_at",
)

Progress = Callable[[str], Any]


class ImportFileError(Exception):
    """The file as a whole cannot be imported (header, encoding, CSV syntax). Nothing is
    written when this is raised."""


class ImportConflictError(Exception):
    """Another process changed the same mailboxes during the import; it was rolled back."""


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class MailboxRow:
    """One row that passed the checks that need no database. Empty passwords mean "keep
    the stored one"; None for an optional field means "keep" on update, "default" on
    create."""

    line: int
    email: str
    auth_method: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    smtp_username: str
    smtp_password: str = field(repr=False)
    imap_host: str
    imap_port: int
    imap_security: str
    imap_username: str
    imap_password: str = field(repr=False)
    warmup_enabled: bool | None
    daily_max: int | None
    timezone: str | None


@dataclass(frozen=True)
class RowLimits:
    """What a row's daily_max may be: the engine's floor and the owner's plan cap."""

    min_daily_quota: int
    max_daily_quota: int

    @classmethod
    def for_plan(cls, plan: OwnerPlan) -> RowLimits:
        return cls(settings.WARMUP.min_daily_quota, plan.max_daily_quota)

    @property
    def default_daily_max(self) -> int | None:
        """daily_max of a new mailbox whose row leaves it blank: the model's default,
        moved into the allowed range; None when the range is empty."""
        if self.min_daily_quota > self.max_daily_quota:
            return None
        default = Mailbox._meta.get_field("daily_max").get_default()
        return min(max(default, self.min_daily_quota), self.max_daily_quota)


@dataclass
class ParsedFile:
    rows: list[MailboxRow]
    rejections: list[Rejection]
    total: int


@dataclass
class ImportReport:
    total: int = 0
    created: int = 0
    updated: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.rejections)

    @property
    def summary(self) -> str:
        return (
            f"{self.created} created, {self.updated} updated, {self.rejected} rejected "
            f"(of {self.total} rows)"
        )


class _Counter:
    """Reports "<verb> n/total" each time n crosses a multiple of PROGRESS_EVERY."""

    def __init__(self, progress: Progress | None, verb: str, total: int | None = None) -> None:
        self.progress, self.verb, self.total, self.done = progress, verb, total, 0

    def add(self, n: int) -> None:
        before, self.done = self.done, self.done + n
        if self.progress and before // PROGRESS_EVERY != self.done // PROGRESS_EVERY:
            of = f"/{self.total}" if self.total is not None else ""
            self.progress(f"  {self.verb} {self.done}{of} rows")


# --- Parsing: no database ------------------------------------------------------------


def _show(value: str) -> str:
    """A rejected value quoted for a message, cut short so one bad cell cannot flood it."""
    return repr(value if len(value) <= 40 else value[:40] + "…")


def _max_length(column: str) -> int:
    model_field = Mailbox._meta.get_field(column)
    assert isinstance(model_field, CharField) and model_field.max_length is not None
    return model_field.max_length


def read_header(cells: list[str]) -> list[str]:
    """The column names of the header row, or ImportFileError naming every problem."""
    names = [cell.strip().lower() for cell in cells]
    allowed = {*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, METHOD_COLUMN}
    problems = []
    unknown = [
        _show(name) if name else f"an unnamed column (column {position})"
        for position, name in enumerate(names, start=1)
        if name not in allowed
    ]
    if unknown:
        problems.append(f"unknown columns: {', '.join(unknown)}")
    # With an auth_method column, each row's method says what it needs (parse_row);
    # without one, every row is a `password` row.
    required = CREDENTIAL_ROW_COLUMNS if METHOD_COLUMN in names else REQUIRED_COLUMNS
    missing = [name for name in required if name not in names]
    if missing:
        problems.append(f"missing required columns: {', '.join(missing)}")
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        problems.append(f"columns given more than once: {', '.join(repeated)}")
    if problems:
        raise ImportFileError(
            "; ".join(problems) + f". Required: {', '.join(REQUIRED_COLUMNS)}; optional: "
            f"{', '.join((METHOD_COLUMN, *OPTIONAL_COLUMNS))}. With an auth_method column, only "
            "email is "
            "required: google_delegated and microsoft_app rows need no server or password."
        )
    return names


def _check(column: str, value: str, validator: Callable[[str], None], problems: list[str]) -> None:
    try:
        validator(value)
    except ValidationError as exc:
        problems.append(f"{column}: {exc.messages[0].rstrip('.')}")


def _fits(column: str, value: str, validator: Callable[[str], None]) -> bool:
    """Whether `value` fits the column's model field: its length, then `validator`."""
    if len(value) > _max_length(column):
        return False
    try:
        validator(value)
    except ValidationError:
        return False
    return True


def _host(column: str, raw: str, problems: list[str]) -> str:
    value = raw.strip()
    if not value:
        problems.append(f"{column}: required")
    else:
        _check(column, value, validate_host, problems)
    return value


def _port(column: str, raw: str, problems: list[str]) -> int:
    value = raw.strip()
    # isascii() too: int() would accept other scripts' digits and "+587".
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 65535:
        shown = "blank" if not value else _show(value)
        problems.append(f"{column}: {shown} is not a port number (a whole number 1–65535)")
        return 0
    return int(value)


def _security(column: str, raw: str, problems: list[str]) -> str:
    value = raw.strip().lower()
    if value not in SECURITY_MODES:
        shown = "blank" if not value else _show(raw.strip())
        problems.append(f"{column}: {shown} is not one of {', '.join(SECURITY_MODES)}")
    return value


def _username(column: str, raw: str, email: str, problems: list[str]) -> str:
    value = raw.strip() or email
    if len(value) > _max_length(column):
        problems.append(f"{column}: longer than {_max_length(column)} characters")
    else:
        _check(column, value, validate_one_line, problems)
    return value


def _warmup_enabled(raw: str | None, problems: list[str]) -> bool | None:
    if raw is None:
        return None
    value = raw.strip().lower()
    if not value or value in _TRUE:
        return True
    if value in _FALSE:
        return False
    problems.append(f"warmup_enabled: {_show(raw.strip())} is not true/false/1/0/yes/no")
    return None


def _daily_max(raw: str | None, limits: RowLimits, problems: list[str]) -> int | None:
    value = (raw or "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()):
        problems.append(f"daily_max: {_show(value)} is not a whole number")
        return None
    number = int(value)
    if number < limits.min_daily_quota:
        problems.append(
            f"daily_max: {number} is below WARMUP_MIN_DAILY_QUOTA ({limits.min_daily_quota})"
        )
    elif number > limits.max_daily_quota:
        problems.append(
            f"daily_max: {number} is above the plan's max_daily_quota ({limits.max_daily_quota})"
        )
    return number


def _timezone(raw: str | None, problems: list[str]) -> str | None:
    value = (raw or "").strip()
    if not value:
        return None
    if not _fits("timezone", value, validate_timezone):
        problems.append(f"timezone: {_show(value)} is not a known time zone (e.g. Europe/Berlin)")
    return value


def _auth_method(raw: str | None, problems: list[str]) -> str:
    value = (raw or "").strip().lower()
    if not value:
        return AUTH_PASSWORD
    if value == AUTH_OAUTH2:
        problems.append(
            "auth_method: oauth2 mailboxes are connected by their owner's consent, not "
            "imported: POST /api/mailboxes/connect/google/ or /api/mailboxes/connect/microsoft/"
        )
    elif value not in AUTH_METHODS:
        problems.append(
            f"auth_method: {_show(raw.strip() if raw else '')} is not one of "
            f"{', '.join(_IMPORTED_METHODS)}"
        )
    return value


def parse_row(line: int, cells: dict[str, str], limits: RowLimits) -> MailboxRow | Rejection:
    """Check one row with everything that needs no database; every problem of the row is
    reported at once, so a user fixes a line in one go."""
    problems: list[str] = []
    email = cells["email"].strip().lower()
    if not email:
        problems.append("email: required")
    elif not _fits("email", email, validate_email):
        problems.append(f"email: {_show(email)} is not a valid email address")
    method = _auth_method(cells.get(METHOD_COLUMN), problems)
    if method in CREDENTIAL_METHODS:
        return _credential_row(line, email, method, cells, limits, problems)
    if method != AUTH_PASSWORD:
        return Rejection(line, "; ".join(problems))
    absent = [column for column in REQUIRED_COLUMNS if column not in cells]
    if absent:
        problems.append(f"a password row needs the columns {', '.join(absent)}")
        return Rejection(line, "; ".join(problems))
    smtp_host = _host("smtp_host", cells["smtp_host"], problems)
    smtp_port = _port("smtp_port", cells["smtp_port"], problems)
    smtp_security = _security("smtp_security", cells["smtp_security"], problems)
    smtp_username = _username("smtp_username", cells["smtp_username"], email, problems)
    imap_host = _host("imap_host", cells["imap_host"], problems)
    imap_port = _port("imap_port", cells["imap_port"], problems)
    imap_security = _security("imap_security", cells["imap_security"], problems)
    imap_username = _username("imap_username", cells["imap_username"], email, problems)
    for column in PASSWORD_COLUMNS:
        _check(column, cells[column], validate_one_line, problems)  # names no value
    warmup_enabled = _warmup_enabled(cells.get("warmup_enabled"), problems)
    daily_max = _daily_max(cells.get("daily_max"), limits, problems)
    tz = _timezone(cells.get("timezone"), problems)
    if problems:
        return Rejection(line, "; ".join(problems))
    return MailboxRow(
        line=line,
        email=email,
        auth_method=AUTH_PASSWORD,
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        smtp_security=smtp_security,
        smtp_username=smtp_username,
        # Passwords are taken exactly as written: spaces may be part of a password.
        smtp_password=cells["smtp_password"],
        imap_host=imap_host,
        imap_port=imap_port,
        imap_security=imap_security,
        imap_username=imap_username,
        imap_password=cells["imap_password"],
        warmup_enabled=warmup_enabled,
        daily_max=daily_max,
        timezone=tz,
    )


def _credential_row(
    line: int,
    email: str,
    method: str,
    cells: dict[str, str],
    limits: RowLimits,
    problems: list[str],
) -> MailboxRow | Rejection:
    """A row of a mailbox that logs in with an operator's credentials: its servers and
    logins are the provider's, and it keeps no password, so those cells stay blank (a
    value there would be ignored, or worse, a password stored for nothing)."""
    given = [
        column
        for column in (*ENDPOINT_FIELDS["smtp"], *ENDPOINT_FIELDS["imap"], *PASSWORD_COLUMNS)
        if (cells.get(column) or "").strip()
    ]
    if given:
        # Never the values: a password may be among them.
        problems.append(
            f"{', '.join(given)}: must be blank for {method} (the provider's servers are "
            "used, with no password)"
        )
    warmup_enabled = _warmup_enabled(cells.get("warmup_enabled"), problems)
    daily_max = _daily_max(cells.get("daily_max"), limits, problems)
    tz = _timezone(cells.get("timezone"), problems)
    if problems:
        return Rejection(line, "; ".join(problems))
    preset = Mailbox(email=email)
    preset.log_in_by_token(method)
    return MailboxRow(
        line=line,
        email=email,
        auth_method=method,
        smtp_host=preset.smtp_host,
        smtp_port=preset.smtp_port,
        smtp_security=preset.smtp_security,
        smtp_username=email,
        smtp_password="",
        imap_host=preset.imap_host,
        imap_port=preset.imap_port,
        imap_security=preset.imap_security,
        imap_username=email,
        imap_password="",
        warmup_enabled=warmup_enabled,
        daily_max=daily_max,
        timezone=tz,
    )


def parse_csv(
    lines: Iterable[str], limits: RowLimits, progress: Progress | None = None
) -> ParsedFile:
    """Every data row of the file, parsed or rejected, with the line number a user sees in
    an editor (header = line 1; a row with a quoted line break counts from its first
    line). Rows whose cells are all blank (a spreadsheet's trailing rows) are skipped and
    not counted. The first occurrence of an address counts; later ones are rejected."""
    reader = csv.reader(lines)
    try:
        header_cells = next(reader, None)
        while header_cells is not None and not any(c.strip() for c in header_cells):
            header_cells = next(reader, None)
        if header_cells is None:
            raise ImportFileError(
                f"the file is empty: expected a header row with {', '.join(REQUIRED_COLUMNS)}"
            )
        names = read_header(header_cells)
        rows: list[MailboxRow] = []
        rejections: list[Rejection] = []
        first_line_of: dict[str, int] = {}
        counter = _Counter(progress, "read")
        total = 0
        last_line = reader.line_num
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            total += 1
            counter.add(1)
            if len(cells) != len(names):
                # Never quote the cells: a shifted column may put a password anywhere.
                rejections.append(
                    Rejection(
                        line,
                        f"has {len(cells)} fields but the header has {len(names)} "
                        "(an unquoted comma in a value?)",
                    )
                )
                continue
            if any("\x00" in cell for cell in cells):
                # PostgreSQL text cannot hold NUL: without this the whole import fails.
                rejections.append(Rejection(line, "contains a NUL character"))
                continue
            values = dict(zip(names, cells, strict=True))
            email = values["email"].strip().lower()
            if email in first_line_of:
                rejections.append(Rejection(line, f"duplicate of line {first_line_of[email]}"))
                continue
            if email:
                first_line_of[email] = line
            parsed = parse_row(line, values, limits)
            if isinstance(parsed, Rejection):
                rejections.append(parsed)
            else:
                rows.append(parsed)
    except csv.Error as exc:
        raise ImportFileError(f"line {reader.line_num}: not valid CSV ({exc})") from None
    return ParsedFile(rows, rejections, total)


# --- Applying: the database ----------------------------------------------------------


def _existing_by_email(emails: list[str]) -> dict[str, list[Mailbox]]:
    """Mailboxes of any owner whose address matches, case-insensitively, one of `emails`,
    locked until the transaction ends. Case-insensitive because the unique index on
    email is case-sensitive: an old "Ann@x.test" must be updated, not duplicated."""
    found: dict[str, list[Mailbox]] = {}
    for start in range(0, len(emails), READ_CHUNK):
        chunk = emails[start : start + READ_CHUNK]
        # FOR UPDATE: rows written back as read (kept passwords) must not overwrite a
        # concurrent change, e.g. rotate_secrets re-encrypting them under a new key.
        # Ordered by pk so two imports lock shared rows in the same order.
        boxes = (
            Mailbox.objects.select_for_update()
            .annotate(email_lower=Lower("email"))
            .filter(email_lower__in=chunk)
            .order_by("pk")
        )
        for box in boxes:
            found.setdefault(box.email_lower, []).append(box)
    return found


def _served_domains() -> dict[str, frozenset[str]]:
    """{credential kind: the domains its enabled credentials serve}, in one query."""
    served: dict[str, set[str]] = {kind: set() for kind in CREDENTIAL_METHODS}
    for kind, domains in OAuthCredential.objects.filter(enabled=True).values_list(
        "kind", "domains"
    ):
        served.setdefault(kind, set()).update(d.lower() for d in domains.split())
    return {kind: frozenset(domains) for kind, domains in served.items()}


def _apply_row(box: Mailbox, row: MailboxRow) -> None:
    box.email = row.email
    box.auth_method = row.auth_method
    if row.auth_method in CREDENTIAL_METHODS:
        box.log_in_by_token(row.auth_method)
        _apply_options(box, row)
        return
    box.provider = guess_provider(row.email, row.smtp_host)
    box.smtp_host, box.smtp_port = row.smtp_host, row.smtp_port
    box.smtp_security, box.smtp_username = row.smtp_security, row.smtp_username
    box.imap_host, box.imap_port = row.imap_host, row.imap_port
    box.imap_security, box.imap_username = row.imap_security, row.imap_username
    # The property setters encrypt; a blank password keeps the stored ciphertext.
    if row.smtp_password:
        box.smtp_password = row.smtp_password
    if row.imap_password:
        box.imap_password = row.imap_password
    _apply_options(box, row)


def _apply_options(box: Mailbox, row: MailboxRow) -> None:
    if row.warmup_enabled is not None:
        box.warmup_enabled = row.warmup_enabled
    if row.daily_max is not None:
        box.daily_max = row.daily_max
    if row.timezone is not None:
        box.timezone = row.timezone


def _decide(
    owner: Any,
    plan: OwnerPlan,
    rows: list[MailboxRow],
    existing: dict[str, list[Mailbox]],
    owned: int,
    limits: RowLimits,
    report: ImportReport,
) -> tuple[list[Mailbox], list[Mailbox]]:
    """Split the parsed rows into new and changed mailboxes; rejections go to `report`.
    Rows are taken in file order, so the first creations get the plan's free places."""
    to_create: list[Mailbox] = []
    to_update: list[Mailbox] = []
    free_places = max(0, plan.max_mailboxes - owned)
    served = _served_domains()
    for row in rows:
        matches = existing.get(row.email, [])
        domain = email_domain(row.email)
        if row.auth_method in CREDENTIAL_METHODS and domain not in served[row.auth_method]:
            report.rejections.append(
                Rejection(
                    row.line,
                    f"auth_method: no enabled {row.auth_method} OAuth credentials serve "
                    f"{domain} (add them in the admin: OAuth credentials)",
                )
            )
        elif len(matches) > 1:
            report.rejections.append(
                Rejection(
                    row.line,
                    f"{len(matches)} existing mailboxes have this address in different "
                    "letter cases; merge them first",
                )
            )
        elif matches and matches[0].owner_id != owner.pk:
            report.rejections.append(Rejection(row.line, "belongs to another owner"))
        elif (
            matches
            and row.auth_method == AUTH_PASSWORD
            and (
                missing := [
                    c
                    for c in PASSWORD_COLUMNS
                    if not getattr(row, c)
                    and (
                        matches[0].uses_token
                        or not getattr(matches[0], c.replace("password", "secret"))
                    )
                ]
            )
        ):
            # A mailbox that logged in with a token (or has no password stored) has none
            # to keep.
            report.rejections.append(
                Rejection(row.line, f"{', '.join(missing)}: required: no password is stored")
            )
        elif matches:
            box = matches[0]
            _apply_row(box, row)
            # A token mailbox keeps no password, so none can go elsewhere (and its servers
            # are the preset, as Mailbox.clean checks with token_problems).
            if not box.uses_token and (moved := box.moved_without_password()):
                reason = "; ".join(f"{name}: {message}" for name, message in moved.items())
                report.rejections.append(Rejection(row.line, reason.rstrip(".")))
            else:
                to_update.append(box)
        elif row.auth_method == AUTH_PASSWORD and (
            missing := [c for c in PASSWORD_COLUMNS if not getattr(row, c)]
        ):
            report.rejections.append(
                Rejection(row.line, f"{', '.join(missing)}: required when creating a mailbox")
            )
        elif row.daily_max is None and limits.default_daily_max is None:
            report.rejections.append(
                Rejection(
                    row.line,
                    f"daily_max: no value is allowed: the plan's max_daily_quota "
                    f"({limits.max_daily_quota}) is below WARMUP_MIN_DAILY_QUOTA "
                    f"({limits.min_daily_quota})",
                )
            )
        elif len(to_create) >= free_places:
            report.rejections.append(
                Rejection(
                    row.line,
                    f"over the plan's limit of {plan.max_mailboxes} mailboxes (the owner has "
                    f"{owned}, {free_places} more allowed)",
                )
            )
        else:
            box = Mailbox(owner=owner)
            if limits.default_daily_max is not None:  # else the row has one (checked above)
                box.daily_max = limits.default_daily_max
            _apply_row(box, row)
            to_create.append(box)
    return to_create, to_update


def _update(boxes: list[Mailbox]) -> None:
    """Write back `boxes`, which exist and are locked by this transaction.

    INSERT … ON CONFLICT (id) DO UPDATE rather than bulk_update(): bulk_update builds a
    CASE WHEN per row and field, about 2.5 ms of Python per row here (25 s for 10,000
    rows); this statement costs what an INSERT does. Every id exists and its row is
    locked, so each row takes the UPDATE branch; the INSERT branch never runs."""
    Mailbox.objects.bulk_create(
        boxes, update_conflicts=True, unique_fields=["id"], update_fields=UPDATE_FIELDS
    )


def import_mailboxes(
    owner: Any,
    lines: Iterable[str],
    *,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> ImportReport:
    """Create or update `owner`'s mailboxes from CSV text; see the module docstring.
    Raises ImportFileError (nothing written) for a file that cannot be imported at all and
    ImportConflictError (nothing written) when a concurrent change got in the way."""
    plan = OwnerPlan.for_owner(owner)
    limits = RowLimits.for_plan(plan)
    parsed = parse_csv(lines, limits, progress)
    report = ImportReport(total=parsed.total, rejections=parsed.rejections)
    try:
        with transaction.atomic():
            # Locking the plan serialises imports (and API creates) for one owner, so two
            # of them cannot both take the last free places of the plan.
            plan = OwnerPlan.lock_for(owner)
            owned = Mailbox.objects.filter(owner=owner).count()
            emails = [row.email for row in parsed.rows]
            existing = _existing_by_email(emails)
            to_create, to_update = _decide(
                owner, plan, parsed.rows, existing, owned, limits, report
            )
            counter = _Counter(progress, "wrote", len(to_create) + len(to_update))
            for start in range(0, len(to_create), batch_size):
                batch = to_create[start : start + batch_size]
                Mailbox.objects.bulk_create(batch)
                counter.add(len(batch))
            for start in range(0, len(to_update), batch_size):
                batch = to_update[start : start + batch_size]
                _update(batch)
                counter.add(len(batch))
    except IntegrityError:
        # Only a race gets here (an address created elsewhere since we looked): the
        # message cannot say which row without echoing the database error.
        raise ImportConflictError(
            "another process created or changed some of these mailboxes during the import; "
            "nothing was imported: run it again"
        ) from None
    report.created, report.updated = len(to_create), len(to_update)
    report.rejections.sort(key=lambda r: r.line)
    return report
