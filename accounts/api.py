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
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle

from accounts import connect
from accounts.connection import ConnectionTestsBusy, HostsRefused, try_logins
from accounts.models import (
    ALL_WEEKDAYS,
    AUTH_PASSWORD,
    CREDENTIAL_METHODS,
    ENDPOINT_FIELDS,
    ENGAGEMENT_FIELDS,
    POOL_FIELDS,
    REPUTATION_FIELDS,
    Actor,
    Mailbox,
    MailboxToken,
    OwnerPlan,
    guess_provider,
    validate_one_line,
    validate_timezone,
)
from warmup_project.api import (
    ESTIMATED_COUNT,
    EstimatedCountPagination,
    bad_request,
    client_address,
)
from warmup_project.permissions import signed_in, staff_may


def _password_field() -> serializers.CharField:
    return serializers.CharField(
        write_only=True,
        required=False,
        max_length=1000,
        trim_whitespace=False,  # a password may start or end with a space
        validators=[validate_one_line],
    )


class MailboxTokenOut(serializers.ModelSerializer):
    # What the API shows of a token mailbox's login: when and how often its token was
    # got, and the last failure. Never a token: those columns are not listed here.
    class Meta:
        model = MailboxToken
        fields = [
            "connected_at",
            "refreshed_at",
            "expires_at",
            "refreshes",
            "refresh_failures",
            "last_error",
        ]
        read_only_fields = fields

    def get_attribute(self, box: Mailbox) -> MailboxToken | None:
        # None for a password mailbox (even one left with a row from an earlier method)
        # and for a token mailbox not connected yet (DRF reads a missing row as None).
        return super().get_attribute(box) if box.uses_token else None


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
    token = MailboxTokenOut(read_only=True, allow_null=True)

    class Meta:
        model = Mailbox
        fields = [
            "id",
            "owner",
            "email",
            "display_name",
            "provider",
            "auth_method",
            "token",
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
            "file_sent_copies",
            "delete_old_warmup_mail",
            "timezone",
            "language",
            "window_start_hour",
            "window_end_hour",
            "window_weekdays",
            "warmup_started_on",
            "consecutive_failures",
            "last_error",
            "last_error_at",
            *ENGAGEMENT_FIELDS,
            *REPUTATION_FIELDS,
            *POOL_FIELDS,
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            *ENGAGEMENT_FIELDS,
            *REPUTATION_FIELDS,
            *POOL_FIELDS,
            "status",
            "status_reason",
            "consecutive_failures",
            "last_error",
            "last_error_at",
            "created_at",
            "updated_at",
        ]
        # The servers and logins: required for a password mailbox (validate), a token
        # mailbox's are its provider's.
        extra_kwargs = {
            "provider": {"required": False},
            **{name: {"required": False} for names in ENDPOINT_FIELDS.values() for name in names},
        }

    def validate_email(self, value: str) -> str:
        value = value.strip().lower()
        clash = Mailbox.objects.filter(email=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError("a mailbox with this address already exists.")
        return value

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        data = self._logins(data)
        # The model's own rules (window order, the WARMUP_MIN_DAILY_QUOTA floor, a moved
        # server's password, a token mailbox's servers) on the mailbox as it would be saved.
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
        if self.instance is None and not candidate.uses_token:
            for name in ("smtp_password", "imap_password"):
                if not data.get(name):
                    raise bad_request("this field is required.", name)
        return data

    def _logins(self, data: dict[str, Any]) -> dict[str, Any]:
        """The login method's part: a password mailbox names its servers; a token
        mailbox's are its provider's, filled in when not given (Mailbox.clean refuses
        others, oauth2 set by hand, and a domain no credentials serve), with no password."""
        current = self.instance
        method = data.get("auth_method", current.auth_method if current else AUTH_PASSWORD)
        if method == AUTH_PASSWORD:
            for name in ("smtp_host", "smtp_username", "imap_host", "imap_username"):
                if current is None and not data.get(name):
                    raise bad_request("this field is required.", name)
            return data
        for name in ("smtp_password", "imap_password"):
            if data.get(name):
                raise bad_request(f"a mailbox that logs in by {method} takes no password.", name)
        preset = copy.copy(current) if current is not None else Mailbox()
        preset.email = data.get("email", preset.email)
        preset.provider = data.get("provider", preset.provider)
        if method in CREDENTIAL_METHODS:
            preset.log_in_by_token(method)
            data["provider"] = preset.provider
        else:
            preset.auth_method = method
            preset.apply_preset()
        given = self.initial_data if isinstance(self.initial_data, dict) else {}
        for names in ENDPOINT_FIELDS.values():
            for name in names:
                if name not in given:  # the serializer's defaults (port 587…) are not given
                    data[name] = getattr(preset, name)
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
        # The token row joined: the serializer's `token` reads it for every mailbox.
        boxes = Mailbox.objects.select_related("owner", "token").order_by("id")
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

    @extend_schema(description=ESTIMATED_COUNT)
    def list(self, request: Request) -> Response:
        # By ids, then the page's mailboxes with their owners and tokens: an offset over
        # the joined rows took some 150 ms for the last page of 100,000.
        boxes = self.get_queryset()
        paginator = EstimatedCountPagination()
        page = paginator.paginate_ordered(boxes, request, self)
        return paginator.get_paginated_response(self.get_serializer(page, many=True).data)

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
            results = try_logins(box, timezone.now())
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


class ConnectOut(serializers.Serializer):
    authorize_url = serializers.URLField()


class ConnectViewSet(viewsets.ViewSet):
    """POST /api/mailboxes/connect/{google|microsoft}/: start connecting a mailbox by its
    owner's consent. The answer's `authorize_url` is where the user's browser goes; the
    provider sends it back to /oauth/{provider}/callback, which creates or updates the
    mailbox and redirects to WARMUP_OAUTH_RETURN_URL with `?mailbox=ID` or `?error=CODE`."""

    @extend_schema(request=None, responses={201: ConnectOut})
    def create(self, request: Request, provider: str) -> Response:
        redirect_uri = request.build_absolute_uri(reverse("oauth-callback", args=[provider]))
        try:
            url = connect.start(signed_in(request.user), provider, redirect_uri, timezone.now())
        except connect.ConnectRefused as exc:
            raise bad_request(exc.message) from None
        return Response({"authorize_url": url}, status=201)


def _actor(request: Request) -> Actor:
    return Actor(request.user, "api", client_address(request))
