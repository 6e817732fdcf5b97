"""One bad mailbox never costs another: the SMTP transport and the engine among hostile
servers on loopback (tests/hostile.py) and real good ones (aiosmtpd)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import random
import time
from collections.abc import Sequence
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from accounts import status as mailbox_status
from accounts.models import Mailbox
from accounts.transport.account import Account
from accounts.transport.sink import SinkServer
from accounts.transport.smtp import Envelope, Group, Outcome, Result, SmtpTransport, check_login
from tests.hostile import HostileServer, hostile_mailboxes, hostile_set, loopback_mailbox
from warmup.engine.cycle import Engine
from warmup.engine.planner import plan_cycle
from warmup.models import SendLog, SendStatus, Worker

MESSAGE = b"From: a@a.test\r\nTo: b@b.test\r\nSubject: hi\r\n\r\nhello\r\n"
DAY_START = dt.datetime(2026, 11, 28, 0, 0, tzinfo=dt.UTC)
NOON = DAY_START + dt.timedelta(hours=12)


def transport(deadline_s: float | None, **overrides: Any) -> SmtpTransport:
    options: dict[str, Any] = {
        "max_concurrent": 8,
        "stagger_ms": (0, 0),
        "rng": random.Random(1),
        "connect_timeout": 30,
        "command_timeout": 30,  # longer than the deadline: the deadline is what cuts
        "deadline_s": deadline_s,
        "allow_private": True,
        **overrides,
    }
    return SmtpTransport(**options)


def group(port: int, first_slot: int, count: int = 2, host: str = "127.0.0.1") -> Group:
    account = Account(host, port, "none", "", "")
    return Group(
        account,
        [Envelope(first_slot + n, "a@a.test", "b@b.test", MESSAGE) for n in range(count)],
    )


def by_slot(results: list[Result]) -> dict[int, Result]:
    return {r.slot_id: r for r in results}


# --- the transport ---------------------------------------------------------------------


def test_a_poison_host_is_its_groups_failure_not_the_batchs() -> None:
    with SinkServer() as good:
        groups = [group(good.port, 1), group(25, 10, host="a..b"), group(25, 20, host="x" * 64)]
        groups.append(group(25, 30, host="smtp.example.test\r\nRCPT TO:<x@y>"))
        results = by_slot(asyncio.run(transport(5).send_batch(groups)))
    assert len(results) == 8
    assert [results[n].outcome for n in (1, 2)] == [Outcome.SENT, Outcome.SENT]
    for slot in (10, 11, 20, 21, 30, 31):
        assert results[slot].outcome is Outcome.HOST_REFUSED
        assert "not a host name" in results[slot].text or "control" in results[slot].text
    assert good.accepted == 2


def test_an_unexpected_error_stays_with_its_group(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any exception — here a bug planted in the composing of the DATA body — fails that
    group's sends as `error`, and the other groups are sent."""
    import accounts.transport.smtp as smtp

    real = smtp.normalize_message_line_endings

    def explode(message: bytes) -> bytes:
        if b"boom" in message:
            raise UnicodeError("a bug")
        return real(message)

    monkeypatch.setattr(smtp, "normalize_message_line_endings", explode)
    with SinkServer() as good:
        bad = group(good.port, 10)
        bad = Group(bad.account, [dataclasses.replace(e, message=b"boom") for e in bad.envelopes])
        results = by_slot(asyncio.run(transport(5).send_batch([bad, group(good.port, 1)])))
    assert results[1].outcome is results[2].outcome is Outcome.SENT
    # The first envelope's message may have left (the 354 came): unknown, never resent.
    assert results[10].outcome is Outcome.UNKNOWN
    assert results[11].outcome is Outcome.UNKNOWN or results[11].outcome is Outcome.ERROR
    assert "unexpected error: UnicodeError" in results[10].text


def test_the_deadline_settles_every_send_by_where_it_stood() -> None:
    """Deadline 1.5 s: a silent server (no greeting) and one that never answers DATA are
    deferred and slow; a server that got the whole message but keeps its reply is
    unknown for the send in flight; the good group on the fourth lane is sent."""
    with (
        SinkServer() as good,
        SinkServer(data_delay_s=30) as sits_on_the_reply,
        HostileServer("silent") as silent,
        HostileServer("no-354") as no_354,
    ):
        groups = [
            group(silent.port, 10),
            group(no_354.port, 20),
            group(sits_on_the_reply.port, 30),
            group(good.port, 1),
        ]
        started = time.monotonic()
        results = by_slot(asyncio.run(transport(1.5, max_concurrent=4).send_batch(groups)))
        took = time.monotonic() - started
    assert took < 3, took
    assert {results[n].outcome for n in (1, 2)} == {Outcome.SENT}
    assert [results[n].outcome for n in (10, 11)] == [Outcome.DEFERRED] * 2
    assert [results[n].outcome for n in (20, 21)] == [Outcome.DEFERRED] * 2
    assert results[30].outcome is Outcome.UNKNOWN  # its message and final "." went out
    assert results[31].outcome is Outcome.DEFERRED
    assert all(results[n].slow for n in (10, 11, 20, 21, 30, 31))
    assert "deadline" in results[10].text and "deadline" in results[30].text


def test_groups_that_never_got_a_lane_are_not_attempted() -> None:
    with SinkServer() as good, HostileServer("silent") as silent:
        batch = [group(silent.port, 10), group(good.port, 1)]
        results = by_slot(asyncio.run(transport(1, max_concurrent=1).send_batch(batch)))
    assert [results[n].outcome for n in (1, 2)] == [Outcome.NOT_ATTEMPTED] * 2
    assert not results[1].slow and "deadline" in results[1].text
    assert [results[n].outcome for n in (10, 11)] == [Outcome.DEFERRED] * 2
    assert good.accepted == 0


def test_each_command_waits_the_command_timeout_not_the_connect_timeout() -> None:
    """A server that greets in time but answers every command a second late: with a
    0.3 s command timeout (and no batch deadline) the send gives up at its first
    command, instead of waiting out the 30 s connect timeout for each one."""
    with HostileServer("slow", delay_s=1.0) as slow:
        patient_greeting = transport(None, connect_timeout=30, command_timeout=0.3)
        started = time.monotonic()
        results = asyncio.run(patient_greeting.send_batch([group(slow.port, 1)]))
        took = time.monotonic() - started
    assert [r.outcome for r in results] == [Outcome.DEFERRED] * 2
    assert results[0].text == "timed out" and results[0].slow
    assert took < 3, took  # the greeting (1 s) and one command's 0.3 s


def test_a_cut_during_the_lanes_own_stagger_is_nobodys_fault() -> None:
    with SinkServer() as good:
        slow_starts = transport(0.5, stagger_ms=(3000, 3000))
        results = asyncio.run(slow_starts.send_batch([group(good.port, 1)]))
    assert [r.outcome for r in results] == [Outcome.NOT_ATTEMPTED] * 2
    assert good.accepted == 0


def test_a_lane_that_swallows_its_cancellation_sends_nothing_after_the_deadline() -> None:
    """Python 3.11's wait_for can lose a cancellation that meets a reply; here the lane's
    own sleep loses it on purpose. The lane must still start nothing new: its sends are
    settled by the batch, and the server never sees them."""

    async def stubborn_sleep(seconds: float) -> None:
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            await asyncio.sleep(seconds)  # and carries on as if nothing happened

    with SinkServer() as good:
        slow_starts = transport(0.3, stagger_ms=(600, 600), sleep=stubborn_sleep)

        async def batch_then_linger() -> list[Result]:
            results = await slow_starts.send_batch([group(good.port, 1, count=3)])
            await asyncio.sleep(2)  # the stubborn lane goes on meanwhile
            return results

        results = asyncio.run(batch_then_linger())
    assert [r.outcome for r in results] == [Outcome.NOT_ATTEMPTED] * 3
    assert good.accepted == 0


@pytest.mark.parametrize("mode", ["big-greeting", "flood", "banner"])
def test_what_is_not_smtp_fails_without_being_quoted(mode: str) -> None:
    with HostileServer(mode) as server:
        results = asyncio.run(transport(10).send_batch([group(server.port, 1)]))
    assert [r.outcome for r in results] == [Outcome.FAILED] * 2
    assert all(r.text == "the server's reply is not SMTP" for r in results), results
    assert server.sent_bytes < 60 * 1024 * 1024  # it stopped reading: the flood stopped


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0x7f000001", "::1"])
def test_private_targets_are_refused_before_connecting(host: str) -> None:
    with HostileServer("banner") as server:
        results = asyncio.run(
            transport(5, allow_private=False).send_batch([group(server.port, 1, host=host)])
        )
        check = asyncio.run(check_login(Account(host, server.port, "none", "", "")))
    assert [r.outcome for r in results] == [Outcome.HOST_REFUSED] * 2
    assert "loopback" in results[0].text
    assert check.refused and not check.ok and "loopback" in check.reply
    assert server.connections == 0


def test_a_login_check_has_one_deadline_and_quotes_only_smtp() -> None:
    with HostileServer("slow", delay_s=0.8) as slow, HostileServer("banner") as banner:
        started = time.monotonic()
        checked = asyncio.run(
            check_login(
                Account("127.0.0.1", slow.port, "none", "u", "p"), timeout=2, allow_private=True
            )
        )
        took = time.monotonic() - started
        other = asyncio.run(
            check_login(Account("127.0.0.1", banner.port, "none", "", ""), allow_private=True)
        )
    assert took < 3 and not checked.ok and checked.reply == "timed out", (took, checked)
    assert not other.ok and "NATS" not in other.reply and "INFO" not in other.reply


# --- the engine --------------------------------------------------------------------------


class TimedTransport:
    """The real transport, with the duration of every batch written down."""

    def __init__(self, inner: SmtpTransport) -> None:
        self.inner = inner
        self.durations: list[float] = []

    async def send_batch(self, groups: Sequence[Group]) -> list[Result]:
        started = time.monotonic()
        try:
            return await self.inner.send_batch(groups)
        finally:
            self.durations.append(time.monotonic() - started)


def engine(now: dt.datetime, inner: SmtpTransport) -> tuple[Engine, TimedTransport]:
    config = dataclasses.replace(
        settings.WARMUP,
        batch_size=25,
        batch_delay_ms=0,
        global_minute_limit=100_000,
        global_hourly_limit=100_000,
        user_hourly_limit=100_000,
    )
    timed = TimedTransport(inner)
    worker = Engine(
        config=config,
        transport=timed,
        clock=lambda: now,
        worker="hostile-test",
        token_secret=settings.SECRET_KEY,
        rng=random.Random(7),
        sleep=lambda s: None,
    )
    return worker, timed


def good_mailbox(owner: Any, n: int, port: int) -> Mailbox:
    provider = ["gmail", "outlook", "other"][n % 3]
    return loopback_mailbox(owner, f"box{n}@domain{n}.test", smtp_port=port, provider=provider)


@pytest.mark.django_db
def test_the_engine_sends_every_good_mailbox_among_hostile_servers() -> None:
    """Good mailboxes of three owners and, owned by a fourth, a poison host, a server
    answering each line 1.5 s late, a silent one, a 10 MB greeting, a flood and another
    service's banner. Deadline 2 s: every good send of the cycle is sent, none unknown,
    no batch outlives the deadline by more than a second, the worker carries on."""
    users = get_user_model().objects
    owners = [users.create_user(f"owner-{n}") for n in range(3)]
    mallory = users.create_user("mallory")
    deadline = 2.0
    with SinkServer() as good, hostile_set(slow_s=1.5) as servers:
        goods = [good_mailbox(owners[n % 3], n, good.port) for n in range(12)]
        hostile = hostile_mailboxes(mallory, servers, "smtp")
        plan_cycle(DAY_START, floor=30, margin=dt.timedelta(minutes=15))
        good_due = set(
            SendLog.objects.filter(sender__in=goods, scheduled_at__lte=NOON).values_list(
                "id", flat=True
            )
        )
        assert len(good_due) > 100

        worker, timed = engine(NOON, transport(deadline, max_concurrent=20))
        stats = worker.run_cycle()

        # Every good send of the cycle went out, exactly once.
        statuses = dict(SendLog.objects.filter(id__in=good_due).values_list("id", "status"))
        assert set(statuses.values()) == {SendStatus.SENT}, stats.line()
        assert good.accepted == len(good_due)
        assert not SendLog.objects.filter(sender__in=goods, status=SendStatus.UNKNOWN).exists()
        # No batch waited on a hostile server past the deadline (plus settling).
        assert max(timed.durations) < deadline + 1, timed.durations
        # Each hostile mailbox took its own consequence.
        fresh = {name: Mailbox.objects.get(id=box.id) for name, box in hostile.items()}
        assert fresh["poison"].status == mailbox_status.ERROR
        assert "not a host name" in fresh["poison"].status_reason
        for name in ("slow", "silent"):
            box = fresh[name]
            assert box.status == mailbox_status.ACTIVE
            cut = SendLog.objects.filter(sender=box, status=SendStatus.DEFERRED)
            assert cut.exists() and "deadline" in cut.first().smtp_error
            # Backed off: nothing of it is due again this cycle.
            assert not SendLog.objects.filter(
                sender=box,
                status__in=(SendStatus.PLANNED, SendStatus.DEFERRED),
                scheduled_at__lte=NOON,
            ).exists()
        for name in ("big-greeting", "flood", "banner"):
            failed = SendLog.objects.filter(sender=fresh[name], status=SendStatus.FAILED)
            assert failed.exists()
            assert {s.smtp_error for s in failed} == {"the server's reply is not SMTP"}
        # The worker is alive: it heartbeats and its next cycle runs.
        assert Worker.objects.filter(name="hostile-test").exists()
        later, _ = engine(NOON + dt.timedelta(minutes=20), transport(deadline))
        later.registered = True
        assert later.run_cycle().claimed >= 0


@pytest.mark.django_db
def test_the_engine_refuses_private_targets_unless_allowed() -> None:
    owner = get_user_model().objects.create_user("owner")
    with SinkServer() as sink:
        boxes = [good_mailbox(owner, n, sink.port) for n in range(4)]
        Mailbox.objects.filter(id=boxes[1].id).update(smtp_host="localhost")
        plan_cycle(DAY_START, floor=30, margin=dt.timedelta(minutes=15))
        worker, _ = engine(NOON, transport(5, allow_private=False))
        worker.run_cycle()
    assert sink.accepted == 0
    for box in Mailbox.objects.filter(id__in=[b.id for b in boxes]):
        assert box.status == mailbox_status.ERROR
        assert "loopback address: refused" in box.status_reason
    # The reason names the host as written, never the address it resolved to.
    assert Mailbox.objects.get(id=boxes[1].id).status_reason.startswith(
        "SMTP localhost resolves to a loopback address"
    )
