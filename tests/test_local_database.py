"""scripts/local_database.py: the embedded PostgreSQL of `make run` and `make test`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psycopg
import pytest

from warmup_project import config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import local_database


def test_a_throwaway_server_is_postgresql_18_and_leaves_nothing_behind(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with local_database.database(None) as url:
        database = config.load({"DEBUG": "true", "DATABASE_URL": url}).database
        folder = Path(database["HOST"])
        with psycopg.connect(url) as conn:
            version = conn.info.server_version
            name = conn.execute("SELECT current_database()").fetchone()
            fsync = conn.execute("SHOW fsync").fetchone()
        assert version // 10_000 == 18 and name == ("warmup",) and fsync == ("off",)
        assert folder.is_dir()
    assert not folder.exists()  # the temporary folder, data and socket, is gone
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)
    assert "database: embedded PostgreSQL 18" in capsys.readouterr().out


def test_a_kept_server_keeps_its_data_between_runs(tmp_path: Path) -> None:
    data = tmp_path / "pg"
    with local_database.embedded_server(data) as url, psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (7)")
        conn.commit()
        assert conn.execute("SHOW fsync").fetchone() == ("on",)
    with local_database.embedded_server(data) as url, psycopg.connect(url) as conn:
        assert conn.execute("SELECT n FROM kept").fetchall() == [(7,)]


def test_database_url_when_set_wins(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://warmup:pa55word@db.example.com:5432/warmup")
    with local_database.database(None) as url:
        assert url == os.environ["DATABASE_URL"]
    printed = capsys.readouterr().out
    assert "db.example.com:5432/warmup" in printed and "pa55word" not in printed


def test_database_url_of_the_dot_env_file_is_used_as_manage_py_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("DEBUG=true\nDATABASE_URL=postgres://warmup:s3cret@db.example.com/demo\n")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with local_database.database(None, dotenv=dotenv) as url:
        assert url == "postgres://warmup:s3cret@db.example.com/demo"
    assert "DATABASE_URL" not in os.environ  # read, not exported
    printed = capsys.readouterr().out
    assert "db.example.com" in printed and "s3cret" not in printed
