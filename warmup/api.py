"""The engine's API: today's quotas, one mailbox's performance, the checked domains and
server addresses (the engine's control, which shows the system's health, is metrics.api's).

Views read and present; what the engine does lives in warmup.engine (pacing.pace). A
user sees only their own mailboxes; staff see every owner's with the
`accounts.view_mailbox` permission."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, QuerySet
from django.http import Http404
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from accounts.models import EmailDomain, Mailbox
from accounts.sql import timezones_in_use
from warmup import sql
from warmup.engine import pacing
from warmup.engine.planner import (
    local_date_expression,
    local_dates,
    on_local_today,
    zones_by_local_date,
)
from warmup.models import DailyStat, ReputationTarget, Verdict, remaining
from warmup.reputation import run
from warmup.reputation import status as reputation
from warmup.reputation.results import ADDRESS_CHECKS, DOMAIN_CHECKS
from warmup_project.api import (
    ESTIMATED_COUNT,
    EstimatedCountPagination,
    FromBothEnds,
    Pagination,
    RoundedFloat,
    bad_request,
    estimated_above_limit,
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
    given as they are, their DayOut fields only, as a page of 50 mailboxes holds 1,500."""

    def to_representation(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {"date": day["date"].isoformat(), **{name: day[name] for name in DAY_FIELDS}}
            for day in value
        ]


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


# The mailbox fields a Performance shows (PerformanceOut, and its Today's window).
PERFORMANCE_FIELDS = (
    "id",
    "email",
    "status",
    "status_reason",
    "warmup_enabled",
    "last_error",
    "last_error_at",
    "timezone",
    "window_start_hour",
    "window_end_hour",
)


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


def _visible_timezones(request: Request) -> list[str]:
    if _sees_every_owner(request):
        return timezones_in_use()
    return list(
        Mailbox.objects.filter(owner=signed_in(request.user))
        .values_list("timezone", flat=True)
        .distinct()
    )


def todays_stats(request: Request, now: dt.datetime) -> QuerySet[DailyStat]:
    """Each visible mailbox's DailyStat of its own local today. An owner's dates are
    named once more, outside on_local_today's terms, so that PostgreSQL probes each
    mailbox's (mailbox, date) index entries for them; it otherwise reads all their days
    (3,000 rows for 100 mailboxes, 6 ms, not 200). Never staff's, whose count it
    estimates from this filter, and would take the dates for twice as selective."""
    zones = _visible_timezones(request)
    rows = _owned(request, DailyStat.objects.all(), "mailbox__owner")
    if not _sees_every_owner(request):
        rows = rows.filter(date__in=set(local_dates(now, zones).values()))
    return rows.filter(on_local_today(now, zones))


@dataclass
class TodaysRows:
    """The ids of today's DailyStat rows with a quota (those with `quota_met` among
    `met`), in `ordering`, as the paginator reads them: count(), slices and tail().

    An owner's few hundred rows are sorted whole. Every owner's (staff's) would be a sort
    of 100,000 rows joined to their mailboxes' time zones (some 300 ms): instead a page
    merges one walk per local date and `quota_met` value of that ordering's index
    (DailyStat's idx_warmup_logs_*), or, by email, walks the mailboxes' unique email
    index once (`_own_dates`), each read only as far as the page ends, so it costs about
    what it shows (deep pages more; the last is read from the end). Their count is
    PostgreSQL's estimate when that is above EXACT_COUNT_UP_TO."""

    request: Request
    now: dt.datetime
    met: tuple[bool, ...]
    ordering: str
    estimated: bool = field(default=False, init=False)  # the count() given was an estimate

    @cached_property
    def _every_owner(self) -> bool:
        return _sees_every_owner(self.request)

    @cached_property
    def _rows(self) -> QuerySet[DailyStat]:
        rows = todays_stats(self.request, self.now).filter(quota__gt=0)
        if len(self.met) == 1:
            rows = rows.filter(quota_met=self.met[0])
        return self._keyed(rows)

    def _keyed(self, rows: QuerySet[DailyStat]) -> QuerySet[DailyStat]:
        key = self.ordering.lstrip("-")
        if key == "remaining":
            return rows.annotate(remaining=remaining())
        return rows.annotate(email=F("mailbox__email")) if key == "email" else rows

    @cached_property
    def _order(self) -> tuple[str, ...]:
        # Ties go by mailbox id in the ordering's direction.
        sign = "-" if self.ordering.startswith("-") else ""
        key = self.ordering.lstrip("-")
        return (self.ordering,) if key == "mailbox_id" else (self.ordering, f"{sign}mailbox_id")

    def count(self) -> int:
        if not self._every_owner:
            return self._rows.count()
        count, self.estimated = estimated_above_limit(
            self._rows.values("id"),
            lambda: sum(rows.count() for rows in self._counted()),
        )
        return count

    def __getitem__(self, page: slice) -> list[int]:
        return self._walk(self._order, page)

    def tail(self, n: int) -> list[int]:
        """The last `n` ids: the same walks in the other direction, reversed."""
        backwards = tuple(key[1:] if key[0] == "-" else f"-{key}" for key in self._order)
        return self._walk(backwards, slice(0, n))[::-1]

    def _walk(self, order: tuple[str, ...], page: slice) -> list[int]:
        if not self._every_owner:
            return list(self._rows.order_by(*order).values_list("id", flat=True)[page])
        columns = ("id", *(name.lstrip("-") for name in order))
        if order[0].lstrip("-") == "email":
            rows = self._keyed(self._own_dates()).order_by(*order).values_list(*columns)[page]
        else:
            first, *others = [
                self._keyed(branch).order_by(*order).values_list(*columns)
                for branch in self._branches()
            ]
            if others:
                tops = [branch[: page.stop] for branch in (first, *others)]
                rows = tops[0].union(*tops[1:], all=True).order_by(*order)[page]
            else:  # one walk: its page
                rows = first[page]
        # The setting ends with the transaction: this one, as requests run in none
        # (ATOMIC_REQUESTS is off); in a caller's, at its end.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql.WALK_WITHOUT_WORKERS)
            return [row[0] for row in rows]

    def _own_dates(self) -> QuerySet[DailyStat]:
        """Today's rows with a quota as one queryset: each mailbox's row of the local date
        its time zone is on (of the one date, when every zone is on it: a zone new since
        they were read is on it too). Walked by the mailboxes' email index, each
        mailbox's row is probed by (mailbox, date): a few ms where a walk per date, each
        joining its zones' mailboxes, took 7 to 12 ms."""
        dates = self._zones_by_date
        on_date = (
            next(iter(dates))
            if len(dates) == 1
            else local_date_expression(
                {tz: day for day, zones in dates.items() for tz in zones}, "mailbox__timezone"
            )
        )
        return DailyStat.objects.filter(quota__gt=0, quota_met__in=self.met, date=on_date)

    @cached_property
    def _zones_by_date(self) -> dict[dt.date, list[str]]:
        """The time zones in use by the local date each is on now."""
        return zones_by_local_date(self.now, timezones_in_use()) or {self.now.date(): []}

    def _branches(self) -> list[QuerySet[DailyStat]]:
        """Today's rows with a quota, one queryset per local date some mailbox is on now
        (those of its mailboxes' time zones; all, when every one is on the same date) and
        per `quota_met` value of `met`: each an index's range."""
        dates = self._zones_by_date
        return [
            DailyStat.objects.filter(
                quota__gt=0,
                date=day,
                quota_met=met,
                **({"mailbox__timezone__in": zones} if len(dates) > 1 else {}),
            )
            for day, zones in dates.items()
            for met in self.met
        ]

    def _counted(self) -> list[QuerySet[DailyStat]]:
        """Today's rows with a quota, one queryset per local date, to count: a date's rows
        from DailyStat's index, those of mailboxes in its zones (or not in the others,
        when its zones are most of them) by the ids the mailboxes' (timezone, id) index
        holds. Joined to the mailboxes instead, a count scans their table (some 80 ms at
        100,000 mailboxes)."""
        dates = self._zones_by_date
        counted = []
        for day, zones in dates.items():
            rows = DailyStat.objects.filter(quota__gt=0, date=day, quota_met__in=self.met)
            others = [tz for other, tzs in dates.items() if other != day for tz in tzs]
            if len(zones) <= len(others):
                rows = rows.filter(_in_zones(zones))
            elif others:
                rows = rows.exclude(_in_zones(others))
            counted.append(rows)
        return counted


def _in_zones(zones: list[str]) -> Exists:
    """A DailyStat row's mailbox is in `zones` (excluded: an anti-join, which PostgreSQL
    plans whatever the number of such mailboxes, where NOT IN must hash them all)."""
    return Exists(Mailbox.objects.filter(id=OuterRef("mailbox_id"), timezone__in=zones))


class QuotaView(APIView):
    """Today's quota, sent, remaining, pace and streak of each mailbox (its local today).
    `?status=behind` (below quota so far), `met` or `all`; `?ordering=` one of
    QUOTA_ORDERINGS; paginated, the count estimated above EXACT_COUNT_UP_TO."""

    @extend_schema(
        parameters=[
            OpenApiParameter("status", enum=QUOTA_STATUSES, default="all"),
            OpenApiParameter("ordering", enum=QUOTA_ORDERINGS, default="mailbox_id"),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses=paginated(QuotaOut),
        description=ESTIMATED_COUNT,
    )
    def get(self, request: Request) -> Response:
        status = _choice(request, "status", QUOTA_STATUSES, "all")
        ordering = _choice(request, "ordering", QUOTA_ORDERINGS, "mailbox_id")
        now = db_now()
        met = {"all": (False, True), "met": (True,), "behind": (False,)}[status]
        paginator = EstimatedCountPagination()
        rows = paginator.paginate_by_ids(
            TodaysRows(request, now, met, ordering),
            DailyStat.objects.select_related("mailbox"),
            request,
            self,
        )
        return paginator.get_paginated_response(
            QuotaOut([Today(row, now) for row in rows], many=True).data
        )


# --- one mailbox's performance -----------------------------------------------------------


# A day's counters in the history (DayOut, `date` aside); a Today reads those of TODAY_FIELDS.
DAY_FIELDS = ("quota", "sent", "failed", "deferred", "unknown", "received", "quota_met")
TODAY_FIELDS = ("quota", "sent", "failed", "quota_met", "streak")


def histories(boxes: list[Mailbox], now: dt.datetime) -> dict[int, list[dict[str, Any]]]:
    """The last HISTORY_DAYS DailyStats of each mailbox (from a day early, and tomorrow's
    if planned: local dates vary), today's among them, in one query."""
    since = now.date() - dt.timedelta(days=HISTORY_DAYS)
    rows: dict[int, list[dict[str, Any]]] = {box.id: [] for box in boxes}
    for row in (
        DailyStat.objects.filter(mailbox__in=boxes, date__gte=since)
        .order_by("mailbox_id", "date")
        .values("mailbox_id", "date", *dict.fromkeys(DAY_FIELDS + TODAY_FIELDS))
    ):
        rows[row.pop("mailbox_id")].append(row)
    return rows


def performance(box: Mailbox, now: dt.datetime, history: list[dict[str, Any]]) -> Performance:
    """The box's Performance from its `history` rows: its Today is the row of its own
    local today, its days those of its last HISTORY_DAYS local dates."""
    last = pacing.local_date(now, box.timezone)
    first = last - dt.timedelta(days=HISTORY_DAYS - 1)
    # Tomorrow's row exists once planned (hours ahead): not history yet.
    days = [d for d in history if first <= d["date"] <= last]
    today = None
    if days and days[-1]["date"] == last:
        stat = DailyStat(mailbox=box, date=last, **{f: days[-1][f] for f in TODAY_FIELDS})
        today = Today(stat, now)
    return Performance(box, today, days)


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
        description=f"With `id`: one mailbox's object; without: a page of them. {ESTIMATED_COUNT}",
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
            paginator = EstimatedCountPagination()
            page = paginator.paginate_ordered(
                boxes, request, self, load=boxes.only(*PERFORMANCE_FIELDS)
            )
        history = histories(page, now)
        rows = PerformanceOut(
            [performance(box, now, history[box.id]) for box in page], many=True
        ).data
        if raw is not None:
            return Response(rows[0])
        return paginator.get_paginated_response(rows)


# --- reputation: the checked domains and server addresses --------------------------------

DOMAIN_STATUSES = ("all", *reputation.STATUSES)
DOMAIN_KINDS = ("all", ReputationTarget.DOMAIN, ReputationTarget.ADDRESS)
# `status`: worst first (listed, failing, warning, ok), then by name.
DOMAIN_ORDERINGS = ("status", "name", "-name")


class TargetCheckOut(serializers.Serializer):  # one check's last result, from the checks JSON
    verdict = serializers.ChoiceField(choices=Verdict.values)
    detail = serializers.CharField(allow_blank=True)
    checked_at = serializers.DateTimeField(allow_null=True)


@extend_schema_field(serializers.DictField(child=TargetCheckOut()))
class ChecksField(serializers.Field):
    """A target's checks as {check: {verdict, detail, checked_at}}, in the order the
    checks of its kind are shown (warmup.reputation.results), then any other it holds."""

    def to_representation(self, target: ReputationTarget) -> dict[str, dict[str, Any]]:
        value = target.checks if isinstance(target.checks, dict) else {}
        known = ADDRESS_CHECKS if target.kind == ReputationTarget.ADDRESS else DOMAIN_CHECKS
        names = [c for c in known if c in value] + [c for c in value if c not in known]
        return {
            name: {
                "verdict": value[name].get("verdict"),
                "detail": value[name].get("detail", ""),
                "checked_at": value[name].get("checked_at"),
            }
            for name in names
            if isinstance(value[name], dict)
        }


class DomainOut(serializers.Serializer):  # a ReputationTarget with `status` and `mailboxes`
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=DOMAIN_KINDS[1:])
    status = serializers.ChoiceField(choices=reputation.STATUSES)
    # Of a domain: how many of the reader's mailboxes (staff: of all) send from it.
    mailboxes = serializers.IntegerField(allow_null=True)
    checks = ChecksField(source="*")
    checked_at = serializers.DateTimeField(allow_null=True)
    failing_since = serializers.DateTimeField(allow_null=True)
    failing_reason = serializers.CharField(allow_blank=True)
    listed_since = serializers.DateTimeField(allow_null=True)
    listed_on = serializers.CharField(allow_blank=True)


class ErrorOut(serializers.Serializer):  # warmup_project.api's one error shape
    error = serializers.CharField()
    detail = serializers.CharField()


class ReputationCheckThrottle(UserRateThrottle):
    """Checks on demand per user (REST_FRAMEWORK's `reputation_check` rate): each one
    sends DNS queries, blacklists' included, which refuse those who ask too often."""

    scope = "reputation_check"


class DomainViewSet(viewsets.GenericViewSet):
    """The sending domains and server addresses the daily checks look at. An owner sees
    the domains of their own mailboxes that have been checked; staff with
    `accounts.view_mailbox` see every domain and the SMTP servers' addresses. Anything
    else is a 404, so other owners' domains are not revealed."""

    serializer_class = DomainOut
    lookup_field = "name"
    lookup_value_regex = "[^/]+"

    def get_queryset(self) -> QuerySet[ReputationTarget]:
        targets = ReputationTarget.objects.annotate(status=reputation.status_expression())
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the types
            return targets.none()
        if _sees_every_owner(self.request):
            return targets
        return targets.filter(kind=ReputationTarget.DOMAIN, name__in=self._own_domains())

    def _own_domains(self) -> QuerySet[Mailbox, str]:
        return (
            Mailbox.objects.filter(owner=signed_in(self.request.user))
            .annotate(sending_domain=EmailDomain("email"))
            .values_list("sending_domain", flat=True)
        )

    def _mailbox_counts(self, targets: list[ReputationTarget]) -> dict[str, int]:
        """How many visible mailboxes send from each domain of `targets`, in one query."""
        names = [t.name for t in targets if t.kind == ReputationTarget.DOMAIN]
        if not names:
            return {}
        return dict(
            _owned(self.request, Mailbox.objects.all())
            .annotate(sending_domain=EmailDomain("email"))
            .filter(sending_domain__in=names)
            .values_list("sending_domain")
            .annotate(n=Count("id"))
            .order_by()
        )

    def _out(self, targets: list[ReputationTarget]) -> Any:
        counts = self._mailbox_counts(targets)
        for target in targets:
            is_domain = target.kind == ReputationTarget.DOMAIN
            target.mailboxes = counts.get(target.name, 0) if is_domain else None  # type: ignore[attr-defined]
        return DomainOut(targets, many=True).data

    @extend_schema(
        parameters=[
            OpenApiParameter("status", enum=DOMAIN_STATUSES, default="all"),
            OpenApiParameter("kind", enum=DOMAIN_KINDS, default="all"),
            OpenApiParameter("ordering", enum=DOMAIN_ORDERINGS, default="status"),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses=paginated(DomainOut),
    )
    def list(self, request: Request) -> Response:
        """The domains (and, for staff, server addresses), worst first: listed, failing,
        warning, ok. `?status=` one of them; `?kind=domain|address`; paginated."""
        status = _choice(request, "status", DOMAIN_STATUSES, "all")
        kind = _choice(request, "kind", DOMAIN_KINDS, "all")
        ordering = _choice(request, "ordering", DOMAIN_ORDERINGS, "status")
        targets = self.get_queryset()
        if status != "all":
            targets = targets.filter(reputation.having_status(status))
        if kind != "all":
            targets = targets.filter(kind=kind)
        order = ("rank", "name", "kind") if ordering == "status" else (ordering, "kind")
        paginator = Pagination()
        page = paginator.paginate_queryset(FromBothEnds(targets.order_by(*order)), request, self)
        return paginator.get_paginated_response(self._out(list(page)))

    def _target(self, name: str) -> ReputationTarget | None:
        # A name is a domain or an address; were it both, the domain (`kind` sorts
        # "address" before "domain").
        return self.get_queryset().filter(name=name.lower()).order_by("-kind").first()

    @extend_schema(responses={200: DomainOut, 404: ErrorOut})
    def retrieve(self, request: Request, name: str) -> Response:
        """One domain or server address."""
        target = self._target(name)
        if target is None:
            raise Http404("no such domain")
        return Response(self._out([target])[0])

    @extend_schema(request=None, responses={200: DomainOut, 404: ErrorOut})
    @action(
        detail=True,
        methods=["post"],
        url_path="check",
        throttle_classes=[ReputationCheckThrottle],
    )
    def check_now(self, request: Request, name: str) -> Response:
        """Check this domain (or, for staff, server address) now rather than at the next
        daily run, and answer with what was found. For an owner, a domain one of their
        mailboxes sends from (checked before or not); for staff, any target or mailbox
        domain. The lookups take seconds (at most WARMUP_DNS_TIMEOUT_S each)."""
        name = name.lower()
        known = (
            self._target(name) is not None
            or _owned(request, Mailbox.objects.all())
            .annotate(sending_domain=EmailDomain("email"))
            .filter(sending_domain=name)
            .exists()
        )
        if not known:
            raise Http404("no such domain")
        run.check_now(name, db_now())
        target = self._target(name)
        if target is None:
            raise Http404(f"{name} was checked, but no result was kept")
        return Response(self._out([target])[0])
