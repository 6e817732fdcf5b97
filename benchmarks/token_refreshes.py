"""Token refreshes per minute over a day of 100,000 `oauth2` mailboxes whose tokens were all
issued at the same moment (a bulk connection at midnight): the worst case for bursts.

Each mailbox uses its token at each of its sends (the planner's own slot times: its window,
its time zone, `pacing.slot_times` with its seeded jitter) and at each engagement login
(every WARMUP_CRON_INTERVAL_MINUTES, from a phase of its own). A use at or after the
token's `refresh_after` refreshes it, as accounts.tokens does, and the new token's
`refresh_after` comes from `tokens.refresh_after` itself. Run twice: as built (the refresh
drawn per token in the last half of its life), and with the refresh drawn in the last tenth
only, to show what the spread buys.

Usage (no database needed):
    .venv/bin/python benchmarks/token_refreshes.py [--mailboxes 100000] [--lifetime 3600]
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "warmup_project.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from accounts import oauth, tokens  # noqa: E402
from warmup.engine import pacing  # noqa: E402
from warmup.engine.simulate import WINDOWS  # noqa: E402

DAY = dt.date(2026, 12, 2)
ISSUED = dt.datetime(2026, 12, 2, 0, 0, tzinfo=dt.UTC)
TIMEZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "America/Los_Angeles"]
QUOTA = 30
ENGAGE_EVERY = dt.timedelta(minutes=15)


def uses_of(mailbox_id: int, rng: random.Random) -> list[dt.datetime]:
    """When mailbox `mailbox_id` logs in on DAY (UTC): its sends and its engagement."""
    start, end = WINDOWS[mailbox_id % len(WINDOWS)]
    zone = TIMEZONES[mailbox_id % len(TIMEZONES)]
    window = pacing.sending_window(DAY, zone, start, end)
    sends = pacing.slot_times(window, QUOTA, pacing.slot_rng(mailbox_id, DAY))
    phase = ENGAGE_EVERY * rng.random()
    engage = [ISSUED + phase + ENGAGE_EVERY * n for n in range(96)]
    return list(heapq.merge(sends, engage))


def simulate(mailboxes: int, lifetime: dt.timedelta, spread: float) -> Counter[int]:
    """Refreshes per minute of DAY (minute 0 = 00:00 UTC)."""
    tokens.SPREAD = spread
    rng = random.Random(7)
    random.seed(11)  # tokens.refresh_after draws from the module's generator
    per_minute: Counter[int] = Counter()
    for mailbox_id in range(1, mailboxes + 1):
        grant = oauth.Grant("t", ISSUED + lifetime)
        refresh_after = tokens.refresh_after(grant, ISSUED)
        for use in uses_of(mailbox_id, rng):
            if use >= refresh_after:
                minute = int((use - ISSUED).total_seconds() // 60)
                if minute >= 24 * 60:
                    break
                per_minute[minute] += 1
                grant = oauth.Grant("t", use + lifetime)
                refresh_after = tokens.refresh_after(grant, use)
    return per_minute


def describe(name: str, per_minute: Counter[int]) -> None:
    counts = [per_minute.get(m, 0) for m in range(24 * 60)]
    total = sum(counts)
    ordered = sorted(counts)
    worst = max(range(len(counts)), key=counts.__getitem__)
    first_hour = counts[:120]
    print(
        f"{name}: {total:,} refreshes in the day, {total / 1440:,.0f}/min on average; "
        f"busiest minute {counts[worst]:,} at {worst // 60:02d}:{worst % 60:02d} UTC "
        f"({counts[worst] / (total / 1440):.1f}× the average), p99 minute "
        f"{ordered[int(0.99 * len(ordered))]:,}; first two hours: busiest minute "
        f"{max(first_hour):,}, quietest {min(first_hour):,}"
    )
    hours = [sum(counts[h * 60 : (h + 1) * 60]) for h in range(24)]
    print(f"  per hour: {', '.join(f'{n:,}' for n in hours)}")
    busiest_after = max(counts[180:])
    print(
        f"  from 03:00 on: busiest minute {busiest_after:,} "
        f"({busiest_after / (sum(counts[180:]) / len(counts[180:])):.1f}× that part's average)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, default=100_000)
    parser.add_argument("--lifetime", type=int, default=3600, help="access token life, s")
    args = parser.parse_args()
    lifetime = dt.timedelta(seconds=args.lifetime)
    built = tokens.SPREAD
    for name, spread in ((f"as built (SPREAD {built})", built), ("SPREAD 0.1", 0.1)):
        started = time.perf_counter()
        per_minute = simulate(args.mailboxes, lifetime, spread)
        describe(name, per_minute)
        print(f"  ({time.perf_counter() - started:.0f} s to simulate)", flush=True)


if __name__ == "__main__":
    main()
