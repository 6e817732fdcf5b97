"""The send log's hot statements on 90 daily partitions, against the same rows in one
plain table (the schema before migration 0012).

Usage (a scratch database it fills and leaves filled; drop it after):
    createdb -h 127.0.0.1 -U postgres warmup_part_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/warmup_part_bench \\
        .venv/bin/python benchmarks/logs_partitions.py [--mailboxes 1000] [--days 90]

Fills `logs` with mailboxes × 30 sends a day over `days` days (one partition each), and
`logs_plain` with a copy of its rows under the old keys and indexes. Then, for a batch of
500 of today's slots, each statement as the engine writes it, on both tables: the claim's
scan of due slots, the claim's and the release's update by id, the claimed rows read by
id, recording's update of many rows, and a reply's thread chain. Prints p50/p95 of 20 runs
and the plan's shape (the partitions each statement touched). Each statement by id is
shown as before (by id alone) and as the engine now writes it (with the slots' days).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warmup_project.settings")
os.environ.setdefault("DEBUG", "true")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from accounts.models import Mailbox  # noqa: E402
from benchmarks.timing import p50_p95  # noqa: E402
from warmup import partitions  # noqa: E402

TODAY = dt.date(2026, 6, 1)
BATCH = 500
RUNS = 20


def execute(statement: str, params: list | None = None) -> list:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def fill(mailboxes: int, days: int) -> None:
    if execute("SELECT count(*) FROM logs")[0][0]:
        return
    print(f"filling {mailboxes} mailboxes × 30 sends × {days} days …", flush=True)
    start = TODAY - dt.timedelta(days=days - 1)
    partitions.ensure(start + dt.timedelta(days=n) for n in range(days))
    owner, _ = get_user_model().objects.get_or_create(username="logs-bench")
    Mailbox.objects.bulk_create(
        Mailbox(
            owner=owner,
            email=f"b{n}@d{n}.test",
            smtp_host="smtp.test",
            smtp_username="u",
            imap_host="imap.test",
            imap_username="u",
        )
        for n in range(mailboxes)
    )
    # Sent rows, each to the next mailbox, every other one a reply to the day before's.
    execute(
        "INSERT INTO logs (day, slot_no, status, attempts, smtp_error, message_id, thread_id,"
        ' worker, scheduled_at, sent_at, placement, "timestamp", recipient_id, sender_id,'
        " auth_dkim, auth_dmarc, auth_receiver, auth_spf, reply_planned)"
        " SELECT d::date, s, CASE WHEN d::date = %s AND s >= 15 THEN 'planned' ELSE 'sent' END,"
        " 1, '', '<' || m.id || '.' || s || '.' || d::date || '@x>', '', '', d + interval '9h'"
        " + s * interval '15 min', d + interval '9h' + s * interval '15 min', '',"
        " d + interval '9h' + s * interval '15 min', m.id %% %s + (SELECT min(id) FROM mailboxes),"
        " m.id, '', '', '', '', false"
        " FROM generate_series(%s::date, %s::date, interval '1 day') d,"
        " mailboxes m, generate_series(0, 29) s",
        [TODAY, mailboxes, TODAY - dt.timedelta(days=days - 1), TODAY],
    )
    execute(
        "UPDATE logs r SET in_reply_to_id = o.id FROM logs o WHERE mod(r.slot_no, 2) = 1"
        " AND o.sender_id = r.recipient_id AND o.day = r.day - 1 AND o.slot_no = r.slot_no"
    )
    print("copying to logs_plain …", flush=True)
    execute("CREATE TABLE logs_plain AS SELECT * FROM logs")
    for statement in (
        "ALTER TABLE logs_plain ADD PRIMARY KEY (id)",
        "CREATE UNIQUE INDEX ON logs_plain (sender_id, day, slot_no)",
        'CREATE INDEX ON logs_plain (sender_id, "timestamp")',
        'CREATE INDEX ON logs_plain (status, "timestamp")',
        "CREATE INDEX ON logs_plain (recipient_id, sent_at) WHERE sent_at IS NOT NULL",
        "CREATE INDEX ON logs_plain (scheduled_at) WHERE status IN ('planned', 'deferred')",
        "CREATE INDEX ON logs_plain (in_reply_to_id)",
    ):
        execute(statement)
    connection.cursor().execute("VACUUM ANALYZE logs_plain")
    for name in [*partitions.partition_days().values(), "logs_default"]:
        connection.cursor().execute(f"VACUUM ANALYZE {name}")
    connection.cursor().execute("ANALYZE logs")


def timed(label: str, run: Callable[[], object], runs: int = RUNS) -> None:
    times = []
    for _ in range(runs):
        with transaction.atomic():
            start = time.perf_counter()
            run()
            times.append((time.perf_counter() - start) * 1000)
            transaction.set_rollback(True)
    p50, p95 = p50_p95(times)
    print(f"  {label:<58} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms")


def shape(statement: str, params: list) -> str:
    """The partitions the statement's plan scans (after plan-time pruning) and what ran."""
    with transaction.atomic():
        plan = execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {statement}", params)
        transaction.set_rollback(True)
    lines = [row[0] for row in plan]
    scans = sum(" on logs_2" in line or " on logs_default" in line for line in lines)
    never = sum("(never executed)" in line for line in lines)
    removed = [line.strip() for line in lines if "Subplans Removed" in line]
    return f"{scans} partition scans in the plan, {never} never executed {removed}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    settings.DEBUG = False
    call_command("migrate", verbosity=0)
    fill(args.mailboxes, args.days)
    batch = execute(
        "SELECT id, day FROM logs WHERE day = %s AND status = 'planned' ORDER BY id LIMIT %s",
        [TODAY, BATCH],
    )
    ids, days = [i for i, _ in batch], [d for _, d in batch]
    replies = [
        i
        for (i,) in execute(
            "SELECT id FROM logs WHERE day = %s AND in_reply_to_id IS NOT NULL LIMIT 50", [TODAY]
        )
    ]
    print(
        f"{execute('SELECT count(*) FROM logs')[0][0]:,} rows, "
        f"{len(partitions.partition_days())} partitions; batches of {len(ids)} slots"
    )
    claim = (
        "UPDATE {t} SET status = 'sending', worker = 'w', claimed_at = now(), "
        '"timestamp" = now(), attempts = attempts + 1 WHERE id = ANY(%s){day}'
    )
    read = "SELECT id, day, slot_no, in_reply_to_id, sender_id FROM {t} WHERE id = ANY(%s){day}"
    record = (
        "WITH v(id, day, status) AS (SELECT * FROM unnest(%s::bigint[], %s::date[], %s::text[]))"
        " UPDATE {t} SET status = v.status, sent_at = now() FROM v WHERE {t}.id = v.id{day}"
    )
    # A thread's links followed by a join (before), and by a lateral look-up within the
    # days an original can lie (warmup.sql.THREAD_CHAINS now).
    chain_join = (
        "WITH RECURSIVE c AS (SELECT l.id AS start_id, 1 AS up, l.in_reply_to_id, l.day"
        " FROM {t} l WHERE l.id = ANY(%s) UNION ALL SELECT c.start_id, c.up + 1,"
        " l.in_reply_to_id, l.day FROM c JOIN {t} l ON l.id = c.in_reply_to_id"
        " WHERE c.up < 10) SELECT count(*) FROM c"
    )
    chain_lateral = (
        "WITH RECURSIVE c AS (SELECT l.id AS start_id, 1 AS up, l.in_reply_to_id, l.day"
        " FROM {t} l WHERE l.id = ANY(%s) AND l.day BETWEEN %s AND %s"
        " UNION ALL SELECT c.start_id, c.up + 1, l.*"
        " FROM c CROSS JOIN LATERAL (SELECT l.in_reply_to_id, l.day FROM {t} l"
        " WHERE l.id = c.in_reply_to_id AND l.day BETWEEN c.day - 12 AND c.day + 1 LIMIT 1) l"
        " WHERE c.up < 10) SELECT count(*) FROM c"
    )
    some_days = sorted(set(days))
    due = dt.datetime.combine(TODAY, dt.time(18), dt.UTC)
    claim_scan = (
        "SELECT l.id, l.day, m.owner_id FROM {t} l JOIN mailboxes m ON m.id = l.sender_id"
        " WHERE l.status IN ('planned', 'deferred') AND m.warmup_enabled"
        " AND m.status = 'active' AND l.scheduled_at <= %s{day}"
        " ORDER BY l.scheduled_at LIMIT 500 FOR UPDATE OF l SKIP LOCKED"
    )
    cases = [
        ("claim: due slots FOR UPDATE SKIP LOCKED LIMIT 500", claim_scan, [due], "", []),
        (
            "  … AND day >= in_flight_since(now)",
            claim_scan,
            [due],
            " AND l.day >= %s",
            [TODAY - dt.timedelta(days=2)],
        ),
        ("claim/release: UPDATE … WHERE id = ANY", claim, [ids], "", []),
        ("  … AND day = ANY(the batch's days)", claim, [ids], " AND day = ANY(%s)", [some_days]),
        ("read claimed: SELECT … WHERE id = ANY", read, [ids], "", []),
        ("  … AND day = ANY(the batch's days)", read, [ids], " AND day = ANY(%s)", [some_days]),
        (
            "record: UPDATE … FROM unnest(…) WHERE id",
            record,
            [ids, days, ["sent"] * len(ids)],
            "",
            [],
        ),
        (
            "  … AND day = v.day AND day = ANY(days)",
            record,
            [ids, days, ["sent"] * len(ids)],
            " AND {t}.day = v.day AND {t}.day = ANY(%s)",
            [some_days],
        ),
    ]
    for table in ("logs_plain", "logs"):
        print(f"{table}:")
        for label, template, params, day, extra in cases:
            statement = template.format(t=table, day=day.format(t=table))
            timed(label, lambda s=statement, p=params + extra: execute(s, p))
            if table == "logs":
                print(f"      {shape(statement, params + extra)}")
            # The rolled-back updates' dead rows would slow the next statements down.
            for name in ("logs_plain", partitions.partition_name(TODAY)):
                connection.cursor().execute(f"VACUUM ANALYZE {name}")
        for label, template, runs in (
            ("thread chains of 50 replies: JOIN on id (before)", chain_join, 1),
            ("thread chains of 50 replies: LATERAL within days (now)", chain_lateral, RUNS),
        ):
            statement = template.format(t=table)
            # The join on 90 partitions hashes them all, for seconds: timed once.
            params = [replies] if template is chain_join else [replies, TODAY, TODAY]
            runs = RUNS if table != "logs" else runs
            timed(label, lambda s=statement, p=params: execute(s, p), runs)
            if table == "logs" and template is chain_lateral:
                print(f"      {shape(statement, params)}")


if __name__ == "__main__":
    main()
