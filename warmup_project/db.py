"""Database helpers every app uses: the database's clock and deleting in batches."""

from __future__ import annotations

import datetime as dt

from django.db import connection, models

from warmup_project import sql

DELETE_BATCH = 10_000


def db_now() -> dt.datetime:
    """The database's clock: workers on machines with skewed clocks agree on it."""
    with connection.cursor() as cursor:
        cursor.execute(sql.NOW)
        return cursor.fetchone()[0]


def delete_in_batches(rows: models.QuerySet, batch: int = DELETE_BATCH) -> int:
    """Delete `rows` a batch of ids at a time (Django's delete, so replies pointing at
    a deleted send get their link cleared); returns how many rows of `rows` went."""
    deleted = 0
    while ids := list(rows.order_by().values_list("pk", flat=True)[:batch]):
        _, per_model = rows.model.objects.filter(pk__in=ids).delete()
        deleted += per_model.get(rows.model._meta.label, 0)
    return deleted
