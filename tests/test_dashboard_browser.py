"""The dashboard in a real browser: headless Chromium logs in through the admin form,
loads /admin/dashboard/ from a live server, finds the chart, takes a screenshot.
Skipped without Debian's chromium and chromium-driver (.ci/run installs them)."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from benchmarks.dashboard_screenshot import browser_available, capture
from warmup.models import SendCount
from warmup_project.db import db_now

pytestmark = pytest.mark.skipif(
    not browser_available(), reason="needs chromium and chromium-driver (.ci/run installs them)"
)


def test_dashboard_screenshot(live_server: Any, transactional_db: Any, tmp_path: Path) -> None:
    operator = get_user_model().objects.create_user(
        "operator", password="a-long-password-1", is_staff=True
    )
    operator.user_permissions.add(Permission.objects.get(codename="view_metricsnapshot"))
    now = db_now()
    SendCount.objects.create(minute=now.replace(second=0, microsecond=0), status="sent", count=500)
    out = tmp_path / "dashboard.png"
    result = capture(live_server.url, "operator", "a-long-password-1", out)
    assert result["bars"] == 48  # 24 hours × (sent, failed)
    assert result["health"] == "critical"  # no cycle has run in this database
    png = out.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1280, 1700) or width >= 1000
    assert result["load_ms"][0] > 0
