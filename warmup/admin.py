"""Admin for the engine's tables: operators look, they do not edit.

Send logs, daily stats, workers and rate windows are written by the engine only; a hand
edit would desynchronise counters the engine trusts, so they are view-only. The one
switch an operator may flip is EngineState.running (with a reason). The reputation
targets are the daily checks' (view-only too); an operator may have them checked now.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.models import DELETION, LogEntry
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join

from warmup.models import (
    DAILY_COUNTERS,
    DailyStat,
    EngineState,
    PoolShape,
    RateWindow,
    ReputationTarget,
    SendLog,
    Worker,
)
from warmup.reputation import run
from warmup.reputation import status as reputation
from warmup_project.admin import ReadOnlyAdmin
from warmup_project.db import db_now
from warmup_project.permissions import signed_in


class CappedCountPaginator(Paginator):
    """Counts at most `cap` rows.

    `logs` grows by ~3 M rows a day at 100,000 mailboxes: a plain COUNT(*) behind every
    changelist page would scan the table. Counting through `LIMIT cap + 1` bounds the
    cost; pages past the cap are reached by filtering or searching instead.
    """

    cap = 10_000
    object_list: QuerySet[Any]  # the admin's changelist pages a queryset

    @cached_property
    def _counted(self) -> int:
        return self.object_list[: self.cap + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self._counted, self.cap)

    @property
    def is_capped(self) -> bool:
        # Read by templates/admin/warmup/pagination.html to print "10000+".
        return self._counted > self.cap


@admin.register(SendLog)
class SendLogAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "sender",
        "day",
        "slot_no",
        "status",
        "recipient",
        "attempts",
        "smtp_code",
        "scheduled_at",
        "sent_at",
        "placement",
        "worker",
    )
    list_filter = ("status", "placement", "day")
    list_select_related = ("sender", "recipient")
    raw_id_fields = ("sender", "recipient", "in_reply_to")
    # Exact match ("="): a substring search would join every log row to its mailbox.
    search_fields = ("=sender__email", "=message_id")
    paginator = CappedCountPaginator


@admin.register(DailyStat)
class DailyStatAdmin(ReadOnlyAdmin):
    list_display = ("mailbox", "date", *DAILY_COUNTERS[:-1], "quota_met", "streak")
    list_filter = ("quota_met", "date")
    list_select_related = ("mailbox",)
    raw_id_fields = ("mailbox",)
    search_fields = ("=mailbox__email",)
    paginator = CappedCountPaginator


@admin.register(EngineState)
class EngineStateAdmin(admin.ModelAdmin):
    list_display = ("__str__", "running", "reason", "changed_at", "changed_by", "last_cycle_at")
    list_select_related = ("changed_by",)
    fields = (
        "running",
        "reason",
        "changed_at",
        "changed_by",
        "trigger_requested_at",
        "last_cycle_at",
    )
    readonly_fields = ("changed_at", "changed_by", "trigger_requested_at", "last_cycle_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A singleton: EngineState.load() creates the one row.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Without the row the list would be empty and, with no add button, the operator
        # would have no switch to flip; load() is an idempotent get_or_create.
        EngineState.load()
        return super().changelist_view(request, extra_context)

    def save_model(self, request: HttpRequest, obj: EngineState, form: Any, change: bool) -> None:
        if form.changed_data:
            obj.changed_at = timezone.now()
            obj.changed_by = signed_in(request.user)
        super().save_model(request, obj, form, change)


@admin.register(Worker)
class WorkerAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "shard",
        "shard_count",
        "host",
        "pid",
        "started_at",
        "heartbeat_at",
        "last_cycle_at",
    )
    search_fields = ("name", "host")


@admin.register(PoolShape)
class PoolShapeAdmin(ReadOnlyAdmin):
    """The network's pool figures at each daily refresh (a mailbox's own are on its page)."""

    list_display = (
        "refreshed_at",
        "mailboxes",
        "partners_median",
        "partners_p5",
        "same_owner_share",
        "same_owner_share_p95",
        "same_provider_share",
        "reciprocity",
    )
    ordering = ("-refreshed_at",)


@admin.register(RateWindow)
class RateWindowAdmin(ReadOnlyAdmin):
    list_display = ("key", "window_start", "used")
    search_fields = ("key",)
    ordering = ("-window_start", "key")


@admin.register(LogEntry)
class LogEntryAdmin(ReadOnlyAdmin):
    """Django's record of admin changes (mailbox edits, pause/resume actions…)."""

    list_display = (
        "action_time",
        "user",
        "content_type",
        "object_link",
        "action_flag",
        "change_message_text",
    )
    list_filter = ("action_flag", ("user", admin.RelatedOnlyFieldListFilter), "content_type")
    list_select_related = ("user", "content_type")
    raw_id_fields = ("user",)
    search_fields = ("object_repr", "=object_id", "user__username")

    @admin.display(description="object", ordering="object_repr")
    def object_link(self, entry: LogEntry) -> str:
        # get_admin_url() only reverses a URL from the selected content type: no query.
        url = entry.get_admin_url() if entry.action_flag != DELETION else None
        if not url:
            return entry.object_repr
        return format_html('<a href="{}">{}</a>', url, entry.object_repr)

    @admin.display(description="change")
    def change_message_text(self, entry: LogEntry) -> str:
        return entry.get_change_message()


class ReputationStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(status, status) for status in reputation.STATUSES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value in reputation.STATUSES:
            return queryset.filter(reputation.having_status(value))
        return queryset


# Targets one "check now" may check: each takes DNS queries, while the page waits.
MAX_CHECKS_AT_ONCE = 20


def _verdict_column(check: str) -> Callable[[ReputationTarget], str]:
    @admin.display(description=check)
    def verdict(target: ReputationTarget) -> str:
        found = target.checks.get(check) if isinstance(target.checks, dict) else None
        return found.get("verdict", "?") if isinstance(found, dict) else "–"

    verdict.__name__ = f"check_{check}"
    return verdict


@admin.register(ReputationTarget)
class ReputationTargetAdmin(ReadOnlyAdmin):
    """The sending domains and server addresses the daily checks look at, worst first:
    listed, failing (SPF, DKIM or DMARC, grace period running or past), warning, ok."""

    list_display = (
        "name",
        "kind",
        "status",
        *(_verdict_column(check) for check in reputation.CHECKS),  # a column each
        "checked_at",
        "failing_since",
        "listed_since",
    )
    list_filter = ("kind", ReputationStatusFilter)
    search_fields = ("name",)
    ordering = ("rank", "name")  # the stored rank: listed (0) … ok (3), worst first
    fields = (
        "name",
        "kind",
        "status",
        "checks_table",
        "checked_at",
        "failing_since",
        "failing_reason",
        "listed_since",
        "listed_on",
    )
    readonly_fields = ("status", "checks_table")
    actions = ["check_now"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReputationTarget]:
        return super().get_queryset(request).annotate(status=reputation.status_expression())

    @admin.display(description="status", ordering="rank")
    def status(self, target: ReputationTarget) -> str:
        return getattr(target, "status", "")

    @admin.display(description="checks")
    def checks_table(self, target: ReputationTarget) -> str:
        rows = target.checks.items() if isinstance(target.checks, dict) else []
        if not rows:
            return "not checked yet"
        return format_html(
            "<table><tr><th>check</th><th>verdict</th><th>detail</th><th>checked at</th></tr>"
            "{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        name,
                        found.get("verdict", "?"),
                        found.get("detail", ""),
                        found.get("checked_at", ""),
                    )
                    for name, found in rows
                    if isinstance(found, dict)
                ),
            ),
        )

    @admin.action(description="Check the selected targets now", permissions=["view"])
    def check_now(self, request: HttpRequest, queryset: QuerySet[ReputationTarget]) -> None:
        names = list(
            queryset.order_by("name").values_list("name", flat=True)[: MAX_CHECKS_AT_ONCE + 1]
        )
        if len(names) > MAX_CHECKS_AT_ONCE:
            self.message_user(
                request,
                f"Select at most {MAX_CHECKS_AT_ONCE} targets to check at once; the daily "
                "checks cover them all.",
                messages.ERROR,
            )
            return
        for name in names:
            run.check_now(name, db_now())
        self.message_user(request, f"Checked {len(names)}: {', '.join(names)}.", messages.SUCCESS)
