"""The engine's API: today's quotas, one mailbox's performance (the engine's control,
which shows the system's health, is metrics.api's).

Views read and present; what the engine does lives in warmup.engine (pacing.pace). A
user sees only their own mailboxes; staff see every owner's with the
`accounts.view_mailbox` permission."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.db.models import F, IntegerField, QuerySet
from django.db.models.functions import Greatest
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Mailbox
from accounts.sql import timezones_in_use
from warmup.engine import pacing
from warmup.engine.planner import on_local_today
from warmup.models import DailyStat
from warmup_project.api import (
    Pagination,
    RoundedFloat,
    bad_request,
    paginated,
    whole_number,
)
from warmup_project.db import db_now
from warmup_project.permissions import signed_in, staff_may

HISTORY_DAYS = 30


def _sees_every_owner(request: Request) -> bool:
    return staff_may(request.user, "accounts.view_mailbox")


def _owned(request: Request, boxes: QuerySet[Any], field: str = "owner") -> QuerySet[Any]:
    return boxes if _sees_every_owner(request) else boxes.filter(**{field: request.user})


def _choice(request: Request, name: str, choices: tuple[str, ...], default: str) -> str:
    value = request.query_params.get(name, default)
    if value not in choices:
        raise bad_request(f"must be one of {', '.join(choices)}, not {value[:30]!r}.", name)
    return value


# --- response shapes (the OpenAPI schema, and the output passes through them) ----------


@dataclass(frozen=True)
class Today:
    """A mailbox's DailyStat of its local today (its mailbox selected), judged at `now`."""

    stat: DailyStat
    now: dt.datetime

    @property
    def remaining(self) -> int:
        return max(self.stat.quota - self.stat.sent, 0)

    @cached_property
    def window(self) -> pacing.Window:
        box = self.stat.mailbox
        return pacing.sending_window(
            self.stat.date, box.timezone, box.window_start_hour, box.window_end_hour
        )

    @property
    def pace(self) -> str:
        return pacing.pace(self.now, self.window, self.stat.quota, self.stat.sent)

    @property
    def expected_by_now(self) -> int:
        return pacing.expected_by(self.now, self.window, self.stat.quota)


class QuotaOut(serializers.Serializer):  # a Today
    mailbox_id = serializers.IntegerField(source="stat.mailbox_id")
    email = serializers.EmailField(source="stat.mailbox.email")
    date = serializers.DateField(source="stat.date")
    quota = serializers.IntegerField(source="stat.quota")
    sent = serializers.IntegerField(source="stat.sent")
    remaining = serializers.IntegerField()
    failed = serializers.IntegerField(source="stat.failed")
    pace = serializers.ChoiceField(choices=("met", "ahead", "on_pace", "behind"))
    expected_by_now = serializers.IntegerField()
    quota_met = serializers.BooleanField(source="stat.quota_met")
    streak = serializers.IntegerField(source="stat.streak")


class DayOut(serializers.Serializer):
    date = serializers.DateField()
    quota = serializers.IntegerField()
    sent = serializers.IntegerField()
    failed = serializers.IntegerField()
    deferred = serializers.IntegerField()
    unknown = serializers.IntegerField()
    received = serializers.IntegerField()
    quota_met = serializers.BooleanField()


@extend_schema_field(DayOut(many=True))
class DaysField(serializers.Field):
    """DayOut's shape for the schema; at run time the rows (plain values already) are
    passed through, as a page of 50 mailboxes holds 1,500 of them."""

    def to_representation(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**day, "date": day["date"].isoformat()} for day in value]


@dataclass(frozen=True)
class Performance:
    """One mailbox, its Today (None before its day is planned), and its DailyStats of
    the last HISTORY_DAYS local days (plain values)."""

    box: Mailbox
    today: Today | None
    days: list[dict[str, Any]]

    @property
    def sent(self) -> int:
        return sum(d["sent"] for d in self.days)

    @property
    def failed(self) -> int:
        return sum(d["failed"] for d in self.days)

    @property
    def failure_rate(self) -> float:
        tried = self.sent + self.failed
        return self.failed / tried if tried else 0.0

    @property
    def days_at_quota(self) -> int:
        return sum(d["quota_met"] for d in self.days)


class HistoryOut(serializers.Serializer):  # the last 30 days of a Performance
    sent = serializers.IntegerField()
    failed = serializers.IntegerField()
    failure_rate = RoundedFloat(4)
    days_at_quota = serializers.IntegerField()
    days = DaysField()


class PerformanceOut(serializers.Serializer):  # a Performance
    id = serializers.IntegerField(source="box.id")
    email = serializers.EmailField(source="box.email")
    status = serializers.CharField(source="box.status")
    status_reason = serializers.CharField(source="box.status_reason", allow_blank=True)
    warmup_enabled = serializers.BooleanField(source="box.warmup_enabled")
    last_error = serializers.CharField(source="box.last_error", allow_blank=True)
    last_error_at = serializers.DateTimeField(source="box.last_error_at", allow_null=True)
    today = QuotaOut(allow_null=True)
    last_30_days = HistoryOut(source="*")


# --- quota -------------------------------------------------------------------------------

QUOTA_STATUSES = ("all", "behind", "met")
QUOTA_ORDERINGS = tuple(
    f"{sign}{name}"
    for name in ("mailbox_id", "email", "remaining", "sent", "streak")
    for sign in ("", "-")
)


def todays_stats(request: Request, now: dt.datetime) -> QuerySet[DailyStat]:
    """Each visible mailbox's DailyStat of its own local today."""
    if _sees_every_owner(request):
        timezones = timezones_in_use()
    else:
        timezones = list(
            Mailbox.objects.filter(owner=signed_in(request.user))
            .values_list("timezone", flat=True)
            .distinct()
        )
    return (
        _owned(request, DailyStat.objects.all(), "mailbox__owner")
        .filter(on_local_today(now, timezones))
        .annotate(remaining=Greatest(F("quota") - F("sent"), 0, output_field=IntegerField()))
    )


class QuotaView(APIView):
    """Today's quota, sent, remaining, pace and streak of each mailbox (its local today).
    `?status=behind` (below quota so far), `met` or `all`; `?ordering=` one of
    QUOTA_ORDERINGS; paginated."""

    @extend_schema(
        parameters=[
            OpenApiParameter("status", enum=QUOTA_STATUSES, default="all"),
            OpenApiParameter("ordering", enum=QUOTA_ORDERINGS, default="mailbox_id"),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses=paginated(QuotaOut),
    )
    def get(self, request: Request) -> Response:
        status = _choice(request, "status", QUOTA_STATUSES, "all")
        ordering = _choice(request, "ordering", QUOTA_ORDERINGS, "mailbox_id")
        now = db_now()
        stats = todays_stats(request, now).filter(quota__gt=0)
        if status == "met":
            stats = stats.filter(quota_met=True)
        elif status == "behind":
            stats = stats.filter(quota_met=False)
        paginator = Pagination()
        # The page's ids first, sorted on the counters alone (a top-N sort of today's
        # rows, no join), then those rows with their mailboxes. Ties go by mailbox id in
        # the same direction; email lives on the mailbox.
        sign = "-" if ordering.startswith("-") else ""
        key = f"{sign}mailbox__email" if ordering.lstrip("-") == "email" else ordering
        ids = paginator.paginate_queryset(
            stats.order_by(key, f"{sign}mailbox_id").values_list("id", flat=True), request, self
        )
        rows = DailyStat.objects.select_related("mailbox").in_bulk(ids)
        return paginator.get_paginated_response(
            QuotaOut([Today(rows[i], now) for i in ids], many=True).data
        )


# --- one mailbox's performance -----------------------------------------------------------


HISTORY_FIELDS = ("date", "quota", "sent", "failed", "deferred", "unknown", "received", "quota_met")


def histories(boxes: list[Mailbox], now: dt.datetime) -> dict[int, list[dict[str, Any]]]:
    """The last HISTORY_DAYS DailyStats of each mailbox, in one query."""
    since = now.date() - dt.timedelta(days=HISTORY_DAYS)  # a day early: local dates vary
    rows: dict[int, list[dict[str, Any]]] = {box.id: [] for box in boxes}
    for row in (
        DailyStat.objects.filter(mailbox__in=boxes, date__gte=since)
        .order_by("mailbox_id", "date")
        .values("mailbox_id", *HISTORY_FIELDS)
    ):
        rows[row.pop("mailbox_id")].append(row)
    return rows


def performance(
    box: Mailbox,
    now: dt.datetime,
    today: dict[int, DailyStat],
    history: dict[int, list[dict[str, Any]]],
) -> Performance:
    """The box's Performance, its days cut to its own last HISTORY_DAYS local dates."""
    first = pacing.local_date(now, box.timezone) - dt.timedelta(days=HISTORY_DAYS - 1)
    stat = today.get(box.id)
    return Performance(
        box,
        Today(stat, now) if stat else None,
        [d for d in history[box.id] if d["date"] >= first],
    )


class MailboxPerformanceView(APIView):
    """`?id=N`: one mailbox's today, last 30 days, failure rate and status reason.
    Without `id`: the same for each of the user's mailboxes, paginated."""

    @extend_schema(
        parameters=[
            OpenApiParameter("id", int),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses=PolymorphicProxySerializer(
            component_name="PerformanceOrPage",
            serializers=[PerformanceOut, paginated(PerformanceOut)],
            resource_type_field_name=None,
        ),
        description="With `id`: one mailbox's object; without: a page of them.",
    )
    def get(self, request: Request) -> Response:
        now = db_now()
        boxes = _owned(request, Mailbox.objects.all()).order_by("id")
        raw = request.query_params.get("id")
        if raw is not None:
            box_id = whole_number(raw)
            if box_id is None:
                raise bad_request(f"must be a mailbox id, not {raw[:20]!r}.", "id")
            box = boxes.filter(id=box_id).first()
            if box is None:
                return Response({"error": "not_found", "detail": "no such mailbox"}, status=404)
            page = [box]
        else:
            paginator = Pagination()
            page = paginator.paginate_queryset(boxes, request, self)
        today = {
            s.mailbox_id: s
            for s in todays_stats(request, now).filter(mailbox__in=page).select_related("mailbox")
        }
        history = histories(page, now)
        rows = PerformanceOut(
            [performance(box, now, today, history) for box in page], many=True
        ).data
        if raw is not None:
            return Response(rows[0])
        return paginator.get_paginated_response(rows)
