"""GET /api/warmup/metrics: the system's counts as JSON (staff only)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from metrics.snapshot import measure
from warmup.engine.workers import db_now


class MetricsOut(serializers.Serializer):
    at = serializers.DateTimeField()
    total_mailboxes = serializers.IntegerField()
    active_mailboxes = serializers.IntegerField()
    sent_today = serializers.IntegerField()
    failed_today = serializers.IntegerField()
    throughput_per_hour = serializers.IntegerField()
    quota_completion_rate = serializers.FloatField()


class MetricsView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=MetricsOut)
    def get(self, request: Request) -> Response:
        now = db_now()
        return Response(MetricsOut({"at": now, **measure(now)}).data)
