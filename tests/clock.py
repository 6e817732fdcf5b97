"""Times for the tests that run the engine at the real time."""

from __future__ import annotations

import datetime as dt


def morning_of(now: dt.datetime) -> dt.datetime:
    """06:00 UTC of `now`'s date: when the tests that run the engine at the real time (the
    tokens they carry live in real time, or workers in other processes read the
    database's clock) plan the day. Planned at `now` itself, a run late in the evening
    would find the day's window closed (the last tenth is kept for replacements) and plan
    nothing; the tests then make the slots they need due at `now`."""
    return now.replace(hour=6, minute=0, second=0, microsecond=0)
