"""GET /api/warmup/metrics: the system's reading as JSON, or `?format=prometheus` (or an
Accept of text/plain) as the Prometheus text exposition. A staff JWT or session with the
`metrics.view_metricsnapshot` permission, or the static bearer token WARMUP_METRICS_TOKEN
that Prometheus is given.

GET|POST /api/warmup/control: the engine's switch, its workers and the system's health;
start, stop or trigger it (warmup.engine.control.apply, audited). Staff with
`warmup.view_enginestate` (GET) or `warmup.change_enginestate` (POST)."""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import Http404, HttpResponse
from django_prometheus.exports import ExportToDjangoView
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from metrics.exposition import exposition
from metrics.health import LEVEL_NAMES
from metrics.reading import Reading, read
from warmup.engine import control
from warmup.models import EngineState
from warmup_project.api import RoundedFloat, bad_request, client_address
from warmup_project.db import db_now
from warmup_project.permissions import StaffMay, staff_may

SCRAPER = "metrics-token"  # request.auth of a request authenticated by the static token
# What staff need to read the metrics (here, django-prometheus's /metrics, the dashboard).
VIEW_METRICS = "metrics.view_metricsnapshot"


class MetricsTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <WARMUP_METRICS_TOKEN>`; any other header is left to the
    JWT authentication that follows."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, str] | None:
        token = settings.WARMUP.metrics_token
        scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if token and scheme == "Bearer" and hmac.compare_digest(value.encode(), token.encode()):
            return AnonymousUser(), SCRAPER
        return None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class MetricsTokenScheme(OpenApiAuthenticationExtension):
    """The static token in the OpenAPI schema."""

    target_class = MetricsTokenAuthentication
    name = "metricsToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "WARMUP_METRICS_TOKEN, for Prometheus (this endpoint only).",
        }


class StaffOrScraper(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return request.auth == SCRAPER or staff_may(request.user, VIEW_METRICS)


class PrometheusRenderer(BaseRenderer):
    media_type = "text/plain"
    format = "prometheus"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> bytes:
        if isinstance(data, bytes):
            return data
        # An error (401, 403, 400) in this format: its JSON fields as lines.
        return "".join(f"# {key}: {value}\n" for key, value in data.items()).encode()


# --- response shape: the OpenAPI schema, reading the Reading (metrics.reading) itself ----


# A health rule's Check, or the Verdict (metrics.health). Serializers here carry comments,
# not docstrings: a docstring would become the schema's description.
class CheckOut(serializers.Serializer):
    rule = serializers.CharField()
    level = serializers.IntegerField(min_value=0, max_value=2)
    status = serializers.ChoiceField(choices=tuple(LEVEL_NAMES.values()), source="name")
    detail = serializers.CharField()


class HealthOut(CheckOut):
    checks = CheckOut(many=True)


class WorkersOut(serializers.Serializer):
    registered = serializers.IntegerField(source="workers_registered")
    alive = serializers.IntegerField(source="workers_alive")
    shards_expected = serializers.IntegerField()
    shards_alive = serializers.IntegerField()


class CapacityOut(serializers.Serializer):
    assessed_at = serializers.DateTimeField(source="capacity_at")
    demand = serializers.IntegerField(source="capacity.demand")
    possible = serializers.IntegerField(source="capacity.possible")
    shortfall = serializers.IntegerField(source="capacity.shortfall")
    hourly_ceiling = serializers.IntegerField(source="capacity.hourly_ceiling")
    owner_ceiling = serializers.IntegerField(source="capacity.owner_ceiling")
    owners_short = serializers.IntegerField(source="capacity.owners_short")
    needed_hourly_limit = serializers.IntegerField(source="capacity.needed.per_hour")
    needed_minute_limit = serializers.IntegerField(source="capacity.needed.per_minute")
    needed_user_hourly_limit = serializers.IntegerField(source="capacity.needed.per_user_hour")


class PlacementsOut(serializers.Serializer):
    inbox = serializers.IntegerField(source="inbox_today")
    spam = serializers.IntegerField(source="spam_today")


class DeliverabilityOut(serializers.Serializer):
    scored_mailboxes = serializers.IntegerField(source="scored")
    average_score = RoundedFloat(1, allow_null=True)
    spam_flagged = serializers.IntegerField()
    engagement_paused = serializers.IntegerField()


class LoginsOut(serializers.Serializer):
    by_auth_method = serializers.DictField(child=serializers.IntegerField())
    token_refreshes = serializers.IntegerField()
    token_refresh_failures = serializers.IntegerField()
    reconnect_needed = serializers.IntegerField()


class ReputationOut(serializers.Serializer):  # a reading's Reputation
    domains_by_check = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField())
    )
    domains_failing = serializers.IntegerField()
    listed_domains = serializers.IntegerField()
    listed_servers = serializers.IntegerField()
    mailboxes_dns_paused = serializers.IntegerField()
    mailboxes_ramp_held = serializers.IntegerField()
    mailboxes_dmarc_flagged = serializers.IntegerField()


class MetricsOut(serializers.Serializer):
    at = serializers.DateTimeField()
    # When the mailboxes, today's counters and the domains were counted (metrics.reading's
    # census): up to two minutes before `at`.
    counted_at = serializers.DateTimeField()
    total_mailboxes = serializers.IntegerField()
    active_mailboxes = serializers.IntegerField()
    quotas_today = serializers.IntegerField()
    sent_today = serializers.IntegerField()
    failed_today = serializers.IntegerField()
    deferred_today = serializers.IntegerField()
    unknown_today = serializers.IntegerField()
    throughput_per_hour = serializers.IntegerField(source="sent_last_hour")
    quota_completion_rate = RoundedFloat(4)
    on_pace_rate = RoundedFloat(4)
    attempts_last_hour = serializers.IntegerField()
    failure_rate_last_hour = RoundedFloat(4)
    sends_total = serializers.DictField(child=serializers.IntegerField())
    slots_due = serializers.IntegerField()
    slots_overdue = serializers.IntegerField()
    engine_running = serializers.BooleanField()
    last_cycle_at = serializers.DateTimeField(allow_null=True)
    workers = WorkersOut(source="*")
    capacity = CapacityOut(source="*")
    placements_today = PlacementsOut(source="*")
    deliverability = DeliverabilityOut(source="*")
    logins = LoginsOut(source="*")
    reputation = ReputationOut()
    health = HealthOut()


class MetricsView(APIView):
    """The system's metrics and health. JSON by default; the Prometheus text exposition
    with `?format=prometheus` or `Accept: text/plain`."""

    authentication_classes = [
        MetricsTokenAuthentication,
        *APIView.authentication_classes,
    ]
    permission_classes = [StaffOrScraper]
    renderer_classes = [JSONRenderer, PrometheusRenderer]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        try:
            return super().perform_content_negotiation(request, force)
        except Http404:  # DRF's answer to an unknown ?format=
            raise bad_request("must be json or prometheus.", "format") from None

    @extend_schema(
        parameters=[OpenApiParameter("format", enum=("json", "prometheus"), default="json")],
        responses={
            (200, "application/json"): MetricsOut,
            (200, "text/plain"): OpenApiResponse(
                OpenApiTypes.STR, description="The Prometheus text exposition (0.0.4)."
            ),
        },
    )
    def get(self, request: Request) -> HttpResponse:
        if request.accepted_renderer.format == PrometheusRenderer.format:
            return Response(exposition(db_now, settings.WARMUP))
        reading = read(db_now(), settings.WARMUP)
        return Response(MetricsOut(reading).data)


class ProcessMetricsView(MetricsView):
    """django-prometheus's `/metrics`: the web processes' HTTP and database metrics, behind
    the same door as the system's metrics (the token, or staff who may read them). Not
    part of the API's schema."""

    @extend_schema(exclude=True)
    def get(self, request: Request) -> HttpResponse:
        return ExportToDjangoView(request._request)


# --- control -----------------------------------------------------------------------------


# A WorkerState of the reading:
class WorkerOut(serializers.Serializer):
    name = serializers.CharField(source="worker.name")
    shard = serializers.IntegerField(source="worker.shard")
    shard_count = serializers.IntegerField(source="worker.shard_count")
    host = serializers.CharField(source="worker.host")
    pid = serializers.IntegerField(source="worker.pid")
    started_at = serializers.DateTimeField(source="worker.started_at")
    heartbeat_at = serializers.DateTimeField(source="worker.heartbeat_at")
    last_cycle_at = serializers.DateTimeField(source="worker.last_cycle_at", allow_null=True)
    alive = serializers.BooleanField()


@dataclass(frozen=True)
class Control:
    """What the control endpoint shows: the engine's switch, the time, and a full metrics
    reading (its workers, and the system's health with the rule that decided it)."""

    state: EngineState
    now: dt.datetime
    reading: Reading

    @classmethod
    def at(cls, now: dt.datetime) -> Control:
        return cls(EngineState.load(), now, read(now, settings.WARMUP))


class ControlOut(serializers.Serializer):
    running = serializers.BooleanField(source="state.running")
    reason = serializers.CharField(source="state.reason", allow_blank=True)
    changed_at = serializers.DateTimeField(source="state.changed_at", allow_null=True)
    changed_by = serializers.CharField(source="state.changed_by.get_username", allow_null=True)
    last_cycle_at = serializers.DateTimeField(source="state.last_cycle_at", allow_null=True)
    trigger_requested_at = serializers.DateTimeField(
        source="state.trigger_requested_at", allow_null=True
    )
    now = serializers.DateTimeField()
    workers = WorkerOut(source="reading.workers", many=True)
    health = HealthOut(source="reading.health")


class ControlAction(serializers.Serializer):
    action = serializers.ChoiceField(choices=control.ACTIONS)
    reason = serializers.CharField(max_length=500, required=False, default="")


class ControlView(APIView):
    """The engine's state and workers (GET); start, stop or trigger it (POST, audited).
    Staff with the engine state's view (GET) or change (POST) permission."""

    permission_classes = [StaffMay]
    staff_permissions = {"GET": "warmup.view_enginestate", "POST": "warmup.change_enginestate"}

    @extend_schema(responses=ControlOut)
    def get(self, request: Request) -> Response:
        return Response(ControlOut(Control.at(db_now())).data)

    @extend_schema(request=ControlAction, responses=ControlOut)
    def post(self, request: Request) -> Response:
        body = ControlAction(data=request.data)
        body.is_valid(raise_exception=True)
        now = db_now()
        control.apply(
            body.validated_data["action"],
            now,
            actor=request.user,
            remote_addr=client_address(request),
            reason=body.validated_data["reason"],
        )
        return Response(ControlOut(Control.at(now)).data)
