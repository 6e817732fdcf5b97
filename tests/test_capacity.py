"""Capacity arithmetic (metrics.capacity): ceilings, shortfall and the limits that would
suffice, on hand-computed cases."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from metrics.capacity import Demand, assess
from warmup.engine.limits import Limits
from warmup_project.config import WarmupConfig

DAY = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
SEED = Limits(per_minute=200, per_hour=10_000, per_user_hour=500)


def at(hour: float) -> dt.datetime:
    return DAY + dt.timedelta(hours=hour)


def network(owners: int, per_owner_quota: int, start: float = 8, end: float = 18) -> list[Demand]:
    return [Demand(owner, at(start), at(end), per_owner_quota) for owner in range(owners)]


def test_the_seeds_limits_at_100000_mailboxes() -> None:
    # 1,000 owners × 100 mailboxes × 30 a day, all in 08-18 UTC.
    c = assess(network(1000, 3000), SEED)
    assert c.demand == 3_000_000
    assert c.hourly_ceiling == 10 * 10_000  # ten clock hours at the hourly limit
    assert c.owner_ceiling == 3_000_000  # 500/h × 10 h ≥ 3,000 per owner
    assert (c.possible, c.shortfall, c.owners_short) == (100_000, 2_900_000, 0)
    # 300,000 an hour for ten hours; 5,000 a minute carries it; 500/owner-h is enough.
    assert c.needed == Limits(per_minute=5_000, per_hour=300_000, per_user_hour=500)


def test_a_small_network_fits_and_needs_nothing_more() -> None:
    c = assess(network(20, 300), SEED)
    assert (c.demand, c.shortfall) == (6_000, 0)
    assert c.needed == SEED


def test_the_owner_limit_binds() -> None:
    # One owner, 6,000 a day in 10 hours: 500/h allows 5,000.
    c = assess(network(1, 6000), SEED)
    assert (c.owner_ceiling, c.shortfall, c.owners_short) == (5_000, 1_000, 1)
    assert c.needed.per_user_hour == 600


def test_the_minute_limit_binds_in_partial_hours() -> None:
    # India is UTC+05:30: 08-18 local is 02:30-12:30 UTC, eleven clock hours of which the
    # first and last are half covered. At 10/min: 9 × 600 + 2 × 300 = 6,000.
    limits = Limits(per_minute=10, per_hour=10_000, per_user_hour=10_000)
    c = assess([Demand(1, at(2.5), at(12.5), 7_000)], limits)
    assert (c.hourly_ceiling, c.shortfall) == (6_000, 1_000)
    assert c.needed.per_minute == 12  # 9 × 720 + 2 × 360 = 7,200 ≥ 7,000; 11 gives 6,600


def test_one_owners_overlapping_windows_count_each_hour_once() -> None:
    limits = Limits(per_minute=1_000, per_hour=100_000, per_user_hour=100)
    demands = [Demand(7, at(8), at(12), 300), Demand(7, at(10), at(14), 300)]
    c = assess(demands, limits)
    assert c.owner_ceiling == 600  # six clock hours (8-14) × 100
    assert c.shortfall == 0
    assert assess(demands, Limits(1_000, 100_000, 99)).shortfall == 6


def test_the_global_hourly_limit_is_shared_by_owners_in_the_same_hours() -> None:
    limits = Limits(per_minute=1_000, per_hour=150, per_user_hour=100)
    # Two owners, 8-10 and 9-11: hours 8, 9, 10 have 1, 2, 1 owners → 100 + 150 + 100.
    demands = [Demand(1, at(8), at(10), 200), Demand(2, at(9), at(11), 200)]
    c = assess(demands, limits)
    assert (c.hourly_ceiling, c.owner_ceiling, c.shortfall) == (350, 400, 50)
    assert c.needed == Limits(per_minute=1_000, per_hour=200, per_user_hour=100)


def test_nothing_to_send() -> None:
    c = assess([Demand(1, at(8), at(18), 0), Demand(2, at(18), at(8), 50)], SEED)
    assert (c.demand, c.shortfall) == (0, 0)
    assert c.needed == SEED


@pytest.mark.django_db
def test_the_command_reports_the_shortfall_and_the_limits_that_fit(make_mailbox: Any) -> None:
    make_mailbox(), make_mailbox()  # not planned yet: 30 each (the floor), 08-18 UTC
    out = io.StringIO()
    call_command("warmup_capacity", stdout=out)
    assert "Today's quotas fit: 60 of at most 60." in out.getvalue()
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("warmup_capacity", "--user-hourly", "1", stdout=out)
    assert exit_.value.code == 3
    text = out.getvalue()
    assert "Shortfall: 50 sends (83.3% of today's quotas)" in text
    assert "WARMUP_USER_HOURLY_LIMIT=6  (now 1)" in text
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("warmup_capacity", "--user-hourly", "1", "--json", stdout=out)
    figures = json.loads(out.getvalue())
    assert (figures["demand"], figures["possible"], figures["shortfall"]) == (60, 10, 50)
    assert figures["needed"]["per_user_hour"] == 6
    with pytest.raises(CommandError, match="--minute must be at least 1"):
        call_command("warmup_capacity", "--minute", "0")


def test_limits_come_from_the_configuration_one_way() -> None:
    config = WarmupConfig(global_minute_limit=7, global_hourly_limit=70, user_hourly_limit=5)
    assert Limits.from_config(config) == Limits(per_minute=7, per_hour=70, per_user_hour=5)
