"""The arithmetic of warmup, without a database: daily quota, slot times, lag.

Everything here is a pure function of its arguments (time included), so it is tested
exhaustively with hypothesis and replayed by the day simulator.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import zoneinfo
from dataclasses import dataclass


def daily_quota(
    *,
    start_volume: int,
    daily_increase: int,
    daily_max: int,
    plan_cap: int,
    floor: int,
    day_number: int,
) -> int:
    """Sends due on the `day_number`-th day of warmup (0 = the first day).

    The ramp (start + increase × days) is raised to the floor (WARMUP_MIN_DAILY_QUOTA)
    and lowered to the cap (the mailbox's daily_max and its owner's plan). When a cap is
    below the floor the cap wins: a cap is a promise to the mailbox's owner and its
    provider; validation keeps daily_max ≥ floor for enabled mailboxes.
    """
    ramp = start_volume + daily_increase * max(day_number, 0)
    cap = max(min(daily_max, plan_cap), 0)
    return min(cap, max(floor, ramp))


@dataclass(frozen=True)
class Window:
    """A mailbox's sending window on one local date, as UTC instants [start, end)."""

    start: dt.datetime
    end: dt.datetime

    @property
    def length(self) -> dt.timedelta:
        return self.end - self.start

    def ending_early(self, margin: dt.timedelta) -> Window:
        """The window less `margin` at its end, unless that would leave less than half."""
        if margin <= dt.timedelta(0) or self.length <= 2 * margin:
            return self
        return Window(self.start, self.end - margin)


def sends_on(local_date: dt.date, weekdays: int) -> bool:
    return bool(weekdays & (1 << local_date.weekday()))


@functools.cache
def zone(name: str) -> zoneinfo.ZoneInfo:
    """The time zone `name`, loaded once per process: ZoneInfo keeps only the 8 last
    used (and those still referenced), so with more zones in use it read the tz file
    again at nearly every call (some 0.1 ms each, 100 a page of the mailbox API)."""
    return zoneinfo.ZoneInfo(name)


def _local_instant(local_date: dt.date, hour: int, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """The UTC instant of `hour`:00 local time on `local_date` (hour 24 = next midnight).

    fold=0 reads a wall time with the offset in force before a DST change: an hour skipped
    in spring (02:00 in New York) becomes the instant the clocks jump to (03:00 EDT); an
    hour repeated in autumn is its first occurrence."""
    day = local_date + dt.timedelta(days=hour // 24)
    naive = dt.datetime.combine(day, dt.time(hour % 24))
    return naive.replace(tzinfo=tz, fold=0).astimezone(dt.UTC)


def sending_window(local_date: dt.date, timezone: str, start_hour: int, end_hour: int) -> Window:
    tz = zone(timezone)
    return Window(
        _local_instant(local_date, start_hour, tz), _local_instant(local_date, end_hour, tz)
    )


def local_time(now: dt.datetime, timezone: str) -> dt.datetime:
    return now.astimezone(zone(timezone))


def local_date(now: dt.datetime, timezone: str) -> dt.date:
    return local_time(now, timezone).date()


def slot_times(window: Window, quota: int, rng: random.Random) -> list[dt.datetime]:
    """`quota` send times spread evenly over the window, each jittered inside its own
    equal share, so they are ordered, all inside [start, end), and never bunch up."""
    if quota <= 0 or window.length <= dt.timedelta(0):
        return []
    share = window.length / quota
    times = []
    for slot_no in range(quota):
        offset = share * (slot_no + rng.random())
        times.append(min(window.start + offset, window.end - dt.timedelta(microseconds=1)))
    return times


def slot_rng(mailbox_id: int, local_date: dt.date) -> random.Random:
    """The same jitter for the same mailbox and day, in any process: planning twice, or
    on two workers, yields the same schedule."""
    return random.Random(f"{mailbox_id}:{local_date.isoformat()}")


def elapsed_share(now: dt.datetime, window: Window) -> float:
    """How much of the window has gone by at `now`, 0 to 1."""
    if now <= window.start:
        return 0.0
    if now >= window.end:
        return 1.0
    return (now - window.start) / window.length


def expected_by(now: dt.datetime, window: Window, quota: int) -> int:
    """Sends a mailbox on pace has made by `now`."""
    return int(quota * elapsed_share(now, window))


def lag(now: dt.datetime, window: Window, quota: int, sent: int) -> int:
    """How many sends the mailbox is behind its pace (negative: ahead)."""
    return expected_by(now, window, quota) - sent


def backoff(
    attempt: int, rng: random.Random, *, base_s: float = 60, cap_s: float = 3600
) -> dt.timedelta:
    """Delay before retrying a deferred send: capped exponential, with full jitter
    between half and all of it so retries of many mailboxes do not align."""
    ceiling = min(cap_s, base_s * 2 ** max(attempt - 1, 0))
    return dt.timedelta(seconds=ceiling * (0.5 + rng.random() / 2))


def pace(now: dt.datetime, window: Window, quota: int, sent: int) -> str:
    """ "met", "ahead", "on_pace" or "behind": sends against the window's elapsed share of
    the quota, with a slack of a tenth of the quota (at least one send) either way, since
    slots are spread with jitter."""
    if quota > 0 and sent >= quota:
        return "met"
    behind_by = lag(now, window, quota, sent)
    slack = max(1, quota // 10)
    if behind_by > slack:
        return "behind"
    if behind_by < -slack:
        return "ahead"
    return "on_pace"
