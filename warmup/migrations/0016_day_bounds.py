"""Each DailyStat row's local day as [day_starts, day_ends): its date in its mailbox's
time zone, fixed as the row is inserted, so "each mailbox's local today" is one indexed
range over every mailbox instead of a join to their time zones.

Safe on a table of millions of rows: the columns are added nullable (no rewrite), the
trigger that fills new rows comes before the backfill (so no row is missed), the backfill
updates one batch of ids per transaction, and the indexes are built concurrently."""

from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

BACKFILL_BATCH = 50_000

# Rows are inserted by the ORM (the planner's bulk_create) and by set-based upserts
# (warmup.sql): a BEFORE INSERT trigger fills the span for all of them, from the
# mailbox's time zone at that moment. An upsert that finds its row (ON CONFLICT DO
# UPDATE) keeps the row's span: the day was fixed when the row was made.
DAY_BOUNDS = """
CREATE FUNCTION warmup_logs_day_bounds() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    zone text;
BEGIN
    SELECT timezone INTO zone FROM mailboxes WHERE id = NEW.mailbox_id;
    NEW.day_starts := NEW.date::timestamp AT TIME ZONE zone;
    NEW.day_ends := (NEW.date + 1)::timestamp AT TIME ZONE zone;
    RETURN NEW;
END
$$;
CREATE TRIGGER warmup_logs_day_bounds BEFORE INSERT ON warmup_logs
    FOR EACH ROW EXECUTE FUNCTION warmup_logs_day_bounds();
"""
# "Today" is a range of two timestamps that PostgreSQL would take for independent of the
# date and of quota_met, and so expect a few hundred of today's rows for a date where there
# are 60,000 (choosing a sort over the walk of an index): statistics of their combinations.
DAY_STATISTICS = """
CREATE STATISTICS warmup_logs_day_stats (mcv) ON date, day_starts, day_ends, quota_met
    FROM warmup_logs;
ALTER STATISTICS warmup_logs_day_stats SET STATISTICS 1000;
ANALYZE warmup_logs;
"""
NO_DAY_STATISTICS = "DROP STATISTICS warmup_logs_day_stats;"
NO_DAY_BOUNDS = """
DROP TRIGGER warmup_logs_day_bounds ON warmup_logs;
DROP FUNCTION warmup_logs_day_bounds();
"""
BACKFILL = """
UPDATE warmup_logs l
SET day_starts = l.date::timestamp AT TIME ZONE m.timezone,
    day_ends = (l.date + 1)::timestamp AT TIME ZONE m.timezone
FROM mailboxes m
WHERE m.id = l.mailbox_id AND l.id >= %s AND l.id < %s AND l.day_starts IS NULL
"""


def backfill(apps: Any, schema_editor: Any) -> None:
    """The rows made before the trigger, one batch of ids per transaction (the migration
    is not atomic), so no lock is held long and a stopped run resumes where it was."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM warmup_logs")
        first, last = cursor.fetchone()
    if first is None:
        return
    for start in range(first, last + 1, BACKFILL_BATCH):
        with connection.cursor() as cursor:
            cursor.execute(BACKFILL, [start, start + BACKFILL_BATCH])


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0013_mailbox_email_domain_index"),
        ("warmup", "0015_logs_partitioned_by_day"),
    ]

    operations = [
        migrations.AddField(
            model_name="dailystat",
            name="day_starts",
            field=models.DateTimeField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="dailystat",
            name="day_ends",
            field=models.DateTimeField(editable=False, null=True),
        ),
        migrations.RunSQL(DAY_BOUNDS, NO_DAY_BOUNDS),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        AddIndexConcurrently(
            model_name="dailystat",
            index=models.Index(fields=["day_ends", "day_starts"], name="idx_warmup_logs_day"),
        ),
        AddIndexConcurrently(
            model_name="dailystat",
            index=models.Index(
                condition=models.Q(("quota_met", True)),
                fields=["day_ends", "day_starts"],
                name="idx_warmup_logs_day_met",
            ),
        ),
        migrations.RunSQL(DAY_STATISTICS, NO_DAY_STATISTICS),
    ]
