"""normalize_status maps the seed's legacy spellings onto one set, idempotently."""

from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.db import connection

from accounts import status
from accounts.models import Mailbox

LEGACY = ["ACTIVE", " Active", "enabled", "PAUSED", "failed", "Error", "", "zombie", "active"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ACTIVE", "active"),
        (" Active", "active"),
        ("enabled", "active"),
        ("PAUSED", "paused"),
        ("failed", "error"),
        ("Error", "error"),
        ("INACTIVE", "disabled"),
        ("on_hold", "paused"),
        ("", "paused"),
        (None, "paused"),
        ("zombie", "paused"),
    ],
)
def test_mapping(raw, expected):
    assert status.normalize(raw)[0] == expected


def test_unclear_values_carry_a_reason():
    assert "empty" in status.normalize("")[1]
    assert "'zombie'" in status.normalize("zombie")[1]
    assert status.normalize("ACTIVE")[1] == ""


@pytest.fixture
def legacy_rows(db, make_mailbox) -> Iterator[dict[str, int]]:
    """Mailboxes with the seed's spellings. The status CHECK constraint (migration 0003)
    forbids them, so it is lifted for the test, and put back at the end: re-adding it
    validates every row, which proves the normalised table satisfies it."""
    ids = {}
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE mailboxes DROP CONSTRAINT mailboxes_status_valid")
        for raw in LEGACY:
            box = make_mailbox()
            cursor.execute("UPDATE mailboxes SET status = %s WHERE id = %s", [raw, box.pk])
            ids[raw] = box.pk
    yield ids
    with connection.cursor() as cursor:
        # Deferred foreign-key checks of this test's inserts would block ALTER TABLE.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "ALTER TABLE mailboxes ADD CONSTRAINT mailboxes_status_valid CHECK "
            "(status IN ('active', 'paused', 'error', 'disabled'))"
        )


def test_command_before_and_after(legacy_rows, capsys):
    call_command("normalize_status", dry_run=True)
    dry = capsys.readouterr().out
    assert "would change 8 mailboxes" in dry
    assert Mailbox.objects.get(pk=legacy_rows["ACTIVE"]).status == "ACTIVE"  # untouched

    call_command("normalize_status")
    out = capsys.readouterr().out
    assert "'ACTIVE'" in out and "changed 8 mailboxes" in out
    assert "'failed'  →  error" in out.replace("   ", "  ")
    after = dict(Mailbox.objects.values_list("pk", "status"))
    assert {raw: after[pk] for raw, pk in legacy_rows.items()} == {
        "ACTIVE": "active",
        " Active": "active",
        "enabled": "active",
        "PAUSED": "paused",
        "failed": "error",
        "Error": "error",
        "": "paused",
        "zombie": "paused",
        "active": "active",
    }
    assert "was not recognised" in Mailbox.objects.get(pk=legacy_rows["zombie"]).status_reason

    call_command("normalize_status")  # idempotent
    assert "already normalised" in capsys.readouterr().out
    assert dict(Mailbox.objects.values_list("pk", "status")) == after
