from django.db import models
from django.db.models import Q


class Health(models.IntegerChoices):
    CRITICAL = 0
    DEGRADED = 1
    HEALTHY = 2


class MetricSnapshot(models.Model):
    """The system at one moment, taken every interval and kept
    WARMUP_METRICS_RETENTION_DAYS."""

    taken_at = models.DateTimeField(db_index=True)
    total_mailboxes = models.IntegerField(default=0)
    active_mailboxes = models.IntegerField(default=0)
    sent_today = models.IntegerField(default=0)
    failed_today = models.IntegerField(default=0)
    throughput_per_hour = models.IntegerField(default=0)
    quota_completion_rate = models.FloatField(default=0)
    health = models.IntegerField(choices=Health.choices, default=Health.HEALTHY)
    health_rule = models.CharField(max_length=100, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "metric_snapshots"
        ordering = ["-taken_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(health__in=Health.values), name="metric_snapshots_health_valid"
            ),
            models.CheckConstraint(
                condition=Q(quota_completion_rate__gte=0, quota_completion_rate__lte=1),
                name="metric_snapshots_completion_range",
            ),
        ]

    def __str__(self) -> str:
        return f"snapshot {self.taken_at:%Y-%m-%d %H:%M}"
