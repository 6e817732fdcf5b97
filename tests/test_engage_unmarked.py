"""Nothing in the message marks it: engagement against a real Dovecot finds warmup mail
by the Message-ID recorded at send, in every WARMUP_TAG_MODE (none: no header, no "Ref"
line; header; body; subject), rescues it from spam and files it; mail sent with a signed
X-Warmup-Token whose Message-ID was rewritten still counts; a user's own message — from a
warmup sender's address, with a forged token, or in the spam folder — is never flagged,
moved or deleted. The number of SEARCH commands of a pass does not grow with the number
of messages (one per folder per 100 senders).

The messages are built here, in the shape of each tag mode, rather than by
warmup.engine.content: engagement must not depend on how they were composed."""

from __future__ import annotations

import datetime as dt
import itertools
from email.utils import format_datetime, make_msgid
from typing import Any

import imapclient
import pytest
from django.conf import settings

from accounts.models import Mailbox
from accounts.transport import imap
from tests import dovecot
from warmup.engine import content
from warmup.engine.engage import engage_pass
from warmup.models import Placement, SendLog, SendStatus

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not dovecot.available(), reason="needs Dovecot (.ci/run installs it)"),
]

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
MODES = ("none", "header", "body", "subject")
_slot_numbers = itertools.count(1000)


def message(
    sender: str,
    recipient: str,
    *,
    mode: str = "none",
    token: str = "",
    message_id: str | None = None,
    subject: str = "Notes from the design sprint",
    date: dt.datetime = NOW - dt.timedelta(hours=1),
) -> tuple[str, bytes]:
    """(Message-ID, bytes) of a plain message, marked as `mode` says with `token`."""
    message_id = message_id or make_msgid(domain=sender.partition("@")[2])
    body = "Hi,\r\n\r\nCould you take a look when you have a moment?\r\n\r\nThanks\r\n"
    headers = [
        f"From: {sender}",
        f"To: {recipient}",
        f"Subject: {subject} [{token}]" if mode == "subject" else f"Subject: {subject}",
        f"Date: {format_datetime(date)}",
        f"Message-ID: {message_id}",
        *([f"{content.TOKEN_HEADER}: {token}"] if mode == "header" else []),
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="utf-8"',
    ]
    if mode == "body":
        body += f"\r\n--\r\nRef {token}\r\n"
    return message_id, ("\r\n".join(headers) + "\r\n\r\n" + body).encode()


def sent_slot(
    sender: Mailbox, recipient: Mailbox, slot_no: int, *, at: dt.datetime = NOW
) -> SendLog:
    """A send the engine made an hour before `at`; its message_id is set by `record`."""
    sent_at = at - dt.timedelta(hours=1)
    return SendLog.objects.create(
        sender=sender,
        recipient=recipient,
        day=sent_at.date(),
        slot_no=slot_no,
        status=SendStatus.SENT,
        attempts=1,
        scheduled_at=sent_at,
        timestamp=sent_at,
        sent_at=sent_at,
    )


def warmup_message(
    slot: SendLog, mode: str = "none", *, record: bool = True, **kwargs: Any
) -> tuple[str, bytes]:
    """The message of `slot` in tag mode `mode`; its Message-ID recorded on the slot
    (as the engine does at send) unless `record` is off."""
    token = content.make_token(slot.id, settings.SECRET_KEY)
    message_id, data = message(
        slot.sender.email, slot.recipient.email, mode=mode, token=token, **kwargs
    )
    if record:
        SendLog.objects.filter(id=slot.id).update(message_id=message_id, thread_id=message_id)
    return message_id, data


def imap_box(make_mailbox: Any, server: dovecot.Dovecot, email: str, **fields: Any) -> Mailbox:
    return make_mailbox(
        email=email,
        imap_host="127.0.0.1",
        imap_port=server.imap_port,
        imap_security="none",
        imap_username=email,
        imap_password=server.users[email],
        reply_rate=0.0,
        **fields,
    )


def folders(server: dovecot.Dovecot, user: str) -> dict[str, dict[str, set[bytes]]]:
    """Each folder's messages: Message-ID → flags (read-only: nothing changes)."""
    client = imapclient.IMAPClient("127.0.0.1", port=server.imap_port, ssl=False, timeout=30)
    try:
        client.login(user, server.users[user])
        state: dict[str, dict[str, set[bytes]]] = {}
        for flags, _, name in client.list_folders():
            if b"\\Noselect" in flags or b"\\NonExistent" in flags:
                continue
            client.select_folder(name, readonly=True)
            uids = client.search("ALL")
            fetched = client.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
            state[name] = {
                data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().partition(":")[2].strip(): (
                    set(data[b"FLAGS"]) - {b"\\Recent"}  # whose session saw it first
                )
                for data in fetched.values()
            }
        return state
    finally:
        client.logout()


def run(**kwargs: Any) -> Any:
    # Retention off unless a test asks (tests/test_engage_cleanup.py): its SEARCH of the
    # Warmup folder would count among the commands counted here.
    kwargs.setdefault("retention_days", 0)
    return engage_pass(
        NOW,
        settings.SECRET_KEY,
        concurrency=1,
        every=dt.timedelta(minutes=15),
        allow_private=True,
        **kwargs,
    )


@pytest.mark.parametrize("mode", MODES)
def test_every_warmup_message_found_by_message_id_and_no_user_message_touched(
    make_mailbox: Any, mode: str
) -> None:
    reader_email = "reader@inbox.test"
    with dovecot.Dovecot({reader_email: "reader-pass"}) as server:
        reader = imap_box(make_mailbox, server, reader_email)
        senders = [make_mailbox(email=f"s{n}@out{n}.test") for n in range(3)]
        warmup = {}
        for n in range(12):
            slot = sent_slot(senders[n % 3], reader, n)
            message_id, data = warmup_message(slot, mode)
            warmup[message_id] = slot
            if n % 4 == 3:
                server.append(reader_email, "Junk", data)  # a spam filter's verdict
            else:
                server.deliver(reader_email, data)
        # The user's own mail: from a warmup sender's own address (the same person
        # writing for real), with a forged token, a real one of another mailbox's send,
        # one that a spam filter put in Junk, one from elsewhere.
        user_mail = {}
        for sender, kwargs in (
            (senders[0].email, {}),
            (senders[1].email, {"mode": "header", "token": "wu1-0123456789"}),
            (senders[1].email, {"mode": "header", "token": "wuzz-forged"}),
            ("friend@elsewhere.test", {}),
        ):
            message_id, data = message(sender, reader_email, subject="Lunch?", **kwargs)
            user_mail[message_id] = "INBOX"
            server.deliver(reader_email, data)
        other = make_mailbox(email="someone@else.test")
        elsewhere = sent_slot(senders[2], other, 99)
        message_id, data = warmup_message(elsewhere, "header", record=False)
        user_mail[message_id] = "INBOX"  # signed, but a send to another mailbox
        server.deliver(reader_email, data)
        message_id, data = message(senders[2].email, reader_email, subject="Re: invoice")
        user_mail[message_id] = "Junk"
        server.append(reader_email, "Junk", data)
        # Sent with a token, its Message-ID rewritten on the way (as some relays do):
        # recognised by the token where the header survived, else not ours to know.
        slot = sent_slot(senders[0], reader, 50)
        rewritten, data = warmup_message(slot, mode, message_id="<rewritten@relay.test>")
        SendLog.objects.filter(id=slot.id).update(message_id="<as-sent@out0.test>")
        server.deliver(reader_email, data)
        if mode == "header":
            warmup[rewritten] = slot
        else:
            user_mail[rewritten] = "INBOX"
        before = folders(server, reader_email)

        (done,) = run(mailbox_id=reader.id).results

        assert done.error == ""
        found = len(warmup)
        assert (done.inbox, done.spam, done.placed, done.filed) == (found - 3, 3, found, found)
        after = folders(server, reader_email)
        assert set(after["Warmup"]) == set(warmup)
        assert all({b"\\Seen", b"\\Flagged"} <= flags for flags in after["Warmup"].values())
        for message_id, folder in user_mail.items():  # where they were, as they were
            assert after[folder][message_id] == before[folder][message_id] == set()
        assert set(after["INBOX"]) | set(after["Junk"]) == set(user_mail)
        placed = SendLog.objects.filter(id__in=[s.id for s in warmup.values()])
        assert placed.filter(placement=Placement.SPAM).count() == 3
        assert placed.filter(placement=Placement.INBOX).count() == found - 3
        assert SendLog.objects.get(id=elsewhere.id).placement == Placement.NOT_SEEN

        (again,) = run(mailbox_id=reader.id).results  # nothing left to do
        assert (again.inbox, again.spam, again.placed, again.filed) == (0, 0, 0, 0)
        assert folders(server, reader_email) == after


def searches_for(server: dovecot.Dovecot, reader: Mailbox, senders: list[Mailbox], n: int) -> Any:
    for k in range(n):
        slot = sent_slot(senders[k % len(senders)], reader, next(_slot_numbers))
        _, data = warmup_message(slot, "none")
        if k % 5 == 4:
            server.append(reader.email, "Junk", data)
        else:
            server.deliver(reader.email, data)
    (done,) = run(mailbox_id=reader.id).results
    assert done.error == "" and done.placed == done.filed == n
    return done


def test_searches_do_not_grow_with_the_messages(make_mailbox: Any) -> None:
    """Two mailboxes, one with 5 messages and one with 150 (from the same 5 senders):
    the same commands but FETCH, one SEARCH per folder; 130 senders make it two."""
    users = {f"r{n}@inbox.test": f"pass-{n}" for n in range(3)}
    with dovecot.Dovecot(users) as server:
        few, many, crowd = (imap_box(make_mailbox, server, email) for email in users)
        senders = [make_mailbox(email=f"s{n}@out{n}.test") for n in range(5)]
        small = searches_for(server, few, senders, 5)
        large = searches_for(server, many, senders, 150)
        assert small.imap_commands["SEARCH"] == large.imap_commands["SEARCH"] == 2
        assert {k: v for k, v in small.imap_commands.items()} == {
            k: v for k, v in large.imap_commands.items()
        }
        # 130 senders: more than imap.SEARCH_CHUNK ORed alternatives in one command.
        many_senders = [make_mailbox(email=f"c{n}@crowd{n}.test") for n in range(130)]
        assert len(many_senders) > imap.SEARCH_CHUNK
        wide = searches_for(server, crowd, many_senders, 130)
        assert wide.imap_commands["SEARCH"] == 2 * 2
        assert wide.imap_commands["FETCH"] == small.imap_commands["FETCH"] == 2
