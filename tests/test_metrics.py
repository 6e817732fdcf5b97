"""Every metric's value on a known data set, the JSON and Prometheus forms of
/api/warmup/metrics, who may read them, snapshots, and the exposition checked by
`promtool check metrics` (Debian's prometheus package; .ci/run installs it)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import subprocess
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts import crypto
from accounts import status as mailbox_status
from accounts.models import (
    AUTH_GOOGLE_DELEGATED,
    AUTH_MICROSOFT_APP,
    AUTH_OAUTH2,
    DNS_BROKEN,
    RECONNECT_NEEDED,
    Mailbox,
    MailboxToken,
    TokenTotal,
)
from metrics.exposition import exposition
from metrics.health import DEGRADED
from metrics.models import MetricSnapshot
from metrics.reading import CENSUS_MAX_AGE, keep_census, quota_fill, read, take_census
from metrics.snapshot import take_snapshot
from tests.test_api_mailboxes import user
from warmup.engine.limits import Limits
from warmup.models import (
    DailyStat,
    EngineState,
    ReputationTarget,
    SendCount,
    SendLog,
    SendStatus,
    SendTotal,
    Worker,
)
from warmup_project.config import WarmupConfig
from warmup_project.db import db_now

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)  # a Monday; 08:00 in New York
TODAY = NOW.date()
TOKEN = "prometheus-scrape-token-0123456789"


@pytest.fixture
def system(make_mailbox: Any, django_user_model: Any) -> dict[str, Any]:
    """alice: a (met), b (behind, with failures), c (on pace), all UTC 8-18;
    bob: d in New York, whose window opens now; e disabled, no quota today."""
    bob = django_user_model.objects.create_user("bob")
    a, b, c = make_mailbox(), make_mailbox(), make_mailbox()
    d = make_mailbox(owner=bob, timezone="America/New_York")
    e = make_mailbox(owner=bob, warmup_enabled=False)
    DailyStat.objects.create(
        mailbox=a, date=TODAY, quota=30, sent=30, quota_met=True, inbox=10, spam=2
    )
    Mailbox.objects.filter(id=a.id).update(deliverability_score=95)
    Mailbox.objects.filter(id=b.id).update(deliverability_score=35, spam_flagged=True)
    Mailbox.objects.filter(id=c.id).update(engagement_paused_reason="IMAP login refused")
    DailyStat.objects.create(
        mailbox=b, date=TODAY, quota=30, sent=5, failed=2, deferred=1, unknown=1
    )
    DailyStat.objects.create(mailbox=c, date=TODAY, quota=30, sent=12)
    DailyStat.objects.create(mailbox=d, date=TODAY, quota=30, sent=0)
    # Yesterday's rows count for nothing today.
    DailyStat.objects.create(mailbox=a, date=TODAY - dt.timedelta(days=1), quota=30, sent=29)
    DailyStat.objects.create(mailbox=e, date=TODAY - dt.timedelta(days=1), quota=30, sent=30)

    def slot(n: int, status: str, minutes_ago: float) -> None:
        at = NOW - dt.timedelta(minutes=minutes_ago)
        SendLog.objects.create(
            sender=b, day=TODAY, slot_no=n, status=status, scheduled_at=at, timestamp=at
        )

    slot(6, SendStatus.PLANNED, 1)  # due
    slot(7, SendStatus.PLANNED, 20)  # overdue
    slot(8, SendStatus.DEFERRED, 30)  # overdue
    slot(9, SendStatus.PLANNED, -30)  # not yet due
    slot(10, SendStatus.SENDING, 2)  # claimed: neither due nor overdue

    def counted(minutes_ago: int, status: str, count: int) -> None:
        minute = NOW.replace(second=0) - dt.timedelta(minutes=minutes_ago)
        SendCount.objects.create(minute=minute, status=status, count=count)

    counted(10, SendStatus.SENT, 2)
    counted(12, SendStatus.SENT, 1)
    counted(5, SendStatus.FAILED, 1)
    counted(50, SendStatus.UNKNOWN, 1)
    counted(30, SendStatus.DEFERRED, 1)
    counted(60, SendStatus.SENT, 7)  # an hour ago: out of the last hour
    counted(120, SendStatus.SENT, 9)
    SendTotal.objects.create(status=SendStatus.SENT, total=100)
    SendTotal.objects.create(status=SendStatus.FAILED, total=7)
    EngineState.objects.update_or_create(
        id=EngineState.SINGLETON_ID,
        defaults={"running": True, "last_cycle_at": NOW - dt.timedelta(seconds=60)},
    )
    for shard, heartbeat in ((1, NOW), (2, NOW - dt.timedelta(minutes=10))):
        Worker.objects.create(
            name=f"h:{shard}:x",
            shard=shard,
            shard_count=2,
            host="h",
            pid=shard,
            started_at=NOW - dt.timedelta(hours=1),
            heartbeat_at=heartbeat,
        )
    return {"boxes": (a, b, c, d, e), "bob": bob}


def test_reading_of_a_known_system(system: dict[str, Any]) -> None:
    r = read(NOW, WarmupConfig())
    assert (r.total_mailboxes, r.active_mailboxes) == (5, 4)
    assert (r.quotas_today, r.met_today, r.on_pace_today) == (4, 1, 3)
    assert r.quota_completion_rate == 0.25 and r.on_pace_rate == 0.75
    assert (r.sent_today, r.failed_today, r.deferred_today, r.unknown_today) == (47, 2, 1, 1)
    # Per-minute counts of the last 60 minutes; a deferral is an attempt too.
    assert (r.sent_last_hour, r.attempts_last_hour, r.failed_last_hour) == (3, 6, 1)
    assert r.failure_rate_last_hour == 1 / 6
    assert r.sends_total == {"sent": 100, "failed": 7, "unknown": 0, "deferred": 0}
    assert (r.slots_due, r.slots_overdue) == (3, 2)
    assert r.engine_running and r.last_cycle_age_s == 60
    assert (r.workers_registered, r.workers_alive, r.shards_expected, r.shards_alive) == (
        2,
        1,
        2,
        1,
    )
    assert r.heartbeat_age_by_shard == {1: 0.0, 2: 600.0}
    assert (r.capacity.demand, r.capacity.shortfall) == (120, 0)
    # workers (one silent) and pace (75 %) are degraded; workers comes first.
    assert (r.health.level, r.health.rule) == (DEGRADED, "workers")
    assert {c.rule: c.level for c in r.health.checks}["pace"] == DEGRADED


def test_logins_by_method_token_refreshes_and_reconnects(system: dict[str, Any]) -> None:
    a, b, c, d, e = system["boxes"]
    for box, method, refreshes, failures in (
        (c, AUTH_OAUTH2, 40, 3),
        (d, AUTH_GOOGLE_DELEGATED, 2, 0),
        (e, AUTH_MICROSOFT_APP, 5, 1),
    ):
        Mailbox.objects.filter(id=box.id).update(auth_method=method)
        MailboxToken.objects.create(
            mailbox=box,
            refresh_secret=crypto.encrypt("secret-token-value"),
            refreshes=refreshes,
            refresh_failures=failures,
        )
    # Needing reconnect: paused with the reason accounts.tokens gives. Not a pause of
    # another reason, nor an active mailbox whose old reason was left.
    Mailbox.objects.filter(id=e.id).update(
        status=mailbox_status.PAUSED, status_reason=f"{RECONNECT_NEEDED}: invalid_grant"
    )
    Mailbox.objects.filter(id=a.id).update(
        status=mailbox_status.PAUSED, status_reason="paused by alice"
    )
    Mailbox.objects.filter(id=b.id).update(status_reason=f"{RECONNECT_NEEDED}: old")
    for _ in range(47):
        TokenTotal.add("refreshes")
    for _ in range(4):
        TokenTotal.add("failures")
    r = read(NOW, WarmupConfig())
    assert r.by_auth_method == {
        "password": 2,
        "oauth2": 1,
        "google_delegated": 1,
        "microsoft_app": 1,
    }
    assert (r.token_refreshes, r.token_refresh_failures, r.reconnect_needed) == (47, 4, 1)
    found = families(exposition(lambda: NOW, WarmupConfig()).decode())
    assert value(found, "warmup_mailboxes_by_auth_method", auth_method="oauth2") == 1
    assert value(found, "warmup_token_refreshes") == 47
    assert value(found, "warmup_token_refresh_failures") == 4
    assert value(found, "warmup_mailboxes_reconnect_needed") == 1
    # Deleting a mailbox takes its token row, not what the counters counted.
    c.delete()
    assert read(NOW, WarmupConfig()).token_refreshes == 47


def test_reputation_domains_by_check_listings_and_held_mailboxes(system: dict[str, Any]) -> None:
    a, b, c, d, e = system["boxes"]

    def checked(**verdicts: str) -> dict[str, Any]:
        return {
            n: {"verdict": v, "detail": "", "checked_at": NOW.isoformat()}
            for n, v in verdicts.items()
        }

    since = NOW - dt.timedelta(days=2)
    ReputationTarget.objects.create(
        kind="domain",
        name="one.test",
        checks=checked(mx="pass", spf="fail", dmarc="warn"),
        failing_since=since,
    )
    ReputationTarget.objects.create(
        kind="domain",
        name="two.test",
        checks=checked(mx="pass", spf="pass", dnsbl="fail"),
        listed_since=since,
    )
    ReputationTarget.objects.create(kind="domain", name="three.test", checks=checked(mx="error"))
    ReputationTarget.objects.create(kind="domain", name="new.test")  # not checked yet
    # A server: neither in the domains' checks nor a listed domain.
    ReputationTarget.objects.create(
        kind="address",
        name="192.0.2.1",
        checks=checked(ptr="fail", dnsbl="fail", mx="fail"),
        listed_since=since,
        failing_since=since,
    )
    Mailbox.objects.filter(id=a.id).update(
        status=mailbox_status.PAUSED, status_reason=f"{DNS_BROKEN}: spf fails"
    )
    # Paused for another reason, or active with an old DNS reason: not DNS-paused.
    Mailbox.objects.filter(id=b.id).update(status=mailbox_status.PAUSED, status_reason="by hand")
    Mailbox.objects.filter(id=c.id).update(status_reason=f"{DNS_BROKEN}: old")
    Mailbox.objects.filter(id__in=(c.id, d.id)).update(ramp_held_since=TODAY)
    Mailbox.objects.filter(id__in=(b.id, d.id, e.id)).update(dmarc_flagged=True)
    r = read(NOW, WarmupConfig()).reputation
    assert r.domains_by_check["mx"] == {"pass": 2, "warn": 0, "fail": 0, "error": 1}
    assert r.domains_by_check["spf"] == {"pass": 1, "warn": 0, "fail": 1, "error": 0}
    assert r.domains_by_check["dmarc"] == {"pass": 0, "warn": 1, "fail": 0, "error": 0}
    assert r.domains_by_check["dnsbl"] == {"pass": 0, "warn": 0, "fail": 1, "error": 0}
    assert sum(r.domains_by_check["dkim"].values()) == 0
    assert (r.domains_failing, r.listed_domains, r.listed_servers) == (1, 1, 1)
    assert (r.mailboxes_dns_paused, r.mailboxes_ramp_held, r.mailboxes_dmarc_flagged) == (1, 2, 3)
    found = families(exposition(lambda: NOW, WarmupConfig()).decode())
    samples = {
        (s.labels["check"], s.labels["result"]): s.value for s in found["warmup_domains"].samples
    }
    assert len(samples) == 5 * 4  # every check and verdict, 0 included
    assert samples[("spf", "fail")] == 1 and samples[("dkim", "pass")] == 0
    assert value(found, "warmup_domains_failing") == 1
    assert value(found, "warmup_listed_domains") == 1
    assert value(found, "warmup_listed_servers") == 1
    assert value(found, "warmup_mailboxes_dns_paused") == 1
    assert value(found, "warmup_mailboxes_ramp_held") == 2
    assert value(found, "warmup_mailboxes_dmarc_flagged") == 3


def test_detailed_metrics_add_one_fill_per_mailbox_with_a_quota(system: dict[str, Any]) -> None:
    a, b, c, d, _ = system["boxes"]
    assert quota_fill(NOW) == [(a.id, 1.0), (b.id, 0.1667), (c.id, 0.4), (d.id, 0.0)]


def test_capacity_through_the_database(system: dict[str, Any]) -> None:
    r = read(NOW, dataclasses.replace(WarmupConfig(), user_hourly_limit=5))
    # alice: 90 in 10 hours at 5/h → 50; bob: 30 (window 12-22 UTC) fits.
    c = r.capacity
    assert (c.demand, c.owner_ceiling, c.hourly_ceiling, c.shortfall) == (120, 80, 100, 40)
    # Per owner: min(90, 10 u) + min(30, 10 u) ≥ 120 → 9; the others are ample already.
    assert c.needed == Limits(per_minute=200, per_hour=10_000, per_user_hour=9)
    assert r.health.checks[-1].level == DEGRADED


def test_capacity_counts_days_not_planned_yet(system: dict[str, Any], make_mailbox: Any) -> None:
    make_mailbox(owner=system["bob"], daily_max=40)  # just enabled: no DailyStat today
    make_mailbox(owner=system["bob"], window_weekdays=0b0111110)  # no sending on Mondays
    r = read(NOW, WarmupConfig())
    assert r.capacity.demand == 120 + 30  # the floor, WARMUP_MIN_DAILY_QUOTA
    assert r.quotas_today == 4  # what is planned


def test_capacity_comes_from_a_recent_snapshot(system: dict[str, Any]) -> None:
    config = dataclasses.replace(WarmupConfig(), user_hourly_limit=5)  # 40 short, live
    kept = take_snapshot(read(NOW - dt.timedelta(minutes=10), config, fresh=True))
    assert kept.detail["capacity"]["demand"] == 120
    MetricSnapshot.objects.filter(id=kept.id).update(
        detail={"capacity": {**kept.detail["capacity"], "owners_short": 99}}
    )
    r = read(NOW, config)
    assert (r.capacity_at, r.capacity.owners_short) == (NOW - dt.timedelta(minutes=10), 99)
    assert r.capacity.shortfall == 40 and r.capacity.needed.per_user_hour == 9
    assert read(NOW, config, fresh=True).capacity.owners_short == 1
    # Two intervals (30 minutes) later the snapshot is too old: assessed afresh.
    later = read(NOW + dt.timedelta(minutes=21), config)
    assert later.capacity_at == NOW + dt.timedelta(minutes=21)
    assert later.capacity.owners_short == 1


def test_a_kept_census_serves_readings_while_it_is_young(system: dict[str, Any]) -> None:
    c, e = system["boxes"][2], system["boxes"][4]
    counted = NOW - dt.timedelta(minutes=1)
    keep_census(take_census(counted, WarmupConfig()))
    # What changes after the census shows in the counts over every mailbox only at the
    # next census; the rest of the reading is read at each reading.
    DailyStat.objects.filter(mailbox=c, date=TODAY).update(sent=30, quota_met=True)
    Mailbox.objects.filter(id=e.id).delete()
    EngineState.objects.update(running=False)
    r = read(NOW, WarmupConfig())
    assert r.counted_at == counted and r.at == NOW
    assert (r.total_mailboxes, r.met_today, r.sent_today) == (5, 1, 47)
    assert not r.engine_running and r.health.rule == "engine"
    found = families(exposition(lambda: NOW, WarmupConfig()).decode())
    assert value(found, "warmup_census_age_seconds") == 60
    assert value(found, "warmup_emails_sent_today") == 47
    # `fresh` (snapshots) counts afresh; so does a reading once the census is too old,
    # and one before the census was counted.
    fresh = read(NOW, WarmupConfig(), fresh=True)
    assert (fresh.counted_at, fresh.total_mailboxes, fresh.met_today) == (NOW, 4, 2)
    assert fresh.sent_today == 47 + 18
    late = counted + CENSUS_MAX_AGE + dt.timedelta(seconds=1)
    assert read(late, WarmupConfig()).counted_at == late
    assert read(counted + CENSUS_MAX_AGE, WarmupConfig()).counted_at == counted
    early = counted - dt.timedelta(seconds=1)
    assert read(early, WarmupConfig()).counted_at == early


def test_the_census_task_keeps_what_the_metrics_api_serves(system: dict[str, Any]) -> None:
    from django.utils.module_loading import import_string

    staff = user("root", staff=True, perms=["metrics.view_metricsnapshot"])
    client = bearer(str(AccessToken.for_user(staff)))
    before = client.get("/api/warmup/metrics").json()
    assert before["counted_at"] == before["at"]  # no census kept: counted for the request
    # As django-q2 finds it: by the path its schedule names.
    assert "census of 5 mailboxes" in import_string("metrics.tasks.census")()
    Mailbox.objects.filter(id=system["boxes"][4].id).delete()
    body = client.get("/api/warmup/metrics").json()
    assert body["total_mailboxes"] == 5  # as counted by the task
    assert body["counted_at"] <= body["at"]
    assert read(db_now(), WarmupConfig(), fresh=True).total_mailboxes == 4


def families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(found: dict[str, Any], name: str, **labels: str) -> float:
    family = found[name]
    for sample in family.samples:
        if sample.labels == labels and sample.name in (name, name + "_total"):
            return sample.value
    raise AssertionError(f"no {name}{labels}")


def test_exposition_values_and_no_per_mailbox_labels(system: dict[str, Any]) -> None:
    text = exposition(lambda: NOW, WarmupConfig()).decode()
    found = families(text)
    expected = {
        "warmup_total_mailboxes": 5,
        "warmup_active_mailboxes": 4,
        "warmup_emails_sent_today": 47,
        "warmup_emails_failed_today": 2,
        "warmup_emails_deferred_today": 1,
        "warmup_emails_unknown_today": 1,
        "warmup_throughput_per_hour": 3,
        "warmup_quota_completion_rate": 0.25,
        "warmup_on_pace_rate": 0.75,
        "warmup_failure_rate_last_hour": 1 / 6,
        "warmup_send_attempts_last_hour": 6,
        "warmup_system_health": 1,
        "warmup_slots_due": 3,
        "warmup_slots_overdue": 2,
        "warmup_workers_registered": 2,
        "warmup_workers_alive": 1,
        "warmup_engine_running": 1,
        "warmup_last_cycle_age_seconds": 60,
        "warmup_census_age_seconds": 0,  # counted by this reading
        "warmup_capacity_demand": 120,
        "warmup_capacity_shortfall": 0,
        "warmup_quotas_today": 4,
    }
    assert {name: value(found, name) for name in expected} == expected
    assert found["warmup_sends"].type == "counter"
    assert value(found, "warmup_sends", status="sent") == 100
    assert value(found, "warmup_sends", status="deferred") == 0
    assert value(found, "warmup_health_rule", rule="workers") == 1
    assert value(found, "warmup_health_rule", rule="engine") == 2
    assert value(found, "warmup_worker_heartbeat_age_seconds", shard="2") == 600
    assert (value(found, "warmup_shards_expected"), value(found, "warmup_shards_alive")) == (2, 1)
    assert value(found, "warmup_placements_today", placement="inbox") == 10
    assert value(found, "warmup_placements_today", placement="spam") == 2
    assert value(found, "warmup_mailboxes_spam_flagged") == 1
    assert value(found, "warmup_engagement_paused_mailboxes") == 1
    score = {
        s.name + s.labels.get("le", ""): s.value
        for s in found["warmup_deliverability_score"].samples
    }
    assert score["warmup_deliverability_score_bucket20"] == 0
    assert score["warmup_deliverability_score_bucket40"] == 1
    assert score["warmup_deliverability_score_bucket90"] == 1
    assert score["warmup_deliverability_score_bucket100"] == 2
    assert score["warmup_deliverability_score_bucket+Inf"] == 2
    assert (
        score["warmup_deliverability_score_count"],
        score["warmup_deliverability_score_sum"],
    ) == (2, 130)
    # Every auth method has its sample, at 0 too; no token rows, no refreshes.
    assert {
        s.labels["auth_method"]: s.value for s in found["warmup_mailboxes_by_auth_method"].samples
    } == {"password": 5, "oauth2": 0, "google_delegated": 0, "microsoft_app": 0}
    assert found["warmup_token_refreshes"].type == "counter"
    assert value(found, "warmup_token_refreshes") == 0
    assert value(found, "warmup_token_refresh_failures") == 0
    assert value(found, "warmup_mailboxes_reconnect_needed") == 0
    labels = {k for f in found.values() for s in f.samples for k in s.labels}
    assert labels == {
        "status",
        "rule",
        "shard",
        "placement",
        "le",
        "auth_method",
        "check",
        "result",
    }
    assert "warmup_mailbox_quota_fill" not in found
    detailed = families(
        exposition(lambda: NOW, WarmupConfig(enable_detailed_metrics=True)).decode()
    )
    b = system["boxes"][1]
    assert value(detailed, "warmup_mailbox_quota_fill", mailbox_id=str(b.id)) == 0.1667
    assert len(detailed["warmup_mailbox_quota_fill"].samples) == 4


@pytest.mark.skipif(not shutil.which("promtool"), reason="needs promtool (.ci/run installs it)")
@pytest.mark.parametrize("detailed", [False, True])
def test_promtool_accepts_the_exposition(system: dict[str, Any], detailed: bool) -> None:
    text = exposition(lambda: NOW, WarmupConfig(enable_detailed_metrics=detailed))
    checked = subprocess.run(
        [shutil.which("promtool") or "promtool", "check", "metrics"],
        input=text,
        capture_output=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    assert checked.stdout.decode() + checked.stderr.decode() == ""  # not even a lint warning


def test_snapshot_keeps_a_reading(system: dict[str, Any]) -> None:
    snap = take_snapshot(read(NOW, WarmupConfig()))
    assert (snap.total_mailboxes, snap.active_mailboxes) == (5, 4)
    assert (snap.sent_today, snap.failed_today, snap.throughput_per_hour) == (47, 2, 3)
    assert snap.quota_completion_rate == 0.25
    assert (snap.health, snap.health_rule) == (DEGRADED, "workers")
    assert snap.detail["failed_last_hour"] == 1
    assert MetricSnapshot.objects.get() == snap


# --- the API ------------------------------------------------------------------------------


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def scrape_token(settings: Any) -> str:
    settings.WARMUP = dataclasses.replace(settings.WARMUP, metrics_token=TOKEN)
    return TOKEN


def test_metrics_json_and_prometheus_for_staff(system: dict[str, Any]) -> None:
    staff = user("root", staff=True, perms=["metrics.view_metricsnapshot"])
    client = bearer(str(AccessToken.for_user(staff)))
    body = client.get("/api/warmup/metrics").json()
    assert body["total_mailboxes"] == 5
    assert set(body["sends_total"]) == {"sent", "failed", "unknown", "deferred"}
    assert body["health"]["rule"] in ("workers", "cycle", "pace")  # the clock is real here
    assert body["health"]["checks"][0]["rule"] == "engine"
    assert "quota_fill" not in body  # per-mailbox series are Prometheus-only
    assert body["logins"] == {
        "by_auth_method": {"password": 5, "oauth2": 0, "google_delegated": 0, "microsoft_app": 0},
        "token_refreshes": 0,
        "token_refresh_failures": 0,
        "reconnect_needed": 0,
    }
    assert body["reputation"]["domains_by_check"]["spf"] == {
        "pass": 0,
        "warn": 0,
        "fail": 0,
        "error": 0,
    }
    assert set(body["reputation"]) == {
        "domains_by_check",
        "domains_failing",
        "listed_domains",
        "listed_servers",
        "mailboxes_dns_paused",
        "mailboxes_ramp_held",
        "mailboxes_dmarc_flagged",
    }
    text = client.get("/api/warmup/metrics?format=prometheus")
    assert text.status_code == 200
    assert text["Content-Type"].startswith("text/plain")
    assert value(families(text.content.decode()), "warmup_total_mailboxes") == 5
    negotiated = client.get("/api/warmup/metrics", HTTP_ACCEPT="text/plain;version=0.0.4")
    assert negotiated.content == text.content or negotiated.content.startswith(b"# HELP")
    bad = client.get("/api/warmup/metrics?format=xml")
    assert bad.status_code == 400
    assert bad.json()["fields"] == {"format": ["must be json or prometheus."]}


def test_the_static_token_scrapes_and_nothing_else_does(
    system: dict[str, Any], scrape_token: str
) -> None:
    ok = bearer(scrape_token).get("/api/warmup/metrics?format=prometheus")
    assert ok.status_code == 200 and b"warmup_system_health" in ok.content
    assert bearer(scrape_token).get("/api/warmup/metrics").status_code == 200
    # The token opens the metrics only.
    assert bearer(scrape_token).get("/api/warmup/quota").status_code == 401
    assert bearer(scrape_token).get("/api/warmup/control").status_code == 401
    wrong = bearer(scrape_token + "x").get("/api/warmup/metrics?format=prometheus")
    assert wrong.status_code == 401
    assert scrape_token.encode() not in wrong.content
    ordinary = bearer(str(AccessToken.for_user(system["bob"])))
    assert ordinary.get("/api/warmup/metrics").status_code == 403
    bare_staff = bearer(str(AccessToken.for_user(user("clerk", staff=True))))
    assert bare_staff.get("/api/warmup/metrics?format=prometheus").status_code == 403
    assert APIClient().get("/api/warmup/metrics?format=prometheus").status_code == 401


def test_no_token_configured_means_no_token_accepted(system: dict[str, Any]) -> None:
    # An empty WARMUP_METRICS_TOKEN must not let "Bearer " (empty) in.
    assert bearer("").get("/api/warmup/metrics").status_code == 401


def test_django_prometheus_serves_http_and_database_metrics(scrape_token: str) -> None:
    APIClient().get("/api/warmup/quota")  # one request to count
    text = bearer(scrape_token).get("/metrics").content.decode()
    found = families(text)
    assert "django_http_requests_before_middlewares" in found
    assert not any(name.startswith("warmup_") for name in found)  # ours are not in its registry


def test_django_prometheus_metrics_need_the_token_or_the_permission(
    scrape_token: str, client: Any
) -> None:
    """/metrics behind the same door as /api/warmup/metrics: the token, or staff (JWT or
    admin session) with the permission to read the metrics; 401 or 403 otherwise."""
    assert APIClient().get("/metrics").status_code == 401
    assert bearer(scrape_token + "x").get("/metrics").status_code == 401
    owner = user("owner")
    assert bearer(str(AccessToken.for_user(owner))).get("/metrics").status_code == 403
    bare = user("clerk", staff=True)
    client.force_login(bare)
    assert client.get("/metrics").status_code == 403
    assert bearer(str(AccessToken.for_user(bare))).get("/metrics").status_code == 403
    operator = user("operator", staff=True, perms=["metrics.view_metricsnapshot"])
    assert bearer(str(AccessToken.for_user(operator))).get("/metrics").status_code == 200
    client.force_login(operator)
    session = client.get("/metrics")
    assert session.status_code == 200 and b"django_http_requests" in session.content
