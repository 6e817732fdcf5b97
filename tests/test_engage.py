"""Engagement against a real Dovecot on loopback (tests/dovecot.py: LMTP delivery into
the inbox, IMAP APPEND into the spam folder as a filter would): found, rescued, flagged,
replied at the mailbox's rate, filed, and a second pass changes nothing; a Gmail-style
layout with `.` separators and no MOVE; a wrong password pauses only that mailbox."""

from __future__ import annotations

import datetime as dt
from typing import Any

import imapclient
import pytest
from django.conf import settings
from django.db.models import Count

from accounts import status as mailbox_status
from accounts.models import Mailbox, OwnerPlan
from tests import dovecot
from tests.warmup_mail import sent_message
from warmup.engine.engage import engage_pass, wants_reply
from warmup.engine.threads import DELAY_MAX, DELAY_MIN
from warmup.models import DailyStat, Placement, SendLog, SendStatus
from warmup_project.db import db_now

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not dovecot.available(), reason="needs Dovecot (.ci/run installs it)"),
]

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
EVERY = dt.timedelta(minutes=15)


def imap_box(make_mailbox: Any, server: dovecot.Dovecot, email: str, **fields: Any) -> Mailbox:
    return make_mailbox(
        email=email,
        imap_host="127.0.0.1",
        imap_port=server.imap_port,
        imap_security="none",
        imap_username=email,
        imap_password=server.users.get(email, "not-the-password"),
        window_start_hour=0,
        window_end_hour=24,
        **fields,
    )


def sent(sender: Mailbox, recipient: Mailbox, slot_no: int) -> tuple[SendLog, bytes]:
    """A send the engine made an hour ago (status sent), and the message it composed."""
    return sent_message(
        sender, recipient, day=TODAY, slot_no=slot_no, at=NOW - dt.timedelta(hours=1)
    )


def folder_state(server: dovecot.Dovecot, user: str) -> dict[str, list[set[bytes]]]:
    """Each folder's messages as their flag sets."""
    client = imapclient.IMAPClient("127.0.0.1", port=server.imap_port, ssl=False, timeout=30)
    try:
        client.login(user, server.users[user])
        state = {}
        for flags, _, name in client.list_folders():
            if b"\\Noselect" in flags or b"\\NonExistent" in flags:
                continue
            client.select_folder(name, readonly=True)
            flags = client.get_flags(client.search("ALL"))
            state[name] = [set(f) for _, f in sorted(flags.items())]
        return state
    finally:
        client.logout()


def run(**kwargs: Any) -> Any:
    return engage_pass(
        NOW, settings.SECRET_KEY, concurrency=1, every=EVERY, allow_private=True, **kwargs
    )


def test_found_rescued_flagged_replied_filed_and_a_second_pass_changes_nothing(
    make_mailbox: Any, owner: Any, django_user_model: Any
) -> None:
    receiver = "reader@inbox.test"
    with dovecot.Dovecot({receiver: "reader-pass"}) as server:
        OwnerPlan.objects.update_or_create(owner=owner, defaults={"max_daily_quota": 500})
        reader = imap_box(make_mailbox, server, receiver, reply_rate=0.3, daily_max=500)
        DailyStat.objects.create(mailbox=reader, date=TODAY, quota=30, reserved=30)
        other = django_user_model.objects.create_user("senders")
        senders = [make_mailbox(owner=other, email=f"s{n}@out{n}.test") for n in range(4)]
        for s in senders:
            DailyStat.objects.create(mailbox=s, date=TODAY, quota=50, reserved=50, sent=50)
        slots = []
        for n in range(200):
            slot, data = sent(senders[n % 4], reader, n // 4)
            slots.append(slot)
            if n % 4 == 3:
                server.append(receiver, "Junk", data)  # a spam filter's verdict
            else:
                server.deliver(receiver, data)
        # Not ours: a token with a wrong signature (and a Message-ID never sent) stays.
        forged = data.replace(b"X-Warmup-Token: wu", b"X-Warmup-Token: wuX")
        forged = forged.replace(slots[-1].message_id.encode(), b"<forged@out3.test>")
        server.deliver(receiver, forged)

        first = run(mailbox_id=reader.id)

        (done,) = first.results
        assert done.error == "" and not done.paused
        assert (done.inbox, done.spam, done.placed, done.filed) == (150, 50, 200, 200)
        placements = dict(
            SendLog.objects.filter(id__in=[s.id for s in slots])
            .values_list("placement")
            .annotate(n=Count("id"))
        )
        assert placements == {Placement.INBOX: 150, Placement.SPAM: 50}
        assert not SendLog.objects.filter(id__in=[s.id for s in slots], placement_seen_at=None)
        days = DailyStat.objects.filter(mailbox__in=senders, date=TODAY)
        assert sum(d.inbox for d in days) == 150 and sum(d.spam for d in days) == 50
        # Replies: the mailbox's rate, each decided by its send; 60 ± 15 of 200.
        expected = [s.id for s in slots if wants_reply(s.id, 0.3)]
        assert 45 <= len(expected) <= 75
        replies = SendLog.objects.filter(in_reply_to__isnull=False)
        assert done.replies == replies.count() == len(expected)
        assert set(replies.values_list("in_reply_to_id", flat=True)) == set(expected)
        by_id = {s.id: s for s in slots}
        for reply in replies:
            original = by_id[reply.in_reply_to_id]
            assert (reply.sender_id, reply.recipient_id) == (reader.id, original.sender_id)
            assert reply.status == SendStatus.PLANNED and reply.day == TODAY
            assert reply.thread_id == original.message_id
            assert NOW + DELAY_MIN <= reply.scheduled_at <= NOW + DELAY_MAX  # a human delay
        reader_day = DailyStat.objects.get(mailbox=reader, date=TODAY)
        assert reader_day.reserved == 30 + len(expected)  # replies count toward its day
        assert sum(d.replied for d in days) == len(expected)
        # The mailbox: inbox and spam hold no warmup mail; everything is filed, flagged.
        state = folder_state(server, receiver)
        assert len(state["INBOX"]) == 1  # only the forged one
        assert state["Junk"] == []
        assert len(state["Warmup"]) == 200
        assert all({b"\\Seen", b"\\Flagged"} <= flags for flags in state["Warmup"])
        # Deliverability of the senders: 75 % inbox, no replies sent... as senders they
        # got replies: 50 sends each, about 15 replied.
        s0 = Mailbox.objects.get(id=senders[0].id)
        assert s0.inbox_rate_7d == 1.0  # n % 4 == 0 always went to the inbox
        s3 = Mailbox.objects.get(id=senders[3].id)
        assert s3.inbox_rate_7d == 0.0 and s3.spam_flagged is True
        assert s3.deliverability_score is not None and s3.deliverability_score <= 20

        (again,) = run(mailbox_id=reader.id).results
        assert (again.inbox, again.spam, again.placed, again.replies, again.filed) == (
            0,
            0,
            0,
            0,
            0,
        )
        assert SendLog.objects.filter(in_reply_to__isnull=False).count() == len(expected)
        assert DailyStat.objects.get(mailbox=reader, date=TODAY).reserved == reader_day.reserved
        assert folder_state(server, receiver) == state


def test_gmail_style_layout_without_move(make_mailbox: Any, owner: Any) -> None:
    receiver = "g@gmail-like.test"
    with dovecot.Dovecot(
        {receiver: "gpass"},
        separator=".",
        prefix="INBOX.",
        spam="[Gmail].Spam",
        spam_special_use=False,
        move=False,
    ) as server:
        reader = imap_box(make_mailbox, server, receiver, reply_rate=0.0)
        sender = make_mailbox(email="x@elsewhere.test")
        for n in range(10):
            _, data = sent(sender, reader, n)
            if n < 4:
                server.append(receiver, "INBOX.[Gmail].Spam", data)
            else:
                server.deliver(receiver, data)
        (done,) = run(mailbox_id=reader.id).results
        assert done.error == ""
        assert (done.inbox, done.spam, done.placed, done.filed) == (6, 4, 10, 10)
        assert done.fallback_moves == 4 + 10  # the rescue and the filing: COPY + expunge
        state = folder_state(server, receiver)
        assert state["INBOX.[Gmail].Spam"] == [] and state["INBOX"] == []
        assert len(state["INBOX.Warmup"]) == 10


def test_a_wrong_password_pauses_only_that_mailbox(make_mailbox: Any) -> None:
    with dovecot.Dovecot({"ok@a.test": "right", "bad@b.test": "right"}) as server:
        good = imap_box(make_mailbox, server, "ok@a.test")
        bad = imap_box(make_mailbox, server, "bad@b.test")
        bad.imap_password = "wrong"
        bad.save()
        sender = make_mailbox(email="s@c.test")
        _, data = sent(sender, good, 0)
        server.deliver("ok@a.test", data)
        stats = run()
        results = {r.mailbox_id: r for r in stats.results}
        assert results[good.id].placed == 1 and not results[good.id].paused
        assert results[bad.id].paused and "login refused" in results[bad.id].error
        bad.refresh_from_db()
        assert bad.engagement_paused_reason.startswith("IMAP login refused")
        assert "wrong" not in bad.engagement_paused_reason  # never the password
        assert bad.status == mailbox_status.ACTIVE  # its sending goes on
        # Paused: not claimed again, even when due.
        Mailbox.objects.update(engaged_at=None)
        assert bad.id not in {r.mailbox_id for r in run().results}


def test_the_engage_command(make_mailbox: Any) -> None:
    import io

    from django.core.management import CommandError, call_command

    with dovecot.Dovecot({"c@cmd.test": "cmd-pass"}) as server:
        reader = imap_box(make_mailbox, server, "c@cmd.test", reply_rate=0.0)
        # The command engages at the database's clock: a send of an hour ago by it (an
        # older one would be past what engagement looks for).
        an_hour_ago = db_now() - dt.timedelta(hours=1)
        _, data = sent_message(
            make_mailbox(email="s@cmd-sender.test"),
            reader,
            day=an_hour_ago.date(),
            slot_no=0,
            at=an_hour_ago,
        )
        server.deliver("c@cmd.test", data)
        out = io.StringIO()
        call_command("engage", "--mailbox", str(reader.id), stdout=out)
        assert "engaged 1 mailboxes: found 1 in inbox, 0 in spam" in out.getvalue()
        assert "filed 1" in out.getvalue()
        with pytest.raises(CommandError, match="no mailbox with id 999999"):
            call_command("engage", "--mailbox", "999999")
        Mailbox.objects.exclude(id=reader.id).update(warmup_enabled=False)
        Mailbox.objects.filter(id=reader.id).update(imap_port=1)  # nothing listens there
        out = io.StringIO()
        call_command("engage", "--once", stdout=out)
        assert f"mailbox {reader.id}: error: connection failed" in out.getvalue()
