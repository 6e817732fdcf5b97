"""Migration 0015 turns the plain send log into one partitioned by day, with every row, id
and constraint kept and the id sequence where it was; and back."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from warmup.models import SendLog

BEFORE = [("warmup", "0014_plan_sweep")]
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
DAYS = [dt.date(2026, 5, 30), dt.date(2026, 5, 31), dt.date(2026, 6, 1)]
FIELDS = ("id", "sender_id", "day", "slot_no", "status", "in_reply_to_id", "message_id")


def migrate(target: list[tuple[str, str]] | None = None) -> Any:
    """Migrate to `target` (the latest migrations when None); returns the apps there."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    target = target or executor.loader.graph.leaf_nodes()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def one(statement: str, params: list[Any] | None = None) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone()[0]


def fetch(statement: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(statement)
        return cursor.fetchall()


@pytest.mark.django_db(transaction=True)
def test_the_send_log_is_partitioned_with_its_rows_and_back(make_mailbox: Any) -> None:
    a, b = make_mailbox(), make_mailbox()
    old = migrate(BEFORE).get_model("warmup", "SendLog")
    for day in DAYS:
        for n, sender in enumerate((a, b, a)):
            old.objects.create(
                sender_id=sender.id,
                recipient_id=(b if sender == a else a).id,
                day=day,
                slot_no=n,
                status="sent",
                message_id=f"<{day}.{n}@x.test>",
                scheduled_at=NOW,
                timestamp=NOW,
            )
    original = old.objects.get(day=DAYS[0], slot_no=0)
    reply = old.objects.create(
        sender_id=b.id,
        day=DAYS[1],
        slot_no=7,
        in_reply_to_id=original.id,
        scheduled_at=NOW,
        timestamp=NOW,
    )
    one("SELECT setval(pg_get_serial_sequence('logs', 'id'), %s)", [reply.id + 100])
    rows = sorted(old.objects.values_list(*FIELDS))

    migrate()

    assert sorted(SendLog.objects.values_list(*FIELDS)) == rows
    assert one("SELECT relkind FROM pg_class WHERE relname = 'logs'") == "p"
    placed = fetch("SELECT tableoid::regclass::text, day FROM logs")
    assert {(name, day) for name, day in placed} == {(f"logs_{d:%Y%m%d}", d) for d in DAYS}
    partitions = fetch(
        "SELECT c.relname, c.reloptions FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'logs'::regclass"
    )
    assert {name for name, _ in partitions} == {f"logs_{d:%Y%m%d}" for d in DAYS} | {"logs_default"}
    for name, options in partitions:
        assert "autovacuum_vacuum_scale_factor=0.01" in options, name
    assert one(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'logs_pkey'"
    ) == ("PRIMARY KEY (id, day)")
    # The one reply per send: the original is marked, the others are not.
    assert set(SendLog.objects.filter(reply_planned=True).values_list("id", flat=True)) == {
        original.id
    }
    # New rows: ids go on from the sequence's position; the day's unique key holds.
    new = SendLog.objects.create(
        sender_id=a.id, day=DAYS[2], slot_no=50, scheduled_at=NOW, timestamp=NOW
    )
    assert new.id == reply.id + 101
    with pytest.raises(IntegrityError, match="sender_id_day_slot_no"), transaction.atomic():
        SendLog.objects.create(
            sender_id=a.id, day=DAYS[2], slot_no=0, scheduled_at=NOW, timestamp=NOW
        )
    rows = sorted(SendLog.objects.values_list(*FIELDS))

    old = migrate(BEFORE).get_model("warmup", "SendLog")

    assert sorted(old.objects.values_list(*FIELDS)) == rows
    assert one("SELECT relkind FROM pg_class WHERE relname = 'logs'") == "r"
    assert "autovacuum_vacuum_scale_factor=0.01" in one(
        "SELECT reloptions FROM pg_class WHERE relname = 'logs'"
    )
    assert one("SELECT count(*) FROM pg_class WHERE relname LIKE 'logs\\_2%%'") == 0
    assert (
        old.objects.create(
            sender_id=a.id, day=DAYS[2], slot_no=51, scheduled_at=NOW, timestamp=NOW
        ).id
        == new.id + 2  # the refused duplicate took new.id + 1
    )
    # The foreign key and the unique index of one reply per send are back.
    with pytest.raises(IntegrityError, match="logs_one_reply_per_send"), transaction.atomic():
        old.objects.create(
            sender_id=a.id,
            day=DAYS[2],
            slot_no=52,
            in_reply_to_id=original.id,
            scheduled_at=NOW,
            timestamp=NOW,
        )
    with pytest.raises(IntegrityError, match="fk_logs_id"), transaction.atomic():
        old.objects.create(
            sender_id=a.id,
            day=DAYS[2],
            slot_no=53,
            in_reply_to_id=new.id + 1000,
            scheduled_at=NOW,
            timestamp=NOW,
        )

    migrate()
