"""Conversations of several turns: the length distribution (WARMUP_THREAD_TURNS), the human
delay inside the replier's window, each turn planned by the other side's engagement, the
threading headers built from the whole chain; and a 5-turn thread end to end (the engine
through a real SMTP server, delivered into a real Dovecot, engagement over IMAP)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import re
from collections import Counter
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count

from accounts.models import Mailbox, OwnerPlan
from accounts.transport.sink import SinkServer
from tests import dovecot
from tests.test_engine_smtp import engine_for
from tests.warmup_mail import mailbox_on
from warmup.engine import content, pacing, threads
from warmup.engine.engage import (
    REPLY_LOOKBACK,
    answers,
    engage_pass,
    plan_replies,
    wants_reply,
)
from warmup.engine.planner import plan_cycle
from warmup.models import DailyStat, SendLog, SendStatus
from warmup_project import config

DEFAULT = config.THREAD_TURNS
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)  # a Monday
TODAY = NOW.date()
MIN = dt.timedelta(minutes=1)


# --- the setting ----------------------------------------------------------------------


def test_the_default_distribution_is_documented_and_read() -> None:
    assert config.load({}).warmup.thread_turns == DEFAULT == ((2, 40), (3, 30), (4, 20), (5, 10))
    loaded = config.load({"DEBUG": "true", "WARMUP_THREAD_TURNS": " 5:1 , 2:3 "})
    assert loaded.warmup.thread_turns == ((2, 3), (5, 1))
    assert not [p for p in loaded.problems if p.is_error]


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("2-40", "'2-40' is not TURNS:WEIGHT"),
        ("2:40,three:30", "'three:30' is not TURNS:WEIGHT"),
        ("2:-1", "'2:-1' is not TURNS:WEIGHT"),
        ("1:50,2:50", "1 turns is out of range: a thread has 2 to 10 messages"),
        ("11:1", "11 turns is out of range"),
        ("2:1,2:3", "2 turns is given twice"),
        ("2:0,3:0", "every weight is 0"),
        ("2:40,", "'' is not TURNS:WEIGHT"),
    ],
)
def test_a_bad_distribution_stops_start_up_naming_the_variable(raw: str, says: str) -> None:
    loaded = config.load({"DEBUG": "true", "WARMUP_THREAD_TURNS": raw})
    (problem,) = [p for p in loaded.problems if p.is_error]
    assert problem.id == config.E_THREAD_TURNS == "warmup.E018"
    assert problem.variable == "WARMUP_THREAD_TURNS" and says in problem.message
    assert loaded.warmup.thread_turns == DEFAULT


# --- who answers, and how long a thread runs -------------------------------------------


def _thread_of(n: int) -> str:
    return f"<{n}.{random.Random(n).randrange(10**12)}@alpha.test>"


def measured_lengths(turns: tuple[tuple[int, int], ...], threads_n: int) -> Counter[int]:
    """Lengths `threads_n` threads that got a first reply run to, turn by turn through the
    rule engagement applies (each later turn decided by whoever received the previous)."""
    got: Counter[int] = Counter()
    for n in range(threads_n):
        thread, turn = _thread_of(n), 2  # turn 1 was answered: the thread has a reply
        while answers(n * 10 + turn, turn, thread, 1.0, turns):
            turn += 1
        got[turn] += 1
    return got


@pytest.mark.parametrize("threads_n", [1_000, 10_000])
def test_threads_run_to_the_configured_lengths(threads_n: int) -> None:
    got = measured_lengths(DEFAULT, threads_n)
    total = sum(w for _, w in DEFAULT)
    shares = {length: got[length] / threads_n for length, _ in DEFAULT}
    print(f"{threads_n} threads, measured vs configured:", end=" ")
    print(", ".join(f"{n} turns {shares[n]:.3f}/{w / total:.3f}" for n, w in DEFAULT))
    assert set(got) <= {2, 3, 4, 5}
    for length, weight in DEFAULT:  # four standard errors at most
        expected = weight / total
        assert abs(shares[length] - expected) < 4 * (expected * (1 - expected) / threads_n) ** 0.5


def test_a_threads_length_is_fixed_by_the_thread() -> None:
    lengths = [threads.thread_length(_thread_of(n), DEFAULT) for n in range(200)]
    assert lengths == [threads.thread_length(_thread_of(n), DEFAULT) for n in range(200)]
    assert len(set(lengths)) == 4
    assert {threads.thread_length(_thread_of(n), ((5, 1),)) for n in range(200)} == {5}
    assert {threads.thread_length(_thread_of(n), ((2, 0), (3, 7))) for n in range(200)} == {3}


def test_turn_one_is_the_reply_rate_later_turns_the_length() -> None:
    thread = _thread_of(1)
    length = threads.thread_length(thread, DEFAULT)
    for slot_id in range(300):
        assert answers(slot_id, 1, thread, 0.4, DEFAULT) == wants_reply(slot_id, 0.4)
    assert [answers(7, turn, thread, 0.4, DEFAULT) for turn in range(2, 8)] == [
        turn < length for turn in range(2, 8)
    ]
    # A mailbox that never replies does not carry a thread on either.
    assert not any(answers(7, turn, thread, 0.0, ((5, 1),)) for turn in range(1, 6))


# --- the human delay ----------------------------------------------------------------------


def test_the_delay_is_minutes_mostly_and_hours_sometimes() -> None:
    rng = random.Random(3)
    delays = [threads.reply_delay(rng) for _ in range(20_000)]
    assert min(delays) >= threads.DELAY_MIN and max(delays) <= threads.DELAY_MAX
    within_hour = sum(d <= 60 * MIN for d in delays) / len(delays)
    past_three_hours = sum(d >= 180 * MIN for d in delays) / len(delays)
    median = sorted(delays)[len(delays) // 2]
    print(f"delays: median {median}, ≤1h {within_hour:.3f}, ≥3h {past_three_hours:.3f}")
    assert 0.70 < within_hour < 0.85
    assert 0.03 < past_three_hours < 0.08
    assert 20 * MIN < median < 30 * MIN


def test_a_reply_goes_out_inside_the_window() -> None:
    window = pacing.sending_window(TODAY, "Europe/Paris", 9, 17)  # 07:00–15:00 UTC in June
    latest = window.end - threads.END_MARGIN
    for n in range(500):
        seen = window.start - dt.timedelta(hours=3) + n * 2 * MIN  # 04:00 … 20:38 UTC
        at = threads.reply_at(seen, window, random.Random(n))
        if seen >= latest:
            assert at is None  # the window is over: not answered (the docstring says why)
            continue
        assert at is not None and max(seen, window.start) <= at <= latest
        if seen < window.start:
            assert at >= window.start + threads.DELAY_MIN  # read when the day begins
    # A delay that would run past the end is drawn again over what is left, not bunched
    # at the end.
    late = [threads.reply_at(latest - 30 * MIN, window, random.Random(n)) for n in range(300)]
    assert all(a is not None and latest - 30 * MIN <= a <= latest for a in late)
    assert len({a for a in late}) > 250


# --- engagement plans the next turn ------------------------------------------------------


def _box(owner: Any, email: str, **fields: Any) -> Mailbox:
    values = {"window_start_hour": 0, "window_end_hour": 24, "daily_max": 20, "reply_rate": 1.0}
    box = Mailbox.objects.create(owner=owner, email=email, **{**values, **fields})
    DailyStat.objects.create(mailbox=box, date=TODAY, quota=1, reserved=1)
    return box


def _turns(a: Mailbox, b: Mailbox, n: int) -> list[SendLog]:
    """A thread of `n` sent messages between a and b, a first, each replying to the last
    (marked replied to, as plan_replies marks the sends it answers)."""
    sends: list[SendLog] = []
    for turn in range(1, n + 1):
        if sends:
            SendLog.objects.filter(id=sends[-1].id).update(reply_planned=True)
        sender, recipient = (a, b) if turn % 2 else (b, a)
        message_id = f"<t{turn}.{a.id}@{sender.email.split('@')[1]}>"
        sends.append(
            SendLog.objects.create(
                sender=sender,
                recipient=recipient,
                day=TODAY,
                slot_no=100 + SendLog.objects.count(),
                status=SendStatus.SENT,
                message_id=message_id,
                thread_id=sends[0].message_id if sends else message_id,
                in_reply_to=sends[-1] if sends else None,
                scheduled_at=NOW - dt.timedelta(hours=2),
                sent_at=NOW - dt.timedelta(hours=1),
                timestamp=NOW,
            )
        )
    return sends


@pytest.mark.django_db
def test_the_other_side_answers_each_turn_until_the_length() -> None:
    owner = get_user_model().objects.create_user("t")
    a, b = _box(owner, "a@alpha.test"), _box(owner, "b@beta.test")
    one, two = _turns(a, b, 2)
    # Turn 2 reached a: with threads of 2, nothing more; of 3, a answers it.
    assert plan_replies(a, NOW, [two.id], ((2, 1),)) == 0
    assert plan_replies(a, NOW, [two.id], ((3, 1),)) == 1
    three = SendLog.objects.get(in_reply_to=two)
    assert (three.sender_id, three.recipient_id) == (a.id, b.id)
    assert three.thread_id == one.message_id and three.status == SendStatus.PLANNED
    assert NOW + threads.DELAY_MIN <= three.scheduled_at <= NOW + threads.DELAY_MAX
    assert DailyStat.objects.get(mailbox=a, date=TODAY).reserved == 2  # within its day
    assert DailyStat.objects.get(mailbox=b, date=TODAY).replied == 1  # b's turn 2 was answered
    # Once: a second pass plans nothing more for it.
    assert plan_replies(a, NOW, [two.id], ((3, 1),)) == 0


@pytest.mark.django_db
def test_the_last_turn_gets_no_reply() -> None:
    owner = get_user_model().objects.create_user("t")
    a, b = _box(owner, "a@alpha.test"), _box(owner, "b@beta.test")
    sends = _turns(a, b, 5)
    assert plan_replies(b, NOW, [sends[-1].id], ((5, 1),)) == 0  # b received turn 5
    assert plan_replies(a, NOW, [sends[-2].id], ((5, 1),)) == 0  # turn 4: replied already
    assert SendLog.objects.count() == 5


@pytest.mark.django_db
def test_no_reply_outside_the_repliers_window_or_days() -> None:
    owner = get_user_model().objects.create_user("t")
    a = _box(owner, "a@alpha.test")
    closed = _box(owner, "b@beta.test", window_start_hour=8, window_end_hour=11)  # UTC
    resting = _box(owner, "c@gamma.test", window_weekdays=0b1111110)  # not on Mondays
    early = _box(owner, "d@delta.test", window_start_hour=15, window_end_hour=18)
    to_closed, to_resting, to_early = (_turns(a, box, 1)[0] for box in (closed, resting, early))
    assert plan_replies(closed, NOW, [to_closed.id]) == 0
    assert plan_replies(resting, NOW, [to_resting.id]) == 0
    assert plan_replies(early, NOW, [to_early.id]) == 1
    reply = SendLog.objects.get(in_reply_to=to_early)
    opens = NOW.replace(hour=15)
    assert opens + threads.DELAY_MIN <= reply.scheduled_at <= NOW.replace(hour=18) - 5 * MIN
    # Seen (and filed) while closed: the next morning's pass answers, with nothing new.
    SendLog.objects.filter(id__in=(to_closed.id, to_resting.id)).update(placement_seen_at=NOW)
    tomorrow = NOW + dt.timedelta(hours=21)  # Tuesday 09:00 UTC
    for box in (closed, resting):
        DailyStat.objects.create(mailbox=box, date=tomorrow.date(), quota=1, reserved=1)
    assert plan_replies(closed, tomorrow, []) == 1
    assert plan_replies(resting, tomorrow, []) == 1
    assert plan_replies(closed, tomorrow, []) == 0  # once
    late = SendLog.objects.get(in_reply_to=to_closed)
    assert tomorrow.replace(hour=8) < late.scheduled_at <= tomorrow.replace(hour=11)
    # Past the look-back, it is left unanswered.
    SendLog.objects.filter(in_reply_to=to_resting).delete()
    later = NOW + REPLY_LOOKBACK + dt.timedelta(hours=1)
    DailyStat.objects.create(mailbox=resting, date=later.date(), quota=1, reserved=1)
    assert plan_replies(resting, later, []) == 0


@pytest.mark.django_db
def test_a_batch_reads_every_chain_in_one_statement(django_assert_num_queries: Any) -> None:
    owner = get_user_model().objects.create_user("t")
    a, b = _box(owner, "a@alpha.test"), _box(owner, "b@beta.test")
    long, short = _turns(a, b, 4), _turns(b, a, 1)
    engine = engine_for(NOW)
    with django_assert_num_queries(1):
        originals = engine._replies(
            [long[-1].id, long[1].id, short[0].id], threads.originals_of([TODAY])
        )
    subject = content.subject_for(a.id, TODAY, long[0].slot_no)[0]
    fourth = originals[long[-1].id]
    assert (fourth.recipient_id, fourth.message_id) == (b.id, long[3].message_id)
    assert fourth.references.split() == [s.message_id for s in long[:3]]
    assert (fourth.subject, fourth.thread_id) == (subject, long[0].message_id)
    assert originals[long[1].id].references == long[0].message_id
    first = originals[short[0].id]
    assert (first.references, first.thread_id, first.recipient_id) == (
        "",
        short[0].message_id,
        b.id,
    )


# --- end to end ------------------------------------------------------------------------

DAY_START = dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.UTC)


def _parts(message: Any) -> tuple[list[str], str, list[str]]:
    """(its own text's lines, the "On … wrote:" line, the quoted lines) of a message's
    text/plain body; a new message has no attribution and quotes nothing."""
    text = message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    lines = text.rstrip("\n").split("\n")
    start = next((i for i, x in enumerate(lines) if x.startswith(">")), None)
    if start is None:
        return lines, "", []
    own = lines[: start - 1]
    while own and not own[-1]:
        own.pop()
    return own, lines[start - 1], lines[start:]


@pytest.mark.skipif(not dovecot.available(), reason="needs Dovecot (.ci/run installs it)")
def test_a_five_turn_thread_end_to_end(transactional_db: Any, settings: Any) -> None:
    settings.WARMUP = dataclasses.replace(settings.WARMUP, thread_turns=((5, 1),))
    owner = get_user_model().objects.create_user("o")
    users = {"ann@alpha.test": "pass-ann-1", "ben@beta.test": "pass-ben-2"}
    with SinkServer(users=users) as smtp, dovecot.Dovecot(users) as imap:
        for email in users:
            mailbox_on(
                smtp,
                imap,
                owner,
                email,
                display_name=email.split("@")[0].capitalize(),
                start_volume=1,
                daily_max=20,
                reply_rate=1.0,
            )
        plan_cycle(DAY_START, floor=1, margin=dt.timedelta(minutes=15))
        now = DAY_START + dt.timedelta(hours=1)
        SendLog.objects.update(scheduled_at=now)  # each mailbox's one new message, due now
        delivered = 0
        passes = []
        for _ in range(8):  # the engine, the MTA, engagement; the clock moves, nobody sleeps
            assert not engine_for(now).run_cycle(plan=False).outcomes["failed"]
            for got in smtp.received[delivered:]:
                imap.deliver(got.rcpt_tos[0], got.data)
            delivered = len(smtp.received)
            now += MIN
            stats = engage_pass(
                now,
                settings.SECRET_KEY,
                concurrency=1,
                every=dt.timedelta(0),
                allow_private=True,
            )
            assert not [r.error for r in stats.results if r.error]
            passes.append(stats.total("replies"))
            due = SendLog.objects.filter(status=SendStatus.PLANNED).order_by("-scheduled_at")
            if not due:
                break
            assert due[0].scheduled_at >= now + threads.DELAY_MIN  # a human delay
            now = due[0].scheduled_at
        # Both mailboxes started one thread; each ran to 5 turns, then stopped.
        assert passes == [2, 2, 2, 2, 0]
        assert now.date() == DAY_START.date()
        assert SendLog.objects.count() == delivered == 10
        assert not SendLog.objects.exclude(status=SendStatus.SENT)
        messages = {got.message["Message-ID"]: got for got in smtp.received}
        for first in SendLog.objects.filter(in_reply_to=None).select_related("sender"):
            chain = [first]
            while reply := SendLog.objects.filter(in_reply_to=chain[-1]).first():
                chain.append(reply)
            assert len(chain) == 5
            got = [messages[s.message_id] for s in chain]
            subject = got[0].message["Subject"]
            ann, ben = got[0].mail_from, got[0].rcpt_tos[0]
            for turn, (send, mail) in enumerate(zip(chain, got, strict=True), start=1):
                message = mail.message
                sender, recipient = (ann, ben) if turn % 2 else (ben, ann)
                assert (mail.mail_from, mail.rcpt_tos, mail.login) == (sender, [recipient], sender)
                assert sender in message["From"] and recipient in message["To"]
                assert send.thread_id == chain[0].message_id
                earlier = [s.message_id for s in chain[: turn - 1]]
                if turn == 1:
                    assert message["In-Reply-To"] is None and message["References"] is None
                    assert not subject.lower().startswith("re:")
                    continue
                assert message["In-Reply-To"] == chain[turn - 2].message_id
                assert message["References"].split() == earlier
                assert message["Subject"] == f"Re: {subject}"  # once, never "Re: Re:"
                assert send.scheduled_at - chain[turn - 2].sent_at >= threads.DELAY_MIN
                # Below its own text, the previous turn's own text, quoted as clients do.
                own, attribution, quoted = _parts(message)
                assert re.fullmatch(r"On .* wrote:", attribution), attribution
                # The previous turn's author: this one's recipient (display name).
                assert attribution.endswith(f", {recipient.split('@')[0].capitalize()} wrote:")
                previous_own = _parts(got[turn - 2].message)[0]
                assert quoted == [f"> {x}" if x else ">" for x in previous_own]
                assert own != previous_own


@pytest.mark.django_db
def test_a_thousand_threads_through_engagement_follow_the_distribution() -> None:
    """1,000 new messages between 10 mailboxes (reply rate 0.5), each turn's receiver
    running plan_replies and its reply sent, until no thread goes on: the lengths the
    database holds against WARMUP_THREAD_TURNS's default."""
    owner = get_user_model().objects.create_user("t")
    OwnerPlan.objects.create(owner=owner, max_daily_quota=10_000)
    boxes = [_box(owner, f"m{n}@d{n}.test", daily_max=10_000, reply_rate=0.5) for n in range(10)]
    partner = {b.id: boxes[n ^ 1] for n, b in enumerate(boxes)}
    SendLog.objects.bulk_create(
        SendLog(
            sender=box,
            recipient=partner[box.id],
            day=TODAY,
            slot_no=n,
            status=SendStatus.SENT,
            message_id=f"<{box.id}.{n}@{box.email.split('@')[1]}>",
            thread_id=f"<{box.id}.{n}@{box.email.split('@')[1]}>",
            scheduled_at=NOW,
            timestamp=NOW,
        )
        for box in boxes
        for n in range(100)
    )
    DailyStat.objects.update(quota=100, reserved=100)  # their day: slots 0-99
    received = SendLog.objects.all()
    for _ in range(10):
        planned = sum(
            plan_replies(
                box, NOW, list(received.filter(recipient=box).values_list("id", flat=True))
            )
            for box in boxes
        )
        if not planned:
            break
        for reply in SendLog.objects.filter(status=SendStatus.PLANNED):  # the engine's part
            reply.status, reply.message_id = SendStatus.SENT, f"<r{reply.id}@x.test>"
            reply.save(update_fields=["status", "message_id"])
    lengths = Counter(
        SendLog.objects.order_by()
        .values("thread_id")
        .annotate(n=Count("id"))
        .values_list("n", flat=True)
    )
    assert sum(lengths.values()) == 1_000 and set(lengths) <= {1, 2, 3, 4, 5}
    answered = 1_000 - lengths[1]
    total = sum(w for _, w in DEFAULT)
    print(f"1000 threads, reply rate 0.5: {lengths[1]} unanswered; of {answered} answered:")
    print(", ".join(f"{n} turns {lengths[n] / answered:.3f}/{w / total:.3f}" for n, w in DEFAULT))
    assert abs(lengths[1] / 1_000 - 0.5) < 4 * (0.25 / 1_000) ** 0.5
    for length, weight in DEFAULT:
        expected = weight / total
        assert (
            abs(lengths[length] / answered - expected)
            < 4 * (expected * (1 - expected) / answered) ** 0.5
        )
