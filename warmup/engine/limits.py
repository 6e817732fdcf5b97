"""Rate budgets shared by every worker: global per minute and per hour, per owner per hour.

Budgets are reserved in the claim's transaction: the window rows are created if missing,
locked in one fixed order (so two claimers never deadlock), read, and written back with
what this claim takes. What a budget does not allow stays planned for a later claim.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from warmup import sql
from warmup.models import RateWindow
from warmup_project.config import WarmupConfig

GLOBAL_MINUTE = "global:minute"
GLOBAL_HOUR = "global:hour"


def user_hour_key(owner_id: int) -> str:
    return f"user:{owner_id}:hour"


@dataclass(frozen=True)
class Limits:
    per_minute: int
    per_hour: int
    per_user_hour: int

    @classmethod
    def from_config(cls, config: WarmupConfig) -> Limits:
        """WARMUP_GLOBAL_MINUTE_LIMIT, WARMUP_GLOBAL_HOURLY_LIMIT, WARMUP_USER_HOURLY_LIMIT."""
        return cls(
            per_minute=config.global_minute_limit,
            per_hour=config.global_hourly_limit,
            per_user_hour=config.user_hourly_limit,
        )


def window_starts(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    minute = now.replace(second=0, microsecond=0)
    return minute, minute.replace(minute=0)


def grant(
    owners: Sequence[int],
    *,
    minute_left: int,
    hour_left: int,
    user_left: dict[int, int],
) -> list[bool]:
    """Which of the candidate sends (given by owner, in priority order) fit the budgets.
    Pure: `reserve_budget` feeds it what the locked windows have left."""
    granted = []
    user_left = dict(user_left)
    for owner in owners:
        ok = minute_left > 0 and hour_left > 0 and user_left.get(owner, 0) > 0
        if ok:
            minute_left -= 1
            hour_left -= 1
            user_left[owner] -= 1
        granted.append(ok)
    return granted


def reserve_budget(now: dt.datetime, owners: Sequence[int], limits: Limits) -> list[bool]:
    """Reserve one send per candidate that the budgets allow. Call inside the claim's
    transaction: the window rows stay locked until it commits."""
    if not owners:
        return []
    minute, hour = window_starts(now)
    wanted = [(GLOBAL_MINUTE, minute), (GLOBAL_HOUR, hour)] + [
        (user_hour_key(owner), hour) for owner in sorted(set(owners))
    ]
    windows = RateWindow.objects.filter(
        key__in={key for key, _ in wanted}, window_start__in={minute, hour}
    )
    # Only the windows not there yet are inserted, before any is locked (a claim that
    # held some and waited on another's insert could deadlock): most claims of an hour
    # find them all, and inserting every owner's window (ON CONFLICT DO NOTHING) cost
    # 10-30 ms a claim.
    existing = set(windows.values_list("key", "window_start"))
    missing = [window for window in wanted if window not in existing]
    if missing:
        sql.create_rate_windows(missing)
    rows = {
        (key, start): (row_id, used)
        for row_id, key, start, used in windows.select_for_update()
        .order_by("key", "window_start")
        .values_list("id", "key", "window_start", "used")
    }
    minute_row = rows[(GLOBAL_MINUTE, minute)]
    hour_row = rows[(GLOBAL_HOUR, hour)]
    user_rows = {owner: rows[(user_hour_key(owner), hour)] for owner in set(owners)}
    granted = grant(
        owners,
        minute_left=limits.per_minute - minute_row[1],
        hour_left=limits.per_hour - hour_row[1],
        user_left={o: limits.per_user_hour - used for o, (_, used) in user_rows.items()},
    )
    taken = [owner for owner, ok in zip(owners, granted, strict=True) if ok]
    if taken:
        changed = [
            (minute_row[0], minute_row[1] + len(taken)),
            (hour_row[0], hour_row[1] + len(taken)),
        ]
        for owner, count in Counter(taken).items():
            row_id, used = user_rows[owner]
            changed.append((row_id, used + count))
        sql.update_rows(RateWindow, ("id", "used"), changed)
    return granted
