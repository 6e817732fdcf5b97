"""gunicorn's settings for the web app (`gunicorn --config python:warmup_project.gunicorn
warmup_project.wsgi:application`); each can be overridden on the command line or with
GUNICORN_CMD_ARGS. By default two processes of four threads each (GUNICORN_WORKERS,
GUNICORN_THREADS): a request is a few queries, so threads wait on the database together."""

import os
import tempfile
from pathlib import Path
from typing import Any


def _count(name: str, default: int) -> int:
    """A positive whole number from the environment, or a one-line error that names it."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(f"{name}={raw!r}: must be a whole number of 1 or more.")
    return int(raw)


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = _count("GUNICORN_WORKERS", 2)
threads = _count("GUNICORN_THREADS", 4)
# A scrape with detailed metrics at 100,000 mailboxes takes about half a second; nothing
# else comes near this.
timeout = 60
graceful_timeout = 30
accesslog = "-"
errorlog = "-"
# No query strings in the access log: they carry nothing secret today, but paths are
# enough to operate by.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
# gunicorn 25+ opens a control socket under $HOME; the image's user cannot write there and
# nothing uses it.
control_socket_disable = True

# django-prometheus's /metrics: every process counts its own requests, so a scrape that
# reaches one of them would see counters jump back and forth. prometheus_client's
# multiprocess mode keeps each process's values in files in this folder and sums them
# (Warmup's own metrics are read from the database and are not affected).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="warmup-prometheus-"))


def on_starting(server: Any) -> None:
    """Values of an earlier run would be added to this one's: start from an empty folder."""
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
