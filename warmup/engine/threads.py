"""Conversations: how long a thread runs, when each turn is answered, and its chain.

A thread is a new message (turn 1) and the replies that follow it, each from the other
side. Whether turn 1 gets a reply at all is the receiver's reply rate; how long the thread
then runs is drawn once per thread from WARMUP_THREAD_TURNS, seeded by the thread's id
(the first message's Message-ID), so every engagement pass, on any worker, agrees. A
reply is due after a human delay (minutes mostly, hours sometimes) inside the replier's
sending window of the day.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from django.db import connection

from warmup import sql
from warmup.engine import pacing

# The human delay before a reply: log-normal around a median of 25 minutes, so about three
# quarters go out within the hour and one in twenty after three hours or more.
DELAY_MEDIAN = dt.timedelta(minutes=25)
DELAY_SIGMA = 1.2
DELAY_MIN = dt.timedelta(minutes=2)
DELAY_MAX = dt.timedelta(hours=8)
# A reply is due this long before the replier's window closes at the latest, so a dispatch
# still claims it inside the window.
END_MARGIN = dt.timedelta(minutes=5)
# Longest chain followed: far above any configurable length; a guard, not a rule.
MAX_CHAIN = 64
# Where a reply's original may lie, in days around the reply's own day: seen at most
# engage.REPLY_LOOKBACK (3 days) before the reply is planned, sent at most
# engage.RECEIVED_WINDOW (7 days) before it was seen, and each day a local date of its own
# mailbox (time zones from UTC−12 to UTC+14, 26 hours apart: at one moment two mailboxes'
# dates differ by up to 2 days). Links are followed within these days only (the send
# log's partitions of those days).
ORIGINAL_DAYS_BEFORE = dt.timedelta(days=12)
ORIGINAL_DAYS_AFTER = dt.timedelta(days=2)


def thread_length(thread_id: str, turns: Sequence[tuple[int, int]]) -> int:
    """Messages the thread runs to, first included: a draw from `turns` (length, weight)
    fixed by the thread."""
    lengths, weights = zip(*turns, strict=True)
    return random.Random(f"thread:{thread_id}").choices(lengths, weights)[0]


def reply_delay(rng: random.Random) -> dt.timedelta:
    minutes = rng.lognormvariate(math.log(DELAY_MEDIAN / dt.timedelta(minutes=1)), DELAY_SIGMA)
    return min(max(dt.timedelta(minutes=minutes), DELAY_MIN), DELAY_MAX)


def reply_at(now: dt.datetime, window: pacing.Window, rng: random.Random) -> dt.datetime | None:
    """When a reply seen at `now` goes out: a human delay after now (after the window opens,
    when seen before it), inside the window. A delay that would run past the window's end
    is drawn again, evenly over what is left of it (no burst at the end). None when the
    window is over: the reply belongs to the replier's day and its cap, and engagement
    files the message, so that turn ends the thread."""
    latest = window.end - END_MARGIN
    start = max(now, window.start)
    if start >= latest:
        return None
    at = start + reply_delay(rng)
    if at > latest:
        at = start + (latest - start) * rng.random()
    return at


class Turn(NamedTuple):
    """One message of a thread, as a reply to it needs it."""

    id: int
    sender_id: int
    day: dt.date
    slot_no: int
    message_id: str
    thread_id: str
    sent_at: dt.datetime | None
    # Its sender, for the quote of a reply (content.body_text writes the text again).
    sender_email: str
    sender_name: str
    sender_language: str
    sender_timezone: str


def originals_of(reply_days: Iterable[dt.date]) -> tuple[dt.date, dt.date]:
    """The days the originals of replies of these days can have (first, last)."""
    days = list(reply_days)
    if not days:  # no replies, no originals to look for
        return dt.date.min, dt.date.min
    return min(days) - ORIGINAL_DAYS_BEFORE, max(days) + ORIGINAL_DAYS_AFTER


def chains(slot_ids: Iterable[int], days: tuple[dt.date, dt.date]) -> dict[int, list[Turn]]:
    """Each send's thread up to it, first message first (its turn = the list's length): one
    statement for them all, following in_reply_to by primary key (a few rows each). The
    sends' days lie within `days` (first, last): the send log's partitions of those days
    are read, not all 90."""
    ids = sorted(set(slot_ids))
    if not ids:
        return {}
    out: dict[int, list[Turn]] = {i: [] for i in ids}
    with connection.cursor() as cursor:
        cursor.execute(
            sql.THREAD_CHAINS,
            [ids, *days, ORIGINAL_DAYS_BEFORE.days, ORIGINAL_DAYS_AFTER.days, MAX_CHAIN],
        )
        for start_id, *turn in cursor.fetchall():
            out[start_id].append(Turn(*turn))
    return out
