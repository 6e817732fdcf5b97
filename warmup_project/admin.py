"""Admin pieces every app uses."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest


class ReadOnlyAdmin(admin.ModelAdmin):
    """View permission only: no add, change or delete, whoever asks.

    Rows of such an admin that belong to another row (a mailbox's send logs, a user's
    admin history) still go with it: see accounts.admin.CascadedHistoryMixin."""

    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
