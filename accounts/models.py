from __future__ import annotations

import unicodedata
import zoneinfo
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connection, models
from django.db.models import Q

from accounts import crypto
from accounts import status as mailbox_status
from warmup.engine.pacing import ALL_WEEKDAYS
from warmup_project.hosts import host_problem

# What engagement and the deliverability refresh write: read-only in the API and admin.
ENGAGEMENT_FIELDS = (
    "engagement_paused_reason",
    "engaged_at",
    "inbox_rate_7d",
    "reply_rate_7d",
    "deliverability_score",
    "spam_flagged",
)

SECURITY_CHOICES = [("ssl", "SSL/TLS"), ("starttls", "STARTTLS"), ("none", "None")]
SECURITY_MODES = tuple(value for value, _ in SECURITY_CHOICES)

PROVIDER_CHOICES = [
    ("gmail", "Google"),
    ("outlook", "Microsoft"),
    ("yahoo", "Yahoo"),
    ("zoho", "Zoho"),
    ("icloud", "iCloud"),
    ("other", "Other"),
]
# Host or address domain fragments → provider, for pairing across providers.
_PROVIDER_HINTS = {
    "gmail": ("gmail.com", "googlemail.com", "google.com"),
    "outlook": ("outlook.", "office365.com", "hotmail.", "live.com", "msn.com"),
    "yahoo": ("yahoo.", "ymail.com", "aol.com"),
    "zoho": ("zoho.",),
    "icloud": ("icloud.com", "me.com", "mac.com"),
}


def email_domain(email: str) -> str:
    """The domain of an address, lowercased (domains are case-insensitive): the one
    reading for pairing (never the same domain), Message-IDs and provider guesses."""
    return email.rsplit("@", 1)[-1].lower()


def guess_provider(email: str, smtp_host: str) -> str:
    haystack = f"{email_domain(email)} {smtp_host.lower()}"
    for provider, hints in _PROVIDER_HINTS.items():
        if any(hint in haystack for hint in hints):
            return provider
    return "other"


def validate_host(value: str) -> None:
    """A host as `warmup_project.hosts.host_problem` reads it: a name by RFC 1123/IDNA or an
    IP address. The same check guards connections (`hosts.resolve`); here it tells the
    owner while they are still typing, and keeps a broken name out of the engine."""
    problem = host_problem(value)
    if problem is not None:
        shown = value if len(value) <= 60 else value[:60] + "…"
        raise ValidationError(f"{shown!r} {problem}.")


# Ports as a message on the field: the CHECK constraints alone give "Constraint … is
# violated", which names no field.
PORT_VALIDATORS = [
    MinValueValidator(1, "a port is a number from 1 to 65535."),
    MaxValueValidator(65535, "a port is a number from 1 to 65535."),
]


def validate_one_line(value: str) -> None:
    """No line break, NUL or other control character: these values end up in message
    headers (display name) or protocol commands (IMAP LOGIN sends the username as an
    unquoted atom), where a CR/LF starts a header or a command of the writer's own. The
    message never repeats the value: the passwords use this check too."""
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValidationError("must not contain a line break or another control character.")


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not a known time zone (e.g. Europe/Berlin).") from None


class OwnerPlan(models.Model):
    """What an owner's plan allows: how many mailboxes, and each one's daily cap."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="plan"
    )
    name = models.CharField(max_length=50, default="standard")
    max_mailboxes = models.IntegerField(default=100)
    max_daily_quota = models.IntegerField(default=100)

    class Meta:
        db_table = "owner_plans"
        constraints = [
            models.CheckConstraint(
                condition=Q(max_mailboxes__gte=0), name="owner_plans_max_mailboxes_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(max_daily_quota__gte=0), name="owner_plans_max_daily_quota_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} plan of {self.owner}"

    @classmethod
    def for_owner(cls, owner: Any) -> OwnerPlan:
        plan, _ = cls.objects.get_or_create(owner=owner)
        return plan

    @classmethod
    def lock_for(cls, owner: Any) -> OwnerPlan:
        """The owner's plan, created with the defaults if missing, locked until the
        transaction ends (call it inside one). Whoever adds mailboxes to an owner holds this
        lock from counting them to inserting, so parallel adds cannot pass max_mailboxes:
        without it, each would count the same free place and take it."""
        plan, _ = cls.objects.select_for_update().get_or_create(owner=owner)
        return plan


# What a stored password is bound to: the server and the login it was entered for.
ENDPOINT_FIELDS = {
    "smtp": ("smtp_host", "smtp_port", "smtp_security", "smtp_username"),
    "imap": ("imap_host", "imap_port", "imap_security", "imap_username"),
}
PASSWORD_AGAIN = (
    "give the {side} password again: the stored one is only sent to the server it was entered for."
)


class Mailbox(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mailboxes"
    )
    email = models.EmailField(unique=True)
    display_name = models.CharField(max_length=100, blank=True, validators=[validate_one_line])
    provider = models.CharField(max_length=20, choices=PROVIDER_CHOICES, default="other")

    smtp_host = models.CharField(max_length=255, validators=[validate_host])
    smtp_port = models.IntegerField(default=587, validators=PORT_VALIDATORS)
    smtp_security = models.CharField(max_length=10, choices=SECURITY_CHOICES, default="starttls")
    smtp_username = models.CharField(max_length=255, validators=[validate_one_line])
    smtp_secret = models.TextField(blank=True, editable=False)  # Fernet token, never plaintext

    imap_host = models.CharField(max_length=255, validators=[validate_host])
    imap_port = models.IntegerField(default=993, validators=PORT_VALIDATORS)
    imap_security = models.CharField(max_length=10, choices=SECURITY_CHOICES, default="ssl")
    imap_username = models.CharField(max_length=255, validators=[validate_one_line])
    imap_secret = models.TextField(blank=True, editable=False)

    warmup_enabled = models.BooleanField(default=True)
    status = models.CharField(
        max_length=20, choices=mailbox_status.CHOICES, default=mailbox_status.ACTIVE
    )
    status_reason = models.TextField(blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    # Ramp: start_volume on the first day, +daily_increase a day, up to daily_max.
    start_volume = models.IntegerField(default=10)
    daily_increase = models.IntegerField(default=5)
    daily_max = models.IntegerField(default=50)
    reply_rate = models.FloatField(default=0.35)

    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    window_start_hour = models.IntegerField(default=8)
    window_end_hour = models.IntegerField(default=18)
    window_weekdays = models.IntegerField(
        default=ALL_WEEKDAYS, help_text="Bit mask of sending days: 1 = Monday … 64 = Sunday."
    )
    warmup_started_on = models.DateField(null=True, blank=True)

    # Engagement (IMAP): paused with a reason when the login fails, until resumed or the
    # IMAP password changes; deliverability over the last 7 days as a sender
    # (warmup.engine.engage and warmup.engine.deliverability keep these).
    engagement_paused_reason = models.TextField(blank=True)
    engaged_at = models.DateTimeField(null=True, blank=True)
    inbox_rate_7d = models.FloatField(null=True, blank=True)
    reply_rate_7d = models.FloatField(null=True, blank=True)
    deliverability_score = models.IntegerField(null=True, blank=True)
    spam_flagged = models.BooleanField(default=False)

    consecutive_failures = models.IntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "mailboxes"
        verbose_name_plural = "mailboxes"
        indexes = [
            # The planner's scan: enabled mailboxes only.
            models.Index(
                fields=["id"], condition=Q(warmup_enabled=True), name="idx_mailboxes_enabled"
            ),
            # timezones_in_use() walks it: one probe per distinct zone, not a table scan.
            models.Index(fields=["timezone"], name="idx_mailboxes_timezone"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(smtp_port__gte=1, smtp_port__lte=65535),
                name="mailboxes_smtp_port_range",
            ),
            models.CheckConstraint(
                condition=Q(imap_port__gte=1, imap_port__lte=65535),
                name="mailboxes_imap_port_range",
            ),
            models.CheckConstraint(
                condition=Q(smtp_security__in=SECURITY_MODES), name="mailboxes_smtp_security_valid"
            ),
            models.CheckConstraint(
                condition=Q(imap_security__in=SECURITY_MODES), name="mailboxes_imap_security_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=mailbox_status.STATUSES), name="mailboxes_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(reply_rate__gte=0, reply_rate__lte=1), name="mailboxes_reply_rate_range"
            ),
            models.CheckConstraint(
                condition=Q(start_volume__gte=0), name="mailboxes_start_volume_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(daily_increase__gte=0), name="mailboxes_daily_increase_gte_0"
            ),
            models.CheckConstraint(condition=Q(daily_max__gte=0), name="mailboxes_daily_max_gte_0"),
            models.CheckConstraint(
                condition=Q(
                    window_start_hour__gte=0,
                    window_end_hour__lte=24,
                    window_start_hour__lt=models.F("window_end_hour"),
                ),
                name="mailboxes_window_hours_valid",
            ),
            models.CheckConstraint(
                condition=Q(window_weekdays__gte=1, window_weekdays__lte=ALL_WEEKDAYS),
                name="mailboxes_window_weekdays_valid",
            ),
            models.CheckConstraint(
                condition=Q(consecutive_failures__gte=0),
                name="mailboxes_consecutive_failures_gte_0",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        if kwargs.get("update_fields") is None:
            self._remember_endpoints()

    # The endpoints the stored passwords belong to, as loaded (or last saved), and the
    # sides given a new password since: moved_without_password() compares them.
    _stored_endpoints: dict[str, Any]
    _passwords_given: frozenset[str] = frozenset()

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> Mailbox:
        box = super().from_db(db, field_names, values)
        box._remember_endpoints()
        return box

    def _remember_endpoints(self) -> None:
        # Loaded fields only: reading a deferred one (.only() in the admin actions) would
        # cost a query per row.
        self._stored_endpoints = {
            name: self.__dict__[name]
            for names in ENDPOINT_FIELDS.values()
            for name in names
            if name in self.__dict__
        }
        self._passwords_given = frozenset()

    # Secrets: write through the properties; the columns hold Fernet tokens only.
    @property
    def smtp_password(self) -> str:
        return crypto.decrypt(self.smtp_secret, what=f"SMTP password of mailbox {self.pk}")

    @smtp_password.setter
    def smtp_password(self, value: str) -> None:
        self.smtp_secret = crypto.encrypt(value)
        # A new set, not add(): a copy of this mailbox (the API's candidate) shares it.
        self._passwords_given = self._passwords_given | {"smtp"}

    @property
    def imap_password(self) -> str:
        return crypto.decrypt(self.imap_secret, what=f"IMAP password of mailbox {self.pk}")

    @imap_password.setter
    def imap_password(self, value: str) -> None:
        self.imap_secret = crypto.encrypt(value)
        self._passwords_given = self._passwords_given | {"imap"}
        self.engagement_paused_reason = ""  # new credentials: engagement tries again

    def moved_without_password(self) -> dict[str, str]:
        """{password field: message} for each side (SMTP, IMAP) whose server or login
        changed since the mailbox was loaded while its password was not given again.

        A stored password goes only to the endpoint it was entered for: otherwise whoever
        may edit a mailbox could point it at a server of their own and read the password
        in clear from the next AUTH PLAIN or LOGIN. New mailboxes have nothing stored."""
        stored = getattr(self, "_stored_endpoints", {})
        return {
            f"{side}_password": PASSWORD_AGAIN.format(side=side.upper())
            for side, names in ENDPOINT_FIELDS.items()
            if side not in self._passwords_given
            and any(name in stored and stored[name] != getattr(self, name) for name in names)
        }

    @property
    def domain(self) -> str:
        return email_domain(self.email)

    def clean(self) -> None:
        super().clean()
        self.email = self.email.strip().lower()
        errors: dict[str, str] = {}
        floor = settings.WARMUP.min_daily_quota
        if self.warmup_enabled and self.daily_max < floor:
            errors["daily_max"] = f"must be at least WARMUP_MIN_DAILY_QUOTA ({floor})."
        if self.window_start_hour >= self.window_end_hour:
            errors["window_end_hour"] = "the sending window must end after it starts."
        errors.update(self.moved_without_password())
        if errors:
            raise ValidationError(errors)

    def set_status(self, status: str, reason: str, now: datetime) -> None:
        self.status = status
        self.status_reason = reason
        self.status_changed_at = now


def timezones_in_use() -> list[str]:
    """Every time zone some mailbox is in, in a few index probes (one per zone) instead
    of DISTINCT over the whole table: a superset of the zones of any subset of mailboxes,
    which is all the local-date expressions need."""
    table = Mailbox._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE zones(tz) AS (SELECT MIN(timezone) FROM {table} "  # noqa: S608
            f"UNION ALL SELECT (SELECT MIN(timezone) FROM {table} WHERE timezone > zones.tz) "
            "FROM zones WHERE zones.tz IS NOT NULL) SELECT tz FROM zones WHERE tz IS NOT NULL"
        )
        return [tz for (tz,) in cursor.fetchall()]
