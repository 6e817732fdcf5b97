"""Percentiles of a benchmark's timings, one definition for every script."""

from __future__ import annotations

import math
import statistics


def p50_p95(times: list[float]) -> tuple[float, float]:
    """The median and the 95th percentile (nearest rank) of `times`."""
    ordered = sorted(times)
    return statistics.median(ordered), ordered[math.ceil(0.95 * len(ordered)) - 1]
