"""What the operator dashboard (admin) shows besides a Reading: the sends-per-hour chart
of the last 24 hours, from the per-minute send counts, drawn server-side as SVG, so the
page needs no script and no CDN."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Sum
from django.db.models.functions import TruncHour

from warmup.models import SendCount, SendStatus

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
    """One bar per clock hour of the last 24 (the current one so far): sends accepted
    and failed in it."""
    top = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    first = top - dt.timedelta(hours=HOURS)
    counts: dict[dt.datetime, dict[str, int]] = {}
    for row in (
        SendCount.objects.filter(
            minute__gte=first,
            minute__lt=top,
            status__in=(SendStatus.SENT, SendStatus.FAILED),
        )
        .annotate(hour=TruncHour("minute", tzinfo=dt.UTC))
        .values("hour", "status")
        .annotate(n=Sum("count"))
        .order_by()
    ):
        counts.setdefault(row["hour"], {})[row["status"]] = row["n"]
    per_hour = {
        hour: (by.get(SendStatus.SENT, 0), by.get(SendStatus.FAILED, 0))
        for hour, by in counts.items()
    }
    hours = [first + dt.timedelta(hours=n) for n in range(HOURS)]
    values = [per_hour.get(hour, (0, 0)) for hour in hours]  # an hour without sends: 0
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
