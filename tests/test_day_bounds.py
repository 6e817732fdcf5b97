"""Each DailyStat row's local day, [day_starts, day_ends): its date in its mailbox's time
zone, fixed by the database as the row is inserted, whichever way it is inserted
(migration 0016's trigger), and filled in for the rows there were before (its backfill)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.test_logs_partition_migration import migrate
from warmup import sql
from warmup.models import DailyStat, on_local_today

BEFORE = [("warmup", "0015_logs_partitioned_by_day")]
DAY = dt.date(2026, 3, 29)  # Europe/Berlin's spring-forward day: 23 hours long


def span(day: dt.date, tz: str) -> tuple[dt.datetime, dt.datetime]:
    zone = ZoneInfo(tz)
    start = dt.datetime.combine(day, dt.time(), zone)
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)


def bounds(row: DailyStat) -> tuple[dt.datetime | None, dt.datetime | None]:
    row.refresh_from_db()
    return row.day_starts, row.day_ends


@pytest.mark.django_db
def test_every_insert_path_fixes_the_rows_day_in_its_mailboxs_zone(make_mailbox: Any) -> None:
    berlin = make_mailbox(timezone="Europe/Berlin")
    samoa = make_mailbox(timezone="Pacific/Pago_Pago")
    made = DailyStat.objects.create(mailbox=berlin, date=DAY)
    assert bounds(made) == span(DAY, "Europe/Berlin")
    assert made.day_ends - made.day_starts == dt.timedelta(hours=23)
    DailyStat.objects.bulk_create([DailyStat(mailbox=samoa, date=DAY)])
    assert bounds(DailyStat.objects.get(mailbox=samoa, date=DAY)) == span(DAY, "Pacific/Pago_Pago")
    sql.add_to_days("inbox", [(samoa.id, DAY + dt.timedelta(days=1), 2)])
    added = DailyStat.objects.get(mailbox=samoa, date=DAY + dt.timedelta(days=1))
    assert bounds(added) == span(DAY + dt.timedelta(days=1), "Pacific/Pago_Pago")

    # A row once made keeps its day: a change of zone spans only the days made after it.
    berlin.timezone = "Asia/Tokyo"
    berlin.save()
    sql.add_to_days("inbox", [(berlin.id, DAY, 1), (berlin.id, DAY + dt.timedelta(days=1), 1)])
    assert bounds(made) == span(DAY, "Europe/Berlin")
    later = DailyStat.objects.get(mailbox=berlin, date=DAY + dt.timedelta(days=1))
    assert bounds(later) == span(DAY + dt.timedelta(days=1), "Asia/Tokyo")


@pytest.mark.django_db
def test_on_local_today_is_the_row_whose_day_holds_now(make_mailbox: Any) -> None:
    box = make_mailbox(timezone="Pacific/Kiritimati")  # UTC+14
    rows = {
        day: DailyStat.objects.create(mailbox=box, date=day)
        for day in (DAY - dt.timedelta(days=1), DAY, DAY + dt.timedelta(days=1))
    }
    start, end = span(DAY, "Pacific/Kiritimati")
    for now, day in (
        (start, DAY),
        (end - dt.timedelta(microseconds=1), DAY),
        (end, DAY + dt.timedelta(days=1)),
    ):
        today = DailyStat.objects.filter(on_local_today(now))
        assert list(today) == [rows[day]], now


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_rows_there_were(make_mailbox: Any) -> None:
    zones = ("UTC", "America/New_York", "Asia/Kolkata")
    boxes = [make_mailbox(timezone=tz) for tz in zones]
    old = migrate(BEFORE).get_model("warmup", "DailyStat")
    for box in boxes:
        for age in range(3):
            old.objects.create(mailbox_id=box.id, date=DAY - dt.timedelta(days=age), sent=age)
    migrate()
    rows = DailyStat.objects.select_related("mailbox").order_by("id")
    assert len(rows) == 9
    for row in rows:
        assert (row.day_starts, row.day_ends) == span(row.date, row.mailbox.timezone)
    # And back: the columns, trigger and statistics go, the rows stay.
    old = migrate(BEFORE).get_model("warmup", "DailyStat")
    assert old.objects.count() == 9
    migrate()
