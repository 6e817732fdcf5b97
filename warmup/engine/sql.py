"""Bulk row updates in one statement per chunk: UPDATE … FROM (VALUES …).

Django's bulk_update builds a CASE WHEN per field per row, which costs milliseconds of
Python per row; the engine records thousands of rows a minute. PostgreSQL and SQLite
(3.33+) both take UPDATE … FROM with a VALUES list, whose columns both name column1,
column2, …. On PostgreSQL each value is CAST to its column's type so NULLs and
parameters type-check; SQLite takes them as they are (its CAST to a date type would turn
a timestamp into a number).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import connection, models

from warmup.models import SendLog, SendStatus

CHUNK = 500


def bulk_set(model: type[models.Model], objs: Sequence[models.Model], fields: Sequence[str]) -> int:
    """Write `fields` of each saved object in `objs` to its row; returns rows updated."""
    if not objs:
        return 0
    meta = model._meta
    table = connection.ops.quote_name(meta.db_table)
    pk = meta.pk
    columns = [pk, *(meta.get_field(name) for name in fields)]
    if connection.vendor == "postgresql":
        casts = [
            f"CAST(v.column{i + 1} AS {f.cast_db_type(connection)})" for i, f in enumerate(columns)
        ]
    else:
        casts = [f"v.column{i + 1}" for i in range(len(columns))]
    assignments = ", ".join(
        f"{connection.ops.quote_name(f.column)} = {cast}"
        for f, cast in zip(columns[1:], casts[1:], strict=True)
    )
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    updated = 0
    with connection.cursor() as cursor:
        for start in range(0, len(objs), CHUNK):
            chunk = objs[start : start + CHUNK]
            params: list[Any] = []
            for obj in chunk:
                for field in columns:
                    params.append(field.get_db_prep_save(getattr(obj, field.attname), connection))
            # Identifiers come from the model's metadata; every value is a parameter.
            values = ", ".join([row_sql] * len(chunk))
            where = f"{table}.{connection.ops.quote_name(pk.column)} = {casts[0]}"
            sql = f"UPDATE {table} SET {assignments} FROM (VALUES {values}) AS v WHERE {where}"  # noqa: S608
            cursor.execute(sql, params)
            updated += cursor.rowcount
    return updated


# A planned slot: (sender_id, day, slot_no, scheduled_at).
SlotRow = tuple[int, dt.date, int, dt.datetime]


def insert_slots(rows: Sequence[SlotRow], now: dt.datetime) -> None:
    """Insert planned slots, skipping any that exist (UNIQUE(sender, day, slot_no)).

    The day's plan is millions of rows at 100,000 mailboxes. On PostgreSQL they go
    through COPY (psycopg's C path) into a temporary table and from there into `logs` with
    ON CONFLICT DO NOTHING: building and quoting an INSERT of that size in Python costs
    more than the database's work. Elsewhere (SQLite) bulk_create does the same."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        SendLog.objects.bulk_create(
            [
                SendLog(sender_id=s, day=d, slot_no=n, scheduled_at=at, timestamp=now)
                for s, d, n, at in rows
            ],
            batch_size=2000,
            ignore_conflicts=True,
        )
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
