"""Attempts counted as they are recorded, for the metrics: lifetime totals by outcome
(SendTotal, the `warmup_sends_total` counter) and counts per minute (SendCount, the last
hour's throughput and failure rate and the dashboard's hourly chart), so a scrape reads a
few dozen rows instead of counting a day's send log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from warmup import sql


def count_attempts(now: dt.datetime, outcomes: Mapping[str, int]) -> None:
    """Add `outcomes` (status → attempts) to both counters. Call inside the transaction
    that records them, last: rows are taken in status order, so concurrent recorders
    queue for these few shared rows instead of deadlocking, and hold them briefly."""
    rows = sorted((str(status), n) for status, n in outcomes.items() if n)
    if not rows:
        return
    sql.add_send_counts(now.replace(second=0, microsecond=0), rows)
