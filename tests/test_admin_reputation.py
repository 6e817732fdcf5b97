"""The admin's reputation targets: view-only, worst first, a column per check's verdict,
filters by kind and status, the checks' details on the change page, and "check now"
(a message while this build has no warmup.reputation.checks)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.dns_server import answering
from warmup.models import ReputationTarget

pytestmark = pytest.mark.django_db

SINCE = dt.datetime(2026, 11, 28, 6, 0, tzinfo=dt.UTC)
LIST = reverse("admin:warmup_reputationtarget_changelist")


def checks(**verdicts: str) -> dict[str, Any]:
    return {
        name: {"verdict": v, "detail": f"{name} detail", "checked_at": "2026-12-01T06:00:00Z"}
        for name, v in verdicts.items()
    }


@pytest.fixture
def targets() -> None:
    make = ReputationTarget.objects.create
    make(kind="domain", name="a-ok.test", checks=checks(mx="pass", spf="pass", dmarc="pass"))
    make(kind="domain", name="b-warned.test", checks=checks(mx="pass", dmarc="warn"))
    make(
        kind="domain",
        name="c-failing.test",
        checks=checks(mx="pass", spf="fail"),
        failing_since=SINCE,
        failing_reason="spf: no record",
    )
    make(kind="domain", name="d-listed.test", checks=checks(dnsbl="fail"), listed_since=SINCE)
    make(
        kind="address",
        name="192.0.2.9",
        checks=checks(ptr="fail", dnsbl="pass"),
        failing_since=SINCE,
    )


def rows(html: str) -> list[str]:
    """The targets' names in the order the changelist shows them."""
    return re.findall(r'<th class="field-name"><a href="[^"]+">([^<]+)</a>', html)


def test_the_list_is_worst_first_with_a_verdict_per_check(admin_client: Any, targets: None) -> None:
    html = admin_client.get(LIST).content.decode()
    assert rows(html) == [
        "d-listed.test",
        "192.0.2.9",
        "c-failing.test",
        "b-warned.test",
        "a-ok.test",
    ]
    for check in ("mx", "spf", "dkim", "dmarc", "dnsbl", "ptr"):
        assert f"column-check_{check}" in html
    assert '<td class="field-check_spf">fail</td>' in html
    assert '<td class="field-check_ptr">fail</td>' in html
    assert '<td class="field-status">failing</td>' in html
    # Read-only: no add button, no delete action.
    assert "reputationtarget/add/" not in html and "delete_selected" not in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=failing", ["192.0.2.9", "c-failing.test"]),
        ("status=listed", ["d-listed.test"]),
        ("status=warning", ["b-warned.test"]),
        ("status=ok", ["a-ok.test"]),
        ("kind__exact=address", ["192.0.2.9"]),
        ("q=failing", ["c-failing.test"]),
        ("o=1", ["192.0.2.9", "a-ok.test", "b-warned.test", "c-failing.test", "d-listed.test"]),
    ],
)
def test_filters_search_and_sorting(
    admin_client: Any, targets: None, query: str, expected: list[str]
) -> None:
    assert rows(admin_client.get(f"{LIST}?{query}").content.decode()) == expected


def test_the_change_page_shows_each_checks_detail(admin_client: Any, targets: None) -> None:
    target = ReputationTarget.objects.get(name="c-failing.test")
    page = admin_client.get(
        reverse("admin:warmup_reputationtarget_change", args=[target.pk])
    ).content.decode()
    assert "<td>spf</td><td>fail</td><td>spf detail</td>" in page
    assert "spf: no record" in page
    assert 'name="name"' not in page  # no form fields: view only


def test_the_list_costs_the_same_queries_whatever_its_length(
    admin_client: Any, targets: None
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(LIST).status_code == 200
        return len(captured)

    few = queries()
    for n in range(40):
        ReputationTarget.objects.create(
            kind="domain", name=f"more{n}.test", checks=checks(mx="pass")
        )
    assert queries() == few


def test_check_now_checks_the_selected_targets(
    admin_client: Any, targets: None, settings: Any
) -> None:
    zone = """
a-ok.test.                300 IN MX  10 mx.a-ok.test.
mx.a-ok.test.             300 IN A   192.0.2.40
"""
    with answering(zone, settings):
        chosen = [ReputationTarget.objects.get(name="a-ok.test").pk]
        response = admin_client.post(
            LIST, {"action": "check_now", "_selected_action": chosen, "index": 0}
        )
    assert response.status_code == 302
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert shown == ["Checked 1: a-ok.test."]
    checked = ReputationTarget.objects.get(name="a-ok.test")
    assert checked.checks["mx"]["verdict"] == "pass"
    assert checked.checks["spf"]["verdict"] == "fail"  # no SPF record in the zone now
    assert checked.failing_since is not None
