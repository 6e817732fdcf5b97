"""Planning: each enabled, active mailbox gets its local day's send slots, once.

A mailbox's day is planned when its DailyStat row for that local date exists; the slots
(SendLog rows) and that row go in together, with ON CONFLICT DO NOTHING, so planning
twice, or on several workers at once, changes nothing. In the steady state a cycle finds
no mailbox to plan with one anti-join; the work comes when a time zone's day begins.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Case, DateField, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce

from accounts import status as mailbox_status
from accounts.models import Mailbox, OwnerPlan
from accounts.sql import timezones_in_use
from warmup import partitions
from warmup.engine import pacing
from warmup.models import DailyStat
from warmup.sql import SlotRow, insert_slots

PLAN_BATCH = 2000  # mailboxes per transaction
DEFAULT_PLAN_CAP = OwnerPlan._meta.get_field("max_daily_quota").default

_PLAN_FIELDS = (
    "id",
    "owner_id",
    "timezone",
    "start_volume",
    "daily_increase",
    "daily_max",
    "window_start_hour",
    "window_end_hour",
    "window_weekdays",
    "warmup_started_on",
    "ramp_held_since",
)


@dataclass(frozen=True)
class PlanResult:
    mailboxes: int
    slots: int
    topped_up: int = 0


def local_dates(now: dt.datetime, timezones: Iterable[str]) -> dict[str, dt.date]:
    return {tz: now.astimezone(zoneinfo.ZoneInfo(tz)).date() for tz in timezones}


def on_local_today(
    now: dt.datetime, timezones: Iterable[str], zone_field: str = "mailbox__timezone"
) -> Q:
    """DailyStat rows of each mailbox's own local today. Zones are grouped by their local
    date (two or three dates at any instant), so the filter is a few `date = d AND
    timezone IN (…)` terms the date index serves, and one term when every zone is on the
    same date."""
    by_date: dict[dt.date, list[str]] = {}
    for tz, day in local_dates(now, timezones).items():
        by_date.setdefault(day, []).append(tz)
    if len(by_date) <= 1:
        return Q(date=next(iter(by_date), now.date()))
    today = Q()
    for day, zones in by_date.items():
        today |= Q(date=day, **{f"{zone_field}__in": zones})
    return today


def local_date_expression(dates: dict[str, dt.date], field: str = "timezone") -> Case:
    """SQL for "the mailbox's local date": one WHEN per time zone in use (a few hundred
    at most), so the query needs none of the database's time zone tables."""
    return Case(
        *(When(**{field: tz}, then=Value(day)) for tz, day in dates.items()),
        output_field=DateField(),
    )


def plan_cap_of(owner: str = "owner") -> Coalesce:
    """The owner's plan cap on a mailbox's daily sends (the default plan's when it has
    none), through the `owner` path of the queryset's model."""
    return Coalesce(f"{owner}__plan__max_daily_quota", Value(DEFAULT_PLAN_CAP))


def sending_mailboxes() -> QuerySet[Mailbox]:
    return Mailbox.objects.filter(warmup_enabled=True, status=mailbox_status.ACTIVE)


def unplanned_mailboxes(now: dt.datetime) -> list[dict[str, Any]]:
    timezones = timezones_in_use()
    if not timezones:
        return []
    dates = local_dates(now, timezones)
    planned = DailyStat.objects.filter(mailbox=OuterRef("pk"), date=OuterRef("local_date"))
    return list(
        sending_mailboxes()
        .annotate(
            local_date=local_date_expression(dates),
            plan_cap=plan_cap_of(),
        )
        .filter(~Exists(planned))
        .order_by("id")
        .values(*_PLAN_FIELDS, "local_date", "plan_cap")
    )


def day_quota(box: dict[str, Any], floor: int) -> int:
    """The quota of one mailbox's local day (0 on a day it does not send), from the row
    `unplanned_mailboxes` returns."""
    day: dt.date = box["local_date"]
    if not pacing.sends_on(day, box["window_weekdays"]):
        return 0
    started = box["warmup_started_on"] or day
    # While its server or domain is listed (warmup.reputation) the ramp stays where it
    # was on the day the listing was seen: no daily increase.
    held = box.get("ramp_held_since")
    ramp_day = min(day, held) if held else day
    return pacing.daily_quota(
        start_volume=box["start_volume"],
        daily_increase=box["daily_increase"],
        daily_max=box["daily_max"],
        plan_cap=box["plan_cap"],
        floor=floor,
        day_number=(ramp_day - started).days,
    )


def day_plan(
    box: dict[str, Any], now: dt.datetime, floor: int, margin: dt.timedelta
) -> tuple[int, list[dt.datetime]]:
    """(quota, slot times) of one mailbox's local day, from the row `unplanned_mailboxes`
    returns. Planned late (the mailbox was just enabled), the slots spread over what is
    left of the window; planned after it closed, the day has none."""
    day: dt.date = box["local_date"]
    quota = day_quota(box, floor)
    if not quota:
        return 0, []
    window = pacing.sending_window(
        day, box["timezone"], box["window_start_hour"], box["window_end_hour"]
    ).ending_early(margin)
    # The day's own slots leave the last tenth of the window to replacements (top_up),
    # so a send that fails late still has time to be made good.
    window = window.ending_early(window.length / 10)
    if now > window.start:
        window = pacing.Window(now, window.end)
        if window.length <= dt.timedelta(0):
            return 0, []
    return quota, pacing.slot_times(window, quota, pacing.slot_rng(box["id"], day))


def plan_cycle(now: dt.datetime, *, floor: int, margin: dt.timedelta) -> PlanResult:
    """Plan the mailboxes whose local day has no plan yet, and top up today's short days.
    `margin` (the time between two cycles) is kept free at the end of each window, so the
    last slots are still claimed inside it."""
    partitions.ensure_around(now)  # the days' partitions before their rows (free once made)
    boxes = unplanned_mailboxes(now)
    slots = 0
    for start in range(0, len(boxes), PLAN_BATCH):
        batch = boxes[start : start + PLAN_BATCH]
        logs: list[SlotRow] = []
        stats: list[DailyStat] = []
        for box in batch:
            quota, times = day_plan(box, now, floor, margin)
            stats.append(
                DailyStat(
                    mailbox_id=box["id"], date=box["local_date"], quota=quota, reserved=len(times)
                )
            )
            logs.extend((box["id"], box["local_date"], n, at) for n, at in enumerate(times))
        with transaction.atomic():
            insert_slots(logs, now)
            DailyStat.objects.bulk_create(stats, batch_size=5000, ignore_conflicts=True)
        slots += len(logs)
    return PlanResult(mailboxes=len(boxes), slots=slots, topped_up=top_up(now, margin))


def top_up(now: dt.datetime, margin: dt.timedelta) -> int:
    """Replacement slots for today's sends that failed or ended unknown, so the quota of
    accepted sends is still reached, spread over what is left of the window.

    reserved counts the day's slots; those still live are reserved - sent - failed -
    unknown, so missing = quota - sent - live = quota - reserved + failed + unknown. The
    cap counts what may have been delivered (sent + unknown + live), so a day never gets
    more than cap - (reserved - failed) new slots."""
    timezones = timezones_in_use()
    if not timezones:
        return 0
    today = local_date_expression(local_dates(now, timezones), field="mailbox__timezone")
    short = list(
        DailyStat.objects.filter(
            quota_met=False,
            mailbox__warmup_enabled=True,
            mailbox__status=mailbox_status.ACTIVE,
        )
        .annotate(today=today, missing=F("quota") - F("reserved") + F("failed") + F("unknown"))
        .filter(date=F("today"), missing__gt=0)
        .values_list("id", flat=True)
    )
    if not short:
        return 0
    added = 0
    with transaction.atomic():
        # Locked and re-read: a concurrent planner skips these rows, and the counters
        # used below are the committed ones.
        rows = list(
            DailyStat.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(id__in=short)
            .select_related("mailbox")
            .annotate(plan_cap=plan_cap_of("mailbox__owner"))
        )
        logs: list[SlotRow] = []
        changed: list[DailyStat] = []
        for row in rows:
            box = row.mailbox
            cap = min(box.daily_max, row.plan_cap)
            n = min(
                row.quota - row.reserved + row.failed + row.unknown,
                cap - (row.reserved - row.failed),
            )
            window = pacing.sending_window(
                row.date, box.timezone, box.window_start_hour, box.window_end_hour
            ).ending_early(margin)
            window = pacing.Window(max(now, window.start), window.end)
            if n <= 0 or window.length <= dt.timedelta(0):
                continue
            rng = random.Random(f"{box.id}:{row.date.isoformat()}:{row.reserved}")
            times = pacing.slot_times(window, n, rng)
            logs.extend((box.id, row.date, row.reserved + i, at) for i, at in enumerate(times))
            row.reserved += n
            changed.append(row)
        DailyStat.objects.bulk_update(changed, ["reserved"], batch_size=1000)
        insert_slots(logs, now)
        added = len(logs)
    return added
