"""What the operator dashboard (admin) shows besides a Reading: the sends-per-hour chart
of the last 24 hours, drawn server-side as SVG from the metric snapshots (each holds the
sends and failures of the hour before it), so the page needs no script and no CDN."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from metrics.models import MetricSnapshot

HOURS = 24
WIDTH, HEIGHT, BOTTOM = 720, 200, 20  # the SVG's size and the room for hour labels


@dataclass(frozen=True)
class Bar:
    hour: dt.datetime  # the hour's end
    sent: int
    failed: int
    x: float
    width: float
    sent_y: float
    sent_height: float
    failed_y: float
    failed_height: float
    label: str


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    peak: int
    width: int = WIDTH
    height: int = HEIGHT
    plot_height: int = HEIGHT - BOTTOM


def hourly_chart(now: dt.datetime) -> Chart:
    """One bar per hour of the last 24: the last snapshot taken in each hour gives the
    sends and failures of the 60 minutes before it. An hour with no snapshot is empty."""
    top = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    first = top - dt.timedelta(hours=HOURS)
    last_in_hour: dict[dt.datetime, tuple[int, int]] = {}
    for taken_at, sent, detail in (
        MetricSnapshot.objects.filter(taken_at__gte=first, taken_at__lt=top)
        .order_by("taken_at")
        .values_list("taken_at", "throughput_per_hour", "detail")
    ):
        hour = taken_at.replace(minute=0, second=0, microsecond=0)
        last_in_hour[hour] = (sent, int((detail or {}).get("failed_last_hour", 0)))
    hours = [first + dt.timedelta(hours=n) for n in range(HOURS)]
    values = [last_in_hour.get(hour, (0, 0)) for hour in hours]
    peak = max((sent + failed for sent, failed in values), default=0)
    plot = HEIGHT - BOTTOM
    slot = WIDTH / HOURS
    bars = []
    for n, (hour, (sent, failed)) in enumerate(zip(hours, values, strict=True)):
        scale = plot / peak if peak else 0
        sent_h, failed_h = sent * scale, failed * scale
        bars.append(
            Bar(
                hour=hour + dt.timedelta(hours=1),
                sent=sent,
                failed=failed,
                x=round(n * slot + 2, 1),
                width=round(slot - 4, 1),
                sent_y=round(plot - sent_h, 1),
                sent_height=round(sent_h, 1),
                failed_y=round(plot - sent_h - failed_h, 1),
                failed_height=round(failed_h, 1),
                label=f"{hour:%H}",
            )
        )
    return Chart(bars=bars, peak=peak)
