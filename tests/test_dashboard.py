"""The operator dashboard in admin: staff who may read the metrics only, health and its
rule, the 24-hour chart from snapshots, the mailboxes furthest behind, workers."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db.models import F
from django.test import Client

from metrics.dashboard import hourly_chart
from tests.test_api_mailboxes import user
from warmup.models import DailyStat, EngineState, SendCount, Worker
from warmup_project.db import db_now

pytestmark = pytest.mark.django_db
ZONES = ("UTC", "Asia/Tokyo", "America/New_York", "Asia/Kolkata", "Pacific/Honolulu")


def staff_client() -> Client:
    client = Client()
    client.force_login(user("root", staff=True, perms=["metrics.view_metricsnapshot"]))
    return client


def midday_zone(now: dt.datetime) -> str:
    """A zone whose local time is 09:00-20:59 now, so a 0-24 window is well under way."""
    return next(z for z in ZONES if 9 <= now.astimezone(zoneinfo.ZoneInfo(z)).hour <= 20)


@pytest.fixture
def busy(make_mailbox: Any) -> dict[str, Any]:
    now = db_now()
    zone = midday_zone(now)
    today = now.astimezone(zoneinfo.ZoneInfo(zone)).date()
    window = {"timezone": zone, "window_start_hour": 0, "window_end_hour": 24}
    late = make_mailbox(email="late@example.test", **window)
    later = make_mailbox(email="later@example.test", **window)
    done = make_mailbox(email="done@example.test", **window)
    DailyStat.objects.create(mailbox=late, date=today, quota=40, sent=2)
    DailyStat.objects.create(mailbox=later, date=today, quota=40, sent=0)
    DailyStat.objects.create(mailbox=done, date=today, quota=40, sent=40, quota_met=True)
    EngineState.objects.update_or_create(
        id=EngineState.SINGLETON_ID, defaults={"last_cycle_at": now}
    )
    Worker.objects.create(
        name="box:42:abc",
        shard=1,
        shard_count=1,
        host="box",
        pid=42,
        started_at=now,
        heartbeat_at=now,
    )
    hour = now.replace(minute=0, second=0, microsecond=0)
    for at, status, count in (
        (hour, "sent", 100),
        (hour + dt.timedelta(seconds=1), "failed", 6),  # recorded a second later: same minute
        (hour - dt.timedelta(hours=3), "sent", 80),
    ):
        SendCount.objects.update_or_create(
            minute=at.replace(second=0), status=status, defaults={"count": count}
        )
    SendCount.objects.create(minute=hour, status="deferred", count=50)  # not drawn
    SendCount.objects.filter(minute=hour, status="sent").update(count=F("count") + 20)
    return {"now": now}


def test_staff_with_the_metrics_permission_only(busy: dict[str, Any]) -> None:
    assert Client().get("/admin/dashboard/").status_code == 302
    client = Client()
    client.force_login(get_user_model().objects.create_user("alice"))
    response = client.get("/admin/dashboard/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    # Staff without the permission: refused, and the admin index does not offer the link.
    client.force_login(user("clerk", staff=True))
    assert client.get("/admin/dashboard/").status_code == 403
    index = client.get("/admin/")
    assert index.status_code == 200 and 'href="/admin/dashboard/"' not in index.content.decode()


def test_the_page_shows_health_chart_behind_and_workers(busy: dict[str, Any]) -> None:
    response = staff_client().get("/admin/dashboard/")
    assert response.status_code == 200
    page = response.content.decode()
    # Two of three mailboxes are behind: pace (33 % on pace) is critical and decides.
    assert "decided by <strong>pace</strong>: 1 of 3 mailboxes on pace (33.3%)" in page
    assert "33.3 %" in page and "of today's quotas met (1 of 3)" in page
    chart = re.search(r'<svg id="sends-chart".*?</svg>', page, re.S)
    assert chart and len(re.findall(r"<rect ", chart.group())) == 48
    assert "120 sent, 6 failed" in chart.group() and "80 sent, 0 failed" in chart.group()
    assert "50 sent" not in chart.group()  # deferrals are not drawn
    behind = re.search(r'id="furthest-behind".*?</table>', page, re.S)
    assert behind
    rows = re.findall(r"<tr><td><a [^>]*>([^<]+)</a>", behind.group())
    assert rows == ["later@example.test", "late@example.test"]  # 0 sent before 2 sent
    assert "box:42:abc" in page and "alive" in page
    assert "https://" not in page and '<script src="http' not in page  # nothing remote


def test_the_index_links_to_the_dashboard(busy: dict[str, Any]) -> None:
    assert 'href="/admin/dashboard/"' in staff_client().get("/admin/").content.decode()


def test_chart_bars_sum_each_clock_hour() -> None:
    now = dt.datetime(2026, 6, 1, 12, 40, tzinfo=dt.UTC)
    for at, status, n in (
        ("11:10", "sent", 10),
        ("11:50", "sent", 30),
        ("11:59", "failed", 4),
        ("09:05", "sent", 50),
        ("12:20", "sent", 5),
        ("12:21", "deferred", 99),  # not drawn
        ("2026-05-31 12:00", "sent", 1000),  # 24 h 40 min ago: off the chart
    ):
        if " " in at:
            minute = dt.datetime.fromisoformat(at).replace(tzinfo=dt.UTC)
        else:
            hour, m = map(int, at.split(":"))
            minute = now.replace(hour=hour, minute=m)
        SendCount.objects.create(minute=minute, status=status, count=n)
    chart = hourly_chart(now)
    assert len(chart.bars) == 24
    by_label = {bar.label: (bar.sent, bar.failed) for bar in chart.bars}
    assert by_label["11"] == (40, 4) and by_label["09"] == (50, 0)
    assert by_label["12"] == (5, 0) and by_label["10"] == (0, 0)
    assert chart.bars[0].label == "13"  # yesterday 13:00, the oldest hour shown
    assert chart.peak == 50
    tallest = max(chart.bars, key=lambda bar: bar.sent_height)
    assert (tallest.label, tallest.sent_height, tallest.sent_y) == ("09", 180.0, 0.0)
