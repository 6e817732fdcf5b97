"""The warmup app's hand-written SQL, each statement by name; Django's ORM writes the
rest. These are what the ORM cannot write in one round trip: set-based writes of many
rows (the engine records thousands of rows a minute, and Django's bulk_update builds a
CASE WHEN per field per row), upserts that add to counters, COPY of a day's plan, the
reaper's advisory lock.

Each statement is composed once, when this module is first imported, with psycopg.sql:
table and column names come from the models' `_meta` and are quoted as identifiers, and
every value is a bound parameter. Rows travel as one array parameter per column,
unnested in `WITH v(…)`: the statement's text is the same whatever the number of rows,
and each array goes as one text parameter, written by `array_literal` (faster than
psycopg's adaptation of a list, element by element in Python).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import cache
from typing import Any

from django.db import connection, models
from psycopg import sql

from accounts.models import POOL_FIELDS, Mailbox
from warmup.models import (
    CLAIMABLE_STATUSES,
    DailyStat,
    RateWindow,
    SendCount,
    SendLog,
    SendStatus,
    SendTotal,
)
from warmup_project.sql import Column, array_literal, column, columns


def _text(statement: sql.Composable) -> str:
    return statement.as_string()


def _table(model: type[models.Model]) -> sql.Identifier:
    return sql.Identifier(model._meta.db_table)


def _names(cols: Sequence[Column]) -> sql.Composed:
    return sql.SQL(", ").join(c.ident for c in cols)


def _rows_cte(cols: Sequence[Column]) -> sql.Composed:
    """`WITH v(a, b) AS (SELECT * FROM unnest(%s::bigint[], %s::text[]))`."""
    arrays = sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(c.type)) for c in cols)
    return sql.SQL("WITH v({}) AS (SELECT * FROM unnest({}))").format(_names(cols), arrays)


def _arrays(rows: Sequence[Sequence[Any]], cols: Sequence[Column]) -> list[str]:
    """Rows → one array literal per column (the unnest's parameters)."""
    values = list(zip(*rows, strict=True)) or [() for _ in cols]
    return [array_literal(v, c.type) for v, c in zip(values, cols, strict=True)]


def _execute(statement: str, params: Sequence[Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


# --- updating rows found by id ----------------------------------------------------------


@cache
def _columns(model: type[models.Model], names: tuple[str, ...]) -> tuple[Column, ...]:
    return columns(model, *names)


@cache
def _update_statement(
    model: type[models.Model], names: tuple[str, ...], keys: int = 1, prune: str = ""
) -> str:
    cols = _columns(model, names)
    table = _table(model)
    match = sql.SQL(" AND ").join(
        sql.SQL("{t}.{k} = v.{k}").format(t=table, k=c.ident) for c in cols[:keys]
    )
    if prune:
        match = sql.SQL("{} AND {}.{} = ANY(%s)").format(match, table, column(model, prune).ident)
    return _text(
        sql.SQL("{cte} UPDATE {table} SET {assignments} FROM v WHERE {match}").format(
            cte=_rows_cte(cols),
            table=table,
            assignments=sql.SQL(", ").join(
                sql.SQL("{0} = v.{0}").format(sql.Identifier(c.name)) for c in cols[keys:]
            ),
            match=match,
        )
    )


def update_rows(
    model: type[models.Model], fields: tuple[str, ...], rows: Sequence[Sequence[Any]]
) -> int:
    """Set the fields of each row found by the first field (its key, usually "id") to the
    row's values, in one statement; returns rows updated. Send slots: update_slots."""
    assert model is not SendLog, "update_slots: the send log's rows are found by id and day"
    if not rows:
        return 0
    return _execute(_update_statement(model, fields), _arrays(rows, _columns(model, fields)))


def update_slots(fields: tuple[str, ...], rows: Sequence[Sequence[Any]]) -> int:
    """update_rows for send slots: each row starts with the slot's (id, day). The days are
    also named as constants in the statement, so PostgreSQL plans for those days'
    partitions only (not 90 index probes and a plan per partition for each row)."""
    if not rows:
        return 0
    return _execute(_update_statement(SendLog, fields, 2, "day"), _slot_params(fields, rows))


def _slot_params(fields: tuple[str, ...], rows: Sequence[Sequence[Any]]) -> list[Any]:
    """update_slots' parameters: a column's array each, then the rows' days."""
    assert fields[:2] == ("id", "day"), fields
    return [*_arrays(rows, _columns(SendLog, fields)), sorted({row[1] for row in rows})]


@cache
def _record_statement(fields: tuple[str, ...]) -> str:
    table = _table(SendLog)
    return _update_statement(SendLog, fields, 2, "day") + _text(
        sql.SQL(" AND {t}.{status} = %s RETURNING {t}.{id}").format(
            t=table,
            status=column(SendLog, "status").ident,
            id=column(SendLog, "id").ident,
        )
    )


def record_slots(fields: tuple[str, ...], rows: Sequence[Sequence[Any]]) -> set[int]:
    """update_slots for recording: only the rows still `sending` are written (a reaper
    may have given some back meanwhile), locked by the same statement, in the order its
    plan meets them (no other writer waits for a `sending` row: the claim and the
    reaper skip locked rows, engagement writes sent and unknown ones); returns their ids."""
    if not rows:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(_record_statement(fields), [*_slot_params(fields, rows), SendStatus.SENDING])
        return {slot_id for (slot_id,) in cursor.fetchall()}


# --- send slots -------------------------------------------------------------------------

_POSTPONE = (Column("sender_id", "bigint"), Column("not_before", "timestamptz"))
POSTPONE_WAITING_SLOTS = _text(
    sql.SQL(
        "{cte} UPDATE {t} SET scheduled_at = v.not_before FROM v "
        "WHERE {t}.sender_id = v.sender_id AND {t}.status = ANY(%s) "
        "AND {t}.scheduled_at < v.not_before"
    ).format(cte=_rows_cte(_POSTPONE), t=_table(SendLog))
)


def postpone_waiting_slots(not_before: Sequence[tuple[int, dt.datetime]]) -> int:
    """For each (sender id, time): its slots still waiting to be claimed and due earlier
    are due at that time; slots due later keep theirs. One statement for all senders;
    returns slots moved."""
    if not not_before:
        return 0
    params = [*_arrays(sorted(not_before), _POSTPONE), [str(s) for s in CLAIMABLE_STATUSES]]
    return _execute(POSTPONE_WAITING_SLOTS, params)


# A planned slot: (sender_id, day, slot_no, scheduled_at), the columns of PLANNED_SLOTS.
SlotRow = tuple[int, dt.date, int, dt.datetime]
_PLANNED = columns(SendLog, "sender", "day", "slot_no", "scheduled_at")
# Every other column of a new slot takes its field's default, bound as a parameter:
# a field added to SendLog is covered without touching this statement. "timestamp"
# (when the row last changed) is the planning time.
_NEW_SLOT_FIELDS = [
    f
    for f in SendLog._meta.concrete_fields
    if not f.primary_key and f.column not in {c.name for c in _PLANNED}
]
PLANNED_SLOTS = sql.Identifier("planned_slots")
CREATE_PLANNED_SLOTS = _text(
    sql.SQL("CREATE TEMPORARY TABLE IF NOT EXISTS {} ({})").format(
        PLANNED_SLOTS,
        sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.type)) for c in _PLANNED
        ),
    )
)
COPY_PLANNED_SLOTS = _text(
    sql.SQL("COPY {} ({}) FROM STDIN").format(PLANNED_SLOTS, _names(_PLANNED))
)
INSERT_PLANNED_SLOTS = _text(
    sql.SQL(
        "INSERT INTO {t} ({planned}, {others}) SELECT {planned}, {values} FROM {src} "
        "ON CONFLICT DO NOTHING"
    ).format(
        t=_table(SendLog),
        planned=_names(_PLANNED),
        others=sql.SQL(", ").join(column(SendLog, f.name).ident for f in _NEW_SLOT_FIELDS),
        values=sql.SQL(", ").join(sql.Placeholder() for _ in _NEW_SLOT_FIELDS),
        src=PLANNED_SLOTS,
    )
)
TRUNCATE_PLANNED_SLOTS = _text(sql.SQL("TRUNCATE {}").format(PLANNED_SLOTS))


def insert_slots(rows: Sequence[SlotRow], now: dt.datetime) -> None:
    """Insert planned slots, skipping any that exist (UNIQUE(sender, day, slot_no)).

    The day's plan is millions of rows at 100,000 mailboxes. They go through COPY
    (psycopg's C path) into a temporary table and from there into `logs` with ON CONFLICT
    DO NOTHING: building and quoting an INSERT of that size in Python costs more than the
    database's work."""
    if not rows:
        return
    values = [now if f.name == "timestamp" else f.get_default() for f in _NEW_SLOT_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(CREATE_PLANNED_SLOTS)
        with cursor.cursor.copy(COPY_PLANNED_SLOTS) as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(INSERT_PLANNED_SLOTS, values)
        cursor.execute(TRUNCATE_PLANNED_SLOTS)


# The given sends (ids, then their days: the days prune the scan to their partitions)
# not yet replied to are from now on: returns their ids.
MARK_REPLY_PLANNED = _text(
    sql.SQL(
        "UPDATE {t} SET {planned} = true WHERE {id} = ANY(%s) AND {day} = ANY(%s) "
        "AND NOT {planned} RETURNING {id}"
    ).format(
        t=_table(SendLog),
        planned=column(SendLog, "reply_planned").ident,
        id=column(SendLog, "id").ident,
        day=column(SendLog, "day").ident,
    )
)


def mark_reply_planned(sends: Sequence[tuple[int, dt.date]]) -> set[int]:
    """Of these (id, day) sends, those no reply was planned to, now marked: the one
    statement that decides who replies, under any concurrency (a row's update waits for
    another's and then finds it marked)."""
    if not sends:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(MARK_REPLY_PLANNED, [[i for i, _ in sends], sorted({d for _, d in sends})])
        return {i for (i,) in cursor.fetchall()}


# --- day counters -----------------------------------------------------------------------


def _new_day_defaults(given: Sequence[str]) -> tuple[sql.Composed, list[Any]]:
    """The DailyStat columns not in `given` (id and the key aside), and their defaults."""
    fields = [
        f
        for f in DailyStat._meta.concrete_fields
        if not f.primary_key and f.column not in {"mailbox_id", "date", *given}
    ]
    return sql.SQL(", ").join(column(DailyStat, f.name).ident for f in fields), [
        f.get_default() for f in fields
    ]


# What recording adds to a day, in the order of the rows record_results builds.
RECORDED_COUNTERS = ("sent", "failed", "deferred", "unknown", "received")
_RECORDED_DAYS = (
    Column("mailbox_id", "bigint"),
    Column("date", "date"),
    Column("yesterday", "date"),  # from the caller: date arithmetic stays in Python
    *(Column(name, "integer") for name in RECORDED_COUNTERS),
)
_recorded_others, RECORDED_DAY_DEFAULTS = _new_day_defaults(RECORDED_COUNTERS)
_t = _table(DailyStat)
_reaches_quota = sql.SQL(
    "NOT {t}.quota_met AND {t}.quota > 0 AND {t}.sent + excluded.sent >= {t}.quota"
).format(t=_t)
# A new row has no quota yet, so only an existing one can reach it here.
ADD_RECORDED_TO_DAYS = _text(
    sql.SQL(
        "{cte} INSERT INTO {t} (mailbox_id, date, {counters}, {others}) "
        "SELECT mailbox_id, date, {counters}, {defaults} FROM v "
        "WHERE TRUE ORDER BY mailbox_id, date "
        "ON CONFLICT (mailbox_id, date) DO UPDATE SET {adds}, "
        "quota_met = {t}.quota_met OR ({reaches}), "
        "streak = CASE WHEN {reaches} THEN 1 + COALESCE("
        "(SELECT y.streak FROM {t} y WHERE y.mailbox_id = {t}.mailbox_id "
        "AND y.date = (SELECT yesterday FROM v WHERE v.mailbox_id = {t}.mailbox_id "
        "AND v.date = {t}.date) AND y.quota_met), 0) ELSE {t}.streak END"
    ).format(
        cte=_rows_cte(_RECORDED_DAYS),
        t=_t,
        counters=sql.SQL(", ").join(sql.Identifier(c) for c in RECORDED_COUNTERS),
        others=_recorded_others,
        defaults=sql.SQL(", ").join(sql.Placeholder() for _ in RECORDED_DAY_DEFAULTS),
        adds=sql.SQL(", ").join(
            sql.SQL("{0} = {t}.{0} + excluded.{0}").format(sql.Identifier(c), t=_t)
            for c in RECORDED_COUNTERS
        ),
        reaches=_reaches_quota,
    )
)


def add_recorded_to_days(rows: Sequence[Sequence[Any]]) -> None:
    """Rows of (mailbox_id, date, yesterday, *RECORDED_COUNTERS): see
    warmup.engine.record._apply_stat_deltas."""
    if rows:
        _execute(ADD_RECORDED_TO_DAYS, [*_arrays(rows, _RECORDED_DAYS), *RECORDED_DAY_DEFAULTS])


_DAY_COUNTS = (Column("mailbox_id", "bigint"), Column("date", "date"), Column("n", "integer"))


def _add_to_day(counter: str) -> tuple[str, list[Any]]:
    others, defaults = _new_day_defaults([counter])
    statement = sql.SQL(
        "{cte} INSERT INTO {t} (mailbox_id, date, {c}, {others}) "
        "SELECT mailbox_id, date, n, {defaults} FROM v WHERE TRUE ORDER BY mailbox_id, date "
        "ON CONFLICT (mailbox_id, date) DO UPDATE SET {c} = {t}.{c} + excluded.{c}"
    ).format(
        cte=_rows_cte(_DAY_COUNTS),
        t=_t,
        c=sql.Identifier(counter),
        others=others,
        defaults=sql.SQL(", ").join(sql.Placeholder() for _ in defaults),
    )
    return _text(statement), defaults


# The counters added to one at a time (the reaper's unknown, engagement's placements,
# replies and receivers' DMARC verdicts), each with its statement and the other columns'
# defaults.
ADD_TO_DAY = {
    c: _add_to_day(c) for c in ("unknown", "inbox", "spam", "replied", "dmarc_pass", "dmarc_fail")
}


def add_to_days(counter: str, rows: Sequence[tuple[int, dt.date, int]]) -> None:
    """Rows of (mailbox_id, date, n): see warmup.engine.record.add_to_days."""
    statement, defaults = ADD_TO_DAY[counter]
    if rows:
        _execute(statement, [*_arrays(rows, _DAY_COUNTS), *defaults])


# --- send counters (warmup.engine.counters) ----------------------------------------------

ADD_SEND_TOTALS = _text(
    sql.SQL(
        "INSERT INTO {t} (status, total) SELECT * FROM unnest(%s::text[], %s::bigint[]) "
        "ON CONFLICT (status) DO UPDATE SET total = {t}.total + excluded.total"
    ).format(t=_table(SendTotal))
)
ADD_SEND_COUNTS = _text(
    sql.SQL(
        "INSERT INTO {t} (minute, status, count) "
        "SELECT %s, * FROM unnest(%s::text[], %s::integer[]) "
        "ON CONFLICT (minute, status) DO UPDATE SET count = {t}.count + excluded.count"
    ).format(t=_table(SendCount))
)


_SEND_COUNTS = (Column("status", "text"), Column("count", "integer"))


def add_send_counts(minute: dt.datetime, rows: Sequence[tuple[str, int]]) -> None:
    """Rows of (status, attempts), in status order: see warmup.engine.counters."""
    statuses, counts = _arrays(rows, _SEND_COUNTS)
    with connection.cursor() as cursor:
        cursor.execute(ADD_SEND_TOTALS, [statuses, counts])
        cursor.execute(ADD_SEND_COUNTS, [minute, statuses, counts])


# --- rate windows (warmup.engine.limits) -------------------------------------------------

_WINDOWS = columns(RateWindow, "key", "window_start")
CREATE_RATE_WINDOWS = _text(
    sql.SQL(
        "{cte} INSERT INTO {t} (key, window_start, used) "
        "SELECT key, window_start, 0 FROM v WHERE TRUE ON CONFLICT DO NOTHING"
    ).format(cte=_rows_cte(_WINDOWS), t=_table(RateWindow))
)


def create_rate_windows(rows: Sequence[tuple[str, dt.datetime]]) -> None:
    """The (key, window start) rows that are missing, with nothing used."""
    _execute(CREATE_RATE_WINDOWS, _arrays(rows, _WINDOWS))


# --- the pool (warmup.engine.pool) ------------------------------------------------------

# Per mailbox, of the sends accepted in (since, until] (found through the (status,
# timestamp) index: a sent row's timestamp is when it was recorded): (mailbox id,
# partners, reciprocal partners, received, received from its own owner's mailboxes,
# received from its own provider). The sends are grouped once by unordered pair {a, b}
# (a < b), counting each direction; each pair then counts for both of its mailboxes,
# grouped by mailbox. Grouping by (mailbox, partner) instead makes twice the groups,
# and took three times as long at 10,000 mailboxes.
_POOL_LOG = {
    name: column(SendLog, name).ident for name in ("sender", "recipient", "status", "timestamp")
}
_POOL_BOX = {name: column(Mailbox, name).ident for name in ("owner", "provider")}
POOL_FIGURES = _text(
    sql.SQL(
        "WITH pairs AS ("
        " SELECT least({sender}, {recipient}) AS a, greatest({sender}, {recipient}) AS b,"
        " count(*) FILTER (WHERE {sender} < {recipient}) AS ab,"
        " count(*) FILTER (WHERE {sender} > {recipient}) AS ba"
        " FROM {logs} WHERE {status} = %s AND {timestamp} > %s AND {timestamp} <= %s"
        " AND {sender} <> {recipient}"
        " GROUP BY 1, 2)"
        " SELECT e.mailbox_id, count(*), count(*) FILTER (WHERE e.sent > 0 AND e.received > 0),"
        " sum(e.received),"
        " coalesce(sum(e.received) FILTER (WHERE ma.{owner} = mb.{owner}), 0),"
        " coalesce(sum(e.received) FILTER (WHERE ma.{provider} = mb.{provider}), 0)"
        " FROM pairs p JOIN {boxes} ma ON ma.id = p.a JOIN {boxes} mb ON mb.id = p.b"
        " CROSS JOIN LATERAL (VALUES (p.a, p.ab, p.ba), (p.b, p.ba, p.ab))"
        " AS e(mailbox_id, sent, received)"
        " GROUP BY e.mailbox_id"
    ).format(logs=_table(SendLog), boxes=_table(Mailbox), **_POOL_LOG, **_POOL_BOX)
)
# The network's pool figures (warmup.models.PoolShape) from the mailboxes' own.
_SHAPE = {name: column(Mailbox, name).ident for name in POOL_FIELDS}
POOL_SHAPE = _text(
    sql.SQL(
        "SELECT count(*),"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY {partners_7d}),"
        " percentile_cont(0.05) WITHIN GROUP (ORDER BY {partners_7d}),"
        " avg({same_owner_share_7d}),"
        " percentile_cont(0.95) WITHIN GROUP (ORDER BY {same_owner_share_7d}),"
        " avg({same_provider_share_7d}), avg({reciprocity_7d})"
        " FROM {boxes} WHERE {partners_7d} > 0"
    ).format(boxes=_table(Mailbox), **_SHAPE)
)
# The pool figures' aggregation holds a group per pair of mailboxes that mailed within
# the week: some 20 million at 100,000 mailboxes. More memory than the default
# 4 MB keeps the hash aggregate off the disk for this one statement.
POOL_WORK_MEM = "SET LOCAL work_mem = '256MB'"


# --- claiming ----------------------------------------------------------------------------

# The claim reads the claim index in `scheduled_at` order and stops at its batch: what
# it finds first is what it takes. PostgreSQL's estimates push it elsewhere: it counts
# the index's entries of slots claimed since the last VACUUM as due (their status left
# the index's condition, the entries stay), and gives the shard filter (a modulo) the
# default selectivity of 0.5%, so it expects few rows, collects them all (a bitmap scan
# that reads every such entry's heap page, kills none of them) and sorts; a hash join
# with a scan of every mailbox followed. 130 ms for 55 slots, late in an hour at 100,000
# mailboxes; about 1 ms in order. Without sorting, the ordered index scan is its only plan.
CLAIM_IN_SCHEDULED_ORDER = "SET LOCAL enable_sort = off"

# warmup.api's page of staff's quota list: each walk stops at the page's end, which a
# parallel walk (Gather Merge over a parallel index scan, taken when a walk reads few of
# the rows it steps over, as by email with status=met) does not: its workers each read
# ahead of the merge. 260 ms for a page of 51 at 100,000 mailboxes; 19 ms without.
WALK_WITHOUT_WORKERS = "SET LOCAL max_parallel_workers_per_gather = 0"


# --- workers and the simulator -----------------------------------------------------------

# The reaper runs in one worker at a time: (lock key,) → whether this one got it.
TRY_REAPER_LOCK = "SELECT pg_try_advisory_xact_lock(%s)"

# What autovacuum does over a real hour (warmup.engine.simulate.housekeeping).
VACUUM_ANALYZE_ENGINE_TABLES = _text(
    sql.SQL("VACUUM ANALYZE {}").format(
        sql.SQL(", ").join(_table(m) for m in (SendLog, DailyStat, RateWindow, Mailbox))
    )
)
# The tables of the current schema autovacuum would analyze now: more rows changed since
# their last ANALYZE than autovacuum_analyze_threshold + the scale factor (the table's
# own, as the send log's partitions have, else the server's) × its rows. Quoted names.
STALE_STATISTICS = """
SELECT quote_ident(s.schemaname) || '.' || quote_ident(s.relname)
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
WHERE s.schemaname = current_schema()
  AND s.n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::integer
    + greatest(c.reltuples, 0) * coalesce(
        (SELECT split_part(o, '=', 2)::float8 FROM unnest(c.reloptions) o
         WHERE split_part(o, '=', 1) = 'autovacuum_analyze_scale_factor'),
        current_setting('autovacuum_analyze_scale_factor')::float8)
ORDER BY 1
"""


def analyze(table: str) -> str:
    """ANALYZE of a table named as STALE_STATISTICS names it (already quoted)."""
    return _text(sql.SQL("ANALYZE {}").format(sql.SQL(table)))


def create_schema(name: str) -> str:
    return _text(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))


def drop_schema(name: str) -> str:
    return _text(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


# --- threads ------------------------------------------------------------------------------

# Each given send's thread up to it, following in_reply_to by primary key (a few rows per
# send, whatever the table's size): (start id, then the turn's id, sender_id, day, slot_no,
# message_id, thread_id), first message first. Parameters: the ids, the first and last
# of their days, how many days before and after a reply's day its original's may be, the
# longest chain. A link is followed
# by a lateral look-up bounded by those days: on the partitioned `logs` it reads those
# days' partitions only, one index probe each (a plain join hashed all 90 partitions).
_TURN = ("id", "sender", "day", "slot_no", "message_id", "thread_id", "sent_at")
# The sender of each turn, as a reply's quote names it and writes its text again.
_TURN_SENDER = ("email", "display_name", "language", "timezone")
THREAD_CHAINS = _text(
    sql.SQL(
        "WITH RECURSIVE chain AS ("
        " SELECT l.{id} AS start_id, 1 AS up, l.{parent}, {turn} FROM {logs} l"
        " WHERE l.{id} = ANY(%s) AND l.{day} BETWEEN %s AND %s"
        " UNION ALL"
        " SELECT c.start_id, c.up + 1, l.* FROM chain c CROSS JOIN LATERAL ("
        "SELECT l.{parent}, {turn} FROM {logs} l WHERE l.{id} = c.{parent}"
        " AND l.{day} BETWEEN c.{day} - %s AND c.{day} + %s LIMIT 1) l"
        " WHERE c.up < %s"
        ") SELECT c.start_id, {chained}, {sender_cols} FROM chain c"
        " JOIN {mailboxes} m ON m.{mailbox_id} = c.{sender}"
        " ORDER BY c.start_id, c.up DESC"
    ).format(
        day=column(SendLog, "day").ident,
        chained=sql.SQL(", ").join(
            sql.SQL("c.{}").format(c.ident) for c in columns(SendLog, *_TURN)
        ),
        sender_cols=sql.SQL(", ").join(
            sql.SQL("m.{}").format(c.ident) for c in columns(Mailbox, *_TURN_SENDER)
        ),
        mailboxes=_table(Mailbox),
        mailbox_id=column(Mailbox, "id").ident,
        sender=column(SendLog, "sender").ident,
        id=column(SendLog, "id").ident,
        parent=column(SendLog, "in_reply_to").ident,
        turn=sql.SQL(", ").join(sql.SQL("l.{}").format(c.ident) for c in columns(SendLog, *_TURN)),
        logs=_table(SendLog),
    )
)


# --- the send log's partitions (warmup.partitions) -----------------------------------------

_LOGS = _table(SendLog)
DEFAULT_PARTITION = "logs_default"
# What 0002 set on the plain table: a partitioned table has no storage to take it, so
# each partition gets it.
PARTITION_STORAGE = sql.SQL(
    "autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.01"
)
# The partitions of `logs`, by name (the default one included).
LOG_PARTITIONS = _text(
    sql.SQL(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = {}::regclass"
    ).format(sql.Literal(SendLog._meta.db_table))
)
# One session at a time creates or drops partitions (a lock for the transaction).
LOCK_PARTITIONS = "SELECT pg_advisory_xact_lock(hashtext('warmup.partitions'))"
# How long making or dropping a partition waits for its table locks before it gives up
# (and is tried again later): statements queued behind it wait that long at most.
SET_LOCK_TIMEOUT = "SET LOCAL lock_timeout = '2s'"
LOCK_MAILBOXES_FOR_ATTACH = "LOCK TABLE mailboxes IN SHARE ROW EXCLUSIVE MODE"


def is_lock_timeout(exc: Exception) -> bool:
    """Whether a database error is a lock_timeout's (SQLSTATE 55P03, lock_not_available)."""
    return getattr(getattr(exc, "__cause__", None), "sqlstate", None) == "55P03"


_ALL_LOG_COLUMNS = _names(
    [column(SendLog, f.name) for f in SendLog._meta.concrete_fields],
)


def create_default_partition() -> str:
    return _text(
        sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF {} DEFAULT WITH ({})").format(
            sql.Identifier(DEFAULT_PARTITION), _LOGS, PARTITION_STORAGE
        )
    )


def create_partition(name: str, day: dt.date) -> list[tuple[str, list[Any]]]:
    """The statements that make `name` the partition of `day`, taking that day's rows out
    of the default partition: a table like `logs`, the rows moved into it, attached.
    ATTACH (unlike CREATE … PARTITION OF) leaves `logs` open to reads and writes; it
    locks the default partition, which the caller has locked already."""
    table = sql.Identifier(name)
    return [
        (
            _text(
                sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING CONSTRAINTS) WITH ({})").format(
                    table, _LOGS, PARTITION_STORAGE
                )
            ),
            [],
        ),
        (
            _text(
                sql.SQL(
                    "WITH moved AS (DELETE FROM {default} WHERE day = %s RETURNING {cols}) "
                    "INSERT INTO {table} ({cols}) SELECT {cols} FROM moved"
                ).format(
                    default=sql.Identifier(DEFAULT_PARTITION), table=table, cols=_ALL_LOG_COLUMNS
                )
            ),
            [day],
        ),
        (
            _text(
                # DDL takes no parameters: the bounds are literals.
                sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                    _LOGS, table, sql.Literal(day), sql.Literal(day + dt.timedelta(days=1))
                )
            ),
            [],
        ),
    ]


def lock_default_partition() -> str:
    return _text(
        sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.Identifier(DEFAULT_PARTITION))
    )


def count_rows(table: str) -> str:
    return _text(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))


def drop_table(table: str) -> str:
    return _text(sql.SQL("DROP TABLE {}").format(sql.Identifier(table)))
