"""The loop of a long-running command (run_warmup, engage), the healthchecks
`sendalerts` way: one unit of work at a time, a wait between units, and a stop asked by a
signal honoured between them.

The first SIGTERM or SIGINT (Ctrl-C) lets the unit in flight finish, then the loop ends and
the command exits 0; a wait between units ends at once. A second signal exits at once
(status 128 + the signal): whoever sends it has stopped waiting.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

from django.db import close_old_connections

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
Handler = Callable[[int, FrameType | None], Any] | int | None  # what signal.signal takes


class StopSignals:
    """While entered, SIGTERM and SIGINT ask for a stop (and call `on_stop`, for work
    that checks a flag of its own); on exit the previous handlers are back."""

    def __init__(
        self, log: logging.Logger, in_flight: str, on_stop: Callable[[], None] | None = None
    ) -> None:
        self.log = log
        self.in_flight = in_flight  # what is finished before stopping: "the batch in flight"
        self.on_stop = on_stop
        self.signals = 0
        self._stop = threading.Event()
        self._previous: dict[signal.Signals, Handler] = {}

    @property
    def requested(self) -> bool:
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, less if a stop is asked; whether one was."""
        return self._stop.wait(seconds)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1
        if self.signals > 1:
            os._exit(128 + signum)
        self.log.info("signal %d: finishing %s, then exiting", signum, self.in_flight)
        self._stop.set()
        if self.on_stop is not None:
            self.on_stop()

    def __enter__(self) -> StopSignals:
        self._previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def run_until_stopped(step: Callable[[], float], stop: StopSignals, *, once: bool) -> None:
    """Run `step` (one unit of work; it returns the seconds to wait before the next) until
    a stop is asked, or once. Between units the database connection is checked
    (`close_old_connections`), so a restarted server is reconnected."""
    first = True
    while not stop.requested:
        if not first:
            close_old_connections()
        first = False
        pause = step()
        if once:
            return
        stop.wait(pause)
