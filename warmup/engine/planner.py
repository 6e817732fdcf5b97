"""Planning: each enabled, active mailbox gets its local day's send slots, once.

A mailbox's day is planned when its DailyStat row for that local date exists; the slots
(SendLog rows) and that row go in together, with ON CONFLICT DO NOTHING, so planning
twice, or on several workers at once, changes nothing. Only the planner writes the row
of a day before it is planned: a mailbox joins the network (receives, and so gets a
received count) only once its own day is planned (warmup.engine.cycle.load_network).

Planning is a sweep over the mailboxes by id, in chunks of at most PLAN_CHUNK mailboxes
(one transaction each, a fraction of a second), so a worker plans between two claims
and never stops sending for long. Where the sweep has got is a database row (PlanSweep),
locked by the chunk under way: any worker or the plan task continues it, and two
planners never plan the same mailboxes at once. A sweep plans each mailbox's local
today if it has no plan (a mailbox just enabled) and its next local day once that
begins within PLAN_AHEAD, so the day is planned before it begins, time zones or not.
In the steady state a sweep finds nothing to plan, a few index probes per mailbox.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import (
    Case,
    Count,
    DateField,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from accounts import status as mailbox_status
from accounts.models import Mailbox, OwnerPlan
from accounts.sql import timezones_in_use
from warmup import partitions, sql
from warmup.engine import pacing
from warmup.models import DailyStat, PlanSweep

# Mailboxes planned per chunk (one transaction): 200 mailboxes of 30 sends, 6,000
# slots, take 0.1 s on an idle machine and 0.4 s on a busy one (benchmarks/plan_claim.py).
PLAN_CHUNK = 200
# Mailbox ids a chunk looks through at most: in the steady state, when nothing is to
# plan, a chunk is this many index probes, not a scan of every mailbox.
PLAN_SPAN = 20_000
# A mailbox's next local day is planned from this long before it begins: time for a
# sweep of every mailbox after the next plan cycle (a day of 1,000,000 mailboxes in one
# time zone took about 45 minutes of chunks on a shared 2-core machine).
PLAN_AHEAD = dt.timedelta(hours=3)
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
    swept: bool = True  # the sweep reached the last mailbox (a chunk: it was the last)
    late: int = 0  # mailboxes whose local day had begun unplanned (just enabled, say)


def local_dates(now: dt.datetime, timezones: Iterable[str]) -> dict[str, dt.date]:
    return {tz: pacing.local_date(now, tz) for tz in timezones}


def zones_by_local_date(now: dt.datetime, timezones: Iterable[str]) -> dict[dt.date, list[str]]:
    """The time zones grouped by the local date each is on at `now`."""
    by_date: dict[dt.date, list[str]] = {}
    for tz, day in local_dates(now, timezones).items():
        by_date.setdefault(day, []).append(tz)
    return by_date


def on_local_today(
    now: dt.datetime, timezones: Iterable[str], zone_field: str = "mailbox__timezone"
) -> Q:
    """DailyStat rows of each mailbox's own local today. Zones are grouped by their local
    date (two or three dates at any instant), so the filter is a few `date = d AND
    timezone IN (…)` terms the date index serves, and one term when every zone is on the
    same date."""
    by_date = zones_by_local_date(now, timezones)
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


def unplanned_mailboxes(
    now: dt.datetime,
    *,
    ahead: dt.timedelta = dt.timedelta(0),
    after: int = 0,
    upto: int | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Sending mailboxes (by id, in (after, upto], at most `limit`) whose local day at
    `now` or at `now + ahead` has no plan yet. Each row has the planner's fields,
    "local_date" (its local today) and "days": the dates to plan, today first."""
    timezones = timezones_in_use()
    if not timezones:
        return []
    today, later = local_dates(now, timezones), local_dates(now + ahead, timezones)
    boxes = sending_mailboxes().filter(id__gt=after)
    if upto is not None:
        boxes = boxes.filter(id__lte=upto)
    rows = (
        boxes.annotate(
            local_date=local_date_expression(today),
            ahead_date=local_date_expression(later),
            plan_cap=plan_cap_of(),
        )
        .alias(
            days_planned=_days_planned(),
            days_wanted=Case(When(local_date=F("ahead_date"), then=Value(1)), default=Value(2)),
        )
        .filter(days_planned__lt=F("days_wanted"))
        .order_by("id")
        .values(*_PLAN_FIELDS, "local_date", "ahead_date", "plan_cap")
    )
    found = list(rows[:limit] if limit is not None else rows)
    planned = set(
        DailyStat.objects.filter(
            mailbox_id__any=[box["id"] for box in found],
            date__in={*today.values(), *later.values()},
        ).values_list("mailbox_id", "date")
    )
    for box in found:
        days = {box["local_date"], box.pop("ahead_date")}
        box["days"] = sorted(d for d in days if (box["id"], d) not in planned)
    return found


def _days_planned() -> Coalesce:
    """How many of a mailbox's local dates today and ahead (one date or two) have a plan
    (a DailyStat row): a count, so PostgreSQL looks each mailbox's rows up in the
    (mailbox, date) index. As EXISTS, it hashed the whole DailyStat table (every day
    kept, 90 of them) four times per chunk: 180 ms of a chunk's 181 at 100,000
    mailboxes on the day's second day."""
    rows = DailyStat.objects.filter(
        Q(date=OuterRef("local_date")) | Q(date=OuterRef("ahead_date")), mailbox=OuterRef("pk")
    )
    count = rows.order_by().values("mailbox").annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(count, output_field=IntegerField()), 0)


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
    """A whole sweep at once, then the top-up: what a plan cycle leaves planned, for the
    simulator's checks, tests and benchmarks. Workers plan chunk by chunk between their
    claims instead (warmup.engine.cycle)."""
    start_sweep(now)
    mailboxes = slots = late = 0
    while (chunk := plan_chunk(now, floor=floor, margin=margin)) is not None:
        mailboxes, slots, late = mailboxes + chunk.mailboxes, slots + chunk.slots, late + chunk.late
        if chunk.swept:
            break
    return PlanResult(mailboxes, slots, topped_up=top_up(now, margin), late=late)


def start_sweep(now: dt.datetime) -> bool:
    """Begin a sweep over the mailboxes, unless one is under way (it goes on: it is
    never more than a sweep behind). True if this call began one. Never waits: a row
    locked by a chunk is a sweep under way."""
    PlanSweep.objects.get_or_create(id=PlanSweep.SINGLETON_ID)
    with transaction.atomic():
        sweep = (
            PlanSweep.objects.select_for_update(skip_locked=True)
            .filter(id=PlanSweep.SINGLETON_ID, next_mailbox_id__isnull=True)
            .first()
        )
        if sweep is None:
            return False
        sweep.next_mailbox_id, sweep.started_at = 0, now
        sweep.save(update_fields=["next_mailbox_id", "started_at"])
    return True


def plan_chunk(
    now: dt.datetime, *, floor: int, margin: dt.timedelta, limit: int | None = None
) -> PlanResult | None:
    """Plan the sweep's next chunk: up to `limit` mailboxes among the next PLAN_SPAN
    ids, in one transaction that also moves the sweep on. None when no sweep is under
    way or another planner's chunk is (it holds the sweep's row: this one does not wait).
    `margin` (the time between two cycles) is kept free at the end of each window, so
    the last slots are still claimed inside it."""
    partitions.ensure_around(now)  # the days' partitions before their rows (free once made)
    with transaction.atomic():
        sweep = (
            PlanSweep.objects.select_for_update(skip_locked=True)
            .filter(id=PlanSweep.SINGLETON_ID, next_mailbox_id__isnull=False)
            .first()
        )
        if sweep is None or sweep.next_mailbox_id is None:
            return None
        limit = limit or PLAN_CHUNK
        # The span starts at the next sending mailbox: ids left by deleted mailboxes
        # (or an id sequence far from 0) cost no chunk.
        after = sweep.next_mailbox_id
        following = sending_mailboxes().filter(id__gt=after).aggregate(first=Min("id"))["first"]
        upto = (following or after + 1) - 1 + PLAN_SPAN
        boxes = unplanned_mailboxes(now, ahead=PLAN_AHEAD, after=after, upto=upto, limit=limit)
        logs: list[sql.SlotRow] = []
        stats: list[DailyStat] = []
        for box in boxes:
            for day in box["days"]:
                quota, times = day_plan({**box, "local_date": day}, now, floor, margin)
                stats.append(
                    DailyStat(mailbox_id=box["id"], date=day, quota=quota, reserved=len(times))
                )
                logs.extend((box["id"], day, n, at) for n, at in enumerate(times))
        sql.insert_slots(logs, now)
        DailyStat.objects.bulk_create(stats, batch_size=5000, ignore_conflicts=True)
        # A full chunk may have left mailboxes in its span: the next one starts after it.
        reached = boxes[-1]["id"] if len(boxes) == limit else upto
        last = sending_mailboxes().aggregate(last=Max("id"))["last"] or 0
        swept = reached >= last
        sweep.next_mailbox_id = None if swept else reached
        if swept:
            sweep.finished_at = now
        sweep.save(update_fields=["next_mailbox_id", "finished_at"])
    late = sum(1 for box in boxes if box["local_date"] in box["days"])
    return PlanResult(mailboxes=len(boxes), slots=len(logs), swept=swept, late=late)


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
    dates = local_dates(now, timezones)
    today = local_date_expression(dates, field="mailbox__timezone")
    short = list(
        DailyStat.objects.filter(
            # The dates as constants too: the (date, quota_met) index finds the rows of
            # today's few dates, not every short day of the 90 kept.
            date__in=set(dates.values()),
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
            .filter(id__any=short)
            .select_related("mailbox")
            .annotate(plan_cap=plan_cap_of("mailbox__owner"))
        )
        logs: list[sql.SlotRow] = []
        reserved: list[tuple[int, int]] = []
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
            reserved.append((row.id, row.reserved + n))
        # One statement whatever the rows (bulk_update writes a CASE WHEN per row).
        sql.update_rows(DailyStat, ("id", "reserved"), reserved)
        sql.insert_slots(logs, now)
        added = len(logs)
    return added
