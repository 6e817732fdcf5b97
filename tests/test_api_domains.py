"""GET /api/domains/ and /api/domains/{name}/: the checked domains with their verdicts,
each owner's own only (a 404 for another's), staff's all with the server addresses; the
status each is given, its filter and order; a page's queries; the check on demand's
doors (its 501 while this build has no warmup.reputation.checks)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

from accounts.models import Mailbox
from tests.dns_server import answering
from tests.test_api_mailboxes import client_for, mailbox_of, user
from warmup.models import ReputationTarget
from warmup.reputation import status as reputation

pytestmark = pytest.mark.django_db

AT = "2026-12-01T06:00:00+00:00"
SINCE = dt.datetime(2026, 11, 28, 6, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def fresh_throttle() -> None:
    cache.clear()


def checks(**verdicts: str) -> dict[str, Any]:
    return {
        name: {"verdict": verdict, "detail": f"{name} said {verdict}", "checked_at": AT}
        for name, verdict in verdicts.items()
    }


def target(name: str, kind: str = ReputationTarget.DOMAIN, **fields: Any) -> ReputationTarget:
    return ReputationTarget.objects.create(kind=kind, name=name, **fields)


@pytest.fixture
def world() -> dict[str, Any]:
    """alice sends from d1.test (two mailboxes, one in capitals), d2.test and d3.test
    (never checked); bob from d9.test and d1.test. d1 passes, d2 is failing, d9 is listed,
    d4.test is no one's; one server address is listed."""
    alice, bob = user("alice"), user("bob")
    mailbox_of(alice, 1)
    Mailbox.objects.create(
        owner=alice,
        email="Second@D1.Test",
        smtp_host="smtp.test",
        imap_host="imap.test",
        smtp_username="u",
        imap_username="u",
    )
    mailbox_of(alice, 2)
    mailbox_of(alice, 3)
    mailbox_of(bob, 9)
    mailbox_of(bob, 1)
    target("d1.test", checks=checks(mx="pass", spf="pass", dkim="pass", dmarc="pass"))
    target(
        "d2.test",
        checks=checks(mx="pass", spf="fail", dkim="pass", dmarc="warn"),
        failing_since=SINCE,
        failing_reason="spf: no record",
    )
    target("d9.test", checks=checks(dnsbl="fail"), listed_since=SINCE, listed_on="dbl.test")
    target("d4.test", checks=checks(dmarc="error"))
    target(
        "192.0.2.25",
        ReputationTarget.ADDRESS,
        checks=checks(ptr="pass", dnsbl="fail"),
        listed_since=SINCE,
        listed_on="zen.test",
    )
    staff = user("root", staff=True, perms=("accounts.view_mailbox",))
    return {"alice": alice, "bob": bob, "staff": staff}


def names(body: dict[str, Any]) -> list[str]:
    return [item["name"] for item in body["results"]]


def test_an_owner_sees_their_checked_domains_with_verdicts(world: dict[str, Any]) -> None:
    alice = client_for(world["alice"])
    body = alice.get("/api/domains/").json()
    # Failing before ok; d3.test was never checked: no row, not shown.
    assert body["count"] == 2 and names(body) == ["d2.test", "d1.test"]
    d2, d1 = body["results"]
    assert d1["mailboxes"] == 2  # alice's two, not bob's
    assert (d1["kind"], d1["status"]) == ("domain", "ok")
    assert list(d2["checks"]) == ["mx", "spf", "dkim", "dmarc"]
    assert d2["checks"]["spf"] == {
        "verdict": "fail",
        "detail": "spf said fail",
        "checked_at": AT,
    }
    assert d2["status"] == "failing" and d2["failing_reason"] == "spf: no record"
    assert d2["failing_since"] == "2026-11-28T06:00:00Z"
    assert d2["listed_since"] is None and d2["listed_on"] == ""
    assert set(d2) == {
        "name",
        "kind",
        "status",
        "mailboxes",
        "checks",
        "checked_at",
        "failing_since",
        "failing_reason",
        "listed_since",
        "listed_on",
    }


def test_an_owner_never_learns_about_another_owners_domains(world: dict[str, Any]) -> None:
    alice, bob = client_for(world["alice"]), client_for(world["bob"])
    assert alice.get("/api/domains/d1.test/").json()["mailboxes"] == 2
    assert bob.get("/api/domains/d1.test/").json()["mailboxes"] == 1
    for name in ("d9.test", "d4.test", "192.0.2.25", "nowhere.test"):
        response = alice.get(f"/api/domains/{name}/")
        assert response.status_code == 404
        assert response.json() == {"error": "not_found", "detail": "no such domain"}
        assert alice.post(f"/api/domains/{name}/check/").status_code == 404
    assert names(bob.get("/api/domains/").json()) == ["d9.test", "d1.test"]
    assert client_for(user("carol")).get("/api/domains/").json()["count"] == 0
    assert client_for(world["alice"]).get("/api/domains/D2.TEST/").json()["name"] == "d2.test"


def test_staff_see_every_domain_and_the_server_addresses(world: dict[str, Any]) -> None:
    staff = client_for(world["staff"])
    body = staff.get("/api/domains/").json()
    # Listed (by name: the address sorts first), failing, warning, ok.
    assert names(body) == ["192.0.2.25", "d9.test", "d2.test", "d4.test", "d1.test"]
    by_name = {item["name"]: item for item in body["results"]}
    assert by_name["d1.test"]["mailboxes"] == 3  # every owner's
    assert by_name["d4.test"]["mailboxes"] == 0
    address = by_name["192.0.2.25"]
    assert (address["kind"], address["status"], address["mailboxes"]) == ("address", "listed", None)
    assert list(address["checks"]) == ["ptr", "dnsbl"]
    assert address["listed_on"] == "zen.test"
    assert staff.get("/api/domains/192.0.2.25/").json()["status"] == "listed"
    assert names(staff.get("/api/domains/?kind=address").json()) == ["192.0.2.25"]
    # Staff without the permission see what an owner sees: their own (none).
    clerk = client_for(user("clerk", staff=True))
    assert clerk.get("/api/domains/").json()["count"] == 0
    assert clerk.get("/api/domains/d1.test/").status_code == 404


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("listed", ["192.0.2.25", "d9.test"]),
        ("failing", ["d2.test"]),  # its dmarc warns, but failing comes first
        ("warning", ["d4.test"]),  # an error is a warning
        ("ok", ["d1.test"]),
        ("all", ["192.0.2.25", "d9.test", "d2.test", "d4.test", "d1.test"]),
    ],
)
def test_the_status_filter(world: dict[str, Any], status: str, expected: list[str]) -> None:
    body = client_for(world["staff"]).get(f"/api/domains/?status={status}").json()
    assert names(body) == expected
    assert all(item["status"] == status for item in body["results"]) or status == "all"


def test_a_listed_and_failing_domain_is_listed() -> None:
    target("both.test", failing_since=SINCE, listed_since=SINCE, checks=checks(spf="fail"))
    target("warned.test", checks=checks(spf="pass", dmarc="warn"))
    target("fine.test", checks=checks(spf="pass"))
    target("unchecked.test")
    found = dict(
        ReputationTarget.objects.annotate(s=reputation.status_expression()).values_list("name", "s")
    )
    assert found == {
        "both.test": "listed",
        "warned.test": "warning",
        "fine.test": "ok",
        "unchecked.test": "ok",
    }
    for status in reputation.STATUSES:
        chosen = ReputationTarget.objects.filter(reputation.having_status(status))
        assert {t.name for t in chosen} == {n for n, s in found.items() if s == status}


def test_orderings_and_bad_query_values(world: dict[str, Any]) -> None:
    staff = client_for(world["staff"])
    assert names(staff.get("/api/domains/?ordering=name").json()) == [
        "192.0.2.25",
        "d1.test",
        "d2.test",
        "d4.test",
        "d9.test",
    ]
    assert names(staff.get("/api/domains/?ordering=-name&page_size=2").json()) == [
        "d9.test",
        "d4.test",
    ]
    # The last page, read from the end, is the one paging forward reaches.
    for ordering in ("status", "name", "-name"):
        url = f"/api/domains/?ordering={ordering}&page_size=3"
        forward = names(staff.get(f"{url}&page=1").json()) + names(
            staff.get(f"{url}&page=2").json()
        )
        assert len(forward) == 5
        assert names(staff.get(f"{url}&page=last").json()) == forward[3:], ordering
    for query in ("status=bad", "kind=mx", "ordering=checks", "page=0", "page_size=x"):
        response = staff.get(f"/api/domains/?{query}")
        assert response.status_code == 400, query
        assert response.json()["error"] == "invalid"


def test_a_page_costs_the_same_queries_whatever_its_length(
    world: dict[str, Any], django_assert_num_queries: Any
) -> None:
    alice, staff = client_for(world["alice"]), client_for(world["staff"])

    def queries(client: Any, expected_count: int) -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/domains/?page_size=100").json()["count"] == expected_count
        return len(captured)

    few_alice, few_staff = queries(alice, 2), queries(staff, 5)
    for n in range(20, 60):
        mailbox_of(world["alice"], n)
        target(f"d{n}.test", checks=checks(spf="pass", dmarc="warn" if n % 2 else "pass"))
    target("198.51.100.7", ReputationTarget.ADDRESS, checks=checks(ptr="pass"))
    assert queries(alice, 42) == few_alice
    assert queries(staff, 46) == few_staff
    # A page: the user, the count, the rows, the page's mailbox counts.
    with django_assert_num_queries(4):
        alice.get("/api/domains/?page_size=100")


def test_the_mailbox_api_shows_the_receivers_verdicts_and_the_held_ramp(
    world: dict[str, Any],
) -> None:
    box = Mailbox.objects.filter(owner=world["alice"]).order_by("id").first()
    assert box is not None
    Mailbox.objects.filter(id=box.id).update(
        auth_pass_rate_7d=0.82, dmarc_flagged=True, ramp_held_since=dt.date(2026, 11, 30)
    )
    alice = client_for(world["alice"])
    shown = alice.get(f"/api/mailboxes/{box.id}/").json()
    assert shown["auth_pass_rate_7d"] == 0.82
    assert shown["dmarc_flagged"] is True
    assert shown["ramp_held_since"] == "2026-11-30"
    # Read-only: a PATCH of them changes nothing.
    patched = alice.patch(
        f"/api/mailboxes/{box.id}/",
        {"auth_pass_rate_7d": 1.0, "dmarc_flagged": False, "ramp_held_since": None},
        format="json",
    )
    assert patched.status_code == 200
    box.refresh_from_db()
    assert (box.auth_pass_rate_7d, box.dmarc_flagged, box.ramp_held_since) == (
        0.82,
        True,
        dt.date(2026, 11, 30),
    )


@pytest.fixture
def dns(settings: Any) -> Iterator[Any]:
    """A real DNS server on loopback answering for d3.test (good but a DMARC without rua
    and no DKIM key) and d1.test (no SPF), the checks pointed at it."""
    zone = """
d3.test.                  300 IN MX  10 mx.d3.test.
mx.d3.test.               300 IN A   192.0.2.30
d3.test.                  300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.d3.test.           300 IN TXT "v=DMARC1; p=reject"
d1.test.                  300 IN MX  10 mx.d3.test.
"""
    with answering(zone, settings) as server:
        yield server


def test_a_check_on_demand_checks_records_and_answers(world: dict[str, Any], dns: Any) -> None:
    alice, staff = client_for(world["alice"]), client_for(world["staff"])
    # Her own domain, never checked before: checked against the DNS server, kept, shown.
    response = alice.post("/api/domains/D3.test/check/")
    assert response.status_code == 200, response.json()
    body = response.json()
    verdicts = {name: check["verdict"] for name, check in body["checks"].items()}
    assert verdicts["mx"] == "pass" and verdicts["spf"] == "pass"
    assert verdicts["dmarc"] == "warn" and "rua" in body["checks"]["dmarc"]["detail"]
    assert verdicts["dkim"] == "fail"  # no key at the usual selectors
    assert body["status"] == "failing" and body["failing_since"] is not None
    assert ReputationTarget.objects.get(name="d3.test").checks["mx"]["verdict"] == "pass"
    # d1.test passed before; now its SPF is gone: failing from now on, the grace running.
    again = alice.post("/api/domains/d1.test/check/").json()
    assert again["checks"]["spf"]["verdict"] == "fail" and again["status"] == "failing"
    # Not bob's, not anyone's: 404 before anything is asked; a GET is not allowed.
    bob = client_for(world["bob"])
    asked = dns.queries
    assert asked > 0
    assert bob.post("/api/domains/d2.test/check/").status_code == 404
    assert staff.post("/api/domains/unknown.test/check/").status_code == 404
    assert alice.get("/api/domains/d1.test/check/").status_code == 405
    assert dns.queries == asked
