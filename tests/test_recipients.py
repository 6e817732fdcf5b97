"""Pairing senders with recipients from the network (pure, in memory), and the
network as read from the database."""

import datetime as dt
import logging
import random
from collections import Counter

import pytest

from warmup.engine import content
from warmup.engine.cycle import load_network
from warmup.engine.planner import plan_cycle
from warmup.engine.recipients import Network, Peer, pair_recipients

PROVIDERS = ["gmail", "outlook", "yahoo"]


def network(n: int, cap: int = 30, domains: int | None = None) -> list[Peer]:
    domains = domains or n
    return [
        Peer(
            id=i,
            domain=f"d{i % domains}.test",
            provider=PROVIDERS[i % 3],
            owner_id=i % 4,
            receive_cap=cap,
        )
        for i in range(n)
    ]


def test_never_self_never_same_domain_and_under_the_cap():
    peers = network(60, cap=10, domains=20)
    net = Network(peers)
    senders = [p for p in peers for _ in range(8)]  # 480 sends, capacity 600
    paired = pair_recipients(senders, net, random.Random(1))
    assert all(r is not None for r in paired)
    for sender, recipient in zip(senders, paired, strict=True):
        assert recipient.id != sender.id
        assert recipient.domain != sender.domain
    received = Counter(r.id for r in paired)
    assert max(received.values()) <= 10
    assert all(p.received == received[p.id] for p in peers)


def test_spreads_over_providers_and_owners():
    peers = network(90)
    paired = pair_recipients([p for p in peers for _ in range(3)], Network(peers), random.Random(2))
    senders = [p for p in peers for _ in range(3)]
    other_provider = sum(r.provider != s.provider for s, r in zip(senders, paired, strict=True))
    other_owner = sum(r.owner_id != s.owner_id for s, r in zip(senders, paired, strict=True))
    assert other_provider / len(paired) > 0.95
    assert other_owner / len(paired) > 0.9


def test_load_is_balanced():
    peers = network(200, cap=100)
    paired = pair_recipients(
        [p for p in peers for _ in range(30)], Network(peers), random.Random(3)
    )
    counts = Counter(r.id for r in paired)
    assert max(counts.values()) - min(counts.values()) <= 12


def test_too_small_a_network_says_so(caplog):
    peers = network(3, cap=1, domains=2)  # domains d0, d1, d0
    caplog.set_level(logging.WARNING)
    paired = pair_recipients([peers[0]] * 3, Network(peers), random.Random(4))
    assert paired[0] is not None and paired[0].domain == "d1.test"
    assert paired[1:] == [None, None]
    assert "network too small to pair 2 of 3 sends" in caplog.text


@pytest.mark.django_db
def test_a_domain_is_one_domain_whatever_its_case(make_mailbox):
    """The network, the senders and the Message-IDs read a domain one way, lowercased:
    a sender is never paired with a mailbox of its own domain spelled in capitals."""
    now = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
    make_mailbox(email="Ann@Alpha.TEST", window_start_hour=0, window_end_hour=24)
    make_mailbox(email="bob@alpha.test", window_start_hour=0, window_end_hour=24)
    plan_cycle(now, floor=1, margin=dt.timedelta(minutes=15))  # the network: planned days
    assert {peer.domain for peer in load_network(now).peers} == {"alpha.test"}
    assert content.Party("Ann@Alpha.TEST").domain == "alpha.test"
