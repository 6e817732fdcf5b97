"""Admin for mailboxes, OAuth credentials, owner plans and the users who own them.

Secrets are write-only here: a form takes a new password, client secret or service
account key and encrypts it, and every page shows only whether one is stored. Neither a
Fernet token nor a plaintext is ever rendered, and neither is a mailbox's or a
credential's token (only when it expires).

Staff with `accounts.add_mailbox` may also start a connection by consent for an owner
(Mailbox changelist: "Connect Google" / "Connect Microsoft"): the same accounts.connect
flow as the API, with the owner chosen instead of taken from the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from accounts import connect, oauth
from accounts import status as mailbox_status
from accounts.models import (
    AUTH_GOOGLE_DELEGATED,
    AUTH_MICROSOFT_APP,
    AUTH_PASSWORD,
    BULK_BATCH_SIZE,
    CREDENTIAL_METHODS,
    ENDPOINT_FIELDS,
    ENGAGEMENT_FIELDS,
    POOL_FIELDS,
    TOKEN_METHODS,
    Actor,
    AuditEvent,
    Mailbox,
    MailboxToken,
    OAuthCredential,
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


_ENDPOINT_NAMES = (*ENDPOINT_FIELDS["smtp"], *ENDPOINT_FIELDS["imap"])


class MailboxAdminForm(forms.ModelForm):
    """The model form plus write-only password inputs.

    The inputs are not model fields, so Django never fills them from the instance (no
    decryption for display) and PasswordInput(render_value=False) never echoes what was
    typed when the form comes back with errors.

    A mailbox that logs in with a token has no password, and its servers are its
    provider's preset: left blank, they are filled in; anything else is refused by the
    model (Mailbox.token_problems), as a form error on that field.
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
            "auth_method",
            *ENDPOINT_FIELDS["smtp"],
            *ENDPOINT_FIELDS["imap"],
            "warmup_enabled",
            "status",
            "start_volume",
            "daily_increase",
            "daily_max",
            "reply_rate",
            "file_sent_copies",
            "delete_old_warmup_mail",
            "warmup_started_on",
            "timezone",
            "language",
            "window_start_hour",
            "window_end_hour",
            "window_weekdays",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        adding = self.instance._state.adding
        method = self.data.get("auth_method") if self.is_bound else self.instance.auth_method
        for name in PASSWORD_FIELDS:
            if name in self.fields:
                # Checked in clean(): required when no password is stored for a mailbox
                # that logs in with one.
                self.fields[name].required = False
                if not adding and self.instance.auth_method == AUTH_PASSWORD:
                    self.fields[name].help_text = "Leave blank to keep the stored password."
        if method in TOKEN_METHODS:
            for name in _ENDPOINT_NAMES:
                if name in self.fields:
                    self.fields[name].required = False  # blank: the provider's preset

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        stored = self.instance
        method = cleaned.get("auth_method", stored.auth_method)
        if method in TOKEN_METHODS:
            self._clean_token_login(cleaned, method)
            return cleaned
        for name in PASSWORD_FIELDS:
            side = name.split("_", 1)[0]
            if value := cleaned.get(name):
                # On the instance before the model validates it (ModelForm._post_clean runs
                # after this), so Mailbox.clean() knows which passwords came with a moved
                # server. The model's setter encrypts.
                setattr(stored, name, value)
            elif name not in self.errors and (
                not getattr(stored, f"{side}_secret") or stored.uses_token
            ):
                self.add_error(name, "required: this mailbox has no stored password.")
        return cleaned

    def _clean_token_login(self, cleaned: dict[str, Any], method: str) -> None:
        """A token mailbox takes no password; its servers are its provider's, filled in
        where left blank (Mailbox.clean refuses others, oauth2 set by hand, and a domain
        no credentials serve)."""
        for name in PASSWORD_FIELDS:
            if cleaned.get(name):
                self.add_error(name, "a mailbox that logs in with a token keeps no password.")
        preset = Mailbox(
            email=(cleaned.get("email") or "").strip().lower(),
            auth_method=method,
            provider=cleaned.get("provider") or self.instance.provider,
        )
        if method in CREDENTIAL_METHODS:
            preset.log_in_by_token(method)
            cleaned["provider"] = preset.provider
        elif preset.oauth_provider is None:
            return  # Mailbox.token_problems names the provider
        else:
            preset.apply_preset()
        for name in _ENDPOINT_NAMES:
            if cleaned.get(name) in (None, ""):
                cleaned[name] = getattr(preset, name)


def _mailboxes(count: int) -> str:
    return f"{count} mailbox" if count == 1 else f"{count} mailboxes"


def _batches(boxes: list[Mailbox]) -> list[list[Mailbox]]:
    return [boxes[i : i + BULK_BATCH_SIZE] for i in range(0, len(boxes), BULK_BATCH_SIZE)]


# The read-only tokens panel of a mailbox that logs in with a token (MailboxAdmin).
TOKEN_PANEL = (
    "token_connected_at",
    "token_refreshed_at",
    "token_refreshes",
    "token_refresh_failures",
    "token_last_error",
    "token_expires_at",
)


class ConnectForm(forms.Form):
    """Who will own the connected mailbox, and at which provider it is."""

    owner = forms.ModelChoiceField(queryset=get_user_model()._default_manager.all())
    provider = forms.ChoiceField(
        choices=[("google", "Google"), ("microsoft", "Microsoft")], widget=forms.RadioSelect
    )

    def __init__(self, *args: Any, admin_site: admin.AdminSite, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Thousands of users: searched as the mailbox form's owner is, not one <select>.
        field: Any = self.fields["owner"]
        field.widget = AutocompleteSelect(Mailbox._meta.get_field("owner"), admin_site)
        field.widget.choices = field.choices  # as ChoiceField does for its own widget


@admin.register(Mailbox)
class MailboxAdmin(CascadedHistoryMixin, admin.ModelAdmin):
    form = MailboxAdminForm
    list_display = (
        "email",
        "owner",
        "provider",
        "auth_method",
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
        "auth_method",
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
        *TOKEN_PANEL,
        "status_reason",
        "status_changed_at",
        "consecutive_failures",
        "last_error",
        "last_error_at",
        "created_at",
        "updated_at",
        *ENGAGEMENT_FIELDS,
        *POOL_FIELDS,
    )
    fieldsets = (
        (
            None,
            {"fields": ("owner", "email", "display_name", "language", "provider", "auth_method")},
        ),
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
        (
            "Nothing left behind",
            {"fields": ("file_sent_copies", "delete_old_warmup_mail")},
        ),
        ("Engagement and deliverability (last 7 days)", {"fields": ENGAGEMENT_FIELDS}),
        ("Pool (last 7 days)", {"fields": POOL_FIELDS}),
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

    change_list_template = "admin/accounts/mailbox/change_list.html"

    def get_fieldsets(self, request: HttpRequest, obj: Mailbox | None = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        hidden: tuple[str, ...] = ()
        if obj is not None and obj.uses_token:
            # No password: the password inputs and "stored: …" say nothing here; the
            # tokens panel says how its logins are going instead.
            hidden = (*PASSWORD_FIELDS, "smtp_password_stored", "imap_password_stored")
            fieldsets.insert(3, ("Tokens", {"fields": TOKEN_PANEL}))
        elif obj is not None and not self.has_change_permission(request, obj):
            # A view-only user gets every field as read-only, and a read-only field named
            # "smtp_password" would be rendered through the model property, i.e. decrypted.
            hidden = PASSWORD_FIELDS
        if not hidden:
            return fieldsets
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f not in hidden]})
            for name, opts in fieldsets
        ]

    # The tokens panel: how a token mailbox's logins are going, never a token.

    def _token_row(self, obj: Mailbox) -> MailboxToken | None:
        if not hasattr(obj, "_admin_token_row"):
            obj._admin_token_row = (  # type: ignore[attr-defined]
                MailboxToken.objects.filter(pk=obj.pk)
                .only(*(name.removeprefix("token_") for name in TOKEN_PANEL))
                .first()
                if obj.pk
                else None
            )
        return obj._admin_token_row  # type: ignore[attr-defined]

    def _token_value(self, obj: Mailbox, name: str) -> Any:
        row = self._token_row(obj)
        return None if row is None else getattr(row, name)

    @admin.display(description="connected at")
    def token_connected_at(self, obj: Mailbox) -> Any:
        return self._token_value(obj, "connected_at")

    @admin.display(description="refreshed at")
    def token_refreshed_at(self, obj: Mailbox) -> Any:
        return self._token_value(obj, "refreshed_at")

    @admin.display(description="refreshes")
    def token_refreshes(self, obj: Mailbox) -> Any:
        return self._token_value(obj, "refreshes")

    @admin.display(description="refresh failures")
    def token_refresh_failures(self, obj: Mailbox) -> Any:
        return self._token_value(obj, "refresh_failures")

    @admin.display(description="last token error")
    def token_last_error(self, obj: Mailbox) -> Any:
        return self._token_value(obj, "last_error")

    @admin.display(description="access token expires at")
    def token_expires_at(self, obj: Mailbox) -> Any:
        return self._token_value(obj, "expires_at")

    # Connecting a mailbox by its owner's consent, for an owner staff choose.

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "connect/",
                self.admin_site.admin_view(self.connect_view),
                name="accounts_mailbox_connect",
            ),
            path(
                "connected/",
                self.admin_site.admin_view(self.connected_view),
                name="accounts_mailbox_connected",
            ),
        ]
        return own + super().get_urls()  # before "<object_id>/", which would take it

    def connect_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = ConnectForm(request.POST, admin_site=self.admin_site)
            if form.is_valid():
                provider = form.cleaned_data["provider"]
                callback = reverse("oauth-callback", args=[provider])
                try:
                    url = connect.start(
                        form.cleaned_data["owner"],
                        provider,
                        request.build_absolute_uri(callback),
                        timezone.now(),
                        return_url=request.build_absolute_uri(
                            reverse("admin:accounts_mailbox_connected")
                        ),
                    )
                except connect.ConnectRefused as exc:
                    self.message_user(request, f"Cannot connect: {exc.message}", messages.ERROR)
                else:
                    return HttpResponseRedirect(url)
        else:
            form = ConnectForm(
                initial={"provider": request.GET.get("provider", "google")},
                admin_site=self.admin_site,
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Connect a mailbox by its owner's consent",
            "opts": self.opts,
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/accounts/mailbox/connect.html", context)

    def connected_view(self, request: HttpRequest) -> HttpResponse:
        """Where the callback sends the staff's browser back: the mailbox it connected,
        or the list with what went wrong."""
        mailbox = request.GET.get("mailbox", "")
        if mailbox.isdigit() and self.get_queryset(request).filter(pk=int(mailbox)).exists():
            self.message_user(request, "Connected.", messages.SUCCESS)
            return HttpResponseRedirect(
                reverse("admin:accounts_mailbox_change", args=[int(mailbox)])
            )
        error = request.GET.get("error", "")[:50] or "unknown"
        self.message_user(
            request,
            f"The connection did not finish: {error} (README: Logging in with OAuth 2.0).",
            messages.ERROR,
        )
        return HttpResponseRedirect(reverse("admin:accounts_mailbox_changelist"))

    @admin.display(description="Current SMTP password")
    def smtp_password_stored(self, obj: Mailbox) -> str:
        return "stored: yes" if obj.smtp_secret else "stored: no"

    @admin.display(description="Current IMAP password")
    def imap_password_stored(self, obj: Mailbox) -> str:
        return "stored: yes" if obj.imap_secret else "stored: no"

    def save_model(self, request: HttpRequest, obj: Mailbox, form: Any, change: bool) -> None:
        # Inside the admin's transaction for the whole request, with its LogEntry.
        now = timezone.now()
        if obj.uses_token:
            obj.smtp_secret = obj.imap_secret = ""  # a token mailbox keeps no password
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


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value: not the stored one (there is none to
    render: the field is not a model field), and not what was typed when the form comes
    back with errors, as PasswordInput(render_value=False) does for one line."""

    def format_value(self, value: Any) -> None:
        return None


class OAuthCredentialAdminForm(forms.ModelForm):
    """Operator credentials with a write-only secret: a Google service account's JSON key
    (checked with oauth.ServiceAccount.from_json; the client id is its client_email) or a
    Microsoft application's client secret (with its client id and tenant). Left blank on
    a change, the stored secret stays, unless the kind changes: a secret belongs to its
    kind."""

    service_account_key = forms.CharField(
        label="Service account JSON key",
        required=False,
        strip=False,
        widget=WriteOnlyTextarea(attrs={"rows": 6, "autocomplete": "off", "spellcheck": "false"}),
        help_text="Google: paste the key file as it is. Never shown again.",
    )
    client_secret = forms.CharField(
        label="Client secret",
        required=False,
        strip=False,
        validators=[validate_one_line],
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Microsoft: the application's client secret. Never shown again.",
    )

    class Meta:
        model = OAuthCredential
        fields = ("name", "kind", "client_id", "tenant", "domains", "enabled")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # As loaded: the form writes the new values onto the instance before it is saved.
        self._stored_identity = self._identity(vars(self.instance))

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        stored = self.instance
        kind = cleaned.get("kind")
        # A secret of another kind (or none yet) cannot be kept.
        keeps = not stored._state.adding and kind == stored.kind and bool(stored.secret)
        key, secret = cleaned.get("service_account_key"), cleaned.get("client_secret")
        if kind == AUTH_GOOGLE_DELEGATED:
            if secret:
                self.add_error("client_secret", "a Google service account has no client secret.")
            if key:
                try:
                    account = oauth.ServiceAccount.from_json(key)
                except ValueError as exc:
                    self.add_error("service_account_key", str(exc))  # never quotes the key
                else:
                    cleaned["client_id"] = account.client_email
                    stored.secret_value = key  # the setter encrypts
            elif not keeps:
                self.add_error("service_account_key", "required: no key of this kind is stored.")
            else:
                cleaned["client_id"] = stored.client_id  # it comes from the stored key
        elif kind == AUTH_MICROSOFT_APP:
            if key:
                self.add_error(
                    "service_account_key", "a Microsoft application has no service account key."
                )
            for name in ("client_id", "tenant"):
                if not (cleaned.get(name) or "").strip() and name not in self.errors:
                    self.add_error(name, "required for a Microsoft application.")
            if secret:
                stored.secret_value = secret
            elif not keeps:
                self.add_error("client_secret", "required: no secret of this kind is stored.")
        return cleaned

    @property
    def identity_changed(self) -> bool:
        """Whether the credentials now name another application or secret: the access
        token cached for the old one must go."""
        cleaned = self.cleaned_data
        return bool(
            self._identity(cleaned) != self._stored_identity
            or cleaned.get("service_account_key")
            or cleaned.get("client_secret")
        )

    @staticmethod
    def _identity(values: dict[str, Any]) -> tuple[str, str, str]:
        return (values.get("kind", ""), values.get("client_id", ""), values.get("tenant", ""))


# Written by the form; the token cache (TokenCache's fields) belongs to accounts.tokens.
CREDENTIAL_FORM_FIELDS = (
    "name",
    "kind",
    "client_id",
    "tenant",
    "secret",
    "domains",
    "enabled",
    "updated_at",
)


@admin.register(OAuthCredential)
class OAuthCredentialAdmin(admin.ModelAdmin):
    form = OAuthCredentialAdminForm
    list_display = ("name", "kind", "domain_count", "enabled", "secret_stored", "expires_at")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "domains", "client_id")
    readonly_fields = ("secret_stored", "expires_at", "refresh_after", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "kind", "domains", "enabled")}),
        (
            "Google service account",
            {"fields": ("service_account_key",)},
        ),
        ("Microsoft application", {"fields": ("tenant", "client_secret")}),
        ("Identity", {"fields": ("client_id", "secret_stored")}),
        (
            "Access token (the cached one; never shown)",
            {"fields": ("expires_at", "refresh_after", "created_at", "updated_at")},
        ),
    )

    def get_fieldsets(self, request: HttpRequest, obj: OAuthCredential | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        # View-only: the write-only inputs are no attributes to show (and must never be).
        hidden = ("service_account_key", "client_secret")
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f not in hidden]})
            for name, opts in fieldsets
        ]

    @admin.display(description="secret stored")
    def secret_stored(self, obj: OAuthCredential) -> str:
        return "yes" if obj.secret else "no"

    @admin.display(description="domains")
    def domain_count(self, obj: OAuthCredential) -> str:
        domains = obj.domain_list
        shown = ", ".join(domains[:3])
        return f"{shown} (+{len(domains) - 3})" if len(domains) > 3 else shown

    def save_model(
        self, request: HttpRequest, obj: OAuthCredential, form: Any, change: bool
    ) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        # Never the token cache as loaded: a refresh may have saved a newer token since,
        # and writing back this one would undo it.
        obj.save(update_fields=CREDENTIAL_FORM_FIELDS)
        if form.identity_changed:
            # The cached token is the old application's (or tenant's): dropped, and a
            # refresh under way loses its compare-and-save.
            OAuthCredential.objects.filter(pk=obj.pk).update(
                access_secret="",
                expires_at=None,
                refresh_after=None,
                generation=F("generation") + 1,
            )


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
