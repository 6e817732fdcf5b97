"""Engagement's pure parts: which folder is spam, who gets a reply, the deliverability
score; and what lifts an engagement pause."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from accounts.models import Mailbox
from accounts.transport.imap import any_of, sent_folder, spam_folder
from tests.test_admin import form_of, mailbox_url
from warmup.engine.deliverability import assess
from warmup.engine.engage import expected_received, wants_reply
from warmup.models import Placement, SendLog, SendStatus

NOSEL = (b"\\HasChildren", b"\\Noselect")


@pytest.mark.parametrize(
    ("folders", "prefix", "expected"),
    [
        # RFC 6154 \Junk wins over any name.
        (
            [((b"\\HasNoChildren",), "/", "Spam"), ((b"\\Junk",), "/", "Courrier indésirable")],
            "",
            "Courrier indésirable",
        ),
        ([((), "/", "INBOX"), ((), "/", "[Gmail]/Spam")], "", "[Gmail]/Spam"),
        (
            [((), ".", "INBOX"), (NOSEL, ".", "[Gmail]"), ((), ".", "[Gmail].Spam")],
            "",
            "[Gmail].Spam",
        ),
        ([((), "/", "[Google Mail]/Spam")], "", "[Google Mail]/Spam"),
        ([((), "/", "Junk E-mail")], "", "Junk E-mail"),
        ([((), "/", "junk email")], "", "junk email"),
        ([((), "/", "Bulk Mail")], "", "Bulk Mail"),
        ([((), ".", "INBOX"), ((), ".", "INBOX.Spam")], "", "INBOX.Spam"),
        ([((), ".", "INBOX"), ((), ".", "INBOX.Junk")], "INBOX.", "INBOX.Junk"),
        ([((), ".", "INBOX"), ((), ".", "INBOX.[Gmail].Spam")], "INBOX.", "INBOX.[Gmail].Spam"),
        ([((), "/", "INBOX"), ((), "/", "Archive")], "", None),
        ([((), "/", "Spammy newsletters")], "", None),
    ],
)
def test_spam_folder(folders: list[Any], prefix: str, expected: str | None) -> None:
    assert spam_folder(folders, prefix) == expected


@pytest.mark.parametrize(
    ("folders", "prefix", "expected"),
    [
        # RFC 6154 \Sent wins over any name (Outlook's localised "Éléments envoyés").
        (
            [((), "/", "Sent"), ((b"\\HasNoChildren", b"\\Sent"), "/", "Éléments envoyés")],
            "",
            "Éléments envoyés",
        ),
        (
            [((), "/", "INBOX"), (NOSEL, "/", "[Gmail]"), ((), "/", "[Gmail]/Sent Mail")],
            "",
            "[Gmail]/Sent Mail",
        ),
        ([((), "/", "Sent Items"), ((), "/", "Sent")], "", "Sent Items"),
        ([((), ".", "INBOX"), ((), ".", "INBOX.Sent")], "INBOX.", "INBOX.Sent"),
        ([((), ".", "INBOX"), ((), ".", "INBOX.Sent Messages")], "", "INBOX.Sent Messages"),
        ([((), "/", "INBOX"), ((), "/", "Sentimental")], "", None),
    ],
)
def test_sent_folder(folders: list[Any], prefix: str, expected: str | None) -> None:
    assert sent_folder(folders, prefix) == expected


def test_any_of_chains_or_keys_into_one_search_key() -> None:
    assert any_of([("FROM", "a@x.test")]) == ["FROM", "a@x.test"]
    assert any_of([("FROM", "a"), ("FROM", "b"), ("HEADER", "X-Warmup-Token", "wu")]) == (
        ["OR", "FROM", "a", "OR", "FROM", "b", "HEADER", "X-Warmup-Token", "wu"]
    )


def test_the_reply_draw_is_fixed_by_the_send_and_follows_the_rate() -> None:
    assert [wants_reply(n, 0.3) for n in range(50)] == [wants_reply(n, 0.3) for n in range(50)]
    for rate in (0.0, 0.1, 0.35, 0.9, 1.0):
        share = sum(wants_reply(n, rate) for n in range(10_000)) / 10_000
        assert abs(share - rate) < 0.02
    assert not any(wants_reply(n, 0.0) for n in range(1000))


@pytest.mark.parametrize(
    ("sent", "inbox", "spam", "replied", "expected"),
    [
        (0, 0, 0, 0, (None, None, None, False)),
        (40, 4, 0, 12, (1.0, 0.3, None, False)),  # 4 placements: too few for a score
        (40, 30, 0, 12, (1.0, 0.3, 100, False)),
        (40, 30, 0, 0, (1.0, 0.0, 80, False)),
        (40, 15, 15, 6, (0.5, 0.15, 50, True)),  # 40 + 10
        (40, 8, 2, 40, (0.8, 1.0, 84, False)),  # 20 % spam: not flagged
        (40, 7, 3, 0, (0.7, 0.0, 56, True)),  # 30 % spam, 10 seen: flagged
        (40, 0, 9, 0, (0.0, 0.0, 0, False)),  # 9 seen: too few to flag
    ],
)
def test_deliverability_score(
    sent: int, inbox: int, spam: int, replied: int, expected: tuple[Any, ...]
) -> None:
    assert assess(sent, inbox, spam, replied) == expected


@pytest.mark.django_db
def test_a_new_imap_password_or_resume_lifts_an_engagement_pause(make_mailbox: Any) -> None:
    box = make_mailbox()
    Mailbox.objects.filter(id=box.id).update(engagement_paused_reason="IMAP login refused")
    box.refresh_from_db()
    box.imap_password = "a-new-one"
    box.save()
    box.refresh_from_db()
    assert box.engagement_paused_reason == ""


@pytest.mark.django_db
def test_resume_through_the_api_lifts_it_and_the_api_shows_deliverability(
    make_mailbox: Any, owner: Any
) -> None:
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    box = make_mailbox()
    Mailbox.objects.filter(id=box.id).update(
        engagement_paused_reason="IMAP login refused",
        deliverability_score=72,
        inbox_rate_7d=0.9,
        reply_rate_7d=0.1,
        spam_flagged=False,
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(owner)}")
    shown = client.get(f"/api/mailboxes/{box.id}/").json()
    assert shown["engagement_paused_reason"] == "IMAP login refused"
    assert (shown["deliverability_score"], shown["inbox_rate_7d"]) == (72, 0.9)
    # Read-only: a client cannot set its own score.
    client.patch(f"/api/mailboxes/{box.id}/", {"deliverability_score": 100}, format="json")
    assert Mailbox.objects.get(id=box.id).deliverability_score == 72
    resumed = client.post(f"/api/mailboxes/{box.id}/resume/").json()
    assert resumed["engagement_paused_reason"] == ""


@pytest.mark.django_db
def test_the_expected_set_is_what_may_still_be_in_the_inbox(make_mailbox: Any) -> None:
    """Sent to it in the last 7 days, with a Message-ID, and not seen yet or seen in the
    last day; the search starts the day before the oldest of them."""
    now = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
    reader, sender, other = make_mailbox(), make_mailbox(), make_mailbox()
    rows = {
        # name: (recipient, status, sent hours ago, placement, seen hours ago, message_id)
        "new": (reader, SendStatus.SENT, 2, Placement.NOT_SEEN, None, "<new@x>"),
        "unknown": (reader, SendStatus.UNKNOWN, 50, Placement.NOT_SEEN, None, "<unk@x>"),
        "seen-today": (reader, SendStatus.SENT, 30, Placement.INBOX, 3, "<today@x>"),
        "seen-long-ago": (reader, SendStatus.SENT, 80, Placement.SPAM, 70, "<old@x>"),
        "too-old": (reader, SendStatus.SENT, 24 * 8, Placement.NOT_SEEN, None, "<8d@x>"),
        "failed": (reader, SendStatus.FAILED, 2, Placement.NOT_SEEN, None, ""),
        "to-another": (other, SendStatus.SENT, 2, Placement.NOT_SEEN, None, "<other@x>"),
    }
    ids = {}
    for n, (name, (to, status, sent, placement, seen, mid)) in enumerate(rows.items()):
        ids[name] = SendLog.objects.create(
            sender=sender,
            recipient=to,
            day=now.date(),
            slot_no=n,
            status=status,
            scheduled_at=now,
            timestamp=now,
            sent_at=now - dt.timedelta(hours=sent),
            placement=placement,
            placement_seen_at=None if seen is None else now - dt.timedelta(hours=seen),
            message_id=mid,
        ).id
    expected = expected_received(reader.id, now)
    assert expected.slots == {
        "<new@x>": ids["new"],
        "<unk@x>": ids["unknown"],
        "<today@x>": ids["seen-today"],
    }
    assert expected.senders == {sender.email}
    assert expected.since == dt.date(2026, 6, 7)  # 50 hours ago is 8 June, less a day


@pytest.mark.django_db
def test_the_switches_in_the_admin(admin_client: Any, make_mailbox: Any) -> None:
    box = make_mailbox()
    page = admin_client.get(mailbox_url("change", box.pk)).content.decode()
    assert 'name="file_sent_copies"' in page and 'name="delete_old_warmup_mail"' in page
    form = form_of(box)
    del form["delete_old_warmup_mail"]  # an unticked box is not posted
    response = admin_client.post(mailbox_url("change", box.pk), form)
    assert response.status_code == 302
    box.refresh_from_db()
    assert (box.file_sent_copies, box.delete_old_warmup_mail) == (True, False)
