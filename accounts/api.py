"""The mailbox API: CRUD under /api/mailboxes/, pause and resume.

A user sees and changes only their own mailboxes (anything else is a 404, so ids of
other users' mailboxes are not revealed); staff see and change all only with the
matching model permission (view, change, delete mailbox). Passwords are write-only and
stored encrypted; the owner is whoever creates the mailbox."""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle

from accounts.connection import ConnectionTestsBusy, HostsRefused, try_logins
from accounts.models import (
    ALL_WEEKDAYS,
    ENDPOINT_FIELDS,
    ENGAGEMENT_FIELDS,
    Actor,
    Mailbox,
    OwnerPlan,
    guess_provider,
    validate_one_line,
    validate_timezone,
)
from warmup_project.api import bad_request, client_address
from warmup_project.permissions import signed_in, staff_may


def _password_field() -> serializers.CharField:
    return serializers.CharField(
        write_only=True,
        required=False,
        max_length=1000,
        trim_whitespace=False,  # a password may start or end with a space
        validators=[validate_one_line],
    )


class MailboxSerializer(serializers.ModelSerializer):
    smtp_password = _password_field()
    imap_password = _password_field()
    smtp_port = serializers.IntegerField(min_value=1, max_value=65535, default=587)
    imap_port = serializers.IntegerField(min_value=1, max_value=65535, default=993)
    reply_rate = serializers.FloatField(min_value=0, max_value=1, default=0.35)
    start_volume = serializers.IntegerField(min_value=0, max_value=10_000, default=10)
    daily_increase = serializers.IntegerField(min_value=0, max_value=10_000, default=5)
    daily_max = serializers.IntegerField(min_value=0, max_value=10_000, default=50)
    window_start_hour = serializers.IntegerField(min_value=0, max_value=23, default=8)
    window_end_hour = serializers.IntegerField(min_value=1, max_value=24, default=18)
    window_weekdays = serializers.IntegerField(
        min_value=1, max_value=ALL_WEEKDAYS, default=ALL_WEEKDAYS
    )
    timezone = serializers.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    owner = serializers.CharField(source="owner.get_username", read_only=True)

    class Meta:
        model = Mailbox
        fields = [
            "id",
            "owner",
            "email",
            "display_name",
            "provider",
            *ENDPOINT_FIELDS["smtp"],
            "smtp_password",
            *ENDPOINT_FIELDS["imap"],
            "imap_password",
            "warmup_enabled",
            "status",
            "status_reason",
            "start_volume",
            "daily_increase",
            "daily_max",
            "reply_rate",
            "timezone",
            "window_start_hour",
            "window_end_hour",
            "window_weekdays",
            "warmup_started_on",
            "consecutive_failures",
            "last_error",
            "last_error_at",
            *ENGAGEMENT_FIELDS,
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            *ENGAGEMENT_FIELDS,
            "status",
            "status_reason",
            "consecutive_failures",
            "last_error",
            "last_error_at",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"provider": {"required": False}}

    def validate_email(self, value: str) -> str:
        value = value.strip().lower()
        clash = Mailbox.objects.filter(email=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError("a mailbox with this address already exists.")
        return value

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        # The model's own rules (window order, the WARMUP_MIN_DAILY_QUOTA floor, a moved
        # server's password) on the mailbox as it would be saved.
        candidate = self._candidate(data)
        try:
            candidate.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        owner = self.context["request"].user
        plan = OwnerPlan.for_owner(owner if self.instance is None else self.instance.owner)
        if candidate.daily_max > plan.max_daily_quota:
            raise bad_request(
                f"above your plan's cap of {plan.max_daily_quota} sends a day.", "daily_max"
            )
        if self.instance is None:
            for name in ("smtp_password", "imap_password"):
                if not data.get(name):
                    raise bad_request("this field is required.", name)
        return data

    def _candidate(self, data: dict[str, Any]) -> Mailbox:
        """The instance (a copy: a refused change must leave it alone), or a new mailbox,
        with `data` applied; the copy keeps the endpoints the instance was loaded with."""
        box = copy.copy(self.instance) if self.instance is not None else Mailbox()
        for name, value in data.items():
            setattr(box, name, value)  # the password properties encrypt and take note
        return box

    def create(self, data: dict[str, Any]) -> Mailbox:
        owner = self.context["request"].user
        data.setdefault("provider", guess_provider(data["email"], data["smtp_host"]))
        # The count and the insert under the plan's lock, in one transaction: parallel
        # creates take turns, and each counts the mailboxes the previous ones added.
        with transaction.atomic():
            plan = OwnerPlan.lock_for(owner)
            if Mailbox.objects.filter(owner=owner).count() >= plan.max_mailboxes:
                raise bad_request(f"your plan allows {plan.max_mailboxes} mailboxes.")
            return self._save(Mailbox(owner=owner), data)

    def update(self, box: Mailbox, data: dict[str, Any]) -> Mailbox:
        return self._save(box, data)

    def _save(self, box: Mailbox, data: dict[str, Any]) -> Mailbox:
        for name, value in data.items():
            setattr(box, name, value)  # the password properties encrypt
        try:
            with transaction.atomic():
                if box._state.adding:
                    box.save()
                else:
                    box.save_settings()  # the state is the engine's and pause/resume's
        except IntegrityError:
            raise bad_request("a mailbox with this address already exists.", "email") from None
        return box


class ConnectionTestThrottle(UserRateThrottle):
    """Connection tests per user (REST_FRAMEWORK's `connection_test` rate): each one
    reaches out to servers the user named."""

    scope = "connection_test"


class LoginOut(serializers.Serializer):
    ok = serializers.BooleanField()
    reply = serializers.CharField(allow_blank=True)


class ConnectionTestOut(serializers.Serializer):
    smtp = LoginOut()
    imap = LoginOut()


class MailboxViewSet(viewsets.ModelViewSet):
    serializer_class = MailboxSerializer

    def get_queryset(self) -> QuerySet[Mailbox]:
        boxes = Mailbox.objects.select_related("owner").order_by("id")
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the types
            return boxes.none()
        # Every owner's mailboxes only for staff holding the permission for this action
        # (warmup_project.permissions); anything else that reaches a mailbox changes it.
        permission = {
            "list": "accounts.view_mailbox",
            "retrieve": "accounts.view_mailbox",
            "destroy": "accounts.delete_mailbox",
        }.get(self.action or "", "accounts.change_mailbox")
        user = self.request.user
        return boxes if staff_may(user, permission) else boxes.filter(owner=signed_in(user))

    @extend_schema(request=None, responses=ConnectionTestOut)
    @action(detail=True, methods=["post"], throttle_classes=[ConnectionTestThrottle])
    def test(self, request: Request, pk: str | None = None) -> Response:
        """Try the SMTP and IMAP logins at once (10 s in all); each result with the
        server's reply line. Nothing is sent. A host that resolves to a loopback, private,
        link-local, multicast or reserved address is a 400 (nothing is connected to)
        unless WARMUP_ALLOW_PRIVATE_HOSTS. Throttled per user (`connection_test`), and
        429 while this process runs two tests already."""
        box = self.get_object()
        try:
            results = try_logins(box)
        except ConnectionTestsBusy:
            raise Throttled(
                wait=5, detail="connection tests are busy; try again in a few seconds."
            ) from None
        except HostsRefused as refused:
            raise serializers.ValidationError(
                {f: [why] for f, why in refused.fields.items()}
            ) from None
        return Response(ConnectionTestOut(results).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        """Stop this mailbox's sending until it is resumed (audited)."""
        box = self.get_object()
        by = _actor(request)
        box.pause(f"paused by {by.name}", by, timezone.now())
        return Response(self.get_serializer(box).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        """Send again; the failure count starts from zero and a paused engagement resumes
        (audited)."""
        box = self.get_object()
        box.resume(_actor(request), timezone.now())
        return Response(self.get_serializer(box).data)


def _actor(request: Request) -> Actor:
    return Actor(request.user, "api", client_address(request))
