"""The send log becomes a table partitioned by day (warmup.partitions).

The plain table is renamed aside, a partitioned `logs` is made like it, with a partition
for each day it holds and a default partition, and every row is copied over with its id;
the id sequence goes on from where the old one stood. Indexes and unique constraints are
built after the copy (one sort per partition, not an index insert per row). What
PostgreSQL cannot have on a partitioned table goes:

- the primary key is (id, day): a unique key must hold the partition key;
- in_reply_to is no longer a foreign key (one would have to name the day too), and the
  partial unique index "one reply per send" cannot span partitions: `reply_planned` on the
  original keeps that guarantee, set here on every send that has a reply;
- the autovacuum settings of 0002 move to each partition (a partitioned table has no
  storage of its own to take them).

All in one transaction holding the table's lock: the engine waits meanwhile. The copy
takes about as long, and as much disk again, as the table itself (see README, "Send log
partitions"). Reversible: backwards, the rows go back to a plain table the same way (a
reply whose original was dropped by retention loses its link, as the foreign key wants).
"""

import datetime as dt

import django.db.models.deletion
from django.db import migrations, models

# As 0002 set them on the plain table.
AUTOVACUUM = "autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.01"
# The indexes of 0001/0010, as they were; built on the parent, each partition gets its own.
INDEXES = (
    'CREATE INDEX idx_logs_sender_timestamp ON logs (sender_id, "timestamp")',
    'CREATE INDEX idx_logs_status_timestamp ON logs (status, "timestamp")',
    "CREATE INDEX idx_logs_recipient_sent ON logs (recipient_id, sent_at) "
    "WHERE sent_at IS NOT NULL",
    "CREATE INDEX idx_logs_claimable ON logs (scheduled_at) "
    "WHERE status IN ('planned', 'deferred')",
    "CREATE INDEX logs_in_reply_to_id_9c13973c ON logs (in_reply_to_id)",
)
MAILBOX_KEYS = (
    "ALTER TABLE logs ADD CONSTRAINT logs_recipient_id_a8597c84_fk_mailboxes_id "
    "FOREIGN KEY (recipient_id) REFERENCES mailboxes (id) DEFERRABLE INITIALLY DEFERRED",
    "ALTER TABLE logs ADD CONSTRAINT logs_sender_id_6b542a81_fk_mailboxes_id "
    "FOREIGN KEY (sender_id) REFERENCES mailboxes (id) DEFERRABLE INITIALLY DEFERRED",
)


def _set_aside(cursor) -> tuple[int, bool]:
    """Rename the plain `logs` to `logs_unpartitioned` and free the names the new table
    takes (indexes, the primary key and unique constraint, the id sequence); returns the
    sequence's position."""
    cursor.execute("SELECT pg_get_serial_sequence('logs', 'id')")
    (sequence,) = cursor.fetchone()
    cursor.execute(f"SELECT last_value, is_called FROM {sequence}")  # noqa: S608
    position = cursor.fetchone()
    cursor.execute("ALTER TABLE logs RENAME TO logs_unpartitioned")
    # Foreign keys first: the one from in_reply_to to the table's own id depends on the
    # primary key (the catalog's order is no order, and was the other way round once).
    cursor.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'logs_unpartitioned'::regclass "
        "AND contype IN ('p', 'u', 'f') ORDER BY contype <> 'f', conname"
    )
    for (name,) in cursor.fetchall():
        cursor.execute(f'ALTER TABLE logs_unpartitioned DROP CONSTRAINT "{name}"')
    cursor.execute(
        "SELECT indexrelid::regclass::text FROM pg_index "
        "WHERE indrelid = 'logs_unpartitioned'::regclass"
    )
    for (name,) in cursor.fetchall():
        cursor.execute(f"DROP INDEX {name}")
    cursor.execute("ALTER TABLE logs_unpartitioned ALTER COLUMN id DROP IDENTITY IF EXISTS")
    # Backwards: the sequence owned by the column, and the partitions' defaults using it.
    cursor.execute("ALTER TABLE logs_unpartitioned ALTER COLUMN id DROP DEFAULT")
    cursor.execute("DROP SEQUENCE IF EXISTS logs_id_seq CASCADE")
    return position


def _set_sequence(cursor, position: tuple[int, bool]) -> None:
    cursor.execute("SELECT setval(pg_get_serial_sequence('logs', 'id'), %s, %s)", position)


def partition(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        position = _set_aside(cursor)
        cursor.execute(
            "CREATE TABLE logs (LIKE logs_unpartitioned INCLUDING CONSTRAINTS) "
            "PARTITION BY RANGE (day)"
        )
        cursor.execute("ALTER TABLE logs ADD COLUMN reply_planned boolean NOT NULL DEFAULT false")
        # A sequence owned by the column, as a serial's: identity columns on partitioned
        # tables need PostgreSQL 17.
        cursor.execute("CREATE SEQUENCE logs_id_seq OWNED BY logs.id")
        cursor.execute("ALTER TABLE logs ALTER COLUMN id SET DEFAULT nextval('logs_id_seq')")
        _set_sequence(cursor, position)
        cursor.execute("SELECT DISTINCT day FROM logs_unpartitioned ORDER BY day")
        for (day,) in cursor.fetchall():
            cursor.execute(
                f"CREATE TABLE logs_{day:%Y%m%d} PARTITION OF logs "
                f"FOR VALUES FROM ('{day}') TO ('{day + dt.timedelta(days=1)}') "
                f"WITH ({AUTOVACUUM})"
            )
        cursor.execute(f"CREATE TABLE logs_default PARTITION OF logs DEFAULT WITH ({AUTOVACUUM})")
        # Column order: the old table's, then reply_planned (LIKE copies them in order).
        cursor.execute(
            "INSERT INTO logs SELECT l.*, r.in_reply_to_id IS NOT NULL FROM logs_unpartitioned l "
            "LEFT JOIN (SELECT DISTINCT in_reply_to_id FROM logs_unpartitioned "
            "WHERE in_reply_to_id IS NOT NULL) r ON r.in_reply_to_id = l.id"
        )
        cursor.execute("DROP TABLE logs_unpartitioned")
        cursor.execute("ALTER TABLE logs ADD CONSTRAINT logs_pkey PRIMARY KEY (id, day)")
        cursor.execute(
            "ALTER TABLE logs ADD CONSTRAINT logs_sender_day_slot_uniq "
            "UNIQUE (sender_id, day, slot_no)"
        )
        for statement in (*MAILBOX_KEYS, *INDEXES):
            cursor.execute(statement)
        # Autovacuum never analyzes a partitioned table itself: the planner's estimates
        # over all partitions come from here.
        cursor.execute("ANALYZE logs")


def unpartition(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        position = _set_aside(cursor)
        cursor.execute(
            f"CREATE TABLE logs (LIKE logs_unpartitioned INCLUDING CONSTRAINTS) WITH ({AUTOVACUUM})"
        )
        cursor.execute("ALTER TABLE logs DROP COLUMN reply_planned")
        cursor.execute("ALTER TABLE logs ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY")
        _set_sequence(cursor, position)
        columns = (
            *("id", "day", "slot_no", "status", "attempts", "smtp_code", "smtp_error"),
            *("message_id", "thread_id", "worker", "scheduled_at", "claimed_at", "sent_at"),
            *("placement", "placement_seen_at", '"timestamp"', "recipient_id", "sender_id"),
            *("started_at", "auth_dkim", "auth_dmarc", "auth_receiver", "auth_spf"),
        )
        # A link to a send that retention dropped goes, as the foreign key wants.
        copy = (
            f"INSERT INTO logs ({', '.join(columns)}, in_reply_to_id) "  # noqa: S608
            f"SELECT {', '.join(f'l.{c}' for c in columns)}, o.id FROM logs_unpartitioned l "
            "LEFT JOIN (SELECT id FROM logs_unpartitioned) o ON o.id = l.in_reply_to_id"
        )
        cursor.execute(copy)
        cursor.execute("DROP TABLE logs_unpartitioned")  # and its partitions
        cursor.execute("ALTER TABLE logs ADD CONSTRAINT logs_pkey PRIMARY KEY (id)")
        cursor.execute(
            "ALTER TABLE logs ADD CONSTRAINT logs_sender_day_slot_uniq "
            "UNIQUE (sender_id, day, slot_no)"
        )
        for statement in (
            *MAILBOX_KEYS,
            *INDEXES,
            "ALTER TABLE logs ADD CONSTRAINT logs_in_reply_to_id_9c13973c_fk_logs_id "
            "FOREIGN KEY (in_reply_to_id) REFERENCES logs (id) DEFERRABLE INITIALLY DEFERRED",
            "CREATE UNIQUE INDEX logs_one_reply_per_send ON logs (in_reply_to_id) "
            "WHERE in_reply_to_id IS NOT NULL",
        ):
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("warmup", "0014_plan_sweep"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(partition, unpartition)],
            state_operations=[
                migrations.RemoveConstraint(
                    model_name="sendlog",
                    name="logs_one_reply_per_send",
                ),
                migrations.AddField(
                    model_name="sendlog",
                    name="reply_planned",
                    field=models.BooleanField(
                        default=False,
                        db_default=False,
                        help_text="A reply to this send is planned: set once, by a conditional "
                        "update, so a message is replied to once however often engagement "
                        "sees it.",
                    ),
                ),
                migrations.AlterField(
                    model_name="sendlog",
                    name="in_reply_to",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="replies",
                        to="warmup.sendlog",
                    ),
                ),
            ],
        ),
    ]
