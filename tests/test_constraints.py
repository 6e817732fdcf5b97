"""Every CHECK constraint of the schema rejects a bad row, in the database itself."""

import datetime as dt
from typing import Any

import pytest
from django.apps import apps
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from accounts.models import Mailbox, OAuthCredential, OwnerPlan, TokenTotal
from metrics.models import MetricSnapshot
from warmup.models import (
    DAILY_COUNTERS,
    DailyStat,
    EngineState,
    PlanSweep,
    RateWindow,
    ReputationTarget,
    SendCount,
    SendLog,
    SendTotal,
    Worker,
)

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)

# constraint name → the field values that must violate it
BAD_VALUES: dict[str, dict[str, Any]] = {
    "mailboxes_smtp_port_range": {"smtp_port": 0},
    "mailboxes_imap_port_range": {"imap_port": 65536},
    "mailboxes_smtp_security_valid": {"smtp_security": "tls"},
    "mailboxes_imap_security_valid": {"imap_security": "SSL"},
    "mailboxes_status_valid": {"status": "ACTIVE"},
    "mailboxes_reply_rate_range": {"reply_rate": 1.5},
    "mailboxes_start_volume_gte_0": {"start_volume": -1},
    "mailboxes_daily_increase_gte_0": {"daily_increase": -1},
    "mailboxes_daily_max_gte_0": {"daily_max": -1},
    "mailboxes_window_hours_valid": {"window_start_hour": 18, "window_end_hour": 8},
    "mailboxes_window_weekdays_valid": {"window_weekdays": 0},
    "mailboxes_consecutive_failures_gte_0": {"consecutive_failures": -3},
    "mailboxes_auth_method_valid": {"auth_method": "oauth"},
    "oauth_credentials_kind_valid": {"kind": "oauth2"},
    "token_totals_total_gte_0": {"total": -1},
    "reputation_targets_kind_valid": {"kind": "host"},
    "token_totals_name_valid": {"name": "refreshed"},
    "owner_plans_max_mailboxes_gte_0": {"max_mailboxes": -1},
    "owner_plans_max_daily_quota_gte_0": {"max_daily_quota": -1},
    "logs_status_valid": {"status": "SENT"},
    "logs_slot_no_gte_0": {"slot_no": -1},
    "logs_attempts_gte_0": {"attempts": -1},
    "logs_placement_valid": {"placement": "junk"},
    **{f"warmup_logs_{name}_gte_0": {name: -1} for name in DAILY_COUNTERS},
    "engine_state_singleton": {"id": 2},
    "plan_sweep_singleton": {"id": 2},
    "workers_shard_in_range": {"shard": 4, "shard_count": 3},
    "rate_windows_used_gte_0": {"used": -1},
    "send_totals_total_gte_0": {"total": -1},
    "send_totals_status_valid": {"status": "bounced"},
    "send_counts_count_gte_0": {"count": -1},
    "send_counts_status_valid": {"status": "SENT"},
    "metric_snapshots_health_valid": {"health": 3},
    "metric_snapshots_completion_range": {"quota_completion_rate": 1.01},
}


def all_check_constraints() -> set[str]:
    names = set()
    for app in ("accounts", "warmup", "metrics"):
        for model in apps.get_app_config(app).get_models():
            names |= {
                c.name for c in model._meta.constraints if isinstance(c, models.CheckConstraint)
            }
    return names


def test_every_check_constraint_has_a_bad_row_here():
    assert set(BAD_VALUES) == all_check_constraints()


def good_row(name: str, mailbox: Mailbox) -> models.Model:
    """An unsaved row of the constraint's model that is valid as it stands."""
    if name.startswith("mailboxes_"):
        return Mailbox(
            owner=mailbox.owner,
            email=f"check-{name}@example.test",
            smtp_host="h",
            smtp_username="u",
            imap_host="h",
            imap_username="u",
        )
    if name.startswith("owner_plans_"):
        OwnerPlan.objects.filter(owner=mailbox.owner).delete()
        return OwnerPlan(owner=mailbox.owner)
    if name.startswith("logs_"):
        return SendLog(sender=mailbox, day=NOW.date(), slot_no=1, scheduled_at=NOW, timestamp=NOW)
    if name.startswith("warmup_logs_"):
        return DailyStat(mailbox=mailbox, date=NOW.date())
    if name.startswith("engine_state"):
        EngineState.objects.all().delete()
        return EngineState()
    if name.startswith("plan_sweep"):
        PlanSweep.objects.all().delete()
        return PlanSweep(id=PlanSweep.SINGLETON_ID)
    if name.startswith("workers_"):
        return Worker(name="w", host="h", pid=1, started_at=NOW, heartbeat_at=NOW)
    if name.startswith("rate_windows_"):
        return RateWindow(key="global:minute", window_start=NOW)
    if name.startswith("send_totals_"):
        return SendTotal(status="sent")
    if name.startswith("send_counts_"):
        return SendCount(minute=NOW, status="sent")
    if name.startswith("metric_snapshots_"):
        return MetricSnapshot(taken_at=timezone.now())
    if name.startswith("reputation_targets_"):
        return ReputationTarget(kind="domain", name="example.test")
    if name.startswith("token_totals_"):
        return TokenTotal(name="refreshes")
    if name.startswith("oauth_credentials_"):
        return OAuthCredential(name="c", kind="google_delegated", domains="example.test")
    raise AssertionError(f"no good row for {name}")


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_check_constraint_rejects_bad_row(db, make_mailbox, name):
    mailbox = make_mailbox()
    row = good_row(name, mailbox)
    with transaction.atomic():
        row.save()  # the good row is accepted…
        transaction.set_rollback(True)
    row = good_row(name, mailbox)
    for field, value in BAD_VALUES[name].items():
        setattr(row, field, value)
    with pytest.raises(IntegrityError, match=name), transaction.atomic():
        row.save()  # …and the bad one refused by the database, naming the constraint
