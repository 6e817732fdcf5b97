"""Property tests of the warmup arithmetic (no database)."""

import datetime as dt
import random
import zoneinfo

from hypothesis import given, settings
from hypothesis import strategies as st

from warmup.engine import pacing

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/St_Johns",
]

counts = st.integers(min_value=0, max_value=500)


@given(
    start=counts,
    increase=counts,
    daily_max=counts,
    plan_cap=counts,
    floor=st.integers(0, 100),
    day=st.integers(-5, 400),
)
def test_quota_between_floor_and_cap(start, increase, daily_max, plan_cap, floor, day):
    quota = pacing.daily_quota(
        start_volume=start,
        daily_increase=increase,
        daily_max=daily_max,
        plan_cap=plan_cap,
        floor=floor,
        day_number=day,
    )
    cap = min(daily_max, plan_cap)
    assert quota <= cap
    if cap >= floor:
        assert quota >= floor
    assert quota == min(cap, max(floor, start + increase * max(day, 0)))


def test_quota_ramps_then_holds():
    quotas = [
        pacing.daily_quota(
            start_volume=10, daily_increase=5, daily_max=50, plan_cap=100, floor=30, day_number=d
        )
        for d in range(12)
    ]
    assert quotas == [30, 30, 30, 30, 30, 35, 40, 45, 50, 50, 50, 50]


windows = st.tuples(st.integers(0, 23), st.integers(1, 24)).filter(lambda w: w[0] < w[1])


@settings(max_examples=300)
@given(
    day=st.dates(dt.date(2020, 1, 1), dt.date(2035, 12, 31)),
    zone=st.sampled_from(ZONES),
    window=windows,
    quota=st.integers(0, 400),
    seed=st.integers(),
)
def test_slots_fill_the_window(day, zone, window, quota, seed):
    w = pacing.sending_window(day, zone, *window)
    times = pacing.slot_times(w, quota, random.Random(seed))
    assert len(times) == quota  # the window's slots sum to the quota
    assert all(w.start <= t < w.end for t in times)
    assert times == sorted(times)
    tz = zoneinfo.ZoneInfo(zone)
    for t in times:  # on the local date, between the local hours
        local = t.astimezone(tz)
        assert local.date() == day
        assert window[0] <= local.hour < window[1]


def test_dst_days_are_23_and_25_hours():
    ny_spring = pacing.sending_window(dt.date(2026, 3, 8), "America/New_York", 0, 24)
    ny_autumn = pacing.sending_window(dt.date(2026, 11, 1), "America/New_York", 0, 24)
    berlin_spring = pacing.sending_window(dt.date(2026, 3, 29), "Europe/Berlin", 0, 24)
    berlin_autumn = pacing.sending_window(dt.date(2026, 10, 25), "Europe/Berlin", 0, 24)
    assert ny_spring.length == dt.timedelta(hours=23)
    assert ny_autumn.length == dt.timedelta(hours=25)
    assert berlin_spring.length == dt.timedelta(hours=23)
    assert berlin_autumn.length == dt.timedelta(hours=25)


def test_window_across_a_spring_forward_gap():
    # 01:00–04:00 local on the day 02:00 does not exist in New York: 2 real hours.
    w = pacing.sending_window(dt.date(2026, 3, 8), "America/New_York", 1, 4)
    assert w.length == dt.timedelta(hours=2)
    # a window that starts inside the gap starts when the clocks jump to 03:00
    gap = pacing.sending_window(dt.date(2026, 3, 8), "America/New_York", 2, 4)
    assert gap.start == dt.datetime(2026, 3, 8, 7, 0, tzinfo=dt.UTC)  # 03:00 EDT
    times = pacing.slot_times(gap, 30, random.Random(1))
    assert len(times) == 30 and all(gap.start <= t < gap.end for t in times)


def test_window_in_berlin_is_local_hours():
    w = pacing.sending_window(dt.date(2026, 7, 1), "Europe/Berlin", 8, 18)
    assert w.start == dt.datetime(2026, 7, 1, 6, 0, tzinfo=dt.UTC)
    assert w.length == dt.timedelta(hours=10)


@given(quota=st.integers(1, 300), seed=st.integers())
def test_slots_do_not_bunch(quota, seed):
    w = pacing.sending_window(dt.date(2026, 6, 1), "UTC", 8, 18)
    times = pacing.slot_times(w, quota, random.Random(seed))
    share = w.length / quota
    for i, t in enumerate(times):  # slot i lies in its own share of the window
        assert w.start + share * i <= t < w.start + share * (i + 1) + dt.timedelta(microseconds=1)


def test_same_mailbox_and_day_same_schedule():
    w = pacing.sending_window(dt.date(2026, 6, 1), "UTC", 8, 18)
    a = pacing.slot_times(w, 30, pacing.slot_rng(7, dt.date(2026, 6, 1)))
    b = pacing.slot_times(w, 30, pacing.slot_rng(7, dt.date(2026, 6, 1)))
    c = pacing.slot_times(w, 30, pacing.slot_rng(8, dt.date(2026, 6, 1)))
    assert a == b != c


@given(weekdays=st.integers(1, 127), day=st.dates())
def test_weekday_mask(weekdays, day):
    assert pacing.sends_on(day, weekdays) == bool(weekdays >> day.weekday() & 1)


@given(minutes=st.integers(-60, 14 * 60), quota=st.integers(1, 200), sent=st.integers(0, 200))
def test_lag_is_pace_minus_sent(minutes, quota, sent):
    w = pacing.sending_window(dt.date(2026, 6, 1), "UTC", 8, 18)
    now = w.start + dt.timedelta(minutes=minutes)
    expected = pacing.expected_by(now, w, quota)
    assert 0 <= expected <= quota
    assert pacing.lag(now, w, quota, sent) == expected - sent
    if now >= w.end:
        assert expected == quota


@given(attempt=st.integers(1, 50), seed=st.integers())
def test_backoff_grows_and_is_capped(attempt, seed):
    delay = pacing.backoff(attempt, random.Random(seed), base_s=60, cap_s=3600)
    ceiling = min(3600, 60 * 2 ** (attempt - 1))
    assert dt.timedelta(seconds=ceiling / 2) <= delay <= dt.timedelta(seconds=ceiling)
