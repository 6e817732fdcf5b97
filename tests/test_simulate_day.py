"""simulate_day as an operator runs it: a whole simulated day of the real engine, here in a
database of its own (--database), with the hourly housekeeping (VACUUM ANALYZE, what
autovacuum does over a real hour) done in that database too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from tests.test_run_warmup import ROOT, database_url


@pytest.fixture
def simulation_database(django_db_setup: Any) -> Iterator[str]:
    """An empty database beside the test database, dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_simulated"
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(database_url(), autocommit=True) as admin:
        admin.execute(drop)
        admin.execute(create)
    try:
        yield database_url(name)
    finally:
        with psycopg.connect(database_url(), autocommit=True) as admin:
            admin.execute(drop)


def test_a_day_in_a_given_database_meets_every_quota_and_is_analyzed_there(
    simulation_database: str,
) -> None:
    options = ["--mailboxes", "12", "--workers", "2", "--fail-rate", "0.05", "--json", "--quiet"]
    run = subprocess.run(
        [sys.executable, "manage.py", "simulate_day", *options, "--database", simulation_database],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url(), "DEBUG": "true"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["mailboxes"] == 12
    assert report["at_quota_pct"] == 100.0
    assert (report["cap_violations"], report["duplicates"]) == (0, 0)
    assert report["rate_violations"] and not any(report["rate_violations"].values())
    with psycopg.connect(simulation_database) as simulated:
        analyzed = simulated.execute(
            "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL"
        ).fetchall()
    # The housekeeping thread used the simulation's database, not DATABASE_URL's.
    assert "mailboxes" in {name for (name,) in analyzed}


def test_a_database_that_is_not_postgresql_is_refused_before_anything_runs() -> None:
    arguments = ["--mailboxes", "2", "--database", "mysql://u@127.0.0.1/warmup"]
    run = subprocess.run(
        [sys.executable, "manage.py", "simulate_day", *arguments],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "true"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert "--database: scheme 'mysql' is not supported" in run.stderr
