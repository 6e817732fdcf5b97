"""Admin for mailboxes, owner plans and the users who own them.

Mailbox secrets are write-only here: the form takes a new password and encrypts it, and
every page shows only whether one is stored. Neither the Fernet token nor the plaintext
is ever rendered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts import status as mailbox_status
from accounts.models import (
    BULK_BATCH_SIZE,
    ENDPOINT_FIELDS,
    ENGAGEMENT_FIELDS,
    Actor,
    AuditEvent,
    Mailbox,
    OwnerPlan,
    validate_one_line,
)
from warmup_project.admin import ReadOnlyAdmin
from warmup_project.permissions import signed_in

PASSWORD_FIELDS = ("smtp_password", "imap_password")


class CascadedHistoryMixin(admin.ModelAdmin):
    """Rows that belong to a mailbox (or its owner) go with it: send logs, day counters,
    admin history. Their admins are read-only (ReadOnlyAdmin, registered by the apps
    that own them) so nobody deletes them one by one, but that must not block deleting
    the mailbox itself."""

    def get_deleted_objects(
        self, objs: Sequence[Model] | QuerySet[Any], request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        to_delete, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        read_only = {
            str(model._meta.verbose_name)
            for model, model_admin in self.admin_site._registry.items()
            if isinstance(model_admin, ReadOnlyAdmin)
        }
        perms_needed = {name for name in perms_needed if str(name) not in read_only}
        return to_delete, model_count, perms_needed, protected


def _password_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,  # required only when adding: see MailboxAdminForm.__init__
        strip=False,  # a password may start or end with a space
        validators=[validate_one_line],
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


class MailboxAdminForm(forms.ModelForm):
    """The model form plus write-only password inputs.

    The inputs are not model fields, so Django never fills them from the instance (no
    decryption for display) and PasswordInput(render_value=False) never echoes what was
    typed when the form comes back with errors.
    """

    smtp_password = _password_field("SMTP password")
    imap_password = _password_field("IMAP password")

    class Meta:
        model = Mailbox
        fields = (
            "owner",
            "email",
            "display_name",
            "provider",
            *ENDPOINT_FIELDS["smtp"],
            *ENDPOINT_FIELDS["imap"],
            "warmup_enabled",
            "status",
            "start_volume",
            "daily_increase",
            "daily_max",
            "reply_rate",
            "warmup_started_on",
            "timezone",
            "window_start_hour",
            "window_end_hour",
            "window_weekdays",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        adding = self.instance._state.adding
        for name in PASSWORD_FIELDS:
            if name in self.fields:
                self.fields[name].required = adding
                if not adding:
                    self.fields[name].help_text = "Leave blank to keep the stored password."

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        # On the instance before the model validates it (ModelForm._post_clean runs after
        # this), so Mailbox.clean() knows which passwords came with a moved server.
        for name in PASSWORD_FIELDS:
            if value := cleaned.get(name):
                setattr(self.instance, name, value)  # the model's setter encrypts
        return cleaned


def _mailboxes(count: int) -> str:
    return f"{count} mailbox" if count == 1 else f"{count} mailboxes"


def _batches(boxes: list[Mailbox]) -> list[list[Mailbox]]:
    return [boxes[i : i + BULK_BATCH_SIZE] for i in range(0, len(boxes), BULK_BATCH_SIZE)]


@admin.register(Mailbox)
class MailboxAdmin(CascadedHistoryMixin, admin.ModelAdmin):
    form = MailboxAdminForm
    list_display = (
        "email",
        "owner",
        "provider",
        "status",
        "warmup_enabled",
        "daily_max",
        "deliverability_score",
        "spam_flagged",
        "consecutive_failures",
        "updated_at",
    )
    list_filter = (
        "status",
        "provider",
        "warmup_enabled",
        "spam_flagged",
        ("owner", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("owner",)
    search_fields = ("email", "owner__username", "smtp_host")
    # Thousands of users: a <select> of all of them would be a page in itself.
    autocomplete_fields = ("owner",)
    show_full_result_count = False
    actions = ("enable_warmup", "disable_warmup", "pause", "resume")
    readonly_fields = (
        "smtp_password_stored",
        "imap_password_stored",
        "status_reason",
        "status_changed_at",
        "consecutive_failures",
        "last_error",
        "last_error_at",
        "created_at",
        "updated_at",
        *ENGAGEMENT_FIELDS,
    )
    fieldsets = (
        (None, {"fields": ("owner", "email", "display_name", "provider")}),
        (
            "SMTP",
            {
                "fields": (
                    "smtp_host",
                    "smtp_port",
                    "smtp_security",
                    "smtp_username",
                    "smtp_password",
                    "smtp_password_stored",
                )
            },
        ),
        (
            "IMAP",
            {
                "fields": (
                    "imap_host",
                    "imap_port",
                    "imap_security",
                    "imap_username",
                    "imap_password",
                    "imap_password_stored",
                )
            },
        ),
        (
            "Warmup",
            {
                "fields": (
                    "warmup_enabled",
                    "status",
                    "status_reason",
                    "status_changed_at",
                    "start_volume",
                    "daily_increase",
                    "daily_max",
                    "reply_rate",
                    "warmup_started_on",
                )
            },
        ),
        (
            "Sending window",
            {"fields": ("timezone", "window_start_hour", "window_end_hour", "window_weekdays")},
        ),
        ("Engagement and deliverability (last 7 days)", {"fields": ENGAGEMENT_FIELDS}),
        (
            "Health",
            {
                "fields": (
                    "consecutive_failures",
                    "last_error",
                    "last_error_at",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )

    def get_fieldsets(self, request: HttpRequest, obj: Mailbox | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        # A view-only user gets every field as read-only, and a read-only field named
        # "smtp_password" would be rendered through the model property, i.e. decrypted.
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f not in PASSWORD_FIELDS]})
            for name, opts in fieldsets
        ]

    @admin.display(description="Current SMTP password")
    def smtp_password_stored(self, obj: Mailbox) -> str:
        return "stored: yes" if obj.smtp_secret else "stored: no"

    @admin.display(description="Current IMAP password")
    def imap_password_stored(self, obj: Mailbox) -> str:
        return "stored: yes" if obj.imap_secret else "stored: no"

    def save_model(self, request: HttpRequest, obj: Mailbox, form: Any, change: bool) -> None:
        # Inside the admin's transaction for the whole request, with its LogEntry.
        now = timezone.now()
        reason = f"set to {obj.status} by {request.user.get_username()} in admin"
        if not change:
            # Born active; created in another status is a person's change of it, audited.
            status, obj.status = obj.status, mailbox_status.ACTIVE
            super().save_model(request, obj, form, change)
            if status != mailbox_status.ACTIVE:
                obj.set_status(status, reason, Actor(request.user, "admin"), now)
            return
        # The settings, then the status through the model's method: resuming resets the
        # failure count, and the change is audited like the API's and the actions'.
        status = obj.status
        obj.save_settings()
        if "status" in form.changed_data:
            obj.set_status(status, reason, Actor(request.user, "admin"), now)

    # Actions. Each locks the rows it will change, updates them in bulk and writes one
    # LogEntry per changed mailbox, all in one transaction: the history never names a
    # mailbox that did not change, nor misses one that did. Pause and resume go through
    # MailboxQuerySet.set_status, which also writes their AuditEvents.

    def _lock_changing(self, changing: QuerySet[Mailbox]) -> list[Mailbox]:
        # Locked in id order, so two actions (or an action and the engine) never wait on
        # each other in a cycle.
        return list(changing.select_for_update().order_by("pk").only("pk", "email"))

    def _log_changes(self, request: HttpRequest, boxes: list[Mailbox], message: str) -> None:
        # The rows log_change() would write, one INSERT per batch instead of per mailbox.
        for batch in _batches(boxes):
            LogEntry.objects.log_actions(
                user_id=signed_in(request.user).pk,
                queryset=batch,
                action_flag=CHANGE,
                change_message=message,
            )

    def _set_warmup(self, request: HttpRequest, queryset: QuerySet[Mailbox], enabled: bool) -> None:
        now = timezone.now()
        verb = "enabled" if enabled else "disabled"
        changing = Mailbox.objects.filter(pk__in=queryset.values("pk"), warmup_enabled=not enabled)
        below_floor = 0
        if enabled:
            # Mailbox.clean() refuses an enabled mailbox whose cap is under the quota
            # floor; a bulk UPDATE would skip that check, so the action applies it.
            floor = settings.WARMUP.min_daily_quota
            below_floor = changing.filter(daily_max__lt=floor).count()
            changing = changing.filter(daily_max__gte=floor)
        with transaction.atomic():
            boxes = self._lock_changing(changing)
            for batch in _batches(boxes):
                # update() bypasses auto_now, hence updated_at by hand.
                Mailbox.objects.filter(pk__in=[box.pk for box in batch]).update(
                    warmup_enabled=enabled, updated_at=now
                )
            self._log_changes(request, boxes, f"Warmup {verb} (admin action).")
        self.message_user(request, f"Warmup {verb} for {_mailboxes(len(boxes))}.", messages.SUCCESS)
        if below_floor:
            self.message_user(
                request,
                f"{_mailboxes(below_floor)} left disabled: daily max is below "
                f"WARMUP_MIN_DAILY_QUOTA ({settings.WARMUP.min_daily_quota}).",
                messages.WARNING,
            )

    def _set_status(
        self, request: HttpRequest, queryset: QuerySet[Mailbox], status: str, verb: str
    ) -> None:
        reason = f"{verb} by {request.user.get_username()} in admin"
        selected = Mailbox.objects.filter(pk__in=queryset.values("pk"))
        by = Actor(request.user, "admin")
        with transaction.atomic():
            boxes = selected.set_status(status, reason, by, timezone.now())
            self._log_changes(request, boxes, f"Status set to {status}: {reason}.")
        self.message_user(
            request, f"{verb.capitalize()} {_mailboxes(len(boxes))}.", messages.SUCCESS
        )

    @admin.action(description="Enable warmup for the selected mailboxes", permissions=["change"])
    def enable_warmup(self, request: HttpRequest, queryset: QuerySet[Mailbox]) -> None:
        self._set_warmup(request, queryset, enabled=True)

    @admin.action(description="Disable warmup for the selected mailboxes", permissions=["change"])
    def disable_warmup(self, request: HttpRequest, queryset: QuerySet[Mailbox]) -> None:
        self._set_warmup(request, queryset, enabled=False)

    @admin.action(description="Pause the selected mailboxes", permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Mailbox]) -> None:
        self._set_status(request, queryset, mailbox_status.PAUSED, "paused")

    @admin.action(description="Resume the selected mailboxes", permissions=["change"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Mailbox]) -> None:
        # Also from zero failures in a row, and lifts an engagement pause (Mailbox.resume).
        self._set_status(request, queryset, mailbox_status.ACTIVE, "resumed")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "actor_name",
        "action",
        "target_type",
        "target_id",
        "remote_addr",
    )
    list_filter = ("action", "target_type", "created_at")
    raw_id_fields = ("actor",)
    search_fields = ("actor_name", "=target_id")


@admin.register(OwnerPlan)
class OwnerPlanAdmin(admin.ModelAdmin):
    # Limits are validated by the model: full_clean() checks its constraints.
    list_display = ("owner", "name", "max_mailboxes", "max_daily_quota")
    list_select_related = ("owner",)
    list_filter = ("name",)
    search_fields = ("owner__username", "name")
    autocomplete_fields = ("owner",)
    show_full_result_count = False


class OwnerPlanInline(admin.StackedInline):
    model = OwnerPlan
    can_delete = False  # OwnerPlan.for_owner() would recreate it with defaults anyway
    max_num = 1
    fields = ("name", "max_mailboxes", "max_daily_quota")


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class UserAdmin(CascadedHistoryMixin, DjangoUserAdmin):
    inlines = (*DjangoUserAdmin.inlines, OwnerPlanInline)
