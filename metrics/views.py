"""The operator dashboard in admin (/admin/dashboard/): health and the rule behind it,
quota completion, the 24-hour chart, the mailboxes furthest behind, workers. For staff
with the permission that reads the metrics (metrics.api.VIEW_METRICS)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from metrics.api import VIEW_METRICS
from metrics.dashboard import hourly_chart
from metrics.health import LEVEL_NAMES
from metrics.reading import furthest_behind, read
from warmup_project.db import db_now
from warmup_project.permissions import staff_may


def dashboard(request: HttpRequest) -> HttpResponse:
    if not staff_may(request.user, VIEW_METRICS):
        raise PermissionDenied
    now = db_now()
    reading = read(now, settings.WARMUP)
    context = {
        **admin.site.each_context(request),
        "title": "Operator dashboard",
        "r": reading,
        "health_name": reading.health.name,
        "completion_pct": f"{reading.quota_completion_rate * 100:.1f}",
        "on_pace_pct": f"{reading.on_pace_rate * 100:.1f}",
        "checks": [(c, LEVEL_NAMES[c.level]) for c in reading.health.checks],
        "chart": hourly_chart(now),
        "behind": furthest_behind(reading),
        "workers": reading.workers,
    }
    return TemplateResponse(request, "admin/warmup/dashboard.html", context)
