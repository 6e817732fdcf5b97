"""Capacity: do today's quotas fit the rate limits and the sending windows?

Every mailbox sends its quota inside its window, under three limits that count per clock
minute, per clock hour and per owner per clock hour (warmup.engine.limits). Over the
clock hours of today's windows that gives two ceilings on what can be sent:

- per hour h: min(global hourly limit, minute limit × minutes of h some window covers,
  owner limit × owners with a window in h), summed over the hours;
- per owner: min(its quotas, owner limit × clock hours its windows touch), summed.

The smaller ceiling below Σ quotas is the shortfall. Both assume sends move freely
inside the windows, so a shortfall is certain, while "fits" is necessary rather than
sufficient.

The limits that would suffice are found in turn, each the smallest that works given the
ones before it (and never below the value set now): the per-owner limit first (its
own ceiling and the hours' sum of owners × limit), then the hourly limit, then the
minute limit. Together they fit today's quotas.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from warmup.engine.limits import Limits

HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Demand:
    """Quotas of one owner's mailboxes that share one window today (UTC instants)."""

    owner_id: int
    start: dt.datetime
    end: dt.datetime
    quota: int


@dataclass(frozen=True)
class Capacity:
    demand: int
    hourly_ceiling: int  # what the global limits allow in today's window hours
    owner_ceiling: int  # what the owner limit allows, each owner capped at its quotas
    owners_short: int  # owners whose quotas exceed their own ceiling
    needed: Limits  # limits that together fit the demand (each ≥ the current one)

    @property
    def possible(self) -> int:
        return min(self.demand, self.hourly_ceiling, self.owner_ceiling)

    @property
    def shortfall(self) -> int:
        return self.demand - self.possible


def _hours(start: dt.datetime, end: dt.datetime) -> Iterable[dt.datetime]:
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        yield hour
        hour += HOUR


def _union_minutes(spans: list[tuple[dt.datetime, dt.datetime]]) -> float:
    covered = 0.0
    reach: dt.datetime | None = None
    for start, end in sorted(spans):
        if reach is not None and start < reach:
            start = reach
        if end > start:
            covered += (end - start).total_seconds() / 60
            reach = end
    return covered


def _smallest(ok: Callable[[int], bool], low: int) -> int:
    """The smallest n ≥ low with ok(n), ok being monotone and true for large n."""
    high = max(low, 1)
    while not ok(high):
        high *= 2
    while low < high:
        middle = (low + high) // 2
        if ok(middle):
            high = middle
        else:
            low = middle + 1
    return low


def assess(demands: Iterable[Demand], limits: Limits) -> Capacity:
    owner_quota: dict[int, int] = defaultdict(int)
    owner_hours: dict[int, set[dt.datetime]] = defaultdict(set)
    hour_owners: dict[dt.datetime, set[int]] = defaultdict(set)
    hour_spans: dict[dt.datetime, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for d in demands:
        if d.quota <= 0 or d.end <= d.start:
            continue
        owner_quota[d.owner_id] += d.quota
        for hour in _hours(d.start, d.end):
            owner_hours[d.owner_id].add(hour)
            hour_owners[hour].add(d.owner_id)
            hour_spans[hour].append((max(d.start, hour), min(d.end, hour + HOUR)))
    demand = sum(owner_quota.values())
    # Per clock hour: (minutes some window covers, owners with a window in it).
    hours = [(_union_minutes(hour_spans[h]), len(hour_owners[h])) for h in sorted(hour_owners)]

    def hourly_ceiling(per_hour: int, per_minute: int, per_user: int) -> int:
        return sum(
            min(per_hour, int(per_minute * minutes), per_user * owners) for minutes, owners in hours
        )

    def owner_ceiling(per_user: int) -> int:
        return sum(
            min(quota, per_user * len(owner_hours[owner])) for owner, quota in owner_quota.items()
        )

    h, m, u = limits.per_hour, limits.per_minute, limits.per_user_hour
    unlimited = demand + 1
    user = _smallest(
        lambda n: owner_ceiling(n) >= demand and hourly_ceiling(unlimited, unlimited, n) >= demand,
        u,
    )
    per_hour = _smallest(lambda n: hourly_ceiling(n, unlimited, user) >= demand, h)
    minute = _smallest(lambda n: hourly_ceiling(per_hour, n, user) >= demand, m)
    return Capacity(
        demand=demand,
        hourly_ceiling=hourly_ceiling(h, m, u),
        owner_ceiling=owner_ceiling(u),
        owners_short=sum(
            quota > u * len(owner_hours[owner]) for owner, quota in owner_quota.items()
        ),
        needed=Limits(per_minute=minute, per_hour=per_hour, per_user_hour=user),
    )
