from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Greatest

from accounts.models import Mailbox


class SendStatus(models.TextChoices):
    PLANNED = "planned"
    SENDING = "sending"
    SENT = "sent"
    DEFERRED = "deferred"
    FAILED = "failed"
    # No reply after the final "." of DATA: it may have been delivered, so it counts as
    # spent and is never sent again.
    UNKNOWN = "unknown"


CLAIMABLE_STATUSES = (SendStatus.PLANNED, SendStatus.DEFERRED)


def not_negative(table: str, *fields: str) -> list[models.CheckConstraint]:
    """`<table>_<field>_gte_0` of each counter field."""
    return [
        models.CheckConstraint(condition=Q(**{f"{field}__gte": 0}), name=f"{table}_{field}_gte_0")
        for field in fields
    ]


def valid_send_status(table: str) -> models.CheckConstraint:
    """`<table>_status_valid`: its status column holds one of SendStatus."""
    return models.CheckConstraint(
        condition=Q(status__in=SendStatus.values), name=f"{table}_status_valid"
    )


class Placement(models.TextChoices):
    NOT_SEEN = "", "not seen yet"
    INBOX = "inbox"
    SPAM = "spam"


class SendLog(models.Model):
    """One planned send ("slot") of a mailbox on its local day, then its outcome.

    The table is partitioned by `day` (warmup.partitions): a partition per day, and a
    default one for days that have none yet. PostgreSQL wants the partition key in every
    unique key, so the database's primary key is (id, day); ids still come from one
    sequence and stay unique, so Django keeps `id` as the key. No foreign key can point
    into the table without the day, hence in_reply_to is not a database constraint and
    "one reply per send" is kept by `reply_planned` (engage.plan_replies)."""

    sender = models.ForeignKey(
        Mailbox, on_delete=models.CASCADE, related_name="send_logs", db_index=False
    )
    day = models.DateField(help_text="The sender's local date the slot belongs to.")
    slot_no = models.IntegerField()
    recipient = models.ForeignKey(
        Mailbox,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="received_logs",
        db_index=False,
    )
    status = models.CharField(max_length=10, choices=SendStatus.choices, default=SendStatus.PLANNED)
    attempts = models.IntegerField(default=0)
    smtp_code = models.IntegerField(null=True, blank=True)
    smtp_error = models.TextField(blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    thread_id = models.CharField(
        max_length=255, blank=True, help_text="Message-ID of the first message of the thread."
    )
    # Not a database constraint (see above). A send whose day's partition was dropped by
    # retention leaves its replies' link pointing at nothing: replies come within days of
    # their original, so such a reply is itself weeks from its own drop, and nothing reads
    # a link that old (threads.chains and the cycle find no original and stop there).
    in_reply_to = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replies",
        db_constraint=False,
        db_index=False,  # Meta: idx_logs_in_reply_to, of replies only
    )
    reply_planned = models.BooleanField(
        default=False,
        db_default=False,  # rows written by raw SQL (benchmarks, operators' scripts) too
        help_text="A reply to this send is planned: set once, by a conditional update, so "
        "a message is replied to once however often engagement sees it.",
    )
    worker = models.CharField(max_length=100, blank=True)
    scheduled_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the transport began the current attempt: a slot whose worker died "
        "after this may have been delivered.",
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    placement = models.CharField(
        max_length=5, choices=Placement.choices, default=Placement.NOT_SEEN, blank=True
    )
    placement_seen_at = models.DateTimeField(null=True, blank=True)
    # The receiving server's own verdicts on this message (its Authentication-Results,
    # read by engagement): pass, fail, none, softfail, … as it wrote them; empty until seen.
    auth_spf = models.CharField(max_length=16, blank=True)
    auth_dkim = models.CharField(max_length=16, blank=True)
    auth_dmarc = models.CharField(max_length=16, blank=True)
    auth_receiver = models.CharField(
        max_length=255, blank=True, help_text="The authserv-id that gave the verdicts."
    )
    # When the row last changed state (the seed's `timestamp`).
    timestamp = models.DateTimeField()

    class Meta:
        db_table = "logs"
        indexes = [
            # Partial indexes, so a slot's claim, start and record (each an update that
            # is never HOT) write an entry only where a row matches: engagement's look-up
            # of a mailbox's own delivered sends, and the reaper's of claimed slots.
            models.Index(
                fields=["sender", "sent_at"],
                condition=Q(sent_at__isnull=False),
                name="idx_logs_sender_sent",
            ),
            models.Index(
                fields=["worker", "claimed_at"],
                condition=Q(status=SendStatus.SENDING),
                name="idx_logs_sending",
            ),
            # Engagement's look-ups: the sends a mailbox received (sent ones only).
            models.Index(
                fields=["recipient", "sent_at"],
                condition=Q(sent_at__isnull=False),
                name="idx_logs_recipient_sent",
            ),
            # The replies to a send (deleting sends sets their link to NULL): most slots
            # are no reply, and a full index took an entry at every one of their updates.
            models.Index(
                fields=["in_reply_to"],
                condition=Q(in_reply_to__isnull=False),
                name="idx_logs_in_reply_to",
            ),
            # The claim query's scan: due slots only, a small part of the table.
            models.Index(
                fields=["scheduled_at"],
                condition=Q(status__in=CLAIMABLE_STATUSES),
                name="idx_logs_claimable",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "day", "slot_no"], name="logs_sender_day_slot_uniq"
            ),
            valid_send_status("logs"),
            *not_negative("logs", "slot_no", "attempts"),
            models.CheckConstraint(
                condition=Q(placement__in=Placement.values), name="logs_placement_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"slot {self.slot_no} of mailbox {self.sender_id} on {self.day}"


# DailyStat's counters, in the order operators read them.
DAILY_COUNTERS = (
    "quota",
    "reserved",
    "sent",
    "failed",
    "deferred",
    "unknown",
    "received",
    "replied",
    "inbox",
    "spam",
    "dmarc_pass",  # of this mailbox's mail seen by receivers that day, by their verdict
    "dmarc_fail",
    "streak",
)


def remaining() -> models.Func:
    """A DailyStat's sends still to make for its quota, as SQL (idx_warmup_logs_remaining
    indexes this very expression)."""
    return Greatest(models.F("quota") - models.F("sent"), 0, output_field=models.IntegerField())


class DailyStat(models.Model):
    """One mailbox's counters for one local date; streaks and completion come from here."""

    mailbox = models.ForeignKey(
        Mailbox, on_delete=models.CASCADE, related_name="daily_stats", db_index=False
    )
    date = models.DateField()
    quota = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    sent = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    deferred = models.IntegerField(default=0)
    unknown = models.IntegerField(default=0)
    received = models.IntegerField(default=0)
    replied = models.IntegerField(default=0)
    inbox = models.IntegerField(default=0)
    spam = models.IntegerField(default=0)
    dmarc_pass = models.IntegerField(default=0)
    dmarc_fail = models.IntegerField(default=0)
    quota_met = models.BooleanField(default=False)
    streak = models.IntegerField(default=0, help_text="Consecutive days at quota up to this one.")

    class Meta:
        db_table = "warmup_logs"
        # Every index takes an entry at each update of `sent` (about 30 a mailbox a day;
        # never HOT, as two of them order by it). So the seed's (date) index is gone
        # (0018): the next one's prefix serves the look-ups by date.
        indexes = [
            # The quota list's orders, walked for one local date and quota_met at a time
            # (warmup.api.TodaysRows) and merged, so that a page reads about as many rows
            # as it shows instead of sorting every mailbox's day.
            models.Index(fields=["date", "quota_met", "mailbox"], name="idx_warmup_logs_today_id"),
            models.Index(
                fields=["date", "quota_met", "sent", "mailbox"], name="idx_warmup_logs_sent"
            ),
            models.Index(
                fields=["date", "quota_met", "streak", "mailbox"], name="idx_warmup_logs_streak"
            ),
            models.Index(
                models.F("date"),
                models.F("quota_met"),
                remaining(),
                models.F("mailbox"),
                name="idx_warmup_logs_remaining",
            ),
        ]
        constraints = [
            # Also the seed's (mailbox_id, date) index.
            models.UniqueConstraint(
                fields=["mailbox", "date"], name="idx_warmup_logs_mailbox_date"
            ),
            *not_negative("warmup_logs", *DAILY_COUNTERS),
        ]

    def __str__(self) -> str:
        return f"{self.mailbox_id} on {self.date}"


class EngineState(models.Model):
    """The one row that says whether the engine runs; workers read it every loop."""

    SINGLETON_ID = 1

    id = models.IntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    running = models.BooleanField(default=True)
    reason = models.TextField(blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    trigger_requested_at = models.DateTimeField(null=True, blank=True)
    last_cycle_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "engine_state"
        verbose_name = "engine state"
        verbose_name_plural = "engine state"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="engine_state_singleton")]

    def __str__(self) -> str:
        return "running" if self.running else "stopped"

    @classmethod
    def load(cls) -> EngineState:
        state, _ = cls.objects.get_or_create(id=cls.SINGLETON_ID)
        return state


class PlanSweep(models.Model):
    """How far the planner's sweep over the mailboxes has got: the one row that lets
    workers and the plan task share a day's planning in short chunks, each resuming
    where the last one stopped (warmup.engine.planner). A chunk holds this row's lock
    while it plans, so two planners never plan the same mailboxes at once."""

    SINGLETON_ID = 1

    id = models.IntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    # The next chunk plans mailboxes with a larger id; none while no sweep is under way.
    next_mailbox_id = models.BigIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "plan_sweep"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="plan_sweep_singleton")]

    def __str__(self) -> str:
        if self.next_mailbox_id is None:
            return f"idle since {self.finished_at}"
        return f"under way since {self.started_at}, next after mailbox {self.next_mailbox_id}"


class Worker(models.Model):
    """A running engine process; its heartbeat tells the others it is alive."""

    name = models.CharField(max_length=100, unique=True, help_text="host:pid:random")
    shard = models.IntegerField(default=1)
    shard_count = models.IntegerField(default=1)
    host = models.CharField(max_length=255)
    pid = models.IntegerField()
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()
    last_cycle_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "workers"
        constraints = [
            models.CheckConstraint(
                condition=Q(shard__gte=1, shard__lte=models.F("shard_count")),
                name="workers_shard_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (shard {self.shard}/{self.shard_count})"


class SendTotal(models.Model):
    """Attempts recorded since the install, by outcome: the source of the
    `warmup_sends_total{status}` counter, which must never go down (DailyStat and SendLog
    are pruned). Recording adds to it in the same transaction as the slots."""

    status = models.CharField(max_length=10, primary_key=True, choices=SendStatus.choices)
    total = models.BigIntegerField(default=0)

    class Meta:
        db_table = "send_totals"
        constraints = [
            *not_negative("send_totals", "total"),
            valid_send_status("send_totals"),
        ]

    def __str__(self) -> str:
        return f"{self.status}: {self.total}"


class SendCount(models.Model):
    """Attempts recorded in one minute, by outcome (pruned with the send log)."""

    minute = models.DateTimeField()
    status = models.CharField(max_length=10, choices=SendStatus.choices)
    count = models.IntegerField(default=0)

    class Meta:
        db_table = "send_counts"
        constraints = [
            models.UniqueConstraint(fields=["minute", "status"], name="send_counts_minute_status"),
            *not_negative("send_counts", "count"),
            valid_send_status("send_counts"),
        ]

    def __str__(self) -> str:
        return f"{self.minute:%Y-%m-%d %H:%M} {self.status}: {self.count}"


class RateWindow(models.Model):
    """Sends reserved in one window of one limit, shared by every worker.

    key: "global:minute", "global:hour" or "user:<id>:hour"; window_start: the window's
    first instant (database clock)."""

    key = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    used = models.IntegerField(default=0)

    class Meta:
        db_table = "rate_windows"
        constraints = [
            models.UniqueConstraint(
                fields=["key", "window_start"], name="rate_windows_key_start_uniq"
            ),
            *not_negative("rate_windows", "used"),
        ]

    def __str__(self) -> str:
        return f"{self.key} @ {self.window_start:%Y-%m-%d %H:%M}: {self.used}"


class Verdict(models.TextChoices):
    """A check's outcome (the `check_domains --json` contract)."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"  # the check could not be made (timeout, SERVFAIL, a DNSBL refusing us)


class ReputationTarget(models.Model):
    """What the daily checks look at: a sending domain (MX, SPF, DKIM, DMARC, DNSBL) or an
    SMTP server's address (PTR, DNSBL). `checks` holds the last result of each check as
    {"mx": {"verdict": …, "detail": …, "checked_at": ISO time}, …}. The state the engine
    acts on: since when an authentication record (SPF, DKIM, DMARC) has failed — the grace
    period runs from there — and since when it is listed on a DNSBL."""

    DOMAIN = "domain"
    ADDRESS = "address"
    KINDS = [(DOMAIN, "domain"), (ADDRESS, "server address")]

    kind = models.CharField(max_length=10, choices=KINDS)
    name = models.CharField(max_length=253, help_text="The domain, or the IP address.")
    checks = models.JSONField(default=dict, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="SPF, DKIM or DMARC failing since (grace period)."
    )
    failing_reason = models.TextField(blank=True)
    listed_since = models.DateTimeField(null=True, blank=True)
    listed_on = models.TextField(blank=True, help_text="The blacklists that list it.")
    hosts = models.JSONField(
        default=list, blank=True, help_text="An address's: the SMTP host names that resolve to it."
    )
    dkim_selectors = models.JSONField(
        default=list,
        blank=True,
        help_text="A domain's: the DKIM selectors (s=) seen signing its mail at receivers.",
    )
    # Its status's rank, worst first (warmup.reputation.status.STATUSES): 0 listed while
    # on a blacklist, else 1 failing while an authentication record fails, else 2 warning
    # when any check's last verdict is warn or error, else 3 ok. Computed by PostgreSQL as
    # the row is written, so that lists filter and sort on it through an index rather
    # than reading the checks of 50,000 domains at each request.
    rank = models.GeneratedField(
        expression=models.Case(
            models.When(listed_since__isnull=False, then=0),
            models.When(failing_since__isnull=False, then=1),
            models.When(
                models.Func(
                    "checks",
                    models.Value(
                        f'$.*.verdict ? (@ == "{Verdict.WARN}" || @ == "{Verdict.ERROR}")'
                    ),
                    function="jsonb_path_exists",
                    output_field=models.BooleanField(),
                ),
                then=2,
            ),
            default=3,
        ),
        output_field=models.SmallIntegerField(),
        db_persist=True,
    )

    class Meta:
        db_table = "reputation_targets"
        constraints = [
            models.UniqueConstraint(fields=["kind", "name"], name="reputation_targets_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=("domain", "address")), name="reputation_targets_kind_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["failing_since"],
                condition=Q(failing_since__isnull=False),
                name="idx_reputation_failing",
            ),
            models.Index(
                fields=["listed_since"],
                condition=Q(listed_since__isnull=False),
                name="idx_reputation_listed",
            ),
            # The API's orders (worst first, by name), each filter by status a range of it.
            models.Index(fields=["rank", "name", "kind"], name="idx_reputation_rank_name"),
            models.Index(fields=["name", "kind"], name="idx_reputation_name"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


class PoolShape(models.Model):
    """The network's pool figures at one refresh (warmup.engine.pool.update_pool, daily),
    over the mailboxes with at least one partner in the 7 days before it: computed once
    there, so a metrics scrape reads one row rather than sorting every mailbox's."""

    refreshed_at = models.DateTimeField(unique=True)
    mailboxes = models.IntegerField(default=0)
    partners_median = models.FloatField(null=True, blank=True)
    partners_p5 = models.FloatField(null=True, blank=True)
    same_owner_share = models.FloatField(
        null=True, blank=True, help_text="Mean of the mailboxes' same-owner shares."
    )
    same_owner_share_p95 = models.FloatField(null=True, blank=True)
    same_provider_share = models.FloatField(
        null=True, blank=True, help_text="Mean of the mailboxes' same-provider shares."
    )
    reciprocity = models.FloatField(
        null=True, blank=True, help_text="Mean of the mailboxes' reciprocity."
    )

    class Meta:
        db_table = "pool_shapes"

    def __str__(self) -> str:
        return f"pool at {self.refreshed_at:%Y-%m-%d %H:%M}"

    @classmethod
    def latest(cls) -> PoolShape:
        """The last refresh's, or an empty one (no figures) before the first."""
        return cls.objects.order_by("-refreshed_at").first() or cls()
