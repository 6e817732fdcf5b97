"""Nothing left behind, against a real Dovecot: a mailbox's own Sent-folder copies of its
warmup sends are filed into the Warmup folder (found by Message-ID, in the \\Sent folder
or a Gmail-style "[Gmail]/Sent Mail" on a server without MOVE or UIDPLUS); warmup mail
that has been in the Warmup folder longer than WARMUP_MAIL_RETENTION_DAYS (by the
server's INTERNALDATE) is deleted; a user's own message in the same folders stays; both
can be switched off per mailbox (API, admin), and retention 0 keeps everything."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Mailbox
from tests import dovecot
from tests.test_engage_unmarked import (
    NOW,
    folders,
    imap_box,
    message,
    run,
    sent_slot,
    warmup_message,
)
from warmup.engine import engage
from warmup.models import SendLog
from warmup_project.db import db_now

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not dovecot.available(), reason="needs Dovecot (.ci/run installs it)"),
]

ME = "me@own.test"
DAYS = dt.timedelta(days=1)


def test_sent_copies_are_filed_and_the_users_own_sent_mail_stays(make_mailbox: Any) -> None:
    with dovecot.Dovecot({ME: "me-pass"}) as server:
        me = imap_box(make_mailbox, server, ME)
        peers = [make_mailbox(email=f"p{n}@peer{n}.test") for n in range(3)]
        copies = set()
        for n in range(9):  # what the engine sent; Gmail or Outlook kept a copy each
            message_id, data = warmup_message(sent_slot(me, peers[n % 3], n), "none")
            copies.add(message_id)
            server.append(ME, "Sent", data, flags=(b"\\Seen",))
        own = set()
        for kwargs in ({}, {"mode": "header", "token": "wu7-forged00000"}):
            message_id, data = message(ME, peers[0].email, subject="Dinner", **kwargs)
            own.add(message_id)
            server.append(ME, "Sent", data, flags=(b"\\Seen",))

        (done,) = run(mailbox_id=me.id).results

        assert done.error == "" and done.sent_filed == 9 and done.filed == 0
        after = folders(server, ME)
        assert set(after["Sent"]) == own and set(after["Warmup"]) == copies
        assert done.imap_commands["SEARCH"] == 2 + 1  # inbox, junk; one in Sent
        (again,) = run(mailbox_id=me.id).results
        assert again.sent_filed == 0 and folders(server, ME) == after


def test_gmail_style_sent_folder_without_move_or_uidplus_spares_a_users_deleted_mail(
    make_mailbox: Any,
) -> None:
    """No \\Sent flag, no MOVE, no UIDPLUS: COPY, \\Deleted, and a plain EXPUNGE only
    while no message of the user's is marked \\Deleted (it would expunge it too)."""
    with dovecot.Dovecot(
        {ME: "me-pass"},
        separator=".",
        prefix="INBOX.",
        sent="[Gmail].Sent Mail",
        sent_special_use=False,
        move=False,
        uidplus=False,
    ) as server:
        sent = "INBOX.[Gmail].Sent Mail"
        me = imap_box(make_mailbox, server, ME)
        peer = make_mailbox(email="p@peer.test")
        first, data = warmup_message(sent_slot(me, peer, 0), "none")
        server.append(ME, sent, data)
        (done,) = run(mailbox_id=me.id).results
        assert done.error == "" and (done.sent_filed, done.fallback_moves) == (1, 1)
        assert set(folders(server, ME)[sent]) == set()  # expunged: nothing else was \Deleted

        # The user's client marked one of theirs \Deleted and has not expunged yet.
        theirs, data = message(ME, peer.email, subject="Draft, thrown away")
        server.append(ME, sent, data, flags=(b"\\Deleted",))
        second, data = warmup_message(sent_slot(me, peer, 1), "none")
        server.append(ME, sent, data)
        Mailbox.objects.filter(id=me.id).update(engaged_at=None)
        (done,) = run(mailbox_id=me.id).results
        assert done.error == "" and done.sent_filed == 1
        after = folders(server, ME)
        assert after[sent][theirs] == {b"\\Deleted"}  # still there, for its client to decide
        assert after[sent][second] == {b"\\Deleted"}  # ours waits for the next expunge
        assert set(after["INBOX.Warmup"]) == {first, second}
        (again,) = run(mailbox_id=me.id).results  # not copied twice
        assert again.sent_filed == 0 and set(folders(server, ME)["INBOX.Warmup"]) == {
            first,
            second,
        }


def fill_warmup_folder(
    server: dovecot.Dovecot, me: Mailbox, make_mailbox: Any, now: dt.datetime = NOW
) -> dict[str, set[str]]:
    """The Warmup folder of `me` with what retention deletes and what it keeps, by
    Message-ID: "old" warmup mail (20 days), "recent" (2 days), "kept" for ever."""
    peer = make_mailbox(email="p@peer.test")
    old = now - 20 * DAYS
    made: dict[str, set[str]] = {"old": set(), "recent": set(), "kept": set()}
    server.create(me.email, "Warmup")
    # Warmup mail it received 20 days ago, its own Sent copy of then, and one sent with
    # a token whose Message-ID a relay rewrote.
    for slot, kwargs in (
        (sent_slot(peer, me, 0, at=old), {}),
        (sent_slot(me, peer, 0, at=old), {}),
        (sent_slot(peer, me, 1, at=old), {"mode": "header", "record": False}),
    ):
        message_id, data = warmup_message(slot, date=old, **kwargs)
        made["old"].add(message_id)
        server.append(me.email, "Warmup", data, received=old, flags=(b"\\Seen",))
    # Sent with a token, so long ago that the send log has let its row go: the token
    # alone (signed by this installation) says it is warmup mail.
    gone = sent_slot(peer, me, 4, at=old)
    message_id, data = warmup_message(gone, "header", date=old, record=False)
    SendLog.objects.filter(id=gone.id).delete()
    made["old"].add(message_id)
    server.append(me.email, "Warmup", data, received=old)
    recent, data = warmup_message(sent_slot(peer, me, 2, at=now), "none")
    server.append(me.email, "Warmup", data, received=now - 2 * DAYS)
    made["recent"].add(recent)
    # Kept: one received yesterday although its Date says a month ago (INTERNALDATE
    # counts); the user's own old message, and one with a forged token.
    dated, data = warmup_message(sent_slot(peer, me, 3, at=now), "none", date=now - 30 * DAYS)
    server.append(me.email, "Warmup", data, received=now - DAYS)
    made["kept"].add(dated)
    for kwargs in ({}, {"mode": "header", "token": "wu1-0000000000"}):
        message_id, data = message(peer.email, me.email, subject="Old", date=old, **kwargs)
        made["kept"].add(message_id)
        server.append(me.email, "Warmup", data, received=old)
    return made


def test_retention_deletes_old_warmup_mail_and_leaves_the_users(make_mailbox: Any) -> None:
    with dovecot.Dovecot({ME: "me-pass"}) as server:
        me = imap_box(make_mailbox, server, ME)
        made = fill_warmup_folder(server, me, make_mailbox)
        everything = made["old"] | made["recent"] | made["kept"]
        (forever,) = run(mailbox_id=me.id, retention_days=0).results  # 0 keeps it all
        assert forever.deleted == 0 and set(folders(server, ME)["Warmup"]) == everything

        stats = run(mailbox_id=me.id, retention_days=14)

        (done,) = stats.results
        assert done.error == "" and done.deleted == 4
        assert "old mail deleted 4" in stats.line()
        assert set(folders(server, ME)["Warmup"]) == made["recent"] | made["kept"]
        (again,) = run(mailbox_id=me.id, retention_days=14).results
        assert again.deleted == 0
        (shorter,) = run(mailbox_id=me.id, retention_days=1).results
        assert shorter.deleted == 1 and set(folders(server, ME)["Warmup"]) == made["kept"]


def test_a_backlog_is_deleted_a_batch_a_pass_past_the_users_old_mail(
    make_mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engage, "RETENTION_BATCH", 2)
    with dovecot.Dovecot({ME: "me-pass"}) as server:
        me = imap_box(make_mailbox, server, ME)
        peer = make_mailbox(email="p@peer.test")
        server.create(ME, "Warmup")
        old = NOW - 30 * DAYS
        users = set()
        for n in range(3):  # the lowest UIDs: the user's own, older than any limit
            message_id, data = message(peer.email, ME, subject=f"Old {n}", date=old)
            users.add(message_id)
            server.append(ME, "Warmup", data, received=old)
        for n in range(5):
            _, data = warmup_message(sent_slot(peer, me, n, at=old), date=old)
            server.append(ME, "Warmup", data, received=old)
        deleted = [run(mailbox_id=me.id, retention_days=14).results[0].deleted for _ in range(4)]
        assert deleted == [2, 2, 1, 0]
        assert set(folders(server, ME)["Warmup"]) == users


def test_switched_off_per_mailbox_nothing_is_filed_or_deleted(make_mailbox: Any) -> None:
    with dovecot.Dovecot({ME: "me-pass"}) as server:
        me = imap_box(make_mailbox, server, ME, file_sent_copies=False)
        made = fill_warmup_folder(server, me, make_mailbox)
        peer = Mailbox.objects.get(email="p@peer.test")
        copy, data = warmup_message(sent_slot(me, peer, 9), "none")
        server.append(ME, "Sent", data)
        Mailbox.objects.filter(id=me.id).update(delete_old_warmup_mail=False)
        (done,) = run(mailbox_id=me.id, retention_days=14).results
        assert (done.error, done.sent_filed, done.deleted) == ("", 0, 0)
        assert done.imap_commands["SEARCH"] == 2  # inbox and junk only
        after = folders(server, ME)
        assert set(after["Warmup"]) == set().union(*made.values())
        assert set(after["Sent"]) == {copy}


def test_the_switches_in_the_api_and_the_command_shows_the_counts(
    make_mailbox: Any, owner: Any
) -> None:
    with dovecot.Dovecot({ME: "me-pass"}) as server:
        me = imap_box(make_mailbox, server, ME)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(owner)}")
        shown = client.get(f"/api/mailboxes/{me.id}/").json()
        assert (shown["file_sent_copies"], shown["delete_old_warmup_mail"]) == (True, True)
        changed = client.patch(
            f"/api/mailboxes/{me.id}/", {"delete_old_warmup_mail": False}, format="json"
        )
        assert changed.status_code == 200 and changed.json()["delete_old_warmup_mail"] is False
        bad = client.patch(
            f"/api/mailboxes/{me.id}/", {"file_sent_copies": "perhaps"}, format="json"
        )
        assert bad.status_code == 400 and "file_sent_copies" in bad.json()["fields"]
        Mailbox.objects.filter(id=me.id).update(delete_old_warmup_mail=True)

        # The command reads the database's clock: the mail is dated from it.
        now = db_now()
        made = fill_warmup_folder(server, me, make_mailbox, now)
        peer = Mailbox.objects.get(email="p@peer.test")
        _, data = warmup_message(sent_slot(me, peer, 5, at=now), "none")
        server.append(ME, "Sent", data)
        assert settings.WARMUP.mail_retention_days == 14
        out = io.StringIO()
        call_command("engage", "--mailbox", str(me.id), stdout=out)
        assert "sent copies filed 1, old mail deleted 4" in out.getvalue()
        assert set(folders(server, ME)["Warmup"]) > made["recent"] | made["kept"]
