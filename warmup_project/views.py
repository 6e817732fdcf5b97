"""`/healthz`: is this web process up and does it reach the database? For the container's
HEALTHCHECK, nginx and load balancers. It needs no login and tells nothing else; the
system's own health is in `/api/warmup/control` and the metrics."""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

from warmup_project import sql

log = logging.getLogger(__name__)


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.PING)
    except DatabaseError as exc:
        log.warning("healthz: the database does not answer (%s)", type(exc).__name__)
        return JsonResponse({"status": "database unavailable"}, status=503)
    return JsonResponse({"status": "ok"})
