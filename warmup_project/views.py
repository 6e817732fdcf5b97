"""`/healthz`: is this web process up and does it reach the database? For the container's
HEALTHCHECK, nginx and load balancers. It needs no login and tells nothing else; the
system's own health is in `/api/warmup/control` and the metrics.

`/api/schema/`: the OpenAPI schema, kept once generated."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import translation
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularAPIView
from rest_framework.response import Response

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


class SchemaView(SpectacularAPIView):
    """/api/schema/: the OpenAPI schema, generated once per process, version and language
    rather than at each request (~100 ms): it changes only with the code. Public, as
    drf-spectacular serves it (SERVE_PUBLIC): the same for every reader."""

    _schemas: ClassVar[dict[tuple[Any, str | None], Any]] = {}

    def _get_schema_response(self, request: Any) -> Response:
        # drf-spectacular's own, with the schema kept.
        version = self.api_version or request.version or self._get_version_parameter(request)
        key = (version, translation.get_language())
        if key not in self._schemas:
            generator = self.generator_class(
                urlconf=self.urlconf, api_version=version, patterns=self.patterns
            )
            self._schemas[key] = generator.get_schema(request=request, public=self.serve_public)
        return Response(
            data=self._schemas[key],
            headers={
                "Content-Disposition": f'inline; filename="{self._get_filename(request, version)}"'
            },
        )
