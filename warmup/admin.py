"""Admin for the engine's tables: operators look, they do not edit.

Send logs, daily stats, workers and rate windows are written by the engine only; a hand
edit would desynchronise counters the engine trusts, so they are view-only. The one
switch an operator may flip is EngineState.running (with a reason).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.models import DELETION, LogEntry
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html

from warmup.models import (
    DAILY_COUNTERS,
    DailyStat,
    EngineState,
    RateWindow,
    SendLog,
    Worker,
)
from warmup_project.admin import ReadOnlyAdmin
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
