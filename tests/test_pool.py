"""The pool's shape (warmup.engine.pool) computed from the send log in PostgreSQL, and
pairing (warmup.engine.recipients) keeping the same-owner share low where the network
allows it."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
from collections import Counter
from typing import Any

import pytest

from accounts.models import Mailbox
from warmup.engine.pool import (
    PoolCounts,
    PoolFigures,
    figures,
    pool_counts,
    record_pool_shape,
    update_pool,
)
from warmup.engine.recipients import Network, Peer, pair_recipients
from warmup.models import PoolShape, SendLog, SendStatus

NOW = dt.datetime(2026, 6, 8, 6, 0, tzinfo=dt.UTC)
_slot = itertools.count()


def send(sender: Mailbox, recipient: Mailbox, *, ago: dt.timedelta, status: str = "sent") -> None:
    at = NOW - ago
    SendLog.objects.create(
        sender=sender,
        recipient=recipient,
        day=at.date(),
        slot_no=next(_slot),
        status=status,
        scheduled_at=at,
        timestamp=at,
    )


@pytest.fixture
def boxes(make_mailbox: Any, owner: Any, django_user_model: Any) -> dict[str, Mailbox]:
    """alice: a (gmail), b (outlook); bob: c (gmail), d (yahoo); e (bob's) sends nothing."""
    bob = django_user_model.objects.create_user("bob")
    return {
        "a": make_mailbox(email="a@one.test", provider="gmail"),
        "b": make_mailbox(email="b@two.test", provider="outlook"),
        "c": make_mailbox(email="c@three.test", provider="gmail", owner=bob),
        "d": make_mailbox(email="d@four.test", provider="yahoo", owner=bob),
        "e": make_mailbox(email="e@five.test", provider="gmail", owner=bob),
    }


@pytest.mark.django_db
def test_counts_of_a_known_week(boxes: dict[str, Mailbox]) -> None:
    a, b, c, d, e = (boxes[k] for k in "abcde")
    hour = dt.timedelta(hours=1)
    send(a, c, ago=hour)
    send(a, c, ago=2 * hour)
    send(c, a, ago=3 * hour)  # a ↔ c: reciprocal
    send(b, a, ago=4 * hour)  # same owner (alice)
    send(d, a, ago=6 * dt.timedelta(days=1))  # bob, yahoo
    send(a, d, ago=5 * hour, status=SendStatus.FAILED)  # not accepted: no partner
    send(a, b, ago=hour, status=SendStatus.PLANNED)
    send(c, a, ago=dt.timedelta(days=7, seconds=1))  # before the window
    send(d, a, ago=-hour)  # after `now`
    counts = pool_counts(NOW)
    assert counts[a.id] == PoolCounts(
        a.id, partners=3, reciprocal=1, received=3, same_owner=1, same_provider=1
    )
    assert counts[b.id] == PoolCounts(
        b.id, partners=1, reciprocal=0, received=0, same_owner=0, same_provider=0
    )
    assert counts[c.id] == PoolCounts(
        c.id, partners=1, reciprocal=1, received=2, same_owner=0, same_provider=2
    )
    assert counts[d.id] == PoolCounts(
        d.id, partners=1, reciprocal=0, received=0, same_owner=0, same_provider=0
    )
    assert e.id not in counts


@pytest.mark.django_db
def test_update_writes_the_figures_on_every_mailbox(boxes: dict[str, Mailbox]) -> None:
    a, b, c, e = (boxes[k] for k in "abce")
    Mailbox.objects.filter(id=e.id).update(partners_7d=9, same_owner_share_7d=0.5)  # stale
    send(a, c, ago=dt.timedelta(hours=1))
    send(c, a, ago=dt.timedelta(hours=2))
    send(b, a, ago=dt.timedelta(hours=3))
    assert update_pool(NOW) == 5
    values = {
        box.id: (
            box.partners_7d,
            box.same_owner_share_7d,
            box.same_provider_share_7d,
            box.reciprocity_7d,
        )
        for box in Mailbox.objects.all()
    }
    assert values[a.id] == (2, 0.5, 0.5, 0.5)
    assert values[b.id] == (1, None, None, 0.0)
    assert values[c.id] == (1, 0.0, 1.0, 1.0)
    assert values[e.id] == (0, None, None, None)
    shape = PoolShape.latest()
    assert (shape.refreshed_at, shape.mailboxes, shape.partners_median) == (NOW, 3, 1.0)
    assert shape.same_owner_share == pytest.approx(0.25)  # a 0.5, c 0 (b: None)


def test_figures_of_counts() -> None:
    assert figures(None) == PoolFigures(0, None, None, None)
    assert figures(PoolCounts(1, 4, 1, 8, 2, 6)) == PoolFigures(4, 0.25, 0.75, 0.25)
    assert figures(PoolCounts(1, 2, 0, 0, 0, 0)) == PoolFigures(2, None, None, 0.0)


# --- pairing and the same-owner share -------------------------------------------------

PROVIDERS = ("gmail", "outlook", "yahoo", "zoho", "other")


def zipf_network(mailboxes: int, owners: int, cap: int) -> list[Peer]:
    """Owners of Zipf sizes (the largest holds about a fifth at 100 owners), each
    owner's mailboxes on its own domains of three, providers mixed."""
    weights = [1 / (k + 1) for k in range(owners)]
    sizes = [max(1, round(mailboxes * w / sum(weights))) for w in weights]
    peers = []
    for owner_id, size in enumerate(sizes):
        for k in range(size):
            n = len(peers)
            peers.append(
                Peer(n, f"o{owner_id}d{k // 3}.test", PROVIDERS[n % 5], owner_id, receive_cap=cap)
            )
    return peers


def same_owner_share(senders: list[Peer], paired: list[Peer | None]) -> float:
    pairs = [(s, r) for s, r in zip(senders, paired, strict=True) if r is not None]
    return sum(s.owner_id == r.owner_id for s, r in pairs) / len(pairs)


def one_day(peers: list[Peer], sends: int, seed: int) -> tuple[list[Peer], list[Peer | None]]:
    """Every mailbox sends `sends` times, in a shuffled order, as the claims of a day
    come in small batches."""
    senders = [p for p in peers for _ in range(sends)]
    random.Random(seed).shuffle(senders)
    return senders, pair_recipients(senders, Network(peers), random.Random(seed))


def test_several_owners_mail_each_other_not_themselves() -> None:
    peers = zipf_network(3000, owners=30, cap=36)
    largest = Counter(p.owner_id for p in peers).most_common(1)[0][1]
    assert largest / len(peers) > 0.2  # one owner with a quarter of the network
    senders, paired = one_day(peers, sends=30, seed=5)
    assert all(r is not None for r in paired)
    assert same_owner_share(senders, paired) < 0.01
    big = [(s, r) for s, r in zip(senders, paired, strict=True) if s.owner_id == 0]
    assert sum(s.owner_id == r.owner_id for s, r in big) / len(big) < 0.02


def test_a_single_owner_still_pairs() -> None:
    peers = [Peer(n, f"d{n // 3}.test", PROVIDERS[n % 5], 7, receive_cap=36) for n in range(300)]
    senders, paired = one_day(peers, sends=30, seed=6)
    assert all(r is not None for r in paired)
    assert same_owner_share(senders, paired) == 1.0
    assert all(r.domain != s.domain for s, r in zip(senders, paired, strict=True) if r)


def test_owner_comes_before_provider() -> None:
    """An owner with two fifths of the network on five providers, every other owner on
    Gmail: others can take all its mail, and do (with provider ranked first, it mailed
    itself for 11 % of its sends)."""
    peers = [Peer(n, f"big{n // 3}.test", PROVIDERS[n % 5], 0, receive_cap=36) for n in range(400)]
    for small in range(1, 21):
        for k in range(30):
            peers.append(Peer(len(peers), f"o{small}d{k // 3}.test", "gmail", small, 36))
    senders, paired = one_day(peers, sends=30, seed=7)
    big = [(s, r) for s, r in zip(senders, paired, strict=True) if s.owner_id == 0 and r]
    assert sum(s.owner_id == r.owner_id for s, r in big) / len(big) < 0.01


# --- the figures in the metrics, the API and the admin -----------------------------------


def _set(box: Mailbox, partners: int, same_owner: float | None, reciprocity: float) -> None:
    Mailbox.objects.filter(id=box.id).update(
        partners_7d=partners,
        same_owner_share_7d=same_owner,
        same_provider_share_7d=0.5,
        reciprocity_7d=reciprocity,
    )


@pytest.mark.django_db
def test_network_figures_in_prometheus(make_mailbox: Any) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from metrics.exposition import exposition
    from warmup_project.config import WarmupConfig

    def samples() -> dict[str, float]:
        text = exposition(lambda: NOW, WarmupConfig()).decode()
        return {
            s.name: s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if s.name.startswith("warmup_pool_")
        }

    before = samples()
    assert before["warmup_pool_mailboxes"] == 0
    assert math.isnan(before["warmup_pool_partners_median"])
    boxes = [make_mailbox() for _ in range(21)]
    for n, box in enumerate(boxes[:20]):  # partners 1 … 20; the 21st is out of the pool
        _set(box, n + 1, 1.0 if n == 19 else 0.0, reciprocity=0.25)
    assert samples()["warmup_pool_mailboxes"] == 0  # read from the last refresh
    record_pool_shape(NOW)
    after = samples()
    assert after["warmup_pool_mailboxes"] == 20
    assert after["warmup_pool_partners_median"] == 10.5
    assert after["warmup_pool_partners_p5"] == pytest.approx(1.95)
    assert after["warmup_pool_same_owner_share"] == pytest.approx(0.05)
    assert after["warmup_pool_same_owner_share_p95"] == pytest.approx(0.05)
    assert after["warmup_pool_same_provider_share"] == 0.5
    assert after["warmup_pool_reciprocity"] == 0.25


@pytest.mark.django_db
def test_figures_read_only_in_the_mailbox_api(make_mailbox: Any, owner: Any) -> None:
    from rest_framework.test import APIClient

    box = make_mailbox()
    _set(box, 12, 0.0, reciprocity=0.5)
    client = APIClient()
    client.force_authenticate(owner)
    url = f"/api/mailboxes/{box.id}/"
    body = client.get(url).json()
    assert (body["partners_7d"], body["same_owner_share_7d"]) == (12, 0.0)
    assert (body["same_provider_share_7d"], body["reciprocity_7d"]) == (0.5, 0.5)
    response = client.patch(url, {"partners_7d": 99, "reciprocity_7d": 0.9}, format="json")
    assert response.status_code == 200
    box.refresh_from_db()
    assert (box.partners_7d, box.reciprocity_7d) == (12, 0.5)


@pytest.mark.django_db
def test_figures_on_the_admin_mailbox_page(make_mailbox: Any, admin_client: Any) -> None:
    box = make_mailbox()
    _set(box, 37, 0.0125, reciprocity=0.5)
    page = admin_client.get(f"/admin/accounts/mailbox/{box.id}/change/").content.decode()
    assert "Pool (last 7 days)" in page
    assert '<div class="readonly">37</div>' in page
    assert '<div class="readonly">0.0125</div>' in page


def test_simulated_owner_sizes() -> None:
    from warmup.engine.simulate import owners_of

    assert owners_of(7, 3, "even") == [0, 1, 2, 0, 1, 2, 0]
    zipf = Counter(owners_of(10_000, 100, "zipf"))
    assert sum(zipf.values()) == 10_000 and set(zipf) == set(range(100))
    assert 0.19 < zipf[0] / 10_000 < 0.21  # the largest: about a fifth
    assert zipf[99] < zipf[9] < zipf[0]
    assert owners_of(3, 3, "zipf") == [0, 1, 2]


@pytest.mark.django_db
def test_the_daily_task_refreshes_on_the_database_clock(boxes: dict[str, Mailbox]) -> None:
    from warmup import tasks
    from warmup_project.db import db_now

    a, c = boxes["a"], boxes["c"]
    at = db_now() - dt.timedelta(hours=1)
    SendLog.objects.create(
        sender=a,
        recipient=c,
        day=at.date(),
        slot_no=0,
        status="sent",
        scheduled_at=at,
        timestamp=at,
    )
    assert tasks.refresh_pool() == "pool figures of 5 mailboxes refreshed"
    assert Mailbox.objects.get(id=c.id).same_owner_share_7d == 0.0
    assert Mailbox.objects.get(id=a.id).partners_7d == 1


@pytest.mark.django_db
def test_network_figures_in_the_admin(admin_client: Any) -> None:
    PoolShape.objects.create(refreshed_at=NOW, mailboxes=9876, partners_median=417.5)
    page = admin_client.get("/admin/warmup/poolshape/").content.decode()
    assert "9876" in page and "417.5" in page
    assert admin_client.get("/admin/warmup/poolshape/add/").status_code == 403
