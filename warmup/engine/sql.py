"""Set-based writes of many rows in one statement: the engine records thousands of rows
a minute, and per-row Python (Django's bulk_update builds a CASE WHEN per field per row;
model instances cost microseconds each) was most of its time.

Rows reach SQL through `rows_cte`, a `WITH v(…) AS (…)` over plain tuples: each column
travels as one array parameter and is unnested, so the statement's text is the same
whatever the number of rows (psycopg parses it once) and the values are adapted in
psycopg's C code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection

from warmup.models import CLAIMABLE_STATUSES, SendLog, SendStatus

# Column types a row source knows: the PostgreSQL array type of each.
TYPES = {
    "bigint": "bigint[]",
    "integer": "integer[]",
    "text": "text[]",
    "boolean": "boolean[]",
    "date": "date[]",
    "timestamptz": "timestamptz[]",
    "float": "double precision[]",
}

Column = tuple[str, str]  # (name, one of TYPES)


def rows_cte(
    columns: Sequence[Column], rows: Sequence[Sequence[Any]]
) -> Iterator[tuple[str, list]]:
    """(`WITH v(…) AS (…)`, params) for `rows`: one pair, whatever their number. Names
    and types come from the caller's code, never from input."""
    names = ", ".join(name for name, _ in columns)
    arrays = ", ".join(f"%s::{TYPES[kind]}" for _, kind in columns)
    yield (
        f"WITH v({names}) AS (SELECT * FROM unnest({arrays}))",  # noqa: S608
        [list(values) for values in zip(*rows, strict=True)] or [[] for _ in columns],
    )


def update_rows(
    table: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]], *, key: str = "id"
) -> int:
    """Set the columns of each row found by `key` (the first column) to the row's
    values; returns rows updated."""
    q = connection.ops.quote_name
    assignments = ", ".join(f"{q(name)} = v.{name}" for name, _ in columns if name != key)
    updated = 0
    if not rows:
        return 0
    with connection.cursor() as cursor:
        for cte, params in rows_cte(columns, rows):
            cursor.execute(
                f"{cte} UPDATE {q(table)} SET {assignments} FROM v "  # noqa: S608 - names from code
                f"WHERE {q(table)}.{q(key)} = v.{key}",
                params,
            )
            updated += cursor.rowcount
    return updated


def postpone_waiting_slots(not_before: Sequence[tuple[int, dt.datetime]]) -> int:
    """For each (sender id, time): its slots still waiting to be claimed and due earlier
    are due at that time; slots due later keep theirs. One statement for all senders;
    returns slots moved."""
    if not not_before:
        return 0
    t = SendLog._meta.db_table
    waiting = ", ".join(["%s"] * len(CLAIMABLE_STATUSES))
    columns: list[Column] = [("sender_id", "bigint"), ("not_before", "timestamptz")]
    moved = 0
    with connection.cursor() as cursor:
        for cte, params in rows_cte(columns, sorted(not_before)):
            cursor.execute(
                f"{cte} UPDATE {t} SET scheduled_at = v.not_before FROM v "  # noqa: S608
                f"WHERE {t}.sender_id = v.sender_id AND {t}.status IN ({waiting}) "
                f"AND {t}.scheduled_at < v.not_before",
                [*params, *CLAIMABLE_STATUSES],
            )
            moved += cursor.rowcount
    return moved


# A planned slot: (sender_id, day, slot_no, scheduled_at).
SlotRow = tuple[int, dt.date, int, dt.datetime]


def insert_slots(rows: Sequence[SlotRow], now: dt.datetime) -> None:
    """Insert planned slots, skipping any that exist (UNIQUE(sender, day, slot_no)).

    The day's plan is millions of rows at 100,000 mailboxes. They go through COPY
    (psycopg's C path) into a temporary table and from there into `logs` with ON CONFLICT
    DO NOTHING: building and quoting an INSERT of that size in Python costs more than the
    database's work."""
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS planned_slots "
            "(sender_id bigint, day date, slot_no integer, scheduled_at timestamptz)"
        )
        with cursor.cursor.copy(
            "COPY planned_slots (sender_id, day, slot_no, scheduled_at) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            "INSERT INTO logs (sender_id, day, slot_no, scheduled_at, timestamp, status, "
            "attempts, smtp_error, message_id, thread_id, worker, placement) "
            "SELECT sender_id, day, slot_no, scheduled_at, %s, %s, 0, '', '', '', '', '' "
            "FROM planned_slots ON CONFLICT DO NOTHING",
            [now, SendStatus.PLANNED],
        )
        cursor.execute("TRUNCATE planned_slots")
