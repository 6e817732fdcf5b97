from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import crypto
from accounts.importing import (
    BATCH_SIZE,
    METHOD_COLUMN,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    MailboxRow,
    Rejection,
    RowLimits,
    parse_row,
)
from accounts.models import Mailbox, OAuthCredential, OwnerPlan

HEADER = list(REQUIRED_COLUMNS)
FULL_HEADER = [*HEADER, *OPTIONAL_COLUMNS, METHOD_COLUMN]


def row(email: str, /, **overrides: str) -> dict[str, str]:
    values = {
        "email": email,
        "smtp_host": "smtp.mail.test",
        "smtp_port": "587",
        "smtp_security": "starttls",
        "smtp_username": "",
        "smtp_password": f"smtp-pw-of-{email}",
        "imap_host": "imap.mail.test",
        "imap_port": "993",
        "imap_security": "ssl",
        "imap_username": "",
        "imap_password": f"imap-pw-of-{email}",
        "warmup_enabled": "",
        "daily_max": "",
        "timezone": "",
    }
    values.update(overrides)
    return values


def write_csv(tmp_path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    header = header or HEADER
    path = tmp_path / "mailboxes.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for values in rows:
            writer.writerow([values.get(column, "") for column in header])
    return path


@dataclass
class Run:
    out: str
    err: str
    error: str | None  # the CommandError message, None on success

    @property
    def everything(self) -> str:
        return f"{self.out}\n{self.err}\n{self.error or ''}"


def run(path: Path, owner: Any, **options: Any) -> Run:
    out, err = StringIO(), StringIO()
    try:
        call_command(
            "import_mailboxes", str(path), owner=owner.username, stdout=out, stderr=err, **options
        )
    except CommandError as exc:
        return Run(out.getvalue(), err.getvalue(), str(exc))
    return Run(out.getvalue(), err.getvalue(), None)


@pytest.fixture
def other_owner(django_user_model: Any) -> Any:
    return django_user_model.objects.create(username="someone-else")


def limits(max_daily_quota: int = 100) -> RowLimits:
    return RowLimits(settings.WARMUP.min_daily_quota, max_daily_quota)


# --- parse_row: no database ----------------------------------------------------------


def test_parse_row_normalises_and_defaults() -> None:
    parsed = parse_row(
        7,
        row(
            "  Ann@Example.TEST ",
            smtp_port=" 465 ",
            smtp_security="SSL",
            warmup_enabled="No",
            daily_max=str(settings.WARMUP.min_daily_quota),
            timezone="Europe/Berlin",
        ),
        limits(),
    )
    assert isinstance(parsed, MailboxRow)
    assert parsed.line == 7
    assert parsed.email == "ann@example.test"
    assert parsed.smtp_port == 465
    assert parsed.smtp_security == "ssl"
    assert parsed.smtp_username == parsed.imap_username == "ann@example.test"
    assert parsed.warmup_enabled is False
    assert parsed.daily_max == settings.WARMUP.min_daily_quota
    assert parsed.timezone == "Europe/Berlin"


@pytest.mark.parametrize("raw, expected", [("", True), ("yes", True), ("1", True), ("0", False)])
def test_parse_row_warmup_enabled(raw: str, expected: bool) -> None:
    parsed = parse_row(2, row("a@b.test", warmup_enabled=raw), limits())
    assert isinstance(parsed, MailboxRow)
    assert parsed.warmup_enabled is expected


def test_parse_row_without_optional_columns_keeps_them_unset() -> None:
    values = {k: v for k, v in row("a@b.test").items() if k in REQUIRED_COLUMNS}
    parsed = parse_row(2, values, limits())
    assert isinstance(parsed, MailboxRow)
    assert (parsed.warmup_enabled, parsed.daily_max, parsed.timezone) == (None, None, None)


def test_parse_row_reports_every_problem_of_the_row_at_once() -> None:
    parsed = parse_row(9, row("a@b.test", smtp_port="abc", imap_security="tls"), limits())
    assert isinstance(parsed, Rejection)
    assert str(parsed).startswith("line 9: ")
    assert "smtp_port: 'abc' is not a port number" in parsed.reason
    assert "imap_security: 'tls' is not one of ssl, starttls, none" in parsed.reason


# --- the command ---------------------------------------------------------------------


def test_creates_mailboxes_with_encrypted_passwords(db: Any, owner: Any, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        [
            row("ann@gmail.com", smtp_host="smtp.gmail.com", smtp_password="s3cret smtp "),
            row("bob@corp.test", smtp_username="bob", imap_username="bob-imap"),
        ],
    )
    result = run(path, owner)

    assert result.error is None, result.everything
    assert result.out.strip() == "2 created, 0 updated, 0 rejected (of 2 rows)"
    assert result.err == ""  # a small file imports quietly
    ann = Mailbox.objects.get(email="ann@gmail.com")
    assert ann.owner == owner
    assert ann.provider == "gmail"
    assert ann.smtp_username == ann.imap_username == "ann@gmail.com"
    assert "s3cret" not in ann.smtp_secret
    assert ann.smtp_password == "s3cret smtp "  # taken exactly, spaces included
    assert ann.imap_password == "imap-pw-of-ann@gmail.com"
    assert ann.warmup_enabled is True
    assert (ann.timezone, ann.daily_max) == ("UTC", 50)
    bob = Mailbox.objects.get(email="bob@corp.test")
    assert (bob.smtp_username, bob.imap_username, bob.provider) == ("bob", "bob-imap", "other")
    assert bob.smtp_password == "smtp-pw-of-bob@corp.test"


def test_optional_columns(db: Any, owner: Any, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        [row("ann@x.test", warmup_enabled="no", daily_max="60", timezone="America/New_York")],
        header=FULL_HEADER,
    )
    assert run(path, owner).error is None
    ann = Mailbox.objects.get(email="ann@x.test")
    assert (ann.warmup_enabled, ann.daily_max, ann.timezone) == (False, 60, "America/New_York")


def test_update_by_email_changes_fields_and_keeps_blank_passwords(
    db: Any, owner: Any, make_mailbox: Any, tmp_path: Path
) -> None:
    box = make_mailbox(
        email="ann@example.test",
        imap_host="imap.mail.test",
        imap_username="ann@example.test",
        smtp_password="old-smtp",
        imap_password="old-imap",
        daily_max=40,
    )
    path = write_csv(
        tmp_path,
        [
            row(
                "  ANN@Example.test ",
                smtp_host="smtp.office365.com",
                smtp_port="2525",
                smtp_password="new-smtp",  # a new server: its password comes along
                imap_password="",  # the same IMAP server and login: blank keeps it
                timezone="Asia/Tokyo",
            )
        ],
        header=FULL_HEADER,
    )
    created, before = box.created_at, box.updated_at
    result = run(path, owner)

    assert result.error is None, result.everything
    assert result.out.strip() == "0 created, 1 updated, 0 rejected (of 1 rows)"
    box.refresh_from_db()
    assert box.updated_at > before
    assert box.created_at == created
    assert (box.smtp_host, box.smtp_port, box.provider) == ("smtp.office365.com", 2525, "outlook")
    assert box.smtp_username == "ann@example.test"
    assert box.smtp_password == "new-smtp"
    assert box.imap_password == "old-imap"
    assert box.timezone == "Asia/Tokyo"
    assert box.daily_max == 40  # blank: kept
    assert Mailbox.objects.count() == 1


def test_update_without_optional_columns_keeps_their_values(
    db: Any, owner: Any, make_mailbox: Any, tmp_path: Path
) -> None:
    box = make_mailbox(
        email="ann@x.test", warmup_enabled=False, daily_max=45, timezone="Asia/Tokyo"
    )
    assert run(write_csv(tmp_path, [row("ann@x.test")]), owner).error is None
    box.refresh_from_db()
    assert (box.warmup_enabled, box.daily_max, box.timezone) == (False, 45, "Asia/Tokyo")


def test_existing_address_in_another_case_is_updated_not_duplicated(
    db: Any, owner: Any, make_mailbox: Any, tmp_path: Path
) -> None:
    box = make_mailbox(email="Bob@Example.test")
    result = run(write_csv(tmp_path, [row("bob@example.test")]), owner)
    assert result.error is None, result.everything
    assert Mailbox.objects.get().pk == box.pk
    box.refresh_from_db()
    assert box.email == "bob@example.test"


BAD_ROWS = [
    ({"email": "not-an-email"}, "email: 'not-an-email' is not a valid email address"),
    ({"email": ""}, "email: required"),
    ({"smtp_host": " "}, "smtp_host: required"),
    ({"smtp_port": "0"}, "smtp_port: '0' is not a port number"),
    ({"imap_port": "70000"}, "imap_port: '70000' is not a port number"),
    ({"smtp_port": "abc"}, "smtp_port: 'abc' is not a port number"),
    ({"smtp_port": "58.7"}, "smtp_port: '58.7' is not a port number"),
    ({"imap_port": ""}, "imap_port: blank is not a port number"),
    ({"smtp_security": "tls"}, "smtp_security: 'tls' is not one of ssl, starttls, none"),
    ({"smtp_password": ""}, "smtp_password: required when creating a mailbox"),
    ({"imap_password": ""}, "imap_password: required when creating a mailbox"),
    ({"timezone": "Mars/Olympus"}, "timezone: 'Mars/Olympus' is not a known time zone"),
    ({"daily_max": "101"}, "daily_max: 101 is above the plan's max_daily_quota (100)"),
    ({"daily_max": "lots"}, "daily_max: 'lots' is not a whole number"),
    ({"warmup_enabled": "maybe"}, "warmup_enabled: 'maybe' is not true/false/1/0/yes/no"),
]


@pytest.mark.parametrize("overrides, reason", BAD_ROWS)
def test_bad_row_is_reported_and_not_written(
    db: Any, owner: Any, tmp_path: Path, overrides: dict[str, str], reason: str
) -> None:
    OwnerPlan.objects.create(owner=owner, max_daily_quota=100)
    path = write_csv(
        tmp_path,
        [row("good@x.test"), row("bad@x.test", **overrides), row("also-good@x.test")],
        header=FULL_HEADER,
    )
    result = run(path, owner)

    assert f"line 3: {reason}" in result.err
    assert "line 2" not in result.err and "line 4" not in result.err
    assert result.out.strip() == "2 created, 0 updated, 1 rejected (of 3 rows)"
    assert result.error is not None and "1 of 3 rows rejected" in result.error
    assert sorted(Mailbox.objects.values_list("email", flat=True)) == [
        "also-good@x.test",
        "good@x.test",
    ]


def test_daily_max_below_the_floor_is_rejected(db: Any, owner: Any, tmp_path: Path) -> None:
    floor = settings.WARMUP.min_daily_quota
    if floor == 0:
        pytest.skip("WARMUP_MIN_DAILY_QUOTA is 0: nothing is below it")
    path = write_csv(tmp_path, [row("a@x.test", daily_max=str(floor - 1))], header=FULL_HEADER)
    result = run(path, owner)
    assert f"line 2: daily_max: {floor - 1} is below WARMUP_MIN_DAILY_QUOTA ({floor})" in result.err
    assert not Mailbox.objects.exists()


def test_bad_row_for_an_existing_mailbox_changes_nothing(
    db: Any, owner: Any, make_mailbox: Any, tmp_path: Path
) -> None:
    box = make_mailbox(email="ann@x.test", smtp_host="smtp.before.test")
    path = write_csv(tmp_path, [row("ann@x.test", smtp_host="smtp.after.test", imap_port="0")])
    result = run(path, owner)
    assert "line 2: imap_port: '0' is not a port number" in result.err
    box.refresh_from_db()
    assert box.smtp_host == "smtp.before.test"


@pytest.mark.parametrize(
    ("overrides", "column", "reason"),
    [
        ({"smtp_host": "a..b"}, "smtp_host", "'a..b' is not a host name"),
        ({"imap_host": "x" * 64 + ".test"}, "imap_host", "is not a host name"),
        ({"smtp_host": "smtp.x.test\r\nRSET"}, "smtp_host", "control character"),
        ({"smtp_username": "ann\r\nRSET"}, "smtp_username", "control character"),
        ({"imap_username": "ann\r\na1 LOGOUT"}, "imap_username", "control character"),
        ({"smtp_password": "PW-Qw1\r\nRSET"}, "smtp_password", "control character"),
        ({"imap_password": "PW-Qw1\na1 LOGOUT"}, "imap_password", "control character"),
    ],
)
def test_hostile_values_reject_their_row_only(
    db: Any, owner: Any, tmp_path: Path, overrides: dict[str, str], column: str, reason: str
) -> None:
    path = write_csv(tmp_path, [row("good@x.test"), row("bad@x.test", **overrides)])
    result = run(path, owner)

    assert f"line 3: {column}: " in result.err
    assert reason in result.err.split(f"line 3: {column}: ", 1)[1]
    assert "PW-Qw1" not in result.everything  # a password is never quoted
    assert result.out.strip() == "1 created, 0 updated, 1 rejected (of 2 rows)"
    assert list(Mailbox.objects.values_list("email", flat=True)) == ["good@x.test"]


def test_an_update_that_moves_a_server_needs_its_password_again(
    db: Any, owner: Any, make_mailbox: Any, tmp_path: Path
) -> None:
    def existing(email: str) -> Mailbox:
        return make_mailbox(
            email=email,
            smtp_host="smtp.mail.test",
            smtp_username=email,
            imap_host="imap.mail.test",
            imap_username=email,
            smtp_password=f"old-smtp-{email}",
            imap_password=f"old-imap-{email}",
        )

    ann, bob, cat = existing("ann@x.test"), existing("bob@x.test"), existing("cat@x.test")
    before = (ann.smtp_host, ann.smtp_secret, ann.imap_secret)
    path = write_csv(
        tmp_path,
        [
            # Blank passwords: the stored ones stay, so the servers must stay too.
            row("ann@x.test", smtp_host="smtp.elsewhere.test", smtp_password="", imap_password=""),
            row("bob@x.test", imap_port="143", smtp_password="", imap_password="new-imap"),
            row("cat@x.test", smtp_password="", imap_password=""),
        ],
    )
    result = run(path, owner)

    assert "line 2: smtp_password: give the SMTP password again" in result.err
    assert "imap_password" not in result.err
    assert "old-" not in result.everything
    assert result.out.strip() == "0 created, 2 updated, 1 rejected (of 3 rows)"
    ann.refresh_from_db()
    assert (ann.smtp_host, ann.smtp_secret, ann.imap_secret) == before
    bob.refresh_from_db()
    assert (bob.imap_port, bob.imap_password) == (143, "new-imap")
    assert bob.smtp_password == "old-smtp-bob@x.test"
    cat.refresh_from_db()
    assert (cat.smtp_password, cat.imap_password) == ("old-smtp-cat@x.test", "old-imap-cat@x.test")


def test_duplicate_rows_first_occurrence_counts(db: Any, owner: Any, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        [
            row("ann@x.test", smtp_host="smtp.first.test"),
            row("bob@x.test"),
            row(" ANN@x.test", smtp_host="smtp.second.test"),
            row("ann@x.test", smtp_host="smtp.third.test"),
        ],
    )
    result = run(path, owner)
    assert "line 4: duplicate of line 2" in result.err
    assert "line 5: duplicate of line 2" in result.err
    assert result.out.strip() == "2 created, 0 updated, 2 rejected (of 4 rows)"
    assert Mailbox.objects.get(email="ann@x.test").smtp_host == "smtp.first.test"


def test_address_of_another_owner_is_rejected_without_naming_them(
    db: Any, owner: Any, other_owner: Any, tmp_path: Path
) -> None:
    theirs = Mailbox.objects.create(
        owner=other_owner,
        email="taken@x.test",
        smtp_host="smtp.theirs.test",
        smtp_username="t",
        imap_host="imap.theirs.test",
        imap_username="t",
        smtp_password="their-pw",
    )
    path = write_csv(tmp_path, [row("Taken@x.test", smtp_host="smtp.mine.test")])
    result = run(path, owner)
    assert "line 2: belongs to another owner" in result.err
    assert other_owner.username not in result.everything
    theirs.refresh_from_db()
    assert (theirs.owner, theirs.smtp_host) == (other_owner, "smtp.theirs.test")
    assert theirs.smtp_password == "their-pw"


def test_plan_max_mailboxes_limits_creations(
    db: Any, owner: Any, make_mailbox: Any, tmp_path: Path
) -> None:
    OwnerPlan.objects.create(owner=owner, max_mailboxes=3)
    make_mailbox(email="old@x.test")
    path = write_csv(
        tmp_path,
        [
            row("new1@x.test"),
            row("old@x.test"),  # an update takes no place
            row("bad@x.test", smtp_port="0"),  # a rejected row takes no place
            row("new2@x.test"),
            row("new3@x.test"),
            row("new4@x.test"),
        ],
    )
    result = run(path, owner)
    assert result.out.strip() == "2 created, 1 updated, 3 rejected (of 6 rows)"
    assert "line 6: over the plan's limit of 3 mailboxes" in result.err
    assert "line 7: over the plan's limit of 3 mailboxes" in result.err
    assert sorted(Mailbox.objects.filter(owner=owner).values_list("email", flat=True)) == [
        "new1@x.test",
        "new2@x.test",
        "old@x.test",
    ]


@pytest.mark.parametrize(
    "header, message",
    [
        (
            [c for c in HEADER if c not in ("imap_port", "smtp_password")],
            "missing required columns: smtp_password, imap_port",
        ),
        ([*HEADER, "colour"], "unknown columns: 'colour'"),
        ([*HEADER, "email"], "columns given more than once: email"),
    ],
)
def test_bad_header_imports_nothing(
    db: Any, owner: Any, tmp_path: Path, header: list[str], message: str
) -> None:
    path = write_csv(tmp_path, [row("ann@x.test"), row("bob@x.test")], header=header)
    result = run(path, owner)
    assert result.error is not None and message in result.error
    assert "nothing was imported" in result.error
    assert not Mailbox.objects.exists()


def test_header_is_case_and_space_insensitive_and_may_reorder(
    db: Any, owner: Any, tmp_path: Path
) -> None:
    header = list(reversed(HEADER))
    path = write_csv(tmp_path, [row("ann@x.test")], header=header)
    text = path.read_text().replace("email", " EMAIL ", 1)
    path.write_text(text)
    assert run(path, owner).error is None
    assert Mailbox.objects.filter(email="ann@x.test").exists()


@pytest.mark.parametrize("content", [b"", b"\n\n", "email,caf\xe9\n".encode("latin-1")])
def test_unreadable_file_imports_nothing(
    db: Any, owner: Any, tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    result = run(path, owner)
    assert result.error is not None and "nothing was imported" in result.error


def test_missing_file(db: Any, owner: Any, tmp_path: Path) -> None:
    result = run(tmp_path / "nope.csv", owner)
    assert result.error is not None and "cannot read" in result.error


def test_unknown_owner(db: Any, tmp_path: Path) -> None:
    path = write_csv(tmp_path, [row("ann@x.test")])
    with pytest.raises(CommandError, match="no user with username 'ghost'"):
        call_command("import_mailboxes", str(path), owner="ghost", stdout=StringIO())
    assert not Mailbox.objects.exists()


def test_line_numbers_count_blank_lines_and_quoted_line_breaks(
    db: Any, owner: Any, tmp_path: Path
) -> None:
    two_lines = row("ann@x.test", smtp_password="two\nlines")
    bad_two_lines = row("cat@x.test", smtp_port="0", imap_password="also\ntwo lines")
    bad = row("bob@x.test", smtp_port="0")
    path = tmp_path / "m.csv"
    buffer = StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)  # line 1
    writer.writerow([two_lines[c] for c in HEADER])  # lines 2-3
    writer.writerow([bad_two_lines[c] for c in HEADER])  # lines 4-5
    buffer.write("\n")  # line 6: blank
    writer.writerow([""] * len(HEADER))  # line 7: a spreadsheet's empty row
    writer.writerow([bad[c] for c in HEADER])  # line 8
    writer.writerow(["short", "row"])  # line 9
    path.write_text(buffer.getvalue(), encoding="utf-8")

    result = run(path, owner)
    assert "line 2: smtp_password: " in result.err  # a line break is no password
    assert "line 4: smtp_port: '0'" in result.err
    assert "line 8: smtp_port: '0'" in result.err
    assert "line 9: has 2 fields but the header has 11" in result.err
    assert result.out.strip() == "0 created, 0 updated, 4 rejected (of 4 rows)"


def test_nul_character_rejects_the_row(db: Any, owner: Any, tmp_path: Path) -> None:
    path = write_csv(tmp_path, [row("ann@x.test", smtp_host="smtp\x00.x.test"), row("b@x.test")])
    result = run(path, owner)
    assert "line 2: contains a NUL character" in result.err
    assert list(Mailbox.objects.values_list("email", flat=True)) == ["b@x.test"]


def test_byte_order_mark_is_ignored(db: Any, owner: Any, tmp_path: Path) -> None:
    path = write_csv(tmp_path, [row("ann@x.test")])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert run(path, owner).error is None


def test_no_password_in_any_output(
    db: Any, owner: Any, make_mailbox: Any, other_owner: Any, tmp_path: Path
) -> None:
    Mailbox.objects.create(
        owner=other_owner,
        email="theirs@x.test",
        smtp_host="h",
        smtp_username="u",
        imap_host="h",
        imap_username="u",
    )
    make_mailbox(email="old@x.test")
    rows = [
        row("new@x.test", smtp_password="PW-new-smtp", imap_password="PW-new-imap"),
        row("old@x.test", smtp_password="PW-old-smtp"),
        row("bad@x.test", smtp_port="0", smtp_password="PW-bad-smtp", imap_password="PW-bad-i"),
        row("new@x.test", smtp_password="PW-dup-smtp"),
        row("theirs@x.test", smtp_password="PW-theirs-smtp"),
        row("nopw@x.test", smtp_password="", imap_password="PW-nopw-imap"),
    ]
    path = write_csv(tmp_path, rows)
    # A row with an unquoted comma in its password, as a hand-edited file might have.
    with path.open("a", encoding="utf-8") as f:
        f.write("shift@x.test,h,587,ssl,,PW-shift,ed,h,993,ssl,,PW-shift-imap\n")
    result = run(path, owner, verbosity=3)
    assert result.out.strip() == "1 created, 1 updated, 5 rejected (of 7 rows)"
    assert "PW-" not in result.everything


def test_progress_is_reported_for_large_files_only(db: Any, owner: Any, tmp_path: Path) -> None:
    OwnerPlan.objects.create(owner=owner, max_mailboxes=6000)
    path = write_csv(tmp_path, [row(f"m{i}@x.test") for i in range(5001)])
    result = run(path, owner)
    assert result.error is None
    assert "read 5000 rows" in result.err
    assert "wrote 5000/5001 rows" in result.err
    assert result.out.strip() == "5001 created, 0 updated, 0 rejected (of 5001 rows)"


def _batches(rows: int, fields: list[Any]) -> int:
    # As Django splits them: our BATCH_SIZE, capped by the backend's parameter limit.
    size = min(BATCH_SIZE, max(connection.ops.bulk_batch_size(fields, [None] * rows), 1))
    return math.ceil(rows / size)


def test_query_count_does_not_grow_with_rows(db: Any, owner: Any, tmp_path: Path) -> None:
    OwnerPlan.objects.create(owner=owner, max_mailboxes=1000)

    def queries(prefix: str, n: int) -> int:
        path = write_csv(tmp_path, [row(f"{prefix}{i}@x.test") for i in range(n)])
        with CaptureQueriesContext(connection) as ctx:
            assert run(path, owner).error is None
        return len(ctx.captured_queries)

    insert_fields = [f for f in Mailbox._meta.concrete_fields if not f.primary_key]
    # Updates are written as INSERT … ON CONFLICT (id) DO UPDATE, with the id.
    update_fields = list(Mailbox._meta.concrete_fields)

    create_10, create_200 = queries("a", 10), queries("b", 200)
    assert create_200 - create_10 <= _batches(200, insert_fields) - _batches(10, insert_fields)
    # Same files again: every row is now an update.
    update_10, update_200 = queries("a", 10), queries("b", 200)
    assert update_200 - update_10 <= _batches(200, update_fields) - _batches(10, update_fields)
    assert Mailbox.objects.filter(owner=owner).count() == 210


def test_a_new_imap_password_lifts_the_engagement_pause_a_blank_one_keeps_it(
    db: Any, owner: Any, make_mailbox: Any, tmp_path: Path
) -> None:
    # The servers and logins the rows name, so a blank password may keep the stored one.
    same = {"smtp_host": "smtp.mail.test", "imap_host": "imap.mail.test"}
    given = make_mailbox(email="ann@example.test", smtp_username="ann", imap_username="ann", **same)
    kept = make_mailbox(email="bob@example.test", smtp_username="bob", imap_username="bob", **same)
    for box in (given, kept):
        box.pause_engagement("IMAP login refused: bad password")
    path = write_csv(
        tmp_path,
        [
            row(
                "ann@example.test",
                smtp_username="ann",
                imap_username="ann",
                smtp_password="",
                imap_password="new",
            ),
            row(
                "bob@example.test",
                smtp_username="bob",
                imap_username="bob",
                smtp_password="",
                imap_password="",
            ),
        ],
    )
    result = run(path, owner)

    assert result.error is None, result.everything
    given.refresh_from_db()
    kept.refresh_from_db()
    assert given.engagement_paused_reason == ""
    assert kept.engagement_paused_reason == "IMAP login refused: bad password"


# --- auth_method: mailboxes that log in with an operator's credentials --------------------

GOOGLE_PRESET = ("smtp.gmail.com", 465, "ssl", "imap.gmail.com", 993, "ssl")


def endpoints(box: Mailbox) -> tuple[Any, ...]:
    return (
        box.smtp_host,
        box.smtp_port,
        box.smtp_security,
        box.imap_host,
        box.imap_port,
        box.imap_security,
    )


@pytest.fixture
def credentials(db: Any) -> None:
    OAuthCredential.objects.create(
        name="acme google",
        kind="google_delegated",
        domains="acme.test\nacme-sales.test",
        secret=crypto.encrypt("service-account-json"),
    )
    OAuthCredential.objects.create(
        name="contoso app",
        kind="microsoft_app",
        client_id="app",
        tenant="contoso.test",
        domains="contoso.test",
        secret=crypto.encrypt("client-secret"),
    )
    OAuthCredential.objects.create(
        name="old google", kind="google_delegated", domains="retired.test", enabled=False
    )


def write_text(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mailboxes.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_credential_rows_need_only_an_email(
    db: Any, owner: Any, credentials: None, tmp_path: Path, settings: Any
) -> None:
    path = write_text(
        tmp_path,
        "email,auth_method\nAnn@Acme.test,google_delegated\nbob@contoso.test,Microsoft_App\n",
    )
    result = run(path, owner)

    assert result.error is None, result.everything
    assert result.out.strip() == "2 created, 0 updated, 0 rejected (of 2 rows)"
    ann = Mailbox.objects.get(email="ann@acme.test")
    assert (ann.auth_method, ann.provider) == ("google_delegated", "gmail")
    assert endpoints(ann) == GOOGLE_PRESET
    assert (ann.smtp_username, ann.imap_username) == ("ann@acme.test", "ann@acme.test")
    assert (ann.smtp_secret, ann.imap_secret) == ("", "")
    assert ann.token_problems() == {}
    bob = Mailbox.objects.get(email="bob@contoso.test")
    assert (bob.auth_method, bob.provider) == ("microsoft_app", "outlook")
    microsoft = settings.WARMUP.oauth.presets["microsoft"]
    assert endpoints(bob) == (*microsoft.smtp, *microsoft.imap)
    assert bob.token_problems() == {}


def test_credential_rows_take_the_optional_columns(
    db: Any, owner: Any, credentials: None, tmp_path: Path
) -> None:
    path = write_text(
        tmp_path,
        "email,auth_method,warmup_enabled,daily_max,timezone\n"
        "ann@acme.test,google_delegated,no,60,Europe/Paris\n",
    )
    assert run(path, owner).error is None
    ann = Mailbox.objects.get()
    assert (ann.warmup_enabled, ann.daily_max, ann.timezone) == (False, 60, "Europe/Paris")


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        (
            "cat@elsewhere.test,google_delegated",
            "auth_method: no enabled google_delegated OAuth credentials serve elsewhere.test",
        ),
        (
            "cat@retired.test,google_delegated",  # its credentials are disabled
            "auth_method: no enabled google_delegated OAuth credentials serve retired.test",
        ),
        (
            "cat@acme.test,microsoft_app",  # served, but by Google credentials
            "auth_method: no enabled microsoft_app OAuth credentials serve acme.test",
        ),
        ("cat@gmail.com,oauth2", "POST /api/mailboxes/connect/google/"),
        (
            "cat@acme.test,kerberos",
            "auth_method: 'kerberos' is not one of password, google_delegated, microsoft_app",
        ),
        (
            "cat@acme.test,password",
            "a password row needs the columns smtp_host, smtp_port",
        ),
        ("cat@acme.test,", "a password row needs the columns"),  # blank means password
    ],
)
def test_bad_credential_rows_are_rejected(
    db: Any, owner: Any, credentials: None, tmp_path: Path, cells: str, reason: str
) -> None:
    path = write_text(tmp_path, f"email,auth_method\n{cells}\nann@acme.test,google_delegated\n")
    result = run(path, owner)

    assert "line 2: " in result.err and reason in result.err, result.everything
    assert result.out.strip() == "1 created, 0 updated, 1 rejected (of 2 rows)"
    assert list(Mailbox.objects.values_list("email", flat=True)) == ["ann@acme.test"]


def test_credential_rows_keep_servers_and_passwords_blank(
    db: Any, owner: Any, credentials: None, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path,
        [
            row("ann@acme.test", auth_method="google_delegated"),  # hosts and passwords given
            row(
                "bob@acme.test",
                auth_method="google_delegated",
                **dict.fromkeys(REQUIRED_COLUMNS[1:], ""),
            ),
            row("carl@mail.test"),  # a password row in the same file
        ],
        header=FULL_HEADER,
    )
    result = run(path, owner)

    assert "line 2: smtp_host, smtp_port, smtp_security, imap_host" in result.err
    assert "must be blank for google_delegated" in result.err
    assert "pw-of" not in result.everything  # the passwords are named, never quoted
    assert result.out.strip() == "2 created, 0 updated, 1 rejected (of 3 rows)"
    assert Mailbox.objects.get(email="bob@acme.test").auth_method == "google_delegated"
    assert Mailbox.objects.get(email="carl@mail.test").smtp_password == "smtp-pw-of-carl@mail.test"


def test_header_with_auth_method_still_refuses_unknown_columns(
    db: Any, owner: Any, tmp_path: Path
) -> None:
    path = write_text(tmp_path, "email,auth_method,colour\nann@acme.test,google_delegated,red\n")
    result = run(path, owner)
    assert result.error is not None and "unknown columns: 'colour'" in result.error
    assert not Mailbox.objects.exists()


def test_header_with_auth_method_still_needs_email(db: Any, owner: Any, tmp_path: Path) -> None:
    path = write_text(tmp_path, "auth_method,timezone\ngoogle_delegated,UTC\n")
    result = run(path, owner)
    assert result.error is not None and "missing required columns: email" in result.error


def test_a_password_mailbox_moved_to_delegation_loses_its_passwords(
    db: Any, owner: Any, credentials: None, make_mailbox: Any, tmp_path: Path
) -> None:
    box = make_mailbox(email="ann@acme.test", daily_max=45)
    path = write_text(tmp_path, "email,auth_method\nann@acme.test,google_delegated\n")

    result = run(path, owner)

    assert result.out.strip() == "0 created, 1 updated, 0 rejected (of 1 rows)"
    box.refresh_from_db()
    assert box.auth_method == "google_delegated"
    assert endpoints(box) == GOOGLE_PRESET
    assert (box.smtp_secret, box.imap_secret, box.daily_max) == ("", "", 45)


def test_a_token_mailbox_moved_to_passwords_needs_both(
    db: Any, owner: Any, credentials: None, tmp_path: Path
) -> None:
    path = write_text(tmp_path, "email,auth_method\nann@acme.test,google_delegated\n")
    assert run(path, owner).error is None
    rows = [
        row("ann@acme.test", smtp_password="", imap_password=""),
        row("ann@acme.test", imap_password=""),
    ]
    for values in rows:
        result = run(write_csv(tmp_path, [values]), owner)
        assert "line 2: " in result.err and "required: no password is stored" in result.err
        assert Mailbox.objects.get().auth_method == "google_delegated"

    assert run(write_csv(tmp_path, [row("ann@acme.test")]), owner).error is None
    box = Mailbox.objects.get()
    assert (box.auth_method, box.smtp_host) == ("password", "smtp.mail.test")
    assert box.imap_password == "imap-pw-of-ann@acme.test"


def test_ten_thousand_delegated_addresses_import(
    db: Any, owner: Any, credentials: None, tmp_path: Path
) -> None:
    OwnerPlan.objects.create(owner=owner, max_mailboxes=10_000)
    lines = [f"user{i}@acme.test,google_delegated" for i in range(10_000)]
    path = write_text(tmp_path, "email,auth_method\n" + "\n".join(lines) + "\n")

    result = run(path, owner)

    assert result.error is None, result.everything[-500:]
    assert result.out.strip() == "10000 created, 0 updated, 0 rejected (of 10000 rows)"
    boxes = Mailbox.objects.filter(owner=owner)
    assert (
        boxes.filter(auth_method="google_delegated", smtp_host="smtp.gmail.com").count() == 10_000
    )
    assert not boxes.exclude(smtp_secret="").exists()
