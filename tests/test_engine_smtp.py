"""End to end: the engine against a real SMTP server (aiosmtpd on loopback, AUTH required)."""

import dataclasses
import datetime as dt
import logging
import random
from email.utils import parseaddr

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Mailbox
from accounts.transport.sink import SinkServer
from accounts.transport.smtp import SmtpTransport
from warmup.engine import content
from warmup.engine.cycle import CycleStats, Engine, load_network
from warmup.engine.planner import plan_cycle
from warmup.models import DailyStat, SendLog, SendStatus

DAY_START = dt.datetime(2026, 11, 28, 0, 0, tzinfo=dt.UTC)
NOON = DAY_START + dt.timedelta(hours=12)
DOMAINS = ["alpha.test", "beta.test", "gamma.test", "delta.test", "epsilon.test", "zeta.test"]


def engine_for(now: dt.datetime, **overrides) -> Engine:
    config = dataclasses.replace(
        settings.WARMUP,
        batch_size=25,
        batch_delay_ms=0,
        stagger_min_ms=0,
        stagger_max_ms=0,
        global_minute_limit=100_000,
        global_hourly_limit=100_000,
        user_hourly_limit=100_000,
        **overrides,
    )
    transport = SmtpTransport(
        allow_private=True,  # the servers are on loopback
        max_concurrent=config.max_concurrent,
        stagger_ms=(0, 0),
        rng=random.Random(1),
        connect_timeout=5,
        command_timeout=1,
    )
    return Engine(
        config=config,
        transport=transport,
        clock=lambda: now,
        worker="test-worker",
        token_secret=settings.SECRET_KEY,
        rng=random.Random(7),
        sleep=lambda s: None,
    )


@pytest.fixture
def network(db, django_user_model):
    """20 mailboxes of 3 owners over 6 domains, each with its own SMTP login."""
    owners = [django_user_model.objects.create_user(f"owner-{n}") for n in range(3)]
    users = {}
    boxes = []
    with SinkServer(users=users) as server:
        for n in range(20):
            email = f"box{n}@{DOMAINS[n % len(DOMAINS)]}"
            password = f"smtp-pass-{n}-{random.Random(n).randrange(10**9)}"
            users[email] = password
            boxes.append(
                Mailbox.objects.create(
                    owner=owners[n % 3],
                    email=email,
                    smtp_host="127.0.0.1",
                    smtp_port=server.port,
                    smtp_security="none",
                    smtp_username=email,
                    smtp_password=password,
                    imap_host="127.0.0.1",
                    imap_username=email,
                    window_start_hour=0,
                    window_end_hour=24,
                    provider=["gmail", "outlook", "other"][n % 3],
                )
            )
        yield server, boxes, users


def test_a_cycle_sends_exactly_what_is_due(network, caplog):
    server, _, users = network
    caplog.set_level(logging.DEBUG)
    plan_cycle(DAY_START, floor=30, margin=dt.timedelta(minutes=15))
    due = set(SendLog.objects.filter(scheduled_at__lte=NOON).values_list("id", flat=True))
    assert 200 < len(due) < 400  # about half of 20 × 30

    stats = engine_for(NOON).run_cycle()

    assert stats.claimed == len(due)
    assert stats.outcomes["sent"] == len(due)
    assert set(SendLog.objects.filter(status=SendStatus.SENT).values_list("id", flat=True)) == due
    assert SendLog.objects.exclude(id__in=due).filter(
        status=SendStatus.PLANNED
    ).count() == 600 - len(due)
    assert len(server.received) == len(due)

    slots = {
        s.id: s for s in SendLog.objects.filter(id__in=due).select_related("sender", "recipient")
    }
    by_message_id = {s.message_id: s for s in slots.values()}
    seen_tokens = set()
    for got in server.received:
        message = got.message
        # WARMUP_TAG_MODE=none: nothing marks the message; its Message-ID names its slot.
        assert content.TOKEN_HEADER not in message
        slot = by_message_id[message["Message-ID"]]
        seen_tokens.add(slot.id)
        assert parseaddr(message["From"])[1] == slot.sender.email == got.mail_from
        assert parseaddr(message["To"])[1] == slot.recipient.email == got.rcpt_tos[0]
        assert message["Message-ID"] == slot.message_id
        assert message["Message-ID"].endswith(f"@{slot.sender.domain}>")
        assert slot.sender.domain != slot.recipient.domain
        assert slot.recipient_id != slot.sender_id
        assert got.login == slot.sender.email  # sent through the sender's own account
        body = message.get_body(("plain",)).get_content()
        assert content.make_token(slot.id, settings.SECRET_KEY) not in body
        assert "Ref wu" not in body and "[wu" not in message["Subject"]
    assert seen_tokens == due  # each due slot arrived exactly once

    stat_sent = sum(DailyStat.objects.values_list("sent", flat=True))
    stat_received = sum(DailyStat.objects.values_list("received", flat=True))
    assert stat_sent == stat_received == len(due)
    for password in users.values():
        assert password not in caplog.text

    again = engine_for(NOON).run_cycle()  # nothing is due twice
    assert again.claimed == 0 and len(server.received) == len(due)


def failing_server(replies: dict[str, str]):
    return SinkServer(users={}, data_behaviour=lambda mail_from, login: replies.get(mail_from))


@pytest.mark.parametrize(
    ("reply", "slot_status", "mailbox_status"),
    [
        ("421 4.7.0 Try again later", SendStatus.DEFERRED, "active"),
        ("450 4.2.1 Mailbox busy", SendStatus.DEFERRED, "active"),
        # ten hard failures in a row trip the circuit breaker
        ("550 5.1.1 User unknown", SendStatus.FAILED, "error"),
        ("550 5.4.5 Daily user sending quota exceeded", SendStatus.FAILED, "paused"),
        ("stall", SendStatus.UNKNOWN, "active"),
    ],
)
def test_server_replies_end_in_the_designed_status(network, reply, slot_status, mailbox_status):
    _, boxes, users = network
    victim = boxes[0]
    with SinkServer(
        users=users, data_behaviour=lambda f, _l: reply if f == victim.email else None
    ) as server:
        Mailbox.objects.update(smtp_port=server.port)
        plan_cycle(DAY_START, floor=30, margin=dt.timedelta(minutes=15))
        engine_for(NOON).run_cycle()
    statuses = set(
        SendLog.objects.filter(sender=victim, attempts__gt=0).values_list("status", flat=True)
    )
    # a quota reply or an unanswered DATA stops the mailbox's batch at its first send
    assert slot_status in statuses
    assert statuses <= {slot_status, SendStatus.DEFERRED}
    victim.refresh_from_db()
    assert victim.status == mailbox_status
    if mailbox_status == "paused":
        assert "quota" in victim.status_reason
    if mailbox_status == "error":
        assert "in a row" in victim.status_reason
    others = SendLog.objects.exclude(sender=victim).filter(scheduled_at__lte=NOON)
    assert set(others.values_list("status", flat=True)) == {SendStatus.SENT}
    if slot_status == SendStatus.DEFERRED:
        retry = SendLog.objects.filter(sender=victim, status=SendStatus.DEFERRED).first()
        assert retry.scheduled_at > NOON and retry.smtp_code == int(reply[:3])
    if slot_status == SendStatus.UNKNOWN:
        unknown = list(SendLog.objects.filter(sender=victim, status=SendStatus.UNKNOWN))
        engine_for(NOON + dt.timedelta(hours=1)).run_cycle()
        for slot in unknown:  # counted as spent, never sent again
            slot.refresh_from_db()
            assert slot.status == SendStatus.UNKNOWN and slot.attempts == 1


def test_refused_login_pauses_only_that_mailbox(network, caplog):
    server, boxes, users = network
    caplog.set_level(logging.DEBUG)
    victim = boxes[3]
    users[victim.email] = "the-server-now-wants-another-password"
    plan_cycle(DAY_START, floor=30, margin=dt.timedelta(minutes=15))
    engine_for(NOON).run_cycle()
    victim.refresh_from_db()
    assert victim.status == "paused"
    assert "SMTP login refused" in victim.status_reason
    assert "535" in victim.status_reason
    tried = SendLog.objects.filter(sender=victim, attempts__gt=0)
    assert set(tried.values_list("status", flat=True)) == {SendStatus.DEFERRED}
    # once paused, the rest of its due slots wait, unclaimed
    assert SendLog.objects.filter(
        sender=victim, status=SendStatus.PLANNED, scheduled_at__lte=NOON
    ).exists()
    assert not any(r.login == victim.email for r in server.received)
    others = SendLog.objects.exclude(sender=victim).filter(scheduled_at__lte=NOON)
    assert set(others.values_list("status", flat=True)) == {SendStatus.SENT}
    for password in users.values():
        assert password not in caplog.text
        assert password not in victim.status_reason


def test_a_new_password_is_used_from_the_next_batch(network):
    """The engine keeps each sender's decrypted login between batches: a password changed
    meanwhile (its server wants the new one) must not be sent from the old entry."""
    server, boxes, users = network
    changed = boxes[2]
    plan_cycle(DAY_START, floor=30, margin=dt.timedelta(minutes=15))
    now = [DAY_START + dt.timedelta(hours=6)]
    engine = engine_for(now[0])
    engine.clock = lambda: now[0]
    engine.run_cycle(plan=False)
    assert any(r.login == changed.email for r in server.received)

    users[changed.email] = "a-new-password-entered-by-its-owner"
    box = Mailbox.objects.get(pk=changed.pk)
    box.smtp_password = users[changed.email]
    box.save()
    before = len(server.received)
    now[0] = NOON
    engine.run_cycle(plan=False)

    changed.refresh_from_db()
    assert changed.status == "active", changed.status_reason
    late = server.received[before:]
    assert any(r.login == changed.email for r in late)
    assert not SendLog.objects.filter(sender=changed, status=SendStatus.DEFERRED).exists()


def test_an_unreadable_secret_stops_only_that_mailbox(network, caplog):
    server, boxes, _ = network
    victim = boxes[5]
    Mailbox.objects.filter(pk=victim.pk).update(smtp_secret="gAAAAAB-not-a-real-fernet-token")
    plan_cycle(DAY_START, floor=30, margin=dt.timedelta(minutes=15))
    stats = engine_for(NOON).run_cycle()
    victim.refresh_from_db()
    assert victim.status == "error"
    assert "cannot decrypt the SMTP password" in victim.status_reason
    assert not SendLog.objects.filter(sender=victim, status=SendStatus.SENDING).exists()
    assert not SendLog.objects.filter(
        sender=victim, attempts__gt=0, status=SendStatus.SENT
    ).exists()
    others = SendLog.objects.exclude(sender=victim).filter(scheduled_at__lte=NOON)
    assert set(others.values_list("status", flat=True)) == {SendStatus.SENT}
    assert stats.outcomes["sent"] == others.count() == len(server.received)


# What one batch costs, whatever its size: the slots with their senders, the originals
# of its replies, the recipients' addresses, started_at, then the record step (a
# savepoint, the slots' statuses in one statement that finds and locks them too, the
# mailboxes' days and failures, the counters).
BATCH_STATEMENTS = 12


def statements_of_a_batch(size: int) -> int:
    """Half replies, half new sends, all due at NOON and claimed: the statements
    send_batch runs for them."""
    originals = SendLog.objects.filter(status=SendStatus.SENT, replies__isnull=True).order_by("id")[
        : size // 2
    ]
    replies = SendLog.objects.bulk_create(
        SendLog(
            sender_id=o.recipient_id,
            day=NOON.date(),
            slot_no=1000 + o.id,
            recipient_id=o.sender_id,
            in_reply_to_id=o.id,
            thread_id=o.message_id,
            scheduled_at=NOON,
            timestamp=NOON,
        )
        for o in originals
    )
    fresh = SendLog.objects.filter(status=SendStatus.PLANNED, scheduled_at__lte=NOON)
    ids = [r.id for r in replies] + list(
        fresh.order_by("id").values_list("id", flat=True)[: size - len(replies)]
    )
    SendLog.objects.filter(id__in=ids).update(
        status=SendStatus.SENDING, worker="test-worker", claimed_at=NOON, attempts=1
    )
    stats = CycleStats()
    network = load_network(NOON)
    with CaptureQueriesContext(connection) as statements:
        engine_for(NOON).send_batch(ids, network, stats)
    assert stats.outcomes["sent"] == len(ids) == size
    return len(statements.captured_queries)


def test_a_batch_costs_the_same_statements_whatever_its_size(network):
    """send_batch is the hot path (thousands of slots a second): its statements do not
    grow with the batch, for new sends and replies alike."""
    plan_cycle(DAY_START, floor=30, margin=dt.timedelta(minutes=15))
    engine_for(NOON - dt.timedelta(hours=6)).run_cycle(plan=False)
    assert statements_of_a_batch(4) == statements_of_a_batch(40) == BATCH_STATEMENTS


def test_a_worker_whose_network_predates_the_plan_reads_it_again(network):
    """A worker that read the network before another worker planned the day (nobody could
    receive yet) finds no recipient for its first batch: it reads the network again and
    its next batches are paired, instead of releasing every slot until the next plan."""
    server, _, _ = network
    engine = engine_for(NOON)
    engine.network = load_network(NOON)  # before the plan: empty
    assert len(engine.network) == 0
    plan_cycle(DAY_START, floor=30, margin=dt.timedelta(minutes=15))  # another worker's

    stats = engine.run_cycle(plan=False)

    assert 0 < stats.unpaired <= 25  # the first batch, at most
    assert stats.outcomes["sent"] > 100
    assert len(server.received) == stats.outcomes["sent"]


def test_a_recipient_deleted_since_the_network_was_read_leaves_its_slots_waiting(network):
    """A worker's network serves up to an hour: a mailbox deleted meanwhile may still be
    picked. Those slots wait for another pick, the network is read again, and the sender
    is not stopped for it (the missing address once put the sender in error)."""
    server, boxes, _ = network
    plan_cycle(DAY_START, floor=30, margin=dt.timedelta(minutes=15))
    engine = engine_for(NOON)
    engine.network = load_network(NOON)
    Mailbox.objects.filter(id__in=[b.id for b in boxes[-5:]]).delete()

    stats = engine.run_cycle(plan=False)

    assert stats.unpaired > 0
    assert stats.outcomes["sent"] > 100
    assert not Mailbox.objects.exclude(status="active").exists()
    assert len(server.received) == stats.outcomes["sent"]
