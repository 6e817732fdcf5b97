"""One bad mailbox never costs another on the IMAP side: sessions against hostile servers
(tests/hostile.py) end by their deadline, read a bounded number of bytes, never quote
what is not IMAP; an engagement pass among them engages every good mailbox (Dovecot)."""

from __future__ import annotations

import datetime as dt
import time
import tracemalloc
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from accounts.models import Mailbox
from accounts.transport import imap
from accounts.transport.account import Account
from accounts.transport.imap import ImapError, ImapHostRefused, ImapSession
from tests import dovecot
from tests.hostile import HostileServer, hostile_mailboxes, hostile_set, loopback_mailbox
from tests.warmup_mail import sent_message
from warmup.engine.engage import engage_pass
from warmup.models import SendLog

NOW = dt.datetime(2026, 11, 28, 15, 0, tzinfo=dt.UTC)

needs_dovecot = pytest.mark.skipif(
    not dovecot.available(), reason="needs Dovecot (.ci/run installs it)"
)


def session(port: int, host: str = "127.0.0.1", **kwargs: Any) -> ImapSession:
    options = {"timeout": 2.0, "allow_private": True, **kwargs}
    return ImapSession(Account(host, port, "none", "user", "password"), **options)


def test_a_trickling_server_cannot_stretch_a_session_past_its_deadline() -> None:
    """One line every 0.3 s: each read is quick, so only the session's deadline ends it."""
    with HostileServer("slow", protocol="imap", delay_s=0.3) as server:
        started = time.monotonic()
        with pytest.raises(ImapError, match="timed out"):
            session(server.port, timeout=2)
        took = time.monotonic() - started
    assert 1.9 < took < 3, took


@pytest.mark.parametrize("mode", ["big-greeting", "flood"])
def test_a_flood_costs_a_bounded_number_of_bytes(mode: str) -> None:
    tracemalloc.start()
    try:
        with HostileServer(mode, protocol="imap", size=30 * 1024 * 1024) as server:
            with pytest.raises(ImapError):
                session(server.port, timeout=10)
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * imap.REPLY_CAP, peak  # one reply's cap (and its copies), not 30 MB


@pytest.mark.parametrize("mode", ["banner", "silent"])
def test_what_is_not_imap_is_named_never_quoted(mode: str) -> None:
    with HostileServer(mode, protocol="imap") as server:
        check = imap.check_login(
            Account("127.0.0.1", server.port, "none", "u", "p"),
            timeout=1.5,
            allow_private=True,
        )
    assert not check.ok and "NATS" not in check.reply and "INFO" not in check.reply
    expected = "not IMAP" if mode == "banner" else "timed out"
    assert expected in check.reply, check.reply


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0x7f000001", "::1"])
def test_private_targets_are_refused_before_connecting(host: str) -> None:
    with HostileServer("banner", protocol="imap") as server:
        with pytest.raises(ImapHostRefused, match="loopback"):
            session(server.port, host=host, allow_private=False)
        check = imap.check_login(Account(host, server.port, "none", "u", "p"), allow_private=False)
    assert check.refused and not check.ok
    assert server.connections == 0


@pytest.mark.parametrize("host", ["a..b", "x" * 64 + ".test", "imap.test\r\nA1 LOGOUT"])
def test_a_poison_host_is_refused_as_such(host: str) -> None:
    with pytest.raises(ImapHostRefused, match=r"not a host name|control character"):
        session(143, host=host)


@needs_dovecot
@pytest.mark.django_db(transaction=True)
def test_an_engagement_pass_engages_every_good_mailbox_among_hostile_servers() -> None:
    """Three readers on Dovecot with warmup mail, and six mailboxes of another owner on a
    poison host, a trickling server, a silent one, a 30 MB greeting, a flood and another
    service's banner. Time box 3 s: the good ones are engaged in full, each hostile one
    ends with its own error by its time box, the poison one pauses its engagement."""
    users = get_user_model().objects
    owner, mallory, senders_owner = (users.create_user(n) for n in ("o", "mallory", "s"))
    readers = {f"reader{n}@inbox{n}.test": f"pass-{n}" for n in range(3)}
    with (
        dovecot.Dovecot(readers) as good,
        hostile_set("imap", slow_s=0.5, size=30 * 1024 * 1024) as servers,
    ):
        good_boxes = []
        for email, password in readers.items():
            reader = loopback_mailbox(owner, email, imap_port=good.imap_port)
            reader.imap_password = password
            reader.save()
            good_boxes.append(reader)
        senders = [
            loopback_mailbox(senders_owner, f"s{n}@out{n}.test", imap_port=1) for n in range(2)
        ]
        for n, reader in enumerate(good_boxes):
            for k in range(4):
                _, data = sent_message(
                    senders[k % 2],
                    reader,
                    day=NOW.date(),
                    slot_no=n * 4 + k,
                    at=NOW - dt.timedelta(hours=1),
                )
                good.deliver(reader.email, data)
        hostile = hostile_mailboxes(mallory, servers, "imap")

        started = time.monotonic()
        stats = engage_pass(
            NOW,
            settings.SECRET_KEY,
            concurrency=4,
            every=dt.timedelta(minutes=15),
            allow_private=True,
            time_box_s=3,
        )
        took = time.monotonic() - started

    results = {r.mailbox_id: r for r in stats.results}
    for reader in good_boxes:
        done = results[reader.id]
        assert (done.error, done.placed, done.filed) == ("", 4, 4), done
    assert SendLog.objects.filter(placement_seen_at__isnull=False).count() == 12
    errors = {name: results[b.id].error for name, b in hostile.items()}
    assert all(errors.values()), errors
    assert "timed out" in errors["slow"] and "timed out" in errors["silent"]
    assert "not IMAP" in errors["banner"]
    assert "bytes" in errors["big-greeting"] and "bytes" in errors["flood"]
    assert all("NATS" not in e for e in errors.values())
    poison = Mailbox.objects.get(id=hostile["poison"].id)
    assert results[poison.id].paused and "not a host name" in poison.engagement_paused_reason
    # Eleven sessions, four at a time, none past its 3 s box: three rounds at most.
    assert took < 3 * 3 + 3, took


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("concurrency", [1, 2])
def test_one_mailbox_alone_has_the_same_time_box(concurrency: int) -> None:
    """A pass of one mailbox (or concurrency 1) runs in this thread: the time box holds
    there as in the pool, so a trickling server cannot keep `engage` waiting."""
    owner = get_user_model().objects.create_user("o")
    with HostileServer("slow", protocol="imap", delay_s=0.3) as server:
        box = loopback_mailbox(owner, "slow@slow.test", imap_port=server.port)
        started = time.monotonic()
        stats = engage_pass(
            NOW,
            settings.SECRET_KEY,
            concurrency=concurrency,
            every=dt.timedelta(minutes=15),
            mailbox_id=box.id,
            allow_private=True,
            time_box_s=2,
        )
        took = time.monotonic() - started
    assert "timed out" in stats.results[0].error
    assert took < 4, took
