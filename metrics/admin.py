from django.contrib import admin

from metrics.models import MetricSnapshot
from warmup_project.admin import ReadOnlyAdmin


@admin.register(MetricSnapshot)
class MetricSnapshotAdmin(ReadOnlyAdmin):
    """Snapshots are taken by the scheduler; editing one would rewrite history."""

    list_display = (
        "taken_at",
        "health",
        "health_rule",
        "total_mailboxes",
        "active_mailboxes",
        "sent_today",
        "failed_today",
        "throughput_per_hour",
        "quota_completion_rate",
    )
    list_filter = ("health", "taken_at")
