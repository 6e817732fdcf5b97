"""The loop of the long-running commands (warmup_project.loop), with real signals: the
first SIGTERM or SIGINT finishes the unit in flight and ends the loop (a wait ends at
once), a second exits at once; run_warmup and engage stop that way."""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from warmup_project.loop import StopSignals, run_until_stopped

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("tests.loop")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_first_signal_finishes_the_unit_in_flight_then_stops(
    signum: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    before = signal.getsignal(signum)
    units: list[str] = []
    stopped: list[bool] = []

    def step() -> float:
        units.append("started")
        os.kill(os.getpid(), signum)  # arrives in the middle of the unit
        units.append("finished")
        return 3600  # the wait it would take before the next unit

    with StopSignals(log, "the unit in flight", on_stop=lambda: stopped.append(True)) as stop:
        run_until_stopped(step, stop, once=False)
    assert units == ["started", "finished"] and stopped == [True]
    assert f"signal {signum}: finishing the unit in flight, then exiting" in caplog.text
    assert signal.getsignal(signum) == before  # the handlers are given back


def test_a_signal_ends_the_wait_between_units() -> None:
    units = 0

    def step() -> float:
        nonlocal units
        units += 1
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
        return 3600

    started = time.monotonic()
    with StopSignals(log, "the unit in flight") as stop:
        run_until_stopped(step, stop, once=False)
    assert units == 1
    assert time.monotonic() - started < 60  # not the hour the step asked to wait


def test_once_runs_one_unit() -> None:
    units = 0

    def step() -> float:
        nonlocal units
        units += 1
        return 3600

    with StopSignals(log, "the unit in flight") as stop:
        run_until_stopped(step, stop, once=True)
    assert units == 1 and not stop.requested


UNIT_OF = """
import logging, sys, time
from warmup_project.loop import StopSignals, run_until_stopped

def step():
    print("in flight", flush=True)
    time.sleep(float(sys.argv[1]))
    print("finished", flush=True)
    return 3600

with StopSignals(logging.getLogger("t"), "the unit in flight") as stop:
    run_until_stopped(step, stop, once=False)
"""


def start(unit_s: float) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", UNIT_OF, str(unit_s)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "in flight\n"
    return process


def test_ctrl_c_exits_0_after_the_unit_in_flight() -> None:
    process = start(unit_s=1)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0 and output == "finished\n"


def test_a_second_signal_exits_at_once() -> None:
    process = start(unit_s=60)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGTERM and output == ""


@pytest.mark.django_db
def test_the_engage_command_stops_on_ctrl_c() -> None:
    """Nothing is due: after its pass it waits IDLE_S; Ctrl-C ends the wait and the
    command returns (exit 0), with the handlers given back."""
    before = signal.getsignal(signal.SIGINT)
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    out = io.StringIO()
    started = time.monotonic()
    call_command("engage", stdout=out)
    assert time.monotonic() - started < 10  # IDLE_S
    assert signal.getsignal(signal.SIGINT) == before
