from __future__ import annotations

import copy
import datetime as dt
import unicodedata
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connection, models, transaction
from django.db.models import Q

from accounts import crypto
from accounts import status as mailbox_status
from accounts.transport.account import Account
from warmup_project.hosts import host_problem
from warmup_project.sql import array_literal

# A mailbox's sending days (window_weekdays): bit 0 = Monday … bit 6 = Sunday.
ALL_WEEKDAYS = 0b1111111

# What engagement and the deliverability refresh write: read-only in the API and admin.
ENGAGEMENT_FIELDS = (
    "engagement_paused_reason",
    "engaged_at",
    "inbox_rate_7d",
    "reply_rate_7d",
    "auth_pass_rate_7d",
    "deliverability_score",
    "spam_flagged",
    "dmarc_flagged",
)

# The mailbox's state: changed only by the methods of Mailbox and MailboxQuerySet (pause,
# resume, set_status, count_failure, stop_with_error, pause_engagement), never by a form
# or a serializer saving the whole row (see Mailbox.save_settings).
# Of those, what sending changes: the status and the circuit breaker's count (the engine's
# recording writes these of a whole batch in one statement).
SENDING_STATE_FIELDS = (
    "status",
    "status_reason",
    "status_changed_at",
    "consecutive_failures",
    "last_error",
    "last_error_at",
)
# What the reputation checks change (warmup.reputation): the ramp held while listed.
REPUTATION_FIELDS = ("ramp_held_since",)
# The mailbox's place in the pool over 7 days (warmup.engine.pool): read-only everywhere.
POOL_FIELDS = (
    "partners_7d",
    "same_owner_share_7d",
    "same_provider_share_7d",
    "reciprocity_7d",
)
STATE_FIELDS = (*SENDING_STATE_FIELDS, *ENGAGEMENT_FIELDS, *REPUTATION_FIELDS, *POOL_FIELDS)

# Hard failures in a row (5xx, unexpected errors) after which the engine puts a mailbox in
# `error` instead of hammering its server: the circuit breaker.
FAILURES_BEFORE_ERROR = 10

# Rows per UPDATE / audit INSERT of a bulk change: "select all" over 100,000 mailboxes in
# the admin stays under PostgreSQL's parameter limit while a page is one statement.
BULK_BATCH_SIZE = 1000

# How a mailbox logs in (DESIGN "Logins"). Every method but `password` logs in with a
# bearer token (SASL XOAUTH2/OAUTHBEARER) that accounts.tokens gets and refreshes.
AUTH_PASSWORD = "password"
AUTH_OAUTH2 = "oauth2"  # the owner's consent: authorization code + PKCE, refresh token kept
AUTH_GOOGLE_DELEGATED = "google_delegated"  # an operator's service account (JWT bearer)
AUTH_MICROSOFT_APP = "microsoft_app"  # an operator tenant's app-only client credentials
AUTH_METHOD_CHOICES = [
    (AUTH_PASSWORD, "Password (app passwords included)"),
    (AUTH_OAUTH2, "OAuth 2.0 consent (Google, Microsoft)"),
    (AUTH_GOOGLE_DELEGATED, "Google domain-wide delegation"),
    (AUTH_MICROSOFT_APP, "Microsoft 365 app-only"),
]
AUTH_METHODS = tuple(value for value, _ in AUTH_METHOD_CHOICES)
TOKEN_METHODS = (AUTH_OAUTH2, AUTH_GOOGLE_DELEGATED, AUTH_MICROSOFT_APP)
# Operator credentials serve these methods (OAuthCredential.kind), by the mailbox's domain.
CREDENTIAL_METHODS = (AUTH_GOOGLE_DELEGATED, AUTH_MICROSOFT_APP)
# The OAuth provider of each token method; `oauth2` takes it from the mailbox's provider.
TOKEN_PROVIDERS = {"gmail": "google", "outlook": "microsoft"}
# ... and the mailbox's `provider` (pairing across providers) of each OAuth provider.
MAILBOX_PROVIDERS = {oauth: mailbox for mailbox, oauth in TOKEN_PROVIDERS.items()}
_METHOD_PROVIDERS = {AUTH_GOOGLE_DELEGATED: "google", AUTH_MICROSOFT_APP: "microsoft"}
# The status reason that says the owner must connect the mailbox again (a refused refresh).
RECONNECT_NEEDED = "reconnect needed"
# The status reason of a mailbox paused because its domain's SPF, DKIM or DMARC failed
# past the grace period (warmup.reputation); it resumes by itself when they pass again.
DNS_BROKEN = "domain setup broken"

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


class EmailDomain(models.Func):
    """email_domain in SQL: the lowercased part after the last "@" of an address. The
    mailboxes' idx_mailboxes_email_domain indexes this very expression, so a filter on
    it (a domain's mailboxes, the mailbox counts of a page of domains) reads only theirs."""

    template = "lower(split_part(%(expressions)s, '@', -1))"
    output_field = models.CharField()


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


# The languages warmup mail is written in; "" (auto) picks one from the mailbox.
LANGUAGE_CHOICES = [
    ("", "auto"),
    ("en", "English"),
    ("de", "German"),
    ("fr", "French"),
    ("es", "Spanish"),
]
_TLD_LANGUAGES = {
    "de": "de", "at": "de", "fr": "fr", "es": "es", "mx": "es", "ar": "es", "co": "es",
    "cl": "es", "pe": "es", "uy": "es", "ve": "es", "ec": "es", "bo": "es", "py": "es",
}  # fmt: skip
_ZONE_LANGUAGES = {
    "Europe/Berlin": "de", "Europe/Vienna": "de", "Europe/Zurich": "de", "Europe/Busingen": "de",
    "Europe/Vaduz": "de", "Europe/Paris": "fr", "Europe/Brussels": "fr", "Europe/Luxembourg": "fr",
    "Europe/Monaco": "fr", "America/Montreal": "fr", "Europe/Madrid": "es", "Atlantic/Canary": "es",
    "America/Mexico_City": "es", "America/Bogota": "es", "America/Lima": "es",
    "America/Santiago": "es", "America/Caracas": "es", "America/Montevideo": "es",
    "America/Guatemala": "es", "America/Costa_Rica": "es", "America/Panama": "es",
}  # fmt: skip


def writing_language(language: str, email: str, timezone: str) -> str:
    """The language a mailbox writes warmup mail in: its own choice, else its domain's
    country (.de .at → German, .fr → French, .es and Spanish-speaking America → Spanish),
    else its time zone's (Europe/Berlin, Vienna, Zurich → German; Paris, Brussels,
    Luxembourg → French; Madrid, Mexico City, Bogotá … → Spanish), else English."""
    if language:
        return language
    tld = email_domain(email).rsplit(".", 1)[-1]
    if tld in _TLD_LANGUAGES:
        return _TLD_LANGUAGES[tld]
    if timezone.startswith("America/Argentina/"):
        return "es"
    return _ZONE_LANGUAGES.get(timezone, "en")


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


@dataclass(frozen=True)
class Actor:
    """A person changing mailboxes, as their audit entries name them: the user, the door
    ("api" or "admin") and, through the API, the client's address."""

    user: Any
    via: str
    remote_addr: str | None = None

    @property
    def name(self) -> str:
        return str(self.user.get_username())


# The audit action of a person setting each status.
_STATUS_ACTIONS = {
    mailbox_status.ACTIVE: "mailbox.resume",
    mailbox_status.PAUSED: "mailbox.pause",
    mailbox_status.ERROR: "mailbox.error",
    mailbox_status.DISABLED: "mailbox.disable",
}


class MailboxQuerySet(models.QuerySet["Mailbox"]):
    def set_status(self, status: str, reason: str, by: Actor, now: datetime) -> list[Mailbox]:
        """A person sets the status of these mailboxes; returns those that changed, as
        they were before (pk, email and state).

        Setting `active` is resuming: the failure count starts from zero, an engagement
        pause is lifted and the reason is cleared (`reason` is not used), so a mailbox
        resumed after ten failures is not back in `error` at its next one. Another
        status takes `reason`; a mailbox already in it keeps its own (the breaker's "SMTP
        login refused" says more than "paused by …"). The rows are locked in id order
        (never a cycle with another change or the engine's recording), updated in bulk and
        each change audited, all in one transaction: the audit never names a mailbox that
        did not change."""
        if status not in _STATUS_ACTIONS:
            raise ValueError(f"unknown status {status!r}")
        resuming = status == mailbox_status.ACTIVE
        update: dict[str, Any] = {
            "status": status,
            "status_reason": "" if resuming else reason,
            "status_changed_at": now,
            "updated_at": now,  # update() bypasses auto_now
        }
        if resuming:
            update.update(consecutive_failures=0, engagement_paused_reason="")
        with transaction.atomic():
            # Every selected row is locked, then judged as it is once locked: filtering in
            # the query would judge the snapshot, so a row the engine is stopping (still
            # active in the snapshot) would be skipped, and stay stopped after a resume.
            # FOR NO KEY UPDATE, as recording's (accounts.sql.COUNT_SUCCESS_LOCKING).
            selected = self.select_for_update(of=("self",), no_key=True).order_by("pk")
            boxes: list[Mailbox] = [
                box
                for box in selected.only("pk", "email", *STATE_FIELDS)
                if box.status != status
                or (resuming and (box.consecutive_failures or box.engagement_paused_reason))
            ]
            for start in range(0, len(boxes), BULK_BATCH_SIZE):
                batch = boxes[start : start + BULK_BATCH_SIZE]
                Mailbox.objects.filter(pk__in=[box.pk for box in batch]).update(**update)
            AuditEvent.objects.bulk_create(
                (_audit_entry(box, update, by, now) for box in boxes),
                batch_size=BULK_BATCH_SIZE,
            )
        return boxes

    def pause(self, reason: str, by: Actor, now: datetime) -> list[Mailbox]:
        return self.set_status(mailbox_status.PAUSED, reason, by, now)

    def resume(self, by: Actor, now: datetime) -> list[Mailbox]:
        return self.set_status(mailbox_status.ACTIVE, "", by, now)

    def count_success(self, clean: Sequence[int], *, judged_next: Sequence[int] = ()) -> int:
        """Mailboxes of `clean` had accepted sends and nothing else: their failures in a
        row end, in one statement for the whole batch (Mailbox.count_success for one
        judged one by one). The same statement locks the `judged_next` mailboxes, all in
        id order, as set_status locks a person's selection: recording and a bulk pause
        or resume never hold one row each and wait for the other's."""
        from accounts import sql  # it reads this module's models

        with connection.cursor() as cursor:
            cursor.execute(
                sql.COUNT_SUCCESS_LOCKING,
                {
                    "clean": array_literal(clean, "bigint"),
                    "troubled": array_literal(judged_next, "bigint"),
                },
            )
            return cursor.rowcount

    def stop_with_error(self, reason: str, now: datetime) -> int:
        """The engine stops these mailboxes: they cannot send (an unreadable secret, a
        message that cannot be composed) until a person fixes and resumes them. Only
        active ones: a person's pause keeps its reason, as in Mailbox.count_failure."""
        return self.filter(status=mailbox_status.ACTIVE).update(
            status=mailbox_status.ERROR, status_reason=reason, status_changed_at=now
        )

    def require_reconnect(self, reason: str, now: datetime) -> int:
        """The provider refused these mailboxes' tokens for good (revoked, expired, the
        password changed): they pause until the owner connects them again, which resumes
        them (accounts.oauth.connect). Only active ones, as stop_with_error."""
        return self.filter(status=mailbox_status.ACTIVE).update(
            status=mailbox_status.PAUSED,
            status_reason=f"{RECONNECT_NEEDED}: {reason}"[:1000],
            status_changed_at=now,
        )

    # Reputation (warmup.reputation), each one UPDATE: the engine's, not a person's.
    def pause_for_dns(self, reason: str, now: datetime) -> int:
        """These mailboxes' domain has failed SPF, DKIM or DMARC past the grace period:
        they pause with the reason until it passes again (resume_after_dns). Only active
        ones: a person's pause keeps its reason."""
        return self.filter(status=mailbox_status.ACTIVE).update(
            status=mailbox_status.PAUSED,
            status_reason=f"{DNS_BROKEN}: {reason}"[:1000],
            status_changed_at=now,
        )

    def resume_after_dns(self, now: datetime) -> int:
        """Their domain passes again: those paused for it (and only for it) send again."""
        return self.filter(
            status=mailbox_status.PAUSED, status_reason__startswith=DNS_BROKEN
        ).update(status=mailbox_status.ACTIVE, status_reason="", status_changed_at=now)

    def hold_ramp(self, now: datetime) -> int:
        """Listed on a blacklist: their ramp stays at this day's volume (the planner reads
        ramp_held_since; the UTC date of `now`) until released."""
        return self.filter(ramp_held_since__isnull=True).update(ramp_held_since=now.date())

    def release_ramp(self, now: datetime) -> int:
        """Delisted: the ramp goes on from where it was held, not from where it would be:
        the start moves forward by the days held."""
        released = list(
            self.filter(ramp_held_since__isnull=False).only(
                "pk", "warmup_started_on", "ramp_held_since"
            )
        )
        for box in released:
            assert box.ramp_held_since is not None
            if box.warmup_started_on is not None:
                box.warmup_started_on += max(now.date() - box.ramp_held_since, dt.timedelta(0))
            box.ramp_held_since = None
        Mailbox.objects.bulk_update(
            released, ["warmup_started_on", "ramp_held_since"], batch_size=BULK_BATCH_SIZE
        )
        return len(released)


def _audit_entry(box: Mailbox, update: dict[str, Any], by: Actor, now: datetime) -> AuditEvent:
    """What changed, as [before, after] per field (the timestamps aside)."""
    changes = {
        name: [getattr(box, name), value]
        for name, value in update.items()
        if name not in ("status_changed_at", "updated_at") and getattr(box, name) != value
    }
    return AuditEvent(
        created_at=now,
        actor=by.user,
        actor_name=by.name,
        action=_STATUS_ACTIONS[update["status"]],
        target_type="mailbox",
        target_id=str(box.pk),
        detail={"via": by.via, "email": box.email, **changes},
        remote_addr=by.remote_addr,
    )


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
    auth_method = models.CharField(
        max_length=20, choices=AUTH_METHOD_CHOICES, default=AUTH_PASSWORD
    )

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
    # Warmup mail's language; blank: writing_language() picks it from the domain or zone.
    language = models.CharField(max_length=2, choices=LANGUAGE_CHOICES, blank=True, default="")
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
    # Nothing left behind (both on unless the owner turns them off): its own Sent-folder
    # copies of warmup mail filed into the Warmup folder; warmup mail older than
    # WARMUP_MAIL_RETENTION_DAYS deleted from there. Its own mail is never touched.
    file_sent_copies = models.BooleanField(
        default=True, help_text="Move the Sent-folder copies of warmup mail into the Warmup folder."
    )
    delete_old_warmup_mail = models.BooleanField(
        default=True,
        help_text="Delete warmup mail past WARMUP_MAIL_RETENTION_DAYS from the Warmup folder.",
    )
    engaged_at = models.DateTimeField(null=True, blank=True)
    inbox_rate_7d = models.FloatField(null=True, blank=True)
    reply_rate_7d = models.FloatField(null=True, blank=True)
    deliverability_score = models.IntegerField(null=True, blank=True)
    spam_flagged = models.BooleanField(default=False)
    # Receivers' own verdicts (Authentication-Results) over 7 days: the share of this
    # mailbox's mail that passed DMARC where they judged it, and whether it fails there
    # although its DNS may look right.
    auth_pass_rate_7d = models.FloatField(null=True, blank=True)
    dmarc_flagged = models.BooleanField(default=False)
    # Reputation (warmup.reputation): its server or domain is on a blacklist, so its
    # ramp stays at this day's volume until delisted (no daily increase).
    ramp_held_since = models.DateField(null=True, blank=True)
    # The pool over the last 7 days (warmup.engine.pool keeps these): distinct mailboxes it
    # sent to or received from; of the warmup mail it received, the share from its own
    # owner's mailboxes and from its own provider; the share of its partners it both sent
    # to and received from. None: nothing received (shares) or no partner (reciprocity).
    partners_7d = models.IntegerField(null=True, blank=True)
    same_owner_share_7d = models.FloatField(null=True, blank=True)
    same_provider_share_7d = models.FloatField(null=True, blank=True)
    reciprocity_7d = models.FloatField(null=True, blank=True)

    consecutive_failures = models.IntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MailboxQuerySet.as_manager()

    class Meta:
        db_table = "mailboxes"
        verbose_name_plural = "mailboxes"
        indexes = [
            # The planner's scan: enabled mailboxes only.
            models.Index(
                fields=["id"], condition=Q(warmup_enabled=True), name="idx_mailboxes_enabled"
            ),
            # accounts.sql.timezones_in_use() walks it: a probe per distinct zone, no scan;
            # and it holds the ids of a zone's mailboxes (warmup.api counts by them).
            models.Index(fields=["timezone", "id"], name="idx_mailboxes_timezone_id"),
            models.Index(EmailDomain("email"), name="idx_mailboxes_email_domain"),
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
                condition=Q(auth_method__in=AUTH_METHODS), name="mailboxes_auth_method_valid"
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
    def from_db(cls, db: str | None, field_names: Any, values: Any, **kwargs: Any) -> Mailbox:
        box = super().from_db(db, field_names, values, **kwargs)
        box._remember_endpoints()
        return box

    # How it logged in as loaded (or last saved): token_problems() refuses oauth2 set by
    # hand. Nothing for a new mailbox.
    _stored_auth_method: str = ""

    def _remember_endpoints(self) -> None:
        # Loaded fields only: reading a deferred one (.only() in the admin actions) would
        # cost a query per row.
        self._stored_auth_method = self.__dict__.get("auth_method", "")
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

    # The transports' view of the mailbox: where and as whom it logs in. Each decrypts
    # its password, so it raises crypto.SecretError when that cannot be done.
    def smtp_account(self) -> Account:
        return Account(
            self.smtp_host,
            self.smtp_port,
            self.smtp_security,
            self.smtp_username,
            self.smtp_password,
        )

    def imap_account(self) -> Account:
        return Account(
            self.imap_host,
            self.imap_port,
            self.imap_security,
            self.imap_username,
            self.imap_password,
        )

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

    @property
    def uses_token(self) -> bool:
        return self.auth_method in TOKEN_METHODS

    @property
    def oauth_provider(self) -> str | None:
        """ "google" or "microsoft" for a mailbox that logs in with a token, else None."""
        if self.auth_method == AUTH_OAUTH2:
            return TOKEN_PROVIDERS.get(self.provider)
        return _METHOD_PROVIDERS.get(self.auth_method)

    def log_in_by_token(self, method: str, oauth_provider: str | None = None) -> None:
        """From now on this mailbox logs in by `method` (one of TOKEN_METHODS): at its
        OAuth provider (`oauth_provider` for oauth2, "google" or "microsoft"; the
        method's own otherwise), on that provider's servers, with no password."""
        self.auth_method = method
        self.provider = MAILBOX_PROVIDERS[oauth_provider or _METHOD_PROVIDERS[method]]
        self.smtp_secret = self.imap_secret = ""
        self.apply_preset()

    def apply_preset(self) -> None:
        """The provider's servers and the address as the login, for a token mailbox."""
        provider = self.oauth_provider
        if provider is None:
            return
        preset = settings.WARMUP.oauth.presets[provider]
        self.smtp_host, self.smtp_port, self.smtp_security = preset.smtp
        self.imap_host, self.imap_port, self.imap_security = preset.imap
        self.smtp_username = self.imap_username = self.email

    def token_problems(self) -> dict[str, str]:
        """{field: message} for a token mailbox that cannot log in as it stands: set to
        oauth2 by hand (a consent is the owner's: accounts.connect), set to a credential
        method for a domain no enabled credentials serve, or another host or login than
        its provider's (a bearer token sent to another host is a stolen token)."""
        if not self.uses_token:
            return {}
        # A method it cannot take: that alone is the answer (its servers are moot).
        switched = self.auth_method != self._stored_auth_method
        if self.auth_method == AUTH_OAUTH2 and switched:
            return {
                "auth_method": "an OAuth 2.0 mailbox is connected by its owner's consent: "
                "POST /api/mailboxes/connect/{google|microsoft}/, or Connect Google / "
                "Connect Microsoft in the admin."
            }
        if switched and OAuthCredential.serving(self.auth_method, self.domain) is None:
            return {
                "auth_method": f"no enabled {self.auth_method} credentials serve "
                f"{self.domain}: staff add them in the admin (OAuth credentials)."
            }
        if self.oauth_provider is None:
            return {"provider": "OAuth 2.0 logins are for Google (gmail) and Microsoft (outlook)."}
        problems: dict[str, str] = {}
        expected = copy.copy(self)
        expected.apply_preset()
        for names in ENDPOINT_FIELDS.values():
            for name in names:
                if getattr(self, name) != getattr(expected, name):
                    problems[name] = (
                        "a mailbox that logs in with a token keeps its provider's servers "
                        f"({getattr(expected, name)}): a token sent to another host is a "
                        "stolen token."
                    )
        return problems

    def clean(self) -> None:
        super().clean()
        self.email = self.email.strip().lower()
        errors: dict[str, str] = {}
        floor = settings.WARMUP.min_daily_quota
        if self.warmup_enabled and self.daily_max < floor:
            errors["daily_max"] = f"must be at least WARMUP_MIN_DAILY_QUOTA ({floor})."
        if self.window_start_hour >= self.window_end_hour:
            errors["window_end_hour"] = "the sending window must end after it starts."
        if self.uses_token:
            errors.update(self.token_problems())
        else:
            errors.update(self.moved_without_password())
        if errors:
            raise ValidationError(errors)

    # State changes. A person's (API, admin action, admin form) go through set_status and
    # its two names, pause and resume: one transaction with an AuditEvent per changed
    # mailbox. The engine's are count_failure (in memory: recording writes a whole batch
    # in one statement), MailboxQuerySet.count_success and stop_with_error; engagement's
    # is pause_engagement (and a new IMAP password lifts it). Nothing else writes the
    # status, the failure count or the engagement pause; engagement's readings
    # (engaged_at, the 7-day rates, the score) are written by warmup.engine.engage and
    # deliverability, which change no state.

    def pause(self, reason: str, by: Actor, now: datetime) -> bool:
        return self.set_status(mailbox_status.PAUSED, reason, by, now)

    def resume(self, by: Actor, now: datetime) -> bool:
        return self.set_status(mailbox_status.ACTIVE, "", by, now)

    def set_status(self, status: str, reason: str, by: Actor, now: datetime) -> bool:
        """A person sets this mailbox's status (MailboxQuerySet.set_status); this instance
        then holds the state as saved. Returns whether anything changed."""
        changed = type(self).objects.filter(pk=self.pk).set_status(status, reason, by, now)
        self.refresh_from_db(fields=[*STATE_FIELDS, "updated_at"])
        return bool(changed)

    def count_success(self) -> None:
        """An accepted send, in memory (as count_failure): the failures in a row end."""
        self.consecutive_failures = 0

    def count_failure(
        self, error: str, now: datetime, *, hard: bool, stop: tuple[str, str] | None = None
    ) -> None:
        """A send that failed, in memory: the engine writes a batch of these in one
        statement (SENDING_STATE_FIELDS) inside its recording transaction, with the rows locked.

        It counts toward the circuit breaker; `stop` (status, reason) is the server's
        verdict that sending must stop now (a refused login, a quota reply, a refused
        host); otherwise FAILURES_BEFORE_ERROR hard failures in a row stop the mailbox
        in `error` (4xx replies are the backoff's business, not the breaker's). Only an
        active mailbox stops: a person's pause, or an earlier stop, keeps its reason."""
        self.consecutive_failures += 1
        self.last_error = error
        self.last_error_at = now
        if self.status != mailbox_status.ACTIVE:
            return
        if stop is None and hard and self.consecutive_failures >= FAILURES_BEFORE_ERROR:
            stop = (
                mailbox_status.ERROR,
                f"{self.consecutive_failures} sends failed in a row; last: {error}",
            )
        if stop is not None:
            self.status, self.status_reason = stop
            self.status_changed_at = now

    def pause_engagement(self, reason: str) -> None:
        """Engagement stops for this mailbox (its IMAP login was refused, its settings or
        password cannot work) until a person resumes it or gives a new IMAP password;
        its sending goes on. One UPDATE of this row."""
        self.engagement_paused_reason = reason[:500]
        type(self).objects.filter(pk=self.pk).update(
            engagement_paused_reason=self.engagement_paused_reason
        )

    def save_settings(self) -> None:
        """Save what a person edits of an existing mailbox (API, admin form), never its
        state: a whole-row save would write back the status and failure count as they
        were loaded, undoing a stop the engine made meanwhile. A new IMAP password lifts
        the engagement pause (the setter clears it), so that one goes with it."""
        fields = [
            f.name
            for f in self._meta.concrete_fields
            if not f.primary_key and f.name not in (*STATE_FIELDS, "created_at")
        ]
        if "imap" in self._passwords_given:
            fields.append("engagement_paused_reason")
        self.save(update_fields=fields)
        self._remember_endpoints()


class TokenCache(models.Model):
    """An access token kept between logins, encrypted, with its expiry; `generation`
    counts the grants saved, so a save that lost a race changes nothing (accounts.tokens
    compares and saves)."""

    access_secret = models.TextField(blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    # When the next login gets a new token instead (accounts.tokens.refresh_after).
    refresh_after = models.DateTimeField(null=True, blank=True)
    generation = models.IntegerField(default=0, editable=False)

    class Meta:
        abstract = True


class MailboxToken(TokenCache):
    """The tokens of a mailbox that logs in with one (TOKEN_METHODS): for `oauth2` the
    refresh token of the owner's consent, for every method its last access token. Kept
    apart from the mailbox row, which the engine locks and rewrites on every send: a
    refresh never waits for, nor holds up, the sending bookkeeping."""

    mailbox = models.OneToOneField(
        Mailbox, on_delete=models.CASCADE, primary_key=True, related_name="token"
    )
    refresh_secret = models.TextField(blank=True, editable=False)
    scope = models.TextField(blank=True)
    subject = models.CharField(
        max_length=255, blank=True, help_text="The provider's id of the user who consented."
    )
    connected_at = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    refreshes = models.BigIntegerField(default=0)
    refresh_failures = models.BigIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "mailbox_tokens"

    def __str__(self) -> str:
        return f"tokens of mailbox {self.mailbox_id}"


class TokenTotal(models.Model):
    """Tokens got (`refreshes`) and grants that failed (`failures`) since the install: the
    source of the warmup_token_*_total counters, which must never go down (the token rows
    go with their mailboxes). accounts.tokens adds to it as it saves or fails."""

    NAMES = ("refreshes", "failures")
    name = models.CharField(max_length=20, primary_key=True)
    total = models.BigIntegerField(default=0)

    class Meta:
        db_table = "token_totals"
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="token_totals_total_gte_0"),
            models.CheckConstraint(
                condition=Q(name__in=("refreshes", "failures")), name="token_totals_name_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.total}"

    @classmethod
    def add(cls, name: str) -> None:
        from accounts import sql  # it reads this module's models

        with connection.cursor() as cursor:
            cursor.execute(sql.ADD_TOKEN_TOTAL, [name])


CREDENTIAL_KIND_CHOICES = [
    (AUTH_GOOGLE_DELEGATED, "Google service account (domain-wide delegation)"),
    (AUTH_MICROSOFT_APP, "Microsoft 365 application (app-only)"),
]


def validate_domains(value: str) -> None:
    for domain in value.split():
        problem = host_problem(domain)
        if problem is not None or "." not in domain:
            raise ValidationError(f"{domain[:60]!r} is not a domain name.")


class OAuthCredential(TokenCache):
    """An operator's credentials for the mailboxes of its own domains, with no click per
    mailbox: a Google service account allowed domain-wide delegation (its JSON key), or
    a Microsoft 365 tenant's application with app-only access (its id and a client
    secret). `domains` says which mailboxes each serves. The secret is write-only and
    encrypted; a Microsoft app's access token serves all its mailboxes, so it is kept
    here (TokenCache), not per mailbox."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=CREDENTIAL_KIND_CHOICES)
    client_id = models.CharField(
        max_length=255,
        blank=True,
        help_text="Microsoft: the application (client) id. Google: read from the JSON key.",
    )
    tenant = models.CharField(
        max_length=255, blank=True, help_text="Microsoft: the tenant id or its domain."
    )
    secret = models.TextField(blank=True, editable=False)  # Fernet token
    domains = models.TextField(
        validators=[validate_domains],
        help_text="The mailbox domains these credentials serve, one per line.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "oauth_credentials"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=CREDENTIAL_METHODS), name="oauth_credentials_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def secret_value(self) -> str:
        return crypto.decrypt(self.secret, what=f"secret of OAuth credentials {self.name!r}")

    @secret_value.setter
    def secret_value(self, value: str) -> None:
        self.secret = crypto.encrypt(value)

    @property
    def domain_list(self) -> list[str]:
        return [d.lower() for d in self.domains.split()]

    @classmethod
    def serving(cls, kind: str, domain: str) -> OAuthCredential | None:
        """The enabled credentials of `kind` that serve `domain` (the first by id)."""
        for credential in cls.objects.filter(enabled=True, kind=kind).order_by("id"):
            if domain.lower() in credential.domain_list:
                return credential
        return None


class ConnectState(models.Model):
    """One started connection (POST /api/mailboxes/connect/{provider}/): who asked, the
    PKCE verifier (encrypted) and the ID token's nonce, kept server-side. Used once: the
    callback takes it by setting `used_at`."""

    key = models.CharField(max_length=64, primary_key=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=20)
    redirect_uri = models.URLField(max_length=500)
    # Where the callback sends the browser; empty: WARMUP_OAUTH_RETURN_URL (the admin's
    # connections return to the admin).
    return_url = models.CharField(max_length=500, blank=True)
    verifier_secret = models.TextField(editable=False)
    nonce = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "oauth_connect_states"

    def __str__(self) -> str:
        return f"connection {self.key[:8]}… by {self.owner_id}"


class AuditEvent(models.Model):
    """Who did what: engine control (API and `manage.py engine`) and every change a person
    made to a mailbox's state (API, admin action, admin form). The admin also keeps its
    own change history (LogEntry) of its forms and actions.

    Here, in accounts, so that the Mailbox methods write it in their own transaction;
    the table was warmup's (migration accounts.0007 took it over, data kept)."""

    created_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150, help_text="Kept if the user is deleted.")
    action = models.CharField(max_length=50)
    target_type = models.CharField(max_length=50, blank=True)
    target_id = models.CharField(max_length=50, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        db_table = "audit_events"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.target_type} {self.target_id}".strip()
