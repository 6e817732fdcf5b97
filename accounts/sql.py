"""The accounts app's hand-written SQL, each statement by name; Django's ORM writes the
rest. Composed once with psycopg.sql: names from the models' `_meta`, quoted as
identifiers; values always bound as parameters."""

from __future__ import annotations

from django.db import connection
from psycopg import sql

from accounts.models import Mailbox, TokenTotal
from warmup_project.sql import column

# Every distinct time zone, by a loose index scan: one probe of the timezone index per
# zone (the next zone after the last one found) instead of DISTINCT over the table.
TIMEZONES_IN_USE = (
    sql.SQL(
        "WITH RECURSIVE zones(tz) AS (SELECT MIN({tz}) FROM {t} "
        "UNION ALL SELECT (SELECT MIN({tz}) FROM {t} WHERE {tz} > zones.tz) "
        "FROM zones WHERE zones.tz IS NOT NULL) SELECT tz FROM zones WHERE tz IS NOT NULL"
    )
    .format(
        t=sql.Identifier(Mailbox._meta.db_table),
        tz=column(Mailbox, "timezone").ident,
    )
    .as_string()
)


_ID = column(Mailbox, "id").ident
_FAILURES = column(Mailbox, "consecutive_failures").ident

# Recording's lock on the mailboxes of a batch whose state may change, taken in id order
# in one statement (as MailboxQuerySet.set_status takes a person's), so the two never
# hold one row each and wait for the other's: the mailboxes judged next (`troubled`)
# and those of `clean` with failures in a row, whose count then goes back to 0.
# FOR NO KEY UPDATE, the lock an UPDATE of these columns takes: FOR UPDATE would also
# wait for the key-share locks that other workers' foreign-key checks hold on the same
# mailboxes (a send's recipient, a day's row), taken in no particular order — two
# workers recording at once deadlocked on that.
COUNT_SUCCESS_LOCKING = (
    sql.SQL(
        "WITH locked AS MATERIALIZED (SELECT {id} FROM {t} "
        "WHERE {id} = ANY(%(clean)s::bigint[]) AND {failures} > 0 "
        "OR {id} = ANY(%(troubled)s::bigint[]) ORDER BY {id} FOR NO KEY UPDATE) "
        "UPDATE {t} SET {failures} = 0 FROM locked WHERE {t}.{id} = locked.{id} "
        "AND {t}.{id} = ANY(%(clean)s::bigint[]) AND {t}.{failures} > 0"
    )
    .format(t=sql.Identifier(Mailbox._meta.db_table), id=_ID, failures=_FAILURES)
    .as_string()
)


def timezones_in_use() -> list[str]:
    """Every time zone some mailbox is in, in a few index probes (one per zone) instead
    of DISTINCT over the whole table: a superset of the zones of any subset of mailboxes,
    which is all the local-date expressions need."""
    with connection.cursor() as cursor:
        cursor.execute(TIMEZONES_IN_USE)
        return [tz for (tz,) in cursor.fetchall()]


# One more token got or failed (TokenTotal.add): the row made at its first use.
ADD_TOKEN_TOTAL = (
    sql.SQL(
        "INSERT INTO {t} ({name}, {total}) VALUES (%s, 1) "
        "ON CONFLICT ({name}) DO UPDATE SET {total} = {t}.{total} + 1"
    )
    .format(
        t=sql.Identifier(TokenTotal._meta.db_table),
        name=column(TokenTotal, "name").ident,
        total=column(TokenTotal, "total").ident,
    )
    .as_string()
)
