"""What the checks lead to, on a simulated clock, with the real engine sending through the
SMTP sink: a domain whose DMARC breaks keeps sending through the grace period, then its
mailboxes pause with the reason, and resume by themselves when it is fixed; a listing holds
the ramp (no daily increase) and releasing it goes on from the held volume."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from accounts import status as mailbox_status
from accounts.models import Mailbox
from accounts.transport.sink import SinkServer
from tests.test_engine_smtp import engine_for
from warmup.engine.planner import day_quota, plan_cycle, unplanned_mailboxes
from warmup.models import ReputationTarget, SendLog
from warmup.reputation.results import CheckResult, TargetResult
from warmup.reputation.state import act, record

START = dt.datetime(2026, 12, 7, 0, 30, tzinfo=dt.UTC)  # a Monday
GRACE = dt.timedelta(hours=72)
GOOD = {"mx": "pass", "spf": "pass", "dkim": "pass", "dmarc": "pass", "dnsbl": "pass"}


def domain(name: str, **verdicts: str) -> TargetResult:
    checks = {**GOOD, **verdicts}
    return TargetResult(
        ReputationTarget.DOMAIN,
        name,
        {
            check: CheckResult(
                verdict,
                f"{check} says {verdict}",
                listed_on=("dbl.example.test",) if check == "dnsbl" and verdict == "fail" else (),
            )
            for check, verdict in checks.items()
        },
    )


@pytest.fixture
def network(transactional_db: Any, owner: Any) -> Iterator[dict[str, Mailbox]]:
    users = {
        f"{n}@{d}": "pw-1"
        for n, d in (("ann", "acme.test"), ("bob", "fine.test"), ("cat", "third.test"))
    }
    with SinkServer(users=users) as sink:
        boxes = {
            email.split("@")[0]: Mailbox.objects.create(
                owner=owner,
                email=email,
                smtp_host="127.0.0.1",
                smtp_port=sink.port,
                smtp_security="none",
                smtp_username=email,
                smtp_password=password,
                imap_host="127.0.0.1",
                imap_username=email,
                imap_password=password,
                window_start_hour=0,
                window_end_hour=24,
                start_volume=4,
                daily_increase=2,
                daily_max=50,
                warmup_started_on=START.date(),
            )
            for email, password in users.items()
        }
        yield boxes


def day(now: dt.datetime) -> dict[str, int]:
    """Plan the day at `now` and send what is due by its end: sends per mailbox."""
    plan_cycle(now, floor=0, margin=dt.timedelta(minutes=15))
    engine_for(now.replace(hour=23, minute=0)).run_cycle(plan=False)
    sent = {}
    for name in ("ann", "bob"):
        sent[name] = SendLog.objects.filter(
            sender__email__startswith=f"{name}@", day=now.date(), status="sent"
        ).count()
    return sent


def step(now: dt.datetime, *results: TargetResult) -> None:
    record(list(results), now)
    act(now, GRACE)


def test_a_broken_domain_pauses_after_the_grace_period_and_resumes_when_fixed(
    network: dict[str, Mailbox],
) -> None:
    ann, bob = network["ann"], network["bob"]
    step(START, domain("acme.test"), domain("fine.test"))
    assert day(START) == {"ann": 4, "bob": 4}  # (cat of third.test sends too, unchecked)

    # DMARC breaks on day 1: a warning at once (the target says so), sending goes on.
    broken_at = START + dt.timedelta(days=1)
    step(broken_at, domain("acme.test", dmarc="fail"), domain("fine.test"))
    target = ReputationTarget.objects.get(name="acme.test")
    assert target.failing_since == broken_at and "dmarc: dmarc says fail" in target.failing_reason
    for n in range(1, 4):  # days 1, 2 and 3: inside the 72 hours
        today = START + dt.timedelta(days=n)
        step(today, domain("acme.test", dmarc="fail"), domain("fine.test"))
        assert day(today)["ann"] > 0
    # 72 hours after it broke: paused with the reason; bob untouched.
    step(broken_at + GRACE, domain("acme.test", dmarc="fail"), domain("fine.test"))
    ann.refresh_from_db()
    bob.refresh_from_db()
    assert ann.status == mailbox_status.PAUSED
    assert ann.status_reason.startswith("domain setup broken: dmarc: dmarc says fail")
    assert bob.status == mailbox_status.ACTIVE
    assert day(START + dt.timedelta(days=5)) == {"ann": 0, "bob": 4 + 2 * 5}

    # A check that cannot be made changes nothing; one that passes resumes it.
    fixed_at = START + dt.timedelta(days=6)
    step(fixed_at, domain("acme.test", dmarc="error"), domain("fine.test"))
    ann.refresh_from_db()
    assert ann.status == mailbox_status.PAUSED
    step(fixed_at, domain("acme.test"), domain("fine.test"))
    ann.refresh_from_db()
    assert (ann.status, ann.status_reason) == (mailbox_status.ACTIVE, "")
    assert ReputationTarget.objects.get(name="acme.test").failing_since is None
    assert day(fixed_at)["ann"] > 0


def test_a_listing_holds_the_ramp_until_delisted(network: dict[str, Mailbox]) -> None:
    def quota(name: str, now: dt.datetime) -> int:
        (row,) = [r for r in unplanned_mailboxes(now) if r["id"] == network[name].pk]
        return day_quota(row, floor=0)

    assert quota("ann", START + dt.timedelta(days=2)) == 4 + 2 * 2
    listed_at = START + dt.timedelta(days=2)
    step(listed_at, domain("acme.test", dnsbl="fail"), domain("fine.test"))
    ann = Mailbox.objects.get(pk=network["ann"].pk)
    assert ann.ramp_held_since == listed_at.date() and ann.status == mailbox_status.ACTIVE
    assert ReputationTarget.objects.get(name="acme.test").listed_on == "dbl.example.test"
    # Held: day 5 sends what day 2 did; bob's ramp goes on.
    assert quota("ann", START + dt.timedelta(days=5)) == 8
    assert quota("bob", START + dt.timedelta(days=5)) == 4 + 2 * 5
    # Delisted on day 6: from there the ramp goes on from 8, not from 16.
    step(START + dt.timedelta(days=6), domain("acme.test"), domain("fine.test"))
    ann.refresh_from_db()
    assert ann.ramp_held_since is None
    assert quota("ann", START + dt.timedelta(days=6)) == 8
    assert quota("ann", START + dt.timedelta(days=7)) == 10


def test_a_listed_server_address_holds_the_ramp_of_its_hosts_mailboxes(
    network: dict[str, Mailbox],
) -> None:
    listed = TargetResult(
        ReputationTarget.ADDRESS,
        "192.0.2.25",
        {
            "ptr": CheckResult("pass"),
            "dnsbl": CheckResult("fail", "listed", listed_on=("zen.example.test",)),
        },
    )
    elsewhere = Mailbox.objects.create(
        owner=network["ann"].owner,
        email="dan@elsewhere.test",
        smtp_host="smtp.elsewhere.test",
        smtp_username="dan",
        imap_host="imap.elsewhere.test",
        imap_username="dan",
    )
    record([listed], START, hosts={"192.0.2.25": ["127.0.0.1"]})
    act(START, GRACE)
    assert Mailbox.objects.filter(ramp_held_since=START.date()).count() == 3  # all on it
    elsewhere.refresh_from_db()
    assert elsewhere.ramp_held_since is None
    # A DNSBL that cannot be asked keeps the listing; a clean answer lifts it.
    record(
        [TargetResult(ReputationTarget.ADDRESS, "192.0.2.25", {"dnsbl": CheckResult("error")})],
        START,
    )
    act(START, GRACE)
    assert Mailbox.objects.filter(ramp_held_since__isnull=False).count() == 3
    record(
        [TargetResult(ReputationTarget.ADDRESS, "192.0.2.25", {"dnsbl": CheckResult("pass")})],
        START,
    )
    act(START, GRACE)
    assert not Mailbox.objects.filter(ramp_held_since__isnull=False).exists()


def test_the_scheduled_run_checks_the_domains_due_oldest_first(
    transactional_db: Any, owner: Any, settings: Any
) -> None:
    """check_due: never-checked domains first, then those checked over a day ago, at most
    `limit` a run; a domain checked within the day waits. Against a DNS server on
    loopback (tests/dns_server.py) that knows none of them: MX fails, nothing raises."""
    from tests.dns_server import answering
    from warmup.reputation.run import check_due

    for n in range(5):
        Mailbox.objects.create(
            owner=owner,
            email=f"m{n}@due{n}.test",
            smtp_host="smtp.gmail.com",
            provider="gmail",
            smtp_username="u",
            imap_host="imap.gmail.com",
            imap_username="u",
        )
    checked = {
        "due0.test": START - dt.timedelta(hours=2),
        "due1.test": START - dt.timedelta(days=2),
    }
    for name, at in checked.items():
        ReputationTarget.objects.create(kind="domain", name=name, checked_at=at)
    with answering("", settings, address_zones=(), domain_zones=()):
        first = check_due(START, limit=3)
        second = check_due(START, limit=3)
        third = check_due(START, limit=3)
    assert [r.name for r in first] == ["due2.test", "due3.test", "due4.test"]  # never
    assert [r.name for r in second] == ["due1.test"]  # two days old; due0 is fresh
    assert third == []
    assert all(r.checks["mx"].verdict == "fail" for r in first + second)


def test_engagement_keeps_the_dkim_selectors_it_sees(transactional_db: Any) -> None:
    from warmup.reputation.state import note_dkim_selectors

    ReputationTarget.objects.create(
        kind="domain", name="acme.test", checks={"mx": {"verdict": "pass"}}, dkim_selectors=["s1"]
    )
    added = note_dkim_selectors(
        [("ACME.test", "s2"), ("acme.test", "s1"), ("new.test", "google"), ("acme.test", "S2")]
    )
    assert added == 2
    acme = ReputationTarget.objects.get(name="acme.test")
    assert acme.dkim_selectors == ["s1", "s2"] and acme.checks == {"mx": {"verdict": "pass"}}
    assert ReputationTarget.objects.get(name="new.test").dkim_selectors == ["google"]
    assert note_dkim_selectors([("acme.test", "s2"), ("", "x"), ("acme.test", "")]) == 0
