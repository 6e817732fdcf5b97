"""The send log's partitions: one per day (`logs_YYYYMMDD`, the slot's local day), and
a default one (`logs_default`).

At 3 M sends a day and 90 days kept, retention is a day's partition dropped, not 3 M rows
deleted (and vacuumed) one by one. A row goes to its day's partition; a row whose day has
none goes to the default partition, so inserting a slot for any day never fails. The
planner and the daily maintenance create the coming days' partitions ahead (`ensure`), so
the default partition stays empty in the steady state. Creating a day's partition takes
that day's rows out of the default one first: PostgreSQL refuses to attach a range the
default partition holds rows of.

Each process remembers the days whose partition it has seen, so asking again is free.
A partition dropped meanwhile by another process only sends rows of that (old) day to the
default partition, where maintenance deletes them.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import OperationalError, connection, transaction

from warmup import sql

log = logging.getLogger(__name__)

# Partitions made ahead of the latest local date: the planner's next days, whatever
# happens to maintenance in between.
AHEAD_DAYS = 3
_NAME = re.compile(r"logs_(\d{8})")

_known: set[dt.date] = set()


def in_flight_since(now: dt.datetime) -> dt.date:
    """The earliest day a slot claimed or sent around `now` can have: a slot lives on its
    sender's local day (the westmost zone, UTC−12, is a day behind UTC until noon), with a
    day's margin for a batch that crosses midnight. Statements that find slots in flight
    by id name this bound, so PostgreSQL reads those few days' partitions, not all 90."""
    return (now - dt.timedelta(hours=12) - dt.timedelta(days=1)).date()


def latest_due_day(now: dt.datetime) -> dt.date:
    """The latest day a slot due at `now` can have: the eastmost zone's (UTC+14) local
    date. Later days' slots are not due yet (a slot is scheduled within its day, and
    one deferred past its day's end fails), so the claim leaves their partitions out."""
    return (now + dt.timedelta(hours=14)).date()


def in_flight(now: dt.datetime) -> tuple[dt.date, dt.date]:
    """The days a slot claimed, sent or due around `now` can have, for `day__range`."""
    return in_flight_since(now), latest_due_day(now)


def partition_name(day: dt.date) -> str:
    return f"logs_{day:%Y%m%d}"


def partition_days() -> dict[dt.date, str]:
    """The days that have a partition, with its name (the default partition aside)."""
    with connection.cursor() as cursor:
        cursor.execute(sql.LOG_PARTITIONS)
        names = [name for (name,) in cursor.fetchall()]
    return {
        dt.datetime.strptime(m.group(1), "%Y%m%d").date(): name
        for name in names
        if (m := _NAME.fullmatch(name))
    }


def forget() -> None:
    """Forget the partitions this process has seen (after some were dropped; tests)."""
    _known.clear()


def ensure(days: Iterable[dt.date]) -> int:
    """A partition for each of these days, created where missing; returns how many were
    created. Free for days already seen by this process. A day whose partition could not
    be made now (its locks were held past LOCK_TIMEOUT) is tried again at the next call;
    meanwhile its rows go to the default partition."""
    wanted = set(days) - _known
    if not wanted:
        return 0
    _known.update(partition_days())
    created = 0
    for day in sorted(wanted - _known):
        made = _create(day)
        if made is None:
            continue
        created += made
        _known.add(day)
    return created


def ensure_around(now: dt.datetime) -> int:
    """Partitions for every local date at `now` (UTC−12 to UTC+14: yesterday to
    tomorrow in UTC) and AHEAD_DAYS more."""
    today = now.astimezone(dt.UTC).date()
    return ensure(today + dt.timedelta(days=n) for n in range(-1, 2 + AHEAD_DAYS))


def _create(day: dt.date) -> int | None:
    """1 if this call made the day's partition, 0 if another process had; None if the
    locks it needs were not free within LOCK_TIMEOUT (nothing changed)."""
    name = partition_name(day)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql.LOCK_PARTITIONS)
            if name in partition_days().values():  # another process made it meanwhile
                return 0
            cursor.execute(sql.create_default_partition())
            cursor.execute(sql.SET_LOCK_TIMEOUT)
            # ATTACH locks `mailboxes` (the foreign keys) after the default partition;
            # recording locks mailbox rows and then the default partition's. Taken
            # here first, in recording's order, so the two never deadlock.
            cursor.execute(sql.LOCK_MAILBOXES_FOR_ATTACH)
            # Until the commit, an insert of that day waits on the default partition and
            # then fails (its row no longer fits the default): rare, since partitions
            # are made days ahead; the insert's cycle is retried.
            cursor.execute(sql.lock_default_partition())
            for statement, params in sql.create_partition(name, day):
                cursor.execute(statement, params)
    except OperationalError as exc:
        if not sql.is_lock_timeout(exc):
            raise
        log.warning("partition %s not made now: its locks are busy (tried again later)", name)
        return None
    return 1


@dataclass(frozen=True)
class Dropped:
    partitions: int
    rows: int


def drop_before(cutoff: dt.date) -> Dropped:
    """Drop the partitions of days before `cutoff`, one transaction each (dropping takes
    `logs`' exclusive lock for a moment); returns how many, and the rows they held."""
    partitions = rows = 0
    for day, name in sorted(partition_days().items()):
        if day >= cutoff:
            break
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql.LOCK_PARTITIONS)
                if name not in partition_days().values():  # another process dropped it
                    continue
                cursor.execute(sql.count_rows(name))
                held = cursor.fetchone()[0]
                # DROP waits for every statement on `logs` to end, and every new one
                # waits behind it: a long reader (the pool figures) would stop claims.
                # Given up after LOCK_TIMEOUT; the next maintenance drops it.
                cursor.execute(sql.SET_LOCK_TIMEOUT)
                cursor.execute(sql.drop_table(name))
        except OperationalError as exc:
            if not sql.is_lock_timeout(exc):
                raise
            log.warning("partition %s not dropped now: the send log is busy", name)
            continue
        rows += held
        partitions += 1
        _known.discard(day)
    return Dropped(partitions, rows)
